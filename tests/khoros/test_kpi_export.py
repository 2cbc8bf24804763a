"""The posts export as the spec gives it (columns as requested, in order) and its failures over
real HTTP: nothing a download loses is ever reported as "no rows" or a success."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from khoros import kpis, services
from khoros.models import KpiExport, Plan, PlanKpi
from smcbridge.env import distinct_field_ids
from syncs.models import SyncRun
from tests.conftest import django_start
from tests.khoros.test_kpi_sync import (
    expected_totals,
    snapshot,
    store_a_day_the_export_lacks,
    stored,
    sync,
    today_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mirrored(live_khoros):
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    return live_khoros


def downloads(live) -> list[dict]:
    return [r for r in live.sim.requests if r["route"] == "export_download"]


def assert_history_stays_to_be_fetched(mirrored) -> None:
    """The next run asks for the history again and lands every day."""
    mirrored.sim.clear_faults()
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)
    assert KpiExport.objects.order_by("-pk").first().full_history


def assert_counts_add_up(run: SyncRun) -> None:
    """What the run page shows is what happened to each row and each day."""
    for outcome in run.outcomes:
        if outcome["status"] == "ok":
            parts = outcome["rows_summed"] + outcome["rows_failed"] + outcome["rows_ignored"]
            parts += outcome["rows_repeated"]
            assert outcome["rows"] == parts
    assert run.failed_count == sum(o.get("rows_failed", 0) for o in run.outcomes)
    assert run.created_count == sum(o.get("created", 0) for o in run.outcomes)


# --- Columns as the spec returns them -----------------------------------------------------------


def test_columns_come_back_as_requested_and_are_read_by_position(mirrored):
    # The catalogue says "Coming Soon" (the spec's only example): nothing names the columns
    # "Published Date", "Total Engagements" or "Link Clicks" but their position.
    mirrored.sim.add_fault("fields", "http_500", count=None, body="text")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)
    (create,) = [r for r in mirrored.sim.requests if r["route"] == "export_create"]
    assert create["body"]["query"]["fields"] == [11, 12, 13, 101, 102, 103, 104, 105]


def test_publication_times_in_epoch_milliseconds_are_placed(mirrored):
    mirrored.sim.add_fault("export_download", "csv_epoch_ms")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)


def test_the_old_named_header_layout_is_read_by_names(mirrored):
    # Metric columns named as the field catalogue names them: readable when it lists them.
    mirrored.sim.add_fault("fields", "fields_catalogue")
    mirrored.sim.add_fault("export_download", "csv_named_header")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == expected_totals(mirrored.data)


def test_a_needed_column_not_found_names_the_column_and_its_setting(mirrored, settings):
    # A named layout without the asked-for field 106: not readable by position either.
    settings.KHOROS_KPI_FIELDS = {**settings.KHOROS_KPI_FIELDS, "video_views": 106}
    mirrored.sim.add_fault("export_download", "csv_named_header")

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "video_views (field 106) from KHOROS_KPI_FIELDS" in run.error
    assert PlanKpi.objects.count() == 0
    with pytest.raises(kpis.ExportError, match=r"the plan id \(field 12, setting KHOROS_EXPORT"):
        kpis.resolve_columns(
            ["Post", "Published Date"], {"post_id": 11, "plan": 12, "published": 13}, {}
        )


def test_a_header_whose_names_contradict_the_requested_order_is_refused():
    fields = {"post_id": 11, "plan": 12, "published": 13, "impressions": 101, "reach": 104}
    with pytest.raises(
        kpis.ExportError,
        match=r"no column for the publication time.*column 4 is headed 'Reach'.*impressions",
    ):
        kpis.resolve_columns(
            ["Post ID", "Plan", "Sent", "Reach", "Impressions"],
            fields,
            {101: "Impressions", 104: "Reach"},
        )
    # Every column named: read by those names.
    columns = kpis.resolve_columns(
        ["Post ID", "Plan", "Published Date", "Reach", "Impressions"],
        fields,
        {101: "Impressions", 104: "Reach"},
    )
    assert (columns.published, columns.metrics) == (2, {"impressions": 4, "reach": 3})
    columns = kpis.resolve_columns(
        ["Post ID", "Plan", "Published Date", "Impressions", "Reach"], fields, {}
    )
    assert (columns.plan, columns.published, columns.metrics) == (
        1,
        2,
        {"impressions": 3, "reach": 4},
    )


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        # Impressions and Link Clicks swapped, their labels with them.
        (
            "csv_columns_swapped",
            "column 4 is headed 'Link Clicks', which names clicks (field 103) from "
            "KHOROS_KPI_FIELDS, where impressions (field 101) from KHOROS_KPI_FIELDS was asked for",
        ),
        # A "Shares" column after Impressions: every metric after it one column to the right.
        (
            "csv_column_inserted",
            "column 6 is headed 'Total Engagements', which names engagements (field 102) from "
            "KHOROS_KPI_FIELDS, where clicks (field 103) from KHOROS_KPI_FIELDS was asked for",
        ),
    ],
)
def test_metric_columns_moved_under_their_labels_fail_the_export_and_change_nothing(
    mirrored, mode, says
):
    sync()
    # Every stored day of the trailing window is wrong now: an export read at all would write.
    PlanKpi.objects.filter(day__gte=today_in(mirrored.data) - timedelta(days=6)).update(
        impressions=1
    )
    before = snapshot()
    mirrored.sim.add_fault("export_download", mode)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert says in run.error and "none of its rows were read" in run.error
    assert snapshot() == before
    assert run.outcomes[0]["status"] == "failed"
    assert KpiExport.objects.order_by("-pk").first().state == KpiExport.State.FAILED


def test_a_kpi_label_only_checks_the_column_read_there():
    fields = {"post_id": 11, "plan": 12, "published": 13, "impressions": 101, "clicks": 103}
    header = ["Post ID", "Plan", "Published Date", "Link Clicks", "Impressions"]
    with pytest.raises(kpis.ExportError, match="column 4 is headed 'Link Clicks', which names cl"):
        kpis.resolve_columns(header, fields, {})
    # A catalogue naming the fields as the header does places them: read by those names.
    columns = kpis.resolve_columns(header, fields, {101: "Impressions", 103: "Link Clicks"})
    assert (columns.metrics, columns.by_position) == ({"impressions": 4, "clicks": 3}, False)
    # Labels that name nothing asked for (a KPI not mapped, a column Khoros added) say nothing.
    columns = kpis.resolve_columns([*header[:3], "Reach", "Shares"], fields, {})
    assert (columns.metrics, columns.by_position) == ({"impressions": 3, "clicks": 4}, True)


@pytest.mark.parametrize(
    "ids",
    [
        {"KHOROS_EXPORT_FIELD_PLAN": 12, "KHOROS_EXPORT_FIELD_PUBLISHED": 12},
        {"KHOROS_EXPORT_FIELD_PLAN": 101, "KHOROS_KPI_FIELDS[impressions]": 101},
    ],
)
def test_two_settings_naming_one_field_are_refused(ids):
    with pytest.raises(ImproperlyConfigured, match="both name export field"):
        distinct_field_ids(ids)


# --- Downloads that are no CSV ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "params", "says"),
    [
        ("not_csv", {"body": "empty"}, "not even a header row"),
        ("not_csv", {"body": "json"}, "is JSON"),
        ("not_csv", {"body": "html"}, "text/html"),
        ("not_csv", {"body": "text"}, "has no column for"),
        ("developer_inactive", {"status": 200}, "text/html"),
    ],
)
def test_a_history_download_that_is_no_csv_fails_and_is_fetched_again(mirrored, mode, params, says):
    mirrored.sim.add_fault("export_download", mode, **params)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert says in run.error
    assert PlanKpi.objects.count() == 0
    export = KpiExport.objects.get()
    assert export.full_history and export.state == KpiExport.State.FAILED
    assert run.outcomes[0]["status"] == "failed"
    assert_history_stays_to_be_fetched(mirrored)


# --- Truncated downloads ------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", [False, True], ids=["mid_row", "between_rows"])
def test_a_truncated_history_download_is_never_accepted(mirrored, boundary):
    mirrored.sim.add_fault("export_download", "csv_truncated", fraction=0.6, boundary=boundary)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "the file is cut" in run.error
    assert PlanKpi.objects.count() == 0
    outcome = run.outcomes[0]
    # The rows read before the cut were all lost to this run: counted as such.
    assert 0 < outcome["rows"] == outcome["rows_failed"] == run.failed_count < 80
    assert KpiExport.objects.get().state != KpiExport.State.DOWNLOADED
    assert_history_stays_to_be_fetched(mirrored)


@pytest.mark.parametrize("boundary", [False, True], ids=["mid_row", "between_rows"])
def test_a_truncated_trailing_download_changes_no_stored_day(mirrored, boundary):
    sync()
    since = today_in(mirrored.data) - timedelta(days=6)
    PlanKpi.objects.filter(day__gte=since).update(impressions=1)
    before = snapshot()
    mirrored.sim.add_fault("export_download", "csv_truncated", fraction=0.5, boundary=boundary)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert snapshot() == before


# --- Downloads sent as gzip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},  # stored compressed: Content-Encoding gzip, the ETag the gzip's MD5 (S3)
        {"etag": "plain"},  # compressed on the way: the ETag the CSV's MD5 (a CDN)
        {"encoding": False},  # a .csv.gz file served as application/gzip
    ],
    ids=["stored_gzip", "cdn_gzip", "gz_file"],
)
def test_a_gzip_download_is_read_and_proved_whole(mirrored, params):
    sync()
    today = today_in(mirrored.data)
    recent = PlanKpi.objects.filter(day__gte=today - timedelta(days=3)).first()
    plan = Plan.objects.get(pk=recent.plan_id)
    vanished_day = store_a_day_the_export_lacks(plan, today)
    mirrored.sim.add_fault("export_download", "csv_gzip", **params)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    # Proved whole by its ETag, so the day the export no longer reports is zeroed as it must be.
    vanished = (str(plan.khoros_id), vanished_day)
    assert stored() == {**expected_totals(mirrored.data), vanished: (0,) * len(kpis.METRICS)}
    assert run.outcomes[0]["zeroed"] == 1 and "note" not in run.outcomes[0]


@pytest.mark.parametrize("boundary", [False, True], ids=["mid_row", "between_rows"])
def test_a_truncated_gzip_download_is_never_accepted(mirrored, boundary):
    mirrored.sim.add_fault("export_download", "csv_gzip")
    mirrored.sim.add_fault("export_download", "csv_truncated", fraction=0.7, boundary=boundary)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "the file is cut" in run.error
    assert PlanKpi.objects.count() == 0
    assert KpiExport.objects.get().state != KpiExport.State.DOWNLOADED
    assert_history_stays_to_be_fetched(mirrored)


def test_a_download_that_cannot_be_proved_whole_zeroes_no_stored_day(mirrored):
    sync()
    today = today_in(mirrored.data)
    recent = PlanKpi.objects.filter(day__gte=today - timedelta(days=3)).first()
    plan = Plan.objects.get(pk=recent.plan_id)  # a Plan the trailing export asks for
    vanished_day = store_a_day_the_export_lacks(plan, today)
    # An ETag that is no MD5 (a multipart upload): a file cut between two rows would look the
    # same as this one, so a day it does not report is not proof that the day is empty.
    mirrored.sim.add_fault("export_download", "etag_multipart")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert PlanKpi.objects.get(plan=plan, day=vanished_day).impressions == 50
    assert (run.outcomes[0]["zeroed"], run.outcomes[0]["kept"]) == (0, 1)
    assert "could not be proved whole" in run.outcomes[0]["note"]


# --- Rows that fail alone -----------------------------------------------------------------------


def test_a_post_whose_time_cannot_be_placed_is_a_failed_row(mirrored):
    # Epoch seconds where milliseconds are expected: the post would land in January 1970.
    mirrored.sim.add_fault("export_download", "csv_bad_time")

    run = sync()

    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_count == 1
    outcome = run.outcomes[0]
    assert (outcome["rows"], outcome["rows_failed"], outcome["rows_ignored"]) == (80, 1, 0)
    (bad,) = outcome["bad_rows"]
    assert "outside the export's" in bad["error"] and "1970-01-" in bad["error"]
    # Every day of that Plan is left as stored (here: not written); the other Plans landed.
    expected = expected_totals(mirrored.data)
    assert stored() == {k: v for k, v in expected.items() if k[0] != bad["plan"]}
    assert any(k[0] == bad["plan"] for k in expected)
    assert_counts_add_up(run)


@pytest.mark.parametrize("width", [-1, 1])
def test_a_row_with_the_wrong_number_of_fields_fails_alone(mirrored, width):
    mirrored.sim.add_fault("export_download", "csv_ragged_row", width=width)

    run = sync()

    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_count == 1
    outcome = run.outcomes[0]
    assert (outcome["rows"], outcome["rows_failed"]) == (80, 1)
    (bad,) = outcome["bad_rows"]
    assert "fields where the header has 8" in bad["error"]
    expected = expected_totals(mirrored.data)
    assert stored() == {k: v for k, v in expected.items() if k[0] != bad["plan"]}
    assert_counts_add_up(run)
    assert KpiExport.objects.get().state == KpiExport.State.DOWNLOADED


def test_counts_on_the_run_are_row_by_row(mirrored):
    mirrored.sim.add_fault("export_download", "csv_bad_row", value="n/a")
    mirrored.sim.add_fault("export_download", "csv_ragged_row")

    run = sync()

    assert run.status == SyncRun.Status.PARTIAL
    outcome = run.outcomes[0]
    assert (outcome["rows"], outcome["rows_summed"], outcome["rows_failed"]) == (80, 78, 2)
    assert run.failed_count == 2
    assert run.created_count == outcome["created"] == len(stored())
    assert_counts_add_up(run)


def test_every_stored_day_lies_in_the_window_asked_for(mirrored):
    # Sanity of the window rule with real data: every stored day is one the export asked for.
    sync()
    export = KpiExport.objects.get()
    assert all(export.start <= day < export.stop for _, day in stored())
    assert min(day for _, day in stored()) >= date(2000, 1, 1)


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"KHOROS_EXPORT_FIELD_PLAN": "plan"}, "KHOROS_EXPORT_FIELD_PLAN must be a whole number"),
        ({"KHOROS_EXPORT_FIELD_PUBLISHED": "0"}, "KHOROS_EXPORT_FIELD_PUBLISHED must be at least"),
        ({"KHOROS_EXPORT_FIELD_POST_ID": "101"}, "both name export field 101"),
        ({"KHOROS_EXPORT_FIELD_PLAN": "7", "KHOROS_EXPORT_FIELD_POST_ID": "7"}, "field 7"),
    ],
)
def test_malformed_export_field_settings_stop_the_start(environ, says):
    result = django_start(environ)
    assert result.returncode != 0
    assert says in result.stderr


def test_export_field_settings_are_read_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.KHOROS_EXPORT_FIELD_POST_ID, s.KHOROS_EXPORT_FIELD_PLAN, "
        "s.KHOROS_EXPORT_FIELD_PUBLISHED)"
    )
    result = django_start(
        {
            "KHOROS_EXPORT_FIELD_POST_ID": " 301 ",
            "KHOROS_EXPORT_FIELD_PLAN": "302",
            "KHOROS_EXPORT_FIELD_PUBLISHED": "303",
        },
        code,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["301", "302", "303"]


def test_a_history_read_before_the_placing_columns_were_asked_for_is_not_pulled_again(mirrored):
    sync()
    # As an export recorded before this change: metric field ids only.
    export = KpiExport.objects.get()
    export.field_ids = {k: v for k, v in export.field_ids.items() if k in kpis.KPI_NAMES}
    export.save(update_fields=["field_ids"])

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert [o["kind"] for o in run.outcomes] == ["trailing"]
