"""SAP MC settings that shape what the bridge asks and reads: the category code, the time zone."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from smcbridge.env import env_code, env_timezone
from tests.conftest import django_start


def test_category_code_is_checked_against_sap_s_three_characters():
    assert env_code("C", "Z01", max_length=3, environ={}) == "Z01"
    assert env_code("C", "Z01", max_length=3, environ={"C": " A1 "}) == "A1"
    with pytest.raises(ImproperlyConfigured, match=r"C must be at most 3 characters; got 'KHOROS'"):
        env_code("C", "Z01", max_length=3, environ={"C": "KHOROS"})
    with pytest.raises(ImproperlyConfigured, match="C must not be empty"):
        env_code("C", "Z01", max_length=3, environ={"C": "  "})


def test_time_zone_must_be_an_iana_name():
    assert env_timezone("T", "UTC", environ={}) == "UTC"
    assert env_timezone("T", "UTC", environ={"T": "Europe/Berlin"}) == "Europe/Berlin"
    # "Europe": a folder of the zone data, which ZoneInfo() refuses with an OSError.
    for bad in ("CET+1", "Mars/Olympus_Mons", "../etc/passwd", "berlin", "Europe"):
        with pytest.raises(ImproperlyConfigured, match="T must be an IANA time zone name"):
            env_timezone("T", "UTC", environ={"T": bad})


def test_defaults_are_a_realistic_category_and_utc():
    assert settings.SAPMC_CAMPAIGN_CATEGORY == "Z01"
    assert settings.SAPMC_TIMEZONE == "UTC"
    assert settings.SAPMC_SUCCESS_BATCH_SIZE == 100


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SAPMC_CAMPAIGN_CATEGORY", "KHOROS", "SAPMC_CAMPAIGN_CATEGORY must be at most 3"),
        ("SAPMC_TIMEZONE", "Europe/Berlinn", "SAPMC_TIMEZONE must be an IANA time zone name"),
        ("SAPMC_SUCCESS_BATCH_SIZE", "0", "SAPMC_SUCCESS_BATCH_SIZE must be at least 1"),
        ("SAPMC_SUCCESS_BATCH_SIZE", "many", "SAPMC_SUCCESS_BATCH_SIZE must be a whole number"),
    ],
)
def test_the_app_refuses_to_start_with_a_bad_sapmc_setting(name, value, message):
    result = django_start({name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
