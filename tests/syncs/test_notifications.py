"""In-app alerts: one per outage, one on recovery, a count in the top bar, dismissal recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from syncs.alerts import alerts_check
from syncs.models import Notification, SyncRun

pytestmark = pytest.mark.django_db


def run(kind: str, status: str, error: str = "") -> SyncRun:
    return SyncRun.objects.create(
        kind=kind, trigger="schedule", status=status, error=error, finished_at=timezone.now()
    )


def all_fresh() -> None:
    for kind in ("khoros_plans", "sapmc_campaigns", "khoros_kpis"):
        run(kind, "succeeded")


def three_plan_failures() -> None:
    for _ in range(3):
        run("khoros_plans", "failed", "KhorosUnavailableError: 503")


def test_admins_without_an_address_still_get_one_notification_per_outage_and_recovery(
    world, mailoutbox
):
    assert world.admin.email == ""
    all_fresh()
    three_plan_failures()

    alerts_check()
    run("khoros_plans", "failed")
    alerts_check()  # the same outage: no second notification

    assert mailoutbox == []  # nobody has an address ...
    outage = Notification.objects.get()  # ... but the app says it, once
    assert (outage.kind, outage.event) == ("khoros_plans", "outage")
    assert outage.text.startswith("Khoros plans sync is failing. The Khoros plans sync needs")
    assert "KhorosUnavailableError: 503" in outage.text

    run("khoros_plans", "succeeded")
    alerts_check()
    alerts_check()
    assert list(Notification.objects.values_list("event", flat=True)) == ["recovery", "outage"]


def test_top_bar_counts_open_alerts_for_sync_admins_only(client, world):
    all_fresh()
    three_plan_failures()
    alerts_check()
    client.force_login(world.admin)
    count = reverse("sync-notifications-count")
    page = client.get(reverse("dashboard")).content.decode()
    # The count is a fragment the page loads: no page pays a query for it.
    assert f'hx-get="{count}" hx-trigger="load"' in page
    assert f'hx-get="{count}?place=dashboard"' in page
    badge = client.get(count).content.decode()
    assert 'data-testid="alerts-count" aria-label="1 open">1</span>' in badge
    assert "1 open alert</a>" in client.get(count, {"place": "dashboard"}).content.decode()
    client.force_login(world.maria)
    page = client.get(reverse("dashboard")).content.decode()
    assert count not in page
    assert client.get(count).status_code == 403
    assert client.get(reverse("sync-notifications")).status_code == 403


def test_dismissing_is_a_post_recorded_with_who_and_when(client, world):
    all_fresh()
    three_plan_failures()
    alerts_check()
    outage = Notification.objects.get()
    client.force_login(world.admin)
    url = reverse("sync-notification-dismiss", args=[outage.pk])
    assert client.get(url).status_code == 405
    # Each Dismiss button names its alert: a screen reader's list of buttons is not "Dismiss,
    # Dismiss, Dismiss".
    listed = client.get(reverse("sync-notifications")).content.decode()
    assert (
        f'aria-label="Dismiss the outage alert of Khoros plans of '
        f'{outage.created_at:%Y-%m-%d %H:%M}"'
    ) in listed

    response = client.post(url, follow=True)

    outage.refresh_from_db()
    assert outage.dismissed_by == world.admin
    assert timezone.now() - outage.dismissed_at < timedelta(minutes=1)
    page = response.content.decode()
    assert "Alert dismissed." in page
    assert "alerts-count" not in client.get(reverse("sync-notifications-count")).content.decode()
    assert f"by <bdi>{world.admin.username}</bdi> at <time datetime=" in page
    assert f">{outage.dismissed_at:%Y-%m-%d %H:%M}</time>" in page
    # A second dismissal (another admin, the same moment) keeps the first record.
    client.force_login(world.tom)
    assert client.post(url).status_code == 403
    client.force_login(world.admin)
    page = client.post(url, follow=True).content.decode()
    assert "That alert was already dismissed." in page
    assert client.post(reverse("sync-notification-dismiss", args=[9999])).status_code == 404


def test_a_recovery_closes_the_outage_alert_of_its_kind(client, world):
    all_fresh()
    three_plan_failures()
    for _ in range(3):
        run("sapmc_campaigns", "failed", "SapmcUnavailableError: 503")
    alerts_check()  # two outages open
    run("khoros_plans", "succeeded")

    alerts_check()  # Khoros plans recovers; SAP MC campaigns does not

    open_alerts = {(n.kind, n.event) for n in Notification.objects.filter(dismissed_at=None)}
    assert open_alerts == {("khoros_plans", "recovery"), ("sapmc_campaigns", "outage")}
    closed = Notification.objects.get(kind="khoros_plans", event="outage")
    assert closed.closed_by_recovery and closed.dismissed_by is None
    client.force_login(world.admin)
    badge = client.get(reverse("sync-notifications-count")).content.decode()
    # The SAP MC outage counts; Khoros plans' recovery notice is listed, not counted.
    assert 'aria-label="1 open">1</span>' in badge
    history = client.get(reverse("sync-notifications")).content.decode()
    assert "closed by the recovery at <time datetime=" in history
    assert f">{closed.dismissed_at:%Y-%m-%d %H:%M}</time>" in history
    assert "a deleted user" not in history


def test_a_recovery_notice_alone_raises_no_count(client, world):
    all_fresh()
    three_plan_failures()
    alerts_check()  # Khoros plans: outage
    run("khoros_plans", "succeeded")
    alerts_check()  # and its recovery: the outage's alert closed, the recovery's notice open
    assert Notification.objects.filter(dismissed_at=None).get().event == "recovery"
    client.force_login(world.admin)
    assert "alerts-count" not in client.get(reverse("sync-notifications-count")).content.decode()
    dashboard_line = client.get(reverse("sync-notifications-count"), {"place": "dashboard"})
    assert "open alert" not in dashboard_line.content.decode()
    assert "recovered" in client.get(reverse("sync-notifications")).content.decode().lower()
