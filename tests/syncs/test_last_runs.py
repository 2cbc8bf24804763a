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
