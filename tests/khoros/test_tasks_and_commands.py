"""Every entry point of the sync (command, schedule, button) runs the same service."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

from khoros.models import Plan
from syncs import runs
from syncs.models import SyncRun
from tests.conftest import run_queued_tasks

pytestmark = pytest.mark.django_db


def test_command_prints_a_summary_line(live_khoros):
    out = StringIO()
    call_command("sync_khoros", stdout=out)

    run = SyncRun.objects.get()
    assert run.trigger == SyncRun.Trigger.COMMAND
    assert f"Sync #{run.pk} succeeded: 24 created, 0 updated, 0 unchanged, 0 removed, 0 failed" in (
        out.getvalue()
    )


def test_command_fails_loudly_when_khoros_fails(live_khoros):
    live_khoros.sim.add_fault("initiatives", "http_503", count=None, body="json")
    err = StringIO()
    with pytest.raises(CommandError, match="Could not list Initiatives"):
        call_command("sync_khoros", stdout=StringIO(), stderr=err)
    assert "failed" in err.getvalue()


def test_a_refused_token_is_named_as_such_not_as_a_failed_listing(live_khoros):
    live_khoros.sim.add_fault("me", "expired_token", count=None)
    with pytest.raises(CommandError) as raised:
        call_command("sync_khoros", stdout=StringIO(), stderr=StringIO())
    assert "Could not check the company the token belongs to:" in str(raised.value)
    assert "list Initiatives" not in str(raised.value)
    assert SyncRun.objects.get().error.startswith("Could not check the company")


def test_setup_schedules_is_idempotent_and_keeps_admin_changes():
    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(name="Khoros plans")
    # The one sync task of the engine, with the kind as its argument.
    assert (schedule.func, schedule.args, schedule.minutes, schedule.repeats) == (
        "syncs.tasks.sync_task",
        "('khoros_plans',)",
        30,
        -1,
    )
    schedule.minutes = 45
    schedule.save()

    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())

    assert Schedule.objects.filter(name="Khoros plans").count() == 1
    assert Schedule.objects.get(name="Khoros plans").minutes == 45
    call_command("setup_schedules", "--reset-intervals", stdout=StringIO())
    assert Schedule.objects.get(name="Khoros plans").minutes == 30


@pytest.mark.django_db(transaction=True)
def test_button_request_runs_in_a_real_django_q_worker(live_khoros, admin_user):
    # Committed for real: the worker opens and closes its own database connections.
    run, queued = runs.sync_request(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, requested_by=admin_user
    )
    assert queued and run.status == SyncRun.Status.QUEUED

    assert run_queued_tasks() == 1

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.trigger == SyncRun.Trigger.BUTTON
    assert run.requested_by == admin_user
    assert Plan.objects.count() == 24
    assert SyncRun.objects.count() == 1


def test_second_button_press_reuses_the_queued_run(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, queued_first = runs.sync_request(
            kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON
        )
        second, queued_second = runs.sync_request(
            kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON
        )
    assert (queued_first, queued_second) == (True, False)
    assert first.pk == second.pk
    from django_q.brokers import get_broker

    broker = get_broker()
    assert broker.queue_size() == 1
    broker.purge_queue()


def test_scheduled_task_creates_its_own_run(live_khoros):
    from syncs.tasks import sync_task

    assert sync_task(SyncRun.Kind.KHOROS_PLANS).endswith("succeeded")
    run = SyncRun.objects.get()
    assert run.trigger == SyncRun.Trigger.SCHEDULE


def test_a_task_naming_another_kinds_run_does_nothing(live_khoros):
    # After a restore from a dump, a task queued before it names a run number that another
    # kind's run has now (found by a review): it must not run the wrong sync on that record.
    from syncs.tasks import sync_task

    other = SyncRun.objects.create(kind="sapmc_campaigns", trigger=SyncRun.Trigger.BUTTON)
    answer = sync_task(SyncRun.Kind.KHOROS_PLANS, other.pk)
    assert answer == f"run #{other.pk} is a sapmc_campaigns run, not khoros_plans: not run"
    other.refresh_from_db()
    assert other.status == SyncRun.Status.QUEUED
    assert live_khoros.sim.requests == []


def test_task_for_a_deleted_run_does_nothing(live_khoros):
    from syncs.tasks import sync_task

    assert sync_task(SyncRun.Kind.KHOROS_PLANS, 999999) == "run #999999 no longer exists"
    assert live_khoros.sim.requests == []
