"""Schedules page: visible in the viewer's zone, editable (interval, on/off), audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django_q.models import Schedule

from campaigns.models import AuditEvent
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


def page_form(client, schedule: Schedule) -> dict[str, str]:
    """The values a fresh /schedules/ page would send for `schedule`, hidden fields included."""
    body = client.get(reverse("schedules")).content.decode()
    seen = {
        name: re.search(rf'name="{schedule.pk}-{name}" value="([^"]*)"', body).group(1)
        for name in ("seen_minutes", "seen_enabled")
    }
    return {f"{schedule.pk}-{name}": value for name, value in seen.items()}


def edit(client, schedule: Schedule, minutes: int, *, on: bool, page: dict[str, str] | None = None):
    """Save `schedule` from a page: `page` is what that page was showing (fresh by default)."""
    data = {**(page if page is not None else page_form(client, schedule))}
    data[f"{schedule.pk}-minutes"] = str(minutes)
    if on:
        data[f"{schedule.pk}-enabled"] = "on"
    return client.post(reverse("schedule-edit", args=[schedule.pk]), data, follow=True)


@pytest.fixture
def installed():
    with time_machine.travel(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), tick=False):
        call_command("setup_schedules", stdout=None)
    return {s.name: s for s in Schedule.objects.all()}


def test_schedules_are_for_sync_admins(client, world, installed):
    client.force_login(world.maria)
    refused = client.get(reverse("schedules"))
    assert refused.status_code == 403
    assert "Schedules are for sync admins." in refused.content.decode()  # not "Sync history"
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
    now = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

    with time_machine.travel(now, tick=False):
        edit(client, schedule, 15, on=True)
    schedule.refresh_from_db()
    # Its last due time (28 March 12:00, installed every 60 min) is days more than 15 minutes
    # ago: due now, then every 15 minutes.
    assert (schedule.minutes, schedule.repeats, schedule.next_run) == (15, -1, now)

    edit(client, schedule, 15, on=False)
    schedule.refresh_from_db()
    assert schedule.repeats == 0  # django-q2 skips it

    with time_machine.travel(now + timedelta(days=1), tick=False):
        edit(client, schedule, 15, on=True)
    schedule.refresh_from_db()
    assert schedule.repeats == -1 and schedule.next_run == now + timedelta(days=1)

    actions = list(AuditEvent.objects.order_by("id").values_list("before", "after"))
    assert actions[0] == ({"minutes": 60, "enabled": True}, {"minutes": 15, "enabled": True})
    assert actions[1][1] == {"minutes": 15, "enabled": False}
    assert len(actions) == 3


def test_a_new_interval_counts_from_the_last_due_time_and_never_later_than_from_now(
    client, world, installed
):
    client.force_login(world.admin)
    schedule = installed["SAP MC campaigns"]  # every 60 min: last due 12:00, next at 13:00
    installed_at = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    def change(minutes: int, at_minute: int) -> tuple[datetime, str]:
        with time_machine.travel(installed_at + timedelta(minutes=at_minute), tick=False):
            page = edit(client, schedule, minutes, on=True).content.decode()
        schedule.refresh_from_db()
        return schedule.next_run, page

    # Longer, at 12:10: every 120 min from 12:00, not from 12:10.
    assert change(120, 10)[0] == installed_at + timedelta(minutes=120)
    # Shorter, at 12:10: every 30 min from 12:00: 12:30, not 12:40 (and not 14:00 either).
    assert change(30, 10)[0] == installed_at + timedelta(minutes=30)
    # Shorter again at 12:50: its last due time (12:00) is already more than 20 min ago, so
    # the data is older than the new interval: due now, and the page says so.
    next_run, page = change(20, 50)
    assert next_run == installed_at + timedelta(minutes=50)
    assert "“SAP MC campaigns”: every 20 min, on. It runs now, then at its interval." in page


def test_switching_on_with_a_new_interval_runs_it_at_once(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["Khoros plans"]
    off_at = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(off_at, tick=False):
        edit(client, schedule, 1, on=False)
    back_on = off_at + timedelta(hours=2)

    with time_machine.travel(back_on, tick=False):
        edit(client, schedule, 30, on=True)

    schedule.refresh_from_db()
    # Due now (once), as the page promises; the runs after it come every 30 minutes.
    assert (schedule.minutes, schedule.repeats, schedule.next_run) == (30, -1, back_on)

    # A new interval while on: due 45 minutes after its last due time. Off, and on again 10
    # minutes later, long before that due time: due now too, not at it.
    with time_machine.travel(back_on + timedelta(minutes=1), tick=False):
        edit(client, schedule, 45, on=True)
    with time_machine.travel(back_on + timedelta(minutes=5), tick=False):
        edit(client, schedule, 45, on=False)
    again = back_on + timedelta(minutes=11)
    with time_machine.travel(again, tick=False):
        edit(client, schedule, 45, on=True)
    schedule.refresh_from_db()
    assert (schedule.repeats, schedule.next_run) == (-1, again)


def test_a_change_made_in_another_window_is_not_overwritten(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["Khoros plans"]
    window_b = page_form(client, schedule)  # B opens the page: every 30 min, on
    edit(client, schedule, 45, on=True)  # A saves 45 from a page of its own

    response = edit(client, schedule, 30, on=False, page=window_b)  # B unticks On, minutes as shown

    schedule.refresh_from_db()
    assert (schedule.minutes, schedule.repeats) == (45, -1)  # A's change stands, B's is not saved
    body = response.content.decode()
    assert (
        "“Khoros plans” was not changed: it was changed meanwhile and is now every 45 min, on. "
        "Your change (every 30 min, off) was not saved"
    ) in body
    assert f'name="{schedule.pk}-minutes" value="45"' in body  # the page as it is now
    # One audit row: A's; nothing is written in B's name.
    assert list(AuditEvent.objects.values_list("actor__username", "before", "after")) == [
        ("alex", {"minutes": 30, "enabled": True}, {"minutes": 45, "enabled": True})
    ]
    # From the page as it is now, B's change goes through.
    edit(client, schedule, 45, on=False)
    schedule.refresh_from_db()
    assert (schedule.minutes, schedule.repeats) == (45, 0)
    assert AuditEvent.objects.count() == 2


def test_a_change_sent_twice_says_the_second_time_that_it_is_already_so(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["Khoros plans"]
    page = page_form(client, schedule)  # every 30 min, on
    edit(client, schedule, 45, on=True, page=page)

    # The same form again (a reload that sends it once more, a double click, a second window
    # with the same change): the schedule is as asked, so that is what the page says.
    response = edit(client, schedule, 45, on=True, page=page)

    body = response.content.decode()
    assert "“Khoros plans” is already every 45 min, on: nothing changed." in body
    assert "was not changed" not in body and "was not saved" not in body
    schedule.refresh_from_db()
    assert (schedule.minutes, schedule.repeats) == (45, -1)
    assert AuditEvent.objects.count() == 1
    # A different change from that old page is still refused, as before.
    response = edit(client, schedule, 45, on=False, page=page)
    assert "Your change (every 45 min, off) was not saved" in response.content.decode()
    assert AuditEvent.objects.count() == 1


def test_a_form_without_what_the_page_showed_changes_nothing(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["Khoros plans"]
    response = client.post(
        reverse("schedule-edit", args=[schedule.pk]),
        {f"{schedule.pk}-minutes": 5, f"{schedule.pk}-enabled": "on"},
        follow=True,
    )
    assert (
        "“Khoros plans” was not changed: The page was out of date: it now shows the schedule "
        "as it is.<"
    ) in response.content.decode()
    schedule.refresh_from_db()
    assert schedule.minutes == 30 and not AuditEvent.objects.exists()


def test_the_service_refuses_a_change_over_values_it_did_not_see(world, installed):
    from campaigns import services

    schedule = installed["Khoros plans"]
    with pytest.raises(services.ScheduleChangedError) as refused:
        services.schedule_update(
            schedule=schedule, minutes=30, enabled=False, acting_user=world.admin,
            seen_minutes=30, seen_enabled=False,
        )  # fmt: skip
    assert str(refused.value) == "it was changed meanwhile and is now every 30 min, on"
    assert Schedule.objects.get(pk=schedule.pk).repeats == -1


def test_last_run_of_schedules_that_are_not_syncs(client, world, installed):
    from django_q.models import Task

    def task(group: str, n: int, *, success: bool, stopped: datetime) -> None:
        Task.objects.create(
            id=f"{n:032x}", name=f"task-{n}", func="x.y", group=group, success=success,
            started=stopped - timedelta(seconds=1), stopped=stopped,
        )  # fmt: skip

    day = datetime(2026, 3, 28, tzinfo=UTC)
    task("Alerts", 1, success=True, stopped=day + timedelta(hours=9))
    task("Alerts", 2, success=False, stopped=day + timedelta(hours=10, minutes=5))
    task("SAP MC call log pruning", 3, success=True, stopped=day + timedelta(hours=3))
    task("SAP MC call log pruning", 4, success=True, stopped=day + timedelta(hours=2))
    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = "Europe/Berlin"

    body = client.get(reverse("schedules")).content.decode()

    rows = {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
        for name, row in re.findall(r"<tr>\s*<td[^>]*>([^<]+)</td>(.*?)</tr>", body, re.S)
    }
    # The latest of each, in the viewer's zone (UTC+1 that day).
    assert "Failed 2026-03-28 11:05" in rows["Alerts"]
    assert "Succeeded 2026-03-28 04:00" in rows["SAP MC call log pruning"]
    assert "–" in rows["Khoros plans"]  # a sync kind: its sync runs, none yet


def test_each_save_button_names_its_schedule(client, world, installed):
    # Six buttons read "Save" alike to a screen reader's list of buttons.
    client.force_login(world.admin)
    body = client.get(reverse("schedules")).content.decode()
    for name in installed:
        assert f'aria-label="Save {name}">Save</button>' in body


def test_bad_interval_is_refused_with_a_message(client, world, installed):
    client.force_login(world.admin)
    schedule = installed["Khoros plans"]
    response = edit(client, schedule, 0, on=True)
    assert "was not changed: Ensure this value is greater than or equal to 1." in (
        response.content.decode()
    )
    schedule.refresh_from_db()
    assert schedule.minutes == 30
    assert not AuditEvent.objects.exists()


def test_a_read_that_took_no_lock_still_does_not_write_over_a_change(world, installed, monkeypatch):
    from campaigns import services

    schedule = installed["Khoros plans"]
    read_before = Schedule.objects.get(pk=schedule.pk)  # every 30 min, on
    Schedule.objects.filter(pk=schedule.pk).update(minutes=45)  # another window, meanwhile

    class Unlocked:
        """The locked read as a database without row locks may see it: from before the change."""

        def get(self, **lookup):
            return read_before

    monkeypatch.setattr(Schedule.objects, "select_for_update", lambda **kw: Unlocked())
    with pytest.raises(services.ScheduleChangedError, match="now every 45 min, on"):
        services.schedule_update(
            schedule=schedule, minutes=30, enabled=False, acting_user=world.admin,
            seen_minutes=30, seen_enabled=True,
        )  # fmt: skip
    assert Schedule.objects.filter(pk=schedule.pk).values_list("minutes", "repeats").get() == (
        45,
        -1,
    )
    assert not AuditEvent.objects.exists()


def test_next_runs_on_either_side_of_a_dst_change_are_shown_in_the_viewers_zone(
    client, world, installed
):
    # Installed at 12:00 UTC on 28 March 2026; Berlin moves to summer time that night.
    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = "Europe/Berlin"
    body = client.get(reverse("schedules")).content.decode()
    rows = {
        name: body.split(f'<td class="stack-title">{name}</td>')[1].split("</tr>")[0]
        for name in ("Khoros plans", "SAP MC call log pruning")
    }
    # Every 30 min: 12:30 UTC, still winter time (UTC+1).
    assert (
        '<time datetime="2026-03-28T13:30:00+01:00">2026-03-28 13:30</time>' in rows["Khoros plans"]
    )
    # Every 1440 min: 24 hours later, 12:00 UTC, now summer time (UTC+2): 14:00, not 13:00.
    assert (
        '<time datetime="2026-03-29T14:00:00+02:00">2026-03-29 14:00</time>'
        in rows["SAP MC call log pruning"]
    )
