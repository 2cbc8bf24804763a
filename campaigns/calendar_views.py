"""The calendar page: month grid and quarter or year timeline, navigated with htmx."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.access import can_use_workbench, visible_initiatives
from campaigns.calendar import ZOOMS, calendar_build, period_for
from campaigns.forms import CalendarFilterForm
from campaigns.selectors import campaign_statuses

# Anchors outside these years are refused (today instead): the period around 9999-12-31 or
# 0001-01-01 and its neighbours are not representable dates.
ANCHOR_RANGE = (date(1900, 1, 1), date(2999, 12, 31))


def _anchor(value: str | None) -> date:
    try:
        anchor = date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()
    return anchor if ANCHOR_RANGE[0] <= anchor <= ANCHOR_RANGE[1] else timezone.localdate()


def _month_labels(period) -> list[tuple[str, int, int]]:  # noqa: ANN001 - a Period
    """Month names of a timeline with the grid columns each one spans."""
    labels = []
    month = period.first
    while month <= period.last:
        next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        last = min(period.last, next_month.fromordinal(next_month.toordinal() - 1))
        start = (month - period.first).days + 1
        labels.append(
            (
                month.strftime("%b %Y" if period.zoom != "year" else "%b"),
                start,
                (last - period.first).days + 2,
            )
        )
        month = next_month
    return labels


@login_required
def calendar_page(request: HttpRequest) -> HttpResponse:
    """Campaigns and Plans over time; filters and position live in the query string."""
    if not can_use_workbench(request.user):
        raise PermissionDenied("The calendar is for marketing managers and sync admins.")
    zoom = request.GET.get("zoom", "month")
    if zoom not in ZOOMS:
        zoom = "month"
    period = period_for(zoom, _anchor(request.GET.get("date")))
    initiatives = list(
        visible_initiatives(request.user).filter(removed_at__isnull=True).values_list("pk", "name")
    )
    form = CalendarFilterForm(request.GET, initiatives=initiatives, statuses=campaign_statuses())
    cal = calendar_build(
        user=request.user,
        period=period,
        filters=form.filters(),
        page_number=request.GET.get("page"),
    )
    today = cal.today
    context = {
        "cal": cal,
        "form": form,
        "zoom": zoom,
        "zooms": ZOOMS,
        "prev_date": period.shifted(-1).isoformat(),
        "next_date": period.shifted(1).isoformat(),
        "today_date": today.isoformat(),
        "anchor": period.first.isoformat(),
        "month_labels": _month_labels(period) if zoom != "month" else [],
        "today_pct": ((today - period.first).days / period.days * 100)
        if period.first <= today <= period.last
        else None,
        "day_pct": 100 / period.days,
        "filter_query": _filter_query(request),
    }
    template = "campaigns/calendar.html#calendar" if request.htmx else "campaigns/calendar.html"
    return render(request, template, context)


def _filter_query(request: HttpRequest) -> str:
    """The filters of the request, to carry into navigation links."""
    query = request.GET.copy()
    for key in ("zoom", "date", "page"):
        query.pop(key, None)
    return query.urlencode()
