"""The assignment workbench: campaigns, the selected campaign and Plans, one htmx page."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import replace_url

from campaigns import selectors, services
from campaigns.access import can_use_workbench, is_sync_admin, visible_initiatives, visible_plans
from campaigns.forms import (
    AssignForm,
    CampaignFilterForm,
    DriftForm,
    MoveForm,
    PlanFilterForm,
    UnassignForm,
)
from sapmc.models import ExternalCampaign

PAGE_SIZE = 25
# The request keys that make up the workbench's state (filters, pages, selection).
STATE_PREFIXES = ("c-", "p-")
STATE_KEYS = ("campaign", "cpage", "ppage")
# Ticked Plans travel with the state so that a selection survives paging through the Plans.
SELECTION_KEY = "plans"


@dataclass
class Feedback:
    notice: str = ""
    error: str = ""
    conflict_plan: int | None = None  # offer to move this Plan to the selected campaign


def _require_workbench(request: HttpRequest) -> None:
    if not can_use_workbench(request.user):
        raise PermissionDenied("The workbench is for marketing managers and sync admins.")


def _state(data: QueryDict) -> QueryDict:
    """The workbench state carried by a request, without the action's own fields."""
    state = QueryDict(mutable=True)
    for key in data:
        if key.startswith(STATE_PREFIXES) or key in STATE_KEYS:
            state.setlist(key, data.getlist(key))
    selection = _selection(data)
    if selection:
        state.setlist(SELECTION_KEY, [str(pk) for pk in selection])
    return state


def _selection(data: QueryDict) -> list[int]:
    """The ticked Plans, in the order first ticked, without repeats or junk."""
    seen: dict[int, None] = {}
    for value in data.getlist(SELECTION_KEY):
        if value.isdigit():
            seen.setdefault(int(value), None)
    return list(seen)


def _state_url(state: QueryDict) -> str:
    query = state.urlencode()
    return reverse("workbench") + (f"?{query}" if query else "")


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def _context(request: HttpRequest, state: QueryDict, feedback: Feedback) -> dict[str, object]:
    user = request.user
    campaign_form = CampaignFilterForm(state, statuses=selectors.campaign_statuses())
    initiatives = list(
        visible_initiatives(user).filter(removed_at__isnull=True).values_list("pk", "name")
    )
    plan_form = PlanFilterForm(state, initiatives=initiatives)

    campaigns = Paginator(selectors.campaign_list(filters=campaign_form.filters()), PAGE_SIZE)
    campaign_page = campaigns.get_page(_page_number(state.get("cpage")))
    plans = Paginator(selectors.plan_list(user=user, filters=plan_form.filters()), PAGE_SIZE)
    plan_page = plans.get_page(_page_number(state.get("ppage")))
    drift_flags = selectors.drift_flags(campaigns=list(campaign_page))
    selection = _selection(state)
    on_page = {p.pk for p in plan_page}

    selected = None
    assigned, hidden, suggestions, drift = [], 0, [], None
    selected_id = state.get("campaign", "")
    if selected_id.isdigit():
        selected = ExternalCampaign.objects.filter(
            pk=int(selected_id), removed_at__isnull=True
        ).first()
    if selected is not None:
        assigned, hidden = selectors.campaign_assigned_plans(campaign=selected, user=user)
        suggestions = selectors.campaign_suggestions(campaign=selected, user=user)
        drift = selectors.campaign_drift(campaign=selected)
    return {
        "state": state,
        "state_query": state.urlencode(),
        "campaign_form": campaign_form,
        "plan_form": plan_form,
        "campaign_page": campaign_page,
        "plan_page": plan_page,
        "drift_flags": drift_flags,
        "selected": selected,
        "assigned": assigned,
        "hidden_assigned": hidden,
        "suggestions": suggestions,
        "drift": drift,
        "is_sync_admin": is_sync_admin(user),
        "feedback": feedback,
        "selection": set(selection),
        "selection_count": len(selection),
        "selection_elsewhere": [pk for pk in selection if pk not in on_page],
    }


def _render(
    request: HttpRequest, state: QueryDict, feedback: Feedback | None = None
) -> HttpResponse:
    context = _context(request, state, feedback or Feedback())
    # htmx swaps the partial; a history restore (Back after the cache missed) needs the page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "campaigns/workbench.html#workbench" if partial else "campaigns/workbench.html"
    return render(request, template, context)


# The same URL answers a page or, to htmx, a partial: caches must keep them apart (Vary), and
# nothing may be kept at all, so that Back, Forward and reload always show current assignments.
@never_cache
@vary_on_headers("HX-Request")
@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    """Campaigns on the left, the selected campaign in the middle, Plans on the right."""
    _require_workbench(request)
    return _render(request, _state(request.GET))


def _after_action(request: HttpRequest, state: QueryDict, feedback: Feedback) -> HttpResponse:
    """htmx gets the refreshed workbench in place; a plain form post is redirected (PRG).

    Either way the address bar ends on the workbench's own GET URL, never the action's: a reload
    or a bookmark shows the same screen, not a 405.
    """
    if request.htmx:
        return replace_url(_render(request, state, feedback), _state_url(state))
    if feedback.error:
        messages.error(request, feedback.error)
    elif feedback.notice:
        messages.success(request, feedback.notice)
    return redirect(_state_url(state))


def _form_error(form: AssignForm | UnassignForm | MoveForm | DriftForm) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@never_cache
@login_required
@require_POST
def workbench_assign(request: HttpRequest) -> HttpResponse:
    """Assign one or several Plans to the selected campaign."""
    _require_workbench(request)
    state = _state(request.POST)
    data = request.POST.copy()
    if data.get("plan_one"):
        # A row's own Assign button: that Plan only, whatever boxes are ticked.
        data.setlist("plans", [data["plan_one"]])
    form = AssignForm(data)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plans = list(
        visible_plans(request.user)
        .filter(pk__in=form.cleaned_data["plans"])
        .select_related("initiative")
    )
    if len(plans) != len(form.cleaned_data["plans"]):
        # Outside the manager's grants, or not there at all: refuse the whole request.
        raise PermissionDenied("Some of these Plans are not yours to assign.")
    result = services.assignments_bulk_create(
        campaign=campaign, plans=plans, acting_user=request.user, note=form.cleaned_data["note"]
    )
    feedback = Feedback()
    if result.created:
        names = ", ".join(f"“{a.plan.name}”" for a in result.created[:3])
        more = f" and {len(result.created) - 3} more" if len(result.created) > 3 else ""
        feedback.notice = f"Assigned {names}{more} to “{campaign.name}”."
    if result.refused:
        first = result.refused[0]
        more = len(result.refused) - 1
        feedback.error = first.reason + (f" ({more} more refused.)" if more else "")
        if first.conflict and len(result.refused) == 1:
            feedback.conflict_plan = first.plan.pk
    elif result.already and not result.created:
        feedback.notice = "Already assigned to this campaign: nothing changed."
    if not result.refused and not data.get("plan_one"):
        state.pop(SELECTION_KEY, None)  # the ticked Plans are assigned: the selection is done
    return _after_action(request, state, feedback)


@never_cache
@login_required
@require_POST
def workbench_unassign(request: HttpRequest) -> HttpResponse:
    """Take a Plan off a campaign."""
    _require_workbench(request)
    state = _state(request.POST)
    form = UnassignForm(request.POST)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plan = get_object_or_404(visible_plans(request.user), pk=form.cleaned_data["plan"])
    try:
        services.assignment_delete(campaign=campaign, plan=plan, acting_user=request.user)
    except services.AssignmentError as exc:
        return _after_action(request, state, Feedback(error=str(exc)))
    return _after_action(
        request, state, Feedback(notice=f"Unassigned “{plan.name}” from “{campaign.name}”.")
    )


@never_cache
@login_required
@require_POST
def workbench_move(request: HttpRequest) -> HttpResponse:
    """Move a Plan that feeds another campaign to this one."""
    _require_workbench(request)
    state = _state(request.POST)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plan = get_object_or_404(visible_plans(request.user), pk=form.cleaned_data["plan"])
    try:
        services.assignment_move(
            plan=plan,
            to_campaign=campaign,
            acting_user=request.user,
            note=form.cleaned_data["note"],
        )
    except services.AssignmentError as exc:
        return _after_action(request, state, Feedback(error=str(exc)))
    return _after_action(
        request, state, Feedback(notice=f"Moved “{plan.name}” to “{campaign.name}”.")
    )


@never_cache
@login_required
@require_POST
def workbench_drift(request: HttpRequest) -> HttpResponse:
    """A sync admin settles drift: adopt SAP MC's references or keep the bridge's assignments."""
    if not is_sync_admin(request.user):
        raise PermissionDenied("Only sync admins decide drift.")
    state = _state(request.POST)
    form = DriftForm(request.POST)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    if form.cleaned_data["decision"] == "adopt_sap":
        try:
            services.drift_adopt_sap(campaign=campaign, acting_user=request.user)
        except services.AssignmentError as exc:
            return _after_action(request, state, Feedback(error=str(exc)))
        notice = f"“{campaign.name}” now has exactly the Plans SAP MC references."
    else:
        services.drift_keep_bridge(campaign=campaign, acting_user=request.user)
        notice = f"Kept the bridge's Plans for “{campaign.name}”."
    return _after_action(request, state, Feedback(notice=notice))
