"""Alert emails: one when a kind starts failing, none while it goes on, one on recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from syncs.alerts import alerts_check
from syncs.models import AlertState, Notification, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recipients(world):
    world.admin.email = "alex@example.com"
    world.admin.save()


def run(
    kind: str, status: str, *, ago: timedelta = timedelta(minutes=1), error: str = ""
) -> SyncRun:
    return SyncRun.objects.create(
        kind=kind, trigger="schedule", status=status, error=error, finished_at=timezone.now() - ago
    )


def all_fresh() -> None:
    for kind in ("khoros_plans", "sapmc_campaigns", "khoros_kpis"):
        run(kind, "succeeded")


def test_three_failures_in_a_row_send_one_email_and_recovery_sends_another(mailoutbox):
    all_fresh()
    assert alerts_check() == [] and mailoutbox == []
    run("khoros_plans", "failed", error="KhorosUnavailableError: 503")
    run("khoros_plans", "failed", error="KhorosUnavailableError: 503")
    assert alerts_check() == []  # two are not yet an outage
    run("khoros_plans", "failed", error="KhorosUnavailableError: 503 again")

    sent = alerts_check()

    assert [(s.kind, s.recovered, s.recipients) for s in sent] == [
        ("khoros_plans", False, ("alex@example.com",))
    ]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "[smcbridge] Khoros plans sync is failing"
    assert "503 again" in mailoutbox[0].body
    # More failures, more checks: still one email for the outage.
    run("khoros_plans", "failed")
    run("khoros_plans", "skipped")
    alerts_check()
    alerts_check()
    assert len(mailoutbox) == 1
    assert AlertState.objects.get(kind="khoros_plans").alerting

    run("khoros_plans", "succeeded")
    sent = alerts_check()

    assert [(s.kind, s.recovered) for s in sent] == [("khoros_plans", True)]
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "[smcbridge] Khoros plans sync recovered"
    assert alerts_check() == [] and len(mailoutbox) == 2


def test_a_kind_that_has_not_succeeded_for_too_long_alerts_once(mailoutbox):
    all_fresh()
    with time_machine.travel(timezone.now() + timedelta(hours=4)):
        # Plans every 30 min: stale after 90 min; SAP MC every 60 min: stale after 3 h.
        sent = alerts_check()
        assert sorted(s.kind for s in sent) == ["khoros_plans", "sapmc_campaigns"]
        assert alerts_check() == []
    assert len(mailoutbox) == 2
    assert "has not succeeded since" in mailoutbox[0].body


def test_alert_emails_go_to_configured_addresses_when_set(mailoutbox, settings):
    settings.ALERT_EMAILS = ["ops@example.com", "oncall@example.com"]
    SyncRun.objects.all().delete()
    sent = alerts_check()
    assert {s.recipients for s in sent} == {("ops@example.com", "oncall@example.com")}
    assert mailoutbox[0].to == ["ops@example.com", "oncall@example.com"]


def _schedules(**changes: tuple[int, bool]) -> None:
    """Install the schedules, then set some as the Schedules page would: name=(minutes, on)."""
    from django_q.models import Schedule

    from syncs.schedules import setup_schedules

    setup_schedules()
    for name, (minutes, on) in changes.items():
        Schedule.objects.filter(name=name).update(minutes=minutes, repeats=-1 if on else 0)


def test_staleness_alerts_follow_the_schedules_as_they_are_now(mailoutbox):
    all_fresh()
    _schedules(**{"Khoros plans": (30, False), "SAP MC campaigns": (1440, True)})
    with time_machine.travel(timezone.now() + timedelta(hours=4)):
        # Plans are switched off, SAP MC has a day's interval: no outage after 4 hours.
        assert alerts_check() == []
        assert alerts_check() == []
    assert mailoutbox == []
    assert not AlertState.objects.filter(alerting=True).exists()


def test_switching_a_stale_kind_off_is_not_a_recovery(mailoutbox):
    from django_q.models import Schedule

    all_fresh()
    _schedules()
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert [s.kind for s in alerts_check()] == ["khoros_plans"]  # stale after 90 min
        Schedule.objects.filter(name="Khoros plans").update(repeats=0)
        assert alerts_check() == []  # paused: neither a new alert nor "recovered"
    assert [m.subject for m in mailoutbox] == ["[smcbridge] Khoros plans sync is failing"]
    assert AlertState.objects.get(kind="khoros_plans").alerting


def test_a_schedule_switched_back_on_after_a_long_pause_is_not_stale_at_once(mailoutbox, world):
    from django_q.models import Schedule

    from campaigns.services import schedule_update

    all_fresh()
    _schedules(**{"Khoros plans": (30, False)})
    Schedule.objects.exclude(name="Khoros plans").update(repeats=0)  # only Plans is watched
    schedule = Schedule.objects.get(name="Khoros plans")
    with time_machine.travel(timezone.now() + timedelta(days=10), tick=False):
        # Off for ten days: its last success is ten days old, but nothing was to run it.
        assert _plans_health().status == "paused"
        schedule_update(schedule=schedule, minutes=30, enabled=True, acting_user=world.admin)

        # Switched on, it is due at once: its run gets its 90 minutes before it is stale.
        assert (_plans_health().status, _plans_health().stale) == ("ok", False)
        assert alerts_check() == []
        with time_machine.travel(timezone.now() + timedelta(minutes=89), tick=False):
            assert alerts_check() == []
        # Still no success 91 minutes after it was switched on: stale, one alert.
        with time_machine.travel(timezone.now() + timedelta(minutes=91), tick=False):
            assert [s.kind for s in alerts_check()] == ["khoros_plans"]
            assert "has not succeeded since" in mailoutbox[-1].body
    assert [m.subject for m in mailoutbox] == ["[smcbridge] Khoros plans sync is failing"]


def test_switching_a_stale_kind_off_and_on_again_is_not_a_recovery(mailoutbox, world):
    from django_q.models import Schedule

    from campaigns.services import schedule_update

    all_fresh()
    _schedules()
    Schedule.objects.exclude(name="Khoros plans").update(repeats=0)
    schedule = Schedule.objects.get(name="Khoros plans")
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        assert [s.kind for s in alerts_check()] == ["khoros_plans"]  # stale after 90 min
        schedule_update(schedule=schedule, minutes=30, enabled=False, acting_user=world.admin)
        schedule.refresh_from_db()
        schedule_update(schedule=schedule, minutes=30, enabled=True, acting_user=world.admin)

        # Not stale again yet (its run gets its 90 minutes), but nothing succeeded either: the
        # outage stays open, no "recovered" email.
        assert alerts_check() == []
        assert AlertState.objects.get(kind="khoros_plans").alerting
        run("khoros_plans", "succeeded", ago=timedelta(0))
        assert [(s.kind, s.recovered) for s in alerts_check()] == [("khoros_plans", True)]
    assert [m.subject for m in mailoutbox] == [
        "[smcbridge] Khoros plans sync is failing",
        "[smcbridge] Khoros plans sync recovered",
    ]


def _plans_health():
    from syncs.health import sync_freshness

    return next(k for k in sync_freshness() if k.kind == "khoros_plans")


def test_a_run_under_way_is_neither_a_new_outage_nor_a_recovery(mailoutbox):
    all_fresh()
    _schedules()
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert [s.kind for s in alerts_check()] == ["khoros_plans"]  # stale after 90 min
        underway, started = SyncRun.begin(kind="khoros_plans", trigger="schedule")
        assert started
        # It may still fail: the outage stays open, no "recovered" email.
        assert alerts_check() == []
        assert AlertState.objects.get(kind="khoros_plans").alerting
        underway.finish(SyncRun.Status.SUCCEEDED)
        assert [(s.kind, s.recovered) for s in alerts_check()] == [("khoros_plans", True)]
    assert [m.subject for m in mailoutbox] == [
        "[smcbridge] Khoros plans sync is failing",
        "[smcbridge] Khoros plans sync recovered",
    ]


def test_a_stale_alert_shows_its_time_in_the_viewers_zone_and_the_email_in_utc(
    client, world, mailoutbox
):
    # Plans last succeeded at 10:00 UTC; four hours later the check finds them stale.
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=UTC)):
        all_fresh()
    with time_machine.travel(datetime(2026, 11, 30, 14, 0, tzinfo=UTC)):
        alerts_check()
    plans_mail = next(m for m in mailoutbox if "Khoros plans" in m.subject)
    assert "it has not succeeded since 2026-11-30 09:59 UTC." in plans_mail.body

    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = "Asia/Tokyo"  # UTC+9: 09:59 UTC is 18:59 there
    page = client.get(reverse("sync-notifications")).content.decode()
    assert (
        "Khoros plans sync is failing. The Khoros plans sync needs attention: it has not "
        'succeeded since <time datetime="2026-11-30T18:59:00+09:00">2026-11-30 18:59</time>.'
    ) in page
    assert "UTC" not in page.split('data-testid="open-alerts"')[1].split("</ul>")[0]


def _closed_port() -> int:
    """A local TCP port nothing listens on: an SMTP relay that is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_mail_relay_that_is_down_loses_no_alert_and_the_email_goes_out_later(
    client, world, mailoutbox, settings, caplog
):
    all_fresh()
    for kind in ("khoros_plans", "sapmc_campaigns"):
        for _ in range(3):
            run(kind, "failed", error="UnavailableError: 503")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    settings.EMAIL_HOST_PASSWORD = "relay-secret-pw"

    # The relay refuses: the check neither raises nor stops at the first kind.
    sent = alerts_check()

    assert sorted(s.kind for s in sent) == ["khoros_plans", "sapmc_campaigns"]
    assert mailoutbox == []
    assert set(AlertState.objects.filter(alerting=True).values_list("kind", flat=True)) == {
        "khoros_plans",
        "sapmc_campaigns",
    }
    # Sync admins see both outages in the app meanwhile.
    client.force_login(world.admin)
    page = client.get(reverse("sync-notifications")).content.decode()
    open_alerts = page.split('data-testid="open-alerts"')[1].split("</ul>")[0]
    assert "Khoros plans sync is failing" in open_alerts
    assert "SAP MC campaigns sync is failing" in open_alerts
    assert "relay-secret-pw" not in caplog.text

    # Still down at the next check: nothing new, nothing sent twice later.
    assert alerts_check() == []
    assert mailoutbox == []

    # The relay is back: the next check sends each alert once, then nothing more.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alerts_check()
    assert sorted(m.subject for m in mailoutbox) == [
        "[smcbridge] Khoros plans sync is failing",
        "[smcbridge] SAP MC campaigns sync is failing",
    ]
    assert all("503" in m.body for m in mailoutbox)
    alerts_check()
    assert len(mailoutbox) == 2
    assert Notification.objects.filter(event=Notification.Event.OUTAGE).count() == 2


def test_with_the_site_url_set_the_emails_link_to_the_latest_failed_run_and_the_kinds_runs(
    mailoutbox, settings
):
    settings.SITE_URL = "https://smcbridge.example.com"
    all_fresh()
    run("khoros_plans", "failed", error="KhorosUnavailableError: 503")
    run("khoros_plans", "failed", error="KhorosUnavailableError: 503")
    latest = run("khoros_plans", "failed", error="KhorosUnavailableError: 503 again")
    run("khoros_kpis", "failed")  # another kind's failure is not this alert's run

    alerts_check()

    outage = mailoutbox[0].body.splitlines()
    assert outage[-2:] == [
        f"The latest failed run: https://smcbridge.example.com/syncs/{latest.pk}/",
        "Its runs: https://smcbridge.example.com/syncs/?kind=khoros_plans",
    ]
    # The in-app alert needs no address: it is on the site already.
    assert "https://" not in Notification.objects.get(kind="khoros_plans").text

    run("khoros_plans", "succeeded")
    alerts_check()

    assert mailoutbox[1].subject == "[smcbridge] Khoros plans sync recovered"
    assert mailoutbox[1].body.splitlines()[-1] == (
        "Its runs: https://smcbridge.example.com/syncs/?kind=khoros_plans"
    )
    assert "failed run" not in mailoutbox[1].body


def test_a_stale_kind_that_failed_nothing_links_to_its_runs_only(mailoutbox, settings):
    settings.SITE_URL = "https://smcbridge.example.com"
    all_fresh()
    SyncRun.objects.filter(kind="sapmc_campaigns").update(
        finished_at=timezone.now() - timedelta(days=3)
    )
    run("sapmc_campaigns", "failed", ago=timedelta(days=4))  # an old failure, before the success

    alerts_check()

    (email,) = mailoutbox
    assert email.body.splitlines()[-1] == (
        "Its runs: https://smcbridge.example.com/syncs/?kind=sapmc_campaigns"
    )
    assert "failed run" not in email.body


def test_without_the_site_url_the_emails_carry_no_links(mailoutbox, settings):
    settings.SITE_URL = ""
    all_fresh()
    for _ in range(3):
        run("khoros_plans", "failed", error="KhorosUnavailableError: 503")

    alerts_check()

    (email,) = mailoutbox
    assert "://" not in email.body and "/syncs/" not in email.body
