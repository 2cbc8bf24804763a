"""The campaign page: its Plans within the viewer's grants, its state, drift notice."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment, CampaignReference

pytestmark = pytest.mark.django_db


def test_campaign_page_lists_visible_plans_and_counts_the_others(client, world):
    spring = world.campaigns[0]
    Assignment.objects.create(
        plan=world.plans[0], campaign=spring, assigned_at=timezone.now(), assigned_by=world.maria
    )
    Assignment.objects.create(
        plan=world.plans[2], campaign=spring, assigned_at=timezone.now(), assigned_by=world.tom
    )
    client.force_login(world.maria)
    response = client.get(reverse("campaign", args=[spring.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Spring Sale social" in body and "Spring Sale video" not in body
    assert "and 1 Plan of Initiatives you cannot see." in body


def test_drift_notice_links_to_the_workbench(client, world):
    spring = world.campaigns[0]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=world.plans[0].khoros_id.hex, plan=world.plans[0]
    )
    client.force_login(world.admin)
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert "differ from the references SAP MC holds" in body
    assert f"/workbench/?campaign={spring.pk}" in body


def test_campaign_page_access(client, world, django_user_model):
    url = reverse("campaign", args=[world.campaigns[0].pk])
    assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.get(url).status_code == 403
    client.force_login(world.admin)
    assert client.get(reverse("campaign", args=[999999])).status_code == 404
