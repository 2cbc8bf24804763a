"""The sync engine: one registry of kinds, runs taken over when their worker died, no system app."""

from __future__ import annotations

import ast
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker

from khoros.models import KpiExport, Plan
from sapmc.models import InboundReport
from syncs import registry
from syncs.models import AlertState, LeaseLostError, SyncRun
from syncs.runs import SyncRunner, redact, sync_request
from syncs.tasks import sync_task

SYNCS_DIR = Path(__file__).resolve().parents[2] / "syncs"


def _running_run(*, lease_left: timedelta) -> SyncRun:
    """A run a worker started; its lease runs out `lease_left` from now (negative: ran out)."""
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_PLANS,
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(minutes=10),
        lease_expires_at=timezone.now() + lease_left,
    )
    return run


def test_the_engine_imports_no_system_app():
    for path in SYNCS_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"khoros", "campaigns"}, f"{path}: {name}"
        assert "SAPMC" not in path.read_text(), f"{path} names an SAP MC setting"


def test_each_app_registers_its_kinds_with_the_stored_values():
    assert [(k.value, k.label, k.system, k.interval_setting) for k in registry.kinds()] == [
        ("khoros_plans", "Khoros plans", "Khoros", "KHOROS_SYNC_MINUTES"),
        ("khoros_kpis", "Khoros KPIs", "Khoros", "KHOROS_KPI_SYNC_MINUTES"),
        ("sapmc_campaigns", "SAP MC campaigns", "SAP MC", "SAPMC_SYNC_MINUTES"),
        ("sapmc_success_push", "SAP MC success push", "SAP MC", "SAPMC_SUCCESS_PUSH_MINUTES"),
    ]
    assert SyncRun.Kind.SAPMC_CAMPAIGNS == "sapmc_campaigns"
    assert SyncRun.Kind("khoros_kpis").label == "Khoros KPIs"
    assert registry.secret_settings() == (
        "KHOROS_TOKEN",
        "SAPMC_PASSWORD",
        "SAPMC_INBOUND_PASSWORD",
    )


def test_redact_removes_every_registered_secret(settings):
    settings.KHOROS_TOKEN = "tok-1234"
    settings.SAPMC_PASSWORD = "sap-pw-5678"
    settings.SAPMC_INBOUND_PASSWORD = "inbound-9012"
    text = "tok-1234 / sap-pw-5678 / inbound-9012"
    assert redact(text) == "[redacted] / [redacted] / [redacted]"


def test_moved_models_keep_their_tables_and_foreign_keys():
    assert SyncRun._meta.app_label == "syncs"
    assert (SyncRun._meta.db_table, AlertState._meta.db_table) == (
        "khoros_syncrun",
        "campaigns_alertstate",
    )
    assert KpiExport._meta.get_field("run").related_model is SyncRun
    assert InboundReport._meta.get_field("kpi_run").related_model is SyncRun


@pytest.mark.django_db
def test_a_request_takes_over_a_running_run_whose_lease_expired(
    live_khoros, django_capture_on_commit_callbacks
):
    dead = _running_run(lease_left=-timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        new, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)

    assert queued and new.pk != dead.pk and new.status == SyncRun.Status.QUEUED
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED
    # No heartbeat ever came: it ended, as far as anyone knows, when it started.
    assert dead.finished_at == dead.started_at
    assert dead.error == (
        f"The worker stopped sending heartbeats; run #{new.pk} took over its lease."
    )
    # The dead run no longer holds the lease, so its worker could not write if it came back.
    assert dead.lease_expires_at is None
    with pytest.raises(LeaseLostError):
        dead.renew_lease()  # what its worker would do next
    assert get_broker().queue_size() == 1

    assert sync_task(SyncRun.Kind.KHOROS_PLANS, new.pk) == f"run #{new.pk} succeeded"
    assert Plan.objects.count() == 24
    get_broker().purge_queue()


@pytest.mark.django_db
def test_a_request_reuses_a_running_run_whose_lease_is_live(django_capture_on_commit_callbacks):
    alive = _running_run(lease_left=timedelta(minutes=4))

    with django_capture_on_commit_callbacks(execute=True):
        same, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.API)

    assert (same.pk, queued) == (alive.pk, False)
    alive.refresh_from_db()
    assert alive.status == SyncRun.Status.RUNNING
    assert SyncRun.objects.count() == 1


@pytest.mark.django_db
def test_a_redelivered_task_of_a_taken_over_run_does_nothing(live_khoros):
    dead = _running_run(lease_left=-timedelta(seconds=1))
    new, _ = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)

    assert sync_task(SyncRun.Kind.KHOROS_PLANS, dead.pk) == f"run #{dead.pk} already ended (failed)"

    assert live_khoros.sim.requests == []
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED
    assert f"run #{new.pk} took over" in dead.error


@pytest.mark.django_db
def test_a_request_replaces_a_queued_run_whose_task_was_lost(
    settings, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now() - timedelta(seconds=2101), tick=False):
        lost = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_KPIS, trigger=SyncRun.Trigger.BUTTON)
    waiting = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)

    with django_capture_on_commit_callbacks(execute=True):
        new, queued = sync_request(kind=SyncRun.Kind.KHOROS_KPIS, trigger=SyncRun.Trigger.API)
        same, queued_again = sync_request(
            kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.API
        )

    assert queued and new.pk != lost.pk
    lost.refresh_from_db()
    assert lost.status == SyncRun.Status.FAILED
    assert lost.error == f"No worker started this run within 35 minutes; run #{new.pk} replaced it."
    # Queued a moment ago: still waiting for a worker, and reused.
    assert (same.pk, queued_again) == (waiting.pk, False)
    get_broker().purge_queue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("migration", "old", "func", "args"),
    [
        (
            "khoros.migrations.0007_schedules_run_the_engine_task",
            "khoros.tasks.sync_khoros_kpis_task",
            "syncs.tasks.sync_task",
            "('khoros_kpis',)",
        ),
        (
            "campaigns.migrations.0009_schedules_run_the_engine_task",
            "campaigns.tasks.check_alerts_task",
            "syncs.tasks.check_alerts_task",
            None,
        ),
    ],
)
def test_installed_schedules_are_pointed_at_the_engine_task(migration, old, func, args):
    from django.apps import apps
    from django_q.models import Schedule

    Schedule.objects.create(name="An admin's", func=old, minutes=17, repeats=0)

    import_module(migration).forwards(apps, None)

    schedule = Schedule.objects.get(name="An admin's")
    assert (schedule.func, schedule.args, schedule.minutes, schedule.repeats) == (func, args, 17, 0)


@pytest.mark.django_db
def test_a_late_task_never_revives_a_run_recorded_as_dead_while_it_loaded(live_khoros):
    dead = _running_run(lease_left=-timedelta(seconds=1))
    late_copy = SyncRun.objects.get(pk=dead.pk)  # what a late task loaded: still "running"
    new, _ = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)

    run = SyncRunner(SyncRun.Kind.KHOROS_PLANS).run(
        run=late_copy, work=lambda run, client: pytest.fail("the work of a dead run ran")
    )

    assert run.status == SyncRun.Status.FAILED
    assert f"run #{new.pk} took over" in run.error
    assert not SyncRun.objects.get(pk=dead.pk).lease_is_live()
    assert live_khoros.sim.requests == []


class _Stats:
    requests = 7
    retries = 1


@pytest.mark.django_db
def test_progress_is_saved_at_a_bounded_rate_and_always_at_the_end(settings):
    # Issue 13: a save (and a lease renewal) per item was two writes per Initiative even when
    # nothing changed. Within the interval nothing is written; past it, progress and lease go
    # together; the end writes whatever is pending.
    settings.SYNC_LEASE_SECONDS = 300
    with time_machine.travel("2026-11-30 10:00:00+00:00", tick=False) as clock:
        run = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_PLANS, trigger="command")
        assert run.start()
        run.step_done(_Stats())
        run.step_done(_Stats())
        stored = SyncRun.objects.get(pk=run.pk)
        assert stored.progress_done == 0
        expires = SyncRun.objects.get(pk=run.pk).lease_expires_at

        clock.shift(timedelta(seconds=6))
        run.step_done(_Stats())
        stored = SyncRun.objects.get(pk=run.pk)
        assert (stored.progress_done, stored.http_requests) == (3, 7)
        assert stored.heartbeat_at == timezone.now()
        assert stored.lease_expires_at == expires + timedelta(seconds=6)

        run.step_done(_Stats())
        run.unchanged_count = 5
        run.finish(SyncRun.Status.SUCCEEDED)
        stored = SyncRun.objects.get(pk=run.pk)
        assert (stored.progress_done, stored.unchanged_count) == (4, 5)
        assert stored.status == SyncRun.Status.SUCCEEDED


@pytest.mark.django_db
def test_a_short_lease_bounds_the_save_interval(settings):
    settings.SYNC_LEASE_SECONDS = 10  # saved every 2.5 s, well before the lease runs out
    with time_machine.travel("2026-11-30 10:00:00+00:00", tick=False) as clock:
        run = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_PLANS, trigger="command")
        assert run.start()
        clock.shift(timedelta(seconds=3))
        run.step_done(_Stats())
        assert SyncRun.objects.get(pk=run.pk).progress_done == 1


@pytest.mark.django_db(transaction=True)
def test_the_database_admits_one_running_run_per_kind():
    _running_run(lease_left=timedelta(minutes=4))

    with pytest.raises(IntegrityError):
        _running_run(lease_left=timedelta(minutes=4))

    other = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger="button", status=SyncRun.Status.RUNNING
    )
    SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_PLANS, trigger="button")  # queued: admitted
    assert other.status == SyncRun.Status.RUNNING
    assert SyncRun.objects.filter(status=SyncRun.Status.RUNNING).count() == 2


@pytest.mark.django_db
def test_a_run_whose_worker_renewed_at_the_last_moment_is_kept(
    monkeypatch, django_capture_on_commit_callbacks
):
    slow = _running_run(lease_left=-timedelta(seconds=1))
    is_live = SyncRun.lease_is_live

    def read_then_renewed(run, now=None):  # noqa: ANN001, ANN202 - the patched method
        # The request reads the lease as expired; right after, the slow worker renews it.
        seen = is_live(run, now)
        SyncRun.objects.get(pk=slow.pk).renew_lease()
        return seen

    monkeypatch.setattr(SyncRun, "lease_is_live", read_then_renewed)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        same, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)

    assert (same.pk, queued) == (slow.pk, False)
    monkeypatch.undo()
    assert same.status == SyncRun.Status.RUNNING and same.lease_is_live()
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [slow.pk]  # none queued
    assert callbacks == []


@pytest.mark.django_db
def test_a_run_started_beside_a_live_one_is_recorded_skipped_in_one_write():
    holder = _running_run(lease_left=timedelta(minutes=4))
    queued = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_PLANS, trigger="button")

    with CaptureQueriesContext(connection) as ctx:
        assert not queued.start()

    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SKIPPED
    assert queued.error == f"Another run of this kind is in progress (#{holder.pk})."
    assert queued.started_at is not None and queued.finished_at is not None
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    # The refused start (rolled back by its savepoint) and the run's end.
    assert len(writes) == 2, writes


@pytest.mark.django_db
def test_a_hung_worker_that_ends_after_a_takeover_does_not_record_success(live_khoros):
    taken: list[SyncRun] = []

    def hangs_then_ends(run: SyncRun, client: object) -> SyncRun:
        # The worker hangs past its lease without a heartbeat; a request takes its run over.
        SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
        new, queued = sync_request(kind=run.kind, trigger=SyncRun.Trigger.BUTTON)
        assert queued
        taken.append(new)
        run.unchanged_count = 24
        return run.finish(SyncRun.Status.SUCCEEDED)  # then it wakes up and ends as if fine

    run = SyncRunner(SyncRun.Kind.KHOROS_PLANS).run(work=hangs_then_ends)

    stored = SyncRun.objects.get(pk=run.pk)
    assert stored.status == run.status == SyncRun.Status.FAILED
    assert stored.error == "Lost the sync lease to another run; stopped without writing further."
    assert stored.unchanged_count == 0  # the late end wrote no count
    assert SyncRun.objects.get(pk=taken[0].pk).status == SyncRun.Status.QUEUED
    get_broker().purge_queue()


@pytest.mark.django_db
def test_a_crash_after_a_takeover_is_recorded_as_the_lost_lease(live_khoros):
    def crashes_after_takeover(run: SyncRun, client: object) -> SyncRun:
        SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
        sync_request(kind=run.kind, trigger=SyncRun.Trigger.BUTTON)
        raise RuntimeError("boom")

    run = SyncRunner(SyncRun.Kind.KHOROS_PLANS).run(work=crashes_after_takeover)

    assert SyncRun.objects.get(pk=run.pk).error == (
        "Lost the sync lease to another run; stopped without writing further."
    )
    get_broker().purge_queue()


@pytest.mark.django_db
def test_a_heartbeat_is_one_write_whether_or_not_a_save_was_due(settings):
    # The KPI sync beats while it waits for an export: once a save was due, noting progress
    # and renewing the lease were two UPDATEs of the same row.
    settings.SYNC_LEASE_SECONDS = 300
    with time_machine.travel("2026-11-30 10:00:00+00:00", tick=False) as clock:
        run = SyncRun.objects.create(kind=SyncRun.Kind.KHOROS_KPIS, trigger="command")
        assert run.start()
        for shift in (0, 6):  # not due, then due
            clock.shift(timedelta(seconds=shift))
            with CaptureQueriesContext(connection) as ctx:
                run.checkpoint(_Stats(), [], heartbeat=True)
            writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
            assert len(writes) == 1, writes
            stored = SyncRun.objects.get(pk=run.pk)
            assert stored.heartbeat_at == timezone.now()
            assert stored.lease_expires_at == timezone.now() + timedelta(seconds=300)
            assert stored.http_requests == 7


def _only_khoros_plans_scheduled(monkeypatch, *, due):
    """The installed schedules, all off but Khoros plans, due at `due` on this test process's
    queue (each pytest-xdist worker has its own); that queue's broker, emptied."""
    from django_q import scheduler as q_scheduler
    from django_q.conf import Conf
    from django_q.models import Schedule

    from syncs.schedules import setup_schedules

    # The test's connection is the one its transaction lives in: the scheduler must not close it.
    monkeypatch.setattr(q_scheduler, "close_old_django_connections", lambda: None)
    setup_schedules()
    Schedule.objects.exclude(name="Khoros plans").update(repeats=0)
    Schedule.objects.filter(name="Khoros plans").update(next_run=due, cluster=Conf.CLUSTER_NAME)
    broker = get_broker()
    broker.purge_queue()
    return broker


@pytest.mark.django_db
def test_a_scheduled_task_still_queued_when_its_schedule_is_switched_off_does_not_run(
    live_khoros, monkeypatch
):
    from django_q import scheduler as q_scheduler
    from django_q.models import Schedule
    from django_q.signing import SignedPackage

    broker = _only_khoros_plans_scheduled(monkeypatch, due=timezone.now() - timedelta(seconds=1))
    q_scheduler.scheduler(broker=broker)  # the cluster's scheduler queues the due task
    # Every worker is busy; meanwhile a sync admin switches the schedule off.
    Schedule.objects.filter(name="Khoros plans").update(repeats=0)

    queued = broker.dequeue()
    assert queued is not None and len(queued) == 1
    task_id, payload = queued[0]
    task = SignedPackage.loads(payload)
    broker.acknowledge(task_id)
    assert (task["func"], task["args"]) == ("syncs.tasks.sync_task", ("khoros_plans",))

    # The worker gets to it: "off" means no scheduled run, so it does nothing at all.
    assert sync_task(*task["args"]) == "khoros_plans: its schedule is off; not run"
    assert live_khoros.sim.requests == []
    assert not SyncRun.objects.exists()

    # A run someone asked for (Sync now) still runs while the schedule is off.
    run, _ = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)
    assert sync_task(SyncRun.Kind.KHOROS_PLANS, run.pk) == f"run #{run.pk} succeeded"


@pytest.mark.django_db
def test_a_redelivered_scheduled_task_carries_its_own_run_on_then_does_nothing(
    live_khoros, monkeypatch
):
    from django_q import scheduler as q_scheduler
    from django_q.signing import SignedPackage

    due = timezone.now() - timedelta(seconds=1)
    broker = _only_khoros_plans_scheduled(monkeypatch, due=due)
    q_scheduler.scheduler(broker=broker)
    (task_id, payload), *others = broker.dequeue()
    broker.acknowledge(task_id)
    task = SignedPackage.loads(payload)
    assert others == [] and task["kwargs"] == {"fired_for": due.isoformat()}

    # Its first worker began the firing's run and died: the lease ran out, nobody asked since.
    with time_machine.travel(due):
        dead = _running_run(lease_left=timedelta(minutes=5))
    with time_machine.travel(dead.lease_expires_at + timedelta(seconds=1), tick=True):
        # The broker's copy takes the firing's own run over: no second run for one firing.
        assert sync_task(*task["args"], **task["kwargs"]) == f"run #{dead.pk} succeeded"
        requests = len(live_khoros.sim.requests)
        assert sync_task(*task["args"], **task["kwargs"]) == (
            f"run #{dead.pk} already ended (succeeded)"
        )
    assert len(live_khoros.sim.requests) == requests
    assert SyncRun.objects.count() == 1
    assert Plan.objects.count() == 24


@pytest.mark.django_db
def test_the_schedule_takes_over_a_run_whose_worker_died(live_khoros):
    dead = _running_run(lease_left=-timedelta(seconds=1))

    result = sync_task(SyncRun.Kind.KHOROS_PLANS)  # what the schedule's task calls

    dead.refresh_from_db()
    new = SyncRun.objects.exclude(pk=dead.pk).get()
    assert result == f"run #{new.pk} succeeded"
    assert (new.trigger, new.status) == ("schedule", "succeeded")
    assert dead.status == SyncRun.Status.FAILED
    assert dead.error == (
        f"The worker stopped sending heartbeats; run #{new.pk} took over its lease."
    )
    assert Plan.objects.count() == 24


@pytest.mark.django_db
def test_after_a_long_downtime_a_schedule_runs_once_not_once_per_missed_interval(monkeypatch):
    from django_q import scheduler as q_scheduler
    from django_q.models import Schedule

    # Every 30 minutes, last due 10 hours ago: 20 runs were missed while no cluster ran.
    broker = _only_khoros_plans_scheduled(monkeypatch, due=timezone.now() - timedelta(hours=10))

    q_scheduler.scheduler(broker=broker)
    q_scheduler.scheduler(broker=broker)  # the cluster's next tick finds nothing due

    assert broker.queue_size() == 1
    schedule = Schedule.objects.get(name="Khoros plans")
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(minutes=30)
    broker.purge_queue()
