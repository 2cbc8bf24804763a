"""The SAP MC success push: the daily numbers of assigned Plans into SAP MC's success import.

Policy (README "The success push"; docs/sapmc-api.md part 3): a Plan-day is sent once, after it
has settled past the KPI sync's trailing re-pull window (SAPMC_SUCCESS_SETTLE_DAYS), to the
campaign the Plan is assigned to at that moment. The ledger (SuccessSent) records every outcome
as each batch is answered; a created row is never sent again: SAP does not document what a
second POST of the same Plan-day does, and SAP MC stores it as another row (counted twice).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import CharField, Count, F, FilteredRelation, Q, Value
from django.db.models.functions import SHA256, Cast, Coalesce, Concat
from django.utils import timezone

from khoros.models import Company, Plan, PlanKpi
from khoros.zone import company_zone
from sapmc import client as sapmc
from sapmc.kinds import SAPMC_SUCCESS_PUSH
from sapmc.models import ExternalCampaign, SuccessSent
from sapmc.payloads import EXTERNAL_NAME_LENGTH, PARTY_LENGTH, PARTY_NAME_LENGTH
from sapmc.sap_length import sap_cut
from sapmc.selectors import campaign_names
from sapmc.timezones import sap_timezone_code
from smcbridge.outgoing_http import ClientStats
from syncs import runs
from syncs.models import SyncRun
from syncs.upsert import fit

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

# CommunicationMedium (MaxLength 20): the numbers come from social media posts.
COMMUNICATION_MEDIUM = "SOCIAL"

# Which SAP MC campaign each Plan's numbers belong to: the campaigns app owns the assignments
# and registers the source (sapmc may not import campaigns). Yields (plan id, campaign id).
_assignment_source: Callable[[], Iterable[tuple[int, int]]] | None = None


def register_assignment_source(func: Callable[[], Iterable[tuple[int, int]]]) -> None:
    global _assignment_source
    _assignment_source = func


def assigned_plans() -> dict[int, int]:
    """Plan id -> ExternalCampaign id of every current assignment."""
    if _assignment_source is None:
        raise ImproperlyConfigured("No app registered the assignments of Plans to campaigns")
    return dict(_assignment_source())


# The numbers a Success carries, by our KPI names: PlanKpi's fields of the same names.
NUMBER_FIELDS = ("impressions", "clicks", "engagements", "video_views", "reach")


def numbers_of(kpi: PlanKpi) -> dict[str, int]:
    """The numbers a Success carries, by our KPI names (reach: that day's, never a sum)."""
    return {name: getattr(kpi, name) for name in NUMBER_FIELDS}


def numbers_hash(numbers: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(numbers, sort_keys=True).encode()).hexdigest()


def settled_before(today: date) -> date:
    """Days before this one have settled: the KPI sync no longer re-pulls them."""
    return today - timedelta(days=settings.SAPMC_SUCCESS_SETTLE_DAYS)


def unsettled_at_removal(removed_at: datetime, zone: ZoneInfo) -> date:
    """The first day of a Plan removed in Khoros at `removed_at` that had not settled then: the
    KPI sync no longer counts a removed Plan again, so its days from this one on are never
    final, and never sent."""
    return settled_before(removed_at.astimezone(zone).date())


@dataclass
class Due:
    row: sapmc.SuccessRow
    plan_id: int
    campaign_id: int
    numbers: dict[str, int]


@dataclass
class PushPlan:
    due: list[Due] = field(default_factory=list)
    already_sent: int = 0
    changed_after_sending: int = 0
    waiting: int = 0  # not settled yet
    unknown: int = 0  # outcome unknown earlier: not sent again blindly
    other_zone: int = 0  # counted in another zone than the company's: not sent as its days
    removed_plan: int = 0  # of a Plan removed in Khoros before they settled: never sent


def plan_push(*, today: date, zone: str, timezone_code: str) -> PushPlan:
    """What this run sends: the settled Plan-days of assigned Plans not yet created in SAP MC,
    counted in the company's `zone` (whose SAP code is `timezone_code`).

    Every KPI day of the assigned Plans is counted, but in the database: one aggregate over
    the days joined to their ledger rows, the "changed after sending" days found by hashing
    the numbers in SQL as `numbers_hash` does. Only the days due are read as rows, so a run
    costs memory by what it sends, not by the year of days already sent."""
    result = PushPlan()
    assigned = assigned_plans()
    if not assigned:
        return result
    campaigns = ExternalCampaign.objects.in_bulk(set(assigned.values()))
    company = Company.objects.filter(khoros_id=settings.KHOROS_COMPANY_ID).first()
    company_name = sap_cut(company.name, PARTY_NAME_LENGTH) if company else ""
    cutoff = settled_before(today)
    never_final = _never_final(assigned, ZoneInfo(zone))
    # Each KPI day with its ledger row, if any (one per Plan and day).
    days = (
        PlanKpi.objects.filter(plan_id__in=assigned)
        .annotate(
            sent=FilteredRelation(
                "plan__successes_sent", condition=Q(plan__successes_sent__day=F("day"))
            ),
            ledger_status=Coalesce("sent__status", Value("")),
        )
        .order_by()
    )
    created = Q(ledger_status=SuccessSent.Status.CREATED)
    # Neither created nor of unknown outcome: never sent, or refused (sent again).
    unsent = ~Q(ledger_status__in=[SuccessSent.Status.CREATED, SuccessSent.Status.UNKNOWN])
    # Removed in Khoros before they settled: never sent, but said. A removed Plan's days that
    # had settled are final and go like any other.
    final = ~never_final if never_final is not None else Q()
    # A day of the company's previous zone, not counted again since the zone changed: sent
    # under this zone's code SAP MC would book its numbers on another day. The KPI sync pulls
    # every Plan's history again in the new zone; it goes then.
    elsewhere = PlanKpi.counted_elsewhere_q(zone)
    counted = {
        "already_sent": Count("pk", filter=created),
        "changed_after_sending": Count(
            "pk", filter=created & ~Q(sent__numbers_hash=_numbers_hash_sql())
        ),
        "unknown": Count("pk", filter=Q(ledger_status=SuccessSent.Status.UNKNOWN)),
        "other_zone": Count("pk", filter=unsent & final & elsewhere),
        "waiting": Count("pk", filter=unsent & final & ~elsewhere & Q(day__gte=cutoff)),
    }
    if never_final is not None:
        counted["removed_plan"] = Count("pk", filter=unsent & never_final)
    for name, count in days.aggregate(**counted).items():
        setattr(result, name, count)
    # The days due go to the campaign assigned now; none while SAP MC no longer lists it.
    listed = [
        plan_id
        for plan_id, campaign_id in assigned.items()
        if (campaign := campaigns.get(campaign_id)) is not None and campaign.removed_at is None
    ]
    if not listed:
        return result
    # Plain values, each Plan read once: a first push sends a Plan's whole history.
    due = (
        days.filter(unsent & final & ~elsewhere, day__lt=cutoff, plan_id__in=listed)
        .order_by("plan_id", "day")
        .values_list("plan_id", "day", *NUMBER_FIELDS)
    )
    rows = list(due)
    plans = (
        Plan.objects.select_related("initiative")
        .only("khoros_id", "name", "initiative__khoros_id", "initiative__name")
        .in_bulk({row[0] for row in rows})
    )
    advertiser = sap_cut(settings.KHOROS_COMPANY_ID, PARTY_LENGTH)
    for plan_id, day, *values in rows:
        numbers = dict(zip(NUMBER_FIELDS, values, strict=True))
        campaign, plan = campaigns[assigned[plan_id]], plans[plan_id]
        row = sapmc.SuccessRow(
            campaign_uuid=str(campaign.sap_uuid),
            campaign_id=campaign.campaign_id,
            campaign_category=campaign.category or settings.SAPMC_CAMPAIGN_CATEGORY,
            external_campaign_id=plan.khoros_id.hex,
            external_campaign_name=sap_cut(plan.name, EXTERNAL_NAME_LENGTH),
            advertiser=advertiser,
            advertiser_name=company_name,
            managing_party=sap_cut(plan.initiative.khoros_id, PARTY_LENGTH),
            managing_party_name=sap_cut(plan.initiative.name, PARTY_NAME_LENGTH),
            day=day,
            timezone=timezone_code,
            impressions=numbers["impressions"],
            clicks=numbers["clicks"],
            post_engagements=numbers["engagements"],
            video_views=numbers["video_views"],
            reach=numbers["reach"],
            communication_medium=COMMUNICATION_MEDIUM,
        )
        result.due.append(Due(row, plan_id, campaign.pk, numbers))
    return result


def _never_final(assigned: Iterable[int], zone: ZoneInfo) -> Q | None:
    """The days of the assigned Plans removed in Khoros that had not settled when they were:
    the KPI sync stopped counting them again, so they may never be final (None: no such Plan).
    One condition per first such day, whatever the number of removed Plans sharing it."""
    by_first: dict[date, list[int]] = {}
    removed = Plan.objects.filter(pk__in=assigned, removed_at__isnull=False)
    for plan_id, removed_at in removed.values_list("pk", "removed_at").order_by("pk"):
        if removed_at is not None:  # always (the filter), for the type checker
            by_first.setdefault(unsettled_at_removal(removed_at, zone), []).append(plan_id)
    condition = None
    for first, plan_ids in sorted(by_first.items()):
        one = Q(plan_id__in=plan_ids, day__gte=first)
        condition = one if condition is None else condition | one
    return condition


class _Sha256(SHA256):
    """SHA256 as lowercase hex on PostgreSQL without the pgcrypto extension Django's needs
    (sha256() is built in since PostgreSQL 11); Django's own elsewhere."""

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        return self.as_sql(
            compiler,
            connection,
            template="ENCODE(SHA256(CONVERT_TO(%(expressions)s, 'UTF8')), 'hex')",
            **extra_context,
        )


def _numbers_hash_sql() -> SHA256:
    """numbers_hash(numbers_of(kpi)) of a PlanKpi row, computed by the database: the same JSON
    text (keys sorted, json.dumps's separators, integers as digits) hashed the same way."""
    parts: list[Value | Cast] = []
    for name in sorted(NUMBER_FIELDS):
        parts.append(Value(("{" if not parts else ", ") + json.dumps(name) + ": "))
        parts.append(Cast(name, CharField()))
    parts.append(Value("}"))
    return _Sha256(Concat(*parts, output_field=CharField()))


def _record(run: SyncRun, by_key: dict, outcomes: list[sapmc.SuccessOutcome]) -> tuple[int, int]:
    """Write one answered batch into the ledger, in one transaction; (created, refused)."""
    entries = [
        _Entry(
            due=by_key[outcome.row.key],
            status=SuccessSent.Status.CREATED if outcome.created else SuccessSent.Status.REFUSED,
            success_uuid=outcome.success_uuid or "",
            field_name=outcome.field or "",
            message=outcome.message,
        )
        for outcome in outcomes
    ]
    with transaction.atomic():
        _write(run, entries, timezone.now())
    created = sum(1 for outcome in outcomes if outcome.created)
    return created, len(outcomes) - created


@dataclass
class _Entry:
    """What the ledger records of one Plan-day sent."""

    due: Due
    status: str
    success_uuid: str = ""
    field_name: str = ""
    message: str = ""


_UPDATED_FIELDS = [
    "campaign", "run", "status", "sent_at", "numbers", "numbers_hash", "success_uuid", "field",
    "message", "attempts",
]  # fmt: skip


def _write(run: SyncRun, entries: list[_Entry], now: datetime) -> None:
    """Record the entries (call inside a transaction): new Plan-days created, the ones sent
    before (refused, sent again) updated, a batch at a time rather than a row at a time."""
    if not entries:
        return
    plan_ids = {entry.due.plan_id for entry in entries}
    days = {entry.due.row.day for entry in entries}
    earlier = {
        (sent.plan_id, sent.day): sent
        for sent in SuccessSent.objects.filter(plan_id__in=plan_ids, day__in=days)
    }
    new, again = [], []
    for entry in entries:
        due = entry.due
        values = {
            "campaign_id": due.campaign_id,
            "run": run,
            "status": entry.status,
            "sent_at": now,
            "numbers": due.numbers,
            "numbers_hash": numbers_hash(due.numbers),
            "success_uuid": entry.success_uuid,
            "field": fit(SuccessSent, "field", entry.field_name),
            "message": entry.message[:2000],
        }
        sent = earlier.get((due.plan_id, due.row.day))
        if sent is None:
            new.append(SuccessSent(plan_id=due.plan_id, day=due.row.day, **values))
            continue
        for name, value in values.items():
            setattr(sent, name, value)
        sent.attempts += 1
        again.append(sent)
    SuccessSent.objects.bulk_create(new, batch_size=500)
    SuccessSent.objects.bulk_update(again, _UPDATED_FIELDS, batch_size=500)


def _may_have_created(exc: sapmc.SapmcError) -> bool:
    """Whether the failed $batch may have been taken up by SAP MC (its rows may exist)."""
    if exc.method == "GET":
        # The CSRF token is fetched with a GET before the $batch (and again when SAP MC refused
        # an expired one, creating nothing): an error page or a timeout there means no row left.
        return False
    # 500: SAP MC failed while acting. 502, 504 and a CDN's 520-527: a proxy lost the answer to
    # a request it may have passed on. Only 501, 503 and 505 say that nothing was acted on.
    if exc.status is not None and exc.status >= 500 and exc.status not in (501, 503, 505):
        return True
    # The request may have left but no answer came back (a read timeout, a connection reset or
    # dropped after sending, a cut body): SAP MC may have acted on it.
    return exc.maybe_received


def _record_unknown(
    run: SyncRun,
    failing: list[Due],
    batch: int,
    message: str,
    *,
    created: int = 0,
    refused: int = 0,
) -> str:
    """Record a batch SAP MC may have taken up as unknown; say what that means for its rows.

    Not counted failed: failed rows are sent again next run, these wait until a sync admin
    settles them on their campaign's page. They were sent, so they count as done. `created`
    and `refused` are the rows of the same batch whose answer did come (already recorded)."""
    with transaction.atomic():
        unknown = SuccessSent.Status.UNKNOWN
        _write(run, [_Entry(due, unknown, message=message) for due in failing], timezone.now())
    per_campaign = Counter(due.campaign_id for due in failing)
    names = campaign_names(per_campaign)
    campaigns: list[dict[str, object]] = [
        {"id": pk, "name": names.get(pk, f"#{pk}"), "rows": rows}
        for pk, rows in sorted(per_campaign.items(), key=lambda c: (-c[1], names.get(c[0], "")))
    ]
    run.progress_done += len(failing)
    run.outcomes.append(
        {
            "batch": batch,
            "created": created,
            "refused": refused,
            "unknown": len(failing),
            "campaigns": campaigns,
            "status": "failed",
        }
    )
    rows = f"{len(failing)} row{'' if len(failing) == 1 else 's'}"
    where = ", ".join(str(c["name"]) for c in campaigns)
    return (
        f"{rows} of batch {batch} of unknown outcome (SAP MC may have created them): not sent "
        f"again until a sync admin settles them on the campaign page ({where})."
    )


def _plan_now() -> tuple[PushPlan, date, ZoneInfo, str] | str:
    """What a push run would send now, with the company's today, zone and its SAP code; or why
    it cannot be planned (a zone SAP has no code for)."""
    zone = company_zone()
    try:
        code = sap_timezone_code(zone.key)
    except ImproperlyConfigured as exc:
        return str(exc)
    today = timezone.now().astimezone(zone).date()
    return plan_push(today=today, zone=zone.key, timezone_code=code), today, zone, code


@runs.sync_entry(SAPMC_SUCCESS_PUSH)
def push_successes(
    run: SyncRun, client: sapmc.SapmcClient, on_progress: Callable[[SyncRun], None] | None
) -> SyncRun:
    """Send the settled, unsent daily numbers of every assigned Plan to SAP MC."""
    if not settings.SAPMC_SUCCESS_PUSH_ENABLED:
        return runs.run_finish(
            run, SyncRun.Status.SKIPPED, "The success push is off (SAPMC_SUCCESS_PUSH_ENABLED)."
        )
    planned = _plan_now()
    if isinstance(planned, str):
        return runs.run_finish(run, SyncRun.Status.FAILED, planned)
    plan, today, zone, code = planned
    run.unchanged_count = plan.already_sent
    run.progress_total = len(plan.due)
    run.outcomes = [
        {
            "due": len(plan.due),
            "already_sent": plan.already_sent,
            "changed_after_sending": plan.changed_after_sending,
            "waiting_to_settle": plan.waiting,
            "outcome_unknown": plan.unknown,
            "other_zone": plan.other_zone,
            "removed_plan": plan.removed_plan,
            "settled_before": settled_before(today).isoformat(),
            "timezone": f"{zone.key} ({code})",
        }
    ]
    runs.run_checkpoint(run, client.stats, runs.COUNT_FIELDS)
    by_key = {due.row.key: due for due in plan.due}
    batch = 0
    try:
        for outcomes in client.iter_success_batches([due.row for due in plan.due]):
            batch += 1
            created, refused = _record(run, by_key, outcomes)
            run.created_count += created
            run.failed_count += refused
            run.outcomes.append({"batch": batch, "created": created, "refused": refused})
            runs.run_step_done(run, client.stats, steps=len(outcomes))
            if on_progress is not None:
                on_progress(run)
    except sapmc.SapmcSuccessOutcomeUnknownError as exc:
        # SAP MC may have created these rows: recorded as unknown, never sent again blindly.
        # The rows its answer did speak for before it was cut are recorded as answered, in the
        # same transaction: a created row must never stay unrecorded while its unknown
        # neighbours are (the next run would send it again).
        failing = [by_key[row.key] for row in exc.rows]
        with transaction.atomic():
            created, refused = _record(run, by_key, list(exc.answered))
            said = _record_unknown(
                run, failing, batch + 1, str(exc), created=created, refused=refused
            )
        run.created_count += created
        run.failed_count += refused
        run.progress_done += len(exc.answered)
        runs.run_checkpoint(run, client.stats, runs.COUNT_FIELDS)
        return runs.run_finish(run, SyncRun.Status.FAILED, f"{runs.error_text(exc)}. {said}")
    except sapmc.SapmcError as exc:
        # Batches answered so far are in the ledger; the next run sends the rest. A batch
        # SAP MC may have taken up (a 500/502/504, an answer that never came) is recorded as
        # unknown: sending it again could store every row twice.
        error = (
            f"SAP MC success import stopped after {run.created_count} rows created: "
            f"{runs.error_text(exc)}"
        )
        if _may_have_created(exc):
            failing = plan.due[run.progress_done : run.progress_done + client.success_batch_size]
            said = _record_unknown(run, failing, batch + 1, runs.error_text(exc))
            error = f"{error}. {said}"
        return runs.run_stopped(
            run,
            client.stats,
            error,
            throttled=isinstance(exc, sapmc.SapmcRateLimitedError),
            fields=runs.COUNT_FIELDS,
        )
    if run.failed_count:
        return runs.run_finish(
            run,
            SyncRun.Status.PARTIAL,
            f"SAP MC refused {run.failed_count} of {len(plan.due)} rows; they are sent again "
            "next run.",
        )
    return runs.run_finish(run, SyncRun.Status.SUCCEEDED)


def hold_after_restore(*, restored_from: str) -> tuple[SyncRun, Counter[int]]:
    """After the database was restored from a dump, record every settled Plan-day the ledger
    does not hold as of unknown outcome instead of sending it: pushes between the dump and
    the restore may have created it in SAP MC, which stores a day sent twice as two rows and
    cannot be asked what it holds (its Successes are neither filterable nor readable back).
    A sync admin settles them per campaign ("It is in SAP MC" or "Send again").

    Runs as a push run (the push's lease: never beside a push). Returns the run and the
    rows held per campaign."""
    held: Counter[int] = Counter()

    def work(run: SyncRun, _client: object) -> SyncRun:
        planned = _plan_now()
        if isinstance(planned, str):
            return runs.run_finish(run, SyncRun.Status.FAILED, planned)
        plan = planned[0]
        message = (
            f"The bridge's database was restored from {restored_from}: a push after that may "
            "have created this day in SAP MC. Not sent until a sync admin settles it."
        )[:2000]
        with transaction.atomic():
            unknown = SuccessSent.Status.UNKNOWN
            _write(run, [_Entry(due, unknown, message=message) for due in plan.due], timezone.now())
        held.update(due.campaign_id for due in plan.due)
        run.unchanged_count = plan.already_sent
        run.progress_total = run.progress_done = len(plan.due)
        run.outcomes = [
            {
                "name": "Held after a restore",
                "status": "ok",
                "held": len(plan.due),
                "already_sent": plan.already_sent,
                "outcome_unknown": plan.unknown,
                "restored_from": restored_from[:200],
            }
        ]
        runs.run_checkpoint(run, ClientStats(), runs.COUNT_FIELDS, heartbeat=True)
        return runs.run_finish(run, SyncRun.Status.SUCCEEDED)

    run = runs.SyncRunner(SAPMC_SUCCESS_PUSH).run(
        work=work, trigger=SyncRun.Trigger.COMMAND, client=object()
    )
    return run, held
