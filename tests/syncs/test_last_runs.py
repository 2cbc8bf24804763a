"""The Schedules page's "Last run": each kind's latest finished run, read by an index in one
query, and the last task of each schedule that records no run."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from syncs.models import SyncRun
from syncs.selectors import sync_last_runs

pytestmark = pytest.mark.django_db


def test_each_kinds_last_run_is_its_latest_finish_in_one_query_without_its_logs():
    rng = random.Random(15)
    kinds = SyncRun.Kind.values
    start = timezone.now() - timedelta(days=30)
    compared = 0
    for case in range(12):
        SyncRun.objects.all().delete()
        runs = []
        for _ in range(rng.randrange(0, 40)):
            finished = rng.random() < 0.8
            runs.append(
                SyncRun(
                    kind=rng.choice(kinds),
                    status=rng.choice(["succeeded", "failed", "partial", "skipped"])
                    if finished
                    else "queued",
                    queued_at=start + timedelta(minutes=rng.randrange(0, 40_000)),
                    # Finishes tie now and then (the id decides), and an earlier-queued run may
                    # finish after one queued later.
                    finished_at=start + timedelta(minutes=rng.randrange(0, 300) * 100)
                    if finished
                    else None,
                    outcomes=[{"initiative": "1", "created": 1}],
                    http_log=[{"method": "GET", "status": 200}],
                )
            )
        SyncRun.objects.bulk_create(runs)
        expected: dict[str, int] = {}
        for run in sorted(
            SyncRun.objects.filter(finished_at__isnull=False), key=lambda r: (r.finished_at, r.pk)
        ):
            expected[run.kind] = run.pk
        with CaptureQueriesContext(connection) as queries:
            got = sync_last_runs()
            assert {kind: run.pk for kind, run in got.items()} == expected, case
            for run in got.values():
                assert run.get_deferred_fields() == {"outcomes", "http_log"}
                assert run.status and run.finished_at
        assert len(queries) == 1
        compared += len(expected)
    assert compared > 20  # kinds with finished runs were compared, not only empty histories


def _saved(n: int, group: str, stopped, *, success: bool = True) -> None:
    """A finished task as django-q2's monitor saves it (pruning the successes it keeps)."""
    from django_q.monitor import save_task

    save_task(
        {
            "id": f"{n:032x}", "name": f"task-{n}", "func": "syncs.tasks.x", "args": (),
            "kwargs": {}, "started": stopped - timedelta(seconds=1), "stopped": stopped,
            "result": None if success else "Boom", "group": group, "success": success,
            "sync": True,  # (else it closes the connection, as a worker does between tasks)
        },
        None,
    )  # fmt: skip


def test_a_schedules_last_task_outlives_the_tasks_django_q_keeps(monkeypatch):
    from django_q.conf import Conf
    from django_q.models import Success

    from syncs.selectors import schedule_last_tasks

    monkeypatch.setattr(Conf, "SAVE_LIMIT", 5)
    day = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _saved(1, "SAP MC call log pruning", day)
    _saved(2, "Alerts", day + timedelta(minutes=1), success=False)
    for n in range(3, 30):  # the 2-minute takeover check, all day
        _saved(n, "Stopped runs", day + timedelta(minutes=2 * n))
    # A late retry of an older task does not go before the latest.
    _saved(30, "Stopped runs", day + timedelta(minutes=3), success=False)
    assert Success.objects.count() == 5 and not Success.objects.filter(
        group="SAP MC call log pruning"
    )

    with CaptureQueriesContext(connection) as queries:
        last = schedule_last_tasks(names=["SAP MC call log pruning", "Alerts", "Stopped runs", "X"])
    assert len(queries) == 1
    assert {name: (run.succeeded, run.stopped) for name, run in last.items()} == {
        "SAP MC call log pruning": (True, day),
        "Alerts": (False, day + timedelta(minutes=1)),
        "Stopped runs": (True, day + timedelta(minutes=58)),
    }


def test_a_schedules_first_task_recorded_by_two_workers_at_once_keeps_the_later(monkeypatch):
    # Both found no row; the other worker made it with its older task between this one's
    # update and its insert: the later task must still win.
    from syncs.models import ScheduleLastTask
    from syncs.selectors import schedule_last_tasks

    day = timezone.now().replace(microsecond=0) - timedelta(days=1)
    real = ScheduleLastTask.objects.get_or_create

    def other_worker_first(**kwargs):
        ScheduleLastTask.objects.create(
            name="Alerts", task_id="f" * 32, succeeded=False, stopped=day
        )
        return real(**kwargs)

    monkeypatch.setattr(ScheduleLastTask.objects, "get_or_create", other_worker_first)
    _saved(1, "Alerts", day + timedelta(minutes=5))

    last = schedule_last_tasks(names=["Alerts"])["Alerts"]
    assert (last.succeeded, last.stopped) == (True, day + timedelta(minutes=5))


@pytest.mark.django_db(transaction=True)
def test_the_tasks_django_q_kept_give_each_schedule_its_last_task_after_migrating():
    from django_q.models import Task

    from syncs.models import ScheduleLastTask
    from tests.migrating import migrate_to, migrate_to_latest

    migrate_to([("syncs", "0013_run_last_finished_index")])
    day = timezone.now().replace(microsecond=0)
    for n, group, minutes, success in [
        (1, "Alerts", 5, True), (2, "Alerts", 10, False), (3, "Alerts", 10, True),
        (4, "SAP MC call log pruning", 1, True), (5, None, 20, True),
    ]:  # fmt: skip
        Task.objects.create(
            id=f"{n:032x}", name=f"t{n}", func="x", group=group, success=success,
            started=day, stopped=day + timedelta(minutes=minutes),
        )  # fmt: skip
    migrate_to_latest()
    recorded = {r.name: (r.task_id, r.succeeded, r.stopped) for r in ScheduleLastTask.objects.all()}
    # A tie goes to the lowest id, as the window over the tasks chose it.
    assert recorded == {
        "Alerts": (f"{2:032x}", False, day + timedelta(minutes=10)),
        "SAP MC call log pruning": (f"{4:032x}", True, day + timedelta(minutes=1)),
    }
