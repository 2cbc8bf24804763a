"""Reads and layout of the calendar: which campaigns and Plans fall in a period, and where."""

from __future__ import annotations

import calendar as pycalendar
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal, TypeAlias, TypedDict, cast
from urllib.parse import quote_plus

from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from campaigns.access import visible_kpis, visible_plans
from campaigns.models import Assignment
from campaigns.plan_colors import plan_color
from campaigns.selectors import (
    before_the_current,
    campaign_drift,
    campaign_kpi_days,
    campaign_search,
    drift_flags,
    plan_search,
    with_plan_counts,
)
from khoros.kpi_catalog import TOTAL_LABELS
from khoros.models import Initiative, Plan, PlanKpi
from khoros.selectors import (
    KPI_COLUMNS,
    kpi_aggregates,
    kpi_is_stale,
    kpi_last_finished,
)
from khoros.zone import company_today, company_zone, stored_company_zone
from sapmc.models import CampaignReference, ExternalCampaign
from smcbridge.names import shown_name
from smcbridge.paging import page_of
from syncs.filtering import Filters

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

AnyUser = User | AnonymousUser
Zoom = Literal["month", "quarter", "year", "days90"]
ZOOMS: tuple[Zoom, ...] = ("month", "quarter", "year", "days90")
# What the zoom buttons say. "Year" is twelve rolling months from the month shown (SAP MC's
# calendar year would hide what comes after December); 90 days count from the day itself.
ZOOM_LABELS = {
    "month": "Month",
    "quarter": "Quarter",
    "year": "Year",
    "days90": "Next 90 days",
}
ROLLING_DAYS = 90
CAMPAIGNS_PER_PAGE = 25
UNASSIGNED_LIMIT = 150
# The calendar shows these years; a date outside is clamped to them. Python's dates end at 9999
# and a period's neighbours (Previous, Next, a time zone's extra day) must still be dates.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


def clamp_day(day: date) -> date:
    """`day`, or the nearest day the calendar can show."""
    return min(max(day, FIRST_DAY), LAST_DAY)


def _add_months(first: date, months: int) -> date:
    month0 = first.month - 1 + months
    return date(first.year + month0 // 12, month0 % 12 + 1, 1)


@dataclass(frozen=True)
class CalendarFilters(Filters):
    initiative: int | None = None
    status: str = ""
    assigned: str = ""  # "", "assigned" or "unassigned"
    q: str = ""


@dataclass(frozen=True)
class Period:
    zoom: Zoom
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def shifted(self, step: int) -> date:
        """The anchor of the period `step` periods away."""
        if self.zoom == "days90":
            return clamp_day(self.first + timedelta(days=ROLLING_DAYS * step))
        months = {"month": 1, "quarter": 3, "year": 12}[self.zoom] * step
        return clamp_day(_add_months(self.first, months))

    @property
    def title(self) -> str:
        if self.zoom == "month":
            return self.first.strftime("%B %Y")
        if self.zoom == "days90":
            # "1 Dec 2026", as dates read everywhere else (not "01 Dec").
            return f"{self.first.day} {self.first:%b %Y} – {self.last.day} {self.last:%b %Y}"
        if self.zoom == "quarter":
            return f"Q{(self.first.month - 1) // 3 + 1} {self.first.year}"
        if self.first.month == 1:
            return str(self.first.year)
        return f"{self.first.strftime('%b %Y')} – {self.last.strftime('%b %Y')}"


def period_for(zoom: Zoom, anchor: date) -> Period:
    """The month or quarter that contains `anchor`, or the 12 months from its month on."""
    anchor = clamp_day(anchor)
    if zoom == "month":
        first = anchor.replace(day=1)
        last = first.replace(day=pycalendar.monthrange(first.year, first.month)[1])
    elif zoom == "quarter":
        first = date(anchor.year, (anchor.month - 1) // 3 * 3 + 1, 1)
        end_month = first.month + 2
        last = date(first.year, end_month, pycalendar.monthrange(first.year, end_month)[1])
    elif zoom == "days90":
        # 90 days from the day itself: what is coming, whatever month it is.
        first = min(anchor, LAST_DAY - timedelta(days=ROLLING_DAYS - 1))
        last = first + timedelta(days=ROLLING_DAYS - 1)
    else:
        # A rolling year: in December it shows the coming year, not eleven months gone by.
        first = anchor.replace(day=1)
        last = _add_months(first, 12) - timedelta(days=1)
    return Period(zoom, first, last)


def readable_ink(color: str) -> str:
    """#000 or #fff for text on `color` (#rgb or #rrggbb); #fff for anything else."""
    digits = color.removeprefix("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    try:
        channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)] if len(digits) == 6 else []
    except ValueError:
        channels = []
    if not channels:
        return "#fff"
    # WCAG 2's relative luminance; contrast = (lighter + 0.05) / (darker + 0.05).
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#fff"


@dataclass
class Bar:
    """One thing drawn from `start` to `end` (inclusive days), clipped to the period."""

    label: str
    start: date
    end: date
    period: Period
    state: str = ""  # running, upcoming, ended
    color: str = ""
    url: str = ""
    marks: list[str] = field(default_factory=list)
    lane: int = 0
    note: str = ""  # said in the bar's tooltip: which campaign a Plan feeds, or that none
    panel: str = ""  # the side panel's key: "c<pk>" for a campaign, "p<pk>" for a Plan
    plan_id: int | None = None  # set on unassigned Plans: they can be dragged onto a campaign
    campaign_id: int | None = None  # set on campaign bars: a Plan can be dropped on them
    # A later week row's segment of a bar the month grid drew in an earlier row already: no tab
    # stop of its own, and said to be the same item continued.
    continued: bool = False

    @property
    def ink(self) -> str:
        """The text colour readable on the bar's colour: black or white, whichever contrasts more.

        A Plan's colour is Khoros's, any colour at all: white text on a light one could not be
        read (WCAG asks 4.5:1; the better of the two always gives at least 4.58:1).
        """
        return readable_ink(self.color)

    @property
    def clipped_start(self) -> date:
        return max(self.start, self.period.first)

    @property
    def clipped_end(self) -> date:
        return min(self.end, self.period.last)

    @property
    def col_start(self) -> int:
        """1-based grid column of the first shown day."""
        return (self.clipped_start - self.period.first).days + 1

    @property
    def col_end(self) -> int:
        """Grid line after the last shown day: an inclusive end covers its whole day."""
        return (self.clipped_end - self.period.first).days + 2

    @property
    def continues_before(self) -> bool:
        return self.start < self.period.first

    @property
    def continues_after(self) -> bool:
        return self.end > self.period.last


@dataclass
class CampaignRow:
    bar: Bar
    campaign: ExternalCampaign
    plan_lanes: list[list[Bar]]
    hidden_plans: int = 0


@dataclass
class Calendar:
    period: Period
    today: date
    rows: list[CampaignRow]
    page: Page
    unassigned_lanes: list[list[Bar]]
    unassigned_total: int  # every unassigned Plan of the period, drawn or not
    weeks: list[Week] = field(default_factory=list)
    days_zone: str = ""  # the Khoros company's zone, whose days the bars are drawn in

    @property
    def unassigned_drawn(self) -> int:
        return sum(len(lane) for lane in self.unassigned_lanes)

    @property
    def holds_today(self) -> bool:
        return self.period.first <= self.today <= self.period.last


@dataclass
class Week:
    days: list[date]
    lanes: list[list[Bar]]
    plan_lanes: list[list[Bar]] = field(default_factory=list)
    more_plans: int = 0


def state_of(start: date | None, end: date | None, today: date) -> str:
    if start is not None and today < start:
        return "upcoming"
    if end is not None and today > end:
        return "ended"
    return "running"


def pack(bars: Iterable[Bar]) -> list[list[Bar]]:
    """Stack bars into as few lanes as possible so that none hides another.

    Each bar goes into the first lane (lowest index) that has ended before it starts. Bars come
    in order of start, so a lane that has ended stays free for every later bar: free lanes wait
    in a heap by index, busy ones in a heap by end, and a month of a thousand Plans does not
    compare every bar with every lane (issue 13).
    """
    keyed = sorted(((b.clipped_start, b.clipped_end, b.label, i, b) for i, b in enumerate(bars)))
    lanes: list[list[Bar]] = []
    busy: list[tuple[date, int]] = []  # (last day, lane index)
    free: list[int] = []
    for start, end, _label, _i, bar in keyed:
        while busy and busy[0][0] < start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            index = heapq.heappop(free)
            lanes[index].append(bar)
        else:
            index = len(lanes)
            lanes.append([bar])
        bar.lane = index
        heapq.heappush(busy, (end, index))
    return lanes


def plan_days(plan: Plan) -> tuple[date, date]:
    """A Plan's first and last (inclusive) day: days of the Khoros company's zone, whoever
    looks, as on the workbench, the campaign page, in its KPIs and in SAP MC's answers (the
    viewer's days put a Chicago Plan ending on the 14th on the 15th in Berlin, and nowhere
    else)."""
    if plan.start_day is not None and plan.end_day is not None:
        return plan.start_day, plan.end_day
    # Mirrored before the Plan sync stored its days (until its next sync): the configured zone.
    zone = stored_company_zone(None)
    return plan.start.astimezone(zone).date(), plan.end.astimezone(zone).date()


def _campaigns(
    period: Period, filters: CalendarFilters, user: AnyUser
) -> QuerySet[ExternalCampaign]:
    qs = ExternalCampaign.objects.filter(removed_at__isnull=True).filter(
        Q(start__lte=period.last) | Q(start__isnull=True),
        Q(end__gte=period.first) | Q(end__isnull=True),
    )
    if filters.invalid:
        qs = qs.none()
    if filters.status:
        qs = qs.filter(lifecycle_status=filters.status)
    if filters.q:
        # By the campaign's name or SAP MC ID, or a Plan of the viewer's that feeds it (by name
        # or Khoros id). Another Initiative's Plan is no match: found, it said that the Plan
        # exists and which campaign it feeds, to a manager who may not see it.
        fed = Assignment.objects.filter(
            plan__in=visible_plans(user).filter(plan_search(filters.q))
        ).values("campaign_id")
        qs = qs.filter(campaign_search(filters.q) | Q(pk__in=fed))
    if filters.initiative:
        # A campaign's Initiative is the managing party of the external campaigns SAP MC
        # references for it, not whatever Initiative its assigned Plans happen to belong to.
        # One SAP MC names no Initiative for (no reference yet) is its Plans' (those the viewer
        # may see): a manager's Plan assigned there was under no filter of its Initiative.
        referenced = CampaignReference.objects.exclude(managing_party="")
        unnamed = Assignment.objects.filter(
            plan__in=visible_plans(user).filter(initiative_id=filters.initiative)
        ).exclude(campaign__in=referenced.values("campaign_id"))
        own = referenced.filter(
            managing_party__in=Initiative.objects.filter(pk=filters.initiative).values("khoros_id")
        )
        qs = qs.filter(
            Q(pk__in=own.values("campaign_id")) | Q(pk__in=unnamed.values("campaign_id"))
        )
    # Undated campaigns last on both databases (SQLite sorts NULL first, PostgreSQL last), as
    # the workbench lists them (before_the_current counts in that order).
    return qs.order_by(F("start").asc(nulls_last=True), "name", "pk")


def _first_page_number(
    campaigns: QuerySet[ExternalCampaign], period: Period, today: date
) -> int | None:
    """The page a calendar opens at when its address names none: in a period that holds
    today, the page of its first campaign not ended, as the workbench opens (page 1 held the
    campaigns that ended first: in a December of 460 campaigns, none drawn past 5 Dec); in any
    other period, page 1 (None)."""
    if not period.first <= today <= period.last:
        return None
    before = before_the_current(campaigns, Q(end__gte=today) | Q(end__isnull=True))
    return before // CAMPAIGNS_PER_PAGE + 1


def _plan_bar(
    plan: Plan,
    period: Period,
    today: date,
    campaign: ExternalCampaign | None = None,
    *,
    url: str = "",
    days: tuple[date, date] | None = None,
) -> Bar:
    """A Plan's bar: a link to the campaign it feeds, or to the workbench to assign it.

    `url` is the link's path when the caller has it (one reverse() per campaign, not per Plan),
    `days` the Plan's days when the caller has worked them out.
    """
    first, last = days or plan_days(plan)
    if campaign is not None:
        url = url or reverse("campaign", args=[campaign.pk])
        note = f"feeds {campaign.display_name}"
    else:
        # quote_plus, as urlencode would, without its checks for lists and None per Plan.
        url = f"{url or reverse('workbench')}?p-q={quote_plus(plan.search_term)}"
        note = "not assigned"
    return Bar(
        label=plan.display_name,
        start=first,
        end=last,
        period=period,
        state=state_of(first, last, today),
        color=plan_color(plan.color),
        url=url,
        note=note,
        panel=f"p{plan.pk}",
        plan_id=plan.pk if campaign is None else None,
    )


# The Plan fields a bar is drawn from.
# khoros_id: a Plan without a name is shown by it.
_BAR_FIELDS = (
    "id", "khoros_id", "name", "color", "start", "end", "start_day", "end_day", "removed_at",
)  # fmt: skip


def _plans_in(qs: QuerySet[Plan], period: Period) -> QuerySet[Plan]:
    """The live Plans whose days (plan_days) meet the period, by the indexed days.

    A Plan mirrored before the days existed has none until its next sync: kept if its instants
    come within a day of the period (the zones of the world are 26 hours apart at most), and
    clipped by plan_days afterwards.
    """
    return qs.filter(
        Q(start_day__lte=period.last, end_day__gte=period.first)
        | Q(
            start_day__isnull=True,
            start__lt=day_begins(period.last + timedelta(days=2)),
            end__gte=day_begins(period.first - timedelta(days=1)),
        ),
        removed_at__isnull=True,
    )


def day_begins(day: date, zone: tzinfo | None = None) -> datetime:
    """The first instant of `day` in `zone`, else in the current time zone."""
    # A midnight skipped by a clock change reads, at fold 0, with the offset before the change:
    # the instant the day begins. In UTC, as a local time in a gap compares unequal to any other.
    local = datetime.combine(day, time.min, tzinfo=zone or timezone.get_current_timezone())
    return local.astimezone(UTC)


@dataclass(frozen=True)
class CompanyDay:
    """The company's today, the zone it is counted in, and when the last KPI sync finished (the
    calendar needs it anyway: its freshness marks)."""

    today: date
    zone: str
    kpi_finished_at: datetime | None


def company_day(*, kpi_freshness: bool = True) -> CompanyDay:
    """The calendar's today: the company's (its bars are the company's days), from the same
    source as the list's and the panels' (company_zone()), whether a KPI sync ran or not;
    without `kpi_freshness` (a panel on its own) the KPI sync's finish is not read."""
    zone = company_zone()
    finished = kpi_last_finished() if kpi_freshness else None
    return CompanyDay(today=company_today(zone), zone=zone.key, kpi_finished_at=finished)


def calendar_build(
    *,
    user: AnyUser,
    period: Period,
    filters: CalendarFilters,
    page_number: int | str | None,
    day: CompanyDay | None = None,
) -> Calendar:
    """Everything the calendar draws for `period`, in a fixed number of queries; `day` when the
    caller has read it (company_day()) for its own links."""
    day = day or company_day()
    today = day.today
    rows: list[CampaignRow] = []
    listed = (
        _campaigns(period, filters, user)
        if filters.assigned != "unassigned"
        else ExternalCampaign.objects.none()
    )
    if not page_number and filters.assigned != "unassigned" and not filters.invalid:
        page_number = _first_page_number(listed, period, today)
    page = page_of(Paginator(listed, CAMPAIGNS_PER_PAGE), page_number)
    campaigns = list(page)
    flags = drift_flags(campaigns=campaigns, user=user)
    plans_by_campaign: dict[int, list[Plan]] = {c.pk: [] for c in campaigns}
    visible = visible_plans(user)
    # Only what a bar shows: a Plan's raw Khoros payload and texts can be long.
    assignments = (
        Assignment.objects.filter(campaign__in=campaigns, plan__in=visible)
        .select_related("plan")
        .only("campaign_id", *(f"plan__{name}" for name in _BAR_FIELDS))
    )
    for assignment in assignments:
        plans_by_campaign[assignment.campaign_id].append(assignment.plan)
    # One row per campaign that has a KPI day, found by an indexed EXISTS (a DISTINCT over
    # the KPI rows, ordered by their Meta ordering, returned a row per Plan-day: issue 13).
    # Numbers of the viewer's Plans only, as the Plans that owe them: another Initiative's
    # numbers took a manager's "no KPIs" mark away (and told her that its Plans had some).
    kpis = visible_kpis(user).filter(plan__assignment__campaign=OuterRef("pk"))
    with_kpis = set(
        ExternalCampaign.objects.filter(pk__in=[c.pk for c in campaigns])
        .filter(Exists(kpis))
        .values_list("pk", flat=True)
    )
    stale = kpi_is_stale(day.kpi_finished_at)
    days = {p.pk: plan_days(p) for plans in plans_by_campaign.values() for p in plans}
    for campaign in campaigns:
        campaign_url = reverse("campaign", args=[campaign.pk])
        start = campaign.start or period.first
        end = campaign.end or period.last
        marks = []
        if flags.get(campaign.pk):
            marks.append("drift")
        started = campaign.start is None or campaign.start <= today
        # Numbers are only owed once one of its Plans has started publishing.
        plans_started = any(days[p.pk][0] <= today for p in plans_by_campaign[campaign.pk])
        if plans_started and started and campaign.pk not in with_kpis:
            marks.append("no KPIs")
        elif stale and started and state_of(campaign.start, campaign.end, today) == "running":
            marks.append("stale")
        bar = Bar(
            label=campaign.display_name,
            start=start,
            end=end,
            period=period,
            state=state_of(campaign.start, campaign.end, today),
            url=campaign_url,
            marks=marks,
            panel=f"c{campaign.pk}",
            campaign_id=campaign.pk,
        )
        plan_bars = [
            _plan_bar(p, period, today, campaign, url=campaign_url, days=days[p.pk])
            for p in plans_by_campaign[campaign.pk]
            if p.removed_at is None
        ]
        plan_bars = [b for b in plan_bars if b.end >= period.first and b.start <= period.last]
        rows.append(CampaignRow(bar=bar, campaign=campaign, plan_lanes=pack(plan_bars)))

    unassigned_lanes: list[list[Bar]] = []
    unassigned_total = 0
    undrawn: list[int] = []  # per week of a month, unassigned Plans beyond the limit
    if filters.assigned != "assigned" and not filters.invalid:
        plans = _plans_in(visible, period).filter(assignment__isnull=True)
        if filters.initiative:
            plans = plans.filter(initiative_id=filters.initiative)
        if filters.q:
            plans = plans.filter(plan_search(filters.q))
        # A Plan without stored days is found a day wider than the period: count only the Plans
        # whose days meet it, or "Not assigned 1" stood over an empty lane.
        workbench = reverse("workbench")
        # Beyond the limit, those a manager can still act on first: in a period that holds
        # today, the Plans not ended before it (the 150 earliest starts of a quarter of 2,353
        # had all ended by October, and December's weeks drew none).
        order: list[str | Case] = ["start", "name", "pk"]
        if period.first <= today <= period.last:
            order.insert(0, Case(When(end_day__lt=today, then=Value(1)), default=Value(0)))
        chosen = [
            bar
            for bar in (
                _plan_bar(p, period, today, url=workbench)
                for p in plans.order_by(*order).only(*_BAR_FIELDS)[: UNASSIGNED_LIMIT + 3]
            )
            if bar.end >= period.first and bar.start <= period.last
        ]
        bars = chosen[:UNASSIGNED_LIMIT]
        unassigned_lanes = pack(bars)
        unassigned_total = len(chosen)
        if len(chosen) > UNASSIGNED_LIMIT:
            # Counted, not drawn: the lane and the month's weeks say how many there are.
            unassigned_total = plans.count()
            if period.zoom == "month":
                undrawn = _undrawn_per_week(plans, period, bars)
    cal = Calendar(period, today, rows, page, unassigned_lanes, unassigned_total)
    cal.days_zone = day.zone
    if period.zoom == "month":
        # The grid draws every Plan under the campaigns: those feeding a campaign shown here,
        # then the unassigned ones.
        assigned_bars = [b for r in rows for lane in r.plan_lanes for b in lane]
        cal.weeks = month_weeks(
            period,
            [r.bar for r in rows],
            assigned_bars + [b for lane in unassigned_lanes for b in lane],
        )
        for week, more in zip(cal.weeks, undrawn, strict=False):
            week.more_plans += more
    return cal


def _weeks_of(period: Period) -> list[tuple[date, date]]:
    """The Monday-to-Sunday weeks the month grid draws for `period`."""
    first = period.first - timedelta(days=period.first.weekday())
    weeks = []
    while first <= period.last:
        weeks.append((first, first + timedelta(days=6)))
        first += timedelta(days=7)
    return weeks


def _undrawn_per_week(plans: QuerySet[Plan], period: Period, drawn: Sequence[Bar]) -> list[int]:
    """Per week of the month grid, the unassigned Plans it does not draw (beyond the limit),
    in one query: the grid's "+ N more" counted only those among the 150 drawn."""
    weeks = _weeks_of(period)
    counts = plans.aggregate(
        **{
            f"w{i}": Count("pk", filter=Q(start_day__lte=last, end_day__gte=first))
            for i, (first, last) in enumerate(weeks)
        }
    )
    return [
        max(0, counts[f"w{i}"] - sum(1 for b in drawn if b.start <= last and b.end >= first))
        for i, (first, last) in enumerate(weeks)
    ]


# A month cell stays readable: Plans beyond this many lanes are counted, not drawn.
PLAN_LANES_PER_WEEK = 4


def _week_segments(bars: Sequence[Bar], week: Period) -> list[Bar]:
    return [
        Bar(
            label=b.label,
            start=b.start,
            end=b.end,
            period=week,
            state=b.state,
            color=b.color,
            url=b.url,
            marks=b.marks,
            note=b.note,
            panel=b.panel,
            plan_id=b.plan_id,
            campaign_id=b.campaign_id,
        )  # fmt: skip
        for b in bars
        if b.start <= week.last and b.end >= week.first
    ]


def _mark_continued(lanes: Sequence[Sequence[Bar]], drawn: set[str]) -> None:
    """Mark the segments of bars already drawn in an earlier week row (`drawn`, their panel
    keys), and add this row's: a keyboard reaches each item once, at its first segment."""
    for lane in lanes:
        for bar in lane:
            bar.continued = bar.panel in drawn
            drawn.add(bar.panel)


def month_weeks(period: Period, campaigns: Sequence[Bar], plans: Sequence[Bar]) -> list[Week]:
    """Monday-to-Sunday weeks covering the month: campaigns, then Plans, in lanes."""
    weeks = []
    drawn: set[str] = set()
    for first, _ in _weeks_of(period):
        days = [first + timedelta(days=i) for i in range(7)]
        week = Period("month", days[0], days[-1])
        lanes = pack(_week_segments(campaigns, week))
        plan_lanes = pack(_week_segments(plans, week))
        shown = plan_lanes[:PLAN_LANES_PER_WEEK]
        hidden = sum(len(lane) for lane in plan_lanes[PLAN_LANES_PER_WEEK:])
        # Counted, not drawn, a Plan's first segment is in the first row that draws it.
        _mark_continued(lanes, drawn)
        _mark_continued(shown, drawn)
        weeks.append(Week(days=days, lanes=lanes, plan_lanes=shown, more_plans=hidden))
    return weeks


# --- The side panel and the list view -------------------------------------------------------


def initiative_names(campaign_pks: Iterable[int]) -> dict[int, str]:
    """Each campaign's Initiative (the managing party of its SAP MC references), in one query."""
    names: dict[int, set[str]] = {}
    rows = (
        CampaignReference.objects.filter(campaign_id__in=list(campaign_pks))
        .exclude(managing_party="")
        .annotate(
            initiative_name=Subquery(
                Initiative.objects.filter(khoros_id=OuterRef("managing_party")).values("name")[:1]
            )
        )
        .values_list("campaign_id", "managing_party", "initiative_name")
    )
    for campaign_id, party, name in rows:
        # An Initiative not mirrored (yet) by its Khoros id, one without a name by the rule.
        names.setdefault(campaign_id, set()).add(party if name is None else shown_name(name, party))
    return {pk: ", ".join(sorted(found)) for pk, found in names.items()}


@dataclass
class CampaignPanel:
    campaign: ExternalCampaign
    initiative: str
    state: str
    plans: list[Plan]
    hidden_plans: int
    kpis: PanelKpis
    drift: object  # selectors.Drift


@dataclass
class PlanPanel:
    plan: Plan
    first: date
    last: date
    state: str
    feeds: ExternalCampaign | None
    kpis: PanelKpis
    # Campaigns the Plan can be assigned to: those whose dates meet the Plan's, nearest first.
    candidates: list[ExternalCampaign]
    more_candidates: int = 0  # those that meet its dates too, not offered


ASSIGN_CANDIDATES = 60


@dataclass
class PanelKpis:
    """A panel's KPI totals over every day of its Plans, as the campaign page counts them."""

    totals: dict[str, int]  # by label; empty when no day has numbers (none, not zeros)
    other_zone: int  # Plan-days counted in the company's zone before its change
    zone: str


def _kpi_sums(rows: QuerySet[PlanKpi], zone: str) -> PanelKpis:
    # Reach by its declared aggregation (the highest daily reach), and labelled as such.
    row = rows.aggregate(
        **kpi_aggregates(),
        plan_days=Count("pk"),
        other_zone=Count("pk", filter=PlanKpi.counted_elsewhere_q(zone)),
    )
    totals = {TOTAL_LABELS[name]: int(row[name] or 0) for name in KPI_COLUMNS}
    return PanelKpis(totals if row["plan_days"] else {}, row["other_zone"], zone)


def campaign_panel(
    *, campaign: ExternalCampaign, user: AnyUser, day: CompanyDay | None = None
) -> CampaignPanel:
    """`day`: the company's (company_day()), when the caller has it."""
    day = day or company_day(kpi_freshness=False)

    visible = visible_plans(user)
    assigned = Plan.objects.filter(assignment__campaign=campaign)
    plans = list(assigned.filter(pk__in=visible.values("pk")).order_by("start", "name"))
    hidden = assigned.count() - len(plans)
    return CampaignPanel(
        campaign=campaign,
        initiative=initiative_names([campaign.pk]).get(campaign.pk, ""),
        state=state_of(campaign.start, campaign.end, day.today),
        plans=plans,
        hidden_plans=hidden,
        # The days the campaign page counts: those sent to it, and its Plans' days not sent.
        kpis=_kpi_sums(campaign_kpi_days(campaign, visible), day.zone),
        # As the viewer may decide it (the workbench and the bars count the same way).
        drift=campaign_drift(campaign=campaign, user=user),
    )


def plan_panel(*, plan: Plan, day: CompanyDay | None = None) -> PlanPanel:
    """`day`: the company's (company_day()), when the caller has it."""
    day = day or company_day(kpi_freshness=False)
    first, last = plan_days(plan)
    feeds = (
        ExternalCampaign.objects.filter(assignments__plan=plan).first()
        if plan.removed_at is None
        else None
    )
    candidates: list[ExternalCampaign] = []
    more = 0
    if feeds is None and plan.removed_at is None:
        meeting = ExternalCampaign.objects.filter(removed_at__isnull=True).filter(
            Q(start__lte=last) | Q(start__isnull=True),
            Q(end__gte=first) | Q(end__isnull=True),
        )

        # The most days in common first, then the start nearest the Plan's: by start alone,
        # a Plan of September was offered 60 campaigns of July that met it by a few days.
        def nearness(row: tuple[int, date | None, date | None, str]) -> tuple[int, int, str, int]:
            pk, start, end, name = row
            shared = (min(end or last, last) - max(start or first, first)).days
            return (-shared, abs(((start or first) - first).days), name, pk)

        rows = sorted(meeting.values_list("pk", "start", "end", "name"), key=nearness)
        chosen = [row[0] for row in rows[:ASSIGN_CANDIDATES]]
        found = meeting.in_bulk(chosen)
        candidates = [found[pk] for pk in chosen]
        more = len(rows) - len(chosen)
    return PlanPanel(
        plan=plan,
        first=first,
        last=last,
        state=state_of(first, last, day.today),
        feeds=feeds,
        kpis=_kpi_sums(PlanKpi.objects.filter(plan=plan), day.zone),
        candidates=candidates,
        more_candidates=more,
    )


# The list view's sortable columns: key -> the ordering it means (ties broken by name, pk).
LIST_SORTS = {
    "name": ("name",),
    "start": ("start", "name"),
    "end": ("end", "name"),
    "initiative": ("initiative_name", "name"),
    "plans": ("plan_count", "name"),
    "kpis": ("impressions", "name"),
}
LIST_PAGE_SIZE = 100  # rows of each of the list's tables on one page


class CampaignListRow(TypedDict):
    """What campaign_list_rows annotates on each campaign."""

    plan_count: int
    hidden_plan_count: int
    impressions: int | None  # None: no day of its Plans has numbers
    initiative_name: str
    initiative_key: str  # its Khoros id: a blank name is shown by it


CampaignRows: TypeAlias = "QuerySet[WithAnnotations[ExternalCampaign, CampaignListRow]]"


def campaign_list_rows(
    *, user: AnyUser, period: Period, filters: CalendarFilters, sort: str
) -> CampaignRows:
    """The calendar's campaigns as table rows: Initiative, visible Plans and their impressions.

    One query whatever the number of rows: counts and sums are subqueries, so a campaign with
    many Plans and many KPI days is neither multiplied nor read row by row.
    """
    if filters.assigned == "unassigned":
        # No rows, so none lacks the annotations.
        return cast(CampaignRows, ExternalCampaign.objects.none())
    # As the campaign page totals them (days sent to SAP MC stay with the campaign they were
    # sent to): one row, all the campaign's days.
    impressions = (
        campaign_kpi_days(OuterRef("pk"), visible_plans(user))
        .order_by()
        .values(one=Value(1))
        .annotate(total=kpi_aggregates(["impressions"])["impressions"])
        .values("total")
    )
    initiative = Initiative.objects.filter(
        khoros_id__in=CampaignReference.objects.filter(campaign=OuterRef(OuterRef("pk"))).values(
            "managing_party"
        )
    ).order_by("name")
    # Its Plans counted as on the workbench: by the one rule of both lists.
    qs = with_plan_counts(_campaigns(period, filters, user), user=user).annotate(
        # None, not 0, for a campaign no day of whose Plans has numbers (the page says so).
        impressions=Subquery(impressions),
        initiative_name=Coalesce(Subquery(initiative.values("name")[:1]), Value("")),
        initiative_key=Coalesce(Subquery(initiative.values("khoros_id")[:1]), Value("")),
    )
    key = sort.lstrip("-")
    fields = LIST_SORTS.get(key, LIST_SORTS["start"])
    descending = sort.startswith("-") and key in LIST_SORTS
    # Where the blanks go, the same on every database: an open start before every date, an open
    # end after every date, no numbers below any number.
    nulls = {"nulls_last" if (fields[0] == "end") != descending else "nulls_first": True}
    first = F(fields[0]).desc(**nulls) if descending else F(fields[0]).asc(**nulls)
    return qs.order_by(first, *fields[1:], "pk")


def unassigned_plan_rows(
    *, user: AnyUser, period: Period, filters: CalendarFilters
) -> QuerySet[Plan]:
    """Unassigned Plans of the period, as the timeline's "Not assigned" lanes choose them."""
    if filters.assigned == "assigned" or filters.invalid:
        return Plan.objects.none()
    plans = _plans_in(visible_plans(user), period).filter(assignment__isnull=True)
    if filters.initiative:
        plans = plans.filter(initiative_id=filters.initiative)
    if filters.q:
        plans = plans.filter(plan_search(filters.q))
    return plans.select_related("initiative").order_by("start", "name", "pk")
