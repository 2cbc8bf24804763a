"""Schedules page: visible in the viewer's zone, editable (interval, on/off), audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django_q.models import Schedule

from campaigns.models import AuditEvent
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed():
    with time_machine.travel(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), tick=False):
        call_command("setup_schedules", stdout=None)
    return {s.name: s for s in Schedule.objects.all()}


def test_schedules_are_for_sync_admins(client, world, installed):
    client.force_login(world.maria)
    assert client.get(reverse("schedules")).status_code == 403
    schedule = installed["Khoros plans"]
    response = client.post(
        reverse("schedule-edit", args=[schedule.pk]), {f"{schedule.pk}-minutes": 5}
    )
    assert response.status_code == 403
    schedule.refresh_from_db()
    assert schedule.minutes == 30


def test_next_run_is_shown_in_the_viewers_time_zone(client, world, installed):
    SyncRun.objects.create(
        kind="khoros_plans",
        trigger="schedule",
        status="succeeded",
        finished_at=datetime(2026, 3, 28, 11, 0, tzinfo=UTC),
    )
    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = "Europe/Berlin"
    body = client.get(reverse("schedules")).content.decode()
    # Installed at 12:00 UTC, due 30 minutes later: 13:30 in Berlin (UTC+1 that day).
    assert "2026-03-28 13:30" in body
    assert "Times are in Europe/Berlin" in body
    assert "2026-03-28 12:00" in body  # the last run, 11:00 UTC
    client.cookies["smcbridge_tz"] = "Not/AZone"
    assert "2026-03-28 12:30" in client.get(reverse("schedules")).content.decode()


def test_admin_changes_interval_and_switches_off_and_on(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["SAP MC campaigns"]
    url = reverse("schedule-edit", args=[schedule.pk])
    now = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

    with time_machine.travel(now, tick=False):
        client.post(url, {f"{schedule.pk}-minutes": 15, f"{schedule.pk}-enabled": "on"})
    schedule.refresh_from_db()
    assert (schedule.minutes, schedule.repeats, schedule.next_run) == (
        15,
        -1,
        now + timedelta(minutes=15),
    )

    client.post(url, {f"{schedule.pk}-minutes": 15})
    schedule.refresh_from_db()
    assert schedule.repeats == 0  # django-q2 skips it

    with time_machine.travel(now + timedelta(days=1), tick=False):
        client.post(url, {f"{schedule.pk}-minutes": 15, f"{schedule.pk}-enabled": "on"})
    schedule.refresh_from_db()
    assert schedule.repeats == -1 and schedule.next_run == now + timedelta(days=1)

    actions = list(AuditEvent.objects.order_by("id").values_list("before", "after"))
    assert actions[0] == ({"minutes": 60, "enabled": True}, {"minutes": 15, "enabled": True})
    assert actions[1][1] == {"minutes": 15, "enabled": False}
    assert len(actions) == 3


def test_bad_interval_is_refused_with_a_message(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["Khoros plans"]
    response = client.post(
        reverse("schedule-edit", args=[schedule.pk]), {f"{schedule.pk}-minutes": 0}, follow=True
    )
    assert "was not changed" in response.content.decode()
    schedule.refresh_from_db()
    assert schedule.minutes == 30
    assert not AuditEvent.objects.exists()
