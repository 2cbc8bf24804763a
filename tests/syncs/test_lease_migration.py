"""The engine's data migrations: the lease moved onto the run, schedules learn their firing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from syncs.models import SyncRun
from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("syncs", "0004_trigger_follow_up")]


@pytest.mark.django_db(transaction=True)
def test_lease_rows_become_the_runs_expiries():
    executor = migrate_to(BEFORE)
    old = executor.loader.project_state(BEFORE[0]).apps
    Run, Lease = old.get_model("syncs", "SyncRun"), old.get_model("syncs", "SyncLease")
    now = timezone.now()
    holder = Run.objects.create(kind="khoros_plans", trigger="schedule", status="running")
    # A run left "running" that did not hold the lease: its worker died unnoticed.
    stray = Run.objects.create(kind="khoros_plans", trigger="schedule", status="running")
    kpis = Run.objects.create(kind="khoros_kpis", trigger="button", status="running")
    done = Run.objects.create(kind="sapmc_campaigns", trigger="button", status="succeeded")
    Lease.objects.create(kind="khoros_plans", run=holder, expires_at=now + timedelta(minutes=4))
    Lease.objects.create(kind="khoros_kpis", run=kpis, expires_at=now - timedelta(seconds=1))
    Lease.objects.create(kind="sapmc_campaigns", run=None, expires_at=None)

    migrate_to_latest()

    runs = {run.pk: run for run in SyncRun.objects.all()}
    assert runs[holder.pk].status == "running"
    assert runs[holder.pk].lease_expires_at == now + timedelta(minutes=4)
    assert runs[holder.pk].lease_is_live()
    assert runs[stray.pk].status == "failed" and runs[stray.pk].finished_at is not None
    assert runs[stray.pk].error == (
        "The worker stopped sending heartbeats; another run held the lease."
    )
    # Expired but not yet taken over: still running, and dead to whoever asks next.
    assert runs[kpis.pk].status == "running" and not runs[kpis.pk].lease_is_live()
    assert runs[done.pk].status == "succeeded" and runs[done.pk].lease_expires_at is None
    assert "khoros_synclease" not in connection.introspection.table_names()


@pytest.mark.django_db(transaction=True)
def test_installed_sync_schedules_pass_their_firing_time_after_migrating():
    from django_q.models import Schedule

    migrate_to([("syncs", "0008_alertstate_pending_email")])
    minutes = {"schedule_type": Schedule.MINUTES, "minutes": 30}
    admin_paused = Schedule.objects.create(
        name="Khoros plans", func="syncs.tasks.sync_task", args="('khoros_plans',)", repeats=0,
        **minutes,
    )  # fmt: skip
    alerts = Schedule.objects.create(name="Alerts", func="syncs.tasks.check_alerts_task", **minutes)

    migrate_to_latest()

    admin_paused.refresh_from_db()
    alerts.refresh_from_db()
    # The admin's choices stay; only the sync task learns which firing it runs for.
    assert (admin_paused.intended_date_kwarg, admin_paused.repeats, admin_paused.minutes) == (
        "fired_for", 0, 30,
    )  # fmt: skip
    assert alerts.intended_date_kwarg is None
