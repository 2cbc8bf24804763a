"""Reads of the sync engine: run history and the latest runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet, Subquery

from smcbridge.zones import day_span
from syncs.filtering import Filters
from syncs.models import ScheduleLastTask, SyncRun

# What a list of runs never shows and a run's page does: its per-item outcomes and HTTP log, one
# entry per Initiative or request. Read for every listed run, they were most of the history
# page's SQL time (issue 13).
LISTED_WITHOUT = ("outcomes", "http_log")


def sync_runs_recent(*, kind: str | None = None, limit: int = 10) -> list[SyncRun]:
    """The latest runs, newest first, with who asked for them."""
    runs = SyncRun.objects.all()
    if kind:
        runs = runs.filter(kind=kind)
    # The newest keys first, then their rows: sorting whole rows (outcomes, HTTP log) read and
    # sorted every run ever made to show ten (issue 13).
    latest = runs.order_by("-queued_at", "-id").values("pk")[:limit]
    return list(
        SyncRun.objects.filter(pk__in=latest)
        .select_related("requested_by")
        .defer(*LISTED_WITHOUT)
        .order_by("-queued_at", "-id")
    )


@dataclass(frozen=True)
class SyncRunFilters(Filters):
    kind: str = ""
    status: str = ""
    trigger: str = ""
    date_from: date | None = None
    date_to: date | None = None


def sync_runs(*, filters: SyncRunFilters) -> QuerySet[SyncRun]:
    """Sync runs, newest first, filtered by kind, status, trigger and the day they were queued."""
    if filters.invalid:
        return SyncRun.objects.none()
    qs = SyncRun.objects.select_related("requested_by").defer(*LISTED_WITHOUT)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.trigger:
        qs = qs.filter(trigger=filters.trigger)
    # The days in the viewer's zone, as a range of instants the (queued_at) indexes serve.
    since, until = day_span(filters.date_from, filters.date_to)
    if since is not None:
        qs = qs.filter(queued_at__gte=since)
    if until is not None:
        qs = qs.filter(queued_at__lt=until)
    return qs.order_by("-queued_at", "-id")


def sync_last_runs() -> dict[str, SyncRun]:
    """The latest finished run of each kind, without its outcomes and HTTP log, in one query.

    Each kind's newest is one step down the (kind, finished_at, id) index, a subquery each: a
    query per kind sorted every finished run of the kind, whole rows and all (a year of runs
    made the Schedules page 84 ms).
    """
    newest = [
        SyncRun.objects.filter(kind=kind, finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .values("pk")[:1]
        for kind in SyncRun.Kind.values
    ]
    if not newest:
        return {}
    runs = SyncRun.objects.filter(reduce(or_, (Q(pk=Subquery(run)) for run in newest)))
    return {run.kind: run for run in runs.order_by().defer(*LISTED_WITHOUT)}


@dataclass(frozen=True)
class ScheduledTaskRun:
    """The last finished task of a schedule that records no sync run (alerts, housekeeping)."""

    succeeded: bool
    stopped: datetime

    @property
    def status(self) -> str:
        return SyncRun.Status.SUCCEEDED if self.succeeded else SyncRun.Status.FAILED

    @property
    def status_label(self) -> str:
        return SyncRun.Status(self.status).label


def schedule_last_tasks(*, names: list[str]) -> dict[str, ScheduledTaskRun]:
    """The latest finished task of each named schedule, in one query.

    As recorded when django-q2 saved it (syncs.task_record), not read from the tasks django-q2
    keeps: it keeps only the newest Q_CLUSTER save_limit successes of every schedule together,
    and a daily schedule's success was pruned within hours by the 2- and 5-minute ones.
    """
    return {
        last.name: ScheduledTaskRun(succeeded=last.succeeded, stopped=last.stopped)
        for last in ScheduleLastTask.objects.filter(name__in=names)
    }
