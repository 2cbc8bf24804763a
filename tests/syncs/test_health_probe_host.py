"""The health probes answer whatever the Host (a load balancer asks by address), every other
path keeps ALLOWED_HOSTS, and an unhealthy /healthz is logged once per change, not per probe."""

from __future__ import annotations

import logging

import pytest

from smcbridge import middleware

pytestmark = pytest.mark.django_db

BACKEND = "10.0.0.5:8000"  # the address a load balancer probes, in no ALLOWED_HOSTS


@pytest.fixture(autouse=True)
def production_hosts(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["bridge.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    middleware._last_status.clear()
    yield
    middleware._last_status.clear()


def test_the_probes_answer_a_host_that_is_not_allowed(client, caplog):
    live = client.get("/healthz/live", headers={"host": BACKEND})
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    # A fresh database: no kind has synced, so the monitor's probe says so, as JSON, not 400.
    health = client.get("/healthz", headers={"host": BACKEND})
    assert health.status_code == 503 and health.json()["status"] == "failing"
    assert client.head("/healthz/live", headers={"host": BACKEND}).status_code == 200
    assert not [r for r in caplog.records if r.name == "django.security.DisallowedHost"]


def test_every_other_path_still_refuses_a_host_that_is_not_allowed(client):
    for path in ("/", "/login/", "/admin/", "/healthz/", "/healthz/live/x"):
        assert client.get(path, headers={"host": BACKEND}).status_code == 400, path
    # Only a probe's methods: a POST to a probe's path is checked like any other request.
    assert client.post("/healthz", headers={"host": BACKEND}).status_code == 400
    # The allowed host still reaches the pages (over plain HTTP: redirected to HTTPS).
    assert client.get("/login/", headers={"host": "bridge.example.com"}).status_code == 301


def test_an_unhealthy_probe_is_logged_once_at_warning_not_as_an_error_each_time(client, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(3):
        assert client.get("/healthz", headers={"host": BACKEND}).status_code == 503
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == middleware.__name__]
    assert said == [
        ("WARNING", "/healthz answers 503: the bridge is not healthy (its JSON says why)")
    ]
