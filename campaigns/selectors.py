"""Reads of the human side: the workbench lists, suggestions, drift and the audit trail.

Every read of Plans, Initiatives or their KPIs is cut to what the viewer may see here (through
campaigns.access): a manager sees her granted Initiatives, a sync admin all. Views look Plans up
through these functions and hold no grant rule of their own.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Page, Paginator
from django.db.models import (
    Aggregate,
    Case,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce

from campaigns.access import (
    NotAllowedError,
    granted_initiative_ids,
    is_sync_admin,
    visible_assignments,
    visible_initiatives,
    visible_plans,
)
from campaigns.models import Assignment, AuditEvent
from khoros import kpi_catalog
from khoros.models import Initiative, Plan, PlanKpi
from khoros.selectors import kpi_aggregates
from sapmc.models import CampaignReference, ExternalCampaign, SuccessSent
from smcbridge.names import shown_name
from smcbridge.paging import page_number
from smcbridge.zones import day_span
from syncs.filtering import Filters

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

AnyUser = User | AnonymousUser

# Suggestions score at most this many overlapping candidates: enough to find the good ones,
# bounded so the page stays fast at 10,000 Plans.
SUGGESTION_CANDIDATES = 400
# The Plan fields a suggestion is ranked by and shows (the Khoros ids: a blank name is shown by
# its id, smcbridge.names).
SUGGESTION_FIELDS = (
    "id",
    "khoros_id",
    "name",
    "color",
    "start_day",
    "end_day",
    "initiative",
    "initiative__khoros_id",
    "initiative__name",
)


@dataclass(frozen=True)
class CampaignFilters(Filters):
    q: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    unassigned_only: bool = False


@dataclass(frozen=True)
class PlanFilters(Filters):
    q: str = ""
    initiative: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    unassigned_only: bool = False


class DriftKind:
    """The three ways a Plan's SAP MC references and its bridge assignment can differ."""

    # Assigned in the bridge, no SAP MC campaign references it yet: the normal state right
    # after a manager assigns, until a marketer adds the reference in SAP MC. Not an error.
    PENDING = "pending"
    # An SAP MC campaign references it, the bridge assigns it to no campaign.
    SAP_ONLY = "sap_only"
    # SAP MC puts it under another campaign than the bridge: a real conflict.
    CONFLICT = "conflict"


@dataclass
class DriftItem:
    """One Plan whose SAP MC references and bridge assignment differ."""

    plan: Plan
    kind: str
    bridge_campaign: ExternalCampaign | None
    sap_campaigns: list[ExternalCampaign]
    kept: bool = False  # someone kept the bridge's side against exactly this state

    @property
    def decidable(self) -> bool:
        return self.kind != DriftKind.PENDING

    @property
    def adopt_target(self) -> ExternalCampaign | None:
        """Where adopting SAP MC's side puts the Plan; None if SAP MC's side is ambiguous."""
        if self.kind == DriftKind.PENDING or self.plan.removed_at is not None:
            return None
        if len(self.sap_campaigns) == 1:
            return self.sap_campaigns[0]
        return None

    def fingerprint(self) -> tuple[list[int], int | None]:
        return sorted(c.pk for c in self.sap_campaigns), (
            self.bridge_campaign.pk if self.bridge_campaign is not None else None
        )

    def as_state(self) -> dict[str, object]:
        return {
            "plan": str(self.plan.khoros_id),
            "plan_name": self.plan.name,
            "kind": self.kind,
            "sap_campaigns": [c.campaign_id for c in self.sap_campaigns],
            "bridge_campaign": self.bridge_campaign.campaign_id if self.bridge_campaign else None,
        }


@dataclass
class Drift:
    """Where SAP MC's references and the bridge's assignments differ, Plan by Plan, for one
    campaign as one viewer may see it."""

    campaign: ExternalCampaign | None = None
    items: list[DriftItem] = field(default_factory=list)  # every differing Plan, kept ones too
    unresolved: list[str] = field(default_factory=list)  # referenced ids not mirrored
    hidden: int = 0  # differences of Initiatives the viewer cannot see
    # Khoros ids of the Initiatives (SAP MC's managing parties) the campaign's references name.
    managing_parties: set[str] = field(default_factory=set)

    @property
    def pending(self) -> list[DriftItem]:
        return [i for i in self.items if i.kind == DriftKind.PENDING]

    @property
    def open(self) -> list[DriftItem]:
        """Differences someone has to decide: SAP-only and conflicts nobody kept."""
        return [i for i in self.items if i.decidable and not i.kept]

    @property
    def kept(self) -> list[DriftItem]:
        return [i for i in self.items if i.decidable and i.kept]

    @property
    def adoptable(self) -> list[DriftItem]:
        return [i for i in self.open if i.adopt_target is not None]

    @property
    def sap_only(self) -> list[Plan]:
        return [i.plan for i in self.open if i.kind == DriftKind.SAP_ONLY]

    @property
    def conflicts(self) -> list[DriftItem]:
        return [i for i in self.open if i.kind == DriftKind.CONFLICT]

    @property
    def exists(self) -> bool:
        return bool(self.open)

    @property
    def exists_or_kept(self) -> bool:
        """Whether any Plan differs but for pending ones, decided or not."""
        return any(i.decidable for i in self.items)


def _drift_kind(campaign_pk: int, sap: set[int], bridge: int | None) -> str | None:
    """How one Plan differs, seen from one campaign (it references or is assigned the Plan)."""
    if bridge == campaign_pk:
        if campaign_pk in sap:
            return None
        return DriftKind.CONFLICT if sap else DriftKind.PENDING
    if campaign_pk not in sap:
        return None
    return DriftKind.SAP_ONLY if bridge is None else DriftKind.CONFLICT


def _is_kept(
    decision: tuple[list[int], int | None] | None, sap: set[int], bridge: int | None
) -> bool:
    return decision is not None and decision == (sorted(sap), bridge)


@dataclass(frozen=True)
class Suggestion:
    plan: Plan
    score: float
    overlap_days: int
    name_similarity: float
    own_initiative: bool = False


def _overlapping(
    qs: QuerySet, start_field: str, end_field: str, first: date | None, last: date | None
) -> QuerySet:
    """Rows whose [start, end] day range meets [first, last]; open ends match everything."""
    if first is not None:
        qs = qs.filter(Q(**{f"{end_field}__gte": first}) | Q(**{f"{end_field}__isnull": True}))
    if last is not None:
        qs = qs.filter(Q(**{f"{start_field}__lte": last}) | Q(**{f"{start_field}__isnull": True}))
    return qs


def campaign_search(q: str, prefix: str = "") -> Q:
    """Campaigns whose name or SAP MC campaign ID contains `q` (`prefix` leads to them)."""
    return Q(**{f"{prefix}name__icontains": q}) | Q(**{f"{prefix}campaign_id__icontains": q})


def plan_search(q: str, prefix: str = "") -> Q:
    """Plans whose name contains `q`, or whose Khoros id `q` is (`prefix` leads to them).

    The id is what SAP MC's references hold as the ExternalCampaignID (32 hex digits, as the
    workbench shows it, or with hyphens, as Khoros does): a manager who has one from SAP MC
    finds its Plan by it, where its name may say nothing of it.
    """
    match = Q(**{f"{prefix}name__icontains": q})
    try:
        khoros_id = uuid.UUID(q.strip())
    except ValueError:
        return match
    return match | Q(**{f"{prefix}khoros_id": khoros_id})


class PlanCounts(TypedDict):
    """What with_plan_counts annotates on each campaign."""

    plan_count: int
    hidden_plan_count: int


CountedCampaigns: TypeAlias = "QuerySet[WithAnnotations[ExternalCampaign, PlanCounts]]"


def with_plan_counts(campaigns: QuerySet[ExternalCampaign], *, user: AnyUser) -> CountedCampaigns:
    """Each campaign with the one count of its Plans that every list shows (the workbench's,
    the calendar list and its CSV): `plan_count`, the Plans feeding it that the user may see,
    and `hidden_plan_count`, those of Initiatives she cannot see, which she learns only the
    number of (README "What it does"). A sync admin's are all of them, and none hidden.

    A count per row by subquery, not a GROUP BY over every campaign: a page of 25 can then be
    read in order instead of grouping and sorting them all (issue 13).
    """

    def count(assignments: QuerySet[Assignment]) -> Coalesce:
        per_campaign = (
            assignments.filter(campaign=OuterRef("pk"))
            .order_by()
            .values("campaign")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(per_campaign), 0)

    if is_sync_admin(user):
        counted = campaigns.annotate(
            plan_count=count(Assignment.objects.all()), hidden_plan_count=Value(0)
        )
    else:
        mine = visible_plans(user).values("pk")
        counted = campaigns.annotate(
            plan_count=count(Assignment.objects.filter(plan__in=mine)),
            hidden_plan_count=count(Assignment.objects.exclude(plan__in=mine)),
        )
    return cast(CountedCampaigns, counted)


CAMPAIGN_ORDER = (F("start").asc(nulls_last=True), "name", "pk")


def campaign_list(*, filters: CampaignFilters) -> QuerySet[ExternalCampaign]:
    """Live campaigns matching the filters, in the lists' order, without their Plans counted:
    a page of them is counted by counted_page().

    Counting in this query made PostgreSQL run both count subqueries for every campaign a page
    skips: the workbench's first visit opens at today's page, 2,300 campaigns in after a year,
    and the plan's cost then passed the JIT threshold (400 ms of compiling for 25 rows).
    """
    qs = ExternalCampaign.objects.filter(removed_at__isnull=True)
    if filters.invalid:
        qs = qs.none()
    if filters.q:
        qs = qs.filter(campaign_search(filters.q))
    if filters.status:
        qs = qs.filter(lifecycle_status=filters.status)
    qs = _overlapping(qs, "start", "end", filters.date_from, filters.date_to)
    if filters.unassigned_only:
        # Without any Plan (with_plan_counts' both counts 0): one of another Initiative feeds
        # the campaign as well as hers would.
        qs = qs.exclude(Exists(Assignment.objects.filter(campaign=OuterRef("pk"))))
    # Campaigns without a start date last on both engines (SQLite put them first).
    return qs.order_by(*CAMPAIGN_ORDER)


def counted_page(page: QuerySet[ExternalCampaign], *, user: AnyUser) -> CountedCampaigns:
    """The campaigns of one page of campaign_list() (its slice) with their Plans counted
    (with_plan_counts), in the same order, in one query: the counts run for its rows only."""
    rows = ExternalCampaign.objects.filter(pk__in=page.values("pk"))
    return with_plan_counts(rows, user=user).order_by(*CAMPAIGN_ORDER)


def before_the_current(rows: QuerySet[Any, Any], current: Q) -> int:
    """How many of `rows` (ordered by start, nulls last, then name and pk: campaign_list() and
    plan_list()) come before the first matching `current`; all of them when none does. In one
    query: the workbench opens each list at the page of the first row not ended, not at the
    oldest (at 2,000 campaigns page 1 was ten months back). When only campaigns without a
    start date are current (they come last), it answers 0: the first page."""
    first = rows.filter(current).order_by(F("start").asc(nulls_last=True), "name", "pk")
    start, name, pk = (Subquery(first.values(field)[:1]) for field in ("start", "name", "pk"))
    before = (
        Q(start__lt=start) | Q(start=start, name__lt=name) | Q(start=start, name=name, pk__lt=pk)
    )
    counts = rows.order_by().aggregate(
        before=Count("pk", filter=before),
        current=Count("pk", filter=current),
        total=Count("pk"),
    )
    return counts["before"] if counts["current"] else counts["total"]


@dataclass(frozen=True)
class CampaignCounts:
    campaigns: int
    assigned_plans: int


def campaign_counts(*, user: AnyUser) -> CampaignCounts:
    """Live SAP MC campaigns, and how many Plans the user can see feed one, in two queries."""
    return CampaignCounts(
        campaigns=ExternalCampaign.objects.filter(removed_at__isnull=True).count(),
        assigned_plans=visible_assignments(user).count(),
    )


def initiatives_visible(*, user: AnyUser) -> QuerySet[Initiative]:
    """The Initiatives the user may see (a manager: her granted ones)."""
    return visible_initiatives(user)


def initiative_choices(*, user: AnyUser) -> list[tuple[int, str]]:
    """The live Initiatives the user may see, as a filter's choices: (pk, name)."""
    rows = visible_initiatives(user).filter(removed_at__isnull=True)
    return [
        (pk, shown_name(name, key)) for pk, name, key in rows.values_list("pk", "name", "khoros_id")
    ]


def plans_visible(*, user: AnyUser) -> QuerySet[Plan]:
    """The Plans the user may see, with their Initiative: a Plan outside a manager's grants is
    as good as absent (looked up by key, it is not found)."""
    return visible_plans(user).select_related("initiative")


def plans_to_assign(*, user: AnyUser, pks: Collection[int]) -> list[Plan]:
    """The Plans `pks` names, each one the user's to assign, or NotAllowedError: one Plan
    outside her grants (or not mirrored at all) refuses the whole request, naming none."""
    return _all_visible(user, pks, "Some of these Plans are not yours to assign.")


def plan_to_assign(*, user: AnyUser, pk: int) -> Plan:
    """The Plan `pk` if it is the user's to assign, or NotAllowedError."""
    return _all_visible(user, [pk], "This Plan is not yours to assign.")[0]


def _all_visible(user: AnyUser, pks: Collection[int], refusal: str) -> list[Plan]:
    wanted = set(pks)
    plans = list(plans_visible(user=user).filter(pk__in=wanted))
    if len(plans) != len(wanted):
        raise NotAllowedError(refusal)
    return plans


def campaign_statuses() -> list[tuple[str, str]]:
    """The lifecycle codes in use, with SAP MC's names (they are customer configuration)."""
    rows = (
        ExternalCampaign.objects.exclude(lifecycle_status="")
        .values_list("lifecycle_status", "lifecycle_status_name")
        .distinct()
        .order_by("lifecycle_status")
    )
    return [(code, name or code) for code, name in rows]


def plan_list(*, user: AnyUser, filters: PlanFilters) -> QuerySet[Plan, int]:
    """The keys of the live Plans the user may see, in the workbench's order.

    A page of keys is read in full by plans_by_key: the sort and the paging run on the Plans'
    narrow rows alone, the joins on the page's 25. Joining every Plan to its Initiative and
    campaign before sorting was half the workbench's SQL time on PostgreSQL at 10,000 Plans
    (issue 13).
    """
    qs = visible_plans(user).filter(removed_at__isnull=True)
    if filters.invalid:
        qs = qs.none()
    if filters.initiative:
        qs = qs.filter(initiative_id=filters.initiative)
    if filters.q:
        qs = qs.filter(plan_search(filters.q))
    qs = _overlapping(qs, "start_day", "end_day", filters.date_from, filters.date_to)
    if filters.unassigned_only:
        qs = qs.filter(assignment__isnull=True)
    return qs.order_by("start", "name", "pk").values_list("pk", flat=True)


def plans_by_key(keys: Sequence[int]) -> list[Plan]:
    """The Plans of these keys, in their order, with their Initiative and current campaign."""
    found = Plan.objects.select_related("initiative", "assignment__campaign").in_bulk(keys)
    return [found[key] for key in keys if key in found]


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
    if a_start is None or a_end is None or b_start is None or b_end is None:
        return 0
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)


def campaign_suggestions(
    *,
    campaign: ExternalCampaign,
    user: AnyUser,
    managing_parties: set[str] | frozenset[str] = frozenset(),
    limit: int = 5,
) -> list[Suggestion]:
    """Unassigned Plans the user may assign: the campaign's own Initiative first, then those
    that overlap its dates, each group ranked by date overlap and name similarity.

    The campaign's own Initiatives are SAP MC's managing parties of its references (as the
    calendar decides a campaign's Initiative), passed in by the caller who has read them.
    """
    if campaign.start is None or campaign.end is None:
        return []
    available = visible_plans(user).filter(removed_at__isnull=True, assignment__isnull=True)
    overlapping = _overlapping(available, "start_day", "end_day", campaign.start, campaign.end)
    if managing_parties:
        own = Q(initiative__khoros_id__in=sorted(managing_parties))
        candidates_qs = available.filter(Q(pk__in=overlapping.values("pk")) | own).annotate(
            own_initiative=Case(When(own, then=Value(1)), default=Value(0))
        )
        # Own Initiative first, so a long list of overlapping Plans cannot crowd them out.
        order: tuple[str, ...] = ("-own_initiative", "start", "pk")
    else:
        candidates_qs = overlapping.annotate(own_initiative=Value(0))
        order = ("start", "pk")
    # Ranked on plain values; only the first `limit` become Plans (with their Initiative):
    # building 400 model instances was a third of the workbench's rendering (issue 13).
    candidates = list(
        candidates_qs.order_by(*order).values_list(
            "pk", "name", "start_day", "end_day", "own_initiative"
        )[:SUGGESTION_CANDIDATES]
    )
    span = (campaign.end - campaign.start).days + 1
    name = campaign.name.casefold()
    # The campaign's own Initiative and overlapping dates first, then the others by score:
    # (group, -score, name, pk), smallest first. The name similarity (SequenceMatcher.ratio) is
    # most of the cost, so each candidate is first ranked by the score its quick_ratio() allows
    # (never below the real one), and the real score is worked out only while a candidate could
    # still be among the first `limit` (issue 13: 400 ratios per workbench request).
    # The campaign's name is the matcher's second sequence, which SequenceMatcher indexes once;
    # each Plan's name is set as the first in turn. Indexing every Plan's name instead (one
    # matcher per Plan) was a fifth of the workbench's time.
    matcher = SequenceMatcher(None, "", name)
    bounded = []
    for pk, plan_name, start_day, end_day, own in candidates:
        overlap = _day_overlap(campaign.start, campaign.end, start_day, end_day)
        own_initiative = bool(own)
        if overlap == 0 and not own_initiative:
            continue
        plan_span = (end_day - start_day).days + 1 if start_day and end_day else 1
        # Overlap relative to the longer of the two, so a year-long Plan is no perfect match
        # for a one-week campaign.
        overlap_score = overlap / max(span, plan_span)
        matcher.set_seq1(plan_name.casefold())
        group = (-(own_initiative and overlap > 0), -(overlap > 0), -own_initiative)
        most = round(0.6 * overlap_score + 0.4 * matcher.quick_ratio(), 3)
        bounded.append(((group, -most, plan_name, pk), own_initiative, overlap, overlap_score))
    bounded.sort(key=lambda entry: entry[0])
    ranked: list[tuple[tuple, int, float, int, float, bool]] = []
    for bound, own_initiative, overlap, overlap_score in bounded:
        if len(ranked) >= limit and bound > ranked[limit - 1][0]:
            break  # this one and every later one rank below the first `limit`
        matcher.set_seq1(bound[2].casefold())
        similarity = matcher.ratio()
        score = round(0.6 * overlap_score + 0.4 * similarity, 3)
        key = (bound[0], -score, bound[2], bound[3])
        bisect.insort(ranked, (key, bound[3], score, overlap, round(similarity, 3), own_initiative))
    chosen = ranked[:limit]
    plans = (
        Plan.objects.select_related("initiative")
        .only(*SUGGESTION_FIELDS)
        .in_bulk([pk for _key, pk, *_rest in chosen])
    )
    return [
        Suggestion(
            plan=plans[pk],
            score=score,
            overlap_days=overlap,
            name_similarity=similarity,
            own_initiative=own_initiative,
        )
        for _key, pk, score, overlap, similarity, own_initiative in chosen
        if pk in plans
    ]


def _day_label(day: date, with_year: bool) -> str:
    return f"{day.day} {day:%b %Y}" if with_year else f"{day.day} {day:%b}"


def _range_label(first: date, last: date, with_year: bool) -> str:
    return f"{_day_label(first, with_year)}–{_day_label(last, with_year)}"


def assignment_warnings(
    *, campaign: ExternalCampaign, plans: list[Plan], managing_parties: set[str]
) -> dict[int, list[str]]:
    """Why assigning each of these Plans deserves a second look, by Plan pk (only those with a
    reason): its days fall outside the campaign's, it is of another Initiative than the
    campaign's own (SAP MC's managing parties of its references; none known, none judged), or
    SAP MC references it under another live campaign. One query for the references."""
    warnings: dict[int, list[str]] = {}
    own_names = None
    # Live SAP MC campaigns other than this one that reference each Plan: assigning it here
    # makes a conflict the drift box shows at once, better said before than after.
    # Named as the drift box names them: “name” (SAP MC campaign ID).
    elsewhere: dict[int, set[str]] = {}
    for plan_id, name, campaign_id, sap_uuid in (
        CampaignReference.objects.filter(plan__in=plans, campaign__removed_at__isnull=True)
        .exclude(campaign=campaign)
        .values_list("plan_id", "campaign__name", "campaign__campaign_id", "campaign__sap_uuid")
    ):
        shown = ExternalCampaign.name_shown(name, campaign_id, sap_uuid)
        elsewhere.setdefault(plan_id, set()).add(f"“{shown}” ({campaign_id})")
    for plan in plans:
        reasons = []
        c_start, c_end, p_start, p_end = campaign.start, campaign.end, plan.start_day, plan.end_day
        if (
            c_start
            and c_end
            and p_start
            and p_end
            and (  # dates, never false
                p_start < c_start or p_end > c_end
            )
        ):
            years = {d.year for d in (c_start, c_end, p_start, p_end)}
            with_year = len(years) > 1
            # As the campaign page says it: "partly" where the days meet.
            partly = "" if p_end < c_start or p_start > c_end else "partly "
            # What follows from it, said while it can still be left undone: a row the push
            # sent is never taken back.
            pushed = (
                " The success push sends its settled days to SAP MC for this campaign, for good."
                if settings.SAPMC_SUCCESS_PUSH_ENABLED
                else ""
            )
            reasons.append(
                f"This Plan runs {_range_label(p_start, p_end, with_year)}, {partly}"
                f"outside the campaign's {_range_label(c_start, c_end, with_year)}.{pushed}"
            )
        if managing_parties and plan.initiative.khoros_id not in managing_parties:
            if own_names is None:
                own_names = _initiative_names(managing_parties)
            reasons.append(
                f"This Plan is of Initiative “{plan.initiative.display_name}”, not of the "
                f"campaign's own ({own_names})."
            )
        if plan.pk in elsewhere:
            reasons.append(
                f"SAP MC puts this Plan under {', '.join(sorted(elsewhere[plan.pk]))}: here it "
                "would differ from SAP MC until one side changes."
            )
        if reasons:
            warnings[plan.pk] = reasons
    return warnings


def campaigns_fed_by(plans: Collection[Plan]) -> dict[int, ExternalCampaign]:
    """The campaign each of these Plans feeds, by Plan pk (those that feed none are absent)."""
    return {
        a.plan_id: a.campaign
        for a in Assignment.objects.filter(plan__in=plans).select_related("campaign")
    }


def _initiative_names(khoros_ids: set[str]) -> str:
    """“Name” for each mirrored Initiative of these Khoros ids, the bare id for any other."""
    names = dict(
        Initiative.objects.filter(khoros_id__in=sorted(khoros_ids)).values_list("khoros_id", "name")
    )
    return ", ".join(
        f"“{shown_name(names[k], k)}”" if k in names else k for k in sorted(khoros_ids)
    )


def campaign_managing_parties(*, campaign: ExternalCampaign) -> set[str]:
    """The campaign's own Initiatives: SAP MC's managing parties of its references."""
    return set(
        CampaignReference.objects.filter(campaign=campaign)
        .exclude(managing_party="")
        .values_list("managing_party", flat=True)
    )


def _involved_plans(campaign_pks: list[int]) -> QuerySet[Plan]:
    """Plans referenced by or assigned to these campaigns."""
    # One key list, the union of both sides, read by the Plans' primary key: an OR with a
    # joined column read every Plan, and an OR of two key lists still scanned them all on
    # PostgreSQL (issue 13).
    referenced = CampaignReference.objects.filter(campaign_id__in=campaign_pks)
    assigned = Assignment.objects.filter(campaign_id__in=campaign_pks)
    return Plan.objects.filter(
        pk__in=referenced.order_by().values("plan_id").union(assigned.order_by().values("plan_id"))
    )


def campaign_drift(*, campaign: ExternalCampaign, user: AnyUser | None = None) -> Drift:
    """Compare SAP MC's references with the bridge's assignments, Plan by Plan, in two queries.

    Every Plan the campaign references or is assigned is judged on the whole picture: the live
    SAP MC campaigns that reference it anywhere and the one campaign the bridge assigns it to.
    With a `user`, differences of Initiatives they cannot see are only counted.
    """
    plans = {
        p.pk: p
        for p in _involved_plans([campaign.pk]).select_related(
            "initiative", "assignment__campaign", "drift_decision"
        )
    }
    references = CampaignReference.objects.filter(
        Q(campaign=campaign) | Q(plan__in=list(plans), campaign__removed_at__isnull=True)
    ).select_related("campaign")
    granted = granted_initiative_ids(user) if user is not None else None
    if granted is not None:
        # A reference to a Plan not mirrored yet (a new Plan, until the next syncs) whose
        # managing party is another Initiative of the bridge: its id is that Initiative's
        # Plan's Khoros id, not the viewer's to read.
        references = references.annotate(
            others=Exists(
                Initiative.objects.filter(khoros_id=OuterRef("managing_party")).exclude(
                    pk__in=granted
                )
            )
        )
    drift = Drift(campaign=campaign)
    sap: dict[int, dict[int, ExternalCampaign]] = {pk: {} for pk in plans}
    for ref in references:
        if ref.campaign_id == campaign.pk:
            if ref.managing_party:
                drift.managing_parties.add(ref.managing_party)
            if ref.plan_id is None:
                if not getattr(ref, "others", False):
                    drift.unresolved.append(ref.external_campaign_id)
                continue
        if ref.plan_id in sap and (
            ref.campaign.removed_at is None or ref.campaign_id == campaign.pk
        ):
            sap[ref.plan_id][ref.campaign_id] = ref.campaign
    for pk, plan in plans.items():
        assignment = getattr(plan, "assignment", None)
        bridge = assignment.campaign if assignment is not None else None
        kind = _drift_kind(campaign.pk, set(sap[pk]), bridge.pk if bridge else None)
        if kind is None:
            continue
        if granted is not None and plan.initiative_id not in granted:
            # Counted as what the viewer is told: differences someone has to decide, not Plans
            # merely waiting to be entered in SAP MC.
            drift.hidden += kind != DriftKind.PENDING
            continue
        decision = getattr(plan, "drift_decision", None)
        item = DriftItem(
            plan=plan,
            kind=kind,
            bridge_campaign=bridge,
            sap_campaigns=sorted(sap[pk].values(), key=lambda c: (c.name, c.pk)),
        )
        if decision is not None:
            item.kept = item.fingerprint() == (
                sorted(decision.sap_campaigns),
                decision.bridge_campaign_id,
            )
        drift.items.append(item)
    drift.items.sort(key=lambda i: (i.plan.name, i.plan.pk))
    drift.unresolved.sort()
    return drift


def drift_flags(
    *, campaigns: list[ExternalCampaign], user: AnyUser | None = None
) -> dict[int, bool]:
    """Which campaigns have a difference to decide (not merely pending), in two queries.

    With a `user`, only differences they may decide count: a manager was shown a drift mark on
    a campaign whose differing Plans were all of Initiatives she cannot see, and found nothing
    to decide behind it.
    """
    pks = [c.pk for c in campaigns]
    involved = _involved_plans(pks)
    if user is not None and not is_sync_admin(user):
        # A semi-join, not the grants read first: the pages that call this read them later.
        involved = involved.filter(pk__in=visible_plans(user).values("pk"))
    # django-stubs takes "...bridge_campaign_id" for ExternalCampaign.campaign_id (a str).
    rows: list[tuple[int, int | None, list[int] | None, int | None, int | None]] = list(
        involved.values_list(  # type: ignore[arg-type]
            "pk",
            "assignment__campaign_id",
            "drift_decision__sap_campaigns",
            "drift_decision__bridge_campaign_id",
            "drift_decision__pk",
        )
    )
    sap: dict[int, set[int]] = {row[0]: set() for row in rows}
    for plan_id, campaign_id in CampaignReference.objects.filter(
        plan__in=involved.values("pk"), campaign__removed_at__isnull=True
    ).values_list("plan_id", "campaign_id"):
        sap[plan_id].add(campaign_id)
    flags = dict.fromkeys(pks, False)
    for plan_id, bridge, kept_sap, kept_bridge, decision in rows:
        kept = (sorted(kept_sap or []), kept_bridge) if decision is not None else None
        for pk in {*(sap[plan_id] & set(flags)), bridge} - {None}:
            if pk not in flags or flags[pk]:
                continue
            kind = _drift_kind(pk, sap[plan_id], bridge)
            if kind in (DriftKind.SAP_ONLY, DriftKind.CONFLICT) and not _is_kept(
                kept, sap[plan_id], bridge
            ):
                flags[pk] = True
    return flags


@dataclass(frozen=True)
class AuditFilters(Filters):
    actor: int | None = None
    campaign: str = ""  # SAP MC campaign ID, or part of the name
    date_from: date | None = None
    date_to: date | None = None


def audit_events(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Human changes, newest first, filtered by actor, campaign and day."""
    if filters.invalid:
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.select_related("campaign", "plan")
    if filters.actor:
        qs = qs.filter(actor_id=filters.actor)
    if filters.campaign:
        qs = qs.filter(
            Q(campaign__campaign_id=filters.campaign)
            | Q(campaign__name__icontains=filters.campaign)
        )
    # The days in the viewer's zone, as a range of instants the index on `at` serves.
    since, until = day_span(filters.date_from, filters.date_to)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs.order_by("-at", "-id")


# Display names of the daily numbers, in khoros' order.
KPI_LABELS = kpi_catalog.LABELS


@dataclass
class CampaignKpis:
    days: list[date]
    # KPI name -> one number per day: the day's Plans combined by the KPI's declared aggregation
    # (impressions add up; reach is the highest Plan's reach of that day, never a sum).
    series: dict[str, list[int]]
    totals: dict[str, int]  # over the days, by the same declaration (reach: highest daily)
    # Plan pk -> totals over its days, likewise; empty when not asked for (a comparison's).
    per_plan: dict[int, dict[str, int]] = field(default_factory=dict)
    # The days some Plan has numbers for (the others of `days` are zeros drawn in between).
    with_numbers: set[date] = field(default_factory=set)
    # Plan-days among them counted in another zone than the company's (its zone changed since
    # the last KPI sync): not the days of the same dates here until the KPI sync counts them.
    other_zone: int = 0


# Ledger rows whose Plan-day is in SAP MC (or may be): the success push never sends it again,
# to this campaign or any other. A refused row was not created and goes where the Plan is now.
_IN_SAP_MC = (SuccessSent.Status.CREATED, SuccessSent.Status.UNKNOWN)


def campaign_kpi_days(
    campaign: ExternalCampaign | OuterRef, plans: QuerySet[Plan]
) -> QuerySet[PlanKpi]:
    """The daily KPI rows of `plans` that are the campaign's as SAP MC has or will have them:
    a day the success push sent goes with the campaign it was sent to, any other day with the
    campaign its Plan is assigned to now (where the push sends it once it settles).

    So a Plan moved from A to B counts its days sent to A on A's page, panel and calendar list,
    not on B's, and the days it had not sent on B's: the totals agree with what SAP MC holds for
    each. `campaign` is OuterRef("pk") where the rows are a subquery of the campaigns (the
    calendar list's impressions)."""
    # The campaign as the subqueries name it: one level below the KPI rows (the ledger's
    # EXISTS) and two (the assignments and the ledger's Plans inside the Plans' subquery).
    here, below = campaign, campaign
    if isinstance(campaign, OuterRef):
        here, below = OuterRef(campaign), OuterRef(OuterRef(campaign))
    sent = SuccessSent.objects.filter(
        plan_id=OuterRef("plan_id"), day=OuterRef("day"), status__in=_IN_SAP_MC
    )
    assigned = plans.filter(pk__in=Assignment.objects.filter(campaign=below).values("plan_id"))
    sent_here = plans.filter(
        pk__in=SuccessSent.objects.filter(campaign=below, status__in=_IN_SAP_MC).values("plan_id")
    )
    # Each branch names its few Plans (the visible ones among them) first: the database then reads
    # their KPI rows by the Plan index, not every visible Plan's (all of them, for an admin).
    return PlanKpi.objects.filter(
        Q(plan_id__in=assigned.values("pk")) & ~Exists(sent.exclude(campaign=here))
        | Q(plan_id__in=sent_here.values("pk")) & Exists(sent.filter(campaign=here))
    )


def _campaign_kpis(campaign: ExternalCampaign, user: AnyUser) -> QuerySet[PlanKpi]:
    """The daily KPI rows of the campaign's Plans the user may see (campaign_kpi_days)."""
    return campaign_kpi_days(campaign, visible_plans(user))


def campaign_kpi_rows(*, campaign: ExternalCampaign, user: AnyUser) -> QuerySet[PlanKpi]:
    """The campaign's daily KPI rows of the Plans the user may see, with their Plan, by day and
    Plan name (the CSV's order)."""
    return (
        _campaign_kpis(campaign, user)
        .select_related("plan")
        .order_by("day", "plan__name", "plan_id")
    )


def _combined_by(
    rows: QuerySet[PlanKpi], key: str, **extra: Aggregate
) -> dict[Any, dict[str, int]]:
    """Every KPI of `rows` combined in SQL per value of `key`, as kpi_catalog declares it, and
    the `extra` aggregates under their names."""
    # Typed by hand: django-stubs cannot see the keys of annotate(**{...}).
    grouped: QuerySet[PlanKpi, Any] = (
        rows.order_by().values(key).annotate(**kpi_aggregates(), **extra)
    )
    names = [*KPI_LABELS, *extra]
    return {row[key]: {name: int(row[name] or 0) for name in names} for row in grouped}


# How many days without numbers before a campaign's first numbers its page draws, at most.
LEADING_ZERO_DAYS = 366


def _days_before(day: date, days: int) -> date:
    """`day` less `days` days, or the calendar's first day when that lies before it."""
    return day - timedelta(days=min(days, (day - date.min).days))


def campaign_kpis(
    *,
    campaign: ExternalCampaign,
    user: AnyUser,
    today: date,
    per_plan: bool = True,
    zone: str | None = None,
) -> CampaignKpis:
    """The daily KPIs of the campaign's Plans the user may see and, with `per_plan`, each
    Plan's totals: a query each, whatever the number of Plans and days.

    `today` is the company's (company_today()): its days that have begun are drawn, as zeros
    when they have no numbers.

    The database combines the Plans of each day and the days of each Plan (kpi_aggregates(),
    kpi_catalog.combine()'s twin), so a page reads a row per day and one per Plan, never the
    Plans times the days; the totals over the days are kpi_catalog.combine() of the daily ones.
    With the company's `zone`, the same query counts the Plan-days counted in another zone.
    """
    rows = _campaign_kpis(campaign, user)
    extra = {}
    if zone is not None:
        extra["other_zone"] = Count("pk", filter=PlanKpi.counted_elsewhere_q(zone))
    by_day = _combined_by(rows, "day", **extra)
    other_zone = sum(totals.pop("other_zone", 0) for totals in by_day.values())
    days: list[date] = []
    if by_day:
        first = min(by_day)
        last = max(by_day)
        if campaign.start is not None and campaign.start < first:
            # The campaign's days before its first numbers are drawn as zeros, a year of them
            # at most: a campaign SAP MC dates from year 1 drew 740,000 days (and took
            # gigabytes); the totals are the same, as the days left out have no numbers.
            first = max(campaign.start, _days_before(first, LEADING_ZERO_DAYS))
        # The campaign's days that have begun, without numbers, are zeros; those of a campaign
        # that has not started are not drawn (the Plans' earlier days are all there is).
        if campaign.end is not None and (campaign.start is None or campaign.start <= today):
            last = max(last, min(campaign.end, today))
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    series = {
        name: [by_day[day][name] if day in by_day else 0 for day in days] for name in KPI_LABELS
    }
    return CampaignKpis(
        days=days,
        series=series,
        totals={name: kpi_catalog.combine(name, values) for name, values in series.items()},
        # Without a day with numbers no Plan has any: no second query.
        per_plan=_combined_by(rows, "plan_id") if per_plan and by_day else {},
        with_numbers=set(by_day),
        other_zone=other_zone,
    )


def campaign_plans_daily(
    *,
    campaign: ExternalCampaign,
    user: AnyUser,
    plans: Collection[int],
    days: Sequence[date],
    name: str,
) -> dict[int, list[int]]:
    """KPI `name` of these Plans of the campaign (of those the user may see), one number per
    day of `days`, zero where a Plan has no row: the rows of the few Plans a chart draws."""
    if not plans or not days:
        return {}
    index = {day: i for i, day in enumerate(days)}
    rows = (
        _campaign_kpis(campaign, user)
        .filter(plan_id__in=plans, day__gte=days[0], day__lte=days[-1])
        .values_list("plan_id", "day", name)
    )
    daily: dict[int, list[int]] = {}
    for plan_id, day, value in rows:
        daily.setdefault(plan_id, [0] * len(days))[index[day]] = int(value or 0)
    return daily


def assignment_pairs() -> list[tuple[int, int]]:
    """(Plan id, ExternalCampaign id) of every assignment: where the success push sends."""
    return list(Assignment.objects.values_list("plan_id", "campaign_id"))


# Rows a table of the campaign page's pushes section shows at once: a campaign of 300 Plans
# sent daily for 90 days is 27,000 ledger rows, none of which a page of all of them lets anyone
# read.
PUSHES_PAGE_SIZE = 50
# A Plan sent by more runs than this names its first and latest (a daily push: one a day).
RUN_LINKS = 5
# Changed days named per Plan; the others are counted.
CHANGED_DAYS = 5


@dataclass
class PushedPlan:
    """What the success push sent to one campaign for one Plan."""

    plan: Plan
    days: int = 0
    first: date | None = None
    last: date | None = None
    last_sent_at: datetime | None = None
    run_ids: list[int] = field(default_factory=list)
    changed: list[date] = field(default_factory=list)  # changed in Khoros after sending
    moved_away: bool = False  # the Plan now feeds another campaign, or none

    @property
    def runs_shown(self) -> list[int]:
        """The runs linked: every one, or the first and the latest of many."""
        if len(self.run_ids) <= RUN_LINKS:
            return self.run_ids
        return [self.run_ids[0], self.run_ids[-1]]

    @property
    def runs_between(self) -> int:
        """Runs between the first and the latest that are not linked."""
        return len(self.run_ids) - 2 if len(self.run_ids) > RUN_LINKS else 0

    @property
    def changed_shown(self) -> list[date]:
        return self.changed[:CHANGED_DAYS]

    @property
    def changed_more(self) -> int:
        return max(len(self.changed) - CHANGED_DAYS, 0)


@dataclass
class WaitingPlan:
    plan_id: int
    plan_name: str  # as pages show it (smcbridge.names)
    settled: int  # due on the next push
    unsettled: int  # waiting to settle
    first: date | None
    last: date | None
    # Of a Plan removed in Khoros: its days that had not settled when it was removed (the
    # push's policy: they are never final, so never sent).
    never: int = 0


@dataclass
class CampaignPushes:
    """A page of each table; every page's pager counts all of its rows."""

    enabled: bool
    settled_before: date
    sent: Page  # of PushedPlan, by Plan name
    failed: Page  # of SuccessSent rows refused or of unknown outcome, by Plan name and day
    waiting: Page  # of WaitingPlan, by Plan name

    @property
    def unknown_shown(self) -> list[SuccessSent]:
        """The rows of unknown outcome the Failed table's page shows (settled together)."""
        return [row for row in self.failed if row.status == SuccessSent.Status.UNKNOWN]

    @property
    def never(self) -> int:
        """Days of the Plans waiting on this page that are never sent (removed in Khoros)."""
        return sum(item.never for item in self.waiting)


def _page_of(rows: QuerySet[Any], number: str | None, per_page: int) -> Page:
    """A page of `rows` and the count of all of them in one query (a window count on each row),
    whether there are none or thousands; a page number past the last is the last page (one
    query more, for such a link only), any other that is no page number the first."""
    # Capped: a page that far is past the last of any table, and the offset stays a number the
    # database takes.
    wanted = min(page_number(number), 1_000_000)
    counted = rows.annotate(rows_total=Window(Count("*")))
    found = list(counted[(wanted - 1) * per_page : wanted * per_page])
    if found:
        first = found[0]
        total = first["rows_total"] if isinstance(first, dict) else first.rows_total
    elif wanted == 1:
        total = 0
    else:
        total = rows.count()
        wanted = max(-(-total // per_page), 1)
        found = list(counted[(wanted - 1) * per_page : wanted * per_page])
    paginator = Paginator(found, per_page)
    paginator.count = total  # all rows, not the page's
    return Page(found, wanted, paginator)


def _split_removed(
    rows: list[dict[str, Any]],
    items: list[WaitingPlan],
    unsent: QuerySet[PlanKpi],
    cutoff: date,
    zone: ZoneInfo,
) -> None:
    """Recount the days of the Plans shown that Khoros removed as the push counts them: those
    that had settled when the Plan was removed are due, the later ones are never sent."""
    from sapmc.push import unsettled_at_removal

    gone = [(row, item) for row, item in zip(rows, items, strict=True) if row["plan__removed_at"]]
    if not gone:
        return
    removed = {
        row["plan_id"]: (item, unsettled_at_removal(row["plan__removed_at"], zone))
        for row, item in gone
    }
    for item, _ in removed.values():
        item.settled = item.unsettled = 0
    for plan_id, day in unsent.filter(plan_id__in=removed).values_list("plan_id", "day"):
        item, never_from = removed[plan_id]
        if day >= never_from:
            item.never += 1
        elif day < cutoff:
            item.settled += 1
        else:
            item.unsettled += 1


def campaign_pushes(
    *,
    campaign: ExternalCampaign,
    user: AnyUser,
    sent_page: str | None = None,
    waiting_page: str | None = None,
    failed_page: str | None = None,
) -> CampaignPushes:
    """The success push's round trip for one campaign, within the user's visible Plans, a page
    of each table (PUSHES_PAGE_SIZE rows; a page number that is none is the nearest page).

    A fixed number of queries whatever the number of Plans, days or ledger rows: the sent Plans
    are counted and summed in the database, and only the Plans of the page shown are read
    further (their runs, and their numbers now against those sent).
    """
    from khoros.zone import company_today, company_zone
    from sapmc.push import numbers_hash, settled_before

    plans = visible_plans(user)
    zone = company_zone()
    today = company_today(zone)
    cutoff = settled_before(today)
    ledger = SuccessSent.objects.filter(campaign=campaign, plan__in=plans)
    created = ledger.filter(status=SuccessSent.Status.CREATED)
    sent_rows = (
        created.values("plan_id")
        .annotate(days=Count("id"), first=Min("day"), last=Max("day"), last_sent_at=Max("sent_at"))
        .order_by("plan__name", "plan_id")
    )
    sent = _page_of(sent_rows, sent_page, PUSHES_PAGE_SIZE)
    pushed = {
        row["plan_id"]: PushedPlan(
            plan=Plan(pk=row["plan_id"]),  # replaced below, with its assignment
            days=row["days"],
            first=row["first"],
            last=row["last"],
            last_sent_at=row["last_sent_at"],
        )
        for row in sent
    }
    if pushed:
        for plan in Plan.objects.filter(pk__in=pushed).select_related("assignment"):
            item = pushed[plan.pk]
            item.plan = plan
            assignment = getattr(plan, "assignment", None)
            item.moved_away = assignment is None or assignment.campaign_id != campaign.pk
        runs = (
            created.filter(plan_id__in=pushed, run_id__isnull=False)
            .values_list("plan_id", "run_id")
            .distinct()
            .order_by("plan_id", "run_id")
        )
        for plan_id, run_id in runs:
            pushed[plan_id].run_ids.append(run_id)
        hashes = {
            (plan_id, day): digest
            for plan_id, day, digest in created.filter(plan_id__in=pushed).values_list(
                "plan_id", "day", "numbers_hash"
            )
        }
        current = (
            PlanKpi.objects.filter(plan_id__in=pushed)
            .order_by("plan_id", "day")
            .values_list(
                "plan_id", "day", "impressions", "clicks", "engagements", "video_views", "reach"
            )
        )
        for plan_id, day, impressions, clicks, engagements, video_views, reach in current:
            digest = hashes.get((plan_id, day))
            numbers = {"impressions": impressions, "clicks": clicks, "engagements": engagements,
                       "video_views": video_views, "reach": reach}  # fmt: skip
            if digest is not None and digest != numbers_hash(numbers):
                pushed[plan_id].changed.append(day)
    sent.object_list = list(pushed.values())
    failed = _page_of(
        ledger.exclude(status=SuccessSent.Status.CREATED)
        .select_related("plan")
        .order_by("plan__name", "plan_id", "day"),
        failed_page,
        PUSHES_PAGE_SIZE,
    )
    unsent = PlanKpi.objects.filter(plan__assignment__campaign=campaign, plan__in=plans).exclude(
        Exists(SuccessSent.objects.filter(plan_id=OuterRef("plan_id"), day=OuterRef("day")))
    )
    by_plan = (
        unsent.values("plan_id", "plan__name", "plan__khoros_id", "plan__removed_at")
        .annotate(
            settled=Count("id", filter=Q(day__lt=cutoff)),
            unsettled=Count("id", filter=Q(day__gte=cutoff)),
            first=Min("day"),
            last=Max("day"),
        )
        .order_by("plan__name", "plan_id")
    )
    waiting = _page_of(by_plan, waiting_page, PUSHES_PAGE_SIZE)
    rows = list(waiting)
    waiting.object_list = [
        WaitingPlan(r["plan_id"], shown_name(r["plan__name"], r["plan__khoros_id"].hex),
                    r["settled"], r["unsettled"], r["first"], r["last"])
        for r in rows
    ]  # fmt: skip
    _split_removed(rows, waiting.object_list, unsent, cutoff, zone)
    return CampaignPushes(
        enabled=settings.SAPMC_SUCCESS_PUSH_ENABLED,
        settled_before=cutoff,
        sent=sent,
        failed=failed,
        waiting=waiting,
    )
