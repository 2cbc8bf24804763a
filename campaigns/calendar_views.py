"""The calendar page: month grid and quarter or year timeline, navigated with htmx."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.vary import vary_on_headers

from campaigns.access import can_use_workbench, visible_initiatives
from campaigns.calendar import FIRST_DAY, LAST_DAY, ZOOMS, calendar_build, clamp_day, period_for
from campaigns.forms import CalendarFilterForm
from campaigns.selectors import campaign_statuses


def _anchor(value: str | None) -> tuple[date, str]:
    """The day asked for, clamped to the years the calendar shows, and a note if it was not."""
    try:
        asked = date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate(), f"“{value[:20]}” is not a date (YYYY-MM-DD): showing today."
    day = clamp_day(asked)
    if day != asked:
        return day, (
            f"The calendar shows {FIRST_DAY.year} to {LAST_DAY.year}: "
            f"showing {day.isoformat()} instead of {asked.isoformat()}."
        )
    return day, ""


def _month_labels(period) -> list[tuple[str, int, int]]:  # noqa: ANN001 - a Period
    """Month names of a timeline with the grid columns each one spans."""
    labels = []
    month = period.first
    while month <= period.last:
        next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        last = min(period.last, next_month.fromordinal(next_month.toordinal() - 1))
        start = (month - period.first).days + 1
        # A rolling year crosses New Year: the first month and each January carry the year.
        with_year = period.zoom != "year" or month == period.first or month.month == 1
        labels.append(
            (
                month.strftime("%b %Y" if with_year else "%b"),
                start,
                (last - period.first).days + 2,
            )
        )
        month = next_month
    return labels


# One URL answers the page or, to htmx, a partial: keep caches from mixing them up or keeping
# either, so Back, Forward and reload show the current calendar.
@never_cache
@vary_on_headers("HX-Request")
@login_required
def calendar_page(request: HttpRequest) -> HttpResponse:
    """Campaigns and Plans over time; filters and position live in the query string."""
    if not can_use_workbench(request.user):
        raise PermissionDenied("The calendar is for marketing managers and sync admins.")
    zoom = request.GET.get("zoom", "month")
    if zoom not in ZOOMS:
        zoom = "month"
    anchor, date_note = _anchor(request.GET.get("date"))
    period = period_for(zoom, anchor)
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
        "date_note": date_note,
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "campaigns/calendar.html#calendar" if partial else "campaigns/calendar.html"
    return render(request, template, context)


def _filter_query(request: HttpRequest) -> str:
    """The filters of the request, to carry into navigation links."""
    query = request.GET.copy()
    for key in ("zoom", "date", "page"):
        query.pop(key, None)
    return query.urlencode()
