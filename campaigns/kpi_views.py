"""The campaign page's KPI part: totals, daily charts, cumulative and pacing, Plans stacked, and a
comparison with another campaign, built from a fixed number of queries whatever the days or Plans.

Kept apart from campaigns/views.py so the view stays a thin list of sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from typing import Any

from django.db.models import Case, F, Value, When
from django.template.defaultfilters import pluralize

from campaigns import plan_colors
from campaigns import selectors as campaigns_selectors
from campaigns.access import AnyUser
from campaigns.charts import BarChart, Spans, bar_chart, line_chart, number, stacked_chart
from campaigns.forms import is_id
from khoros import kpi_catalog
from khoros.models import Plan
from sapmc.models import ExternalCampaign

# KPIs drawn cumulatively and compared: counts only (a running total of reach means nothing).
CUMULATIVE = ("impressions", "engagements")
# A KPI that adds up (kpi_catalog.Aggregation.SUM): the layers of a day make its total, and the
# others' layer is that total less the Plans drawn. Reach, the highest of a day, cannot stack.
STACKED = "impressions"
COMPARE = "impressions"
COMPARE_CHOICES = 300
# Colours for a Plan whose Khoros colour another Plan of the stack already has.
PALETTE_GREY = "#5a6270"
PALETTE = (
    "#0b6bcb", "#1a7f37", "#9a6700", "#6f42c1", "#c62828", "#0e7490", "#b35900", PALETTE_GREY,
)  # fmt: skip
# The stack draws this many Plans (those with the most impressions on the days shown) and the
# rest as one layer: 300 colours in a 300-line legend name no Plan anyone can find.
STACKED_PLANS = 10
# The layer of the others: a darker grey than plan_colors.FALLBACK, so that it is not taken for a
# Plan without a Khoros colour, and seen on the lighter ground of days outside the campaign's.
OTHERS_COLOR = "#667085"
OUTSIDE = "days outside the campaign's dates"


@dataclass(frozen=True)
class Total:
    name: str
    label: str  # what the figure is: "Impressions", or "Highest daily reach"
    text: str  # with thousands separators


@dataclass(frozen=True)
class Counted:
    """Which days the totals count: every day of the campaign's Plans with numbers, as the
    success push sends them to SAP MC whatever the campaign's dates, and which are outside."""

    span: str  # the first to the last day with numbers (not the Plans' dates): "19 Sep–20 Oct 2026"
    days: int  # days with numbers
    outside_days: int  # days with numbers outside the campaign's dates
    outside: list[tuple[str, str]]  # (label, figure) of the counts on those days


@dataclass(frozen=True)
class CampaignDays:
    """The campaign's own days (its dates in SAP MC) and how many of them have begun."""

    first: date
    last: date
    elapsed: int  # from the first day to today, today included: 0 before, all of them after

    @property
    def total(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Pacing:
    """The campaign's own days so far, and what its Plans did on them (not on earlier days)."""

    total_days: int
    elapsed_days: int
    elapsed_share: int  # percent of the campaign's days that are over (today included)
    so_far: list[tuple[str, str, str]]  # (label, on its days so far, daily average)
    projection: list[tuple[str, str]]  # (label, straight-line figure at the end), running only
    starts: str = ""  # "23 Dec 2026" while none of its days has begun


@dataclass(frozen=True)
class CompareTotal:
    """One campaign of a comparison: impressions on its days so far, and which days those are."""

    name: str
    total: int
    days: int  # the campaign's days counted: those begun (all of them once it has ended)
    of_days: int | None  # all of its days; None when SAP MC gives it no dates
    with_numbers: int  # how many of the counted days have numbers
    starts: str = ""  # "23 Dec 2026" while none of its days has begun

    @property
    def summary(self) -> str:
        """For people: "7,404 impressions in its 92 days (3 with numbers)", "no KPIs yet"..."""
        if self.starts:
            return f"no KPIs yet: it starts {self.starts}"
        if self.of_days is None:  # no dates: the days from its first with numbers
            where = f"{self.days} day{pluralize(self.days)}"
        elif self.days == self.of_days:
            where = f"its {self.days} day{pluralize(self.days)}"
        else:
            where = f"{self.days} of its {self.of_days} days so far"
        if not self.with_numbers:
            return f"no KPIs yet in {where}" if self.of_days is not None else "no KPIs yet"
        label = kpi_catalog.LABELS[COMPARE].lower()
        some = f" ({self.with_numbers} with numbers)" if self.with_numbers != self.days else ""
        return f"{number(self.total)} {label} in {where}{some}"


def _span(first: date, last: date) -> str:
    """Days for people: "19 Sep–20 Oct 2026", "23 Dec 2026–19 Mar 2027", "19 Sep 2026"."""
    if first == last:
        return f"{first.day} {first:%b %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%b}–{last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y}–{last.day} {last:%b %Y}"


def _campaign_dates(campaign: ExternalCampaign) -> str:
    """The campaign's dates for people: "23 Dec 2026–19 Mar 2027", "from 1 Mar 2026", or ""."""
    if campaign.start is not None and campaign.end is not None:
        return _span(campaign.start, campaign.end)
    if campaign.start is not None:
        return f"from {_span(campaign.start, campaign.start)}"
    if campaign.end is not None:
        return f"until {_span(campaign.end, campaign.end)}"
    return ""


def _campaign_days(campaign: ExternalCampaign, today: date) -> CampaignDays | None:
    """The campaign's days, when SAP MC gives it both dates in order."""
    if campaign.start is None or campaign.end is None or campaign.end < campaign.start:
        return None
    total = (campaign.end - campaign.start).days + 1
    elapsed = min(max((today - campaign.start).days + 1, 0), total)
    return CampaignDays(first=campaign.start, last=campaign.end, elapsed=elapsed)


def _outside(campaign: ExternalCampaign, day: date) -> bool:
    """Whether a day is outside the campaign's dates (the ones SAP MC gives it)."""
    return (campaign.start is not None and day < campaign.start) or (
        campaign.end is not None and day > campaign.end
    )


def _outside_spans(campaign: ExternalCampaign, days: list[date]) -> Spans:
    """The runs of `days` outside the campaign's dates, as index spans to shade in the charts."""
    spans: list[tuple[int, int]] = []
    for i, day in enumerate(days):
        if not _outside(campaign, day):
            continue
        if spans and spans[-1][1] == i - 1:
            spans[-1] = (spans[-1][0], i)
        else:
            spans.append((i, i))
    return spans


def _so_far(campaign: ExternalCampaign, days: list[date], today: date) -> slice:
    """Where the campaign's days up to today are in `days` (from the first, without a start)."""
    if not days:
        return slice(0, 0)
    first = campaign.start or days[0]
    last = min(campaign.end or today, today)
    lo = max((first - days[0]).days, 0)
    hi = min((last - days[0]).days + 1, len(days))
    return slice(lo, max(lo, hi))


def _plan_dates_note(campaign: ExternalCampaign, plan: Plan) -> str:
    """Whether the Plan's days fall outside the campaign's dates, for the Plans table."""
    if plan.start_day is None or plan.end_day is None:
        return ""
    if (campaign.start is not None and plan.end_day < campaign.start) or (
        campaign.end is not None and plan.start_day > campaign.end
    ):
        return "outside the campaign's dates"
    if _outside(campaign, plan.start_day) or _outside(campaign, plan.end_day):
        return "partly outside the campaign's dates"
    return ""


def _chart_title(name: str) -> str:
    kpi = kpi_catalog.BY_NAME[name]
    if kpi.aggregation == kpi_catalog.Aggregation.MAX_DAILY:
        return f"{kpi.label} (highest Plan's, per day)"
    return kpi.label


def _daily_label(name: str) -> str:
    """A day's figure of the campaign, by the KPI's declared aggregation: a day's reach is the
    highest of one Plan that day, never a sum over its Plans."""
    kpi = kpi_catalog.BY_NAME[name]
    if kpi.aggregation == kpi_catalog.Aggregation.MAX_DAILY:
        return f"{kpi.label} (highest Plan's)"
    return kpi.label


def _counted(campaign: ExternalCampaign, kpis: campaigns_selectors.CampaignKpis) -> Counted:
    outside = [i for i, day in enumerate(kpis.days) if _outside(campaign, day)]
    return Counted(
        span=_span(min(kpis.with_numbers), max(kpis.with_numbers)),
        days=len(kpis.with_numbers),
        outside_days=sum(1 for i in outside if kpis.days[i] in kpis.with_numbers),
        outside=[
            (
                kpi_catalog.LABELS[name].lower(),
                number(kpi_catalog.combine(name, (kpis.series[name][i] for i in outside))),
            )
            for name in CUMULATIVE
        ],
    )


def _pacing(
    campaign: ExternalCampaign, kpis: campaigns_selectors.CampaignKpis, today: date
) -> Pacing | None:
    days = _campaign_days(campaign, today)
    if days is None:
        return None
    so_far_days = _so_far(campaign, kpis.days, today)
    so_far, projection = [], []
    for name in CUMULATIVE:
        to_date = kpi_catalog.combine(name, kpis.series[name][so_far_days])
        average = to_date / days.elapsed if days.elapsed else 0
        label = kpi_catalog.LABELS[name]
        so_far.append((label, number(to_date), number(round(average))))
        if 0 < days.elapsed < days.total:
            projection.append((label, number(round(average * days.total))))
    return Pacing(
        total_days=days.total,
        elapsed_days=days.elapsed,
        elapsed_share=round(100 * days.elapsed / days.total),
        so_far=so_far,
        projection=projection,
        starts=_span(days.first, days.first) if days.elapsed == 0 else "",
    )


def _cumulative_chart(
    kpis: campaigns_selectors.CampaignKpis, today: date, shaded: Spans
) -> BarChart:
    marker = None
    if kpis.days and kpis.days[0] <= today <= kpis.days[-1]:
        marker = ((today - kpis.days[0]).days, "today")
    return line_chart(
        "Cumulative " + " and ".join(kpi_catalog.LABELS[n].lower() for n in CUMULATIVE),
        [
            (kpi_catalog.LABELS[name], f"line-{i}", list(accumulate(kpis.series[name])))
            for i, name in enumerate(CUMULATIVE)
        ],
        day_labels=[day.strftime("%b %d") for day in kpis.days],
        marker=marker,
        shaded=shaded,
        shade_label=OUTSIDE,
    )


def _stacked_chart(
    campaign: ExternalCampaign,
    user: AnyUser,
    assigned: list[Any],
    kpis: campaigns_selectors.CampaignKpis,
    shaded: Spans,
) -> BarChart:
    with_numbers = [a for a in assigned if a.plan_id in kpis.per_plan]
    others: list[Any] = []
    if len(with_numbers) > STACKED_PLANS + 1:  # never a layer of "Other 1 Plan"
        ranked = sorted(
            range(len(with_numbers)),
            key=lambda i: -kpis.per_plan[with_numbers[i].plan_id][STACKED],
        )  # stable: of equal ones, the first in the table
        drawn = set(ranked[:STACKED_PLANS])
        others = [a for i, a in enumerate(with_numbers) if i not in drawn]
        with_numbers = [a for i, a in enumerate(with_numbers) if i in drawn]
    # The days of the Plans drawn are read, not those of every Plan: the others' layer is the
    # rest of each day's total.
    daily = campaigns_selectors.campaign_plans_daily(
        campaign=campaign,
        user=user,
        plans=[a.plan_id for a in with_numbers],
        days=kpis.days,
        name=STACKED,
    )
    no_numbers = [0] * len(kpis.days)
    # Beside the others' grey layer, no Plan is given the palette's grey.
    palette = PALETTE if not others else tuple(c for c in PALETTE if c != PALETTE_GREY)
    layers = []
    used: set[str] = set()
    for i, assignment in enumerate(with_numbers):
        # The Plan's colour as on every other page, unless another Plan of the stack already
        # has that Khoros colour. Plans without one share the grey, as in the Plans table.
        color = plan_colors.plan_color(assignment.plan.color)
        if color != plan_colors.FALLBACK and color.lower() in used:
            color = palette[i % len(palette)]
        used.add(color.lower())
        layers.append(
            (assignment.plan.display_name, color, daily.get(assignment.plan_id, no_numbers))
        )
    # Plans assigned elsewhere now whose days were sent here: in every total (SAP MC has them
    # under this campaign), so in the rest layer too, or the days would not add up.
    assigned_ids = {a.plan_id for a in assigned}
    moved = sum(1 for plan_id in kpis.per_plan if plan_id not in assigned_ids)
    note = ""
    if others or moved:
        # Each day's total less the Plans drawn: what the others' rows add up to, unread. Never
        # below zero: a KPI sync that commits between the two reads can leave the drawn Plans'
        # newer numbers above the day's total, and a negative layer would overflow the axis.
        rest = len(others) + moved
        label = (
            f"Other {rest} Plan{pluralize(rest)}"
            if others
            else f"{rest} Plan{pluralize(rest)} moved away, days sent here"
        )
        layers.append(
            (
                label,
                OTHERS_COLOR,
                [
                    max(day_total - sum(layer[2][j] for layer in layers), 0)
                    for j, day_total in enumerate(kpis.series[STACKED])
                ],
            )
        )
        if others:
            note = (
                f"The {STACKED_PLANS} Plans with the most {kpi_catalog.LABELS[STACKED].lower()} "
                f"on these days, the other {rest} together in grey; each Plan's figures are in "
                "the Plans table."
            )
        else:
            note = (
                f"In grey, the days sent to SAP MC for this campaign of {rest} "
                f"Plan{pluralize(rest)} assigned to another campaign since (the table "
                "“Sent to SAP MC” names them)."
            )
    return stacked_chart(
        f"{kpi_catalog.LABELS[STACKED]} per day by Plan",
        kpis.days,
        layers,
        shaded=shaded,
        shade_label=OUTSIDE,
        note=note,
    )


def _compare_total(
    campaign: ExternalCampaign,
    kpis: campaigns_selectors.CampaignKpis,
    so_far: slice,
    today: date,
) -> CompareTotal:
    days = _campaign_days(campaign, today)
    counted = kpis.days[so_far]
    return CompareTotal(
        name=campaign.display_name,
        total=sum(kpis.series[COMPARE][so_far]),
        days=days.elapsed if days else len(counted),
        of_days=days.total if days else None,
        with_numbers=sum(1 for day in counted if day in kpis.with_numbers),
        starts=_span(days.first, days.first) if days and days.elapsed == 0 else "",
    )


def _compare(
    campaign: ExternalCampaign,
    kpis: campaigns_selectors.CampaignKpis,
    user: AnyUser,
    compare: str | None,
    today: date,
    compare_id: str = "",
) -> dict[str, Any]:
    # Rows, not 300 campaigns built as models for a name and a date each (issue 13).
    # Those that have started first, the latest of them first: a campaign still to come has no
    # numbers to compare with, and 300 of them filled the select at scale.
    choice_rows = (
        ExternalCampaign.objects.exclude(pk=campaign.pk)
        .filter(removed_at__isnull=True)
        .order_by(
            Case(When(start__gt=today, then=Value(1)), default=Value(0)),
            F("start").desc(nulls_last=True),
            "name",
            "pk",
        )
        .values_list("pk", "name", "campaign_id", "sap_uuid", "start")[:COMPARE_CHOICES]
    )
    choices = [
        (pk, ExternalCampaign.name_shown(name, campaign_id, sap_uuid), start)
        for pk, name, campaign_id, sap_uuid, start in choice_rows
    ]
    out: dict[str, Any] = {"compare_choices": choices, "compare_error": "", "compare": None}
    others = ExternalCampaign.objects.exclude(pk=campaign.pk)
    compare_id = compare_id.strip()
    if compare_id:
        # The select offers the latest campaigns only: any other is found by its SAP MC ID
        # (last year's, of thousands), typed in.
        other = others.filter(campaign_id=compare_id, removed_at__isnull=True).first()
        if other is None:
            out["compare_error"] = (
                f"There is no other campaign with the SAP MC ID “{compare_id}” to compare with."
            )
            out["compare_id_typed"] = compare_id  # kept in its box, to be corrected there
            return out
    elif not compare:
        return out
    else:
        other = others.filter(pk=int(compare)).first() if is_id(compare) else None
    if other is None:
        out["compare_error"] = "There is no other campaign with that number to compare with."
        return out
    if all(pk != other.pk for pk, _, _ in choices):
        # Compared by its SAP MC ID or by link (removed in SAP MC meanwhile, or older than the
        # choices listed): the select names it rather than "Choose a campaign" over its chart.
        removed = " (removed in SAP MC)" if other.removed_at else ""
        choices.insert(0, (other.pk, f"{other.display_name}{removed}", other.start))
    # Its days only: the comparison shows no Plan of it.
    other_kpis = campaigns_selectors.campaign_kpis(
        campaign=other, user=user, today=today, per_plan=False
    )
    # Each campaign's own days so far, day 1 = its start date: the Plans' days before or
    # after its dates are no campaign days to compare.
    my_days = _so_far(campaign, kpis.days, today)
    their_days = _so_far(other, other_kpis.days, today)
    mine = list(accumulate(kpis.series[COMPARE][my_days]))
    theirs = list(accumulate(other_kpis.series[COMPARE][their_days]))
    length = max(len(mine), len(theirs))
    label = kpi_catalog.LABELS[COMPARE]
    out["compare"] = other
    out["compare_chart"] = line_chart(
        f"Cumulative {label.lower()} by campaign day",
        [(campaign.display_name, "line-0", mine), (other.display_name, "line-2", theirs)],
        day_labels=[f"day {i + 1}" for i in range(length)],
    )
    out["compare_totals"] = [
        _compare_total(campaign, kpis, my_days, today),
        _compare_total(other, other_kpis, their_days, today),
    ]
    return out


def campaign_kpi_context(
    *,
    campaign: ExternalCampaign,
    user: AnyUser,
    assigned: list[Any],
    today: date,
    compare: str | None = None,
    compare_id: str = "",
    zone: str | None = None,
) -> dict[str, Any]:
    """Everything the campaign page's KPI sections show; `assigned` get their Plan totals.

    Totals and charts count every day of the campaign's Plans (what the success push sends SAP
    MC for it), days outside its dates shaded and said; pacing and the comparison count the
    campaign's own days only. Each figure says which days it counts. `today` is the company's
    (company_today()): the days so far are the same for every viewer.
    """
    kpis = campaigns_selectors.campaign_kpis(campaign=campaign, user=user, today=today, zone=zone)
    for assignment in assigned:
        # Keyed by what each total is called: on a phone every figure is a line of its own that
        # says which it is (the table's header is not shown there).
        assignment.kpi_totals = {
            kpi_catalog.TOTAL_LABELS[name]: number(value)
            for name, value in kpis.per_plan.get(assignment.plan_id, {}).items()
        }
        assignment.dates_note = _plan_dates_note(campaign, assignment.plan)
    context: dict[str, Any] = {
        "kpis": kpis,
        "kpi_labels": kpi_catalog.TOTAL_LABELS,
        "charts": [],
        "totals": [],
        "campaign_dates": _campaign_dates(campaign),
        "company_zone": zone,
    }
    context.update(_compare(campaign, kpis, user, compare, today, compare_id))
    if not kpis.days:
        return context
    shaded = _outside_spans(campaign, kpis.days)
    context["counted"] = _counted(campaign, kpis)
    context["totals"] = [
        Total(name, kpi_catalog.TOTAL_LABELS[name], number(kpis.totals[name]))
        for name in kpi_catalog.METRICS
    ]
    context["charts"] = [
        bar_chart(
            _chart_title(name),
            list(zip(kpis.days, kpis.series[name], strict=True)),
            total=kpis.totals[name],
            total_label=kpi_catalog.TOTAL_LABELS[name],
            shaded=shaded,
            shade_label=OUTSIDE,
        )
        for name in kpi_catalog.METRICS
    ]
    context["cumulative_chart"] = _cumulative_chart(kpis, today, shaded)
    context["stacked_chart"] = _stacked_chart(campaign, user, assigned, kpis, shaded)
    context["pacing"] = _pacing(campaign, kpis, today)
    daily_labels = [_daily_label(name) for name in kpi_catalog.METRICS]
    context["daily_labels"] = daily_labels
    # Each figure with its label: on a phone a day is a block of labelled lines.
    context["daily_rows"] = [
        (
            day,
            [
                (label, number(kpis.series[name][i]))
                for name, label in zip(kpi_catalog.METRICS, daily_labels, strict=True)
            ],
            _outside(campaign, day),
        )
        for i, day in enumerate(kpis.days)
    ]
    return context
