"""The run page in sentences, and a failed run's progress bar that does not look complete."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from syncs.models import SyncRun
from syncs.wording import outcome_rows, outcome_sentence, run_summary

pytestmark = pytest.mark.django_db

KPI_OUTCOMES = [
    {
        "kind": "history", "start": "2026-01-01", "stop": "2026-03-31", "plans": 4,
        "export": "exp-1", "polls": 3, "status": "ok", "rows": 1000, "rows_summed": 1000,
        "rows_failed": 0, "rows_ignored": 0, "created": 8, "updated": 2, "unchanged": 5,
        "zeroed": 0, "kept": 0,
    },
    {
        "kind": "trailing", "start": "2026-04-01", "stop": "2026-04-30", "plans": 4,
        "export": "exp-2", "polls": 1, "status": "ok", "rows": 204, "rows_summed": 203,
        "rows_failed": 1, "rows_ignored": 0, "created": 0, "updated": 1, "unchanged": 0,
        "zeroed": 1, "kept": 0,
    },
    {
        "kind": "trailing", "start": "2026-05-01", "stop": "2026-05-31", "plans": 4,
        "export": "exp-3", "status": "failed", "error": "Khoros answered 503.",
    },
]  # fmt: skip


def test_the_summary_names_what_failed_not_a_bare_number_beside_rows():
    # A push whose cut batch left 47 rows of unknown outcome said "..., 1 failed": read as a row.
    push = [
        {"batch": 1, "rows": 1, "created": 1},
        {"batch": 2, "rows": 47, "unknown": 47, "status": "failed", "error": "cut"},
    ]
    assert run_summary(push) == (
        "1 row created in SAP MC, 47 of unknown outcome (not sent again until settled), "
        "1 batch failed"
    )
    plans = [
        {"initiative": 1, "plans": 3, "status": "ok"},
        {"initiative": 2, "status": "failed", "error": "503"},
        {"initiative": 3, "status": "failed", "error": "503"},
    ]
    assert run_summary(plans) == "3 Initiatives, 3 Plans read, 2 Initiatives failed"


def test_outcomes_read_as_sentences():
    assert run_summary(KPI_OUTCOMES) == (
        "3 exports, 1,204 rows read, 12 days updated, 1 export failed"
    )
    assert outcome_sentence(KPI_OUTCOMES[0]) == (
        "1,000 rows read, 10 days updated, 5 days unchanged, ready after 3 polls."
    )
    assert outcome_sentence(KPI_OUTCOMES[1]) == (
        "204 rows read, 1 row could not be read, 2 days updated, 1 of them set to zero, "
        "ready after 1 poll."
    )
    assert outcome_sentence(KPI_OUTCOMES[2]) == "Khoros answered 503."
    plans = {"initiative": 7, "name": "Spring", "status": "ok", "plans": 12, "created": 2,
             "updated": 1, "removed": 0}  # fmt: skip
    assert outcome_sentence(plans) == "12 Plans read, 2 added, 1 updated."
    same = {**plans, "created": 0, "updated": 0, "unchanged": 12}
    assert outcome_sentence(same) == "12 Plans read, 12 unchanged."
    chunk = {"chunk": 2, "status": "ok", "created": 3, "updated": 0, "unchanged": 97}
    assert outcome_sentence(chunk) == "3 campaigns added, 97 campaigns unchanged."
    assert run_summary([chunk]) == "100 campaigns read"
    listing = {"listing": "incomplete", "read": 40, "sap_count": 50, "duplicates": 0,
               "problems": ["page 3 timed out"]}  # fmt: skip
    assert outcome_sentence(listing) == (
        "40 campaigns read of the 50 SAP MC counted; none marked removed, page 3 timed out."
    )


def test_every_success_push_batch_has_a_status_its_counts_say(client, world):
    # A batch's outcome stores its counts, not a status: its badge on the run page was empty.
    batches = [
        {"batch": 1, "created": 50, "refused": 0},
        {"batch": 2, "created": 48, "refused": 2},
        {"batch": 3, "created": 0, "refused": 50},
        {"batch": 4, "created": 0, "refused": 0, "unknown": 50, "status": "failed"},
    ]
    rows = outcome_rows(batches)
    assert [(r.status, r.status_class) for r in rows] == [
        ("Done", "succeeded"),
        ("Partly refused", "partial"),
        ("Failed", "failed"),
        ("Failed", "failed"),
    ]
    run = SyncRun.objects.create(
        kind="sapmc_success_push", trigger="schedule", status="partial", outcomes=batches[:2],
        progress_done=100, progress_total=100, finished_at=timezone.now(),
    )  # fmt: skip
    client.force_login(world.admin)
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert '<span class="badge "></span>' not in page
    assert '<span class="badge partial">Partly refused</span>' in page


def test_run_page_shows_no_raw_keys(client, world):
    run = SyncRun.objects.create(
        kind="khoros_kpis", trigger="schedule", status="partial", outcomes=KPI_OUTCOMES,
        progress_done=3, progress_total=3, finished_at=timezone.now(),
    )  # fmt: skip
    client.force_login(world.admin)
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert "3 exports, 1,204 rows read, 12 days updated, 1 export failed." in page
    assert "Full history export, 2026-01-01 to 2026-03-31" in page
    for raw in ("rows_failed", "zeroed", "rows_summed", "rows_ignored", "exp-1"):
        assert raw not in page
    assert "Partial: 3 of 3, not all complete" in page


def test_failed_run_progress_bar_does_not_look_complete(client, world):
    run = SyncRun.objects.create(
        kind="khoros_plans", trigger="schedule", status="failed", error="KhorosAuthError: 401",
        progress_done=4, progress_total=4, finished_at=timezone.now(),
    )  # fmt: skip
    client.force_login(world.admin)
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert 'class="run-progress failed"' in page
    # Every item was tried (and some failed): not "stopped after 4 of 4", as if it had stopped.
    assert "Failed: all 4 tried, see the error and outcomes" in page
    run.progress_done = 1
    run.save()
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert "Failed: stopped after 1 of 4" in page
    run.progress_done = 4
    run.status = "succeeded"
    run.save()
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert 'class="run-progress done"' in page and ">4 of 4<" in page


def test_request_log_is_bounded_and_the_finish_saves_the_last_requests():
    import time

    from smcbridge.outgoing_http import REQUEST_LOG_SIZE, ClientStats

    stats = ClientStats()
    run = SyncRun.objects.create(kind="khoros_plans", trigger="schedule", status="running")
    stats.requests += 1
    stats.record(method="GET", path="/api/v2/initiatives", status="200", retries=0,
                 started=time.monotonic())  # fmt: skip
    run.checkpoint(stats)
    # After the last checkpoint the run fails: its failing requests are what an admin needs.
    for i in range(REQUEST_LOG_SIZE + 5):
        stats.requests += 3
        stats.retries += 2
        stats.record(method="GET", path=f"/api/v2/plans/{i}", status="503", retries=2,
                     started=time.monotonic())  # fmt: skip
    run.finish(SyncRun.Status.FAILED, "KhorosUnavailableError: 503")

    run.refresh_from_db()
    assert stats.logged == REQUEST_LOG_SIZE + 6
    assert len(run.http_log) == REQUEST_LOG_SIZE == 200
    assert run.http_log[0]["path"] == "/api/v2/plans/5"
    assert run.http_log[-1] == {
        "method": "GET", "path": "/api/v2/plans/204", "status": "503", "retries": 2,
        "ms": run.http_log[-1]["ms"],
    }  # fmt: skip
    assert (run.http_requests, run.http_retries) == (1 + 3 * 205, 2 * 205)


def test_a_run_whose_heartbeats_stopped_says_so_and_run_again_takes_it_over(
    client, world, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django_q.brokers import get_broker

    beat = timezone.now() - timedelta(minutes=7)
    run = SyncRun.objects.create(
        kind="khoros_plans", trigger="schedule", status="running",
        started_at=beat - timedelta(minutes=3), heartbeat_at=beat,
        lease_expires_at=beat + timedelta(minutes=5),
    )  # fmt: skip
    client.force_login(world.admin)
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert 'data-testid="run-stopped"' in page
    last = timezone.localtime(beat)
    assert (
        f'The last came at <time datetime="{last.isoformat()}">{last:%Y-%m-%d %H:%M:%S}</time>'
        in page
    )
    assert 'hx-trigger="every 10s"' in page  # still watched, but not every second
    history = client.get(reverse("sync-history")).content.decode()
    assert (
        f'No heartbeat since <time datetime="{last.isoformat()}">{last:%Y-%m-%d %H:%M}</time>'
        in (history)
    )

    # A live lease: no warning, and the page follows the run every second.
    SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() + timedelta(minutes=5))
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert 'data-testid="run-stopped"' not in page and 'hx-trigger="every 1s"' in page
    assert "No heartbeat since" not in client.get(reverse("sync-history")).content.decode()

    # Stopped again: Run again records it as failed and queues a new run in its place.
    SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=beat)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sync-run-again", args=[run.pk]))
    new = SyncRun.objects.exclude(pk=run.pk).get()
    assert response.status_code == 302 and response.url == reverse("sync-run", args=[new.pk])
    run.refresh_from_db()
    assert (run.status, new.status) == ("failed", "queued")
    assert run.error == f"The worker stopped sending heartbeats; run #{new.pk} took over its lease."
    # It ran until its last heartbeat, as far as anyone knows: not until it was taken over.
    assert (run.finished_at, run.duration_seconds) == (beat, 180.0)
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert 'data-testid="run-stopped"' not in page and 'hx-trigger="every' not in page
    get_broker().purge_queue()


def test_run_page_and_history_are_never_kept_by_the_browser(client, world):
    # Back after Run again must show the run taken over, not the page as it was.
    run = SyncRun.objects.create(kind="khoros_plans", trigger="schedule", status="succeeded")
    client.force_login(world.admin)
    for url in (reverse("sync-run", args=[run.pk]), reverse("sync-history")):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], url
