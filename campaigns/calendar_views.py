"""The calendar page: month grid and quarter or year timeline, navigated with htmx."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.vary import vary_on_headers

from campaigns import planning, selectors, services
from campaigns.access import manager_action, manager_or_admin_required
from campaigns.calendar import (
    FIRST_DAY,
    LAST_DAY,
    LIST_PAGE_SIZE,
    LIST_SORTS,
    ZOOM_LABELS,
    ZOOMS,
    CalendarFilters,
    CompanyDay,
    Period,
    Zoom,
    calendar_build,
    campaign_list_rows,
    campaign_panel,
    clamp_day,
    company_day,
    period_for,
    plan_days,
    plan_panel,
    unassigned_plan_rows,
)
from campaigns.forms import CalendarFilterForm, is_id
from campaigns.models import Assignment, SavedView
from campaigns.views import _csv_safe, csv_download
from campaigns.workbench import Confirmation, _assign_confirmation, split_fed
from khoros.models import Plan
from khoros.zone import company_today
from sapmc.models import ExternalCampaign
from smcbridge.http import AuthenticatedHttpRequest
from smcbridge.paging import page_of
from syncs.filtering import export_refusal


def _anchor(value: str, today: date) -> tuple[date, str]:
    """The day asked for, clamped to the years the calendar shows, and a note if it was not;
    `today` (the company's) when none or a bad one is."""
    try:
        asked = date.fromisoformat(value) if value else today
    except ValueError:
        return (
            today,
            f"“{value[:20]}” is not a date (YYYY-MM-DD): showing today.",
        )
    day = clamp_day(asked)
    if day != asked:
        return day, (
            f"The calendar shows {FIRST_DAY.year} to {LAST_DAY.year}: "
            f"showing {day.isoformat()} instead of {asked.isoformat()}."
        )
    return day, ""


def _month_labels(period: Period) -> list[tuple[str, int, int]]:
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


# The id of the filters' form (_calendar_filters.html): htmx names it in HX-Trigger.
FILTERS_FORM_ID = "cal-filters"


# One URL answers the page or, to htmx, a partial: keep caches from mixing them up or keeping
# either, so Back, Forward and reload show the current calendar.
@never_cache
@vary_on_headers("HX-Request")
@login_required
@manager_or_admin_required("The calendar is for marketing managers and sync admins.")
def calendar_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Campaigns and Plans over time; filters, position and open panel live in the query string."""
    context = _calendar_context(request, request.GET)
    context.update(
        _panel_context(
            request, request.GET.get("panel", ""), cast(CompanyDay, context["company_day"])
        )
    )
    context["back_query"] = request.GET.urlencode()
    partial = request.htmx and not request.htmx.history_restore_request
    template = "campaigns/calendar.html#calendar" if partial else "campaigns/calendar.html"
    return render(request, template, context)


def _view_state(request: AuthenticatedHttpRequest, query: QueryDict, today: date) -> dict[str, Any]:
    """Zoom, period, filter form and the filters: what the timeline and the list share.

    `today` is the company's (the calendar's days are the company's): the default day, the
    Today link and the presets that start today, whatever the viewer's zone.
    """
    zoom = query.get("zoom", "month")
    anchor, date_note = _anchor(query.get("date", ""), today)
    if zoom not in ZOOMS:
        # A hand-edited or old link: say what is shown instead, as for a bad date.
        date_note = " ".join(
            [f"“{zoom[:20]}” is not a view of the calendar: showing the month.", date_note]
        ).strip()
        zoom = "month"
    period = period_for(cast(Zoom, zoom), anchor)  # one of ZOOMS, checked above
    form = CalendarFilterForm(
        query,
        initiatives=selectors.initiative_choices(user=request.user),
        statuses=selectors.campaign_statuses(),
    )
    filters = form.filters()
    return {
        "zoom": zoom,
        "period": period,
        "date_note": date_note,
        "form": form,
        "filters": filters,
        "filters_on": _filters_on(filters),
        # On a phone the filters fold away (the grid began ~700px down, under them): open where
        # one is set, is wrong, or the answer is to a change made in them (a search cleared
        # while typing would otherwise fold the box away under the caret).
        "filters_open": bool(
            _filters_on(filters)
            or form.problem
            or (request.htmx and request.htmx.trigger == FILTERS_FORM_ID)
        ),
        "zoom_links": _zoom_links(zoom, period, today),
        "anchor": period.first.isoformat(),
        "prev_date": period.shifted(-1).isoformat(),
        "next_date": period.shifted(1).isoformat(),
        "today_date": today.isoformat(),
        "filter_query": _filter_query(query),
        "here_query": _without(query, "panel"),
        "panel_prefix": _prefix(_without(query, "panel")),
        "calendar_url": reverse("calendar"),
        "list_url": reverse("calendar-list"),
        "saved_views": SavedView.objects.filter(user=request.user).only("pk", "name", "query"),
    }


def _zoom_links(zoom: str, period: Period, today: date) -> list[dict[str, object]]:
    """Month, quarter and year around the day shown, then the presets that start today."""
    this_month = today.replace(day=1)
    rolling = zoom == "year" and period.first == this_month
    links: list[dict[str, object]] = [
        {"zoom": z, "label": ZOOM_LABELS[z], "date": period.first, "current": z == zoom}
        for z in ("month", "quarter", "year")
    ]
    # "Year" is the calendar year of the day shown, January to December: it led to the twelve
    # months from the month shown, which from this month is "Rolling 12 months" (its button
    # lit, never Year's).
    links[2]["date"] = period.first.replace(month=1)
    links[2]["current"] = zoom == "year" and period.first.month == 1
    links.append(
        {
            "zoom": "days90",
            "label": ZOOM_LABELS["days90"],
            "date": today,
            "current": zoom == "days90",
        }
    )
    links.append(
        {"zoom": "year", "label": "Rolling 12 months", "date": this_month, "current": rolling}
    )
    return links


def _calendar_context(request: AuthenticatedHttpRequest, query: QueryDict) -> dict[str, object]:
    day = company_day()
    state = _view_state(request, query, day.today)
    period = state["period"]
    cal = calendar_build(
        user=request.user,
        period=period,
        filters=state["filters"],
        page_number=query.get("page"),
        day=day,
    )
    today = cal.today
    return {
        **state,
        "cal": cal,
        "company_day": day,
        "month_labels": _month_labels(period) if state["zoom"] != "month" else [],
        "today_pct": ((today - period.first).days / period.days * 100)
        if period.first <= today <= period.last
        else None,
        "day_pct": 100 / period.days,
    }


def _panel_context(
    request: AuthenticatedHttpRequest, key: str, day: CompanyDay | None = None
) -> dict[str, object]:
    """The side panel named by `key` ("c12": campaign 12, "p7": Plan 7), if the user may see it;
    `day` the company's, when the page has read it."""
    kind, number = key[:1], key[1:]
    if kind not in ("c", "p") or not is_id(number) or len(number) > 12:
        return (
            {"panel_missing": "Nothing to show: the link names no campaign or Plan."} if key else {}
        )
    if kind == "c":
        campaign = ExternalCampaign.objects.filter(pk=int(number)).first()
        if campaign is None:
            return {"panel_missing": "This campaign is not in the bridge."}
        return {
            "panel_key": key,
            "cpanel": campaign_panel(campaign=campaign, user=request.user, day=day),
        }
    plan = selectors.plans_visible(user=request.user).filter(pk=int(number)).first()
    if plan is None:
        return {"panel_missing": "This Plan is not in the bridge or not yours to see."}
    return {"panel_key": key, "ppanel": plan_panel(plan=plan, day=day)}


@never_cache
@vary_on_headers("HX-Request")
@login_required
@manager_or_admin_required("The calendar is for marketing managers and sync admins.")
def calendar_panel(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The side panel of one bar: to htmx its content, to a browser the calendar with it open."""
    if not (request.htmx and not request.htmx.history_restore_request):
        return redirect(f"{reverse('calendar')}?{request.GET.urlencode()}")
    context = {
        **_panel_context(request, request.GET.get("panel", "")),
        "here_query": _without(request.GET, "panel"),
        "calendar_url": reverse("calendar"),
        "back_query": request.GET.urlencode(),
    }
    if not context.get("panel_key") and not context.get("panel_missing"):
        context["panel_missing"] = "Nothing to show: the link names no campaign or Plan."
    # Panels are fetched into the calendar page; a history restore asks for the whole page.
    return render(request, "campaigns/_calendar_panel.html", context)


def _back_query(request: AuthenticatedHttpRequest) -> QueryDict:
    """The calendar or list state an action came from, sent back with the form."""
    return QueryDict(request.POST.get("back", "")[:2000].lstrip("?"))


# The value of the "Assign anyway" button of the calendar's and the list's question.
CONFIRMED = "confirmed"


@manager_action("The calendar is for marketing managers and sync admins.")
def calendar_assign(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Assign one unassigned Plan to a campaign: a drop on the timeline or the panel's menu.

    Through the workbench's service and question: the same grants, removal rules, second look
    (dates, Initiative) and audit row. A Plan that already feeds another campaign is refused
    with the reason; moving it is the workbench's confirmed step, not a side effect of a drag.
    """
    back = _back_query(request)
    plan_pk, campaign_pk = request.POST.get("plan", ""), request.POST.get("campaign", "")
    if not is_id(plan_pk) or not is_id(campaign_pk):
        return _after_calendar_action(
            request, back, "", "Choose a Plan and a campaign to assign it to."
        )
    plan = selectors.plan_to_assign(user=request.user, pk=int(plan_pk))
    campaign = ExternalCampaign.objects.filter(pk=int(campaign_pk)).first()
    if campaign is None:
        return _after_calendar_action(request, back, "", "That campaign is not in the bridge.")
    if request.POST.get(CONFIRMED) != CONFIRMED:
        question = _assign_question(campaign, [plan], action="calendar-assign", bulk=False)
        if question is not None:
            return _ask(request, back, question, [("plan", plan.pk), ("campaign", campaign.pk)])
    notice, error = "", ""
    try:
        assigned = services.assignment_create_or_found(
            campaign=campaign, plan=plan, acting_user=request.user
        )
    except services.AssignmentConflictError as exc:
        error = _conflict_text(request, campaign, plan, exc.current)
    except services.AssignmentError as exc:
        error = str(exc)
    else:
        # A drop sent twice (a reload, a second window, a colleague at the same moment) finds
        # the Plan there already: said so, not "assigned" a second time.
        notice = (
            f"Assigned “{plan.display_name}” to “{campaign.display_name}”."
            if assigned.created
            else f"“{plan.display_name}” already feeds “{campaign.display_name}”: nothing changed."
        )
    return _after_calendar_action(request, back, notice, error)


def _assign_question(
    campaign: ExternalCampaign, plans: list[Plan], *, action: str, bulk: bool
) -> Confirmation | None:
    """The workbench's question before assigning `plans`, about those the service would assign:
    a removed campaign or Plan, or a Plan that feeds a campaign already, is refused (or left as
    it is) at once, as on the workbench, rather than asked about first."""
    if campaign.removed_at is not None:
        return None
    unassigned, fed_elsewhere = split_fed(plans, campaign)
    open_plans = [p for p in unassigned if p.removed_at is None]
    return _assign_confirmation(
        campaign, open_plans, CONFIRMED, CONFIRMED, action, bulk=bulk, fed_elsewhere=fed_elsewhere
    )


def _conflict_text(
    request: AuthenticatedHttpRequest,
    campaign: ExternalCampaign,
    plan: Plan,
    current: Assignment,
) -> str:
    """Why a Plan the calendar showed as unassigned was not assigned, and where to move it.

    The calendar and the list offer only unassigned Plans: one that feeds a campaign now was
    assigned after the page was drawn (in another window, or by someone else).
    """
    if current.assigned_by_id == request.user.pk:
        who = "you"
    else:
        who = current.assigned_by.get_username() if current.assigned_by else "someone else"
    # The workbench with this campaign open and the Plan found: its "Move here" is the move.
    query = urlencode({"campaign": str(campaign.pk), "p-q": plan.search_term[:100]})
    url = f"{reverse('workbench')}?{query}"
    return format_html(
        "Plan “{}” already feeds campaign “{}” (assigned there meanwhile by {}). Moves are made "
        'on the workbench. <a href="{}">Move “{}” to “{}” on the workbench</a>.',
        plan.display_name,
        current.campaign.display_name,
        who,
        url,
        plan.display_name,
        campaign.display_name,
    )


def _view_url(request: AuthenticatedHttpRequest, back: QueryDict) -> str:
    """The calendar's or the list's own URL for the state an action came from."""
    target = "calendar-list" if request.POST.get("view") == "list" else "calendar"
    return f"{reverse(target)}?{back.urlencode()}"


def _view_answer(
    request: AuthenticatedHttpRequest, back: QueryDict, context: dict[str, object]
) -> HttpResponse:
    """The calendar or the list an action came from, with `context` added: its partial to htmx
    (showing the view's own URL), the whole page to a plain post."""
    partial = bool(request.htmx)
    if request.POST.get("view") == "list":
        view = _list_context(request, back)
        template = "campaigns/calendar_list.html" + ("#listing" if partial else "")
    else:
        view = _calendar_context(request, back)
        template = "campaigns/calendar.html" + ("#calendar" if partial else "")
        view.update(
            _panel_context(request, back.get("panel", ""), cast(CompanyDay, view["company_day"]))
        )
        # htmx swaps the calendar only: the panel beside it comes out of band.
        view["panel_oob"] = partial and bool(view.get("panel_key"))
        view["back_query"] = back.urlencode()
    view.update(context)
    response = render(request, template, view)
    if partial:
        response["HX-Replace-Url"] = _view_url(request, back)
    return response


def _ask(
    request: AuthenticatedHttpRequest,
    back: QueryDict,
    question: Confirmation,
    fields: list[tuple[str, object]],
) -> HttpResponse:
    """Ask before assigning, on the calendar or the list the request came from: its `fields`
    go with "Assign anyway", Cancel goes back to the view as it was.

    Nothing changed yet, so a plain post is answered with the page itself rather than a
    redirect (the question lives in no URL), as the workbench does.
    """
    fields = [*fields, ("back", back.urlencode())]
    context: dict[str, object] = {"confirm": question, "confirm_fields": fields}
    if request.POST.get("view") == "list":
        fields.append(("view", "list"))
        # Cancel keeps what was ticked and chosen: the list shows them again.
        keep = back.copy()
        keep.setlist("plans", [str(value) for name, value in fields if name == "plans"])
        keep["campaign"] = str(dict(fields)["campaign"])
        context["confirm_cancel"] = f"{reverse('calendar-list')}?{keep.urlencode()}"
    elif request.POST.get("from") == "panel" and back.get("panel"):
        # Asked in the panel it came from: on a phone the panel covers the calendar, where the
        # question would be drawn unseen (and answered by an Enter). Cancel reloads the panel.
        context["confirm_in_panel"] = True
        context["confirm_cancel"] = _view_url(request, back)
        context["confirm_cancel_panel"] = f"{reverse('calendar-panel')}?{back.urlencode()}"
    else:
        context["confirm_cancel"] = _view_url(request, back)
        # The panel is as it was: only the question is new.
        context["panel_oob"] = False
    return _view_answer(request, back, context)


def _after_calendar_action(
    request: AuthenticatedHttpRequest, back: QueryDict, notice: str, error: str
) -> HttpResponse:
    if not request.htmx:
        # A mass assign may do both: assign some Plans and refuse others.
        if notice:
            messages.success(request, notice)
        if error:
            messages.error(request, error)
        return redirect(_view_url(request, back))
    return _view_answer(request, back, {"notice": notice, "error": error})


# --- The list view ---------------------------------------------------------------------


def _list_context(request: AuthenticatedHttpRequest, query: QueryDict) -> dict[str, object]:
    # Ticks and the chosen campaign come back with a question's Cancel: shown again, and kept
    # out of every link and form of the list (they are not part of the view).
    ticked = {v for v in query.getlist("plans") if is_id(v)}
    chosen = query.get("campaign", "")
    if "plans" in query or "campaign" in query:
        query = query.copy()
        query.pop("plans", None)
        query.pop("campaign", None)
    state = _view_state(request, query, company_today())
    sort, sort_note = _list_sort(query.get("sort", ""))
    state["date_note"] = " ".join([state["date_note"], sort_note]).strip()
    period = state["period"]
    # A page of each table: a year of a big tenant is thousands of rows, none of which a page
    # of all of them (or of the first 500, the rest out of reach) let anyone read.
    campaign_page = page_of(
        Paginator(
            campaign_list_rows(
                user=request.user, period=period, filters=state["filters"], sort=sort
            ),
            LIST_PAGE_SIZE,
        ),
        query.get("page"),
    )
    plan_page = page_of(
        Paginator(
            unassigned_plan_rows(user=request.user, period=period, filters=state["filters"]),
            LIST_PAGE_SIZE,
        ),
        query.get("ppage"),
    )
    campaigns = list(campaign_page)
    # A Plan without stored days is found a day wider than the period: keep only the Plans whose
    # days meet it. The table shows the stored days (the company's, as on every page), worked
    # out here, and never saved, for a Plan mirrored before they were stored (until its next
    # sync; the page's count may hold such a Plan that is not shown).
    plans = []
    for p in plan_page:
        first, last = p.start_day, p.end_day = plan_days(p)
        if first <= period.last and last >= period.first:
            plans.append(p)
    # A new sort starts at its first page.
    sort_query = _without(query, "sort", "page")
    columns = [
        ("name", "Campaign"),
        ("start", "Start"),
        ("end", "End"),
        ("initiative", "Initiative"),
        ("plans", "Plans"),
        ("kpis", "Impressions"),
    ]
    headers = []
    for key, label in columns:
        current = sort.lstrip("-") == key
        descending = sort.startswith("-")
        next_sort = f"-{key}" if current and not descending else key
        aria = ("descending" if descending else "ascending") if current else "none"
        headers.append(
            {
                "key": key,
                "label": label,
                "aria": aria,
                "href": f"?{sort_query}{'&' if sort_query else ''}sort={next_sort}",
                # Its heading stands over its numbers, at the right as they are.
                "num": key in {"plans", "kpis"},
            }
        )
    return {
        **state,
        "sort": sort,
        "headers": headers,
        "campaigns": campaigns,
        "campaign_page": campaign_page,
        "campaign_page_query": _without(query, "page"),
        "plans": plans,
        "plan_page": plan_page,
        "plan_page_query": _without(query, "ppage"),
        # The campaigns of this page: a select of every campaign of a year is thousands long.
        "targets": ExternalCampaign.objects.filter(removed_at__isnull=True)
        .filter(pk__in=[c.pk for c in campaigns])
        .order_by("start", "name", "pk")
        if plans
        else [],
        "ticked": ticked,
        "chosen": chosen,
        "list_query": query.urlencode(),
        "back_query": query.urlencode(),
        # The file has every row of the view, whichever page the export was asked on.
        "csv_query": _with(QueryDict(_without(query, "page", "ppage")), format="csv"),
    }


def _list_sort(value: str) -> tuple[str, str]:
    """The list's sort a link asks for ("name", "-kpis"; none is by start) and, for one that is
    no column, a note that says the list is sorted by start instead."""
    if not value:
        return "start", ""
    if value.lstrip("-") in LIST_SORTS:
        return value, ""
    return "start", f"“{value[:20]}” is not a column of the list to sort by: sorted by start."


def _with(query: QueryDict, **values: str) -> str:
    copy = query.copy()
    for key, value in values.items():
        copy[key] = value
    return copy.urlencode()


@never_cache
@vary_on_headers("HX-Request")
@login_required
@manager_or_admin_required("The calendar is for marketing managers and sync admins.")
def calendar_list(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The calendar as a table: the same filters and period, sortable, mass assign, CSV."""
    if request.GET.get("format") == "csv":
        state = _view_state(request, request.GET, company_today())
        if (refusal := export_refusal(state["form"])) is not None:
            return refusal
        sort, sort_note = _list_sort(request.GET.get("sort", ""))
        if note := " ".join([state["date_note"], sort_note]).strip():
            # A view or day the calendar showed in place of the one asked for: a file of
            # another period (or order) would pass for the one asked.
            return HttpResponseBadRequest(
                f"Nothing was exported: {note} Correct the link and export again.\n",
                content_type="text/plain; charset=utf-8",
            )
        return _list_csv(request, state, sort)
    context = _list_context(request, request.GET)
    partial = request.htmx and not request.htmx.history_restore_request
    template = "campaigns/calendar_list.html#listing" if partial else "campaigns/calendar_list.html"
    return render(request, template, context)


# plans_not_yours: the campaign's Plans of Initiatives the viewer cannot see, as the page says
# "and 4 in Initiatives you cannot see" (counted, never named).
LIST_CSV_COLUMNS = [
    "kind", "name", "id", "start", "end", "initiative", "plans", "plans_not_yours", "impressions",
]  # fmt: skip


def _list_csv(
    request: AuthenticatedHttpRequest, state: dict[str, Any], sort: str
) -> StreamingHttpResponse:
    """Every row of the current view, not only the page shown: its campaigns as
    sorted, then its unassigned Plans (those whose own days meet the period)."""
    period = state["period"]
    campaigns = campaign_list_rows(
        user=request.user, period=period, filters=state["filters"], sort=sort
    )
    plans = unassigned_plan_rows(user=request.user, period=period, filters=state["filters"])

    def lines() -> Iterator[Sequence[object]]:
        yield LIST_CSV_COLUMNS
        for c in campaigns.iterator(chunk_size=1000):
            yield [
                "campaign",
                _csv_safe(c.name),
                _csv_safe(c.campaign_id),
                c.start.isoformat() if c.start else "",
                c.end.isoformat() if c.end else "",
                _csv_safe(c.initiative_name),
                c.plan_count,
                c.hidden_plan_count,
                "" if c.impressions is None else c.impressions,  # blank: no numbers, not 0
            ]
        for p in plans.iterator(chunk_size=1000):
            first, last = plan_days(p)
            if last < period.first or first > period.last:
                continue
            yield [
                "unassigned plan",
                _csv_safe(p.name),
                p.khoros_id.hex,
                first.isoformat(),
                last.isoformat(),
                _csv_safe(p.initiative.name),
                "",
                "",
                "",
            ]

    return csv_download(lines(), f"smcbridge-calendar-{period.first}-{period.last}.csv")


@manager_action("The calendar is for marketing managers and sync admins.")
def calendar_list_assign(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Assign the ticked unassigned Plans of the list to one campaign, each on its own."""
    back = _back_query(request)
    wanted = [v for v in request.POST.getlist("plans") if is_id(v)]
    campaign_pk = request.POST.get("campaign", "")
    if not wanted or not is_id(campaign_pk):
        return _after_calendar_action(
            request, back, "", "Tick one or more Plans and choose a campaign."
        )
    plans = selectors.plans_to_assign(user=request.user, pks=[int(v) for v in wanted])
    campaign = get_object_or_404(ExternalCampaign, pk=int(campaign_pk))
    if request.POST.get(CONFIRMED) != CONFIRMED:
        question = _assign_question(campaign, plans, action="calendar-list-assign", bulk=True)
        if question is not None:
            fields: list[tuple[str, object]] = [("plans", p.pk) for p in plans]
            return _ask(request, back, question, [*fields, ("campaign", campaign.pk)])
    result = services.assignments_bulk_create(
        campaign=campaign, plans=plans, acting_user=request.user
    )
    count = len(result.created)
    notice, error = "", ""
    # Nothing assigned is no success: say so only when something was.
    if count:
        notice = f"Assigned {count} Plan{'s' if count != 1 else ''} to “{campaign.display_name}”."
    elif result.already and not result.refused:
        notice = "Already assigned to this campaign: nothing changed."
    if result.refused:
        first = result.refused[0]
        reason = (
            _conflict_text(request, campaign, first.plan, first.current)
            if first.current is not None
            else first.reason
        )
        error = format_html("{} refused: {}", len(result.refused), reason)
    return _after_calendar_action(request, back, notice, error)


# --- Saved views --------------------------------------------------------------------------


@manager_action("The calendar is for marketing managers and sync admins.")
def saved_view_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Save the current filters under a name; back to the same view either way."""
    back = _back_query(request)
    target = "calendar-list" if request.POST.get("view") == "list" else "calendar"
    try:
        saved, outcome = planning.saved_view_create(
            user=request.user, name=request.POST.get("name", ""), query=back
        )
    except planning.SavedViewError as exc:
        messages.error(request, str(exc))
    else:
        if outcome == "already":
            messages.info(
                request,
                f"Your saved view “{saved.name}” already keeps these filters: nothing changed.",
            )
        elif outcome == "replaced":
            messages.warning(
                request,
                f"Your saved view “{saved.name}” now keeps these filters; the ones it kept "
                "before are gone.",
            )
        else:
            messages.success(request, f"Saved view “{saved.name}”.")
    return redirect(f"{reverse(target)}?{back.urlencode()}")


@manager_action("The calendar is for marketing managers and sync admins.")
def saved_view_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    back = _back_query(request)
    target = "calendar-list" if request.POST.get("view") == "list" else "calendar"
    if planning.saved_view_delete(user=request.user, pk=pk):
        messages.success(request, "Saved view deleted.")
    else:
        # Deleted meanwhile (another window), or never this person's: either way not theirs now.
        messages.info(request, "That saved view is already gone: none of yours has its number.")
    return redirect(f"{reverse(target)}?{back.urlencode()}")


def _prefix(query: str) -> str:
    """`query` ready to take one more parameter."""
    return f"{query}&" if query else ""


def _without(query: QueryDict, *keys: str) -> str:
    copy = query.copy()
    for key in keys:
        copy.pop(key, None)
    return copy.urlencode()


def _filters_on(filters: CalendarFilters) -> int:
    """How many filters narrow what is shown (each at a value other than its default)."""
    return sum(
        bool(value) for value in (filters.initiative, filters.status, filters.assigned, filters.q)
    )


def _filter_query(query: QueryDict) -> str:
    """The filters of the request, to carry into navigation links."""
    return _without(query, "zoom", "date", "page", "ppage", "panel", "sort", "format")
