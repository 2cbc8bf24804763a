"""One company time zone function for the syncs and for SAP MC's reads."""

from types import SimpleNamespace

import pytest

from khoros import client as khoros_client
from khoros import services, zone
from khoros.kpis import sync as kpi_sync
from sapmc.inbound import catalog as api_catalog


def test_every_caller_uses_the_one_function():
    assert api_catalog.company_zone is zone.company_zone
    assert services.company_zone is zone.company_zone
    assert kpi_sync.company_zone is zone.company_zone


def fake_client(name: str) -> SimpleNamespace:
    return SimpleNamespace(whoami=lambda: SimpleNamespace(timezone=name))


@pytest.mark.django_db
def test_a_sync_asks_whoami_and_refuses_an_unknown_zone(settings):
    settings.KHOROS_COMPANY_TIMEZONE = ""
    assert zone.company_zone(fake_client("America/Chicago")).key == "America/Chicago"
    with pytest.raises(khoros_client.KhorosBadPayloadError, match="Unknown time zone 'Mars/Base'"):
        zone.company_zone(fake_client("Mars/Base"))
    settings.KHOROS_COMPANY_TIMEZONE = "Europe/Berlin"
    assert zone.company_zone(fake_client("America/Chicago")).key == "Europe/Berlin"


@pytest.mark.django_db
def test_a_read_without_khoros_falls_back_to_time_zone(settings):
    settings.KHOROS_COMPANY_TIMEZONE = "Mars/Base"
    settings.TIME_ZONE = "UTC"
    assert zone.company_zone().key == "UTC"
    settings.KHOROS_COMPANY_TIMEZONE = ""
    assert zone.company_zone().key == "UTC"  # no company stored yet


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["America", "America/Argentina"])
def test_a_folder_of_zones_from_whoami_is_an_unknown_zone(settings, name):
    # ZoneInfo() raises IsADirectoryError for a folder of the zone data: the Plan sync failed
    # with that error instead of Khoros's bad answer.
    settings.KHOROS_COMPANY_TIMEZONE = ""
    with pytest.raises(khoros_client.KhorosBadPayloadError, match=f"Unknown time zone '{name}'"):
        zone.company_zone(fake_client(name))


@pytest.mark.django_db
def test_a_stored_folder_of_zones_falls_back_to_time_zone(settings):
    settings.KHOROS_COMPANY_TIMEZONE = "Europe"
    settings.TIME_ZONE = "UTC"
    assert zone.company_zone().key == "UTC"
