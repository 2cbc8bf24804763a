"""Writes of the human side: assignments, drift decisions and access grants, each audited.

Every write checks here, for every caller (page, admin, command), that the acting user may make
it: a Plan outside a manager's grants is refused with NotAllowedError (a PermissionDenied, so a
page answers 403 with its message). Views do not check grants again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule

from campaigns.access import NotAllowedError, can_assign_plan, can_use_workbench, is_sync_admin
from campaigns.audit_text import campaign_name_of, plan_name_of
from campaigns.models import Assignment, AuditEvent, DriftDecision, InitiativeGrant
from campaigns.selectors import DriftItem, campaign_drift
from khoros.models import Initiative, Plan
from sapmc.models import ExternalCampaign, SuccessSent
from smcbridge.fields import fit
from syncs.schedules import schedule_switched_on

# What a page says to a manager about a Plan outside her grants: the Plan's name is hers to see
# only if the Plan is.
NOT_YOURS = "This Plan belongs to an Initiative you have no access to."


class AssignmentError(Exception):
    """An assignment the rules refuse; the message is meant for the person who asked."""


class AssignmentConflictError(AssignmentError):
    """The Plan already feeds another campaign: the caller may offer a move instead."""

    def __init__(self, message: str, *, current: Assignment) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class Refusal:
    plan: Plan
    reason: str
    conflict: bool  # the Plan feeds another campaign: a move is possible
    current: Assignment | None = None  # for a conflict: the assignment found in the way


@dataclass
class BulkResult:
    created: list[Assignment] = field(default_factory=list)
    already: list[Plan] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _assignment_state(plan: Plan, campaign: ExternalCampaign, note: str) -> dict[str, object]:
    """What an audit row keeps of an assignment: names too, since rows outlive renames."""
    return {
        "plan": str(plan.khoros_id),
        "plan_name": plan.name,
        "campaign": str(campaign.sap_uuid),
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.name,
        "note": note,
    }


def audit_record(
    *,
    actor: User | None,
    action: str,
    summary: str,
    campaign: ExternalCampaign | None = None,
    plan: Plan | None = None,
    before: object = None,
    after: object = None,
) -> AuditEvent:
    """Write one audit row; call it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "system",
        action=action,
        campaign=campaign,
        plan=plan,
        summary=fit(AuditEvent, "summary", summary),
        before=before,
        after=after,
    )


def _require_granted(acting_user: User, plans: Iterable[Plan], *, name_plan: bool = False) -> None:
    """Refuse unless the user may act on every one of `plans`: a sync admin on any, a manager on
    the Plans of her granted Initiatives (nobody else on any).

    `name_plan` names the refused Plan, for Plans the service found itself (whose names the
    person has seen); a Plan the caller named is refused without its name.
    """
    for plan in plans:
        if not can_assign_plan(acting_user, plan):
            raise NotAllowedError(
                f"Plan “{plan.display_name}” belongs to an Initiative you have no access to."
                if name_plan
                else NOT_YOURS
            )


# An assignment as its audit row keeps it: the campaign the Plan feeds and the person's note.
Fed = tuple[ExternalCampaign, str]


def _audit_assignment(*, acting_user: User, plan: Plan, old: Fed | None, new: Fed | None) -> None:
    """The one audit row of an assignment change from `old` to `new` (None: feeding nothing):
    an assignment, an unassignment or a move, filed under the campaign the Plan feeds after it
    (or fed before, when it feeds none now)."""
    if old is None and new is not None:
        action, campaign = AuditEvent.Action.ASSIGNMENT_CREATE, new[0]
        summary = f"Assigned Plan “{plan.display_name}” to campaign “{campaign.display_name}”"
    elif old is not None and new is None:
        action, campaign = AuditEvent.Action.ASSIGNMENT_DELETE, old[0]
        summary = f"Unassigned Plan “{plan.display_name}” from campaign “{campaign.display_name}”"
    elif old is not None and new is not None:
        action, campaign = AuditEvent.Action.ASSIGNMENT_MOVE, new[0]
        summary = (
            f"Moved Plan “{plan.display_name}” from “{old[0].display_name}” "
            f"to “{campaign.display_name}”"
        )
    else:
        raise ValueError("An assignment change feeds a campaign before or after it.")
    audit_record(
        actor=acting_user,
        action=action,
        summary=summary,
        campaign=campaign,
        plan=plan,
        before=_assignment_state(plan, *old) if old is not None else None,
        after=_assignment_state(plan, *new) if new is not None else None,
    )


def _check_assignable(*, campaign: ExternalCampaign, plan: Plan, acting_user: User) -> None:
    _require_granted(acting_user, [plan])
    if plan.removed_at is not None:
        raise AssignmentError(
            f"Plan “{plan.display_name}” was removed in Khoros and cannot be assigned."
        )
    if campaign.removed_at is not None:
        raise AssignmentError(
            f"Campaign “{campaign.display_name}” was removed in SAP MC and takes no new Plans."
        )


@transaction.atomic
def assignment_create(
    *,
    campaign: ExternalCampaign,
    plan: Plan,
    acting_user: User,
    note: str = "",
    audit: bool = True,
) -> Assignment:
    """Assign `plan` to `campaign`; refuse if it feeds another campaign (offer a move).

    `audit=False` is for a caller that records the change in its own single audit row (a drift
    decision or its undo), so one real change never has two rows.
    """
    return assignment_create_or_found(
        campaign=campaign, plan=plan, acting_user=acting_user, note=note, audit=audit
    ).assignment


@dataclass(frozen=True)
class Assigned:
    """An assignment asked for: the Plan's assignment and whether this request made it (False:
    the Plan fed the campaign already, perhaps since a moment ago, and nothing changed)."""

    assignment: Assignment
    created: bool


@transaction.atomic
def assignment_create_or_found(
    *,
    campaign: ExternalCampaign,
    plan: Plan,
    acting_user: User,
    note: str = "",
    audit: bool = True,
) -> Assigned:
    """assignment_create, saying whether it assigned: a form sent twice, or the same Plan
    assigned to the same campaign by two people at once, is told the second time that nothing
    changed (not "assigned", and not a conflict with a move to where the Plan already is)."""
    _check_assignable(campaign=campaign, plan=plan, acting_user=acting_user)
    # The Plan's row first, as a drift decision locks it before it writes: an assignment's
    # insert checks its Plan (a key-share lock) after taking its place in the unique index,
    # which crossed with an adoption of the same Plan into a deadlock on PostgreSQL (a 500).
    _lock_plans([plan])
    current = Assignment.objects.select_related("campaign").filter(plan=plan).first()
    if current is None:
        try:
            with transaction.atomic():
                assignment = Assignment.objects.create(
                    plan=plan,
                    campaign=campaign,
                    assigned_by=acting_user,
                    assigned_at=timezone.now(),
                    note=fit(Assignment, "note", note.strip()),
                )
        except IntegrityError:
            # Someone assigned it between our read and our write (on PostgreSQL the insert
            # waited for their commit): judged below like an assignment found at once.
            current = Assignment.objects.select_related("campaign").get(plan=plan)
            if current.campaign_id != campaign.pk:
                raise AssignmentConflictError(
                    f"Plan “{plan.display_name}” was just assigned to "
                    f"“{current.campaign.display_name}” by someone else.",
                    current=current,
                ) from None
        else:
            if audit:
                new = (campaign, assignment.note)
                _audit_assignment(acting_user=acting_user, plan=plan, old=None, new=new)
            return Assigned(assignment, created=True)
    if current.campaign_id == campaign.pk:
        return Assigned(current, created=False)  # Nothing changes, nothing is audited.
    raise AssignmentConflictError(
        f"Plan “{plan.display_name}” already feeds campaign “{current.campaign.display_name}”. "
        "Move it to this campaign instead?",
        current=current,
    )


@transaction.atomic
def assignment_delete(
    *, campaign: ExternalCampaign, plan: Plan, acting_user: User, audit: bool = True
) -> None:
    """Take `plan` off `campaign`; its KPIs and audit trail stay.

    The Plan's assignment row is locked before it is judged: a move or an unassign running at
    the same time either finished before (and is seen) or waits for this one. Without the lock a
    concurrent move was deleted under its own audit row and this one named the old campaign.
    """
    _require_granted(acting_user, [plan])
    # No join in the locking query: PostgreSQL re-checks a join against the row as it was
    # before a concurrent move and would report the moved row as gone.
    assignment = Assignment.objects.select_for_update().filter(plan=plan).first()
    if assignment is None:
        # Unassigned already (the form sent twice, or by someone else meanwhile): say so.
        raise AssignmentError(
            f"Plan “{plan.display_name}” does not feed campaign “{campaign.display_name}” any "
            "more: it is unassigned already, nothing changed."
        )
    if assignment.campaign_id != campaign.pk:
        raise AssignmentError(
            f"Plan “{plan.display_name}” does not feed campaign “{campaign.display_name}”: it "
            f"now feeds “{assignment.campaign.display_name}”, nothing was unassigned."
        )
    old = (assignment.campaign, assignment.note)
    Assignment.objects.filter(pk=assignment.pk).delete()
    if audit:
        _audit_assignment(acting_user=acting_user, plan=plan, old=old, new=None)


@dataclass(frozen=True)
class MoveResult:
    """What a move did: the Plan's assignment now and the campaign it fed before (None: it fed
    none, so the move was an assignment; `to_campaign` itself: nothing changed)."""

    assignment: Assignment
    from_campaign: ExternalCampaign | None


@transaction.atomic
def assignment_move(
    *,
    plan: Plan,
    to_campaign: ExternalCampaign,
    acting_user: User,
    note: str = "",
    audit: bool = True,
) -> MoveResult:
    """Move `plan` from the campaign it feeds to `to_campaign`, in one audited step."""
    _check_assignable(campaign=to_campaign, plan=plan, acting_user=acting_user)
    # Locked without a join (see assignment_delete); its campaign is read after the lock.
    current = Assignment.objects.select_for_update().filter(plan=plan).first()
    if current is None:
        # Unassigned since the person saw it feed another campaign: this is an assignment, and
        # is audited (and must be reported) as one.
        assigned = assignment_create_or_found(
            campaign=to_campaign, plan=plan, acting_user=acting_user, note=note, audit=audit
        )
        # Assigned there by someone else at the same moment: nothing changed.
        return MoveResult(assigned.assignment, None if assigned.created else to_campaign)
    if current.campaign_id == to_campaign.pk:
        return MoveResult(current, from_campaign=to_campaign)
    old = (current.campaign, current.note)
    current.campaign = to_campaign
    current.assigned_by = acting_user
    current.assigned_at = timezone.now()
    current.note = fit(Assignment, "note", note.strip())
    current.save(update_fields=["campaign", "assigned_by", "assigned_at", "note"])
    if audit:
        new = (to_campaign, current.note)
        _audit_assignment(acting_user=acting_user, plan=plan, old=old, new=new)
    return MoveResult(current, from_campaign=old[0])


def assignments_bulk_create(
    *,
    campaign: ExternalCampaign,
    plans: Iterable[Plan],
    acting_user: User,
    note: str = "",
) -> BulkResult:
    """Assign several Plans at once; each one succeeds or is refused on its own."""
    result = BulkResult()
    plans = list(plans)
    already = set(
        Assignment.objects.filter(plan__in=plans, campaign=campaign).values_list(
            "plan_id", flat=True
        )
    )
    for plan in plans:
        if plan.pk in already:
            result.already.append(plan)
            continue
        try:
            assigned = assignment_create_or_found(
                campaign=campaign, plan=plan, acting_user=acting_user, note=note
            )
        except AssignmentConflictError as exc:
            result.refused.append(Refusal(plan, str(exc), conflict=True, current=exc.current))
        except (AssignmentError, NotAllowedError) as exc:
            result.refused.append(Refusal(plan, str(exc), conflict=False))
        else:
            if assigned.created:
                result.created.append(assigned.assignment)
            else:  # assigned here by someone else since `already` was read
                result.already.append(plan)
    return result


def _campaign_state(campaign: ExternalCampaign | None) -> dict[str, str] | None:
    if campaign is None:
        return None
    return {
        "campaign": str(campaign.sap_uuid),
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.name,
    }


def _plan_change(
    plan: Plan, before: ExternalCampaign | None, after: ExternalCampaign | None
) -> tuple[dict[str, object], dict[str, object]]:
    """One Plan's assignment before and after, as an audit row keeps it (undo reads it)."""
    head = {"plan": str(plan.khoros_id), "plan_name": plan.name}
    return {**head, **(_campaign_state(before) or {"campaign": None})}, {
        **head,
        **(_campaign_state(after) or {"campaign": None}),
    }


def _check_drift_access(
    acting_user: User, plans: Iterable[Plan], *, name_plan: bool = True
) -> None:
    """Sync admins decide drift on any Plan, managers on the Plans of their own Initiatives."""
    if not can_use_workbench(acting_user):
        raise NotAllowedError("Drift is decided by marketing managers and sync admins.")
    _require_granted(acting_user, plans, name_plan=name_plan)


def _decided_plans(acting_user: User, plans: Iterable[Plan] | None) -> list[Plan] | None:
    """The Plans a caller asks to decide (None: all the campaign's the user may see), checked
    before anything else is judged."""
    if plans is None:
        return None
    plans = list(plans)
    _check_drift_access(acting_user, plans, name_plan=False)
    return plans


def _lock_plans(plans: Iterable[Plan]) -> None:
    """Lock these Plans' rows (in key order, so two deciders never deadlock): a second decision
    on the same Plans waits, then judges what the first one left, and writes nothing twice."""
    list(Plan.objects.select_for_update().filter(pk__in=[p.pk for p in plans]).order_by("pk"))


def _chosen(items: list[DriftItem], plans: Iterable[Plan] | None) -> list[DriftItem]:
    if plans is None:
        return items
    wanted = {p.pk for p in plans}
    return [i for i in items if i.plan.pk in wanted]


@dataclass(frozen=True)
class AdoptPlanChange:
    plan: Plan
    from_campaign: ExternalCampaign | None
    to_campaign: ExternalCampaign


def drift_adopt_preview(
    *, campaign: ExternalCampaign, acting_user: User, plans: Iterable[Plan] | None
) -> list[AdoptPlanChange]:
    """What adopting SAP MC's side would change, Plan by Plan, without changing anything."""
    return _adopt_changes(campaign, acting_user, _decided_plans(acting_user, plans))


def _adopt_changes(
    campaign: ExternalCampaign, acting_user: User, plans: list[Plan] | None
) -> list[AdoptPlanChange]:
    drift = campaign_drift(campaign=campaign, user=acting_user)
    return [
        AdoptPlanChange(item.plan, item.bridge_campaign, target)
        for item in _chosen(drift.adoptable, plans)
        if (target := item.adopt_target) is not None  # always, for an adoptable item
    ]


@transaction.atomic
def drift_adopt_sap(
    *,
    campaign: ExternalCampaign,
    acting_user: User,
    plans: Iterable[Plan] | None = None,
) -> AuditEvent | None:
    """Give these differing Plans (all the campaign's, by default) the campaign SAP MC puts them
    under: assigned where unassigned, moved where the bridge has them elsewhere.

    Pending Plans (assigned here, not yet in SAP MC) are never touched: that is the normal state
    after an assignment. One audit row holds every Plan's before and after, which is what undo
    restores. Returns it, or None when nothing differed any more.
    """
    plans = _decided_plans(acting_user, plans)
    if campaign.removed_at is not None:
        raise AssignmentError(f"Campaign “{campaign.display_name}” was removed in SAP MC.")
    changes = _adopt_changes(campaign, acting_user, plans)
    if changes:
        # Judged again once the Plans are locked, as a keep is: a keep made while this one was
        # confirmed (it held the locks) stands, instead of being adopted over and its decision
        # deleted, as it would have stood a minute later.
        _lock_plans(c.plan for c in changes)
        locked = {c.plan.pk for c in changes}
        changes = _adopt_changes(campaign, acting_user, plans)
        _lock_plans(c.plan for c in changes if c.plan.pk not in locked)
    _check_drift_access(acting_user, [c.plan for c in changes])
    before: list[dict[str, object]] = []
    after: list[dict[str, object]] = []
    done = []
    for change in changes:
        # Judged again under the Plan's row lock: what the preview read may have changed since,
        # and the audit row must hold what was really replaced (undo puts exactly that back).
        current = Assignment.objects.select_for_update().filter(plan=change.plan).first()
        from_campaign = current.campaign if current is not None else None
        if from_campaign is not None and from_campaign.pk == change.to_campaign.pk:
            continue
        # Through the assignment services (their checks and row locks), audited once below.
        assignment_move(
            plan=change.plan,
            to_campaign=change.to_campaign,
            acting_user=acting_user,
            note="Adopted from SAP MC",
            audit=False,
        )
        old, new = _plan_change(change.plan, from_campaign, change.to_campaign)
        if current is not None:
            old["note"] = current.note  # undo puts the person's note back too
        before.append(old)
        after.append(new)
        done.append(AdoptPlanChange(change.plan, from_campaign, change.to_campaign))
    changes = done
    if not changes:
        return None
    # The Plans now agree with SAP MC; an old "keep" no longer means anything.
    DriftDecision.objects.filter(plan__in=[c.plan for c in changes]).delete()
    moved = sum(1 for c in changes if c.from_campaign is not None)
    summary = (
        f"Adopted SAP MC's side for {len(changes)} Plan{'s' if len(changes) != 1 else ''} "
        f"of campaign “{campaign.display_name}”"
    )
    if moved:
        summary += (
            f" ({moved} moved from {'another campaign' if moved == 1 else 'other campaigns'})"
        )
    return audit_record(
        actor=acting_user,
        action=AuditEvent.Action.DRIFT_ADOPT_SAP,
        summary=summary,
        campaign=campaign,
        plan=changes[0].plan if len(changes) == 1 else None,
        before={"plans": before},
        after={"plans": after},
    )


def drift_undo_problem(event: AuditEvent) -> str:
    """Why this audit row cannot be undone, or "" if it can (undone rows are found by a query)."""
    return _undo_shape_problem(event) or _undone_problem(event)


def _undo_shape_problem(event: AuditEvent) -> str:
    """Why this row is no adoption undo can read, or ""."""
    if event.action != AuditEvent.Action.DRIFT_ADOPT_SAP:
        return "Only an adoption of SAP MC's side can be undone."
    if not isinstance(event.before, dict) or not isinstance(event.before.get("plans"), list):
        return "This adoption was recorded before undo existed: change the Plans by hand."
    return ""


def _undone_problem(event: AuditEvent) -> str:
    if AuditEvent.objects.filter(action=AuditEvent.Action.DRIFT_UNDO, before__undoes=event.pk):
        return "This adoption was already undone."
    return ""


@transaction.atomic
def drift_undo(*, event: AuditEvent, acting_user: User) -> AuditEvent:
    """Put back the assignments an adoption of SAP MC's side changed, audited as one row.

    All or nothing: if any of its Plans was changed since (by anyone), nothing is undone and the
    message names the Plan, so a later decision is never silently overwritten.
    """
    # The row is locked so two undos of one adoption cannot both pass the check below.
    event = AuditEvent.objects.select_for_update().get(pk=event.pk)
    problem = _undo_shape_problem(event)
    if problem:
        raise AssignmentError(problem)
    found = {
        str(plan.khoros_id): plan
        for plan in Plan.objects.filter(
            khoros_id__in=[old["plan"] for old in event.before["plans"]]
        ).select_related("initiative")
    }
    # Every Plan of the row is the user's, before anything is said of them. Unnamed: the caller
    # named an audit row, not a Plan, and a manager can post any row's number; named, the
    # refusal read out the Plans of other Initiatives one by one, and "already undone" or
    # "changed after the adoption" told her what had become of them.
    _check_drift_access(acting_user, found.values(), name_plan=False)
    problem = _undone_problem(event)
    if problem:
        raise AssignmentError(problem)
    restores = []
    for old, new in zip(event.before["plans"], event.after["plans"], strict=True):
        plan = found.get(old["plan"])
        if plan is None:
            raise AssignmentError(f"Plan “{plan_name_of(old)}” is no longer mirrored.")
        current = (
            Assignment.objects.select_for_update().filter(plan=plan).select_related("campaign")
        ).first()
        now_at = str(current.campaign.sap_uuid) if current is not None else None
        if now_at != new["campaign"]:
            raise AssignmentError(
                f"Plan “{plan.display_name}” was changed after the adoption: nothing was undone."
            )
        target = (
            ExternalCampaign.objects.filter(sap_uuid=old["campaign"]).first()
            if old["campaign"]
            else None
        )
        if old["campaign"] and target is None:
            raise AssignmentError(f"Campaign “{campaign_name_of(old)}” is no longer mirrored.")
        restores.append((plan, current, target, str(old.get("note") or "")))
    for plan, current, target, note in restores:
        if target is None:
            assignment_delete(  # undoing a move to no campaign: the check above found the Plan
                campaign=current.campaign,  # type: ignore[union-attr]  # assigned as adopted
                plan=plan,
                acting_user=acting_user,
                audit=False,
            )
        else:
            assignment_move(
                plan=plan,
                to_campaign=target,
                acting_user=acting_user,
                note=note,
                audit=False,
            )
    count = len(restores)
    return audit_record(
        actor=acting_user,
        action=AuditEvent.Action.DRIFT_UNDO,
        summary=f"Undid the adoption of SAP MC's side for {count} Plan{'s' if count != 1 else ''}"
        + (f" of campaign “{event.campaign.display_name}”" if event.campaign else ""),
        campaign=event.campaign,
        plan=event.plan,
        before={"undoes": event.pk, "plans": event.after["plans"]},
        after={"plans": event.before["plans"]},
    )


@transaction.atomic
def drift_keep_bridge(
    *,
    campaign: ExternalCampaign,
    acting_user: User,
    plans: Iterable[Plan] | None = None,
) -> AuditEvent | None:
    """Keep the bridge's assignments of these differing Plans (all open ones by default).

    Each decision records both sides as they are now; a later change on either side is a new
    difference and shows again. Returns the one audit row, or None when nothing was open.
    """
    plans = _decided_plans(acting_user, plans)
    items = _chosen(campaign_drift(campaign=campaign, user=acting_user).open, plans)
    if items:
        # Judged again once the Plans are locked: a keep made meanwhile is not made twice.
        _lock_plans(i.plan for i in items)
        items = _chosen(campaign_drift(campaign=campaign, user=acting_user).open, plans)
    _check_drift_access(acting_user, [i.plan for i in items])
    if not items:
        return None
    now = timezone.now()
    for item in items:
        sap_campaigns, bridge_campaign = item.fingerprint()
        DriftDecision.objects.update_or_create(
            plan=item.plan,
            defaults={
                "sap_campaigns": sap_campaigns,
                "bridge_campaign_id": bridge_campaign,
                "decided_by": acting_user,
                "decided_at": now,
            },
        )
    states = [item.as_state() for item in items]
    return audit_record(
        actor=acting_user,
        action=AuditEvent.Action.DRIFT_KEEP_BRIDGE,
        summary=(
            f"Kept the bridge's side for {len(items)} Plan{'s' if len(items) != 1 else ''} "
            f"of campaign “{campaign.display_name}” against SAP MC"
        ),
        campaign=campaign,
        plan=items[0].plan if len(items) == 1 else None,
        before={"plans": states},
        after={"kept": [s["plan_name"] for s in states]},
    )


@transaction.atomic
def grant_create(*, user: User, initiative: Initiative, acting_user: User) -> InitiativeGrant:
    """Let a manager see and assign the Plans of `initiative`."""
    grant, created = InitiativeGrant.objects.get_or_create(
        user=user, initiative=initiative, defaults={"granted_by": acting_user}
    )
    if created:
        audit_record(
            actor=acting_user,
            action=AuditEvent.Action.GRANT_CREATE,
            summary=(
                f"Granted {user.get_username()} access to Initiative “{initiative.display_name}”"
            ),
            before=None,
            after={"user": user.get_username(), "initiative": initiative.khoros_id},
        )
    return grant


@transaction.atomic
def grant_delete(*, grant: InitiativeGrant, acting_user: User) -> bool:
    """Revoke a grant; assignments already made stay (they are the campaign's, not the user's).

    False when it was revoked already: two admins (or two windows) revoking it at the same
    moment wrote two rows for one revocation; the row lock makes the second wait and find it
    gone.
    """
    if not list(InitiativeGrant.objects.select_for_update().filter(pk=grant.pk).values("pk")):
        return False
    state = {"user": grant.user.get_username(), "initiative": grant.initiative.khoros_id}
    summary = (
        f"Revoked {grant.user.get_username()}'s access to Initiative "
        f"“{grant.initiative.display_name}”"
    )
    grant.delete()
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.GRANT_DELETE,
        summary=summary,
        before=state,
        after=None,
    )
    return True


class ScheduleChangedError(Exception):
    """The schedule changed after the page showed it: nothing was saved."""

    def __init__(self, message: str, *, current: Schedule) -> None:
        super().__init__(message)
        self.current = current


def _schedule_changed(schedule: Schedule) -> ScheduleChangedError:
    state = "on" if schedule.repeats != 0 else "off"
    return ScheduleChangedError(
        f"it was changed meanwhile and is now every {schedule.minutes} min, {state}",
        current=schedule,
    )


@dataclass(frozen=True)
class ScheduleUpdate:
    """A schedule after an edit, and whether the edit changed it (False: it was so already)."""

    schedule: Schedule
    changed: bool


@transaction.atomic
def schedule_update(
    *,
    schedule: Schedule,
    minutes: int,
    enabled: bool,
    acting_user: User,
    seen_minutes: int | None = None,
    seen_enabled: bool | None = None,
) -> ScheduleUpdate:
    """Change a background schedule's interval or switch it on or off, audited.

    With `seen_minutes` and `seen_enabled` (what the person's page showed), a schedule changed
    since is left as it is and ScheduleChangedError says what it is now, unless it is now what
    the person asks for: the same form sent twice (a reload, a double click) or the same change
    made in another window is no conflict, and is answered as nothing to change.
    """
    if not is_sync_admin(acting_user):
        raise NotAllowedError("Only sync admins change schedules.")
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    before = {"minutes": schedule.minutes, "enabled": schedule.repeats != 0}
    after = {"minutes": minutes, "enabled": enabled}
    if before == after:
        return ScheduleUpdate(schedule, changed=False)
    if seen_minutes is not None and {"minutes": seen_minutes, "enabled": seen_enabled} != before:
        raise _schedule_changed(schedule)
    now = timezone.now()
    next_run = schedule.next_run
    if enabled and not before["enabled"]:
        # Switched back on: due at once, once (catch_up is off), as the page says, whatever the
        # interval becomes and however soon its old due time; the runs after it follow the new
        # interval.
        next_run = now
    elif minutes != schedule.minutes:
        # The new interval counts from the last due time (the old due time less the old
        # interval), never later than from now: keeping the old due time could run it far too
        # late, and counting from now would leave data older than the new interval waiting a
        # whole interval more (daily -> hourly, last run 10 hours ago: due now, not in an hour).
        new_interval = timedelta(minutes=minutes)
        last_due = (
            schedule.next_run - timedelta(minutes=schedule.minutes) if schedule.next_run else now
        )
        next_run = min(now + new_interval, max(now, last_due + new_interval))
    # One conditional UPDATE on the values just read: the row lock holds them on PostgreSQL,
    # and where a lock is not taken the WHERE still refuses to write over a change.
    unchanged = Schedule.objects.filter(pk=schedule.pk, minutes=before["minutes"])
    unchanged = unchanged.exclude(repeats=0) if before["enabled"] else unchanged.filter(repeats=0)
    # django-q2 skips schedules whose repeats is 0; -1 repeats for ever.
    repeats = -1 if enabled else 0
    if not unchanged.update(minutes=minutes, repeats=repeats, next_run=next_run):
        raise _schedule_changed(Schedule.objects.get(pk=schedule.pk))
    schedule.minutes, schedule.repeats, schedule.next_run = minutes, repeats, next_run
    if enabled and not before["enabled"]:
        schedule_switched_on(schedule)
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.SCHEDULE_UPDATE,
        summary=f"Schedule “{schedule.name}”: every {minutes} min, {'on' if enabled else 'off'}",
        before=before,
        after=after,
    )
    return ScheduleUpdate(schedule, changed=True)


# What a sync admin found in SAP MC for a success row of unknown outcome.
PUSH_ARRIVED = "arrived"  # the row is in SAP MC: it stays sent and is never sent again
PUSH_RESEND = "resend"  # it is not: the ledger forgets it and the next push sends the day
PUSH_RESOLUTIONS = (PUSH_ARRIVED, PUSH_RESEND)


@transaction.atomic
def push_outcomes_resolve(
    *, campaign: ExternalCampaign, entry_ids: list[int], resolution: str, acting_user: User
) -> list[AuditEvent | None]:
    """push_outcome_resolve for each of these rows, in one transaction: one audit row per row
    settled, None for each settled meanwhile."""
    return [
        push_outcome_resolve(
            campaign=campaign, entry_id=entry_id, resolution=resolution, acting_user=acting_user
        )
        for entry_id in entry_ids
    ]


@transaction.atomic
def push_outcome_resolve(
    *, campaign: ExternalCampaign, entry_id: int, resolution: str, acting_user: User
) -> AuditEvent | None:
    """Settle a success-push row whose outcome is unknown, once a person has looked in SAP MC.

    The push never sends such a row again by itself: SAP MC may hold it, and a second POST
    would count the day twice. Returns the audit row, or None when the row is no longer of
    unknown outcome on this campaign's page (settled meanwhile, from another window or by
    another admin).
    """
    if not is_sync_admin(acting_user):
        raise NotAllowedError("Only sync admins can settle what the success push sent.")
    if resolution not in PUSH_RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}")
    entry = (
        SuccessSent.objects.select_for_update()
        .select_related("plan", "campaign")
        .filter(pk=entry_id, campaign=campaign, status=SuccessSent.Status.UNKNOWN)
        .first()
    )
    if entry is None:
        return None
    before = {
        # The ids beside the names: the audit page shows a blank name by them.
        "plan": str(entry.plan.khoros_id),
        "plan_name": entry.plan.name,
        "campaign_id": entry.campaign.campaign_id,
        "campaign_name": entry.campaign.name,
        "day": entry.day.isoformat(),
        "status": entry.status,
        "message": entry.message,
        "run": entry.run_id,
    }
    day = entry.day.isoformat()
    if resolution == PUSH_ARRIVED:
        entry.status = SuccessSent.Status.CREATED
        entry.message = fit(
            SuccessSent, "message", f"Found in SAP MC by {acting_user.get_username()}"
        )
        entry.save(update_fields=["status", "message"])
        # Both fields it changed: the audit trail reads a field missing here as unchanged.
        after: dict[str, object] = {"status": entry.status, "message": entry.message}
        summary = f"Marked {day} of “{entry.plan.display_name}” as in SAP MC (never sent again)"
    else:
        entry.delete()
        after = {"status": "due again"}
        summary = (
            f"Marked {day} of “{entry.plan.display_name}” as missing in SAP MC (sent next push)"
        )
    return audit_record(
        actor=acting_user,
        action=AuditEvent.Action.PUSH_RESOLVE,
        summary=summary,
        campaign=entry.campaign,
        plan=entry.plan,
        before=before,
        after=after,
    )
