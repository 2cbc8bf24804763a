"""The campaign page's KPI part: totals, daily charts, cumulative and pacing, Plans stacked, and a
comparison with another campaign, built from a fixed number of queries whatever the days or Plans.

Kept apart from campaigns/views.py so the view stays a thin list of sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from typing import Any

from django.utils import timezone

from campaigns import plan_colors
from campaigns import selectors as campaigns_selectors
from campaigns.access import AnyUser
from campaigns.charts import BarChart, bar_chart, line_chart, number, stacked_chart
from khoros import kpi_catalog
from sapmc.models import ExternalCampaign

# KPIs drawn cumulatively and compared: counts only (a running total of reach means nothing).
CUMULATIVE = ("impressions", "engagements")
STACKED = "impressions"
COMPARE = "impressions"
COMPARE_CHOICES = 300
# Colours for a Plan whose Khoros colour another Plan of the stack already has.
PALETTE = ("#0b6bcb", "#1a7f37", "#9a6700", "#6f42c1", "#c62828", "#0e7490", "#b35900", "#5a6270")


@dataclass(frozen=True)
class Total:
    name: str
    label: str  # what the figure is: "Impressions", or "Highest daily reach"
    text: str  # with thousands separators


@dataclass(frozen=True)
class Pacing:
    total_days: int
    elapsed_days: int
    elapsed_share: int  # percent of the campaign's days that are over (today included)
    so_far: list[tuple[str, str, str]]  # (label, to date, daily average)
    projection: list[tuple[str, str]]  # (label, straight-line figure at the end), running only


def _chart_title(name: str) -> str:
    kpi = kpi_catalog.BY_NAME[name]
    if kpi.aggregation == kpi_catalog.Aggregation.MAX_DAILY:
        return f"{kpi.label} (highest Plan's, per day)"
    return kpi.label


def _start_index(campaign: ExternalCampaign, days: list[date]) -> int:
    """Where the campaign's day 1 is in `days` (they may begin earlier, with early numbers)."""
    if campaign.start is not None and days and days[0] <= campaign.start <= days[-1]:
        return (campaign.start - days[0]).days
    return 0


def _pacing(campaign: ExternalCampaign, kpis: campaigns_selectors.CampaignKpis) -> Pacing | None:
    if campaign.start is None or campaign.end is None or campaign.end < campaign.start:
        return None
    today = timezone.localdate()
    total_days = (campaign.end - campaign.start).days + 1
    elapsed = min(max((today - campaign.start).days + 1, 0), total_days)
    so_far, projection = [], []
    for name in CUMULATIVE:
        to_date = sum(
            v
            for day, v in zip(kpis.days, kpis.series[name], strict=True)
            if campaign.start <= day <= min(today, campaign.end)
        )
        average = to_date / elapsed if elapsed else 0
        label = kpi_catalog.LABELS[name]
        so_far.append((label, number(to_date), number(round(average))))
        if 0 < elapsed < total_days:
            projection.append((label, number(round(average * total_days))))
    return Pacing(
        total_days=total_days,
        elapsed_days=elapsed,
        elapsed_share=round(100 * elapsed / total_days),
        so_far=so_far,
        projection=projection,
    )


def _cumulative_chart(
    campaign: ExternalCampaign, kpis: campaigns_selectors.CampaignKpis
) -> BarChart:
    today = timezone.localdate()
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
    )


def _stacked_chart(assigned: list[Any], kpis: campaigns_selectors.CampaignKpis) -> BarChart:
    layers = []
    used: set[str] = set()
    for i, assignment in enumerate(a for a in assigned if a.plan_id in kpis.per_plan_daily):
        # The Plan's colour as on every other page, unless another Plan of the stack already
        # has that Khoros colour. Plans without one share the grey, as in the Plans table.
        color = plan_colors.plan_color(assignment.plan.color)
        if color != plan_colors.FALLBACK and color.lower() in used:
            color = PALETTE[i % len(PALETTE)]
        used.add(color.lower())
        layers.append(
            (
                assignment.plan.name,
                color,
                kpis.per_plan_daily[assignment.plan_id][STACKED],
            )
        )
    return stacked_chart(f"{kpi_catalog.LABELS[STACKED]} per day by Plan", kpis.days, layers)


def _compare(
    campaign: ExternalCampaign,
    kpis: campaigns_selectors.CampaignKpis,
    user: AnyUser,
    compare: str | None,
) -> dict[str, Any]:
    choices = list(
        ExternalCampaign.objects.exclude(pk=campaign.pk)
        .filter(removed_at__isnull=True)
        .order_by("-start", "name", "pk")
        .values_list("pk", "name", "start")[:COMPARE_CHOICES]
    )
    out: dict[str, Any] = {"compare_choices": choices, "compare_error": "", "compare": None}
    if not compare:
        return out
    other = (
        ExternalCampaign.objects.exclude(pk=campaign.pk).filter(pk=int(compare)).first()
        if compare.isdigit()
        else None
    )
    if other is None:
        out["compare_error"] = "There is no other campaign with that number to compare with."
        return out
    other_kpis = campaigns_selectors.campaign_kpis(campaign=other, user=user)
    mine = list(accumulate(kpis.series[COMPARE][_start_index(campaign, kpis.days) :]))
    theirs = list(accumulate(other_kpis.series[COMPARE][_start_index(other, other_kpis.days) :]))
    length = max(len(mine), len(theirs))
    label = kpi_catalog.LABELS[COMPARE]
    out["compare"] = other
    out["compare_chart"] = line_chart(
        f"Cumulative {label.lower()} by campaign day",
        [(campaign.name, "line-0", mine), (other.name, "line-2", theirs)],
        day_labels=[f"day {i + 1}" for i in range(length)],
    )
    out["compare_totals"] = [
        (campaign.name, number(mine[-1] if mine else 0), len(mine)),
        (other.name, number(theirs[-1] if theirs else 0), len(theirs)),
    ]
    return out


def campaign_kpi_context(
    *, campaign: ExternalCampaign, user: AnyUser, assigned: list[Any], compare: str | None = None
) -> dict[str, Any]:
    """Everything the campaign page's KPI sections show; `assigned` get their Plan totals."""
    kpis = campaigns_selectors.campaign_kpis(campaign=campaign, user=user)
    for assignment in assigned:
        assignment.kpi_totals = {
            name: number(value) for name, value in kpis.per_plan.get(assignment.plan_id, {}).items()
        }
    context: dict[str, Any] = {
        "kpis": kpis,
        "kpi_labels": kpi_catalog.TOTAL_LABELS,
        "charts": [],
        "totals": [],
    }
    context.update(_compare(campaign, kpis, user, compare))
    if not kpis.days:
        return context
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
        )
        for name in kpi_catalog.METRICS
    ]
    context["cumulative_chart"] = _cumulative_chart(campaign, kpis)
    context["stacked_chart"] = _stacked_chart(assigned, kpis)
    context["pacing"] = _pacing(campaign, kpis)
    context["daily_rows"] = [
        (day, [number(kpis.series[name][i]) for name in kpi_catalog.METRICS])
        for i, day in enumerate(kpis.days)
    ]
    return context
