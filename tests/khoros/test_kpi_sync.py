"""The Khoros KPI sync against the simulator over real HTTP: windows, waiting, resuming, faults."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from khoros import kpis, selectors, services
from khoros.models import Company, KpiExport, Plan, PlanKpi
from simulators.khoros_data import FIELD_IDS
from smcbridge.env import env_mapping, positive_int
from syncs import runs
from syncs.models import SyncRun
from tests.conftest import FakeClock, run_queued_tasks

pytestmark = pytest.mark.django_db

Totals = dict[tuple[str, date], tuple[int, ...]]


class WorkerDiedError(BaseException):
    """The worker process is killed while it waits: nothing of the sync's own code runs after."""


class WorkerCrashedError(Exception):
    """An unexpected error while waiting: run_guarded ends the run, the export stays open."""


def expected_totals(data, *, plan_ids=None, since: date | None = None) -> Totals:
    """The simulator's posts per Plan and day in its company zone, in PlanKpi's column order,
    combined as kpi_catalog declares: counts summed, reach the day's highest post reach (reach
    counts unique people and is never added up; the simulator's daily_totals sums every field)."""
    tz = ZoneInfo(data.timezone)
    reach = FIELD_IDS[list(kpis.METRICS).index("reach")]
    posts = Counter(
        (post.plan_id, post.published_at.astimezone(tz).date())
        for post in data.iter_posts(plan_ids)
    )
    highest: dict[tuple[str, date], int] = {}
    for post in data.iter_posts(plan_ids):
        key = (post.plan_id, post.published_at.astimezone(tz).date())
        highest[key] = max(highest.get(key, 0), post.metrics.get(reach, 0))
    return {
        key: (*(highest[key] if f == reach else sums[f] for f in FIELD_IDS), posts[key])
        for key, sums in data.daily_totals(tz, plan_ids=plan_ids).items()
        if since is None or key[1] >= since
    }


def stored(*, since: date | None = None) -> Totals:
    rows = PlanKpi.objects.select_related("plan")
    if since is not None:
        rows = rows.filter(day__gte=since)
    return {
        (str(r.plan.khoros_id), r.day): tuple(getattr(r, m) for m in kpis.METRICS) for r in rows
    }


def snapshot() -> list[tuple]:
    return list(PlanKpi.objects.order_by("pk").values_list("pk", *kpis.METRICS, "updated_at"))


def today_in(data) -> date:
    return timezone.now().astimezone(ZoneInfo(data.timezone)).date()


def requests_to(live_khoros, route: str) -> list[dict]:
    return [r for r in live_khoros.sim.requests if r["route"] == route]


def kpi_writes(ctx: CaptureQueriesContext) -> list[str]:
    # An executemany is captured as "N times: INSERT ...": it is a write all the same.
    statements = [re.sub(r"^\s*[0-9]+ times: ", "", q["sql"]) for q in ctx.captured_queries]
    return [
        sql
        for sql in statements
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and '"khoros_plankpi"' in sql
    ]


def sync(fake: FakeClock | None = None, **kwargs) -> SyncRun:
    fake = fake or FakeClock()
    return kpis.sync_khoros_kpis(sleep=fake.sleep, now=fake, **kwargs)


@pytest.fixture
def mirrored(live_khoros):
    """The simulator with its Plans mirrored, as the plan sync leaves them."""
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    return live_khoros


def store_a_day_the_export_lacks(plan: Plan, today: date) -> date:
    """Store 50 impressions on a day of the trailing week that has no stored row (so the export
    does not report it either); return that day."""
    vanished_day = next(
        today - timedelta(days=n)
        for n in range(7)
        if not PlanKpi.objects.filter(plan=plan, day=today - timedelta(days=n)).exists()
    )
    PlanKpi.objects.create(
        plan=plan, day=vanished_day, impressions=50, posts=1, updated_at=timezone.now()
    )
    return vanished_day


def tamper_one_recent_row(data) -> PlanKpi:
    """Change a stored day inside the trailing window, so that a successful run would fix it."""
    row = PlanKpi.objects.filter(day__gte=today_in(data) - timedelta(days=3)).first()
    assert row is not None
    PlanKpi.objects.filter(pk=row.pk).update(impressions=1, engagements=2)
    return row


# --- First run, re-runs, windows ---------------------------------------------------------------


def test_first_run_lands_the_seeded_daily_totals_of_every_plan(mirrored):
    fake = FakeClock()
    run = sync(fake)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    data = mirrored.data
    expected = expected_totals(data)
    assert stored() == expected
    assert len(expected) > 20
    assert run.created_count == len(expected)
    assert (run.updated_count, run.unchanged_count, run.failed_count) == (0, 0, 0)
    assert run.progress_done == run.progress_total == 1
    # The simulator completes on the third status call: two waits, doubling from the base.
    assert fake.delays == [2.0, 4.0]

    export = KpiExport.objects.get()
    assert export.state == KpiExport.State.DOWNLOADED and export.full_history
    assert (export.polls, export.rows_read, export.rows_failed) == (3, 5 * 16, 0)
    started = [p for p in data.plans if p.start_date <= today_in(data)]
    assert sorted(export.plan_ids) == sorted(p.id for p in started)
    assert export.start == min(p.start_date for p in started)
    assert export.stop == today_in(data) + timedelta(days=1)
    assert export.timezone == data.timezone == "America/Chicago"
    assert not hasattr(export, "download_url") and not hasattr(export, "url")

    (create,) = requests_to(mirrored, "export_create")
    query = create["body"]["query"]
    # The placing columns (post id, Plan, publication time) by field id, then the metrics: the
    # spec returns the columns in this order.
    assert query["fields"] == [11, 12, 13, 101, 102, 103, 104, 105]
    assert query["timezone"] == "America/Chicago"
    assert sorted(query["content_filter"]["plans"]) == sorted(export.plan_ids)
    assert sorted(query["intiatives"]) == sorted({int(p.initiative_id) for p in started})
    (download,) = requests_to(mirrored, "export_download")
    assert download["had_auth_header"] is False
    assert run.outcomes == [
        {
            "kind": "history",
            "start": export.start.isoformat(),
            "stop": export.stop.isoformat(),
            "plans": len(started),
            "export": export.export_id,
            "polls": 3,
            "status": "ok",
            "rows": 80,
            "rows_summed": 80,
            "rows_failed": 0,
            "rows_ignored": 0,
            "rows_repeated": 0,
            "created": len(expected),
            "updated": 0,
            "unchanged": 0,
            "zeroed": 0,
            "kept": 0,
        }
    ]
    assert not SyncRun.objects.get(kind=SyncRun.Kind.KHOROS_KPIS).lease_is_live()


def test_second_run_re_pulls_the_trailing_days_and_writes_nothing_when_unchanged(mirrored):
    sync()
    before = snapshot()
    mirrored.sim.clear_requests()

    with CaptureQueriesContext(connection) as ctx:
        run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert kpi_writes(ctx) == []
    assert snapshot() == before
    today = today_in(mirrored.data)
    export = KpiExport.objects.order_by("-pk").first()
    assert not export.full_history
    assert (export.start, export.stop) == (today - timedelta(days=6), today + timedelta(days=1))
    # Only Plans still publishing in the window are asked for: ended Plans have no new posts.
    in_window = {p.id for p in mirrored.data.plans if p.end_date >= export.start}
    started = {p.id for p in mirrored.data.plans if p.start_date <= today}
    assert set(export.plan_ids) == in_window & started
    assert run.unchanged_count == len(expected_totals(mirrored.data, since=export.start)) > 0
    assert (run.created_count, run.updated_count) == (0, 0)
    assert len(requests_to(mirrored, "export_create")) == 1


def test_changed_days_are_updated_and_a_day_without_posts_any_more_becomes_zeros(mirrored):
    sync()
    today = today_in(mirrored.data)
    changed = tamper_one_recent_row(mirrored.data)
    plan = Plan.objects.filter(pk=changed.plan_id).get()
    # A day in the window that the export does not report any more (its post was deleted).
    vanished_day = store_a_day_the_export_lacks(plan, today)
    # Outside the window: not looked at, so kept as it is.
    old_day = today - timedelta(days=200)
    PlanKpi.objects.create(plan=plan, day=old_day, impressions=7, updated_at=timezone.now())

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.created_count, run.updated_count) == (0, 2)
    assert run.outcomes[0]["zeroed"] == 1
    vanished = PlanKpi.objects.get(plan=plan, day=vanished_day)
    assert [getattr(vanished, m) for m in kpis.METRICS] == [0] * 6
    assert PlanKpi.objects.get(plan=plan, day=old_day).impressions == 7
    del_keys = {(str(plan.khoros_id), vanished_day), (str(plan.khoros_id), old_day)}
    assert {k: v for k, v in stored().items() if k not in del_keys} == expected_totals(
        mirrored.data
    )


def test_a_new_plan_gets_its_whole_history_while_known_plans_get_the_trailing_days(mirrored):
    sync()
    today = today_in(mirrored.data)
    initiative = mirrored.data.initiatives[0].id
    added = mirrored.sim.add_plan(
        initiative, start_date=today - timedelta(days=30), end_date=today + timedelta(days=5)
    )
    services.sync_khoros()

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    history, trailing = KpiExport.objects.filter(run=run).order_by("-full_history")
    assert history.full_history and history.plan_ids == [added.id]
    assert history.start == today - timedelta(days=30)
    assert not trailing.full_history and added.id not in trailing.plan_ids
    assert [o["kind"] for o in run.outcomes] == ["history", "trailing"]
    assert stored() == expected_totals(mirrored.sim.data)
    assert run.progress_done == run.progress_total == 2


def test_plans_are_split_into_several_exports_each_checkpointed(mirrored, monkeypatch):
    monkeypatch.setattr(kpis.planning, "PLANS_PER_EXPORT", 5)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    exports = list(KpiExport.objects.filter(run=run).order_by("pk"))
    started = [p for p in mirrored.data.plans if p.start_date <= today_in(mirrored.data)]
    assert len(exports) == run.progress_total == -(-len(started) // 5)
    assert [len(e.plan_ids) for e in exports][:-1] == [5] * (len(exports) - 1)
    assert len(run.outcomes) == len(exports)
    assert all(o["status"] == "ok" for o in run.outcomes)
    assert stored() == expected_totals(mirrored.data)


def test_removed_and_upcoming_plans_are_not_asked_for(mirrored):
    gone = mirrored.data.plans[1]
    mirrored.sim.remove_plan(gone.id)
    services.sync_khoros()

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    export = KpiExport.objects.get()
    today = today_in(mirrored.data)
    assert gone.id not in export.plan_ids
    assert all(p.start_date <= today for p in mirrored.data.plans if p.id in export.plan_ids)
    assert not any(k[0] == gone.id for k in stored())


def test_a_run_with_no_plans_succeeds_without_asking_for_an_export(live_khoros):
    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.progress_total == 0
    assert requests_to(live_khoros, "export_create") == []


# --- Waiting and resuming ----------------------------------------------------------------------


@pytest.mark.parametrize("death", [WorkerDiedError, WorkerCrashedError])
def test_a_run_that_dies_while_waiting_is_resumed_on_the_same_export(mirrored, death):
    def dying_sleep(seconds: float) -> None:
        raise death("killed while waiting for the export")

    if issubclass(death, Exception):
        first = kpis.sync_khoros_kpis(sleep=dying_sleep)
        assert first.status == SyncRun.Status.FAILED
    else:
        with pytest.raises(WorkerDiedError):
            kpis.sync_khoros_kpis(sleep=dying_sleep)
        first = SyncRun.objects.get(kind=SyncRun.Kind.KHOROS_KPIS)
        assert first.status == SyncRun.Status.RUNNING  # nothing of ours ran after the kill
        # Its heartbeats stopped: let the lease run out.
        SyncRun.objects.filter(pk=first.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
    export = KpiExport.objects.get()
    assert export.state == KpiExport.State.PENDING and export.polls == 1
    assert export.next_poll_at is not None
    assert PlanKpi.objects.count() == 0

    second = sync()

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert len(requests_to(mirrored, "export_create")) == 1
    export.refresh_from_db()
    assert export.state == KpiExport.State.DOWNLOADED and export.run == second
    assert KpiExport.objects.count() == 1
    assert second.outcomes[0]["export"] == export.export_id
    assert second.outcomes[0]["resumed_from_run"] == first.pk
    assert stored() == expected_totals(mirrored.data)
    first.refresh_from_db()
    assert first.status == SyncRun.Status.FAILED


def test_a_resumed_export_that_khoros_forgot_is_replaced_in_the_same_run(mirrored):
    def dying_sleep(seconds: float) -> None:
        raise WorkerCrashedError("killed while waiting")

    kpis.sync_khoros_kpis(sleep=dying_sleep)
    lost = KpiExport.objects.get()
    mirrored.sim.reset()  # the simulator restarted: it knows no export any more

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    lost.refresh_from_db()
    assert lost.state == KpiExport.State.FAILED and "no longer knows" in lost.error
    fresh = KpiExport.objects.exclude(pk=lost.pk).get()
    assert fresh.state == KpiExport.State.DOWNLOADED and fresh.export_id != lost.export_id
    assert run.outcomes[0]["lost_export"] == lost.export_id
    assert run.outcomes[0]["export"] == fresh.export_id
    assert stored() == expected_totals(mirrored.data)


def test_an_open_export_for_another_window_is_superseded_not_mixed_in(mirrored):
    KpiExport.objects.create(
        export_id="999",
        state=KpiExport.State.RUNNING,
        start=date(2020, 1, 1),
        stop=date(2020, 1, 8),
        timezone="America/Chicago",
        plan_ids=["00000000-0000-4000-8000-000000000000"],
        field_ids={"impressions": 101},
        requested_at=timezone.now(),
    )

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert KpiExport.objects.get(export_id="999").state == KpiExport.State.ABANDONED
    assert not any("/999/" in r["path"] for r in mirrored.sim.requests)


def test_an_export_stuck_past_the_limit_is_abandoned_and_changes_nothing(mirrored, settings):
    sync()
    tamper_one_recent_row(mirrored.data)
    before = snapshot()
    settings.KHOROS_EXPORT_MAX_WAIT_SECONDS = 30
    mirrored.sim.add_fault("export_status", "export_stuck", count=None)
    fake = FakeClock()

    run = sync(fake)

    assert run.status == SyncRun.Status.FAILED
    assert "KHOROS_EXPORT_MAX_WAIT_SECONDS=30" in run.error and "abandoned" in run.error
    assert snapshot() == before
    export = KpiExport.objects.order_by("-pk").first()
    assert export.state == KpiExport.State.ABANDONED and export.polls == 5
    # Exponential from the base, the last wait cut to the limit.
    assert fake.delays == [2.0, 4.0, 8.0, 16.0]
    assert run.outcomes[0]["status"] == "failed"

    mirrored.sim.clear_faults()
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert len(requests_to(mirrored, "export_create")) == 3  # the abandoned one is not resumed
    assert stored() == expected_totals(mirrored.data)


def test_the_poll_wait_is_capped(mirrored, settings):
    settings.KHOROS_EXPORT_MAX_WAIT_SECONDS = 600
    mirrored.sim.add_fault("export_status", "export_stuck", count=8)
    fake = FakeClock()

    run = sync(fake)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert fake.delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0, 60.0]


def test_a_failed_export_ends_the_run_and_changes_nothing(mirrored):
    sync()
    tamper_one_recent_row(mirrored.data)
    before = snapshot()
    mirrored.sim.add_fault("export_status", "export_failed")

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "reports export" in run.error and "failed" in run.error
    assert snapshot() == before
    assert KpiExport.objects.order_by("-pk").first().state == KpiExport.State.FAILED
    assert len(requests_to(mirrored, "export_download")) == 1  # the first run's only


def test_an_export_that_404s_while_polled_fails_and_changes_nothing(mirrored):
    sync()
    tamper_one_recent_row(mirrored.data)
    before = snapshot()
    mirrored.sim.clear_requests()
    mirrored.sim.add_fault("export_status", "gone", count=1)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "not found on Khoros" in run.error and "HTTP 404" in run.error
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 0, 0)
    assert snapshot() == before
    export = KpiExport.objects.order_by("-pk").first()
    assert export.state == KpiExport.State.FAILED
    assert "no longer knows this export" in export.error
    assert requests_to(mirrored, "export_download") == []
    # The next run asks for a new export and mends the day.
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert stored() == expected_totals(mirrored.data)


def test_an_expired_link_is_renewed_once_by_a_fresh_status_call(mirrored):
    mirrored.sim.add_fault("export_download", "link_expired", count=1)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)
    assert [r["status"] for r in requests_to(mirrored, "export_download")] == [403, 200]
    assert len(requests_to(mirrored, "export_status")) == 3 + 1
    assert len(requests_to(mirrored, "export_create")) == 1


def test_a_link_whose_signing_session_expired_is_renewed_like_an_expired_one(mirrored):
    # S3 answers 400 ExpiredToken, not 403, when the temporary credentials that signed the link
    # (the spec's link carries X-Amz-Security-Token) run out before the link itself: the export
    # is complete and a fresh status call hands out a link that works.
    mirrored.sim.add_fault("export_download", "link_token_expired", count=1)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)
    assert [r["status"] for r in requests_to(mirrored, "export_download")] == [400, 200]
    assert len(requests_to(mirrored, "export_status")) == 3 + 1
    assert len(requests_to(mirrored, "export_create")) == 1
    assert KpiExport.objects.get().state == KpiExport.State.DOWNLOADED


def test_a_link_refused_twice_fails_the_run_and_changes_nothing(mirrored):
    sync()
    tamper_one_recent_row(mirrored.data)
    before = snapshot()
    mirrored.sim.clear_requests()
    mirrored.sim.add_fault("export_download", "link_expired", count=2)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "refused again after a fresh status call" in run.error
    assert snapshot() == before
    assert KpiExport.objects.order_by("-pk").first().state == KpiExport.State.EXPIRED
    assert [r["status"] for r in requests_to(mirrored, "export_download")] == [403, 403]
    # Neither the link's signature nor the token reaches the run's record.
    token = KpiExport.objects.order_by("-pk").first()
    assert "/downloads/" not in run.error and "/downloads/" not in token.error
    assert mirrored.sim.token not in run.error


def test_a_throttled_export_request_defers_the_run(mirrored):
    mirrored.sim.add_fault("export_create", "rate_limit", count=None, retry_after=0)

    run = sync()

    assert run.status == SyncRun.Status.DEFERRED
    assert run.outcomes[0]["status"] == "deferred"
    assert KpiExport.objects.get().state == KpiExport.State.ABANDONED
    assert PlanKpi.objects.count() == 0


def test_a_throttled_status_defers_and_the_next_run_resumes_the_export(mirrored):
    mirrored.sim.add_fault("export_status", "rate_limit", count=4, retry_after=0)

    run = sync()

    assert run.status == SyncRun.Status.DEFERRED
    export = KpiExport.objects.get()
    assert export.state == KpiExport.State.PENDING
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert len(requests_to(mirrored, "export_create")) == 1
    assert stored() == expected_totals(mirrored.data)


def test_a_download_that_breaks_off_leaves_the_export_for_the_next_run(mirrored):
    mirrored.sim.add_fault("export_download", "connection_reset", count=4)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert PlanKpi.objects.count() == 0
    export = KpiExport.objects.get()
    assert export.state == KpiExport.State.COMPLETE
    assert "/downloads/" not in run.error and "/downloads/" not in export.error

    assert sync().status == SyncRun.Status.SUCCEEDED
    assert len(requests_to(mirrored, "export_create")) == 1
    assert stored() == expected_totals(mirrored.data)


def test_the_field_mapping_decides_which_khoros_field_feeds_which_kpi(mirrored, settings):
    # Impressions from the field Khoros heads "Total Engagements", clicks from "Video Views".
    settings.KHOROS_KPI_FIELDS = {"clicks": 105, "impressions": 102}

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    (create,) = requests_to(mirrored, "export_create")
    # In the order of our KPI names, which is the order the columns come back in.
    assert create["body"]["query"]["fields"] == [11, 12, 13, 102, 105]
    # Unmapped KPIs are not asked for and stay 0; the posts are counted all the same.
    assert stored() == {
        key: (eng, 0, views, 0, 0, posts)
        for key, (_imp, eng, _clk, _reach, views, posts) in expected_totals(mirrored.data).items()
    }


def test_a_mapping_that_crosses_two_kpis_the_header_names_is_refused(mirrored, settings):
    # Impressions from the column Khoros heads "Total Engagements", engagements from the one it
    # heads "Impressions": a header that reads exactly as two swapped columns, so it is refused
    # like them (unless the field catalogue names the two fields as the header does).
    settings.KHOROS_KPI_FIELDS = {"impressions": 102, "engagements": 101}

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert (
        "column 4 is headed 'Total Engagements', which names engagements (field 101) from "
        "KHOROS_KPI_FIELDS, where impressions (field 102) from KHOROS_KPI_FIELDS was asked for"
    ) in run.error
    assert PlanKpi.objects.count() == 0


def test_company_time_zone_setting_decides_the_days(mirrored, settings):
    settings.KHOROS_COMPANY_TIMEZONE = "Asia/Tokyo"

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert KpiExport.objects.get().timezone == "Asia/Tokyo"
    tokyo = ZoneInfo("Asia/Tokyo")
    export = KpiExport.objects.get()
    expected = Counter(
        (post.plan_id, day)
        for post in mirrored.data.iter_posts()
        if export.start <= (day := post.published_at.astimezone(tokyo).date()) < export.stop
    )
    assert {k: v[-1] for k, v in stored().items()} == dict(expected)
    assert expected != Counter(k for k in expected_totals(mirrored.data))  # the zone mattered


def test_a_zone_that_comes_back_pulls_every_history_again(mirrored):
    """Chicago, then Tokyo (the API user's zone changed and the syncs learnt it), then Chicago
    again: Tokyo's histories counted every post into Tokyo's days, so Chicago's histories of
    before no longer describe what is stored, and the trailing days alone would leave the
    older days with Tokyo's numbers."""
    assert sync().status == SyncRun.Status.SUCCEEDED
    chicago = expected_totals(mirrored.data)
    assert stored() == chicago
    for zone in ("Asia/Tokyo", "America/Chicago"):
        mirrored.sim.user_timezone = zone
        assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
        run = sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert [o["kind"] for o in run.outcomes] == ["history"]

    assert {k: v for k, v in stored().items() if any(v)} == chicago
    # The Tokyo days no Chicago post falls on are zeros now, not Tokyo's numbers.
    assert all(not any(v) for k, v in stored().items() if k not in chicago)


def test_a_zone_khoros_reports_before_the_plan_sync_learnt_it_waits_for_the_plan_sync(mirrored):
    """The API user's zone turns to Tokyo after the Plan sync stored Chicago: until the Plan
    sync stores Tokyo and moves the Plans' days with it, the KPI days stay Chicago's, the zone
    of every page's days, of "today" and of SAP MC's answers."""
    mirrored.sim.user_timezone = "Asia/Tokyo"

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert KpiExport.objects.get().timezone == "America/Chicago"
    assert stored() == expected_totals(mirrored.data)
    assert Company.objects.get().timezone == "America/Chicago"

    # The Plan sync learns Tokyo; the next KPI run pulls every history again in Tokyo's days.
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    assert Company.objects.get().timezone == "Asia/Tokyo"
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert [o["kind"] for o in run.outcomes] == ["history"]
    assert KpiExport.objects.latest("requested_at").timezone == "Asia/Tokyo"


def test_a_field_mapping_that_comes_back_pulls_every_history_again(mirrored, settings):
    """Impressions from field 101, then from 102, then from 101 again: the histories read with
    102 wrote 102's numbers into every day, so the first histories no longer describe what is
    stored, and the trailing days alone would leave the older days with 102's numbers."""
    first = dict(settings.KHOROS_KPI_FIELDS)
    assert sync().status == SyncRun.Status.SUCCEEDED
    expected = expected_totals(mirrored.data)
    assert stored() == expected
    for fields in ({**first, "impressions": first["engagements"]}, first):
        settings.KHOROS_KPI_FIELDS = fields
        run = sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert [o["kind"] for o in run.outcomes] == ["history"]

    assert stored() == expected


# --- Entry points ------------------------------------------------------------------------------


def test_command_prints_a_summary_line(mirrored, settings):
    settings.KHOROS_EXPORT_POLL_BASE = 0.01  # the command waits for real
    out = StringIO()
    call_command("sync_khoros_kpis", stdout=out)

    run = SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS).get()
    assert run.trigger == SyncRun.Trigger.COMMAND
    created = len(expected_totals(mirrored.data))
    assert (
        f"Sync #{run.pk} succeeded: {created} created, 0 updated, 0 unchanged, 0 removed, "
        f"0 failed" in out.getvalue()
    )


def test_command_fails_loudly_when_the_export_fails(mirrored):
    mirrored.sim.add_fault("export_status", "export_failed")
    err = StringIO()
    with pytest.raises(CommandError, match="failed"):
        call_command("sync_khoros_kpis", stdout=StringIO(), stderr=err)
    assert "Sync #" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_button_request_runs_in_a_real_django_q_worker(mirrored, admin_user, settings):
    settings.KHOROS_EXPORT_POLL_BASE = 0.01  # a real sleep in the worker: keep it short
    run, queued = runs.sync_request(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger=SyncRun.Trigger.BUTTON, requested_by=admin_user
    )
    assert queued

    assert run_queued_tasks() == 1

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.trigger, run.requested_by) == (SyncRun.Trigger.BUTTON, admin_user)
    assert stored() == expected_totals(mirrored.data)


def test_scheduled_task_creates_its_own_run(mirrored, settings):
    from syncs.tasks import sync_task

    settings.KHOROS_EXPORT_POLL_BASE = 0.01
    assert sync_task(SyncRun.Kind.KHOROS_KPIS).endswith("succeeded")
    run = SyncRun.objects.get(kind=SyncRun.Kind.KHOROS_KPIS)
    assert run.trigger == SyncRun.Trigger.SCHEDULE


def test_the_schedule_is_declared_every_four_hours():
    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(name="Khoros KPIs")
    assert (schedule.func, schedule.args, schedule.minutes) == (
        "syncs.tasks.sync_task",
        "('khoros_kpis',)",
        240,
    )


# --- Reads -------------------------------------------------------------------------------------


def test_selectors_read_daily_rows_totals_and_freshness(mirrored):
    assert selectors.kpi_last_success() is None
    run = sync()
    plan = Plan.objects.get(khoros_id=next(iter(expected_totals(mirrored.data)))[0])

    rows = list(
        selectors.plan_kpi_daily(plans=[plan], date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))
    )
    totals = selectors.plan_kpi_totals(
        plans=Plan.objects.filter(pk=plan.pk), date_from=date(2000, 1, 1), date_to=date(2100, 1, 1)
    )

    assert [r.day for r in rows] == sorted(r.day for r in rows)
    assert totals[plan.pk]["impressions"] == sum(r.impressions for r in rows) > 0
    assert totals[plan.pk]["posts"] == sum(r.posts for r in rows)
    fresh = selectors.kpi_last_success()
    assert fresh is not None and fresh.run == run and fresh.timezone == "America/Chicago"


# --- Configuration -----------------------------------------------------------------------------


def test_kpi_field_mapping_is_read_from_the_environment():
    environ = {"F": "impressions=7, clicks = 9"}
    assert env_mapping("F", {}, convert=positive_int, environ=environ) == {
        "impressions": 7,
        "clicks": 9,
    }
    assert env_mapping("F", {"a": 1}, convert=positive_int, environ={}) == {"a": 1}


@pytest.mark.parametrize(
    "raw", ["impressions", "impressions=x", "impressions=0", "a=1,a=2", "bogus=1", "=5", ","]
)
def test_a_malformed_kpi_field_mapping_is_refused(raw):
    with pytest.raises(ImproperlyConfigured, match="F"):
        env_mapping("F", {}, convert=positive_int, keys=("impressions", "a"), environ={"F": raw})


def test_the_run_keeps_its_requests_without_the_signed_link_path(mirrored, client, world):
    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    run.refresh_from_db()
    log = run.http_log
    assert len(log) == run.http_requests - run.http_retries >= 3
    assert {tuple(sorted(entry)) for entry in log} == {
        ("method", "ms", "path", "retries", "status")
    }
    downloads = [e for e in log if e["path"].endswith("(signed link)")]
    assert downloads and all(e["path"] == "127.0.0.1 (signed link)" for e in downloads)
    assert all(e["status"] == "200" and e["method"] in ("GET", "POST") for e in log)
    # Nothing of a link's path, query or signature reaches the table or the page.
    links = [r["path"] for r in requests_to(mirrored, "export_download")]
    assert links and all(len(link) > 10 for link in links)
    client.force_login(world.admin)
    page = client.get(reverse("sync-run", args=[run.pk])).content.decode()
    assert 'data-testid="run-requests"' in page and "127.0.0.1 (signed link)" in page
    for link in links:
        assert link not in json.dumps(log) and link not in page


def test_a_run_taken_over_while_downloading_writes_nothing(mirrored, monkeypatch):
    # Its worker only seemed dead: the sums it read were written after the takeover.
    from khoros.kpis import sync as kpi_sync

    read = kpi_sync._KpiSync._export_read

    def read_then_taken_over(self, *args, **kwargs):
        sums = read(self, *args, **kwargs)
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED, error="run #99 took over its lease"
        )
        return sums

    monkeypatch.setattr(kpi_sync._KpiSync, "_export_read", read_then_taken_over)

    run = sync(FakeClock())

    assert not PlanKpi.objects.exists()
    assert KpiExport.objects.get().state != KpiExport.State.DOWNLOADED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
