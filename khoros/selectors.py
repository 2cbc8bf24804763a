"""Reads of the khoros app."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from khoros.models import Initiative, Plan, SyncRun


@dataclass(frozen=True)
class MirrorCounts:
    initiatives: int
    initiatives_removed: int
    plans: int
    plans_removed: int


def sync_runs_recent(*, kind: str | None = None, limit: int = 10) -> list[SyncRun]:
    """The latest runs, newest first, with who asked for them."""
    runs = SyncRun.objects.select_related("requested_by")
    if kind:
        runs = runs.filter(kind=kind)
    return list(runs.order_by("-queued_at", "-id")[:limit])


def sync_run_active_exists() -> bool:
    return SyncRun.objects.filter(
        status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
    ).exists()


def mirror_counts(*, initiatives: QuerySet[Initiative]) -> MirrorCounts:
    """Count mirrored Initiatives and Plans among `initiatives`, live and removed, in 2 queries."""
    ini = initiatives.aggregate(
        live=Count("pk", filter=Q(removed_at__isnull=True)),
        removed=Count("pk", filter=Q(removed_at__isnull=False)),
    )
    plans = Plan.objects.filter(initiative__in=initiatives).aggregate(
        live=Count("pk", filter=Q(removed_at__isnull=True)),
        removed=Count("pk", filter=Q(removed_at__isnull=False)),
    )
    return MirrorCounts(
        initiatives=ini["live"],
        initiatives_removed=ini["removed"],
        plans=plans["live"],
        plans_removed=plans["removed"],
    )
