"""A broker that does not take a run's task: the run is recorded failed, nobody gets a 500.

Before, the exception escaped after the queued run was committed: the button and SAP MC's call
answered 500, and every later request reused the queued run with no task behind it ("already
queued") until the queue window passed; a report waited on it until the next scheduled KPI sync.

The refusal is real: django-q2 is pointed at a Redis nobody listens on, whichever broker the
suite runs with (the ORM broker on SQLite, Redis on PostgreSQL), and redis-py raises its
ConnectionError. The ORM broker's own failure, a database error, is a test of its own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError
from django.urls import reverse
from django_q.brokers import get_broker
from django_q.conf import Conf

from sapmc.models import InboundReport
from syncs.models import BROKER_REFUSED_ERROR, SyncRun
from syncs.runs import sync_request
from tests.conftest import uses_orm_broker
from tests.sapmc.test_api import error_of, inbound, kpis, new_report, poll  # noqa: F401

BROKER_PASSWORD = "BrokerPw-Secret-3141"
KIND = SyncRun.Kind.KHOROS_PLANS


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def broker_down() -> Iterator[None]:
    """django-q2's broker is a Redis on a port nobody listens on, with a password in its URL."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Conf, "ORM", None)
        patch.setattr(Conf, "DJANGO_REDIS", None)
        patch.setattr(Conf, "REDIS", f"redis://:{BROKER_PASSWORD}@127.0.0.1:{_closed_port()}/0")
        yield


@pytest.mark.django_db(transaction=True)
def test_a_run_the_broker_refuses_is_failed_and_the_next_request_queues_another():
    with broker_down():
        run, queued = sync_request(kind=KIND, trigger=SyncRun.Trigger.BUTTON)
    assert queued
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(f"{BROKER_REFUSED_ERROR} (ConnectionError: ")
    assert "Connection refused" in run.error
    assert BROKER_PASSWORD not in run.error
    assert (run.started_at, run.lease_expires_at) == (None, None)
    assert run.never_started

    # The broker is back: the next request queues a new run, with its task in the broker.
    again, queued = sync_request(kind=KIND, trigger=SyncRun.Trigger.BUTTON)
    assert queued and again.pk != run.pk
    again.refresh_from_db()
    assert again.status == SyncRun.Status.QUEUED
    assert get_broker().queue_size() == 1


@pytest.mark.django_db(transaction=True)
def test_the_orm_broker_s_database_error_fails_the_run_too(monkeypatch):
    if not uses_orm_broker():
        pytest.skip("the ORM broker's enqueue: this run uses Redis")
    from django_q.brokers.orm import ORM

    def refuse(self, task):
        raise OperationalError("database is locked")

    monkeypatch.setattr(ORM, "enqueue", refuse)
    run, queued = sync_request(kind=KIND, trigger=SyncRun.Trigger.SCHEDULE)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(f"{BROKER_REFUSED_ERROR} (OperationalError: database is locked)")


@pytest.mark.django_db(transaction=True)
def test_sync_now_says_the_run_was_not_started_and_a_second_press_queues_it(client, world):
    client.force_login(world.admin)
    url = reverse("sync-now", args=[KIND])
    with broker_down():
        response = client.post(url, follow=True)
    assert response.status_code == 200  # the dashboard, not a 500
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    text = response.content.decode()
    assert f"Khoros plans sync #{run.pk} could not be started: the task queue did not take it" in (
        text
    )
    assert "already queued" not in text and BROKER_PASSWORD not in text

    response = client.post(url, follow=True)
    new = SyncRun.objects.exclude(pk=run.pk).get()
    assert new.status == SyncRun.Status.QUEUED
    assert f"Khoros plans sync #{new.pk} queued." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_run_again_shows_the_run_that_was_not_started(client, world):
    old = SyncRun.objects.create(kind=KIND, trigger="button", status="failed")
    client.force_login(world.admin)
    with broker_down():
        response = client.post(reverse("sync-run-again", args=[old.pk]), follow=True)
    run = SyncRun.objects.exclude(pk=old.pk).get()
    assert response.redirect_chain[-1][0] == reverse("sync-run", args=[run.pk])
    assert run.status == SyncRun.Status.FAILED
    assert "could not be started" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_sap_mc_is_told_to_try_later_and_its_next_poll_queues_the_kpi_sync(client, kpis):  # noqa: F811
    ids = [kpis.plans[0].khoros_id.hex]
    with broker_down():
        first = new_report(client, ids)
        # Call 1 answers as documented: the report exists and waits (no 500).
        assert (first.status_code, first.json()["Status"]) == (202, "PENDING")
        report_id = first.json()["ReportId"]
        refused = InboundReport.objects.get(report_id=report_id).kpi_run
        assert refused is not None and refused.status == SyncRun.Status.FAILED

        # Polled while the broker is still down: the documented "try later", naming the cause.
        response = poll(client, report_id)
        assert response.status_code == 503
        assert error_of(response) == "KPI_SYNC_FAILED"
        assert response["Retry-After"] == "900"
        assert "task queue did not take it" in response.json()["error"]["message"]
        assert BROKER_PASSWORD not in response.content.decode()

    # The broker is back: the next poll queues the KPI sync and the report waits on it.
    response = poll(client, report_id)
    assert (response.status_code, response.json()["Status"]) == (202, "PENDING")
    waited_on = InboundReport.objects.get(report_id=report_id).kpi_run
    assert waited_on is not None and waited_on.status == SyncRun.Status.QUEUED
    assert get_broker().queue_size() == 1
    # Later polls wait on it: nothing more is queued.
    assert poll(client, report_id).status_code == 202
    assert SyncRun.objects.filter(status=SyncRun.Status.QUEUED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_first_syncs_queue_says_which_runs_the_broker_did_not_take():
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = StringIO(), StringIO()
    with broker_down(), pytest.raises(CommandError, match="did not succeed"):
        call_command("first_syncs", "--queue", stdout=out, stderr=err)
    # It said "queued" for each run no worker would ever run.
    assert " queued" not in out.getvalue()
    assert err.getvalue().count("not started: " + BROKER_REFUSED_ERROR) == 3
    assert BROKER_PASSWORD not in err.getvalue()
