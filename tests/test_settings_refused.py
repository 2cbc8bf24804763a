"""Values that used to pass the start and fail later, far from their cause: each now stops the
start with a message that names its variable (README "Configuration"). The settings are run in
this process from each environment (tests.conftest.settings_from); one start of a real
interpreter proves the log levels."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.conftest import django_start, settings_from


def refused(environ: dict[str, str], message: str) -> str:
    """The settings refuse `environ`, saying `message` (returned whole)."""
    with pytest.raises(ImproperlyConfigured) as caught:
        settings_from(environ)
    assert message in str(caught.value), caught.value
    return str(caught.value)


def test_an_unknown_khoros_company_time_zone_stops_the_start():
    # It passed, and each Plan sync then failed blaming Khoros ("Unknown time zone").
    refused(
        {"KHOROS_COMPANY_TIMEZONE": "Mars/Olympus"},
        "KHOROS_COMPANY_TIMEZONE must be an IANA time zone name such as Europe/Berlin or UTC; "
        "got 'Mars/Olympus'",
    )


def test_an_empty_khoros_company_time_zone_still_means_the_api_users():
    for value in ("", "Europe/Berlin"):
        read = settings_from({"KHOROS_COMPANY_TIMEZONE": value, "SAPMC_SUCCESS_TIMEZONE_CODE": ""})
        assert (read["KHOROS_COMPANY_TIMEZONE"], read["SAPMC_SUCCESS_TIMEZONE_CODE"]) == (value, "")


def test_an_sap_time_zone_code_longer_than_six_characters_stops_the_start():
    # SAP's table TTZZ holds codes of at most 6 characters; the push alone checked it.
    refused(
        {"SAPMC_SUCCESS_TIMEZONE_CODE": "WAYTOOLONGCODE"},
        "SAPMC_SUCCESS_TIMEZONE_CODE must be at most 6 characters; got 'WAYTOOLONGCODE' (14)",
    )
    read = settings_from({"SAPMC_SUCCESS_TIMEZONE_CODE": "AUSNSW"})
    assert read["SAPMC_SUCCESS_TIMEZONE_CODE"] == "AUSNSW"


def test_an_unknown_log_level_stops_the_start_naming_log_level():
    # logging.config said "Unable to configure root logger", naming no variable.
    refused(
        {"LOG_LEVEL": "LOUD"},
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case); got 'LOUD'",
    )
    assert settings_from({"LOG_LEVEL": "warning"})["LOG_LEVEL"] == "WARNING"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:s3cret-pw@db/x",  # a traceback about MySQLdb at the first use
        "oracle://u:s3cret-pw@db/x",
        "postgis://u:s3cret-pw@db/x",  # no GIS in the bridge
    ],
)
def test_a_database_other_than_sqlite_or_postgresql_stops_the_start_without_showing_it(url):
    said = refused({"DATABASE_URL": url}, "DATABASE_URL must be a postgres://")
    assert "s3cret-pw" not in said


def test_every_postgresql_spelling_of_dj_database_url_is_still_accepted():
    for scheme in ("postgres", "postgresql", "pgsql"):
        read = settings_from({"DATABASE_URL": f"{scheme}://u@127.0.0.1/x"})
        assert read["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"


URL_MESSAGE = "must be an absolute http:// or https:// URL with a host"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KHOROS_BASE_URL", "not-a-url"),
        ("KHOROS_BASE_URL", "api.spredfast.com/v2"),  # no scheme
        ("KHOROS_BASE_URL", "http://host:port-s3cret/v2"),  # a port that is no number
        ("SAPMC_BASE_URL", "ftp://u:s3cret@sap.example.com"),
        ("SAPMC_BASE_URL", "https://"),  # no host
        ("SAPMC_EXTERNAL_CAMPAIGN_URL", "plans/{plan_id}?t=s3cret"),
        ("SITE_URL", "smcbridge.example.com/?t=s3cret"),  # no scheme: the links would go nowhere
    ],
)
def test_a_url_that_is_no_absolute_http_url_stops_the_start_without_showing_it(name, value):
    said = refused({name: value}, f"{name} {URL_MESSAGE}")
    assert "s3cret" not in said


def test_absolute_http_urls_and_an_empty_external_campaign_url_are_accepted():
    environ = {
        "KHOROS_BASE_URL": "https://api.spredfast.com/v2",
        "SAPMC_BASE_URL": "http://127.0.0.1:8702",
        "SAPMC_EXTERNAL_CAMPAIGN_URL": "https://app.spredfast.com/plans/{plan_id}",
    }
    read = settings_from(environ)
    assert {name: read[name] for name in environ} == environ
    assert settings_from({"SAPMC_EXTERNAL_CAMPAIGN_URL": ""})["SAPMC_EXTERNAL_CAMPAIGN_URL"] == ""


def test_the_site_url_is_read_without_its_trailing_slash_and_may_be_empty():
    site = settings_from({"SITE_URL": "https://smcbridge.example.com/bridge/"})["SITE_URL"]
    assert site == "https://smcbridge.example.com/bridge"
    assert settings_from({})["SITE_URL"] == ""


def test_an_alert_recipient_that_is_no_email_address_stops_the_start_naming_it():
    refused(
        {"ALERT_EMAILS": "ops@example.com, nobody"},
        "ALERT_EMAILS must be comma-separated email addresses; 'nobody' is not one",
    )
    read = settings_from({"ALERT_EMAILS": "ops@example.com, sync@example.org"})
    assert read["ALERT_EMAILS"] == ["ops@example.com", "sync@example.org"]


def test_a_proxy_address_that_is_no_address_stops_the_start_naming_it():
    refused(
        {"PROXY_ADDRESSES": "10.0.0.0/8, the-proxy"},
        "PROXY_ADDRESSES must be comma-separated IP addresses or networks; 'the-proxy' is not one",
    )
    read = settings_from({"PROXY_ADDRESSES": "10.1.2.3, 10.8.0.0/16, ::1"})
    assert read["PROXY_ADDRESSES"] == ["10.1.2.3/32", "10.8.0.0/16", "::1/128"]


@pytest.mark.parametrize(
    "entry", ["https://storage.internal", "storage.internal:9000", "storage.internal/bucket"]
)
def test_a_download_host_with_a_scheme_port_or_path_stops_the_start_naming_it(entry):
    # It passed the start, no link ever matched it, and every KPI sync then failed building its
    # client, far from the setting (README: host names, "no scheme, port or path").
    refused(
        {"KHOROS_DOWNLOAD_HOSTS": f"objects.internal, {entry}"},
        "KHOROS_DOWNLOAD_HOSTS must be comma-separated host names such as storage.example.com, "
        f"without scheme, port or path; {entry!r} is not one",
    )


def test_download_host_names_and_addresses_are_accepted():
    read = settings_from({"KHOROS_DOWNLOAD_HOSTS": "objects.internal, 10.0.0.7, [fd00::7], ::1"})
    assert read["KHOROS_DOWNLOAD_HOSTS"] == ["objects.internal", "10.0.0.7", "[fd00::7]", "::1"]
    assert settings_from({})["KHOROS_DOWNLOAD_HOSTS"] == []


@pytest.mark.parametrize(
    "entry", ["https://bridge.example.com", "bridge.example.com:443", "bridge.example.com/"]
)
def test_an_allowed_host_with_a_scheme_port_or_path_stops_the_start_naming_it(entry):
    # It passed the start, matched no request's host, and every page answered 400.
    refused(
        {"ALLOWED_HOSTS": f"bridge.example.com, {entry}"},
        "ALLOWED_HOSTS must be comma-separated host names such as bridge.example.com, "
        f"without scheme, port or path; {entry!r} is not one",
    )


def test_allowed_hosts_in_each_form_django_matches_are_accepted():
    value = "bridge.example.com, .example.org, 10.0.0.5, [::1], *"
    read = settings_from({"ALLOWED_HOSTS": value})
    assert read["ALLOWED_HOSTS"] == ["bridge.example.com", ".example.org", "10.0.0.5", "[::1]", "*"]
    assert settings_from({})["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]


@pytest.mark.parametrize(
    ("level", "django_level"),
    [(None, "INFO"), ("INFO", "INFO"), ("WARNING", "WARNING"), ("ERROR", "ERROR"),
     ("DEBUG", "INFO")],  # Django's own at DEBUG: its autoreloader's line per file watched
)  # fmt: skip
def test_django_own_log_lines_follow_log_level(level, django_level):
    environ = {} if level is None else {"LOG_LEVEL": level}
    assert settings_from(environ)["LOGGING"]["loggers"]["django"]["level"] == django_level


LOG = (
    "import django, logging; django.setup();"
    "logging.getLogger('django.server').info('a request line');"
    "logging.getLogger('django.server').warning('a warned request');"
    "logging.getLogger('campaigns').debug('a debug line of ours')"
)


def test_at_warning_a_started_bridge_prints_no_request_line():
    # It printed every request line at WARNING: the django logger stayed at INFO.
    logged = django_start({"LOG_LEVEL": "WARNING"}, LOG, check=True).stderr
    assert "a warned request" in logged
    assert "a request line" not in logged and "a debug line" not in logged


def test_an_address_limit_below_the_pairs_stops_the_start():
    # One person's typos would lock out everyone behind the same address.
    refused(
        {"LOGIN_FAILURE_LIMIT": "5", "LOGIN_ADDRESS_FAILURE_LIMIT": "4"},
        "LOGIN_ADDRESS_FAILURE_LIMIT must be at least LOGIN_FAILURE_LIMIT (5); got 4",
    )
    refused({"LOGIN_ADDRESS_FAILURE_LIMIT": "many"}, "LOGIN_ADDRESS_FAILURE_LIMIT")
    assert settings_from({})["LOGIN_ADDRESS_FAILURE_LIMIT"] == 30
    read = settings_from({"LOGIN_FAILURE_LIMIT": "5", "LOGIN_ADDRESS_FAILURE_LIMIT": "5"})
    assert read["LOGIN_ADDRESS_FAILURE_LIMIT"] == 5
