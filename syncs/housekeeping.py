"""Housekeeping: one schedule runs every app's pruning (registered with syncs.register_pruner).

Each app prunes the tables it owns, by its own rule of what it still needs; the engine only runs
them, one after the other, and says how many rows each deleted. Deletions go in bounded batches
(BATCH_SIZE rows a statement, each its own transaction), so a first run over a year of rows
never holds a long lock nor one huge transaction. The engine's own pruning (django-q2's failed
tasks) is registered here too, by the syncs app.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django_q.models import Failure

from syncs import registry

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000


class HousekeepingError(Exception):
    """At least one pruning failed (the others still ran); django-q2 records the task failed."""


def delete_in_batches(queryset: QuerySet[Any], *, batch_size: int | None = None) -> int:
    """Delete the rows of `queryset`, `batch_size` (BATCH_SIZE) at a time, oldest pk first; the
    number deleted.

    The queryset is evaluated again for every batch: a row that stopped matching meanwhile
    (changed by a concurrent run) is not deleted.
    """
    size = batch_size or BATCH_SIZE
    deleted = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:size])
        if not pks:
            return deleted
        # The DELETE asks the queryset's conditions again, not only the ids: a row a concurrent
        # request changed between the two statements (an old report a poll just completed) stays.
        count, _ = queryset.filter(pk__in=pks).delete()
        deleted += count
        if len(pks) < size:
            return deleted


def housekeeping() -> dict[str, int]:
    """Run every registered pruning; what each deleted, by its name. One that fails is logged
    and the others still run; then HousekeepingError names it."""
    counts: dict[str, int] = {}
    failed: list[str] = []
    for pruner in registry.pruners():
        try:
            counts[pruner.name] = pruner.func()
        except Exception:
            logger.exception("Housekeeping: pruning %s failed", pruner.name)
            failed.append(pruner.name)
            continue
        logger.info("Housekeeping: %s: %d deleted", pruner.name, counts[pruner.name])
    if failed:
        raise HousekeepingError(
            f"Pruning failed: {', '.join(failed)} (done: {summary(counts) or 'none'})"
        )
    return counts


def summary(counts: dict[str, int]) -> str:
    """What the task answers: "Khoros KPI exports: 1,204 deleted; login log: 0 deleted"."""
    return "; ".join(f"{name}: {count:,} deleted" for name, count in counts.items())


def prune_failed_tasks(*, days: int | None = None, now: datetime | None = None) -> int:
    """Delete django-q2's failed tasks that stopped more than `days` (TASK_FAILURE_DAYS) ago.

    django-q2 caps the successes it keeps (Q_CLUSTER's save_limit) but keeps every failure.
    The Schedules page's last run of each schedule is recorded apart (syncs.task_record), so
    no task is kept for it.
    """
    keep_days = settings.TASK_FAILURE_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    return delete_in_batches(Failure.objects.filter(stopped__lt=cutoff))
