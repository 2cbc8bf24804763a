"""A sync kind at a glance, like a connection page of a sync tool: state, last success, next run
and a timeline of its recent runs (status, duration, rows) drawn as CSP-safe SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django_q.models import Schedule

from syncs.health import failing_error, sync_freshness
from syncs.models import SyncRun
from syncs.schedules import declared_schedules

TIMELINE_DAYS = 14
TIMELINE_MAX_RUNS = 500
# The chart's drawing box (the SVG scales to its container through its viewBox).
WIDTH, LANE, GAP = 700, 48, 14


@dataclass(frozen=True)
class TimelineBar:
    x: float
    width: float
    duration_y: float
    duration_h: float
    rows_y: float
    rows_h: float
    status: str
    title: str
    pk: int


@dataclass(frozen=True)
class ConnectionHeader:
    kind: str
    label: str
    state: str  # healthy, failing, stale, running, paused
    state_text: str
    last_success: datetime | None
    last_error: str | None
    next_run: datetime | None
    every_minutes: int | None
    bars: list[TimelineBar]
    runs_shown: int
    days: int
    max_duration: float
    max_rows: int
    width: int = WIDTH
    lane: int = LANE
    gap: int = GAP

    @property
    def height(self) -> int:
        return 2 * LANE + GAP

    @property
    def rows_top(self) -> int:
        return LANE + GAP


def _rows(run: SyncRun) -> int:
    return run.created_count + run.updated_count + run.unchanged_count


def connection_header(kind: str, *, days: int = TIMELINE_DAYS) -> ConnectionHeader:
    """Everything the header of one kind shows, in a fixed number of queries."""
    now = timezone.now()
    label = SyncRun.Kind(kind).label
    schedule_name = next((s.name for s in declared_schedules() if s.kind == kind), label)
    schedule = Schedule.objects.filter(name=schedule_name).first()
    fresh = next((k for k in sync_freshness() if k.kind == kind), None)
    error = fresh.failing_error if fresh else failing_error(kind)
    running = SyncRun.objects.filter(kind=kind, status=SyncRun.Status.RUNNING).first()
    # Health's own switch, so the header and /healthz agree; a kind health does not watch
    # (switched off in settings) is paused when no schedule of it is on.
    paused = fresh.paused if fresh else schedule is None or schedule.repeats == 0
    off = (
        "No schedule is installed: runs start only by hand."
        if schedule is None
        else "Its schedule is off: runs start only by hand."
    )
    if running is not None and running.worker_stopped:
        state = "failing"
        text = f"Run #{running.pk} stopped sending heartbeats; the next request takes it over."
    elif running is not None:
        state, text = "running", "A run is in progress."
    elif error is not None:
        state, text = "failing", "The last runs failed."
    elif paused:
        # Before "stale": a kind no schedule runs is expected to age, and is not an outage.
        state, text = "paused", off
    elif fresh is not None and fresh.stale:
        state, text = "stale", "No success within three schedule intervals."
    else:
        state, text = "healthy", "Recent runs succeed."
    if state != "paused" and (paused or schedule is None):
        text += " " + off

    start = now - timedelta(days=days)
    runs = list(
        SyncRun.objects.filter(kind=kind, queued_at__gte=start)
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("-queued_at", "-id")[:TIMELINE_MAX_RUNS]
    )
    span = (now - start).total_seconds()
    durations = [
        r.duration_seconds
        if r.duration_seconds is not None
        else ((now - r.started_at).total_seconds() if r.started_at else 0.0)
        for r in runs
    ]
    max_duration = max(durations, default=0.0) or 1.0
    max_rows = max((_rows(r) for r in runs), default=0) or 1
    bars = []
    for run, duration in zip(runs, durations, strict=True):
        # Placed where it ran (a run may wait in the queue); clamped into the drawing.
        when = run.started_at or run.queued_at
        x = min(max((when - start).total_seconds(), 0.0) / span, 1.0) * (WIDTH - 4)
        dh = max(2.0, duration / max_duration * LANE)
        rh = max(1.0, _rows(run) / max_rows * LANE) if _rows(run) else 0.0
        bars.append(
            TimelineBar(
                x=round(x, 1),
                width=4,
                duration_y=round(LANE - dh, 1),
                duration_h=round(dh, 1),
                rows_y=round(LANE + GAP + LANE - rh, 1),
                rows_h=round(rh, 1),
                status=run.status,
                # In the viewer's zone, as every time on the page ("Last success" above).
                title=(
                    f"#{run.pk} {run.get_status_display()}, "
                    f"{timezone.localtime(when):%Y-%m-%d %H:%M}, "
                    f"{duration:.1f} s, {_rows(run):,} rows"
                ),
                pk=run.pk,
            )
        )
    # Drawn oldest first: a later bar covers an earlier one at the same place, so the runs
    # a person looks for (the newest, the failures that make the state "failing") show.
    bars.reverse()
    return ConnectionHeader(
        kind=kind,
        label=label,
        state=state,
        state_text=text,
        last_success=fresh.last_success if fresh else None,
        last_error=error,
        next_run=None if paused or schedule is None else schedule.next_run,
        every_minutes=schedule.minutes if schedule else None,
        bars=bars,
        runs_shown=len(runs),
        days=days,
        max_duration=round(max_duration, 1) if runs else 0.0,
        max_rows=max_rows if runs else 0,
    )
