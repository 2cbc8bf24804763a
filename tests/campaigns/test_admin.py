"""The Django admin: grants are audited, Khoros and SAP MC data are read-only, access is checked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import AuditEvent, InitiativeGrant

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model, world):
    return django_user_model.objects.create_superuser("root", password="pw-root-2026")


def test_granting_and_revoking_in_the_admin_is_audited(client, root, world):
    client.force_login(root)
    response = client.post(
        reverse("admin:campaigns_initiativegrant_add"),
        {"user": world.maria.pk, "initiative": world.initiatives[2].pk},
    )
    assert response.status_code == 302
    grant = InitiativeGrant.objects.get(user=world.maria, initiative=world.initiatives[2])
    assert grant.granted_by == root
    created = AuditEvent.objects.get(action="grant.create")
    assert created.after == {"user": "maria", "initiative": world.initiatives[2].khoros_id}

    response = client.post(
        reverse("admin:campaigns_initiativegrant_delete", args=[grant.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not InitiativeGrant.objects.filter(pk=grant.pk).exists()
    assert AuditEvent.objects.get(action="grant.delete").actor == root


def test_bulk_revoke_is_audited_per_grant(client, root, world):
    client.force_login(root)
    grants = list(InitiativeGrant.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:campaigns_initiativegrant_changelist"),
        {"action": "delete_selected", "_selected_action": grants, "post": "yes"},
    )
    assert response.status_code == 302
    assert InitiativeGrant.objects.count() == 0
    assert AuditEvent.objects.filter(action="grant.delete").count() == len(grants)


def test_mirrored_data_cannot_be_edited_in_the_admin(client, root, world):
    client.force_login(root)
    plan, campaign = world.plans[0], world.campaigns[0]
    assert client.get(reverse("admin:khoros_plan_add")).status_code == 403
    assert client.get(reverse("admin:sapmc_externalcampaign_add")).status_code == 403
    assert client.get(reverse("admin:campaigns_assignment_add")).status_code == 403
    response = client.post(reverse("admin:khoros_plan_change", args=[plan.pk]), {"name": "hacked"})
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.name == "Spring Sale social"
    assert (
        client.get(reverse("admin:sapmc_externalcampaign_change", args=[campaign.pk])).status_code
        == 200
    )


def test_managers_do_not_get_into_the_admin(client, world):
    client.force_login(world.maria)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
