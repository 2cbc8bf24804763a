"""Sync history, one run's page with its live part, and Run again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from syncs.models import SyncRun

pytestmark = pytest.mark.django_db

HTMX_LIVE = {"HX-Request": "true", "HX-Target": "run-live"}


def make_run(**fields) -> SyncRun:
    defaults = {"kind": "khoros_plans", "trigger": "schedule", "status": "succeeded"}
    if fields.get("status") == "running":  # as a worker runs it: under a live lease
        defaults["lease_expires_at"] = timezone.now() + timedelta(minutes=5)
    return SyncRun.objects.create(**{**defaults, **fields})


def test_history_is_for_sync_admins(client, world):
    client.force_login(world.maria)
    assert client.get(reverse("sync-history")).status_code == 403
    run = make_run()
    assert client.get(reverse("sync-run", args=[run.pk])).status_code == 403
    assert client.post(reverse("sync-run-again", args=[run.pk])).status_code == 403
    assert SyncRun.objects.count() == 1


def test_history_filters_by_kind_status_trigger_and_day(client, world):
    make_run(kind="khoros_plans", status="failed", trigger="button", error="boom")
    make_run(kind="sapmc_campaigns", status="succeeded", trigger="schedule")
    old = make_run(kind="khoros_plans", status="succeeded", trigger="command")
    SyncRun.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(days=10))
    client.force_login(world.admin)

    def kinds(**params):
        return [
            (r.kind, r.status) for r in client.get(reverse("sync-history"), params).context["page"]
        ]

    assert kinds(kind="sapmc_campaigns") == [("sapmc_campaigns", "succeeded")]
    assert kinds(status="failed") == [("khoros_plans", "failed")]
    assert kinds(trigger="command") == [("khoros_plans", "succeeded")]
    today = timezone.localdate()
    assert len(kinds(date_from=today.isoformat())) == 2
    # A bad filter is reported, and lists nothing rather than every run.
    assert kinds(status="nonsense") == []


def test_one_invalid_filter_lists_no_run_and_keeps_the_others_shown(client, world):
    make_run(kind="khoros_plans")
    make_run(kind="sapmc_campaigns")
    client.force_login(world.admin)
    response = client.get(
        reverse("sync-history"),
        {"kind": "sapmc_campaigns", "date_from": "2026-12-02", "date_to": "2026-12-01"},
    )
    html = response.content.decode()
    assert list(response.context["page"]) == []
    assert (
        "The start of the date range is after its end. Nothing is listed until the filters "
        "are corrected." in html
    )
    assert '<option value="sapmc_campaigns" selected>' in html
    # Without the wrong day, the kind still filters.
    response = client.get(reverse("sync-history"), {"kind": "sapmc_campaigns"})
    assert [r.kind for r in response.context["page"]] == ["sapmc_campaigns"]


def test_history_query_count_is_fixed(client, world, django_assert_num_queries):
    for _ in range(120):
        make_run(requested_by=world.admin, trigger="button")
    client.force_login(world.admin)
    with django_assert_num_queries(5):  # session, user, roles, count, page
        response = client.get(reverse("sync-history"))
    assert len(response.context["page"]) == 50
    assert 'href="?page=2" rel="next">Older ›</a>' in response.content.decode()
    body = client.get(reverse("sync-history"), {"kind": "khoros_plans", "page": 3}).content.decode()
    assert (
        'href="?kind=khoros_plans&amp;page=2" rel="prev">‹ Newer</a>' in body
        and "Page 3 of 3" in body
    )


def test_lists_of_runs_read_no_outcomes_or_http_log_and_walk_an_index(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(60):
        make_run(outcomes=[{"initiative": str(i), "status": "ok"}], http_log=[{"status": 200}])
    client.force_login(world.admin)
    for page in ("sync-history", "dashboard"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse(page))
        assert response.status_code == 200
        runs = [q["sql"] for q in captured if 'FROM "khoros_syncrun"' in q["sql"]]
        assert runs, page
        assert not [sql for sql in runs if '"outcomes"' in sql or '"http_log"' in sql], page
    assert len(response.context["runs"]) == 10
    # The newest runs are read along an index, not by sorting every run ever made.
    if connection.vendor == "sqlite":
        from syncs.selectors import SyncRunFilters, sync_runs

        sql, params = sync_runs(filters=SyncRunFilters())[:50].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "syncs_run_newest" in plan and "TEMP B-TREE" not in plan


def test_run_page_polls_while_running_and_stops_when_finished(client, world):
    run = make_run(status="running", progress_total=4, progress_done=1)
    client.force_login(world.admin)
    body = client.get(reverse("sync-run", args=[run.pk]), headers=HTMX_LIVE).content.decode()
    assert 'hx-trigger="every 1s"' in body and "1 of 4" in body
    assert "<h1>" not in body

    SyncRun.objects.filter(pk=run.pk).update(
        status="failed",
        progress_done=2,
        error="KhorosUnavailableError: down (/v2/x, HTTP 503)",
        outcomes=[
            {"initiative": "1710", "name": "Brand 2026", "status": "ok", "plans": 3, "created": 3},
            {
                "initiative": "1711",
                "name": "Retail",
                "status": "failed",
                "error": "HTTP 503 on /v2/x",
            },
            {"chunk": 1, "status": "ok", "created": 12},
        ],
    )
    body = client.get(reverse("sync-run", args=[run.pk]), headers=HTMX_LIVE).content.decode()
    assert "every 1s" not in body
    assert "2 of 4" in body and "HTTP 503" in body
    assert "Brand 2026" in body and "3 Plans read, 3 added." in body and "HTTP 503 on /v2/x" in body
    full = client.get(reverse("sync-run", args=[run.pk]))
    assert full.status_code == 200 and "Run again" in full.content.decode()


def test_an_initiative_listed_incompletely_shows_as_a_partial_outcome(client, world):
    run = make_run(
        status="partial",
        failed_count=1,
        error="1 of 1 Initiatives listed their Plans incompletely (none of their Plans marked "
        "removed).",
        outcomes=[
            {
                "initiative": "1710",
                "name": "Brand 2026",
                "status": "incomplete",
                "plans": 2,
                "removed": 0,
                "error": "page 1 came back empty twice although totalItems (6) promises 4 more",
            }
        ],
    )
    client.force_login(world.admin)
    body = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert '<span class="badge partial">Incomplete</span>' in body
    assert "page 1 came back empty twice" in body and "none of their Plans marked" in body


def test_run_again_queues_a_new_run_of_the_same_kind(
    client, world, django_capture_on_commit_callbacks
):
    run = make_run(kind="sapmc_campaigns", status="failed")
    client.force_login(world.admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("sync-run-again", args=[run.pk]))
    new = SyncRun.objects.latest("id")
    assert response.status_code == 302 and response["Location"] == reverse(
        "sync-run", args=[new.pk]
    )
    assert (new.kind, new.status, new.trigger, new.requested_by) == (
        "sapmc_campaigns",
        "queued",
        "button",
        world.admin,
    )
    assert len(callbacks) == 1
