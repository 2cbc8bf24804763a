"""SAP MC's success data with a Report ID: ask once, answer when the KPIs are fresh, then freeze.

Call 1 records what SAP MC asks for (campaigns, days, KPI structure) and the one KPI sync run the
report waits on: a new one, or the one already queued or running; none when the last success is
recent (SAPMC_REPORT_FRESH_MINUTES). Later calls answer PENDING while that run is queued or
running and never start another for a run that did its work and ended. A run nobody works on
(its worker died, its task was lost) or that no worker ever started (the broker did not take its
task) is not such a run: the poll is whoever asks next, and the report waits on the run asked
for in its place (one another request already queued, or a new one). Once a KPI sync has
succeeded after the report was made (or shortly before it) the numbers are read from PlanKpi
once and stored in the report, so that the same Report ID always answers the same numbers,
whatever later syncs change.

When the report's run ends without success (failed, partial, deferred, skipped, or the run
taking over from it when its worker died) the report completes with the numbers the bridge
holds if the last successful KPI sync covers every requested day that was complete when the
report was made (DataAsOf says how old they are); otherwise it answers 503 KPI_SYNC_FAILED with
Retry-After until a later KPI sync (the schedule's, a button's, another report's) succeeds.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models.fields.json import KT
from django.utils import timezone

from khoros import kpi_catalog
from khoros import selectors as khoros_selectors
from khoros.kinds import KHOROS_KPIS
from khoros.models import Plan, PlanKpi
from sapmc.inbound.catalog import MAX_ROWS, AnswerCache, company_zone, external_campaign_id
from sapmc.inbound.http import ApiError, bad_request, json_text
from sapmc.models import InboundReport
from smcbridge.db import hot_row
from syncs import runs as sync_runs
from syncs.models import SyncRun

# SAP MC's KPI names -> PlanKpi's columns, in answer order: the report's KPI structure.
KPI_FIELDS: dict[str, str] = kpi_catalog.SAPMC_NAMES
PACKAGE_SIZE = MAX_ROWS
# Keeps each IN (...) list well below the database's limit on query parameters.
_IN_BATCH = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Exactly the dates the API reads, as the OpenAPI document's InputDate pattern states them (a test
# keeps the two equal), so that no value the document admits is refused as unreadable: real
# calendar days (February 29th in leap years only) of the years 1000 to 9998 (a day and a time
# with an offset then stays inside Python's years after the move to the company zone), a time
# of day as datetime.fromisoformat reads it, and /Date(ms)/ within about 1653 to 5138.
_YEAR = r"(1[0-9]{3}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEAR = r"([1-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"|(0[13-9]|1[0-2])-(29|30)"
    r"|(0[13578]|1[02])-31)"
)
_ISO_DAY_PATTERN = rf"({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME_PATTERN = (
    r"[Tt ]([01][0-9]|2[0-3])(:[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"
)
_ODATA_PATTERN = r"/Date\((-[0-9]{1,13}|[0-9]{1,14})([+-][0-9]{4})?\)/"
INPUT_DATE_PATTERN = rf"^({_ISO_DAY_PATTERN}({_TIME_PATTERN})?|{_ODATA_PATTERN})$"
_INPUT_DATE = re.compile(INPUT_DATE_PATTERN)
_ODATA_DATE = re.compile(r"/Date\((-?[0-9]+)(?:[+-][0-9]{4})?\)/")
REPORT_ID = re.compile(r"R[A-Za-z0-9_-]{20}")

T = TypeVar("T")


def parse_api_date(value: object, *, name: str, zone: ZoneInfo) -> date:
    """A day from `YYYY-MM-DD`, an ISO date-time or OData's `/Date(ms)/`; 400 INVALID_DATE else.

    A date-time with an offset (or Z) counts as the calendar day it falls on in `zone`, the
    company zone the daily KPIs are counted in; one without an offset as the day it names.
    `/Date(ms)/` is a UTC instant (SAP sends midnight UTC for a day): its UTC day.
    """
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string with a date.", "INVALID_DATE")
    # Not stripped: the OpenAPI pattern admits no blanks, and what it refuses we refuse.
    text = value
    try:
        if _INPUT_DATE.fullmatch(text):
            if odata := _ODATA_DATE.fullmatch(text):
                return (_EPOCH + timedelta(milliseconds=int(odata.group(1)))).date()
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text[:10] + "T" + text[11:])
            if moment.tzinfo is None:
                return moment.date()
            return moment.astimezone(zone).date()
    except (ValueError, OverflowError):
        pass
    raise bad_request(
        f"{name} {value[:40]!r} is not a date: send YYYY-MM-DD, an ISO date-time or /Date(ms)/.",
        "INVALID_DATE",
    )


def _new_report_id() -> str:
    # 15 random bytes are 20 url-safe characters: 120 bits, never guessed, never repeated.
    return "R" + secrets.token_urlsafe(15)


def _fresh_since() -> timedelta:
    return timedelta(minutes=settings.SAPMC_REPORT_FRESH_MINUTES)


def _fresh_kpi_success(moment: datetime) -> khoros_selectors.KpiFreshness | None:
    """The last KPI sync's success, if after `moment` or at most the fresh window before."""
    last = khoros_selectors.kpi_last_success()
    if last is None or last.finished_at < moment - _fresh_since():
        return None
    return last


def _plans_in_sync(
    last: khoros_selectors.KpiFreshness, external_campaign_ids: Sequence[str]
) -> bool:
    """Whether every requested Plan was mirrored when that KPI sync started: one first mirrored
    after it was not in its exports, and answering without its rows would say it had no posts."""
    started = last.run.started_at or last.run.queued_at
    return not any(
        Plan.objects.filter(khoros_id__in=batch, first_seen__gt=started).exists()
        for batch in _batches(_plan_uuids(external_campaign_ids))
    )


def _fresh_for_report(
    moment: datetime, *, external_campaign_ids: Sequence[str], from_date: date, to_date: date
) -> bool:
    """Whether the held KPIs answer a report made at `moment`: fresh, of a sync that had every
    requested Plan, and counted in the company's zone. Days still held in a zone the company
    had before (its zone changed since the last KPI sync) would be left out of the answer: only
    a KPI sync after `moment`, which counts them again in the new zone, answers such a report."""
    last = _fresh_kpi_success(moment)
    if last is None or not _plans_in_sync(last, external_campaign_ids):
        return False
    if last.finished_at >= moment:
        return True
    zone = company_zone().key
    return not any(
        PlanKpi.objects.filter(plan__khoros_id__in=batch, day__gte=from_date, day__lte=to_date)
        .filter(PlanKpi.counted_elsewhere_q(zone))
        .exists()
        for batch in _batches(_plan_uuids(external_campaign_ids))
    )


def _kpi_sync_request() -> SyncRun:
    # A queued or running KPI sync is reused: many reports wait on one run.
    run, _queued = sync_runs.sync_request(kind=KHOROS_KPIS, trigger=SyncRun.Trigger.API)
    return run


def report_create(
    *, external_campaign_ids: Sequence[str], from_date: date, to_date: date, caller: str
) -> InboundReport:
    """Record what SAP MC asks for and the KPI sync it waits on, unless the last one is recent."""
    now = timezone.now()
    fresh = _fresh_for_report(
        now, external_campaign_ids=external_campaign_ids, from_date=from_date, to_date=to_date
    )
    kpi_run = None if fresh else _kpi_sync_request()
    return InboundReport.objects.create(
        report_id=_new_report_id(),
        from_date=from_date,
        to_date=to_date,
        external_campaign_ids=list(dict.fromkeys(external_campaign_ids)),
        kpi_names=list(KPI_FIELDS),
        timezone=company_zone().key,
        created_at=now,
        caller=caller,
        kpi_run=kpi_run,
    )


def report_get(*, report_id: str) -> InboundReport:
    if not REPORT_ID.fullmatch(report_id):
        raise _unknown_report(report_id)
    found = hot_row(_status_sql(), [report_id])
    if found is None:
        raise _unknown_report(report_id)
    pk, status = found
    if status == InboundReport.Status.COMPLETED:
        # A completed report is frozen: what a poll sends is its stored answer
        # (report_answer_bytes), and any other field is read if and when it is asked for.
        return InboundReport.from_db(
            connection.alias, ["id", "report_id", "status"], [pk, report_id, status]
        )
    # The frozen rows and answers stay in the database: a pending report has none yet.
    report = (
        InboundReport.objects.filter(pk=pk)
        .defer("results", "answer_packages")
        .select_related("kpi_run")
        .first()
    )
    if report is None:  # deleted between the two reads
        raise _unknown_report(report_id)
    return report


def _unknown_report(report_id: str) -> ApiError:
    return ApiError(404, "UNKNOWN_REPORT", f"There is no report {report_id[:40]!r}.")


@cache
def _status_sql() -> str:
    # SAP MC polls a report many times: SQL written once instead of a queryset compiled per
    # poll, and only columns stored before the frozen rows (SQLite reads a row's columns in
    # order, through every page of a long value before them).
    q = connection.ops.quote_name
    table = q(InboundReport._meta.db_table)
    return f"SELECT {q('id')}, {q('status')} FROM {table} WHERE {q('report_id')} = %s"


def _run_waited_on(report: InboundReport) -> SyncRun:
    """The report's KPI run; asked for again when it has none (its row was deleted) or no
    worker ever started it (the broker did not take its task, or the task was lost): it never
    ran, so asking again is not a second start. One whose worker died and that another run took
    over (a button, the takeover schedule) is followed to that run while it is under way."""
    run = report.kpi_run
    if run is None or run.never_started:
        return _wait_on(report, run, _kpi_sync_request())
    if run.taken_over:
        # That run, while it is under way; one that ended without success is the report's
        # answer (a failed KPI sync), not a reason for another start.
        successor = (
            SyncRun.objects.filter(
                kind=KHOROS_KPIS, status__in=SyncRun.ACTIVE, queued_at__gte=run.queued_at
            )
            .exclude(pk=run.pk)
            .order_by("queued_at")
            .first()
        )
        if successor is not None:
            return _wait_on(report, run, successor)
    return run


def _wait_on(report: InboundReport, old: SyncRun | None, new: SyncRun) -> SyncRun:
    """Make `new` the report's run in place of `old`; the run another poll recorded first wins."""
    # Conditional: two polls at once record one run (sync_request hands both the same one).
    InboundReport.objects.filter(pk=report.pk, kpi_run=old).update(kpi_run=new)
    report.refresh_from_db(fields=["kpi_run"])
    return report.kpi_run or new


def _run_pending(run: SyncRun) -> bool:
    """Queued or running, and someone works on it: not a run whose worker died (its lease ran
    out) or whose task was lost (still queued after the queue window)."""
    return run.status in SyncRun.ACTIVE and not sync_runs.run_abandoned(run)


def _held_data_covers(report: InboundReport, last: khoros_selectors.KpiFreshness | None) -> bool:
    """Whether the last successful KPI sync started after every requested day that was
    complete had ended, for every requested Plan.

    "Complete" is judged when the report was made, in the zone its days are counted in: a day
    is complete once it has ended. Days after that (today, the future) cannot be held by anyone.
    """
    if last is None:
        return False
    try:
        zone = ZoneInfo(report.timezone) if report.timezone else company_zone()
    except (ValueError, KeyError):
        zone = company_zone()
    last_complete_day = report.created_at.astimezone(zone).date() - timedelta(days=1)
    needed_through = min(report.to_date, last_complete_day)
    if needed_through < report.from_date:
        return True  # no requested day was complete yet: any successful sync holds them all
    # The days that had ended when that sync started: it asked Khoros for its exports then, so
    # a sync that started at 23:50 and finished at 00:10 holds nothing of the last ten minutes.
    started = last.run.started_at or last.run.queued_at
    covered_through = started.astimezone(zone).date() - timedelta(days=1)
    if covered_through < needed_through:
        return False
    return _plans_in_sync(last, report.external_campaign_ids)


def kpi_sync_failed_error(run: SyncRun) -> ApiError:
    seconds = settings.SAPMC_REPORT_RETRY_SECONDS
    if run.status == SyncRun.Status.RUNNING:
        how = "stopped (its worker died and its lease expired)"
    elif run.error.startswith(sync_runs.BROKER_REFUSED_ERROR):
        how = "could not be started (the bridge's task queue did not take it)"
    else:
        how = f"ended {run.status}"
    return ApiError(
        503,
        "KPI_SYNC_FAILED",
        f"The KPI sync this report waits on (run #{run.pk}) {how}, and the bridge does not hold "
        f"every requested day. The report completes once a KPI sync succeeds; retry in "
        f"{seconds} seconds.",
        {"Retry-After": str(seconds)},
    )


def _report_is_fresh(report: InboundReport) -> bool:
    return _fresh_for_report(
        report.created_at,
        external_campaign_ids=report.external_campaign_ids,
        from_date=report.from_date,
        to_date=report.to_date,
    )


def report_refresh(*, report: InboundReport) -> InboundReport:
    """Complete a report once its KPIs are fresh; while its one run works, keep it pending.

    Raises a 503 ApiError when that run ended without success and the held days do not cover
    the report; never starts a second run for a run that did its work and failed (one nobody
    works on, or no worker started, is asked for again: _run_waited_on).
    """
    if report.status == InboundReport.Status.COMPLETED:
        return report
    if _report_is_fresh(report):
        return report_complete(report=report)
    run = _run_waited_on(report)
    if _run_pending(run):
        return report
    # run_finish saves the status before it gives the lease back: a run read as "running" whose
    # lease is gone may have just succeeded, so freshness is asked once more.
    if _report_is_fresh(report):
        return report_complete(report=report)
    if sync_runs.run_abandoned(run):
        # Nobody works on it: its worker died (with Redis its task is gone for good) or its task
        # was lost. This poll is whoever asks next: the report waits on the run taking it over.
        run = _wait_on(report, run, _kpi_sync_request())
        if _run_pending(run):
            return report
    # Its run ended without success, or its worker died.
    if _held_data_covers(report, khoros_selectors.kpi_last_success()):
        return report_complete(report=report)
    raise kpi_sync_failed_error(run)


@transaction.atomic
def report_complete(*, report: InboundReport) -> InboundReport:
    """Read the report's numbers from PlanKpi and freeze them; a completed report stays as is."""
    locked = InboundReport.objects.select_for_update().filter(pk=report.pk).first()
    if locked is None:  # pruned by the housekeeping since it was read
        raise _unknown_report(report.report_id)
    if locked.status == InboundReport.Status.COMPLETED:
        return locked  # another call completed it first: its numbers are the answer
    last = khoros_selectors.kpi_last_success()
    # The company's zone now: the KPI sync the report waited on counted its days in it, and the
    # Plans' days are in it. Days the bridge holds only in a zone the company had before are
    # left out and counted, never answered as days of this one.
    locked.timezone = company_zone().key
    found = report_results(
        external_campaign_ids=locked.external_campaign_ids,
        from_date=locked.from_date,
        to_date=locked.to_date,
        kpi_names=locked.kpi_names,
        zone=locked.timezone,
    )
    locked.results, locked.other_zone_days = found.rows, found.other_zone
    locked.data_as_of = last.finished_at if last is not None else None
    locked.status = InboundReport.Status.COMPLETED
    locked.completed_at = timezone.now()
    locked.answer_packages = [
        report_answer_text(report=locked, package=package)
        for package in range(1, report_package_count(locked) + 1)
    ]
    locked.save(
        update_fields=[
            "results", "other_zone_days", "timezone", "data_as_of", "status", "completed_at",
            "answer_packages",
        ]
    )  # fmt: skip
    return locked


def _batches(items: Sequence[T], size: int = _IN_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _plan_uuids(external_campaign_ids: Iterable[str]) -> list[uuid.UUID]:
    uuids = []
    for text in external_campaign_ids:
        try:
            uuids.append(uuid.UUID(hex=text))
        except (ValueError, TypeError):
            continue  # not one of our ids: it has no data, like any unknown id
    return uuids


@dataclass(frozen=True)
class ReportResults:
    rows: list[list[Any]]
    other_zone: int  # Plan-days held only as days of another zone than the report's: left out


def report_results(
    *,
    external_campaign_ids: Sequence[str],
    from_date: date,
    to_date: date,
    kpi_names: list[str],
    zone: str,
) -> ReportResults:
    """One row per Plan and day of `zone` with data in [from_date, to_date], by campaign id and
    day; the days counted in another zone are left out and counted.

    A row is [ExternalCampaignID, ISO day, *KPI values in `kpi_names` order]: lists, not
    objects, because PostgreSQL's jsonb does not keep key order and a frozen report must answer
    the very same bytes every time. Ids that name no mirrored Plan give no rows; removed Plans
    keep their numbers. A day whose zone is blank (stored before zones were) counts as `zone`'s.
    """
    columns = [KPI_FIELDS[name] for name in kpi_names]
    ids: dict[int, str] = {}
    for batch in _batches(_plan_uuids(external_campaign_ids)):
        for pk, khoros_id in Plan.objects.filter(khoros_id__in=batch).values_list(
            "pk", "khoros_id"
        ):
            ids[pk] = external_campaign_id(khoros_id)
    results: list[list[Any]] = []
    other_zone = 0
    for pks in _batches(sorted(ids)):
        rows = PlanKpi.objects.filter(
            plan_id__in=pks, day__gte=from_date, day__lte=to_date
        ).values_list("plan_id", "day", "timezone", *columns)
        for plan_id, day, day_zone, *values in rows.iterator(chunk_size=2000):
            if PlanKpi.counted_elsewhere(day_zone, zone):
                other_zone += 1
                continue
            results.append([ids[plan_id], day.isoformat(), *values])
    results.sort(key=lambda row: (row[0], row[1]))
    return ReportResults(rows=results, other_zone=other_zone)


def data_as_of_text(report: InboundReport) -> str | None:
    """When the KPI sync behind the numbers finished, in UTC (`2026-03-04T10:00:00Z`).

    None only for a report completed before the bridge recorded it.
    """
    if report.data_as_of is None:
        return None
    return report.data_as_of.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ReportPackage:
    results: list[dict[str, Any]]
    package: int
    packages: int


def report_package_count(report: InboundReport) -> int:
    return max(1, math.ceil(len(report.results or []) / PACKAGE_SIZE))


def report_package(*, report: InboundReport, package: int) -> ReportPackage:
    """The `package`-th slice (1-based) of a completed report's results, at most 10,000 rows."""
    rows = report.results or []
    packages = report_package_count(report)
    if package > packages:
        raise bad_request(
            f"Package {package} does not exist; this report has {packages}.", "INVALID_PACKAGE"
        )
    start = (package - 1) * PACKAGE_SIZE
    names = report.kpi_names
    results = [
        {
            "ExternalCampaignID": row[0],
            "Date": row[1],
            "KPIs": dict(zip(names, row[2:], strict=True)),
        }
        for row in rows[start : start + PACKAGE_SIZE]
    ]
    return ReportPackage(results=results, package=package, packages=packages)


def report_answer(*, report: InboundReport, package: int) -> dict[str, Any]:
    """The completed answer of one package: the report's frame and that package's results."""
    part = report_package(report=report, package=package)
    return {
        "ReportId": report.report_id,
        "Status": report.status,
        "TimeZone": report.timezone,
        "FromDate": report.from_date.isoformat(),
        "ToDate": report.to_date.isoformat(),
        "DataAsOf": data_as_of_text(report),
        "OtherTimeZoneDays": report.other_zone_days,
        "Package": part.package,
        "Packages": part.packages,
        "Results": part.results,
    }


def report_answer_text(*, report: InboundReport, package: int) -> str:
    """report_answer as the JSON text the API sends (the same form as json_response's)."""
    return json_text(report_answer(report=report, package=package))


def report_answer_bytes(*, report: InboundReport, package: int) -> bytes:
    """A completed report's answer for `package`: the text stored at completion when there is
    one (sent as is), else built from the frozen results; 400 INVALID_PACKAGE beyond the last."""
    if package >= 1 and "answer_packages" in report.get_deferred_fields():
        # A completed report never changes: its packages are kept once read, and only the
        # package asked for leaves the database, not every package's JSON.
        key = (report.report_id, package)
        answer = _answers.get(key)
        if answer is not None:
            return answer
        text = (
            InboundReport.objects.filter(pk=report.pk)
            .values_list(KT(f"answer_packages__{package - 1}"), flat=True)
            .first()
        )
        if isinstance(text, str):
            answer = text.encode()
            _answers.put(key, answer)
            return answer
    stored = report.answer_packages or []
    if stored and package > len(stored):
        raise bad_request(
            f"Package {package} does not exist; this report has {len(stored)}.", "INVALID_PACKAGE"
        )
    text = stored[package - 1] if stored else report_answer_text(report=report, package=package)
    return text.encode()


# A package of 10,000 rows is about 1.7 MB.
_answers = AnswerCache(limit_bytes=32 * 1024 * 1024)
