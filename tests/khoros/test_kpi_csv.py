"""Reading the analytics export CSV: odd files over real HTTP, and the row rules one by one."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from khoros import kpis, services
from khoros.models import KpiExport, Plan, PlanKpi
from syncs.models import SyncRun
from tests.khoros.test_kpi_export import assert_counts_add_up
from tests.khoros.test_kpi_sync import (
    expected_totals,
    kpi_writes,
    snapshot,
    stored,
    sync,
    today_in,
)

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
PLAN_A = "34534cd7-991e-4394-bdb5-88358cd909eb"
PLAN_B = "0b8f5f8e-4a47-4f0e-9a36-2f4f3f0e8c11"
FIELDS = {"impressions": 101, "engagements": 102, "clicks": 103, "reach": 104, "video_views": 105}
CATALOGUE = {
    101: "Impressions",
    102: "Engagements",
    103: "Clicks",
    104: "Reach",
    105: "Video Views",
}


@pytest.fixture
def mirrored(live_khoros):
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    return live_khoros


def make_sums(**overrides) -> kpis.KpiSums:
    values = {
        "plans": {PLAN_A: 1, PLAN_B: 2},
        "zone": CHICAGO,
        "start": date(2026, 10, 1),
        "stop": date(2026, 10, 8),
        "field_ids": FIELDS,
        "catalogue": lambda: CATALOGUE,
    }
    return kpis.KpiSums(**{**values, **overrides})


_POST_IDS = itertools.count(1)


def row(
    plan: str = PLAN_A,
    published: str = "2026-10-02T09:30:00-05:00",
    post_id: str | None = None,
    **metrics: str,
):
    """One post's row; a post id of its own unless told (a repeated id is a post listed twice)."""
    values = {"Impressions": "10", "Engagements": "2", "Clicks": "1", "Reach": "8"}
    values["Video Views"] = "0"
    values.update(metrics)
    post_id = str(next(_POST_IDS)) if post_id is None else post_id
    return {"post_id": post_id, "plan_id": plan, "published_at": published, **values}


# --- Odd files from the simulator ---------------------------------------------------------------


@pytest.mark.parametrize("fault", ["csv_bom", "csv_quoted_newlines"])
def test_a_bom_or_quoted_newlines_do_not_change_the_totals(mirrored, fault):
    mirrored.sim.add_fault("export_download", fault)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)
    # One row per post: a newline inside a quoted field does not start a row.
    assert KpiExport.objects.get().rows_read == 80
    assert run.failed_count == 0


def test_an_export_with_zero_rows_succeeds_and_writes_nothing(mirrored):
    mirrored.sim.add_fault("export_download", "csv_empty")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert PlanKpi.objects.count() == 0
    assert run.outcomes[0]["rows"] == 0
    assert "no rows" in run.outcomes[0]["note"]


def test_an_empty_export_never_wipes_stored_days_and_the_run_says_so(mirrored):
    sync()
    before = snapshot()
    mirrored.sim.add_fault("export_download", "csv_empty")

    run = sync()

    # Nothing zeroed on nothing, and not "succeeded" either: Khoros answered no post where
    # posts were counted before.
    assert snapshot() == before
    outcome = run.outcomes[0]
    in_window = len(stored(since=date.fromisoformat(outcome["start"])))
    assert (outcome["rows"], outcome["zeroed"], outcome["kept"]) == (0, 0, in_window)
    assert in_window > 0
    assert run.status == SyncRun.Status.PARTIAL
    assert run.error == (
        f"The export for {outcome['start']} to {outcome['stop']} had no rows; {in_window} stored "
        f"days were kept."
    )
    assert run.failed_count == 0


def test_an_empty_export_of_a_window_with_only_zero_days_succeeds(mirrored):
    sync()
    since = today_in(mirrored.data) - timedelta(days=6)
    # Days stored as zeros in this zone say "no posts": an export without rows agrees.
    PlanKpi.objects.filter(day__lt=since).delete()
    PlanKpi.objects.update(**dict.fromkeys(kpis.METRICS, 0))
    mirrored.sim.add_fault("export_download", "csv_empty")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.outcomes[0]["rows"], run.outcomes[0]["kept"]) == (0, 0)


def test_a_post_listed_twice_with_the_same_numbers_is_counted_once(mirrored):
    # The middle post's row again at the end of the file, as a page of the export served twice.
    mirrored.sim.add_fault("export_download", "csv_row_repeated")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)
    outcome = run.outcomes[0]
    assert (outcome["rows"], outcome["rows_summed"], outcome["rows_repeated"]) == (81, 80, 1)
    assert (outcome["rows_failed"], run.failed_count) == (0, 0)
    assert outcome["note"] == (
        "1 row repeated a post already read, with the same numbers: each post was counted once."
    )
    assert_counts_add_up(run)


def test_a_post_listed_twice_with_other_numbers_keeps_its_stored_day(mirrored):
    sync()
    since = today_in(mirrored.data) - timedelta(days=6)
    # Every stored day of the trailing window is wrong now: a successful read fixes each one.
    PlanKpi.objects.filter(day__gte=since).update(impressions=1)
    mirrored.sim.add_fault("export_download", "csv_row_repeated", numbers="changed")

    run = sync()

    # Which of the post's two rows is true the file cannot say: neither is summed.
    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_count == 1
    outcome = run.outcomes[0]
    assert (outcome["rows_failed"], outcome["rows_repeated"]) == (1, 0)
    (bad,) = outcome["bad_rows"]
    assert "is listed again with other numbers: neither row is summed" in bad["error"]
    assert "1 CSV rows could not be read" in run.error
    bad_key = (bad["plan"], date.fromisoformat(bad["day"]))
    now = stored(since=since)
    assert now[bad_key][0] == 1  # kept as stored, neither doubled nor one row's sum
    expected = expected_totals(mirrored.data, since=since)
    assert {k: v for k, v in now.items() if k != bad_key} == {
        k: v for k, v in expected.items() if k != bad_key
    }
    assert_counts_add_up(run)


def test_a_post_repeated_on_another_day_keeps_both_days():
    sums = make_sums()
    sums.add(row(post_id="77"))
    sums.add(row(post_id="78", published="2026-10-03T09:00:00-05:00"))
    sums.add(row(post_id="77"))  # the same row again: skipped
    sums.add(row(post_id="77", published="2026-10-03T10:00:00-05:00"))  # another day
    sums.add(row(post_id=" "))  # a blank id tells nothing: summed
    sums.add(row(post_id=" "))

    assert (sums.rows_read, sums.rows_repeated, sums.rows_failed) == (6, 1, 1)
    assert sums.sums[1, date(2026, 10, 2)] == [30, 6, 3, 8, 0, 3]  # post 77 once, two blanks
    assert sums.keeps((1, date(2026, 10, 2))) and sums.keeps((1, date(2026, 10, 3)))
    assert sums.bad_rows == [
        {
            "row": 4,
            "plan": PLAN_A,
            "day": "2026-10-03",
            "error": "post '77' is listed again with other numbers (first on 2026-10-02): "
            "neither row is summed",
        }
    ]


def test_a_row_that_cannot_be_read_does_not_stop_the_others(mirrored):
    mirrored.sim.add_fault("export_download", "csv_bad_row", value="n/a")

    run = sync()

    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_count == 1
    (bad,) = run.outcomes[0]["bad_rows"]
    assert bad["error"] == "impressions: 'n/a' is not a count"
    assert run.outcomes[0]["rows_failed"] == 1 and run.outcomes[0]["rows"] == 80
    assert "1 CSV rows could not be read" in run.error and bad["plan"] in run.error
    assert KpiExport.objects.get().rows_failed == 1
    # Every other (Plan, day) landed; the day of the rejected row was not written at all
    # rather than with a sum known to be short.
    bad_key = (bad["plan"], date.fromisoformat(bad["day"]))
    expected = expected_totals(mirrored.data)
    assert bad_key in expected
    assert stored() == {k: v for k, v in expected.items() if k != bad_key}


def test_a_day_with_a_rejected_row_keeps_its_stored_value(mirrored):
    sync()
    since = today_in(mirrored.data) - timedelta(days=6)
    # Every stored day of the trailing window is wrong now: a successful read fixes each one.
    PlanKpi.objects.filter(day__gte=since).update(impressions=1)
    mirrored.sim.add_fault("export_download", "csv_bad_row")

    run = sync()

    assert run.status == SyncRun.Status.PARTIAL
    (bad,) = run.outcomes[0]["bad_rows"]
    bad_key = (bad["plan"], date.fromisoformat(bad["day"]))
    now = stored(since=since)
    assert now[bad_key][0] == 1  # kept, neither overwritten with a short sum nor zeroed
    expected = expected_totals(mirrored.data, since=since)
    assert {k: v for k, v in now.items() if k != bad_key} == {
        k: v for k, v in expected.items() if k != bad_key
    }


# --- Row rules ----------------------------------------------------------------------------------


def test_rows_are_summed_per_plan_and_local_day():
    sums = make_sums()
    sums.add(row())
    sums.add(row(published="2026-10-02T23:59:00-05:00", Impressions="5", Reach="11"))
    # 04:30 UTC on the 3rd is still the 2nd in Chicago.
    sums.add(row(published="2026-10-03T04:30:00Z", Impressions="1"))
    sums.add(row(plan=PLAN_B, published="2026-10-03T10:00:00-05:00"))

    assert sums.sums == {
        # Reach counts people: the day's highest post reach (8, 11, 8), never the sum 27.
        (1, date(2026, 10, 2)): [16, 6, 3, 11, 0, 3],
        (2, date(2026, 10, 3)): [10, 2, 1, 8, 0, 1],
    }
    assert (sums.rows_read, sums.rows_failed, sums.rows_ignored) == (4, 0, 0)


def test_columns_are_found_by_catalogue_name_or_field_id_whatever_the_spelling():
    by_id = {"Plan ID": PLAN_A, "Published At": "2026-10-02", "101": "7", "field_102": "3"}
    sums = make_sums(field_ids={"impressions": 101, "engagements": 102}, catalogue=dict)
    sums.add(by_id)
    assert sums.sums == {(1, date(2026, 10, 2)): [7, 3, 0, 0, 0, 1]}

    bom = {"\ufeffplan_id": PLAN_A, "published_at": "2026-10-02", "Impressions": "4"}
    sums = make_sums(field_ids={"impressions": 101})
    sums.add(bom)
    assert sums.sums == {(1, date(2026, 10, 2)): [4, 0, 0, 0, 0, 1]}


def test_a_missing_column_fails_the_export_clearly():
    sums = make_sums()
    with pytest.raises(
        kpis.ExportError, match=r"no column for .*video_views \(field 105, Video Views\)"
    ):
        sums.add({"plan_id": PLAN_A, "published_at": "2026-10-02", "Impressions": "1"})
    with pytest.raises(kpis.ExportError, match="the plan id"):
        make_sums(field_ids={}).add({"published_at": "2026-10-02"})


@pytest.mark.parametrize(
    ("published", "day"),
    [
        ("2026-10-02", date(2026, 10, 2)),
        ("2026-10-02T23:30:00", date(2026, 10, 2)),  # no offset: the export's zone
        ("2026-10-03T03:00:00+00:00", date(2026, 10, 2)),
        ("2026-10-02T10:00:00.123-0500", date(2026, 10, 2)),
        ("1791000000000", date(2026, 10, 2)),  # epoch ms: 2026-10-03 04:00 UTC
    ],
)
def test_publication_times_are_read_in_the_company_zone(published, day):
    assert kpis.parse_post_day(published, CHICAGO) == day


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("", 0),
        ("12.0", 12),
        ("1e3", 1000),
        ("9223372036854775807", 2**63 - 1),  # the most a stored count holds
    ],
)
def test_counts_accept_whole_numbers_and_blanks(text, value):
    assert kpis.parse_count(text) == value


@pytest.mark.parametrize("text", ["n/a", "-1", "1.5", "nan", "inf", "1,234"])
def test_counts_refuse_anything_else(text):
    with pytest.raises(ValueError):
        kpis.parse_count(text)


@pytest.mark.parametrize("text", ["9223372036854775808", "99999999999999999999", "1e30"])
def test_counts_too_large_to_store_are_refused(text):
    with pytest.raises(ValueError, match="larger than any count can be"):
        kpis.parse_count(text)


@pytest.mark.parametrize("value", ["99999999999999999999", "1e30"])
def test_a_count_too_large_to_store_fails_its_row_not_the_sync(mirrored, value):
    # Stored, it would overflow the 64-bit column and fail the whole write of the export.
    mirrored.sim.add_fault("export_download", "csv_bad_row", value=value)

    run = sync()

    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_count == 1
    (bad,) = run.outcomes[0]["bad_rows"]
    assert bad["error"] == f"impressions: {value!r} is larger than any count can be"
    bad_key = (bad["plan"], date.fromisoformat(bad["day"]))
    expected = expected_totals(mirrored.data)
    assert stored() == {k: v for k, v in expected.items() if k != bad_key}


def test_a_day_whose_sum_outgrows_a_stored_count_is_rejected_not_written(mirrored):
    sync()
    plan = Plan.objects.order_by("pk").first()
    day = date(2026, 10, 2)
    PlanKpi.objects.create(plan=plan, day=day, impressions=5, updated_at=timezone.now())
    sums = make_sums(plans={str(plan.khoros_id): plan.pk})
    most = str(2**63 - 1)
    sums.add(row(plan=str(plan.khoros_id), Impressions=most))
    sums.add(row(plan=str(plan.khoros_id), Impressions=most))
    sums.add(row(plan=str(plan.khoros_id), published="2026-10-03T09:00:00-05:00"))
    export = KpiExport.objects.first()
    export.start, export.stop = date(2026, 10, 1), date(2026, 10, 8)

    counts = kpis.kpis_write(export=export, sums=sums, plan_pks=[plan.pk], now=timezone.now())

    assert sums.rows_failed == 1
    assert sums.bad_rows == [
        {
            "row": 3,
            "plan": str(plan.khoros_id),
            "day": "2026-10-02",
            "error": "impressions: the day's posts add up to more than any count can be",
        }
    ]
    assert counts.kept >= 1
    assert PlanKpi.objects.get(plan=plan, day=day).impressions == 5  # kept as stored
    assert PlanKpi.objects.get(plan=plan, day=date(2026, 10, 3)).impressions == 10


def test_unreadable_rows_are_counted_reported_and_taint_what_they_touch():
    sums = make_sums()
    sums.add(row())
    sums.add(row(Clicks="lots"))  # taints (A, 2nd)
    sums.add(row(plan=PLAN_B, published="yesterday"))  # taints every day of B
    sums.add(row(plan="not-a-uuid"))  # cannot be placed at all
    sums.add(row(plan="11111111-1111-4111-8111-111111111111"))  # not ours: ignored
    # Outside the window: Khoros reports only the posts of [start, stop) in the export's zone,
    # so this time was misread: failed, and every day of the Plan keeps its stored value.
    sums.add(row(plan=PLAN_B, published="2026-12-24T10:00:00-06:00"))

    assert (sums.rows_read, sums.rows_failed, sums.rows_ignored) == (6, 4, 1)
    assert sums.unplaced_failures == 1
    assert sums.keeps((1, date(2026, 10, 2))) and not sums.keeps((1, date(2026, 10, 3)))
    assert sums.keeps((2, date(2026, 10, 5)))
    assert [b["row"] for b in sums.bad_rows] == [2, 3, 4, 6]
    assert sums.bad_rows[0] == {
        "row": 2,
        "plan": PLAN_A,
        "day": "2026-10-02",
        "error": "clicks: 'lots' is not a count",
    }


def test_only_the_first_rejected_rows_are_listed_but_all_are_counted():
    sums = make_sums()
    for _ in range(kpis.BAD_ROWS_SHOWN + 5):
        sums.add(row(Reach="?"))
    assert sums.rows_failed == kpis.BAD_ROWS_SHOWN + 5
    assert len(sums.bad_rows) == kpis.BAD_ROWS_SHOWN


def test_a_row_that_cannot_be_placed_stops_every_zeroing(mirrored):
    plan = Plan.objects.order_by("pk").first()
    day = date(2026, 10, 2)
    kept = PlanKpi.objects.create(plan=plan, day=day, impressions=9, updated_at=timezone.now())
    export = KpiExport.objects.create(
        start=date(2026, 10, 1),
        stop=date(2026, 10, 8),
        timezone="America/Chicago",
        requested_at=timezone.now(),
        state=KpiExport.State.COMPLETE,
    )
    sums = make_sums(plans={str(plan.khoros_id): plan.pk})
    sums.add(row(plan=str(plan.khoros_id), published="2026-10-04"))
    sums.add(row(plan="garbage"))

    counts = kpis.kpis_write(export=export, sums=sums, plan_pks=[plan.pk], now=timezone.now())

    assert (counts.created, counts.zeroed) == (1, 0)
    kept.refresh_from_db()
    assert kept.impressions == 9
    export.refresh_from_db()
    assert (export.state, export.rows_read, export.rows_failed) == ("downloaded", 2, 1)


def test_a_history_zeroes_the_days_after_today_that_a_zone_ahead_counted(mirrored):
    """Tokyo's days were stored, then the zone is Chicago again: a Chicago history ends at
    Chicago's today, so Tokyo's "tomorrow" kept Tokyo's numbers, shown and sent as a Chicago day.
    Days after the history's end that are not after today may hold a later export's true sums."""
    plan = Plan.objects.order_by("pk").first()
    now = datetime(2026, 10, 10, 3, 0, tzinfo=UTC)  # Oct 9 in Chicago, Oct 10 in Tokyo
    stored = {
        day: PlanKpi.objects.create(plan=plan, day=day, impressions=7, updated_at=now)
        for day in (date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 10))
    }
    export = KpiExport.objects.create(
        full_history=True,
        start=date(2026, 10, 1),
        stop=date(2026, 10, 8),  # planned on Oct 7, downloaded two days later
        timezone="America/Chicago",
        requested_at=now,
        state=KpiExport.State.COMPLETE,
    )
    sums = make_sums(plans={str(plan.khoros_id): plan.pk})
    sums.add(row(plan=str(plan.khoros_id), published="2026-10-04T09:30:00-05:00"))
    sums.verified = True

    counts = kpis.kpis_write(export=export, sums=sums, plan_pks=[plan.pk], now=now)

    assert (counts.created, counts.zeroed) == (1, 1)
    assert {day: PlanKpi.objects.get(pk=row.pk).impressions for day, row in stored.items()} == {
        date(2026, 10, 8): 7,
        date(2026, 10, 9): 7,
        date(2026, 10, 10): 0,
    }


def test_the_day_cache_reads_every_time_as_the_parser_does():
    """Days are parsed once per (day, offset) or epoch minute: never another day than the parser."""
    from khoros.kpis.export_csv import _DayCache

    cache = _DayCache(CHICAGO)
    start = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
    times = []
    # Three days around Chicago's fall back (1 November 2026, 02:00 CDT -> 01:00 CST), every
    # 7 minutes, written in the zone's own offset, in UTC, in another zone, and as epoch ms.
    for step in range(0, 3 * 24 * 60, 7):
        moment = start + timedelta(minutes=step)
        times += [
            moment.astimezone(CHICAGO).isoformat(),
            moment.isoformat(),
            moment.astimezone(ZoneInfo("Asia/Kolkata")).isoformat(timespec="seconds"),
            str(int(moment.timestamp() * 1000)),
        ]
    for text in times * 2:  # the second pass is answered from the cache
        assert cache.day(text) == kpis.parse_post_day(text, CHICAGO), text
    # A cached (day, offset) never lets an impossible time of that day through.
    for bad in ("2026-10-31T24:00:00-05:00", "2026-10-31T10:61:00-05:00", "2026-02-30T10:00-06:00"):
        with pytest.raises(ValueError):
            cache.day(bad)
    assert cache.day("20261031") == date(2026, 10, 31)  # a basic ISO day, not epoch ms


def test_an_export_s_daily_totals_are_upserted_in_one_statement(mirrored):
    """Created, updated and zeroed days alike: one upsert run for every day, not one per 100."""
    plans = list(Plan.objects.order_by("pk")[:2])
    start = date(2025, 1, 1)
    days = [start + timedelta(days=n) for n in range(200)]
    now = timezone.now()
    PlanKpi.objects.bulk_create(
        [PlanKpi(plan=plans[0], day=day, impressions=3, updated_at=now) for day in days[:50]]
        + [PlanKpi(plan=plans[1], day=days[0], impressions=4, updated_at=now)]
    )
    export = KpiExport.objects.create(
        start=start,
        stop=start + timedelta(days=200),
        timezone="America/Chicago",
        requested_at=now,
        state=KpiExport.State.COMPLETE,
    )
    sums = make_sums(plans={str(p.khoros_id): p.pk for p in plans}, start=export.start)
    sums.stop = export.stop
    sums.sums = {(plans[0].pk, day): [n, 1, 0, n, 0, 1] for n, day in enumerate(days)}
    sums.rows_read, sums.verified = 200, True

    with CaptureQueriesContext(connection) as ctx:
        counts = kpis.kpis_write(export=export, sums=sums, plan_pks=[p.pk for p in plans], now=now)

    assert (counts.created, counts.updated, counts.zeroed) == (150, 50, 1)
    assert len(kpi_writes(ctx)) == 1
    stored = {(r.plan_id, r.day): (r.impressions, r.reach, r.posts) for r in PlanKpi.objects.all()}
    assert len(stored) == 201
    assert stored[(plans[0].pk, days[7])] == (7, 7, 1)
    assert stored[(plans[0].pk, days[199])] == (199, 199, 1)
    assert stored[(plans[1].pk, days[0])] == (0, 0, 0)  # a complete export no longer has it
