"""Runs nobody works on any more are taken over every few minutes, without anyone asking.

With Redis a task whose worker was killed is gone (django-q2's Redis broker has no ack and does
not redeliver it): before, its run stayed "running" until a person's button, a new SAP MC
report or the kind's next scheduled firing (hours for the KPIs) asked for its kind.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.tasks import async_task

from syncs.models import SyncRun
from syncs.schedules import setup_schedules
from tests.conftest import run_queued_tasks

KIND = SyncRun.Kind.KHOROS_PLANS


def _takeover_schedule() -> Schedule:
    """The takeover's schedule as setup_schedules installs it."""
    setup_schedules()
    return Schedule.objects.get(name="Stopped runs")


def _fire(schedule: Schedule) -> None:
    """Queue the schedule's task as django-q2's scheduler does, and let a real worker run it."""
    async_task(schedule.func)
    assert run_queued_tasks() == 1


def _dead_run(**fields) -> SyncRun:
    """A run whose worker was killed: running, its lease ran out, no task behind it."""
    return SyncRun.objects.create(
        **{
            "kind": KIND,
            "trigger": SyncRun.Trigger.BUTTON,
            "status": SyncRun.Status.RUNNING,
            "started_at": timezone.now() - timedelta(minutes=10),
            "heartbeat_at": timezone.now() - timedelta(minutes=6),
            "lease_expires_at": timezone.now() - timedelta(minutes=1),
            **fields,
        }
    )


@pytest.mark.django_db
def test_setup_schedules_installs_the_takeover_every_few_minutes():
    schedule = _takeover_schedule()
    assert (schedule.func, schedule.repeats) == ("syncs.tasks.take_over_stopped_runs_task", -1)
    # Well inside a lease: a dead run waits at most a lease and this long.
    assert schedule.minutes * 60 <= django_settings.SYNC_LEASE_SECONDS


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_s_run_is_taken_over_by_the_schedule_and_the_worker_runs_it(
    live_khoros,
):
    schedule = _takeover_schedule()
    dead = _dead_run()
    _fire(schedule)
    dead.refresh_from_db()
    new = SyncRun.objects.exclude(pk=dead.pk).get()
    assert dead.status == SyncRun.Status.FAILED
    assert dead.error == (
        f"The worker stopped sending heartbeats; run #{new.pk} took over its lease."
    )
    assert (new.status, new.trigger) == (SyncRun.Status.QUEUED, SyncRun.Trigger.FOLLOW_UP)

    # The run queued in its place is in the broker: the worker runs it.
    assert run_queued_tasks() == 1
    new.refresh_from_db()
    assert new.status == SyncRun.Status.SUCCEEDED
    assert run_queued_tasks() == 0  # and nothing more was queued


@pytest.mark.django_db(transaction=True)
def test_the_takeover_leaves_live_runs_alone_and_replaces_a_lost_queued_one():
    schedule = _takeover_schedule()
    live = _dead_run(lease_expires_at=timezone.now() + timedelta(minutes=4))
    fresh = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_KPIS, trigger="api")
    lost = SyncRun.objects.create(kind=SyncRun.Kind.SAPMC_CAMPAIGNS, trigger="button")
    window = timedelta(seconds=django_settings.Q_CLUSTER["retry"] + 1)
    SyncRun.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - window)

    _fire(schedule)
    live.refresh_from_db()
    fresh.refresh_from_db()
    lost.refresh_from_db()
    assert live.status == SyncRun.Status.RUNNING and fresh.status == SyncRun.Status.QUEUED
    assert lost.status == SyncRun.Status.FAILED and lost.never_started
    replacement = SyncRun.objects.get(kind=SyncRun.Kind.SAPMC_CAMPAIGNS, status="queued")
    assert replacement.trigger == SyncRun.Trigger.FOLLOW_UP
    assert SyncRun.objects.count() == 4

    # Fired again (the replacement's task left aside), the takeover asks for nothing more.
    get_broker().purge_queue()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("syncs.runs.sync_request", _must_not_be_called)
        _fire(schedule)
    assert SyncRun.objects.count() == 4


def _must_not_be_called(**kwargs: object) -> None:
    raise AssertionError(f"sync_request{kwargs}")
