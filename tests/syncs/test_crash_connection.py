"""A crash that took the run's database connection with it is still recorded, on a new one.

Before, the crash handler wrote the failure on the dead connection and failed too: the run was
left "running" with no error until its lease expired, the cause only in the process log.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, connections

from syncs.models import SyncRun
from syncs.runs import SyncRunner

KIND = SyncRun.Kind.KHOROS_PLANS


class _Stats:
    requests = 0
    retries = 0


def _terminate(pid: int) -> None:
    """pg_terminate_backend(pid) from another connection (this thread's own, then closed)."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_connection_postgresql_terminates_mid_run_is_recorded_failed():
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's (the closed-connection test runs here)")

    def work(run: SyncRun, client: Any) -> SyncRun:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        killer = threading.Thread(target=_terminate, args=[pid])
        killer.start()
        killer.join()
        run.checkpoint(_Stats(), [], heartbeat=True)  # the next write: on the dead connection
        return run

    run = SyncRunner(KIND).run(work=work, client=object())
    assert run.status == SyncRun.Status.FAILED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("Unexpected error: OperationalError: ")
    assert "terminat" in run.error  # PostgreSQL's own words: the cause is on the run
    assert run.lease_expires_at is None and run.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_connection_was_closed_under_it_is_recorded_failed():
    def work(run: SyncRun, client: Any) -> SyncRun:
        connection.connection.close()  # the DB-API connection, behind Django's back
        run.checkpoint(_Stats(), [], heartbeat=True)
        return run

    run = SyncRunner(KIND).run(work=work, client=object())
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("Unexpected error: ")
    assert run.lease_expires_at is None


@pytest.mark.django_db(transaction=True)
def test_a_crash_that_cannot_be_recorded_at_all_is_logged(monkeypatch, caplog):
    def work(run: SyncRun, client: Any) -> SyncRun:
        raise RuntimeError("boom")

    def database_down(self: SyncRun, status: str, error: str = "") -> SyncRun:
        raise OperationalError("connection refused")

    monkeypatch.setattr(SyncRun, "finish", database_down)
    with caplog.at_level(logging.ERROR, logger="syncs.runs"):
        run = SyncRunner(KIND).run(work=work, client=object())
    assert "could not record the crash of sync khoros_plans" in caplog.text
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # its lease expires; whoever asks next ends it
