"""Assignment rules, drift decisions and grants: each change is atomic and audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError

from campaigns import services
from campaigns.models import Assignment, AuditEvent, InitiativeGrant
from campaigns.selectors import campaign_drift
from sapmc.models import CampaignReference

pytestmark = pytest.mark.django_db


def test_assigning_a_plan_writes_the_assignment_and_its_audit_row(world):
    spring, plan = world.campaigns[0], world.plans[0]

    assignment = services.assignment_create(
        campaign=spring, plan=plan, acting_user=world.maria, note="  kickoff  "
    )

    assert (assignment.campaign, assignment.plan, assignment.assigned_by) == (
        spring,
        plan,
        world.maria,
    )
    assert assignment.note == "kickoff"
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.actor_name) == (
        "assignment.create",
        world.maria,
        "maria",
    )
    assert event.before is None
    assert event.after["plan"] == str(plan.khoros_id)
    assert event.after["campaign_id"] == "100"
    assert event.after["note"] == "kickoff"


def test_assigning_twice_to_the_same_campaign_changes_nothing(world):
    spring, plan = world.campaigns[0], world.plans[0]
    first = services.assignment_create(campaign=spring, plan=plan, acting_user=world.maria)
    again = services.assignment_create(campaign=spring, plan=plan, acting_user=world.maria)
    assert first.pk == again.pk
    assert AuditEvent.objects.count() == 1


def test_plan_of_another_campaign_is_refused_with_an_offer_to_move(world):
    spring, summer, plan = world.campaigns[0], world.campaigns[1], world.plans[0]
    services.assignment_create(campaign=spring, plan=plan, acting_user=world.maria)

    with pytest.raises(
        services.AssignmentConflictError, match="already feeds campaign “Spring Sale 2026”. Move"
    ):
        services.assignment_create(campaign=summer, plan=plan, acting_user=world.maria)

    assert Assignment.objects.get(plan=plan).campaign == spring
    assert AuditEvent.objects.count() == 1


def test_move_changes_the_campaign_and_audits_before_and_after(world):
    spring, summer, plan = world.campaigns[0], world.campaigns[1], world.plans[0]
    services.assignment_create(campaign=spring, plan=plan, acting_user=world.maria)

    services.assignment_move(plan=plan, to_campaign=summer, acting_user=world.admin, note="moved")

    assert Assignment.objects.get(plan=plan).campaign == summer
    event = AuditEvent.objects.get(action="assignment.move")
    assert event.before["campaign_id"] == "100" and event.after["campaign_id"] == "101"
    assert event.actor == world.admin


def test_removed_plan_and_removed_campaign_are_refused(world):
    removed_plan, cancelled = world.plans[5], world.campaigns[3]
    with pytest.raises(services.AssignmentError, match="removed in Khoros"):
        services.assignment_create(
            campaign=world.campaigns[0], plan=removed_plan, acting_user=world.admin
        )
    with pytest.raises(services.AssignmentError, match="removed in SAP MC"):
        services.assignment_create(campaign=cancelled, plan=world.plans[0], acting_user=world.admin)
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_manager_cannot_assign_outside_their_grants(world):
    toms_plan = world.plans[2]
    with pytest.raises(PermissionDenied):
        services.assignment_create(
            campaign=world.campaigns[0], plan=toms_plan, acting_user=world.maria
        )
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_unassign_audits_and_refuses_what_is_not_there(world):
    spring, plan = world.campaigns[0], world.plans[0]
    services.assignment_create(campaign=spring, plan=plan, acting_user=world.maria)

    services.assignment_delete(campaign=spring, plan=plan, acting_user=world.maria)

    assert not Assignment.objects.exists()
    event = AuditEvent.objects.get(action="assignment.delete")
    assert event.before["plan"] == str(plan.khoros_id) and event.after is None
    with pytest.raises(
        services.AssignmentError,
        match="does not feed .* any more: it is unassigned already, nothing changed",
    ):
        services.assignment_delete(campaign=spring, plan=plan, acting_user=world.maria)


def test_a_failing_audit_write_rolls_the_assignment_back(world, monkeypatch):
    def broken(**kwargs):
        raise IntegrityError("audit table unavailable")

    monkeypatch.setattr(services, "audit_record", broken)
    with pytest.raises(IntegrityError):
        services.assignment_create(
            campaign=world.campaigns[0], plan=world.plans[0], acting_user=world.maria
        )
    assert not Assignment.objects.exists()


def test_database_allows_one_campaign_per_plan(world):
    services.assignment_create(
        campaign=world.campaigns[0], plan=world.plans[0], acting_user=world.admin
    )
    with pytest.raises(IntegrityError):
        Assignment.objects.create(
            plan=world.plans[0], campaign=world.campaigns[1], assigned_at=world.plans[0].first_seen
        )


def test_bulk_assign_reports_each_plan(world):
    spring = world.campaigns[0]
    services.assignment_create(
        campaign=world.campaigns[1], plan=world.plans[1], acting_user=world.admin
    )
    services.assignment_create(campaign=spring, plan=world.plans[0], acting_user=world.admin)

    result = services.assignments_bulk_create(
        campaign=spring,
        plans=[world.plans[0], world.plans[1], world.plans[2], world.plans[5]],
        acting_user=world.admin,
    )

    assert [a.plan for a in result.created] == [world.plans[2]]
    assert result.already == [world.plans[0]]
    assert [(r.plan, r.conflict) for r in result.refused] == [
        (world.plans[1], True),
        (world.plans[5], False),
    ]


def _reference(campaign, plan):
    return CampaignReference.objects.create(
        campaign=campaign, external_campaign_id=plan.khoros_id.hex, plan=plan, name=plan.name
    )


def test_drift_shows_both_sides_and_adopting_sap_makes_them_equal(world):
    # Issue 11: a Plan assigned here but not yet in SAP MC is pending (expected), not drift,
    # and adopting SAP MC's side no longer unassigns it.
    spring = world.campaigns[0]
    _reference(spring, world.plans[0])
    _reference(spring, world.plans[2])
    services.assignment_create(campaign=spring, plan=world.plans[2], acting_user=world.admin)
    services.assignment_create(campaign=spring, plan=world.plans[1], acting_user=world.admin)
    # SAP MC wants plans[0] (unassigned) and plans[2]; the bridge also has plans[1].
    drift = campaign_drift(campaign=spring)
    assert drift.exists
    assert drift.sap_only == [world.plans[0]]
    assert [i.plan for i in drift.pending] == [world.plans[1]]

    event = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)

    assert set(Assignment.objects.filter(campaign=spring).values_list("plan", flat=True)) == {
        world.plans[0].pk,
        world.plans[1].pk,
        world.plans[2].pk,
    }
    assert not campaign_drift(campaign=spring).exists
    assert AuditEvent.objects.filter(action="drift.adopt_sap").get() == event
    assert event.before["plans"] == [
        {"plan": str(world.plans[0].khoros_id), "plan_name": "Spring Sale social", "campaign": None}
    ]
    assert event.after["plans"][0]["campaign_id"] == "100"
    assert AuditEvent.objects.count() == 3  # two assignments, one adoption


def test_keeping_the_bridge_side_hides_drift_until_sap_changes_again(world):
    spring = world.campaigns[0]
    _reference(spring, world.plans[0])

    services.drift_keep_bridge(campaign=spring, acting_user=world.admin)

    assert not campaign_drift(campaign=spring).exists
    assert AuditEvent.objects.get(action="drift.keep_bridge").actor == world.admin
    _reference(spring, world.plans[1])  # SAP MC changed since the decision
    assert campaign_drift(campaign=spring).exists


def test_only_sync_admins_decide_drift(world):
    # Issue 11: managers decide drift for the Plans of their own Initiatives (was: admins only).
    spring = world.campaigns[0]
    _reference(spring, world.plans[2])  # Tom's Initiative
    with pytest.raises(PermissionDenied):
        services.drift_keep_bridge(campaign=spring, acting_user=world.maria, plans=[world.plans[2]])
    with pytest.raises(PermissionDenied):
        services.drift_adopt_sap(campaign=spring, acting_user=world.maria, plans=[world.plans[2]])
    # Deciding for the whole campaign, Maria sees (and changes) none of Tom's Plans.
    assert services.drift_adopt_sap(campaign=spring, acting_user=world.maria) is None
    assert campaign_drift(campaign=spring, user=world.maria).hidden == 1
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
    event = services.drift_adopt_sap(campaign=spring, acting_user=world.tom)
    assert event.actor == world.tom
    assert Assignment.objects.get(plan=world.plans[2]).campaign == spring


def test_grants_are_audited(world):
    grant = services.grant_create(
        user=world.maria, initiative=world.initiatives[2], acting_user=world.admin
    )
    services.grant_create(
        user=world.maria, initiative=world.initiatives[2], acting_user=world.admin
    )
    services.grant_delete(grant=grant, acting_user=world.admin)

    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["grant.create", "grant.delete"]
    assert not InitiativeGrant.objects.filter(
        user=world.maria, initiative=world.initiatives[2]
    ).exists()


def test_adopting_sap_side_audits_each_plan_and_refuses_a_removed_campaign(world):
    # Issue 11: one audit row per real change: the adoption row holds every Plan's before and
    # after (undo reads it); pending Plans (plans[1]) are not unassigned any more.
    spring, summer = world.campaigns[0], world.campaigns[1]
    _reference(spring, world.plans[0])
    services.assignment_create(campaign=summer, plan=world.plans[0], acting_user=world.admin)
    services.assignment_create(campaign=spring, plan=world.plans[1], acting_user=world.admin)

    services.drift_adopt_sap(campaign=spring, acting_user=world.admin)

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "plan"))
    assert actions[2:] == [("drift.adopt_sap", world.plans[0].pk)]
    assert Assignment.objects.get(plan=world.plans[0]).note == "Adopted from SAP MC"
    assert Assignment.objects.get(plan=world.plans[1]).campaign == spring
    with pytest.raises(services.AssignmentError, match="removed in SAP MC"):
        services.drift_adopt_sap(campaign=world.campaigns[3], acting_user=world.admin)
