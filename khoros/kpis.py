"""The Khoros KPI sync: analytics exports in, daily totals per Plan (PlanKpi) out.

Khoros has no "KPIs of plan X" endpoint: the bridge asks for a posts export (one CSV row per
published post: post id, Plan id, publication time and the metrics, asked for by field id and read
by position, as the spec returns them), waits for it, streams it and sums the rows per Plan and
per calendar day in the company time zone. A download counts only when it is a CSV with the
header asked for and complete as far as the format tells (final line break, MD5 ETag); a row
that cannot be read fails alone and is counted. Contract: docs/khoros-api.md, "Analytics
export". Windows:

- A Plan whose history was never pulled (in this zone, with these field ids) gets a "history"
  export from its first day to today.
- Every other live Plan gets a "trailing" export of the last KHOROS_KPI_TRAILING_DAYS days, pulled
  again on every run because likes and views keep arriving after a post is published. After an
  outage the window reaches back to cover the days missed since the last downloaded export.

Each export covers at most PLANS_PER_EXPORT Plans, is recorded in KpiExport before and while
Khoros works on it (a restarted run polls it instead of asking again) and is written in one
transaction once its CSV has been read to the end; a failed export writes nothing.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from khoros import client as khoros_client
from khoros.models import KpiExport, Plan, PlanKpi
from khoros.payloads import parse_datetime
from khoros.services import company_zone
from khoros.sync_kinds import KHOROS_KPIS
from syncs.models import SyncRun
from syncs.runs import (
    COUNT_FIELDS,
    error_text,
    redact,
    run_checkpoint,
    run_finish,
    run_step_done,
    run_sync,
)

logger = logging.getLogger(__name__)

# Our KPI names, in the order of PlanKpi's columns; "posts" is counted, not asked for.
KPI_NAMES: tuple[str, ...] = ("impressions", "engagements", "clicks", "reach", "video_views")
METRICS: tuple[str, ...] = (*KPI_NAMES, "posts")
ZEROS: tuple[int, ...] = (0,) * len(METRICS)
# Keeps one export's request body and CSV of a sensible size; each export is one checkpoint.
PLANS_PER_EXPORT = 500
# Longest wait between two status polls, in seconds.
EXPORT_POLL_CAP = 60.0
# A long download renews the run's lease every so many rows, so that no other run takes it over.
HEARTBEAT_ROWS = 20_000
# Rejected rows listed in a run's outcomes (all of them are counted).
BAD_ROWS_SHOWN = 10

# Header spellings we accept for the plan and the publication time (compared without case,
# spaces or punctuation) when a header is not as wide as the request and columns must be found by
# name. Khoros' own header names are not public (the simulator's are "Plan", "Published Date").
_PLAN_COLUMNS = ("planid", "plan", "planuuid")
_TIME_COLUMNS = ("publishedat", "publishdate", "publishedtime", "published", "date")
_ROLE_ALIASES = {"post_id": ("postid",), "plan": _PLAN_COLUMNS, "published": _TIME_COLUMNS}
# The columns that place a row, asked for by field id before the metrics (in this order).
ROLES: tuple[str, ...] = ("post_id", "plan", "published")
ROLE_SETTINGS = {
    "post_id": "KHOROS_EXPORT_FIELD_POST_ID",
    "plan": "KHOROS_EXPORT_FIELD_PLAN",
    "published": "KHOROS_EXPORT_FIELD_PUBLISHED",
}
ROLE_LABELS = {"post_id": "the post id", "plan": "the plan id", "published": "the publication time"}
_MARKUP = re.compile(r"<(?:!doctype|html|\?xml|head|body|error)\b", re.IGNORECASE)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Key = tuple[int, date]  # (Plan pk, day)


class ExportError(Exception):
    """An export ended without data the sync can use; `state` is what its KpiExport becomes."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state


class DownloadInterruptedError(Exception):
    """A download broke off or was throttled: the export stays complete for the next run."""

    def __init__(self, cause: khoros_client.KhorosError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class ExportSpec:
    """One export a run needs: a window and the Plans it covers."""

    full_history: bool
    start: date  # inclusive
    stop: date  # exclusive
    plans: tuple[Plan, ...]

    @property
    def plan_ids(self) -> list[str]:
        return [str(plan.khoros_id) for plan in self.plans]

    @property
    def initiative_ids(self) -> list[str]:
        return sorted({plan.initiative.khoros_id for plan in self.plans}, key=_id_order)


@dataclass(frozen=True)
class Columns:
    """Where a CSV keeps what the sums need: column positions, and the header's width."""

    width: int
    plan: int
    published: int
    post_id: int | None
    metrics: dict[str, int]  # KPI name -> column position
    by_position: bool  # read as requested (the spec), not by header names


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    zeroed: int = 0
    kept: int = 0  # days left as stored because a row failed or the body was not proved whole


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isascii() and value.isdigit() else (0, value)


def _normalise_header(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def export_fields(kpi_fields: Mapping[str, int]) -> dict[str, int]:
    """Every field an export asks for: the placing columns (settings), then the KPI fields."""
    return {
        "post_id": settings.KHOROS_EXPORT_FIELD_POST_ID,
        "plan": settings.KHOROS_EXPORT_FIELD_PLAN,
        "published": settings.KHOROS_EXPORT_FIELD_PUBLISHED,
        **{kpi: kpi_fields[kpi] for kpi in KPI_NAMES if kpi in kpi_fields},
    }


def requested_order(field_ids: Mapping[str, int]) -> list[tuple[str, int]]:
    """The (name, field id) of an export's columns in the order they are asked for and come back."""
    return [(name, field_ids[name]) for name in (*ROLES, *KPI_NAMES) if name in field_ids]


def _describe_column(name: str, field_id: int | None, catalogue: Mapping[int, str]) -> str:
    if name in ROLES:
        where = f"field {field_id}, " if field_id is not None else ""
        return f"{ROLE_LABELS[name]} ({where}setting {ROLE_SETTINGS[name]})"
    label = catalogue.get(field_id) if field_id is not None else None
    return f"{name} (field {field_id}{f', {label}' if label else ''}) from KHOROS_KPI_FIELDS"


def resolve_columns(
    header: Iterable[str], field_ids: Mapping[str, int], catalogue: Mapping[int, str]
) -> Columns:
    """Find the columns of an export's header; raise ExportError, before any row, if not.

    The spec returns the requested fields as columns, in the requested order: they are read by
    position, the header's names only checked against that order. A header narrower than the
    request, or wider with names in another order (a layout of named columns), is read by names:
    the catalogue's, the field id, or our own spellings of the plan and time columns.
    """
    header = list(header)
    normalised = [_normalise_header(column) for column in header]
    requested = requested_order(field_ids)
    names: dict[str, set[str]] = {}
    for name in (*ROLES, *(kpi for kpi in KPI_NAMES if kpi in field_ids)):
        field_id = field_ids.get(name)
        spellings = set(_ROLE_ALIASES.get(name, ()))
        if field_id is not None:
            spellings |= {str(field_id), f"field{field_id}"}
            if catalogue.get(field_id):
                spellings.add(_normalise_header(catalogue[field_id]))
        names[name] = spellings

    def fail(problem: str) -> ExportError:
        return ExportError(
            f"the export CSV {problem}: check the settings against "
            f"GET /v2/analytics/export/posts/fields",
            state=KpiExport.State.FAILED,
        )

    def conflict() -> str | None:
        """Why the header's names contradict reading the request by position, if they do."""
        for index, (name, field_id) in enumerate(requested):
            named = {other for other, spellings in names.items() if normalised[index] in spellings}
            if named and name not in named:
                other = sorted(named)[0]
                return (
                    f"column {index + 1} is headed {header[index][:60]!r}, which names "
                    f"{_describe_column(other, field_ids.get(other), catalogue)}, where "
                    f"{_describe_column(name, field_id, catalogue)} was asked for"
                )
        return None

    positions: dict[str, int] = {}
    # Columns beyond those asked for (a text column, say) may follow them; a header that is
    # narrower, or whose names say the order is another, is read by names instead (and fails,
    # naming what it lacks, when the names do not place every column).
    by_position = all(role in field_ids for role in ROLES) and len(header) >= len(requested)
    problem = conflict() if by_position else None
    if by_position and problem is None:
        positions = {name: index for index, (name, _) in enumerate(requested)}
    else:
        missing: list[str] = []
        for name, spellings in names.items():
            index = next((i for i, n in enumerate(normalised) if n in spellings), None)
            if index is not None:
                positions[name] = index
            elif name != "post_id":  # the post id only labels rejected rows
                missing.append(_describe_column(name, field_ids.get(name), catalogue))
        if missing:
            why = problem or (
                f"its header has {len(header)} columns for the {len(requested)} asked for"
            )
            raise fail(
                f"has no column for {', '.join(missing)} ({why}, so they cannot be read by "
                f"position)"
            )
    return Columns(
        width=len(header),
        plan=positions["plan"],
        published=positions["published"],
        post_id=positions.get("post_id"),
        metrics={kpi: positions[kpi] for kpi in KPI_NAMES if kpi in positions},
        by_position=by_position,
    )


def _as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def parse_count(text: str) -> int:
    """Parse a metric cell: a whole number, blank meaning 0; raise ValueError otherwise."""
    text = text.strip()
    if not text:
        return 0  # a metric that does not apply to the post (video views of a photo)
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        value = float(text)  # "12.0" from a spreadsheet-minded exporter is still 12
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"{text[:20]!r} is not a count")
    return int(value)


def parse_post_day(text: str, zone: ZoneInfo) -> date:
    """Return the day, in `zone`, of a post's publication time; raise ValueError if unreadable."""
    text = text.strip()
    if _DATE_ONLY.fullmatch(text):
        return date.fromisoformat(text)  # the export was asked in `zone`: a bare day is its day
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parse_datetime(text)  # epoch milliseconds
        except khoros_client.KhorosBadPayloadError:
            raise ValueError(f"{text[:40]!r} is not a time") from None
    if moment.tzinfo is None:
        # A time without offset is in the zone the export was asked in.
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone).date()


@dataclass
class KpiSums:
    """Per-(Plan, day) sums of an export's rows; memory grows with Plans x days, not with rows."""

    plans: Mapping[str, int]  # Khoros Plan UUID -> Plan pk, for the Plans of the export
    zone: ZoneInfo
    start: date
    stop: date
    field_ids: Mapping[str, int]
    catalogue: Callable[[], Mapping[int, str]]
    sums: dict[Key, list[int]] = field(default_factory=dict)
    # Buckets (and whole Plans) that lost a row: kept as stored, never overwritten or zeroed.
    tainted: set[Key] = field(default_factory=set)
    tainted_plans: set[int] = field(default_factory=set)
    unplaced_failures: int = 0  # rejected rows whose Plan is unknown: no zeroing at all then
    rows_read: int = 0
    rows_failed: int = 0
    rows_ignored: int = 0
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    columns: Columns | None = None
    # True once the whole body was read and proved whole (its ETag matched): only then may a
    # stored day the export no longer reports become zeros.
    verified: bool = False

    def read_header(self, header: list[str]) -> None:
        """Check the header before any row is taken; raise ExportError if it is not usable."""
        first = header[0].strip() if header else ""
        if _MARKUP.match(first) or first[:1] in ("{", "["):
            # A page or an error body under status 200 (and a Content-Type that does not say).
            kind = "an HTML or XML page" if first[:1] == "<" else "JSON"
            raise ExportError(
                f"the download is {kind}, not an export CSV", state=KpiExport.State.FAILED
            )
        self.columns = resolve_columns(header, self.field_ids, self.catalogue())

    def add(self, row: Mapping[str, str]) -> None:
        """Add a row given as a dict keyed by header names (the header comes from its keys)."""
        if self.columns is None:
            self.read_header(list(row.keys()))
        self.add_cells(list(row.values()))

    def add_cells(self, cells: list[str]) -> None:
        """Add one CSV row to its bucket; a row that cannot be read is counted and reported."""
        self.rows_read += 1
        columns = self.columns
        if columns is None:
            raise AssertionError("read_header() comes first")
        if len(cells) != columns.width:
            # A cell slipped: no column of this row can be trusted, but the others can. The row's
            # Plan, if one of ours appears in it, keeps its stored days; else nothing is zeroed.
            found = sorted({k for k in map(_as_uuid, cells) if k in self.plans})
            self.tainted_plans.update(self.plans[k] for k in found)
            if not found:
                self.unplaced_failures += 1
            self._reject(
                f"{len(cells)} fields where the header has {columns.width}",
                plan=found[0] if found else "?",
            )
            return
        raw_plan = cells[columns.plan].strip()
        plan_key = _as_uuid(raw_plan)
        if plan_key is None:
            self.unplaced_failures += 1
            self._reject(f"plan id {raw_plan[:40]!r} is not a UUID", plan=raw_plan[:40])
            return
        plan_pk = self.plans.get(plan_key)
        if plan_pk is None:
            self.rows_ignored += 1  # a Plan this export did not ask for
            return
        raw_time = cells[columns.published]
        try:
            day = parse_post_day(raw_time, self.zone)
        except ValueError as exc:
            self.tainted_plans.add(plan_pk)
            self._reject(f"publication time: {exc}", plan=plan_key)
            return
        if not self.start <= day < self.stop:
            # Khoros reports the posts of [start, stop) in the export's zone: a day outside it
            # means the time was misread (epoch seconds taken for milliseconds, say), so the
            # post's real day is unknown and every day of its Plan keeps its stored value.
            self.tainted_plans.add(plan_pk)
            self._reject(
                f"publication time {raw_time.strip()[:40]!r} falls on {day.isoformat()}, "
                f"outside the export's {self.start.isoformat()}..{self.stop.isoformat()}",
                plan=plan_key,
            )
            return
        values = [0] * len(METRICS)
        for position, kpi in enumerate(KPI_NAMES):
            column = columns.metrics.get(kpi)
            if column is None:
                continue
            try:
                values[position] = parse_count(cells[column])
            except ValueError as exc:
                self.tainted.add((plan_pk, day))
                self._reject(f"{kpi}: {exc}", plan=plan_key, day=day)
                return
        values[-1] = 1  # one row is one published post
        bucket = self.sums.get((plan_pk, day))
        if bucket is None:
            self.sums[(plan_pk, day)] = values
        else:
            for position, value in enumerate(values):
                bucket[position] += value

    def _reject(self, error: str, *, plan: str, day: date | None = None) -> None:
        self.rows_failed += 1
        if len(self.bad_rows) < BAD_ROWS_SHOWN:
            entry: dict[str, Any] = {"row": self.rows_read, "plan": plan, "error": error}
            if day is not None:
                entry["day"] = day.isoformat()
            self.bad_rows.append(entry)

    def keeps(self, key: Key) -> bool:
        """Tell whether a stored bucket must stay as it is because a row of it was rejected."""
        return key in self.tainted or key[0] in self.tainted_plans


def kpis_write(
    *, export: KpiExport, sums: KpiSums, plan_pks: list[int], now: datetime
) -> WriteCounts:
    """Upsert the changed daily totals of one downloaded export and close it, in one transaction."""
    counts = WriteCounts()
    existing: dict[Key, tuple[int, ...]] = {
        (plan_id, day): tuple(values)
        for plan_id, day, *values in PlanKpi.objects.filter(
            plan_id__in=plan_pks, day__gte=export.start, day__lt=export.stop
        ).values_list("plan_id", "day", *METRICS)
    }
    rows: list[PlanKpi] = []
    for key, values in sums.sums.items():
        if sums.keeps(key):
            counts.kept += 1
            continue  # a row of this day was rejected: its sum would be short, keep the old one
        stored = existing.get(key)
        if stored == tuple(values):
            counts.unchanged += 1
            continue
        if stored is None:
            counts.created += 1
        else:
            counts.updated += 1
        rows.append(
            PlanKpi(
                plan_id=key[0],
                day=key[1],
                updated_at=now,
                **dict(zip(METRICS, values, strict=True)),
            )
        )
    # A stored day that a complete export no longer reports lost its posts (deleted, moved to
    # another Plan): it becomes zeros. Not when the export had no rows at all, nor when a row
    # could not be placed, nor when the body could not be proved whole (a file cut between two
    # rows reads like one without the last posts): "nothing" is then more likely a glitch than
    # the truth, and a day is never replaced by nothing because something failed (user-pains #5).
    may_zero = sums.rows_read and not sums.unplaced_failures and sums.verified
    for key, stored in existing.items():
        if key in sums.sums or stored == ZEROS:
            continue
        if not may_zero or sums.keeps(key):
            counts.kept += 1
            continue
        counts.zeroed += 1
        rows.append(PlanKpi(plan_id=key[0], day=key[1], updated_at=now))
    with transaction.atomic():
        if rows:
            PlanKpi.objects.bulk_create(
                rows,
                batch_size=500,
                update_conflicts=True,
                unique_fields=["plan", "day"],
                update_fields=[*METRICS, "updated_at"],
            )
        export.state = KpiExport.State.DOWNLOADED
        export.rows_read = sums.rows_read
        export.rows_failed = sums.rows_failed
        export.finished_at = now
        export.error = ""
        export.save(update_fields=["state", "rows_read", "rows_failed", "finished_at", "error"])
    return counts


def sync_khoros_kpis(
    *,
    run: SyncRun | None = None,
    trigger: str = SyncRun.Trigger.COMMAND,
    requested_by: AbstractBaseUser | None = None,
    client: khoros_client.KhorosClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] | None = None,
    on_progress: Callable[[SyncRun], None] | None = None,
) -> SyncRun:
    """Pull daily KPIs of every live Plan from Khoros analytics; `now` is the clock to wait by."""
    return run_sync(
        KHOROS_KPIS,
        run=run,
        trigger=trigger,
        requested_by=requested_by,
        client=client,
        work=lambda run, client: _KpiSync(
            run=run, client=client, sleep=sleep, clock=now or timezone.now, on_progress=on_progress
        ).execute(),
    )


def _describe(exc: khoros_client.KhorosError, *, with_path: bool = True) -> str:
    # The path of a download link can hold its signature: those errors go out without it.
    return redact(error_text(exc, with_path=with_path))


def _khoros_failure(
    outcome: dict[str, Any], exc: khoros_client.KhorosError, *, with_path: bool = True
) -> str | None:
    """Record a Khoros error on an export's outcome; return the status that stops the run."""
    outcome.update(status="failed", error=_describe(exc, with_path=with_path)[:1000])
    if isinstance(exc, khoros_client.KhorosAuthError):
        return SyncRun.Status.FAILED  # every further call would be refused as well
    if isinstance(exc, khoros_client.KhorosRateLimitedError):
        # Like the plan sync: stop cleanly; the next run resumes the open export.
        outcome["status"] = "deferred"
        return SyncRun.Status.DEFERRED
    return None


def _metric_fields(field_ids: Mapping[str, int]) -> dict[str, int]:
    return {kpi: field_ids[kpi] for kpi in KPI_NAMES if kpi in field_ids}


def _chunks(items: list[Plan], size: int) -> Iterator[tuple[Plan, ...]]:
    for index in range(0, len(items), size):
        yield tuple(items[index : index + size])


def _plan_days(plan: Plan, zone: ZoneInfo) -> tuple[date, date]:
    first = plan.start_day or plan.start.astimezone(zone).date()
    last = plan.end_day or plan.end.astimezone(zone).date()
    return first, last


class _KpiSync:
    """One KPI run: plan the exports, then request or resume, poll, download and write each."""

    def __init__(
        self,
        *,
        run: SyncRun,
        client: khoros_client.KhorosClient,
        sleep: Callable[[float], None],
        clock: Callable[[], datetime],
        on_progress: Callable[[SyncRun], None] | None,
    ) -> None:
        self.run = run
        self.client = client
        self.sleep = sleep
        self.clock = clock
        self.on_progress = on_progress
        self.kpi_fields: dict[str, int] = dict(settings.KHOROS_KPI_FIELDS)
        # Everything an export asks for, placing columns included: an export asked with other
        # ids has other columns, so it is neither resumed nor counted as this history.
        self.fields: dict[str, int] = export_fields(self.kpi_fields)
        self.max_wait = float(settings.KHOROS_EXPORT_MAX_WAIT_SECONDS)
        self.poll_base = float(settings.KHOROS_EXPORT_POLL_BASE)
        self.zone = ZoneInfo("UTC")
        self._catalogue: dict[int, str] | None = None
        self._sums: KpiSums | None = None  # the export being read, for its counts on failure

    # --- The run ---------------------------------------------------------------------------

    def execute(self) -> SyncRun:
        run = self.run
        unknown = sorted(set(self.kpi_fields) - set(KPI_NAMES))
        if not self.kpi_fields or unknown:
            return run_finish(
                run, SyncRun.Status.FAILED, f"KHOROS_KPI_FIELDS is invalid: {unknown or 'empty'}"
            )
        try:
            self.client.check_company()
            # The API exposes no company time zone: /v2/whoami's zone (the API user's) stands
            # in for it unless KHOROS_COMPANY_TIMEZONE says otherwise. Plans' days use the same.
            self.zone = company_zone(self.client)
        except khoros_client.KhorosError as exc:
            run_checkpoint(run, self.client.stats, [])
            status = (
                SyncRun.Status.DEFERRED
                if isinstance(exc, khoros_client.KhorosRateLimitedError)
                else SyncRun.Status.FAILED
            )
            return run_finish(run, status, f"Could not reach Khoros: {_describe(exc)}")

        jobs = self._jobs()
        run.progress_total = len(jobs)
        run.outcomes = []
        run_checkpoint(run, self.client.stats, ["progress_total", "outcomes"])

        first_error = ""
        failed_exports = 0
        stop_status: str | None = None
        for spec, export in jobs:
            outcome: dict[str, Any] = {
                "kind": "history" if spec.full_history else "trailing",
                "start": spec.start.isoformat(),
                "stop": spec.stop.isoformat(),
                "plans": len(spec.plans),
            }
            if stop_status is not None:
                outcome["status"] = "not_run"
                run.outcomes.append(outcome)
                continue
            try:
                self._export_one(spec, export, outcome)
            except ExportError as exc:
                message = redact(str(exc))
                if outcome.get("rows"):
                    message += f" ({outcome['rows']} rows read, none written)"
                outcome.update(status="failed", error=message[:1000])
            except DownloadInterruptedError as exc:
                stop_status = _khoros_failure(outcome, exc.cause, with_path=False)
                if outcome.get("rows"):
                    outcome["error"] += f" ({outcome['rows']} rows read, none written)"
            except khoros_client.KhorosError as exc:
                stop_status = _khoros_failure(outcome, exc)
            if outcome["status"] != "ok":
                failed_exports += 1
                label = outcome.get("export") or "request"
                first_error = first_error or f"Export {label}: {outcome['error']}"
            run.outcomes.append(outcome)
            run_step_done(run, self.client.stats)
            if self.on_progress is not None:
                self.on_progress(run)

        if not jobs:
            run_checkpoint(run, self.client.stats, COUNT_FIELDS)
        if stop_status is not None:
            return run_finish(run, stop_status, first_error)
        if failed_exports:
            status = SyncRun.Status.PARTIAL if failed_exports < len(jobs) else SyncRun.Status.FAILED
            return run_finish(
                run,
                status,
                f"{failed_exports} of {len(jobs)} exports failed; their KPIs were left as they "
                f"were. {first_error}",
            )
        if run.failed_count:
            first_bad = next(
                (row for outcome in run.outcomes for row in outcome.get("bad_rows", [])), {}
            )
            return run_finish(
                run,
                SyncRun.Status.PARTIAL,
                f"{run.failed_count} CSV rows could not be read; the days they belong to kept "
                f"their stored values. First: row {first_bad.get('row')} of plan "
                f"{first_bad.get('plan')}: {first_bad.get('error')}",
            )
        return run_finish(run, SyncRun.Status.SUCCEEDED)

    def _jobs(self) -> list[tuple[ExportSpec, KpiExport | None]]:
        """Pair each export this run needs with an open export of an earlier run, if one fits."""
        now = self.clock()
        # The worker died during the POST: there is no export id to poll.
        KpiExport.objects.filter(state=KpiExport.State.REQUESTED).update(
            state=KpiExport.State.ABANDONED,
            finished_at=now,
            error="The run stopped before Khoros answered the export request.",
        )
        open_exports = list(
            KpiExport.objects.filter(state__in=KpiExport.RESUMABLE).order_by("requested_at", "pk")
        )
        jobs: list[tuple[ExportSpec, KpiExport | None]] = []
        for spec in self._specs():
            match = next((e for e in open_exports if self._fits(e, spec)), None)
            if match is not None:
                open_exports.remove(match)
            jobs.append((spec, match))
        for export in open_exports:
            # Asked for other Plans or another window (the Plan list changed, a day passed):
            # this run asks for what it needs rather than mixing windows.
            export.state = KpiExport.State.ABANDONED
            export.finished_at = now
            export.error = f"Superseded by run #{self.run.pk}, which needed another window."
            export.save(update_fields=["state", "finished_at", "error"])
        return jobs

    def _fits(self, export: KpiExport, spec: ExportSpec) -> bool:
        return (
            export.full_history == spec.full_history
            and export.timezone == self.zone.key
            and export.field_ids == self.fields
            and export.plan_ids == spec.plan_ids
            and export.start <= spec.start
            and export.stop >= spec.stop
        )

    def _specs(self) -> list[ExportSpec]:
        """The exports this run needs: history for Plans never pulled, trailing for the rest."""
        today = self.clock().astimezone(self.zone).date()
        stop = today + timedelta(days=1)
        downloaded = KpiExport.objects.filter(
            state=KpiExport.State.DOWNLOADED, timezone=self.zone.key
        )
        # A Plan's history counts as pulled only in this zone and with these metric field ids,
        # from its first day on; a Plan moved to start earlier is pulled again. The placing
        # columns do not count: they decide how rows are read, not what a day sums to (histories
        # read before those columns were asked for are not pulled again).
        metrics = _metric_fields(self.fields)
        pulled_from: dict[str, date] = {}
        for plan_ids, start, field_ids in downloaded.filter(full_history=True).values_list(
            "plan_ids", "start", "field_ids"
        ):
            if _metric_fields(field_ids) != metrics:
                continue
            for plan_id in plan_ids:
                pulled_from[plan_id] = min(pulled_from.get(plan_id, start), start)
        last_stop: date | None = downloaded.aggregate(last=Max("stop"))["last"]

        new: list[Plan] = []
        known: list[tuple[Plan, date]] = []
        first_days: dict[int, date] = {}
        plans = Plan.objects.filter(removed_at__isnull=True).select_related("initiative")
        for plan in plans.order_by("khoros_id"):
            first, last = _plan_days(plan, self.zone)
            if first > today:
                continue  # upcoming: nothing published yet
            first_days[plan.pk] = first
            pulled = pulled_from.get(str(plan.khoros_id))
            if pulled is not None and pulled <= first:
                known.append((plan, last))
            else:
                new.append(plan)

        specs = [
            ExportSpec(True, min(first_days[p.pk] for p in chunk), stop, chunk)
            for chunk in _chunks(new, PLANS_PER_EXPORT)
        ]
        if known:
            days = settings.KHOROS_KPI_TRAILING_DAYS
            # The last N days before the last downloaded export, and everything since: a run
            # after an outage of more than N days still fills the gap.
            start = min(stop, last_stop or stop) - timedelta(days=days)
            recent = [plan for plan, last in known if last >= start]
            specs += [ExportSpec(False, start, stop, c) for c in _chunks(recent, PLANS_PER_EXPORT)]
        return specs

    # --- One export ------------------------------------------------------------------------

    def _export_one(
        self, spec: ExportSpec, export: KpiExport | None, outcome: dict[str, Any]
    ) -> None:
        if export is not None:
            outcome["resumed_from_run"] = export.run_id
            export.run = self.run
            export.save(update_fields=["run"])
            logger.info("KPI run #%s resumes export %s", self.run.pk, export.export_id)
            try:
                self._export_process(export, spec, outcome)
                return
            except khoros_client.KhorosNotFoundError:
                # Khoros forgot it (exports do not live forever): ask for a new one right away.
                outcome["lost_export"] = export.export_id
        self._export_process(self._export_request(spec), spec, outcome)

    def _export_process(self, export: KpiExport, spec: ExportSpec, outcome: dict[str, Any]) -> None:
        """Wait for one export, read it and write its sums; checkpointed on the KpiExport."""
        outcome["export"] = export.export_id
        self._sums = None
        try:
            status = self._export_await(export)
            sums = self._export_read(export, spec, status)
            counts = kpis_write(
                export=export, sums=sums, plan_pks=[p.pk for p in spec.plans], now=timezone.now()
            )
        except ExportError as exc:
            self._count_lost_rows(outcome)
            self._export_end(export, exc.state, str(exc))
            raise
        except DownloadInterruptedError as exc:
            self._count_lost_rows(outcome)
            # A broken or throttled download leaves the export complete: the next run fetches
            # a fresh link and reads it again instead of asking Khoros for a new export.
            export.error = _describe(exc.cause, with_path=False)
            export.save(update_fields=["error", "polls", "last_polled_at"])
            raise
        except khoros_client.KhorosNotFoundError as exc:
            self._export_end(
                export, KpiExport.State.FAILED, f"Khoros no longer knows this export: {exc}"
            )
            raise
        except khoros_client.KhorosError as exc:
            # A status call failed: the export stays open for the next run, unless it has
            # already waited past the limit (a status that never answers must not pin it).
            waited = (self.clock() - export.requested_at).total_seconds()
            if export.state != KpiExport.State.COMPLETE and waited >= self.max_wait:
                self._export_end(
                    export,
                    KpiExport.State.ABANDONED,
                    f"no usable status {waited:.0f} s after the request: {_describe(exc)}",
                )
            raise
        finally:
            outcome["polls"] = export.polls
        run = self.run
        run.created_count += counts.created
        run.updated_count += counts.updated + counts.zeroed
        run.unchanged_count += counts.unchanged
        run.failed_count += sums.rows_failed
        outcome.update(
            status="ok",
            rows=sums.rows_read,
            rows_summed=sums.rows_read - sums.rows_failed - sums.rows_ignored,
            rows_failed=sums.rows_failed,
            rows_ignored=sums.rows_ignored,
            created=counts.created,
            updated=counts.updated,
            unchanged=counts.unchanged,
            zeroed=counts.zeroed,
            kept=counts.kept,
        )
        if sums.bad_rows:
            outcome["bad_rows"] = sums.bad_rows
        if not sums.rows_read:
            outcome["note"] = "The export had no rows; stored days were kept."
        elif not sums.verified:
            outcome["note"] = (
                "The download could not be proved whole (no MD5 ETag): stored days it does not "
                "report were kept, not zeroed."
            )

    def _export_request(self, spec: ExportSpec) -> KpiExport:
        # Recorded before the POST: should the worker die before the answer, the next run sees
        # that an export may exist on Khoros without an id to poll.
        export = KpiExport.objects.create(
            run=self.run,
            state=KpiExport.State.REQUESTED,
            full_history=spec.full_history,
            start=spec.start,
            stop=spec.stop,
            timezone=self.zone.key,
            plan_ids=spec.plan_ids,
            initiative_ids=spec.initiative_ids,
            field_ids=self.fields,
            requested_at=self.clock(),
        )
        try:
            export.export_id = self.client.start_export(
                # In this order the columns come back (the spec), and are read by position.
                fields=[field_id for _, field_id in requested_order(self.fields)],
                start=spec.start,
                stop=spec.stop,
                timezone=self.zone.key,
                initiative_ids=spec.initiative_ids,
                plan_ids=spec.plan_ids,
            )
        except khoros_client.KhorosError as exc:
            self._export_end(
                export, KpiExport.State.ABANDONED, f"Khoros refused the request: {_describe(exc)}"
            )
            raise
        export.state = KpiExport.State.PENDING
        export.save(update_fields=["export_id", "state"])
        return export

    def _export_await(self, export: KpiExport) -> khoros_client.ExportStatus:
        """Poll until Khoros reports the export complete; back off exponentially in between."""
        if export.next_poll_at is not None:
            # A resumed export: keep to the pace the dead run had reached.
            early = (export.next_poll_at - self.clock()).total_seconds()
            if early > 0:
                self.sleep(min(early, EXPORT_POLL_CAP))
        while True:
            status = self.client.export_status(export.export_id)
            moment = self.clock()
            export.polls += 1
            export.last_polled_at = moment
            export.next_poll_at = None
            if status.status == "complete":
                export.state = KpiExport.State.COMPLETE
                export.save(update_fields=["polls", "last_polled_at", "next_poll_at", "state"])
                return status
            if status.status == "failed":
                raise ExportError(
                    f"Khoros reports export {export.export_id} failed",
                    state=KpiExport.State.FAILED,
                )
            # Only "complete" is documented: any other state counts as not finished yet.
            export.state = (
                KpiExport.State.RUNNING if status.status == "running" else KpiExport.State.PENDING
            )
            waited = (moment - export.requested_at).total_seconds()
            if waited >= self.max_wait:
                raise ExportError(
                    f"export {export.export_id} was still {status.status} {waited:.0f} s after it "
                    f"was requested (KHOROS_EXPORT_MAX_WAIT_SECONDS={self.max_wait:.0f}); "
                    f"abandoned",
                    state=KpiExport.State.ABANDONED,
                )
            delay = min(
                EXPORT_POLL_CAP,
                self.poll_base * 2 ** min(export.polls - 1, 16),
                self.max_wait - waited,
            )
            export.next_poll_at = moment + timedelta(seconds=delay)
            export.save(update_fields=["polls", "last_polled_at", "next_poll_at", "state"])
            self._heartbeat()
            self.sleep(delay)

    def _export_read(
        self, export: KpiExport, spec: ExportSpec, status: khoros_client.ExportStatus
    ) -> KpiSums:
        """Stream the export's CSV into per-day sums; a refused link is renewed once."""
        sums = KpiSums(
            plans={str(plan.khoros_id): plan.pk for plan in spec.plans},
            zone=ZoneInfo(export.timezone),
            start=export.start,
            stop=export.stop,
            field_ids=export.field_ids,
            catalogue=self._field_catalogue,
        )
        self._sums = sums
        table = self._download(export, status)
        try:
            # The header is checked before any row is taken: a page that is no export of ours
            # (an error text, another layout) fails here instead of reading as "no rows".
            sums.read_header(table.header)
            for _line, cells in table:
                sums.add_cells(cells)
                if sums.rows_read % HEARTBEAT_ROWS == 0:
                    self._heartbeat()
        except khoros_client.KhorosUnavailableError as exc:
            raise DownloadInterruptedError(exc) from None
        except khoros_client.KhorosBadPayloadError as exc:
            # The file itself is broken (not a row of it): a second read would not help.
            raise ExportError(
                f"the export CSV cannot be read: {_describe(exc, with_path=False)}",
                state=KpiExport.State.FAILED,
            ) from None
        finally:
            table.close()  # a table left early still holds the HTTP connection
        sums.verified = table.verified
        return sums

    def _count_lost_rows(self, outcome: dict[str, Any]) -> None:
        """Rows read from an export that then failed are all lost to this run: count them."""
        sums, self._sums = self._sums, None
        if sums is not None and sums.rows_read:
            outcome.update(rows=sums.rows_read, rows_failed=sums.rows_read)
            self.run.failed_count += sums.rows_read

    def _download(
        self, export: KpiExport, status: khoros_client.ExportStatus
    ) -> khoros_client.ExportTable:
        for attempt in (1, 2):
            if status.url is None:
                raise ExportError(
                    f"export {export.export_id} has no download link", state=KpiExport.State.FAILED
                )
            try:
                return self.client.download_table(status.url)
            except khoros_client.KhorosLinkExpiredError as exc:
                if attempt == 2:
                    raise ExportError(
                        f"the download link of export {export.export_id} was refused again "
                        f"after a fresh status call: {exc}",
                        state=KpiExport.State.EXPIRED,
                    ) from None
                logger.info("export %s: link refused, asking for a fresh one", export.export_id)
            except (
                khoros_client.KhorosUnavailableError,
                khoros_client.KhorosRateLimitedError,
            ) as exc:
                raise DownloadInterruptedError(exc) from None
            except khoros_client.KhorosBadPayloadError as exc:
                # Status 200 with a body that is no CSV (empty, an HTML page, JSON): a failure,
                # never "no rows"; the export's history stays to be fetched.
                raise ExportError(
                    f"the download is not an export CSV: {_describe(exc, with_path=False)}",
                    state=KpiExport.State.FAILED,
                ) from None
            except khoros_client.KhorosError as exc:
                raise ExportError(
                    f"the download was refused: {_describe(exc, with_path=False)}",
                    state=KpiExport.State.FAILED,
                ) from None
            # The pre-signed link lives only so long: a status call hands out a fresh one.
            status = self.client.export_status(export.export_id)
            export.polls += 1
            export.last_polled_at = self.clock()
            export.save(update_fields=["polls", "last_polled_at"])
            if status.status != "complete":
                raise ExportError(
                    f"export {export.export_id} is {status.status} again after its link expired",
                    state=KpiExport.State.FAILED,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _export_end(self, export: KpiExport, state: str, error: str) -> None:
        export.state = state
        export.error = redact(error)[:4000]
        export.finished_at = timezone.now()
        export.save(update_fields=["state", "error", "finished_at", "polls", "last_polled_at"])

    def _field_catalogue(self) -> dict[int, str]:
        """The names of the export fields, read once per run; empty if Khoros will not say."""
        if self._catalogue is None:
            try:
                self._catalogue = dict(self.client.export_fields())
            except (khoros_client.KhorosAuthError, khoros_client.KhorosRateLimitedError):
                raise
            except khoros_client.KhorosError as exc:
                # The spec's only example is text/plain "Coming Soon": names are a cross-check
                # of the columns read by position, never a reason to lose an export.
                logger.warning(
                    "Khoros export field catalogue unavailable (%s); reading columns by "
                    "position and by id",
                    type(exc).__name__,
                )
                self._catalogue = {}
        return self._catalogue

    def _heartbeat(self) -> None:
        self.run.renew_lease()
        run_checkpoint(self.run, self.client.stats, [])
