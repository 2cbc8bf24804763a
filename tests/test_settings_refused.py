"""Values that used to pass the start and fail later, far from their cause: each now stops the
start with a message that names its variable (README "Configuration")."""

from __future__ import annotations

import pytest

from tests.conftest import django_start

PRINT = "import django; django.setup(); from django.conf import settings; print({})"


def refused(environ: dict[str, str], message: str) -> str:
    """The start with `environ` stops, saying `message` (its stderr is returned)."""
    result = django_start(environ)
    assert result.returncode != 0, result.stdout
    assert message in result.stderr, result.stderr
    return result.stderr


def test_an_unknown_khoros_company_time_zone_stops_the_start():
    # It passed, and each Plan sync then failed blaming Khoros ("Unknown time zone").
    refused(
        {"KHOROS_COMPANY_TIMEZONE": "Mars/Olympus"},
        "KHOROS_COMPANY_TIMEZONE must be an IANA time zone name such as Europe/Berlin or UTC; "
        "got 'Mars/Olympus'",
    )


def test_an_empty_khoros_company_time_zone_still_means_the_api_users():
    code = PRINT.format(
        "repr(settings.KHOROS_COMPANY_TIMEZONE), repr(settings.SAPMC_SUCCESS_TIMEZONE_CODE)"
    )
    for value in ("", "Europe/Berlin"):
        environ = {"KHOROS_COMPANY_TIMEZONE": value, "SAPMC_SUCCESS_TIMEZONE_CODE": ""}
        result = django_start(environ, code, check=True)
        assert result.stdout.split() == [repr(value), "''"]


def test_an_sap_time_zone_code_longer_than_six_characters_stops_the_start():
    # SAP's table TTZZ holds codes of at most 6 characters; the push alone checked it.
    refused(
        {"SAPMC_SUCCESS_TIMEZONE_CODE": "WAYTOOLONGCODE"},
        "SAPMC_SUCCESS_TIMEZONE_CODE must be at most 6 characters; got 'WAYTOOLONGCODE' (14)",
    )
    code = PRINT.format("settings.SAPMC_SUCCESS_TIMEZONE_CODE")
    result = django_start({"SAPMC_SUCCESS_TIMEZONE_CODE": "AUSNSW"}, code, check=True)
    assert result.stdout.split() == ["AUSNSW"]


def test_an_unknown_log_level_stops_the_start_naming_log_level():
    # logging.config said "Unable to configure root logger", naming no variable.
    refused(
        {"LOG_LEVEL": "LOUD"},
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case); got 'LOUD'",
    )
    result = django_start({"LOG_LEVEL": "warning"}, PRINT.format("settings.LOG_LEVEL"), check=True)
    assert result.stdout.split() == ["WARNING"]


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:s3cret-pw@db/x",  # a traceback about MySQLdb at the first use
        "oracle://u:s3cret-pw@db/x",
        "postgis://u:s3cret-pw@db/x",  # no GIS in the bridge
    ],
)
def test_a_database_other_than_sqlite_or_postgresql_stops_the_start_without_showing_it(url):
    stderr = refused({"DATABASE_URL": url}, "DATABASE_URL must be a postgres://")
    assert "s3cret-pw" not in stderr
    assert "MySQLdb" not in stderr


def test_every_postgresql_spelling_of_dj_database_url_is_still_accepted():
    code = PRINT.format("settings.DATABASES['default']['ENGINE']")
    for scheme in ("postgres", "postgresql", "pgsql"):
        result = django_start({"DATABASE_URL": f"{scheme}://u@127.0.0.1/x"}, code, check=True)
        assert result.stdout.split() == ["django.db.backends.postgresql"]


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
    ],
)
def test_a_url_that_is_no_absolute_http_url_stops_the_start_without_showing_it(name, value):
    stderr = refused({name: value}, f"{name} {URL_MESSAGE}")
    assert "s3cret" not in stderr


def test_absolute_http_urls_and_an_empty_external_campaign_url_are_accepted():
    code = PRINT.format(
        "settings.KHOROS_BASE_URL, settings.SAPMC_BASE_URL,"
        "repr(settings.SAPMC_EXTERNAL_CAMPAIGN_URL)"
    )
    environ = {
        "KHOROS_BASE_URL": "https://api.spredfast.com/v2",
        "SAPMC_BASE_URL": "http://127.0.0.1:8702",
        "SAPMC_EXTERNAL_CAMPAIGN_URL": "https://app.spredfast.com/plans/{plan_id}",
    }
    result = django_start(environ, code, check=True)
    assert result.stdout.split() == [
        "https://api.spredfast.com/v2",
        "http://127.0.0.1:8702",
        "'https://app.spredfast.com/plans/{plan_id}'",
    ]
    result = django_start({"SAPMC_EXTERNAL_CAMPAIGN_URL": ""}, code, check=True)
    assert result.stdout.split()[-1] == "''"


def test_an_alert_recipient_that_is_no_email_address_stops_the_start_naming_it():
    refused(
        {"ALERT_EMAILS": "ops@example.com, nobody"},
        "ALERT_EMAILS must be comma-separated email addresses; 'nobody' is not one",
    )
    code = PRINT.format("settings.ALERT_EMAILS")
    result = django_start({"ALERT_EMAILS": "ops@example.com, sync@example.org"}, code, check=True)
    assert result.stdout.strip() == "['ops@example.com', 'sync@example.org']"


LOG = (
    "import django, logging; django.setup();"
    "logging.getLogger('django.server').info('a request line');"
    "logging.getLogger('django.server').warning('a warned request');"
    "logging.getLogger('django.utils.autoreload').debug('a watched file');"
    "logging.getLogger('campaigns').debug('a debug line of ours')"
)


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [
        (None, ["a request line", "a warned request"], ["a watched file", "a debug line"]),
        ("INFO", ["a request line", "a warned request"], ["a watched file", "a debug line"]),
        # It printed every request line at WARNING: the django logger stayed at INFO.
        ("WARNING", ["a warned request"], ["a request line", "a watched file", "a debug line"]),
        ("ERROR", [], ["a request line", "a warned request"]),
        # Ours at DEBUG; Django's own stay at INFO (its autoreloader's line per file).
        ("DEBUG", ["a request line", "a debug line of ours"], ["a watched file"]),
    ],
)
def test_django_own_log_lines_follow_log_level(level, shown, hidden):
    environ = {} if level is None else {"LOG_LEVEL": level}
    logged = django_start(environ, LOG, check=True).stderr
    for text in shown:
        assert text in logged
    for text in hidden:
        assert text not in logged
