"""Settings from the environment: typed readers, and a task queue that never runs a task twice."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from smcbridge.env import env_bool, env_float, env_int, env_list, env_str
from tests.conftest import django_start


def test_typed_readers_accept_what_they_should():
    environ = {"A": " yes ", "B": "0", "N": "42", "F": "2.5", "L": "a, b,,c ", "S": "  x "}
    assert env_bool("A", environ=environ) is True and env_bool("B", environ=environ) is False
    assert env_bool("MISSING", True, environ=environ) is True
    assert env_int("N", 1, environ=environ) == 42 and env_int("MISSING", 7, environ=environ) == 7
    assert env_float("F", 1.0, environ=environ) == 2.5
    assert env_list("L", [], environ=environ) == ["a", "b", "c"]
    assert env_str("S", environ=environ) == "x"


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda e: env_bool("X", environ=e), "maybe", "X must be one of"),
        (lambda e: env_int("X", 1, environ=e), "ten", "X must be a whole number"),
        (lambda e: env_int("X", 1, minimum=1, environ=e), "0", "X must be at least 1"),
        (lambda e: env_float("X", 1.0, environ=e), "fast", "X must be a number"),
        (lambda e: env_float("X", 1.0, minimum=0.1, environ=e), "0", "X must be at least 0.1"),
    ],
)
def test_malformed_values_stop_the_start_with_a_clear_message(reader, value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        reader({"X": value})


def test_task_queue_is_configured_against_double_runs_and_replays():
    q = settings.Q_CLUSTER
    # A task still running when `retry` comes would be handed to a second worker.
    assert q["timeout"] < q["retry"]
    assert q["max_attempts"] >= 1
    assert q["catch_up"] is False  # after downtime, one run per schedule, not a replay storm


def test_a_mail_relay_that_never_answers_cannot_hold_the_alert_check():
    from syncs.schedules import ALERTS_MINUTES

    # Django waits for an SMTP answer for ever without a timeout: the alert check would hang
    # until django-q2 kills it, and every later check with it.
    assert settings.EMAIL_TIMEOUT is not None
    assert 0 < settings.EMAIL_TIMEOUT < ALERTS_MINUTES * 60


def test_production_start_refuses_to_run_without_a_secret_key():
    result = django_start({"DEBUG": "0", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        # issue 13: no new SQLite connection per request
        ("sqlite:////tmp/x.sqlite3", {}, "60 True absent"),
        ("sqlite:////tmp/x.sqlite3", {"DATABASE_CONN_MAX_AGE": "0"}, "0 True absent"),
        # issue 13: PostgreSQL prepares the hot statements (smcbridge.db.hot_row) ...
        ("postgres://u@127.0.0.1:5432/x", {"DATABASE_CONN_MAX_AGE": "120"}, "120 True 0"),
        # ... unless switched off for a pooler that cannot keep them
        ("postgres://u@127.0.0.1:5432/x", {"DATABASE_PREPARED_STATEMENTS": "0"}, "60 True None"),
    ],
)
def test_database_connections_are_kept_and_prepared_as_configured(url, env, expected):
    code = (
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'],"
        "d.get('OPTIONS', {}).get('prepare_threshold', 'absent'))"
    )
    result = django_start({"DATABASE_URL": url, **env}, code, check=True)
    assert result.stdout.split() == expected.split()


@pytest.mark.parametrize(
    "url", ["mysqlx://u:s3cret-pw@db/x", "postgres://u:s3cret-pw@db:port/x", "not a url"]
)
def test_a_database_url_the_bridge_cannot_use_stops_the_start_without_showing_it(url):
    result = django_start({"DATABASE_URL": url})
    assert result.returncode != 0
    assert "DATABASE_URL must be a postgres://" in result.stderr
    assert "s3cret-pw" not in result.stderr


def test_an_empty_database_url_means_the_default_sqlite_file():
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = django_start({"DATABASE_URL": ""}, code, check=True)
    assert result.stdout.split() == ["django.db.backends.sqlite3"]


def test_check_deploy_warns_of_a_proxy_with_no_proxy_counted(settings):
    """A proxy in front (its X-Forwarded-Proto trusted) with PROXY_COUNT 0 makes every client
    the proxy's address for the lockouts; one proxy counted, or none in front, is quiet."""
    from smcbridge.checks import proxy_count_behind_a_proxy

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.PROXY_COUNT = 0
    assert [m.id for m in proxy_count_behind_a_proxy(None)] == ["smcbridge.W001"]
    settings.PROXY_COUNT = 1
    assert proxy_count_behind_a_proxy(None) == []
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.PROXY_COUNT = 0
    assert proxy_count_behind_a_proxy(None) == []


def test_a_time_zone_naming_a_folder_of_zones_stops_the_start_with_a_clear_message():
    # "Europe" is a folder of the zone data: ZoneInfo() raised IsADirectoryError, a traceback
    # that named a file instead of the setting.
    result = django_start({"TIME_ZONE": "Europe"})
    assert result.returncode != 0
    assert "TIME_ZONE must be an IANA zone name; got 'Europe'" in result.stderr
