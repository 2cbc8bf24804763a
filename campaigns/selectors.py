"""Reads of the human side: the workbench lists, suggestions, drift and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from campaigns.access import granted_initiative_ids, visible_plans
from campaigns.models import Assignment, AuditEvent
from khoros import kpi_catalog
from khoros.models import Plan, PlanKpi
from khoros.selectors import plan_kpi_totals
from sapmc.models import CampaignReference, ExternalCampaign

AnyUser = AbstractBaseUser | AnonymousUser

# Suggestions score at most this many overlapping candidates: enough to find the good ones,
# bounded so the page stays fast at 10,000 Plans.
SUGGESTION_CANDIDATES = 400


@dataclass(frozen=True)
class CampaignFilters:
    q: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    unassigned_only: bool = False


@dataclass(frozen=True)
class PlanFilters:
    q: str = ""
    initiative: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    unassigned_only: bool = False


@dataclass
class Drift:
    """Where SAP MC's references and the bridge's assignments of one campaign differ."""

    sap_only: list[Plan] = field(default_factory=list)
    bridge_only: list[Plan] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # referenced ids not mirrored
    sap_ids: set[str] = field(default_factory=set)
    kept: bool = False

    @property
    def exists(self) -> bool:
        return bool(self.sap_only or self.bridge_only) and not self.kept

    def as_state(self) -> dict[str, list[str]]:
        return {
            "sap_only": sorted(str(p.khoros_id) for p in self.sap_only),
            "bridge_only": sorted(str(p.khoros_id) for p in self.bridge_only),
            "unresolved": sorted(self.unresolved),
        }


@dataclass(frozen=True)
class Suggestion:
    plan: Plan
    score: float
    overlap_days: int
    name_similarity: float


def _overlapping(
    qs: QuerySet, start_field: str, end_field: str, first: date | None, last: date | None
) -> QuerySet:
    """Rows whose [start, end] day range meets [first, last]; open ends match everything."""
    if first is not None:
        qs = qs.filter(Q(**{f"{end_field}__gte": first}) | Q(**{f"{end_field}__isnull": True}))
    if last is not None:
        qs = qs.filter(Q(**{f"{start_field}__lte": last}) | Q(**{f"{start_field}__isnull": True}))
    return qs


def campaign_list(*, filters: CampaignFilters) -> QuerySet[ExternalCampaign]:
    """Live campaigns matching the filters, with their number of assigned Plans."""
    qs = ExternalCampaign.objects.filter(removed_at__isnull=True)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q) | Q(campaign_id__icontains=filters.q))
    if filters.status:
        qs = qs.filter(lifecycle_status=filters.status)
    qs = _overlapping(qs, "start", "end", filters.date_from, filters.date_to)
    qs = qs.annotate(assigned_count=Count("assignments"))
    if filters.unassigned_only:
        qs = qs.filter(assigned_count=0)
    return qs.order_by("start", "name", "pk")


@dataclass(frozen=True)
class CampaignCounts:
    campaigns: int
    assigned_plans: int


def campaign_counts(*, user: AnyUser) -> CampaignCounts:
    """Live SAP MC campaigns, and how many Plans the user can see feed one, in two queries."""
    return CampaignCounts(
        campaigns=ExternalCampaign.objects.filter(removed_at__isnull=True).count(),
        assigned_plans=Assignment.objects.filter(plan__in=visible_plans(user)).count(),
    )


def campaign_statuses() -> list[tuple[str, str]]:
    """The lifecycle codes in use, with SAP MC's names (they are customer configuration)."""
    rows = (
        ExternalCampaign.objects.exclude(lifecycle_status="")
        .values_list("lifecycle_status", "lifecycle_status_name")
        .distinct()
        .order_by("lifecycle_status")
    )
    return [(code, name or code) for code, name in rows]


def plan_list(*, user: AnyUser, filters: PlanFilters) -> QuerySet[Plan]:
    """Live Plans the user may see, with their Initiative and current campaign."""
    qs = visible_plans(user).filter(removed_at__isnull=True)
    if filters.initiative:
        qs = qs.filter(initiative_id=filters.initiative)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    qs = _overlapping(qs, "start_day", "end_day", filters.date_from, filters.date_to)
    if filters.unassigned_only:
        qs = qs.filter(assignment__isnull=True)
    return qs.select_related("initiative", "assignment__campaign").order_by("start", "name", "pk")


def campaign_assigned_plans(
    *, campaign: ExternalCampaign, user: AnyUser
) -> tuple[list[Assignment], int]:
    """The campaign's assignments the user may see, and how many others it has."""
    assignments = list(
        Assignment.objects.filter(campaign=campaign)
        .select_related("plan__initiative", "assigned_by")
        .order_by("plan__start", "plan__name")
    )
    granted = granted_initiative_ids(user)
    if granted is None:
        return assignments, 0
    visible = [a for a in assignments if a.plan.initiative_id in granted]
    return visible, len(assignments) - len(visible)


def _day_overlap(
    a_start: date | None, a_end: date | None, b_start: date | None, b_end: date | None
) -> int:
    if None in (a_start, a_end, b_start, b_end):
        return 0
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)  # type: ignore[operator]


def campaign_suggestions(
    *, campaign: ExternalCampaign, user: AnyUser, limit: int = 5
) -> list[Suggestion]:
    """Unassigned Plans the user may assign, ranked by date overlap and name similarity."""
    if campaign.start is None or campaign.end is None:
        return []
    candidates = list(
        _overlapping(
            visible_plans(user).filter(removed_at__isnull=True, assignment__isnull=True),
            "start_day",
            "end_day",
            campaign.start,
            campaign.end,
        )
        .select_related("initiative")
        .order_by("start", "pk")[:SUGGESTION_CANDIDATES]
    )
    span = (campaign.end - campaign.start).days + 1
    name = campaign.name.casefold()
    ranked = []
    for plan in candidates:
        overlap = _day_overlap(campaign.start, campaign.end, plan.start_day, plan.end_day)
        if overlap == 0:
            continue
        plan_span = (
            (plan.end_day - plan.start_day).days + 1 if plan.start_day and plan.end_day else 1
        )
        # Overlap relative to the longer of the two, so a year-long Plan is no perfect match
        # for a one-week campaign.
        overlap_score = overlap / max(span, plan_span)
        similarity = SequenceMatcher(None, name, plan.name.casefold()).ratio()
        ranked.append(
            Suggestion(
                plan=plan,
                score=round(0.6 * overlap_score + 0.4 * similarity, 3),
                overlap_days=overlap,
                name_similarity=round(similarity, 3),
            )
        )
    ranked.sort(key=lambda s: (-s.score, s.plan.name, s.plan.pk))
    return ranked[:limit]


def campaign_drift(*, campaign: ExternalCampaign) -> Drift:
    """Compare SAP MC's references of one campaign with the bridge's assignments."""
    references = list(CampaignReference.objects.filter(campaign=campaign).select_related("plan"))
    assigned = {
        a.plan_id: a.plan
        for a in Assignment.objects.filter(campaign=campaign).select_related("plan")
    }
    drift = Drift()
    sap_plans = {}
    for ref in references:
        if ref.plan is None:
            drift.unresolved.append(ref.external_campaign_id)
        else:
            sap_plans[ref.plan_id] = ref.plan
            drift.sap_ids.add(str(ref.plan.khoros_id))
    drift.sap_only = sorted(
        (p for pk, p in sap_plans.items() if pk not in assigned), key=lambda p: p.name
    )
    drift.bridge_only = sorted(
        (p for pk, p in assigned.items() if pk not in sap_plans), key=lambda p: p.name
    )
    drift.kept = campaign.drift_kept is not None and set(campaign.drift_kept) == drift.sap_ids
    return drift


def drift_flags(*, campaigns: list[ExternalCampaign]) -> dict[int, bool]:
    """Which of these campaigns drift from SAP MC, in two queries whatever their number."""
    pks = [c.pk for c in campaigns]
    sap: dict[int, set[int]] = {pk: set() for pk in pks}
    bridge: dict[int, set[int]] = {pk: set() for pk in pks}
    sap_ids: dict[int, set[str]] = {pk: set() for pk in pks}
    for campaign_id, plan_id, khoros_id in CampaignReference.objects.filter(
        campaign_id__in=pks, plan__isnull=False
    ).values_list("campaign_id", "plan_id", "plan__khoros_id"):
        sap[campaign_id].add(plan_id)
        sap_ids[campaign_id].add(str(khoros_id))
    for campaign_id, plan_id in Assignment.objects.filter(campaign_id__in=pks).values_list(
        "campaign_id", "plan_id"
    ):
        bridge[campaign_id].add(plan_id)
    flags = {}
    for campaign in campaigns:
        kept = campaign.drift_kept is not None and set(campaign.drift_kept) == sap_ids[campaign.pk]
        flags[campaign.pk] = sap[campaign.pk] != bridge[campaign.pk] and not kept
    return flags


@dataclass(frozen=True)
class AuditFilters:
    actor: int | None = None
    campaign: str = ""  # SAP MC campaign ID, or part of the name
    date_from: date | None = None
    date_to: date | None = None


def audit_events(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Human changes, newest first, filtered by actor, campaign and day."""
    qs = AuditEvent.objects.select_related("campaign", "plan")
    if filters.actor:
        qs = qs.filter(actor_id=filters.actor)
    if filters.campaign:
        qs = qs.filter(
            Q(campaign__campaign_id=filters.campaign)
            | Q(campaign__name__icontains=filters.campaign)
        )
    if filters.date_from:
        qs = qs.filter(at__date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(at__date__lte=filters.date_to)
    return qs.order_by("-at", "-id")


# Display names of the daily numbers, in khoros' order.
KPI_LABELS = kpi_catalog.LABELS


@dataclass
class CampaignKpis:
    days: list[date]
    series: dict[str, list[int]]  # KPI name -> one number per day
    totals: dict[str, int]
    per_plan: dict[int, dict[str, int]]  # Plan pk -> totals


def campaign_kpis(*, campaign: ExternalCampaign, user: AnyUser) -> CampaignKpis:
    """Daily KPI sums of the campaign's Plans the user may see, day by day, in two queries."""
    plans = visible_plans(user).filter(assignment__campaign=campaign)
    rows = (
        PlanKpi.objects.filter(plan__in=plans)
        .values("day")
        .annotate(**{name: Sum(name) for name in KPI_LABELS})
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days: list[date] = []
    if by_day:
        first = min(by_day)
        last = max(by_day)
        if campaign.start is not None:
            first = min(first, campaign.start)
        if campaign.end is not None:
            last = max(last, min(campaign.end, timezone.localdate()))
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    series = {
        name: [int((by_day.get(day) or {}).get(name) or 0) for day in days] for name in KPI_LABELS
    }
    per_plan = plan_kpi_totals(plans=plans, date_from=days[0], date_to=days[-1]) if days else {}
    return CampaignKpis(
        days=days,
        series=series,
        totals={name: sum(values) for name, values in series.items()},
        per_plan=per_plan,
    )
