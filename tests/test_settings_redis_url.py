"""A REDIS_URL that redis-py cannot use passed `check` and started the web server; only the
worker died, the cause buried in its traceback. It now stops the start with a message that names
the variable and does not repeat the value (a Redis URL may hold a password)."""

from __future__ import annotations

import pytest

from tests.conftest import settings_from
from tests.test_settings_refused import refused

REDIS_MESSAGE = "REDIS_URL must be a redis://host:port/db, rediss://host:port/db or unix://"


@pytest.mark.parametrize(
    "url",
    [
        "notaurl-s3cret",
        "http://:s3cret@redis.internal:6379/0",  # not a scheme redis-py knows
        "redis://:s3cret@redis.internal:port/0",  # a port that is no number
        "redis://:s3cret@/0",  # no host
        "redis://:s3cret@redis.internal:6379/zero",  # a database that is no number
        "unix://",  # no socket path
    ],
)
def test_a_malformed_redis_url_stops_the_start_without_showing_it(url):
    said = refused({"REDIS_URL": url}, REDIS_MESSAGE)
    assert "s3cret" not in said


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/11",
        "redis://:pw@redis.internal:6379/0",
        "rediss://user:pw@redis.internal:6380",
        "redis://localhost",
        "unix:///run/redis/redis.sock?db=2",
    ],
)
def test_redis_urls_redis_py_takes_are_accepted_as_the_broker(url):
    read = settings_from({"REDIS_URL": url})
    assert read["REDIS_URL"] == url and read["Q_CLUSTER"]["redis"] == url


def test_an_empty_redis_url_still_means_the_orm_broker():
    read = settings_from({"REDIS_URL": ""})
    assert "redis" not in read["Q_CLUSTER"] and read["Q_CLUSTER"]["orm"] == "default"
