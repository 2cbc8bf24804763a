"""Alerts of a fresh deployment: a kind whose first scheduled run is still ahead "has not run
yet" (not "is failing"), its first success is no "recovery", and a first run that never came is
an outage."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from syncs.alerts import alerts_check
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recipients(world):
    world.admin.email = "alex@example.com"
    world.admin.save()


def succeeded(kind: str) -> None:
    SyncRun.objects.create(
        kind=kind, trigger="schedule", status="succeeded", finished_at=timezone.now()
    )


def subjects(mailoutbox) -> list[str]:
    return sorted(m.subject.removeprefix("[smcbridge] ") for m in mailoutbox)


def test_a_kind_whose_first_run_is_ahead_has_not_run_yet_and_then_first_succeeds(mailoutbox):
    call_command("setup_schedules", stdout=StringIO())

    alerts_check()  # the first check, 5 minutes after the worker started

    assert subjects(mailoutbox) == [
        "Khoros KPIs sync has not run yet",
        "Khoros plans sync has not run yet",
        "SAP MC campaigns sync has not run yet",
    ]
    plans = next(m for m in mailoutbox if "Khoros plans" in m.subject)
    assert "needs attention: its first scheduled run is due at " in plans.body
    assert "`manage.py first_syncs` runs it now" in plans.body
    assert plans.body.endswith("You will get one more email when it first succeeds.")
    assert not any("is failing" in m.subject or "never" in m.body for m in mailoutbox)

    succeeded("khoros_plans")
    alerts_check()

    first = mailoutbox[-1]
    assert first.subject == "[smcbridge] Khoros plans sync succeeded for the first time"
    assert first.body.startswith("The Khoros plans sync succeeded for the first time")
    assert "again" not in first.body


def test_a_first_run_that_came_and_went_without_a_run_is_an_outage(mailoutbox):
    call_command("setup_schedules", stdout=StringIO())
    alerts_check()
    told = len(mailoutbox)

    # Plans were due 30 minutes after setup_schedules; no worker ran them.
    with time_machine.travel(timezone.now() + timedelta(minutes=45)):
        alerts_check()

    later = [m for m in mailoutbox[told:] if "Khoros plans" in m.subject]
    assert [m.subject for m in later] == ["[smcbridge] Khoros plans sync is failing"]
    assert "it has never run: is the worker (`manage.py qcluster`) running?" in later[0].body
    with time_machine.travel(timezone.now() + timedelta(minutes=50)):
        alerts_check()
    assert len([m for m in mailoutbox if "Khoros plans" in m.subject]) == 2  # told once each


def test_a_kind_that_ran_but_never_succeeded_is_still_failing(mailoutbox):
    call_command("setup_schedules", stdout=StringIO())
    SyncRun.objects.create(
        kind="khoros_plans", trigger="command", status="failed", finished_at=timezone.now()
    )

    alerts_check()

    plans = next(m for m in mailoutbox if "Khoros plans" in m.subject)
    assert plans.subject == "[smcbridge] Khoros plans sync is failing"
    assert "it has never succeeded." in plans.body
