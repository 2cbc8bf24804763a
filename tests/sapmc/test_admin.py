"""The SAP MC models' admin pages moved with them to /admin/sapmc/; old bookmarks redirect."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/admin/campaigns/externalcampaign/", "/admin/sapmc/externalcampaign/"),
        ("/admin/campaigns/campaignreference/", "/admin/sapmc/campaignreference/"),
        ("/admin/campaigns/inboundreport/7/change/", "/admin/sapmc/inboundreport/7/change/"),
        (
            "/admin/campaigns/inboundcall/?status_code=401",
            "/admin/sapmc/inboundcall/?status_code=401",
        ),
    ],
)
def test_old_admin_addresses_of_the_moved_models_redirect(admin_client, old, new):
    response = admin_client.get(old)
    assert response.status_code == 301
    assert response["Location"] == new


@pytest.mark.django_db
def test_the_moved_models_are_listed_in_the_admin_under_sap_mc(admin_client):
    page = admin_client.get("/admin/").content.decode()
    for path in ("externalcampaign", "inboundreport", "inboundcall"):
        assert f'href="/admin/sapmc/{path}/"' in page
    # campaigns keeps the human work only.
    assert 'href="/admin/campaigns/assignment/"' in page
    assert 'href="/admin/campaigns/externalcampaign/"' not in page
    assert admin_client.get("/admin/campaigns/assignment/").status_code == 200
