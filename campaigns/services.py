"""Writes of the human side: assignments, drift decisions and access grants, each audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule

from campaigns.access import can_assign_plan, is_sync_admin
from campaigns.models import Assignment, AuditEvent, InitiativeGrant
from campaigns.selectors import campaign_drift
from khoros.models import Initiative, Plan
from sapmc.models import ExternalCampaign
from smcbridge.fields import fit


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
    actor: AbstractBaseUser | None,
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


def _check_assignable(
    *, campaign: ExternalCampaign, plan: Plan, acting_user: AbstractBaseUser
) -> None:
    if not can_assign_plan(acting_user, plan):
        raise PermissionDenied("This Plan belongs to an Initiative you have no access to.")
    if plan.removed_at is not None:
        raise AssignmentError(f"Plan “{plan.name}” was removed in Khoros and cannot be assigned.")
    if campaign.removed_at is not None:
        raise AssignmentError(
            f"Campaign “{campaign.name}” was removed in SAP MC and takes no new Plans."
        )


@transaction.atomic
def assignment_create(
    *, campaign: ExternalCampaign, plan: Plan, acting_user: AbstractBaseUser, note: str = ""
) -> Assignment:
    """Assign `plan` to `campaign`; refuse if it feeds another campaign (offer a move)."""
    _check_assignable(campaign=campaign, plan=plan, acting_user=acting_user)
    current = Assignment.objects.select_related("campaign").filter(plan=plan).first()
    if current is not None:
        if current.campaign_id == campaign.pk:
            return current  # Assigning twice is harmless: nothing changes, nothing is audited.
        raise AssignmentConflictError(
            f"Plan “{plan.name}” already feeds campaign “{current.campaign.name}”. "
            "Move it to this campaign instead?",
            current=current,
        )
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
        # Someone assigned it between our read and our write: report it like any conflict.
        current = Assignment.objects.select_related("campaign").get(plan=plan)
        raise AssignmentConflictError(
            f"Plan “{plan.name}” was just assigned to “{current.campaign.name}” by someone else.",
            current=current,
        ) from None
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.ASSIGNMENT_CREATE,
        summary=f"Assigned Plan “{plan.name}” to campaign “{campaign.name}”",
        campaign=campaign,
        plan=plan,
        before=None,
        after=_assignment_state(plan, campaign, assignment.note),
    )
    return assignment


@transaction.atomic
def assignment_delete(
    *, campaign: ExternalCampaign, plan: Plan, acting_user: AbstractBaseUser
) -> None:
    """Take `plan` off `campaign`; its KPIs and audit trail stay.

    The Plan's assignment row is locked before it is judged: a move or an unassign running at
    the same time either finished before (and is seen) or waits for this one. Without the lock a
    concurrent move was deleted under its own audit row and this one named the old campaign.
    """
    if not can_assign_plan(acting_user, plan):
        raise PermissionDenied("This Plan belongs to an Initiative you have no access to.")
    # No join in the locking query: PostgreSQL re-checks a join against the row as it was
    # before a concurrent move and would report the moved row as gone.
    assignment = Assignment.objects.select_for_update().filter(plan=plan).first()
    if assignment is None:
        raise AssignmentError(f"Plan “{plan.name}” does not feed campaign “{campaign.name}”.")
    if assignment.campaign_id != campaign.pk:
        raise AssignmentError(
            f"Plan “{plan.name}” does not feed campaign “{campaign.name}”: it now feeds "
            f"“{assignment.campaign.name}”, nothing was unassigned."
        )
    before = _assignment_state(plan, assignment.campaign, assignment.note)
    Assignment.objects.filter(pk=assignment.pk).delete()
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.ASSIGNMENT_DELETE,
        summary=f"Unassigned Plan “{plan.name}” from campaign “{assignment.campaign.name}”",
        campaign=assignment.campaign,
        plan=plan,
        before=before,
        after=None,
    )


@transaction.atomic
def assignment_move(
    *, plan: Plan, to_campaign: ExternalCampaign, acting_user: AbstractBaseUser, note: str = ""
) -> Assignment:
    """Move `plan` from the campaign it feeds to `to_campaign`, in one audited step."""
    _check_assignable(campaign=to_campaign, plan=plan, acting_user=acting_user)
    # Locked without a join (see assignment_delete); its campaign is read after the lock.
    current = Assignment.objects.select_for_update().filter(plan=plan).first()
    if current is None:
        return assignment_create(
            campaign=to_campaign, plan=plan, acting_user=acting_user, note=note
        )
    if current.campaign_id == to_campaign.pk:
        return current
    before = _assignment_state(plan, current.campaign, current.note)
    from_name = current.campaign.name
    current.campaign = to_campaign
    current.assigned_by = acting_user
    current.assigned_at = timezone.now()
    current.note = fit(Assignment, "note", note.strip())
    current.save(update_fields=["campaign", "assigned_by", "assigned_at", "note"])
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.ASSIGNMENT_MOVE,
        summary=f"Moved Plan “{plan.name}” from “{from_name}” to “{to_campaign.name}”",
        campaign=to_campaign,
        plan=plan,
        before=before,
        after=_assignment_state(plan, to_campaign, current.note),
    )
    return current


def assignments_bulk_create(
    *,
    campaign: ExternalCampaign,
    plans: Iterable[Plan],
    acting_user: AbstractBaseUser,
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
            assignment = assignment_create(
                campaign=campaign, plan=plan, acting_user=acting_user, note=note
            )
        except AssignmentConflictError as exc:
            result.refused.append(Refusal(plan, str(exc), conflict=True))
        except (AssignmentError, PermissionDenied) as exc:
            result.refused.append(Refusal(plan, str(exc), conflict=False))
        else:
            result.created.append(assignment)
    return result


@transaction.atomic
def drift_adopt_sap(*, campaign: ExternalCampaign, acting_user: AbstractBaseUser) -> None:
    """Make the bridge's assignments of `campaign` equal to the references SAP MC holds."""
    if not is_sync_admin(acting_user):
        raise PermissionDenied("Only sync admins decide drift.")
    if campaign.removed_at is not None:
        raise AssignmentError(f"Campaign “{campaign.name}” was removed in SAP MC.")
    drift = campaign_drift(campaign=campaign)
    before = drift.as_state()
    # Through the assignment services, so each Plan's change has its own audit row too.
    for plan in drift.bridge_only:
        assignment_delete(campaign=campaign, plan=plan, acting_user=acting_user)
    for plan in drift.sap_only:
        if plan.removed_at is not None:
            continue  # A removed Plan takes no new assignment, whatever SAP MC says.
        assignment_move(
            plan=plan, to_campaign=campaign, acting_user=acting_user, note="Adopted from SAP MC"
        )
    campaign.drift_kept = None
    campaign.save(update_fields=["drift_kept"])
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.DRIFT_ADOPT_SAP,
        summary=f"Adopted SAP MC's Plans for campaign “{campaign.name}”",
        campaign=campaign,
        before=before,
        after=campaign_drift(campaign=campaign).as_state(),
    )


@transaction.atomic
def drift_keep_bridge(*, campaign: ExternalCampaign, acting_user: AbstractBaseUser) -> None:
    """Keep the bridge's assignments; the current SAP MC side no longer shows as drift."""
    if not is_sync_admin(acting_user):
        raise PermissionDenied("Only sync admins decide drift.")
    drift = campaign_drift(campaign=campaign)
    campaign.drift_kept = sorted(drift.sap_ids)
    campaign.save(update_fields=["drift_kept"])
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.DRIFT_KEEP_BRIDGE,
        summary=f"Kept the bridge's Plans for campaign “{campaign.name}” against SAP MC",
        campaign=campaign,
        before=drift.as_state(),
        after={"kept_sap_side": campaign.drift_kept},
    )


@transaction.atomic
def grant_create(
    *, user: AbstractBaseUser, initiative: Initiative, acting_user: AbstractBaseUser
) -> InitiativeGrant:
    """Let a manager see and assign the Plans of `initiative`."""
    grant, created = InitiativeGrant.objects.get_or_create(
        user=user, initiative=initiative, defaults={"granted_by": acting_user}
    )
    if created:
        audit_record(
            actor=acting_user,
            action=AuditEvent.Action.GRANT_CREATE,
            summary=f"Granted {user.get_username()} access to Initiative “{initiative.name}”",
            before=None,
            after={"user": user.get_username(), "initiative": initiative.khoros_id},
        )
    return grant


@transaction.atomic
def grant_delete(*, grant: InitiativeGrant, acting_user: AbstractBaseUser) -> None:
    """Revoke a grant; assignments already made stay (they are the campaign's, not the user's)."""
    state = {"user": grant.user.get_username(), "initiative": grant.initiative.khoros_id}
    summary = (
        f"Revoked {grant.user.get_username()}'s access to Initiative “{grant.initiative.name}”"
    )
    grant.delete()
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.GRANT_DELETE,
        summary=summary,
        before=state,
        after=None,
    )


@transaction.atomic
def schedule_update(
    *, schedule: Schedule, minutes: int, enabled: bool, acting_user: AbstractBaseUser
) -> Schedule:
    """Change a background schedule's interval or switch it on or off, audited."""
    if not is_sync_admin(acting_user):
        raise PermissionDenied("Only sync admins change schedules.")
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    before = {"minutes": schedule.minutes, "enabled": schedule.repeats != 0}
    after = {"minutes": minutes, "enabled": enabled}
    if before == after:
        return schedule
    now = timezone.now()
    if minutes != schedule.minutes:
        # The new interval counts from now; keeping the old due time could run it far too late.
        schedule.next_run = now + timedelta(minutes=minutes)
    if enabled and schedule.repeats == 0 and (schedule.next_run is None or schedule.next_run < now):
        schedule.next_run = now  # switched back on: due at once, once (catch_up is off)
    schedule.minutes = minutes
    # django-q2 skips schedules whose repeats is 0; -1 repeats for ever.
    schedule.repeats = -1 if enabled else 0
    schedule.save(update_fields=["minutes", "repeats", "next_run"])
    audit_record(
        actor=acting_user,
        action=AuditEvent.Action.SCHEDULE_UPDATE,
        summary=f"Schedule “{schedule.name}”: every {minutes} min, {'on' if enabled else 'off'}",
        before=before,
        after=after,
    )
    return schedule
