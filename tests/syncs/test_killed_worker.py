"""A real worker killed mid-run: its run is taken over by the next request once its lease expires.

`manage.py qcluster` runs in a subprocess against the test database and the configured broker
(SQLite + the ORM broker, or PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set), and is
killed with SIGKILL while the Khoros simulator holds its Initiative list back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from khoros.models import Plan
from syncs.models import SyncRun
from syncs.runs import sync_request
from syncs.tasks import sync_task
from tests.conftest import KHOROS_TOKEN
from tests.syncs.test_engine import _only_khoros_plans_scheduled

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 10  # the smallest SYNC_LEASE_SECONDS allows


def _database_url() -> str:
    """The URL of the test database this process uses, for the worker subprocess."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(base_url: str, company_id: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": _database_url(),
        "KHOROS_BASE_URL": base_url,
        "KHOROS_TOKEN": KHOROS_TOKEN,
        "KHOROS_COMPANY_ID": company_id,
        # Longer than the simulator's delay: the worker waits for the answer until it is killed.
        "KHOROS_TIMEOUT_READ": "600",
        "SYNC_LEASE_SECONDS": str(LEASE_SECONDS),
        "Q_WORKERS": "1",
    }
    if django_settings.REDIS_URL:
        env["REDIS_URL"] = django_settings.REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: SIGKILL reaches every process of it
    )


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    """Poll until `condition` holds; fail with the worker's output if it never does."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    pytest.fail(f"worker never {what}; its stderr:\n{err.decode(errors='replace')[-3000:]}")


def _kill_the_worker_mid_run(live_khoros) -> None:
    """Start a worker on the queued work; SIGKILL it while it waits for the Initiatives."""
    # Held back far longer than the test lasts: the worker is stuck in the middle of its run.
    live_khoros.sim.add_fault("initiatives", "slow_headers", count=1, seconds=300)
    worker = _start_worker(f"{live_khoros.base_url}/v2", live_khoros.data.company_id)
    try:
        _wait_for(
            lambda: any(r["route"] == "initiatives" for r in live_khoros.sim.requests),
            worker,
            "asked Khoros for the Initiatives",
        )
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def _purge_redis_queue() -> None:
    if django_settings.REDIS_URL:
        from django_q.brokers import get_broker

        get_broker().purge_queue()


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_run_is_taken_over_by_the_next_request(live_khoros, settings):
    settings.SYNC_LEASE_SECONDS = LEASE_SECONDS
    run, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)
    assert queued
    _kill_the_worker_mid_run(live_khoros)

    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # nobody has noticed yet
    assert run.lease_is_live()

    # While its lease runs, the dead run cannot be told from a slow one: a request reuses it.
    same, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)
    assert (same.pk, queued) == (run.pk, False)

    with time_machine.travel(run.lease_expires_at + timedelta(seconds=1), tick=True):
        new, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)
        assert queued and new.pk != run.pk

        run.refresh_from_db()
        assert run.status == SyncRun.Status.FAILED
        assert run.error == (
            f"The worker stopped sending heartbeats; run #{new.pk} took over its lease."
        )

        # The broker redelivers the killed worker's task: it finds its run ended and does nothing.
        requests_before = len(live_khoros.sim.requests)
        assert sync_task(SyncRun.Kind.KHOROS_PLANS, run.pk) == (
            f"run #{run.pk} already ended (failed)"
        )
        assert len(live_khoros.sim.requests) == requests_before

        assert sync_task(SyncRun.Kind.KHOROS_PLANS, new.pk) == f"run #{new.pk} succeeded"

    new.refresh_from_db()
    assert new.status == SyncRun.Status.SUCCEEDED
    assert Plan.objects.count() == 24
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    # No run of the kind holds the lease any more.
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_PLANS, status="running").exists()
    _purge_redis_queue()


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_scheduled_task_whose_run_was_taken_over_does_nothing(
    live_khoros, settings, monkeypatch
):
    settings.SYNC_LEASE_SECONDS = LEASE_SECONDS
    from django_q import scheduler as q_scheduler

    due = timezone.now() - timedelta(seconds=1)
    broker = _only_khoros_plans_scheduled(monkeypatch, due=due)
    # The cluster's scheduler queues the firing (here, not in the worker: its scheduler ticks
    # every 30 s); the worker begins its run and is killed in the middle of it.
    q_scheduler.scheduler(broker=broker)
    _kill_the_worker_mid_run(live_khoros)

    scheduled = SyncRun.objects.get()
    assert (scheduled.trigger, scheduled.status) == ("schedule", "running")
    with time_machine.travel(scheduled.lease_expires_at + timedelta(seconds=1), tick=True):
        # Sync now comes first after the lease ran out: it takes the dead run over and finishes.
        new, queued = sync_request(kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON)
        assert queued
        assert sync_task(SyncRun.Kind.KHOROS_PLANS, new.pk) == f"run #{new.pk} succeeded"

        # Then the broker redelivers the killed worker's scheduled task, as the scheduler made
        # it (django-q2 passes the firing's due time): its run ended, so it does nothing.
        requests_before = len(live_khoros.sim.requests)
        result = sync_task(SyncRun.Kind.KHOROS_PLANS, fired_for=due.isoformat())
        assert result == f"run #{scheduled.pk} already ended (failed)"
        assert len(live_khoros.sim.requests) == requests_before

    assert SyncRun.objects.count() == 2
    scheduled.refresh_from_db()
    assert scheduled.error == (
        f"The worker stopped sending heartbeats; run #{new.pk} took over its lease."
    )
    assert Plan.objects.count() == 24
    _purge_redis_queue()
