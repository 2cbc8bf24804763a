"""/healthz and the dashboard banner: database, broker, stale syncs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from syncs.health import health_check
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


def succeed(kind: str, ago: timedelta) -> None:
    SyncRun.objects.create(
        kind=kind, trigger="schedule", status="succeeded", finished_at=timezone.now() - ago
    )


def fresh_everything() -> None:
    for kind in ("khoros_plans", "sapmc_campaigns", "khoros_kpis"):
        succeed(kind, timedelta(minutes=5))


def test_healthy_bridge_answers_200_with_details(client):
    fresh_everything()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["broker"] == "ok"
    assert body["queued_tasks"] == 0
    assert body["syncs"]["khoros_plans"]["status"] == "ok"
    assert body["syncs"]["khoros_plans"]["max_age_seconds"] == 3 * 30 * 60
    assert 290 <= body["syncs"]["khoros_plans"]["age_seconds"] <= 310


def test_stale_or_never_run_kind_answers_503(client):
    fresh_everything()
    succeed("sapmc_campaigns", timedelta(days=2))
    SyncRun.objects.filter(
        kind="sapmc_campaigns", finished_at__gt=timezone.now() - timedelta(hours=1)
    ).delete()
    SyncRun.objects.filter(kind="khoros_plans").delete()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["syncs"]["sapmc_campaigns"]["status"] == "stale"
    assert body["syncs"]["khoros_plans"]["last_success"] is None
    assert "Khoros plans sync has succeeded never." in body["problems"]


def test_unreachable_broker_answers_503():
    import redis
    from django_q.brokers.redis_broker import Redis

    fresh_everything()
    broker = Redis.__new__(Redis)
    broker.connection = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.5)
    broker.list_key = "smcbridge-health-test"
    health = health_check(broker=broker)
    assert not health.ok and health.database and not health.broker
    assert "The task broker does not answer" in health.problems[0]


@pytest.mark.django_db(transaction=True)
def test_unreachable_database_answers_503(client):
    connection.close()
    saved = dict(connection.settings_dict)
    try:
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent/dir/db.sqlite3"
        else:
            connection.settings_dict["PORT"] = "9"
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_dashboard_shows_a_banner_only_when_something_is_wrong(client, world):
    client.force_login(world.maria)
    body = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="health-banner"' in body and "has succeeded never" in body
    fresh_everything()
    body = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="health-banner"' not in body
