"""The "Housekeeping" schedule runs every app's pruning; django-q2's old failures are pruned."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Failure, Schedule, Success, Task

from syncs import registry
from syncs.housekeeping import HousekeepingError, delete_in_batches, prune_failed_tasks
from syncs.schedules import declared_schedules
from syncs.tasks import housekeeping_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def task(*, ago: timedelta, success: bool, group: str | None = None) -> Task:
    stopped = NOW - ago
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=uuid.uuid4().hex[:20],
        func="syncs.tasks.check_alerts_task",
        started=stopped - timedelta(seconds=1),
        stopped=stopped,
        success=success,
        group=group,
        result="boom" if not success else "ok",
    )


def test_setup_schedules_installs_the_housekeeping(settings):
    settings.HOUSEKEEPING_MINUTES = 720
    specs = {spec.name: spec for spec in declared_schedules()}
    assert specs["Housekeeping"].func == "syncs.tasks.housekeeping_task"

    call_command("setup_schedules")

    schedule = Schedule.objects.get(name="Housekeeping")
    assert schedule.func == "syncs.tasks.housekeeping_task"
    assert (schedule.minutes, schedule.repeats, schedule.args) == (720, -1, None)


def test_every_app_registers_its_pruning():
    # Each app prunes the tables it owns; the engine only runs them.
    assert [p.name for p in registry.pruners()] == [
        "failed background tasks",
        "Khoros KPI exports",
        "SAP MC success reports",
        "expired sessions",
        "login log",
    ]


def test_the_task_runs_every_pruning_and_says_what_each_deleted(monkeypatch, caplog):
    monkeypatch.setattr(registry, "_pruners", {})
    registry.register_pruner(name="old things", func=lambda: 1204)
    registry.register_pruner(name="older things", func=lambda: 0)

    with caplog.at_level(logging.INFO, logger="syncs.housekeeping"):
        result = housekeeping_task()

    assert result == "old things: 1,204 deleted; older things: 0 deleted"
    assert "Housekeeping: old things: 1204 deleted" in caplog.messages


def test_a_pruning_that_fails_does_not_stop_the_others(monkeypatch, caplog):
    monkeypatch.setattr(registry, "_pruners", {})
    ran = []

    def broken() -> int:
        raise RuntimeError("disk full")

    registry.register_pruner(name="broken", func=broken)
    registry.register_pruner(name="fine", func=lambda: ran.append(1) or 3)

    with pytest.raises(
        HousekeepingError, match=r"Pruning failed: broken \(done: fine: 3 deleted\)"
    ):
        housekeeping_task()
    assert ran == [1]
    assert any("pruning broken failed" in m for m in caplog.messages)


def test_delete_in_batches_deletes_everything_a_bounded_batch_at_a_time():
    tasks = [task(ago=timedelta(days=40), success=False) for _ in range(5)]
    keep = task(ago=timedelta(days=1), success=False)

    with CaptureQueriesContext(connection) as ctx:
        deleted = delete_in_batches(
            Task.objects.filter(stopped__lt=NOW - timedelta(days=30)), batch_size=2
        )

    assert deleted == len(tasks)
    assert list(Task.objects.values_list("pk", flat=True)) == [keep.pk]
    assert sum(q["sql"].startswith("DELETE") for q in ctx.captured_queries) == 3


def test_old_failures_go_successes_and_recent_failures_stay(settings):
    settings.TASK_FAILURE_DAYS = 30
    old = [task(ago=timedelta(days=31 + d), success=False) for d in range(3)]
    recent = task(ago=timedelta(days=29), success=False)
    old_success = task(ago=timedelta(days=300), success=True)  # django-q2's save_limit's

    assert prune_failed_tasks(now=NOW) == len(old)

    assert set(Task.objects.values_list("pk", flat=True)) == {recent.pk, old_success.pk}
    assert not Failure.objects.filter(pk__in=[t.pk for t in old]).exists()
    assert Success.objects.filter(pk=old_success.pk).exists()


def test_a_schedules_last_run_is_still_shown_once_its_failure_is_pruned(settings):
    # A schedule switched off after a failure still says it failed on the Schedules page: its
    # last task is recorded apart from django-q2's tasks (syncs.task_record).
    from syncs.selectors import schedule_last_tasks

    settings.TASK_FAILURE_DAYS = 30
    task(ago=timedelta(days=90), success=False, group="Alerts")
    latest = task(ago=timedelta(days=60), success=False, group="Alerts")

    assert prune_failed_tasks(now=NOW) == 2

    assert not Failure.objects.exists()
    shown = schedule_last_tasks(names=["Alerts"])["Alerts"]
    assert (shown.succeeded, shown.stopped) == (False, latest.stopped)
