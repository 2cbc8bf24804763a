"""A sync kind at a glance, like a connection page of a sync tool: state, last success, next run
and a timeline of its recent runs (status, duration, rows) drawn as CSP-safe SVG.

The timeline is the runs of the window counted per UTC hour, as a monitoring tool draws them:
one bar an hour whatever the schedule (336 over 14 days, 337 when the window's ends cut two
hours), in the colour of the worst run in it, as tall as its longest run and its most rows; an
hour with a failure also gets a mark in the status strip above the lanes, at least MARK_WIDTH
wide. One aggregate query: the caption counts every run of the window, and the chart's size is
bounded by the hours, whatever the number of runs in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.db.models import Count, DateTimeField, DurationField, ExpressionWrapper, F, Max, Min, Q
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone
from django_q.models import Schedule

from syncs.health import failing_error, sync_freshness
from syncs.models import SyncRun
from syncs.schedules import declared_schedules

TIMELINE_DAYS = 14
BUCKET = timedelta(hours=1)
# The chart's drawing box (the SVG scales to its container through its viewBox): a status strip,
# then the duration lane and the rows lane.
WIDTH, LANE, GAP = 700, 48, 14
STRIP, STRIP_GAP = 8, 6
# A failed hour's mark is at least this wide (an hour is 700 / 336 ~ 2 units, 1 px on a phone).
MARK_WIDTH = 8.0
# Worst first: an hour is drawn as the worst run in it, and links to its newest run of that status.
SEVERITY = (
    SyncRun.Status.FAILED,
    SyncRun.Status.PARTIAL,
    SyncRun.Status.DEFERRED,
    SyncRun.Status.RUNNING,
    SyncRun.Status.QUEUED,
    SyncRun.Status.SUCCEEDED,
)


@dataclass(frozen=True)
class TimelineBar:
    """One hour of runs (or the one run in it)."""

    x: float
    width: float
    duration_y: float
    duration_h: float
    rows_y: float
    rows_h: float
    status: str  # the worst status in the hour
    title: str
    pk: int  # the run it links to: the newest of the worst status
    count: int
    mark_x: float | None  # the status strip's mark, for an hour that was not all success
    mark_width: float


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
    runs_total: int  # every run of the window, however many bars they make
    by_status: list[tuple[int, str]]  # (count, status label), worst first, for the caption
    days: int
    max_duration: float
    max_rows: int
    width: int = WIDTH
    lane: int = LANE
    gap: int = GAP
    strip: int = STRIP

    @property
    def duration_base(self) -> int:
        return STRIP + STRIP_GAP + LANE

    @property
    def height(self) -> int:
        return STRIP + STRIP_GAP + 2 * LANE + GAP

    @property
    def rows_top(self) -> int:
        return STRIP + STRIP_GAP + LANE + GAP


def _state(kind: str, label: str) -> tuple[str, str, Any, Any, bool, str | None]:
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
    return state, text, schedule, fresh, paused, error


def _hours(kind: str, start: datetime) -> list[dict[str, Any]]:
    """The window's runs counted per hour (UTC hours: no hour doubles at a change of summer
    time): per status its count and newest run, the longest duration, the most rows."""
    placed = Coalesce("started_at", "queued_at", output_field=DateTimeField())
    per_status: dict[str, Any] = {}
    for status in SEVERITY:
        per_status[f"n_{status}"] = Count("pk", filter=Q(status=status))
        per_status[f"pk_{status}"] = Max("pk", filter=Q(status=status))
    hours = (
        SyncRun.objects.filter(kind=kind, queued_at__gte=start)
        .exclude(status=SyncRun.Status.SKIPPED)
        .annotate(hour=TruncHour(placed, tzinfo=UTC))
        .values("hour")
        .annotate(
            n=Count("pk"),
            last=Max(placed),
            longest=Max(
                ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
            ),
            # Still open (running, or never finished): its duration is its time so far.
            open_since=Min("started_at", filter=Q(finished_at=None)),
            rows=Max(F("created_count") + F("updated_count") + F("unchanged_count")),
            **per_status,
        )
        .order_by("hour")
    )
    return cast(list[dict[str, Any]], list(hours))


def _num(value: float) -> float | int:
    """A coordinate as short as it can be written: one decimal, none when it is whole."""
    value = round(value, 1)
    return int(value) if value.is_integer() else value


def _span(a: datetime, b: datetime) -> str:
    a, b = timezone.localtime(a), timezone.localtime(b)
    return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M}"


def connection_header(kind: str, *, days: int = TIMELINE_DAYS) -> ConnectionHeader:
    """Everything the header of one kind shows, in a fixed number of queries."""
    now = timezone.now()
    label = SyncRun.Kind(kind).label
    state, text, schedule, fresh, paused, error = _state(kind, label)

    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    hours = _hours(kind, start)
    labels = dict(SyncRun.Status.choices)
    for h in hours:
        duration = h["longest"].total_seconds() if h["longest"] is not None else 0.0
        if h["open_since"] is not None:
            duration = max(duration, (now - h["open_since"]).total_seconds())
        h["duration"] = duration
        h["rows"] = h["rows"] or 0
    max_duration = max((h["duration"] for h in hours), default=0.0) or 1.0
    max_rows = max((h["rows"] for h in hours), default=0) or 1
    total = sum(h["n"] for h in hours)
    by_status = [(n, labels[s].lower()) for s in SEVERITY if (n := sum(h[f"n_{s}"] for h in hours))]

    def x_of(when: datetime) -> float:
        return min(max((when - start).total_seconds(), 0.0) / span, 1.0) * WIDTH

    bars = []
    for h in hours:
        status = next(s for s in SEVERITY if h[f"n_{s}"])
        pk = h[f"pk_{status}"]
        x0, x1 = x_of(h["hour"]), x_of(h["hour"] + BUCKET)
        # The window's first and last hours are cut by its ends; a bar stays 1 unit wide.
        width = max(x1 - x0, 1.0)
        x0 = min(x0, WIDTH - width)
        duration, rows, n = h["duration"], h["rows"], h["n"]
        dh = max(2.0, duration / max_duration * LANE)
        rh = max(1.0, rows / max_rows * LANE) if rows else 0.0
        if n == 1:
            # In the viewer's zone, as every time on the page ("Last success" above).
            title = (
                f"#{pk} {labels[status]}, {timezone.localtime(h['last']):%Y-%m-%d %H:%M}, "
                f"{duration:.1f} s, {rows:,} rows"
            )
        else:
            counts = ", ".join(
                f"{h[f'n_{s}']} {labels[s].lower()}" for s in SEVERITY if h[f"n_{s}"]
            )
            if h[f"n_{status}"] < n:  # more than one status: the total, then each
                counts = f"{n} runs, {counts}"
            newest = "" if status == SyncRun.Status.SUCCEEDED else f" (newest #{pk})"
            title = (
                f"{_span(h['hour'], h['hour'] + BUCKET)}: {counts}{newest}; "
                f"longest {duration:.1f} s, most {rows:,} rows"
            )
        mark_w = max(width, MARK_WIDTH) if status == SyncRun.Status.FAILED else width
        mark_x = min(max(x0 + width / 2 - mark_w / 2, 0.0), WIDTH - mark_w)
        bars.append(
            TimelineBar(
                x=_num(x0),
                width=_num(width),
                duration_y=_num(STRIP + STRIP_GAP + LANE - dh),
                duration_h=_num(dh),
                rows_y=_num(STRIP + STRIP_GAP + 2 * LANE + GAP - rh),
                rows_h=_num(rh),
                status=status,
                title=title,
                pk=pk,
                count=n,
                mark_x=None if status == SyncRun.Status.SUCCEEDED else _num(mark_x),
                mark_width=_num(mark_w),
            )
        )
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
        runs_total=total,
        by_status=by_status,
        days=days,
        max_duration=round(max_duration, 1) if hours else 0.0,
        max_rows=max_rows if hours else 0,
    )
