"""A tenant in Berlin: its campaign days are Berlin midnights on the wire, read back as days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from sapmc.client import SapmcClient, client_from_settings
from sapmc.models import ExternalCampaign
from sapmc.sync import sync_sapmc_campaigns
from simulators.khoros_data import KhorosData
from simulators.sapmc import SapmcSimulator, epoch_ms
from simulators.sapmc_data import KHOROS_CATEGORY, SapmcData
from simulators.server import start_in_thread
from syncs.models import SyncRun

KHOROS = KhorosData.generate(seed=3, initiatives=2, plans_per_initiative=4, posts_per_plan=0)
BERLIN = SapmcData.generate(khoros=KHOROS, campaigns_per_initiative=3, seed=3,
                            timezone="Europe/Berlin")  # fmt: skip


@pytest.fixture
def sapmc_seed() -> dict[str, object]:
    # Overrides tests/conftest.py: the live SAP MC tenant of this module keeps Berlin time.
    return {"campaigns_per_initiative": 3, "other_category": 1, "timezone": "Europe/Berlin"}


def test_a_berlin_tenant_sends_berlin_midnights_and_the_client_reads_berlin_days():
    sim = SapmcSimulator(BERLIN, user="u", password="p", page_size=50)
    sim.add_campaign(
        name="Spring",
        start_date=date(2026, 4, 1),
        end_date=date(2026, 4, 30),
        uuid=str(UUID(int=9)),
    )
    with start_in_thread(sim) as server:
        raw = server.base_url + "/sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV"
        with SapmcClient(base_url=raw, user="u", password="p", timezone="Europe/Berlin") as berlin:
            spring = berlin.get_campaign(str(UUID(int=9)))
            listed = berlin.list_campaigns(category=KHOROS_CATEGORY)
        with SapmcClient(base_url=server.base_url, user="u", password="p") as utc:
            spring_utc = utc.get_campaign(str(UUID(int=9)))
    # 1 April 00:00 in Berlin (summer time) is 31 March 22:00 UTC on the wire.
    assert spring.raw["CampaignStartDate"] == (
        f"/Date({epoch_ms(datetime(2026, 3, 31, 22, tzinfo=UTC))})/"
    )
    assert (spring.start, spring.end) == (date(2026, 4, 1), date(2026, 4, 30))
    assert (spring_utc.start, spring_utc.end) == (date(2026, 3, 31), date(2026, 4, 29))
    seeded = {c.uuid: c for c in BERLIN.campaigns_of_category(KHOROS_CATEGORY)}
    assert listed.complete and len(listed.campaigns) == len(seeded) + 1
    for campaign in listed.campaigns:
        if campaign.uuid in seeded:
            assert campaign.start == seeded[campaign.uuid].start_date
            assert campaign.end == seeded[campaign.uuid].end_date


def test_the_client_takes_its_time_zone_from_settings_and_refuses_unknown_ones(settings):
    settings.SAPMC_TIMEZONE = "Europe/Berlin"
    with client_from_settings() as client:
        assert str(client.timezone) == "Europe/Berlin"
    with pytest.raises(ValueError, match="IANA time zone"):
        SapmcClient(base_url="http://sap.example", user="u", password="p", timezone="Berlin")


@pytest.mark.django_db
def test_the_sync_stores_the_days_of_the_configured_time_zone(live_sapmc, settings):
    settings.SAPMC_TIMEZONE = "Europe/Berlin"
    target = live_sapmc.data.campaigns_of_category(KHOROS_CATEGORY)[0]
    live_sapmc.sim.update_campaign(
        target.uuid, start_date=date(2026, 4, 1), end_date=date(2026, 10, 25)
    )

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    row = ExternalCampaign.objects.get(sap_uuid=UUID(target.uuid))
    assert (row.start, row.end) == (date(2026, 4, 1), date(2026, 10, 25))
    for seeded in live_sapmc.data.campaigns_of_category(KHOROS_CATEGORY)[1:]:
        stored = ExternalCampaign.objects.get(sap_uuid=UUID(seeded.uuid))
        assert (stored.start, stored.end) == (seeded.start_date, seeded.end_date)

    settings.SAPMC_TIMEZONE = "UTC"  # the wrong zone for this tenant: every day moves back
    sync_sapmc_campaigns()
    row.refresh_from_db()
    assert (row.start, row.end) == (date(2026, 3, 31), date(2026, 10, 25) - timedelta(days=1))
