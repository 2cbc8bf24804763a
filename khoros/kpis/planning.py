"""Planning a KPI run: the exports (Plans, days) it asks for, and the open ones it resumes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max

from khoros.kpi_catalog import EXPORT_KPIS as KPI_NAMES
from khoros.models import KpiExport, Plan

# Keeps one export's request body and CSV of a sensible size; each export is one checkpoint.
PLANS_PER_EXPORT = 500


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


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isascii() and value.isdigit() else (0, value)


def _metric_fields(field_ids: Mapping[str, int]) -> dict[str, int]:
    return {kpi: field_ids[kpi] for kpi in KPI_NAMES if kpi in field_ids}


def _chunks(items: list[Plan], size: int) -> Iterator[tuple[Plan, ...]]:
    for index in range(0, len(items), size):
        yield tuple(items[index : index + size])


def _plan_days(plan: Plan, zone: ZoneInfo) -> tuple[date, date]:
    first = plan.start_day or plan.start.astimezone(zone).date()
    last = plan.end_day or plan.end.astimezone(zone).date()
    return first, last


def plan_jobs(
    *, zone: ZoneInfo, fields: Mapping[str, int], now: datetime, run_pk: int
) -> list[tuple[ExportSpec, KpiExport | None]]:
    """Pair each export this run needs with an open export of an earlier run, if one fits."""
    # The worker died during the POST: there is no export id to poll.
    KpiExport.abandon_unanswered(now=now)
    open_exports = list(
        KpiExport.objects.filter(state__in=KpiExport.RESUMABLE).order_by("requested_at", "pk")
    )
    jobs: list[tuple[ExportSpec, KpiExport | None]] = []
    for spec in plan_exports(zone=zone, fields=fields, today=now.astimezone(zone).date()):
        match = next((e for e in open_exports if _fits(e, spec, zone=zone, fields=fields)), None)
        if match is not None:
            open_exports.remove(match)
        jobs.append((spec, match))
    for export in open_exports:
        # Asked for other Plans or another window (the Plan list changed, a day passed):
        # this run asks for what it needs rather than mixing windows.
        export.end(
            KpiExport.State.ABANDONED,
            f"Superseded by run #{run_pk}, which needed another window.",
            now=now,
            update_fields=["state", "finished_at", "error"],
        )
    return jobs


def _fits(
    export: KpiExport, spec: ExportSpec, *, zone: ZoneInfo, fields: Mapping[str, int]
) -> bool:
    return (
        export.full_history == spec.full_history
        and export.timezone == zone.key
        and export.field_ids == fields
        and export.plan_ids == spec.plan_ids
        and export.start <= spec.start
        and export.stop >= spec.stop
    )


def plan_exports(*, zone: ZoneInfo, fields: Mapping[str, int], today: date) -> list[ExportSpec]:
    """The exports this run needs: history for Plans never pulled, trailing for the rest."""
    stop = today + timedelta(days=1)
    done = KpiExport.objects.filter(state=KpiExport.State.DOWNLOADED)
    downloaded = done.filter(timezone=zone.key)
    # A Plan's history counts as pulled only in this zone and with these metric field ids,
    # from its first day on; a Plan moved to start earlier is pulled again. The placing
    # columns do not count: they decide how rows are read, not what a day sums to (histories
    # read before those columns were asked for are not pulled again).
    metrics = _metric_fields(fields)
    # And only if no export in another zone, or with other metric field ids, wrote days after
    # it: that one counted the posts into the other zone's days, or another field into a KPI,
    # so a zone or a mapping that comes back (Chicago, Tokyo, Chicago again) needs every
    # history again, not only the trailing days, or the older days keep the other numbers.
    # One row per zone and mapping ever used, not per export.
    other_last = max(
        (
            last
            for zone_key, field_ids, last in done.order_by()
            .values_list("timezone", "field_ids")
            .annotate(last=Max("finished_at"))
            if last is not None and (zone_key != zone.key or _metric_fields(field_ids) != metrics)
        ),
        default=None,
    )
    histories = downloaded.filter(full_history=True)
    if other_last is not None:
        histories = histories.filter(finished_at__gt=other_last)
    pulled_from: dict[str, date] = {}
    for plan_ids, start, field_ids in histories.values_list("plan_ids", "start", "field_ids"):
        if _metric_fields(field_ids) != metrics:
            continue
        for plan_id in plan_ids:
            pulled_from[plan_id] = min(pulled_from.get(plan_id, start), start)
    last_stop: date | None = downloaded.aggregate(last=Max("stop"))["last"]

    new: list[Plan] = []
    known: list[tuple[Plan, date]] = []
    first_days: dict[int, date] = {}
    # Only what planning and the sync read of a Plan: not its raw JSON (15,000 Plans' raw
    # documents were most of this function's time).
    plans = (
        Plan.objects.filter(removed_at__isnull=True)
        .select_related("initiative")
        .only("khoros_id", "start", "end", "start_day", "end_day", "initiative__khoros_id")
    )
    for plan in plans.order_by("khoros_id"):
        first, last = _plan_days(plan, zone)
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
