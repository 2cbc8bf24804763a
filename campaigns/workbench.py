"""The assignment workbench: campaigns, the selected campaign and Plans, one htmx page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url, replace_url

from campaigns import selectors, services
from campaigns.access import is_sync_admin, manager_action, manager_or_admin_required
from campaigns.forms import (
    AssignForm,
    CampaignFilterForm,
    DriftForm,
    MoveForm,
    PlanFilterForm,
    UnassignForm,
    UndoForm,
    is_id,
)
from campaigns.models import Assignment, AuditEvent
from khoros.models import Plan
from khoros.zone import company_today
from sapmc.models import ExternalCampaign
from smcbridge.http import AuthenticatedHttpRequest
from smcbridge.paging import page_of

PAGE_SIZE = 25
# The request keys that make up the workbench's state (filters, pages, selection).
STATE_PREFIXES = ("c-", "p-")
STATE_KEYS = ("campaign", "cpage", "ppage")
# More references to add in SAP MC than this fold away above the campaign's assigned Plans.
PENDING_SHOWN = 5
# The form sends, beside each list's page, the filters that page was drawn for (never part of
# an address): see _asked_page.
DRAWN_FOR = "-drawn-for"
# Ticked Plans travel with the state so that a selection survives paging through the Plans.
SELECTION_KEY = "plans"


@dataclass
class Confirmation:
    """A second step: what is about to happen and why it deserves a look, with the button that
    sends the same request again, confirmed (a plain form post; no script needed)."""

    title: str
    reasons: list[str]
    button_name: str
    button_value: str
    button_label: str
    action: str  # URL name of the view the confirming button posts to


@dataclass
class Feedback:
    notice: str = ""
    error: str = ""
    conflict_plan: int | None = None  # offer to move this Plan to the selected campaign
    confirm: Confirmation | None = None
    undo_event: int | None = None  # offer to undo this adoption at once
    note: str = ""  # the note typed before a question, kept for the confirmed request


def _state(data: QueryDict) -> QueryDict:
    """The workbench state carried by a request, without the action's own fields."""
    state = QueryDict(mutable=True)
    for key in data:
        # An empty filter is the same as none: left out, the address after an action stays as
        # short as the one a person would bookmark.
        values = [value for value in data.getlist(key) if value != ""]
        if values and (key.startswith(STATE_PREFIXES) or key in STATE_KEYS):
            state.setlist(key, values)
    selection = _selection(data)
    if selection:
        state.setlist(SELECTION_KEY, [str(pk) for pk in selection])
    return state


def _selection(data: QueryDict) -> list[int]:
    """The ticked Plans, in the order first ticked, without repeats or junk."""
    seen: dict[int, None] = {}
    for value in data.getlist(SELECTION_KEY):
        if is_id(value):
            seen.setdefault(int(value), None)
    return list(seen)


def _state_url(state: QueryDict) -> str:
    query = state.urlencode()
    return reverse("workbench") + (f"?{query}" if query else "")


def _filters_of(state: QueryDict, prefix: str) -> str:
    """One list's filters in the state (its form's prefix), as one comparable string."""
    return urlencode(sorted((k, v) for k, vs in state.lists() if k.startswith(prefix) for v in vs))


def _asked_page(request: AuthenticatedHttpRequest, state: QueryDict, key: str, prefix: str) -> str:
    """The page of a list asked for, unless the form that asked drew it for other filters.

    A new search sent the page number of the old list with it: clamped to the new list's last
    page, "Campaign 17" opened on page 5 of 5 and "Unassigned only" on page 77 of 77. A changed
    filter opens its list as a first visit does; a link (which carries no drawn-for) keeps its
    page.
    """
    if _drawn_for_other_filters(request.GET, state, key, prefix):
        return ""
    return state.get(key, "")


def _drawn_for_other_filters(data: QueryDict, state: QueryDict, key: str, prefix: str) -> bool:
    drawn = data.get(key + DRAWN_FOR)
    return drawn is not None and drawn != _filters_of(state, prefix)


def _page(rows: QuerySet[Any, Any], asked: str | None, current: Q, today: date | None) -> Page:
    paginator = Paginator(rows, PAGE_SIZE)
    if asked or today is None:
        return page_of(paginator, asked)
    return paginator.get_page(selectors.before_the_current(rows, current) // PAGE_SIZE + 1)


def _context(
    request: AuthenticatedHttpRequest, state: QueryDict, feedback: Feedback
) -> dict[str, object]:
    user = request.user
    campaign_form = CampaignFilterForm(state, statuses=selectors.campaign_statuses())
    plan_form = PlanFilterForm(state, initiatives=selectors.initiative_choices(user=user))

    campaign_list = selectors.campaign_list(filters=campaign_form.filters())
    plan_list = selectors.plan_list(user=user, filters=plan_form.filters())
    # A first visit opens each list at its first campaign or Plan not ended, not at the oldest;
    # every later address carries its pages.
    cpage = _asked_page(request, state, "cpage", "c-")
    ppage = _asked_page(request, state, "ppage", "p-")
    today = company_today() if not (cpage and ppage) else None
    campaign_page = _page(campaign_list, cpage, Q(end__gte=today) | Q(end__isnull=True), today)
    # The page is cut from the list without counts; its 25 campaigns alone are counted (in the
    # same query: the cut is its subquery).
    cut = cast(QuerySet[ExternalCampaign], campaign_page.object_list)
    campaign_page.object_list = selectors.counted_page(cut, user=user)
    plan_page = _page(plan_list, ppage, Q(end_day__gte=today), today)
    # The page of keys makes the pager; its Plans are read in full alone.
    plans_shown = selectors.plans_by_key(list(plan_page))
    drift_flags = selectors.drift_flags(campaigns=list(campaign_page), user=user)
    selection = _selection(state)
    on_page = {p.pk for p in plans_shown}

    selected = None
    assigned: list[Assignment]
    assigned, hidden, suggestions, drift = [], 0, [], None
    selected_id = state.get("campaign", "")
    missing = ""  # a campaign asked for by an old or hand-made link that is not there
    if is_id(selected_id):
        selected = ExternalCampaign.objects.filter(
            pk=int(selected_id), removed_at__isnull=True
        ).first()
    if selected is None and selected_id:
        missing = (
            "The campaign this link asks for is not in the bridge (removed in SAP MC, or no "
            "such campaign)."
        )
    if selected is not None:
        assigned, hidden = selectors.campaign_assigned_plans(campaign=selected, user=user)
        drift = selectors.campaign_drift(campaign=selected, user=user)
        suggestions = selectors.campaign_suggestions(
            campaign=selected, user=user, managing_parties=drift.managing_parties
        )
        # Ticked Plans that feed this campaign already (Back after assigning them brings their
        # ticks back): nothing is left to do with them, and "Unassigned only" hides them.
        fed = {a.plan_id for a in assigned}
        selection = [pk for pk in selection if pk not in fed]
    return {
        "state": state,
        "state_query": state.urlencode(),
        "campaign_filters_drawn": _filters_of(state, "c-"),
        "plan_filters_drawn": _filters_of(state, "p-"),
        "campaign_form": campaign_form,
        "plan_form": plan_form,
        "campaign_page": campaign_page,
        "plan_page": plan_page,
        "plans_shown": plans_shown,
        "drift_flags": drift_flags,
        "selected": selected,
        "missing_campaign": missing,
        "assigned": assigned,
        "hidden_assigned": hidden,
        "suggestions": suggestions,
        "drift": drift,
        "pending_folded": drift is not None and len(drift.pending) > PENDING_SHOWN,
        "is_sync_admin": is_sync_admin(user),
        "company_id": settings.KHOROS_COMPANY_ID,
        "feedback": feedback,
        "selection": set(selection),
        "selection_count": len(selection),
        "selection_elsewhere": [pk for pk in selection if pk not in on_page],
    }


def _render(
    request: AuthenticatedHttpRequest, state: QueryDict, feedback: Feedback | None = None
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
@manager_or_admin_required("The workbench is for marketing managers and sync admins.")
def workbench(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Campaigns on the left, the selected campaign in the middle, Plans on the right."""
    if request.method == "POST":
        # The form sent without JavaScript (its Filter button, or Enter in a box). It is a
        # POST so that it carries the form token its action buttons need (a GET would write
        # the token into the address, the history and access logs); answered with the
        # address of what it asked for, as htmx's GET is.
        state = _state(request.POST)
        for key, prefix in (("cpage", STATE_PREFIXES[0]), ("ppage", STATE_PREFIXES[1])):
            if _drawn_for_other_filters(request.POST, state, key, prefix):
                state.pop(key, None)
        return redirect(_state_url(state))
    state = _state(request.GET)
    response = _render(request, state)
    if request.htmx and not request.htmx.history_restore_request:
        # The address htmx pushes is the screen's state, not every field of the form it sent:
        # a note typed for the next assignment, or filters left empty, stayed in the history
        # and in bookmarks. The same address again (a question's Cancel) replaces it: each
        # Cancel was one more press of Back.
        url = _state_url(state)
        current = request.htmx.current_url_abs_path
        response = (replace_url if current == url else push_url)(response, url)
    return response


def _after_action(
    request: AuthenticatedHttpRequest, state: QueryDict, feedback: Feedback
) -> HttpResponse:
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


def _confirm(
    request: AuthenticatedHttpRequest, state: QueryDict, confirmation: Confirmation
) -> HttpResponse:
    """Ask before acting: the workbench with the question, for htmx and a plain post alike.

    Nothing changed yet, so a plain post is answered with the page itself rather than a
    redirect (the question lives in no URL); htmx still shows the workbench's own URL.
    """
    feedback = Feedback(confirm=confirmation, note=request.POST.get("note", "")[:500])
    response = _render(request, state, feedback)
    return replace_url(response, _state_url(state)) if request.htmx else response


def split_fed(
    plans: list[Plan], campaign: ExternalCampaign
) -> tuple[list[Plan], list[tuple[Plan, ExternalCampaign]]]:
    """The Plans that feed no campaign yet, and those that feed another one (with it)."""
    feeds = selectors.campaigns_fed_by(plans)
    elsewhere = [(p, feeds[p.pk]) for p in plans if feeds.get(p.pk, campaign) != campaign]
    return [p for p in plans if p.pk not in feeds], elsewhere


def _assign_confirmation(
    campaign: ExternalCampaign,
    plans: list,
    button_name: str,
    button_value: str,
    action: str,
    *,
    bulk: bool = False,
    fed_elsewhere: Sequence[tuple[Plan, ExternalCampaign]] = (),
) -> Confirmation | None:
    """The question before assigning `plans` to `campaign`, or None if none deserves one.

    A `bulk` action (ticked Plans) names its Plans in the reasons even when one is left to ask
    about: which of the ticked ones "this Plan" is is not otherwise said. `fed_elsewhere`: the
    ticked Plans that feed another campaign, which the assignment leaves there: said too when
    there is a question (its answer refused them only after "Assign anyway").
    """
    warnings = selectors.assignment_warnings(
        campaign=campaign,
        plans=plans,
        managing_parties=selectors.campaign_managing_parties(campaign=campaign),
    )
    if not warnings:
        return None
    named = bulk or len(plans) > 1
    reasons = []
    for plan in plans:
        for reason in warnings.get(plan.pk, []):
            reasons.append(f"“{plan.display_name}”: {reason}" if named else reason)
    for plan, feeds in fed_elsewhere:
        reasons.append(
            f"“{plan.display_name}”: This Plan feeds “{feeds.display_name}” already and stays "
            "there (a move on the workbench brings it here)."
        )
    verb = "Move" if action == "workbench-move" else "Assign"
    # The question names its Plan: names repeat across Initiatives, and after a drag nothing
    # else on the screen says which Plan "this Plan" was.
    if len(warnings) > 1:
        what = "these Plans"
    else:
        what = next(f"“{p.display_name}”" for p in plans if p.pk in warnings)
    return Confirmation(
        title=f"{verb} {what} to “{campaign.display_name}”?",
        reasons=reasons,
        button_name=button_name,
        button_value=button_value,
        button_label=f"{verb} anyway",
        action=action,
    )


def _form_error(form: AssignForm | UnassignForm | MoveForm | DriftForm | UndoForm) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@manager_action("The workbench is for marketing managers and sync admins.")
def workbench_assign(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Assign one or several Plans to the selected campaign."""
    state = _state(request.POST)
    data = request.POST.copy()
    confirmed = False
    if plan_confirmed := data.get("plan_confirmed"):
        # The "Assign anyway" of one Plan's question.
        data["plan_one"], confirmed = plan_confirmed, True
    elif data.get("confirmed") == "selection":
        confirmed = True
    if plan_one := data.get("plan_one"):
        # A row's own Assign button: that Plan only, whatever boxes are ticked.
        data.setlist("plans", [plan_one])
    form = AssignForm(data)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plans = selectors.plans_to_assign(user=request.user, pks=form.cleaned_data["plans"])
    if not confirmed:
        single = bool(data.get("plan_one"))
        # A Plan that feeds another campaign is refused with an offer to move: no question.
        unassigned, fed_elsewhere = split_fed(plans, campaign)
        confirmation = _assign_confirmation(
            campaign,
            unassigned,
            "plan_confirmed" if single else "confirmed",
            str(plans[0].pk) if single else "selection",
            "workbench-assign",
            bulk=not single,
            fed_elsewhere=fed_elsewhere,
        )
        if confirmation is not None:
            return _confirm(request, state, confirmation)
    result = services.assignments_bulk_create(
        campaign=campaign, plans=plans, acting_user=request.user, note=form.cleaned_data["note"]
    )
    feedback = Feedback()
    if result.created:
        names = ", ".join(f"“{a.plan.display_name}”" for a in result.created[:3])
        more = f" and {len(result.created) - 3} more" if len(result.created) > 3 else ""
        feedback.notice = f"Assigned {names}{more} to “{campaign.display_name}”."
    if result.refused:
        first = result.refused[0]
        others = len(result.refused) - 1
        feedback.error = first.reason + (f" ({others} more refused.)" if others else "")
        if first.conflict and len(result.refused) == 1:
            feedback.conflict_plan = first.plan.pk
    elif result.already and not result.created:
        feedback.notice = "Already assigned to this campaign: nothing changed."
    if not result.refused and not data.get("plan_one"):
        state.pop(SELECTION_KEY, None)  # the ticked Plans are assigned: the selection is done
    return _after_action(request, state, feedback)


@manager_action("The workbench is for marketing managers and sync admins.")
def workbench_unassign(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Take a Plan off a campaign."""
    state = _state(request.POST)
    form = UnassignForm(request.POST)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plan = get_object_or_404(
        selectors.plans_visible(user=request.user), pk=form.cleaned_data["plan"]
    )
    try:
        services.assignment_delete(campaign=campaign, plan=plan, acting_user=request.user)
    except services.AssignmentError as exc:
        return _after_action(request, state, Feedback(error=str(exc)))
    return _after_action(
        request,
        state,
        Feedback(notice=f"Unassigned “{plan.display_name}” from “{campaign.display_name}”."),
    )


@manager_action("The workbench is for marketing managers and sync admins.")
def workbench_move(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Move a Plan that feeds another campaign to this one."""
    state = _state(request.POST)
    data = request.POST.copy()
    # "Move anyway" of the question sends the Plan under its own name: confirmed.
    move_confirmed = data.get("move_confirmed", "")
    confirmed = bool(move_confirmed)
    if confirmed:
        data["plan"] = move_confirmed
    form = MoveForm(data)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plan = get_object_or_404(
        selectors.plans_visible(user=request.user), pk=form.cleaned_data["plan"]
    )
    if not confirmed:
        confirmation = _assign_confirmation(
            campaign, [plan], "move_confirmed", str(plan.pk), "workbench-move"
        )
        if confirmation is not None:
            return _confirm(request, state, confirmation)
    try:
        moved = services.assignment_move(
            plan=plan,
            to_campaign=campaign,
            acting_user=request.user,
            note=form.cleaned_data["note"],
        )
    except services.AssignmentError as exc:
        return _after_action(request, state, Feedback(error=str(exc)))
    # Say what happened, as the audit row does: the Plan may have been unassigned (or moved
    # here) in another window since this one offered the move.
    if moved.from_campaign is None:
        notice = (
            f"Assigned “{plan.display_name}” to “{campaign.display_name}”: it had been "
            "unassigned meanwhile, so there was nothing to move."
        )
    elif moved.from_campaign.pk == campaign.pk:
        notice = f"“{plan.display_name}” already feeds “{campaign.display_name}”: nothing changed."
    else:
        notice = f"Moved “{plan.display_name}” to “{campaign.display_name}”."
    return _after_action(request, state, Feedback(notice=notice))


def _adopt_question(campaign: ExternalCampaign, changes: list) -> list[str]:
    """What adopting SAP MC's side does, counted: how many Plans, taken from whom."""
    taken: dict[str, list[str]] = {}
    added = []
    for change in changes:
        if change.from_campaign is None:
            added.append(change.plan.display_name)
        else:
            taken.setdefault(change.from_campaign.display_name, []).append(change.plan.display_name)
    lines = []
    for name, plans in sorted(taken.items()):
        lines.append(
            f"Removes {len(plans)} Plan{'s' if len(plans) != 1 else ''} from “{name}”: "
            + ", ".join(f"“{p}”" for p in plans)
            + "."
        )
    if added:
        lines.append(
            f"Assigns {len(added)} unassigned Plan{'s' if len(added) != 1 else ''}: "
            + ", ".join(f"“{p}”" for p in added)
            + "."
        )
    targets = sorted({c.to_campaign.display_name for c in changes})
    subject = "It" if len(changes) == 1 else "They"
    lines.append(f"{subject} will feed {', '.join(f'“{t}”' for t in targets)}, as SAP MC says.")
    return lines


def _plans(count: int) -> str:
    return f"{count} Plan{'s' if count != 1 else ''}"


def _nothing_to_adopt(
    request: AuthenticatedHttpRequest,
    campaign: ExternalCampaign,
    plans: list[Plan] | None,
    asked: int | None = None,
) -> str:
    """Why nothing was adopted: agreement, differences someone kept, or (`asked`: how many
    Plans the confirmed question named) a question overtaken by someone else's decision."""
    drift = selectors.campaign_drift(campaign=campaign, user=request.user)
    named = {p.pk for p in plans} if plans is not None else None
    kept = [i for i in drift.kept if named is None or i.plan.pk in named]
    # Pending Plans (assigned here, not yet in SAP MC) are the normal state, not a difference.
    differing = [i for i in drift.items if i.decidable and (named is None or i.plan.pk in named)]
    notice = "Nothing to adopt"
    if asked and not differing:
        # The question's Plans agree with SAP MC now: adopted already, by the same form sent
        # twice or by another window ("changed meanwhile by someone else" blamed a colleague).
        return (
            "Nothing adopted: SAP MC's side is adopted already (in another window, or by "
            "someone else): SAP MC and the bridge agree."
        )
    if asked:
        notice = (
            f"Nothing adopted: the {_plans(asked)} the question named changed meanwhile (kept, "
            "decided or moved by someone else)"
        )
    if kept:
        verb = "differs" if len(kept) == 1 else "differ"
        return f"{notice}: {_plans(len(kept))} still {verb} from SAP MC, kept on the bridge's side."
    return f"{notice}." if asked else f"{notice}: SAP MC and the bridge agree."


@manager_action("The workbench is for marketing managers and sync admins.")
def workbench_drift(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Settle drift Plan by Plan (or all at once): adopt SAP MC's side, after a confirmation
    that says what it takes from whom, or keep the bridge's. Managers decide for the Plans of
    their own Initiatives, sync admins for all."""
    state = _state(request.POST)
    form = DriftForm(request.POST)
    if not form.is_valid():
        return _after_action(request, state, Feedback(error=_form_error(form)))
    campaign = get_object_or_404(ExternalCampaign, pk=form.cleaned_data["campaign"])
    plans = None
    if form.cleaned_data["plan"] is not None:
        # A Plan the user may see, as for unassign and move: another Initiative's Plan is not
        # found, as no Plan is. Refused with a 403 instead, its number told a manager that it
        # was a Plan of another Initiative, and counting them was a matter of posting numbers.
        plans = [
            get_object_or_404(
                selectors.plans_visible(user=request.user), pk=form.cleaned_data["plan"]
            )
        ]
    action = form.cleaned_data["action"]
    target = "all" if plans is None else str(plans[0].pk)
    try:
        if action == "adopt":
            changes = services.drift_adopt_preview(
                campaign=campaign, acting_user=request.user, plans=plans
            )
            if not changes:
                return _after_action(
                    request, state, Feedback(notice=_nothing_to_adopt(request, campaign, plans))
                )
            count = len(changes)
            return _confirm(
                request,
                state,
                Confirmation(
                    title=f"Adopt SAP MC's side for {count} Plan{'s' if count != 1 else ''}?",
                    reasons=_adopt_question(campaign, changes),
                    button_name="drift",
                    button_value=f"confirm-adopt:{target}:{count}",
                    button_label="Adopt SAP MC's side",
                    action="workbench-drift",
                ),
            )
        if action == "confirm-adopt":
            event = services.drift_adopt_sap(
                campaign=campaign, acting_user=request.user, plans=plans
            )
            asked = form.cleaned_data["asked"]
            if event is None:
                notice = _nothing_to_adopt(request, campaign, plans, asked)
                return _after_action(request, state, Feedback(notice=notice))
            count = len(event.after["plans"])
            if plans is not None:
                notice = f"Adopted SAP MC's side for “{plans[0].display_name}”."
            elif selectors.campaign_drift(campaign=campaign, user=request.user).exists_or_kept:
                # Someone kept a difference (or a new one came) since the question was asked.
                notice = f"Adopted SAP MC's side for {_plans(count)} of “{campaign.display_name}”."
            else:
                notice = f"“{campaign.display_name}” now has exactly the Plans SAP MC references."
            if asked and count < asked:
                left = asked - count
                notice += (
                    f" {count} of the {_plans(asked)} the question named changed; {left} "
                    f"{'was' if left == 1 else 'were'} changed meanwhile (kept, decided or moved "
                    "by someone else) and left as they are."
                )
            else:
                notice += f" {_plans(count)} changed."
            return _after_action(request, state, Feedback(notice=notice, undo_event=event.pk))
        event = services.drift_keep_bridge(campaign=campaign, acting_user=request.user, plans=plans)
    except services.AssignmentError as exc:
        return _after_action(request, state, Feedback(error=str(exc)))
    if event is None:
        notice = "Nothing to keep: no open difference."
    elif plans is None:
        notice = f"Kept the bridge's Plans for “{campaign.display_name}”."
    else:
        notice = f"Kept the bridge's side for “{plans[0].display_name}”."
    return _after_action(request, state, Feedback(notice=notice))


@manager_action("The workbench is for marketing managers and sync admins.")
def workbench_undo(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Undo an adoption of SAP MC's side: the previous assignments come back, audited."""
    state = _state(request.POST)
    form = UndoForm(request.POST)
    if not form.is_valid():
        return _undo_refused(request, state, _form_error(form))
    event = AuditEvent.objects.filter(pk=form.cleaned_data["event"]).first()
    if event is None:
        return _undo_refused(request, state, "There is no such audit row to undo.")
    try:
        undo = services.drift_undo(event=event, acting_user=request.user)
    except services.AssignmentError as exc:
        return _undo_refused(request, state, str(exc))
    count = len(undo.after["plans"])
    feedback = Feedback(
        notice=f"Undone: {_plans(count)} back where {'it was' if count == 1 else 'they were'}."
    )
    if request.POST.get("next") == "audit":
        messages.success(request, feedback.notice)
        return _back_to_audit(request)
    if request.POST.get("next") == "dashboard":
        messages.success(request, feedback.notice)
        return redirect("dashboard")
    return _after_action(request, state, feedback)


def _undo_refused(request: AuthenticatedHttpRequest, state: QueryDict, error: str) -> HttpResponse:
    """Why an undo did nothing, said where it was pressed: the audit page, the dashboard or the
    workbench."""
    if request.POST.get("next") == "audit":
        messages.error(request, error)
        return _back_to_audit(request)
    if request.POST.get("next") == "dashboard":
        messages.error(request, error)
        return redirect("dashboard")
    return _after_action(request, state, Feedback(error=error))


def _back_to_audit(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The audit page the Undo was pressed on, with its filters and page: the trail unfiltered
    lost the person's place (and the row they had just undone)."""
    # Read back as a query string and written out again: only the audit page's own parameters
    # can come of it, never another address.
    query = QueryDict(request.POST.get("audit_query", "")[:2000]).urlencode()
    return redirect(reverse("audit") + (f"?{query}" if query else ""))
