"""Grants, layer by layer: what a manager outside her Initiatives gets from each page (the status
and the message), and the same refusal from the services and selectors called on their own."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Assignment, AuditEvent
from sapmc.models import CampaignReference

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "workbench"}
NOT_HERS = "This Plan belongs to an Initiative you have no access to."


def _ref(campaign, plan):
    return CampaignReference.objects.create(
        campaign=campaign, external_campaign_id=plan.khoros_id.hex, plan=plan, name=plan.name
    )


def _forbidden(response, message: str) -> str:
    assert response.status_code == 403
    body = response.content.decode()
    assert message in body
    return body


# ---- The pages: status codes and messages ---------------------------------------------------


def test_workbench_assign_refuses_the_whole_request_for_one_plan_outside_the_grants(client, world):
    client.force_login(world.maria)
    spring, toms = world.campaigns[0], world.plans[2]
    for data in (
        {"campaign": spring.pk, "plan_one": toms.pk},
        {"campaign": spring.pk, "plans": [world.plans[0].pk, toms.pk]},
        {"campaign": spring.pk, "plans": [world.plans[0].pk, 999_999]},  # not mirrored at all
    ):
        body = _forbidden(
            client.post(reverse("workbench-assign"), data, headers=HTMX),
            "Some of these Plans are not yours to assign.",
        )
        assert toms.name not in body
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_workbench_unassign_and_move_do_not_reveal_a_plan_outside_the_grants(client, world):
    spring, toms = world.campaigns[0], world.plans[2]
    Assignment.objects.create(plan=toms, campaign=spring, assigned_at=timezone.now())
    client.force_login(world.maria)
    for name, campaign in (("workbench-unassign", spring), ("workbench-move", world.campaigns[1])):
        response = client.post(
            reverse(name), {"campaign": campaign.pk, "plan": toms.pk}, headers=HTMX
        )
        assert response.status_code == 404
    assert Assignment.objects.get(plan=toms).campaign == spring
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("action", ["keep", "adopt", "confirm-adopt"])
def test_workbench_drift_on_a_plan_outside_the_grants_is_403_without_its_name(
    client, world, action
):
    spring, toms = world.campaigns[0], world.plans[2]
    _ref(spring, toms)
    client.force_login(world.maria)
    data = {"campaign": spring.pk, "drift": f"{action}:{toms.pk}"}
    body = _forbidden(client.post(reverse("workbench-drift"), data, headers=HTMX), NOT_HERS)
    assert toms.name not in body
    # Refused for the grant before anything else is judged, a removed campaign included.
    removed = world.campaigns[3]
    _ref(removed, toms)
    data = {"campaign": removed.pk, "drift": f"{action}:{toms.pk}"}
    _forbidden(client.post(reverse("workbench-drift"), data, headers=HTMX), NOT_HERS)
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
    # A Plan that is not mirrored at all is not found.
    data = {"campaign": spring.pk, "drift": f"{action}:999999"}
    assert client.post(reverse("workbench-drift"), data, headers=HTMX).status_code == 404


def test_workbench_undo_of_an_adoption_touching_another_initiative_is_403(client, world):
    spring = world.campaigns[0]
    _ref(spring, world.plans[0])
    _ref(spring, world.plans[2])
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    client.force_login(world.maria)
    _forbidden(
        client.post(reverse("workbench-undo"), {"event": adoption.pk}, headers=HTMX),
        "Plan “Spring Sale video” belongs to an Initiative you have no access to.",
    )
    assert Assignment.objects.count() == 2
    assert AuditEvent.objects.count() == 1


def test_calendar_assign_refuses_a_plan_outside_the_grants(client, world):
    client.force_login(world.maria)
    for plan_pk in (world.plans[2].pk, 999_999):
        response = client.post(
            reverse("calendar-assign"), {"plan": plan_pk, "campaign": world.campaigns[0].pk}
        )
        _forbidden(response, "This Plan is not yours to assign.")
    # Refused before the campaign is looked at.
    response = client.post(reverse("calendar-assign"), {"plan": world.plans[2].pk, "campaign": 1})
    _forbidden(response, "This Plan is not yours to assign.")
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_calendar_list_assign_refuses_the_batch_with_a_plan_outside_the_grants(client, world):
    client.force_login(world.maria)
    data = {"plans": [world.plans[0].pk, world.plans[2].pk], "campaign": 999_999, "view": "list"}
    _forbidden(
        client.post(reverse("calendar-list-assign"), data),
        "Some of these Plans are not yours to assign.",
    )
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_calendar_panel_of_a_plan_outside_the_grants_says_so(client, world):
    client.force_login(world.maria)
    response = client.get(
        reverse("calendar-panel"), {"panel": f"p{world.plans[2].pk}"}, HTTP_HX_REQUEST="true"
    )
    assert "This Plan is not in the bridge or not yours to see." in response.content.decode()
    response = client.get(
        reverse("calendar-panel"), {"panel": f"p{world.plans[0].pk}"}, HTTP_HX_REQUEST="true"
    )
    assert world.plans[0].name in response.content.decode()


def test_campaign_kpi_csv_holds_only_the_viewers_plans(client, world):
    spring = world.campaigns[0]
    for plan in (world.plans[0], world.plans[2]):
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    from khoros.models import PlanKpi

    for plan in (world.plans[0], world.plans[2]):
        PlanKpi.objects.create(
            plan=plan, day=plan.start_day, impressions=5, updated_at=timezone.now()
        )
    client.force_login(world.maria)
    response = client.get(reverse("campaign-kpis-csv", args=[spring.pk]))
    body = b"".join(response.streaming_content).decode()
    assert world.plans[0].khoros_id.hex in body and world.plans[2].khoros_id.hex not in body
    client.force_login(world.admin)
    response = client.get(reverse("campaign-kpis-csv", args=[spring.pk]))
    body = b"".join(response.streaming_content).decode()
    assert world.plans[0].khoros_id.hex in body and world.plans[2].khoros_id.hex in body
