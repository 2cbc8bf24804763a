"""Reading an export's CSV: its header's columns, its rows summed per Plan and day."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from khoros import client as khoros_client
from khoros.kpi_catalog import BY_NAME, LABELS, METRICS, Aggregation
from khoros.kpi_catalog import EXPORT_KPIS as KPI_NAMES
from khoros.models import KpiExport
from khoros.payloads import parse_datetime

# Positions in a Plan-day's numbers (METRICS order) that combine by max, not by sum.
_MAX_POSITIONS = frozenset(
    i for i, name in enumerate(METRICS) if BY_NAME[name].aggregation == Aggregation.MAX_DAILY
)
_MAX_POSITIONS_LIST = tuple(sorted(_MAX_POSITIONS))
_SUM_POSITIONS = tuple(i for i in range(len(METRICS)) if i not in _MAX_POSITIONS)
# Distinct plan cells remembered per export (its Plans, plus any others it reports).
_PLAN_CACHE_MAX = 100_000

# Rejected rows listed in a run's outcomes (all of them are counted).
BAD_ROWS_SHOWN = 10
# The most a PlanKpi column holds (PositiveBigIntegerField: a signed 64-bit integer on both
# engines). A cell or a day's sum beyond it is bad data: stored, it would fail the whole write.
MAX_COUNT = 2**63 - 1
# Whole numbers written with a decimal point ("12.0") are read through a float, exact up to 2**53.
_MAX_EXACT_FLOAT = 2**53
# Digit strings this short cannot exceed MAX_COUNT (19 digits can): the hot path's int() is safe.
_SAFE_DIGITS = len(str(MAX_COUNT)) - 1

# Header spellings we accept for the plan and the publication time (compared without case,
# spaces or punctuation) when a header is not as wide as the request and columns must be found by
# name. Khoros' own header names are not public (the simulator's are "Plan", "Published Date").
_PLAN_COLUMNS = ("planid", "plan", "planuuid")
_TIME_COLUMNS = (
    "publishedat",
    "publishdate",
    "publisheddate",
    "publishedtime",
    "published",
    "date",
)
_ROLE_ALIASES = {"post_id": ("postid",), "plan": _PLAN_COLUMNS, "published": _TIME_COLUMNS}
# What an export's header may call a KPI's column besides the field catalogue's name: our name
# and label, and the labels Khoros' header is known to use (the simulator's "Total Engagements",
# "Link Clicks"). They cannot say which field a column holds (KHOROS_KPI_FIELDS may map a KPI to
# any field), so they never place a column: a column they name as another KPI asked for shows
# that the columns moved (swapped, or one added among them), and the export fails.
_KPI_ALIASES: dict[str, tuple[str, ...]] = {
    "engagements": ("totalengagements",),
    "clicks": ("linkclicks",),
}
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
# An ISO time with an explicit offset, the shape Khoros (and the simulator) writes; the day and
# offset it captures key the cache of parsed days. Its time part is range-checked here because
# a cache hit skips the parser that would otherwise refuse "25:61".
_ISO_WITH_OFFSET = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?([+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
# Nine digits or more: eight read as a basic ISO day ("20261130") in parse_post_day.
_EPOCH_MS = re.compile(r"[0-9]{9,15}")
_MINUTE_MS = 60_000
# Parsed days kept per export (distinct day+offset pairs, or epoch minutes): bounded, so that
# memory stays flat however many rows an export has.
_DAY_CACHE_MAX = 100_000
# A post's first row, as remembered per export to tell a repeated row from a post listed twice
# with other numbers: its Plan and day (exact) and a 32-bit digest of its metrics, packed into one
# int (dict values are the memory that grows with an export's rows: about 110 bytes a post).
_DIGEST_BITS = 32
_DAY_SPAN = 1 << 24  # more days than any export's window holds

Key = tuple[int, date]  # (Plan pk, day)


class ExportError(Exception):
    """An export ended without data the sync can use; `state` is what its KpiExport becomes."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class Columns:
    """Where a CSV keeps what the sums need: column positions, and the header's width."""

    width: int
    plan: int
    published: int
    post_id: int | None
    metrics: dict[str, int]  # KPI name -> column position
    by_position: bool  # read as requested (the spec), not by header names


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
    the catalogue's, the field id, or our own spellings of the plan and time columns. A KPI's own
    name or label (_KPI_ALIASES) only checks: heading a column read as another KPI, it fails.
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

    def moved(positions: Mapping[str, int]) -> str | None:
        """Why a column's header names another KPI asked for than the one read there, if so."""
        labels = {
            kpi: {
                _normalise_header(kpi),
                _normalise_header(LABELS[kpi]),
                *_KPI_ALIASES.get(kpi, ()),
            }
            for kpi in KPI_NAMES
            if kpi in field_ids
        }
        for name, index in sorted(positions.items(), key=lambda item: item[1]):
            named = {kpi for kpi, spellings in labels.items() if normalised[index] in spellings}
            # Not when the column's own field is the named KPI's too, or named by id or catalogue.
            fields_named = {field_ids[kpi] for kpi in named}
            if (
                named
                and field_ids.get(name) not in fields_named
                and normalised[index] not in names[name]
            ):
                other = sorted(named)[0]
                return (
                    f"has its columns in another order than asked: column {index + 1} is headed "
                    f"{header[index][:60]!r}, which names "
                    f"{_describe_column(other, field_ids.get(other), catalogue)}, where "
                    f"{_describe_column(name, field_ids.get(name), catalogue)} was asked for "
                    f"(columns moved, or one added among them); none of its rows were read"
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
            elif name != "post_id":  # without it, rows are summed, but repeats go unnoticed
                missing.append(_describe_column(name, field_ids.get(name), catalogue))
        if missing:
            why = problem or (
                f"its header has {len(header)} columns for the {len(requested)} asked for"
            )
            raise fail(
                f"has no column for {', '.join(missing)} ({why}, so they cannot be read by "
                f"position)"
            )
    if (shifted := moved(positions)) is not None:
        raise fail(shifted)
    return Columns(
        width=len(header),
        plan=positions["plan"],
        published=positions["published"],
        post_id=positions.get("post_id"),
        metrics={kpi: positions[kpi] for kpi in KPI_NAMES if kpi in positions},
        by_position=by_position and problem is None,
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
        if len(text) > _SAFE_DIGITS and int(text) > MAX_COUNT:
            raise ValueError(f"{text[:20]!r} is larger than any count can be")
        return int(text)
    try:
        value = float(text)  # "12.0" from a spreadsheet-minded exporter is still 12
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"{text[:20]!r} is not a count")
    if value > _MAX_EXACT_FLOAT:
        # "1e30" or "12345678901234567890.0": no exact whole number can be read from it.
        raise ValueError(f"{text[:20]!r} is larger than any count can be")
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


class _DayCache:
    """The day of a publication time, parsed once per distinct (local day, offset) or epoch minute.

    Every row of an export carries its own time, but the day, in the export's zone, of any time
    written as "D<time>+HH:MM" is D for every time of D when the zone keeps that offset through
    all of D: that is checked once per (D, offset), and such times then cost a regex match and a
    dict lookup instead of a parse and a zone conversion. A day boundary in the zone falls on a
    whole minute, so all the epoch milliseconds of one minute share a day (checked at both ends of
    the minute, too). Anything else goes through parse_post_day as before.
    """

    __slots__ = ("zone", "_iso", "_minutes")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._iso: dict[tuple[str, str], date | None] = {}
        self._minutes: dict[int, date | None] = {}

    def day(self, text: str) -> date:
        match = _ISO_WITH_OFFSET.fullmatch(text)
        if match is not None:
            key = (match[1], match[2])
            day = self._iso.get(key, _MISSING)
            if day is _MISSING:
                day = self._whole_day(*key)
                if len(self._iso) < _DAY_CACHE_MAX:
                    self._iso[key] = day
            if day is not None:
                return day
        elif _EPOCH_MS.fullmatch(text):
            minute = int(text) // _MINUTE_MS
            day = self._minutes.get(minute, _MISSING)
            if day is _MISSING:
                day = self._minute_day(minute)
                if len(self._minutes) >= _DAY_CACHE_MAX:
                    self._minutes.clear()
                self._minutes[minute] = day
            if day is not None:
                return day
        return parse_post_day(text, self.zone)

    def _whole_day(self, day_text: str, offset_text: str) -> date | None:
        """D if the zone is at `offset_text` from D's first to its last instant, else None."""
        try:
            first = datetime.fromisoformat(f"{day_text}T00:00:00{offset_text}")
        except ValueError:
            return None  # not a real day: the parser says why
        last = first + timedelta(days=1, microseconds=-1)
        offset = first.utcoffset()
        start, end = first.astimezone(self.zone), last.astimezone(self.zone)
        if start.utcoffset() == offset == end.utcoffset() and start.date() == end.date():
            return start.date()
        return None

    def _minute_day(self, minute: int) -> date | None:
        try:
            start = datetime.fromtimestamp(minute * 60, tz=self.zone)
            end = datetime.fromtimestamp(minute * 60 + 59.999, tz=self.zone)
        except (OverflowError, OSError, ValueError):
            return None
        return start.date() if start.date() == end.date() else None


_MISSING: Any = object()


def _post_record(key: Key, start: date, values: list[int]) -> int:
    """A post's row in one int: its Plan and day exactly, its numbers as a 32-bit digest."""
    where = key[0] * _DAY_SPAN + (key[1] - start).days
    return (where << _DIGEST_BITS) | (hash(tuple(values)) & ((1 << _DIGEST_BITS) - 1))


def _post_key_of(record: int, start: date) -> Key:
    plan_pk, offset = divmod(record >> _DIGEST_BITS, _DAY_SPAN)
    return plan_pk, start + timedelta(days=offset)


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
    # Rows of a post already read, with the same Plan, day and numbers: skipped, not summed twice.
    rows_repeated: int = 0
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    columns: Columns | None = None
    # True once the whole body was read and proved whole (its ETag matched): only then may a
    # stored day the export no longer reports become zeros.
    verified: bool = False
    # Per-export caches of the hot path (each bounded): see add_cells.
    _plan_cells: dict[str, tuple[str, int | None]] = field(default_factory=dict, repr=False)
    _days: _DayCache = field(init=False, repr=False)
    _metric_columns: tuple[tuple[int, int, str], ...] = field(default=(), repr=False)
    # hash(post id) -> its first row (_post_record): one entry per post of the export.
    _posts: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._days = _DayCache(self.zone)

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
        self._metric_columns = tuple(
            (position, self.columns.metrics[kpi], kpi)
            for position, kpi in enumerate(KPI_NAMES)
            if kpi in self.columns.metrics
        )

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
            found = sorted({k for k in map(_as_uuid, cells) if k is not None and k in self.plans})
            self.tainted_plans.update(self.plans[k] for k in found)
            if not found:
                self.unplaced_failures += 1
            self._reject(
                f"{len(cells)} fields where the header has {columns.width}",
                plan=found[0] if found else "?",
            )
            return
        raw_plan = cells[columns.plan]
        placed = self._plan_cells.get(raw_plan)
        if placed is None:
            plan_key = _as_uuid(raw_plan)
            if plan_key is None:
                self.unplaced_failures += 1
                raw_plan = raw_plan.strip()
                self._reject(f"plan id {raw_plan[:40]!r} is not a UUID", plan=raw_plan[:40])
                return
            placed = (plan_key, self.plans.get(plan_key))
            if len(self._plan_cells) < _PLAN_CACHE_MAX:
                # Each of an export's Plans spells its id the same way on every row.
                self._plan_cells[raw_plan] = placed
        plan_key, plan_pk = placed
        if plan_pk is None:
            self.rows_ignored += 1  # a Plan this export did not ask for
            return
        raw_time = cells[columns.published]
        try:
            day = self._days.day(raw_time.strip())
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
        for position, column, kpi in self._metric_columns:
            cell = cells[column]
            if cell.isdigit() and cell.isascii() and len(cell) <= _SAFE_DIGITS:
                values[position] = int(cell)  # the common case: parse_count's first branch
                continue
            try:
                values[position] = parse_count(cell)
            except ValueError as exc:
                self.tainted.add((plan_pk, day))
                self._reject(f"{kpi}: {exc}", plan=plan_key, day=day)
                return
        values[-1] = 1  # one row is one published post
        key = (plan_pk, day)
        post_id = columns.post_id
        if post_id is not None and self._repeats(cells[post_id], plan_key, key, values):
            return
        bucket = self.sums.get(key)
        if bucket is None:
            self.sums[key] = values
        else:
            # A Plan's posts of one day combine as each KPI declares: counts add up, reach
            # (unique people, reported per post) is the day's highest post reach, never a sum.
            for position in _SUM_POSITIONS:
                bucket[position] += values[position]
            for position in _MAX_POSITIONS_LIST:
                if values[position] > bucket[position]:
                    bucket[position] = values[position]

    def _repeats(self, cell: str, plan: str, key: Key, values: list[int]) -> bool:
        """Tell whether this row's post was read already (the row is then not summed).

        A file can list a post twice (a page of the export written again): summed twice, its day
        would double. A repeat with the same Plan, day and numbers is skipped and counted. One
        that differs cannot say which of its two rows is true, so neither is: the row is
        rejected and the days of both rows keep their stored values, as for any rejected row.
        Post ids are kept as their hash (a rare collision of two posts reads as a post listed
        with other numbers: days kept, never a wrong number); a blank id proves nothing.
        """
        post = cell.strip()
        if not post:
            return False
        post_key = hash(post)
        record = _post_record(key, self.start, values)
        first = self._posts.get(post_key)
        if first is None:
            self._posts[post_key] = record
            return False
        if first == record:
            self.rows_repeated += 1
            return True
        first_key = _post_key_of(first, self.start)
        self.tainted.update((key, first_key))
        also = "" if first_key == key else f" (first on {first_key[1].isoformat()})"
        self._reject(
            f"post {post[:40]!r} is listed again with other numbers{also}: neither row is summed",
            plan=plan,
            day=key[1],
        )
        return True

    def _reject(self, error: str, *, plan: str, day: date | None = None) -> None:
        self.rows_failed += 1
        if len(self.bad_rows) < BAD_ROWS_SHOWN:
            entry: dict[str, Any] = {"row": self.rows_read, "plan": plan, "error": error}
            if day is not None:
                entry["day"] = day.isoformat()
            self.bad_rows.append(entry)

    def drop_overflowing(self) -> None:
        """Reject the Plan-days whose sum no longer fits a stored count (each cell did).

        Checked once per Plan-day after the last row, not on every addition: only absurd data
        gets there, and it must cost that day (kept as stored, counted as failed), not the write.
        """
        for key, values in self.sums.items():
            if key not in self.tainted and max(values) > MAX_COUNT:
                self.tainted.add(key)
                kpi = METRICS[values.index(max(values))]
                plan = next((k for k, pk in self.plans.items() if pk == key[0]), "?")
                self._reject(
                    f"{kpi}: the day's posts add up to more than any count can be",
                    plan=plan,
                    day=key[1],
                )

    def keeps(self, key: Key) -> bool:
        """Tell whether a stored bucket must stay as it is because a row of it was rejected."""
        return key in self.tainted or key[0] in self.tainted_plans
