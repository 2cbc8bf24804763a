"""A run waiting out a struggling system's retries keeps its lease; one taken over stops asking.

Five attempts of one request, each waiting out its deadline, and the pauses between them can
take longer than the run's lease (SYNC_LEASE_SECONDS). Before, no heartbeat came while a request
was retried: the Stopped runs schedule took over a run whose worker was alive (its record said
the worker had stopped), and that worker went on sending its attempts beside the new run's.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from khoros.client import client_from_settings
from khoros.services import sync_khoros
from syncs.models import LEASE_LOST_ERROR, SyncRun
from syncs.runs import take_over_stopped_runs

# Each pause between attempts stands for two minutes of a system answering nothing.
PAUSE = timedelta(minutes=2)


def _initiative_asks(live_khoros) -> int:
    return sum(1 for entry in live_khoros.sim.requests if entry["route"] == "initiatives")


def _sync_while_khoros_fails(live_khoros, settings, pause_for: timedelta):
    """A Plan sync whose first three Initiative listings answer 503, each pause between
    attempts taking `pause_for` while the Stopped runs schedule fires; the run and what that
    schedule queued."""
    settings.SYNC_LEASE_SECONDS = 300
    live_khoros.sim.add_fault("initiatives", "http_503", count=3)
    client = client_from_settings()
    asked: list[SyncRun] = []
    with time_machine.travel(timezone.now(), tick=True) as clock:

        def pause(seconds: float) -> None:
            clock.shift(pause_for)
            asked.extend(take_over_stopped_runs())

        client._sleep = pause
        run = sync_khoros(client=client, trigger=SyncRun.Trigger.BUTTON)
    return run, asked


@pytest.mark.django_db
def test_a_run_retrying_longer_than_its_lease_keeps_it(live_khoros, settings):
    run, asked = _sync_while_khoros_fails(live_khoros, settings, PAUSE)
    # Three pauses of two minutes: six minutes, more than the lease, all under live heartbeats.
    assert _initiative_asks(live_khoros) == 4
    assert asked == []
    assert (run.status, run.error) == (SyncRun.Status.SUCCEEDED, "")
    assert SyncRun.objects.get().pk == run.pk  # nothing else was queued in its place


@pytest.mark.django_db
def test_a_run_taken_over_during_its_retries_sends_no_further_attempt(live_khoros, settings):
    # The worker froze for longer than a lease while it waited: the schedule took over.
    run, asked = _sync_while_khoros_fails(live_khoros, settings, timedelta(seconds=360))
    assert len(asked) == 1
    # Its heartbeat before the second pause found the run taken over: no third attempt.
    assert _initiative_asks(live_khoros) == 2
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(LEASE_LOST_ERROR)
    assert asked[0].status == SyncRun.Status.QUEUED
