"""The SAP MC campaign sync against the simulator over real HTTP."""

from __future__ import annotations

from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Assignment
from khoros import services as khoros_services
from khoros.models import Plan
from sapmc.models import CampaignReference, ExternalCampaign
from sapmc.sync import sync_sapmc_campaigns
from simulators.sapmc_data import KHOROS_CATEGORY
from syncs.models import SyncRun
from tests.conftest import SAPMC_PASSWORD

pytestmark = pytest.mark.django_db


def mirrored() -> dict[str, tuple]:
    return {
        str(c.sap_uuid): (
            c.campaign_id,
            c.name,
            c.start,
            c.end,
            c.lifecycle_status,
            c.removed_at is None,
        )
        for c in ExternalCampaign.objects.all()
    }


def khoros_campaigns(data) -> list:
    return data.campaigns_of_category(KHOROS_CATEGORY)


def test_full_sync_mirrors_the_khoros_category_campaigns_and_their_references(live_sapmc):
    khoros_services.sync_khoros()

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    seeded = khoros_campaigns(live_sapmc.data)
    assert len(seeded) == 12  # 4 Initiatives x 3; the other category stays out
    assert run.created_count == 12
    assert {str(c.sap_uuid) for c in ExternalCampaign.objects.all()} == {c.uuid for c in seeded}
    row = ExternalCampaign.objects.get(sap_uuid=UUID(seeded[0].uuid))
    assert (row.campaign_id, row.name, row.start, row.end) == (
        seeded[0].campaign_id,
        seeded[0].name,
        seeded[0].start_date,
        seeded[0].end_date,
    )
    assert row.lifecycle_status_name  # SAP MC's own name of the code, not a constant of ours
    refs = [r for c in seeded for r in c.references]
    assert refs, "the seed links some campaigns to Plans"
    assert CampaignReference.objects.count() == len(refs)
    # Each reference resolves to the mirrored Plan whose UUID it carries without hyphens.
    for ref in CampaignReference.objects.select_related("plan"):
        assert ref.plan is not None and ref.plan.khoros_id.hex == ref.external_campaign_id
    assert run.progress_done == run.progress_total == 12
    assert run.http_requests >= 3  # five per page: several pages followed by __next


def test_second_sync_on_unchanged_data_writes_nothing(live_sapmc):
    sync_sapmc_campaigns()
    with CaptureQueriesContext(connection) as ctx:
        run = sync_sapmc_campaigns()
    assert (run.created_count, run.updated_count, run.unchanged_count, run.removed_count) == (
        0,
        0,
        12,
        0,
    )
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and ("campaigns_externalcampaign" in q["sql"] or "campaigns_campaignreference" in q["sql"])
    ]
    assert writes == []


def test_changed_campaign_and_references_are_updated(live_sapmc, live_khoros):
    khoros_services.sync_khoros()
    sync_sapmc_campaigns()
    target = khoros_campaigns(live_sapmc.data)[1]
    plan = live_khoros.data.plans[3]
    live_sapmc.sim.update_campaign(target.uuid, name="Renamed in SAP")
    live_sapmc.sim.set_references(target.uuid, [plan.id])

    run = sync_sapmc_campaigns()

    assert (run.updated_count, run.unchanged_count) == (1, 11)
    row = ExternalCampaign.objects.get(sap_uuid=UUID(target.uuid))
    assert row.name == "Renamed in SAP"
    assert [r.plan.khoros_id for r in row.sap_references.all()] == [UUID(plan.id)]


def test_vanished_campaign_is_kept_as_removed_with_its_assignments(live_sapmc, admin_user):
    khoros_services.sync_khoros()
    sync_sapmc_campaigns()
    gone = khoros_campaigns(live_sapmc.data)[0]
    campaign = ExternalCampaign.objects.get(sap_uuid=UUID(gone.uuid))
    plan = Plan.objects.first()
    Assignment.objects.create(plan=plan, campaign=campaign, assigned_at=plan.first_seen)
    live_sapmc.sim.remove_campaign(gone.uuid)

    run = sync_sapmc_campaigns()

    assert run.removed_count == 1
    campaign.refresh_from_db()
    assert campaign.removed_at is not None
    assert Assignment.objects.get(plan=plan).campaign == campaign
    assert ExternalCampaign.objects.count() == 12


def test_a_full_last_page_linking_to_an_empty_one_is_a_whole_listing(live_sapmc, settings):
    # SAP Gateway data providers set a $skiptoken whenever a page is full: a window that ends
    # on a page boundary links to an empty last page. The listing is whole all the same, so a
    # campaign gone from SAP MC is marked removed.
    settings.SAPMC_PAGE_SIZE = 10  # windows of 10 in server pages of 5: 5, 5 and an empty page
    sync_sapmc_campaigns()
    gone = khoros_campaigns(live_sapmc.data)[0]
    live_sapmc.sim.remove_campaign(gone.uuid)
    live_sapmc.sim.add_fault("campaigns", "next_on_full_page", count=None)

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.removed_count, run.unchanged_count) == (1, 11)
    assert ExternalCampaign.objects.get(sap_uuid=UUID(gone.uuid)).removed_at is not None
    pages = [e for e in live_sapmc.sim.requests if e["route"] == "campaigns"]
    assert any(e["fault"] == "next_on_full_page" for e in pages)


def test_campaigns_of_another_category_are_not_mirrored_when_sap_drops_the_filter(live_sapmc):
    # A __next link that lost $filter lists every category from its page on. The email
    # campaigns it brings are no Khoros campaigns: not mirrored, and the listing is not whole.
    sync_sapmc_campaigns()
    live_sapmc.sim.remove_campaign(khoros_campaigns(live_sapmc.data)[-1].uuid)
    live_sapmc.sim.add_fault("campaigns", "next_drops_filter", page=0)

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.PARTIAL
    assert "another category" in run.error
    assert run.created_count == 0 and run.removed_count == 0
    assert set(ExternalCampaign.objects.values_list("category", flat=True)) == {KHOROS_CATEGORY}
    assert ExternalCampaign.objects.filter(removed_at__isnull=False).count() == 0


FAULTS = [
    ("campaigns", "rate_limit", {"retry_after": 0}, 1, {"succeeded"}),
    ("campaigns", "rate_limit", {"retry_after": 0}, None, {"deferred"}),
    ("campaigns", "http_500", {"body": "json"}, 2, {"succeeded"}),
    ("campaigns", "http_503", {"body": "html"}, None, {"failed"}),
    ("campaigns", "slow_headers", {"seconds": 3}, 1, {"succeeded"}),
    ("campaigns", "connection_reset", {}, 1, {"succeeded"}),
    ("campaigns", "invalid_json", {}, None, {"failed"}),
    ("campaigns", "unauthorized", {}, 1, {"failed"}),
    # A __next that leaves SAPMC_BASE_URL is not trusted at all: the run fails.
    ("campaigns", "next_foreign_host", {}, None, {"failed"}),
    # Spec-true since issue 8: a listing with unread or repeated positions is partial.
    ("campaigns", "next_loop", {}, None, {"partial"}),
    ("campaigns", "missing_next", {}, None, {"partial"}),
    ("campaigns", "duplicates", {}, None, {"partial"}),
    ("campaigns", "empty_page", {}, None, {"partial"}),
    ("campaigns", "missing_count", {}, None, {"partial"}),
    ("campaigns", "date_offset_variant", {}, None, {"succeeded"}),
    ("campaigns", "guids_upper", {}, None, {"succeeded"}),
    ("campaigns", "extra_fields", {}, None, {"succeeded"}),
]


@pytest.mark.parametrize(
    ("route", "mode", "params", "count", "statuses"),
    FAULTS,
    ids=[f"{mode}-{count}" for _, mode, _, count, _ in FAULTS],
)
def test_fault_never_loses_mirrored_campaigns(live_sapmc, route, mode, params, count, statuses):
    khoros_services.sync_khoros()
    sync_sapmc_campaigns()
    before = mirrored()
    refs_before = set(
        CampaignReference.objects.values_list("campaign__sap_uuid", "external_campaign_id")
    )
    live_sapmc.sim.add_fault(route, mode, count=count, **params)

    run = sync_sapmc_campaigns()

    assert run.status in statuses, run.error
    if run.status != SyncRun.Status.SUCCEEDED:
        assert run.error
    assert SAPMC_PASSWORD not in run.error
    assert mirrored() == before
    assert (
        set(CampaignReference.objects.values_list("campaign__sap_uuid", "external_campaign_id"))
        == refs_before
    )


INCOMPLETE = [
    # mode, params, campaigns read, the problem the run's error names
    ("missing_next", {}, 5, "5 new of the 11 campaigns at $skip=0 (of 11) with no link"),
    ("empty_page", {"page": 1}, 6, "empty page inside the window at $skip=0"),
    ("duplicates", {}, 11, "SAP MC repeated campaigns at $skip=0"),
    ("missing_count", {}, 11, "SAP MC sent no __count at $skip=0"),
]


@pytest.mark.parametrize(("mode", "params", "read", "problem"), INCOMPLETE)
def test_an_incomplete_listing_marks_nothing_removed_and_ends_partial(
    live_sapmc, mode, params, read, problem
):
    khoros_services.sync_khoros()
    sync_sapmc_campaigns()
    gone = khoros_campaigns(live_sapmc.data)[-1]
    live_sapmc.sim.remove_campaign(gone.uuid)
    live_sapmc.sim.add_fault("campaigns", mode, count=None, **params)
    refs_before = CampaignReference.objects.count()

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.PARTIAL
    assert problem in run.error and "none marked removed" in run.error
    assert f"{read} campaigns read and stored" in run.error
    assert (run.created_count, run.updated_count, run.unchanged_count, run.removed_count) == (
        0,
        0,
        read,
        0,
    )
    assert run.progress_total == read
    assert ExternalCampaign.objects.filter(removed_at__isnull=False).count() == 0
    assert CampaignReference.objects.count() == refs_before
    [listing] = [o for o in run.outcomes if "listing" in o]
    assert (listing["listing"], listing["read"]) == ("incomplete", read)
    assert listing["sap_count"] == (None if mode == "missing_count" else 11)

    live_sapmc.sim.clear_faults()
    again = sync_sapmc_campaigns()
    assert (again.status, again.removed_count, again.unchanged_count) == ("succeeded", 1, 11)
    assert ExternalCampaign.objects.get(sap_uuid=UUID(gone.uuid)).removed_at is not None


def _sap_side_changes(live_sapmc) -> tuple[list, list]:
    """Mirror the 12 campaigns, then rename the second in SAP MC and remove the last there."""
    khoros_services.sync_khoros()
    sync_sapmc_campaigns()
    seeded = khoros_campaigns(live_sapmc.data)
    live_sapmc.sim.update_campaign(seeded[1].uuid, name="Renamed in SAP")
    live_sapmc.sim.remove_campaign(seeded[-1].uuid)
    return seeded, list(CampaignReference.objects.values_list("pk", flat=True))


def _assert_nothing_removed(seeded: list, refs_before: list) -> None:
    assert ExternalCampaign.objects.count() == 12
    assert ExternalCampaign.objects.filter(removed_at__isnull=False).count() == 0
    # Mirrored earlier, not on the pages read this time: still there, still not removed.
    for campaign in seeded[5:]:
        row = ExternalCampaign.objects.get(sap_uuid=UUID(campaign.uuid))
        assert row.removed_at is None and row.name == campaign.name
    assert sorted(CampaignReference.objects.values_list("pk", flat=True)) == sorted(refs_before)


def test_a_paging_loop_stores_the_pages_read_and_ends_partial(live_sapmc):
    # The simulator's first page (5 campaigns) links back to itself. Before, the loop threw away
    # the page read and the run failed with nothing stored.
    seeded, refs_before = _sap_side_changes(live_sapmc)
    live_sapmc.sim.add_fault("campaigns", "next_loop", count=None)

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.PARTIAL
    assert run.error == (
        "The SAP MC campaign listing was incomplete (a paging loop in the window at $skip=0: "
        "SAP MC's __next led back to a page already read ($skip=0); read 5 campaigns of the 11 "
        "SAP MC counted): 5 campaigns read and stored of the 11 SAP MC counted; none marked "
        "removed this run."
    )
    counts = (run.created_count, run.updated_count, run.unchanged_count, run.removed_count)
    assert counts == (0, 1, 4, 0)
    assert (run.progress_done, run.progress_total, run.failed_count) == (5, 5, 0)
    assert ExternalCampaign.objects.get(sap_uuid=UUID(seeded[1].uuid)).name == "Renamed in SAP"
    _assert_nothing_removed(seeded, refs_before)
    [listing] = [o for o in run.outcomes if "listing" in o]
    assert (listing["read"], listing["sap_count"], listing["duplicates"]) == (5, 11, 0)
    assert run.http_requests == 1  # the loop's link is never followed

    live_sapmc.sim.clear_faults()
    again = sync_sapmc_campaigns()
    assert (again.status, again.removed_count, again.unchanged_count) == ("succeeded", 1, 11)


@pytest.mark.parametrize("sapmc_seed", [{"campaigns_per_initiative": 1, "other_category": 4}])
def test_a_paging_loop_after_every_campaign_came_on_the_first_page_is_partial(live_sapmc):
    # All campaigns on one page, and its __next pointing back at it: everything counted was
    # read, but the listing never ended, so absence still proves nothing.
    khoros_services.sync_khoros()
    sync_sapmc_campaigns()
    seeded = khoros_campaigns(live_sapmc.data)
    assert len(seeded) == 4
    live_sapmc.sim.remove_campaign(seeded[0].uuid)
    live_sapmc.sim.add_fault("campaigns", "next_loop", count=None)

    run = sync_sapmc_campaigns()

    assert run.status == SyncRun.Status.PARTIAL
    assert run.error == (
        "The SAP MC campaign listing was incomplete (a paging loop in the window at $skip=0: "
        "SAP MC's __next led back to a page already read ($skip=0)): 3 campaigns read and "
        "stored of the 3 SAP MC counted; none marked removed this run."
    )
    counts = (run.created_count, run.updated_count, run.unchanged_count, run.removed_count)
    assert counts == (0, 0, 3, 0)
    assert ExternalCampaign.objects.filter(removed_at__isnull=False).count() == 0


STOPPED = [
    # mode, params, SAPMC_PAGE_SIZE, status, campaigns read, the error the problem names
    ("http_503", {"page": 1}, 100, "partial", 5, "SapmcUnavailableError: SAP MC failed (HTTP 503)"),
    ("truncated_json", {"page": 1}, 100, "partial", 5, "SapmcBadPayloadError: SAP MC answered"),
    ("connection_reset", {"page": 1}, 100, "partial", 5, "SapmcUnavailableError: "),
    # The second window ($skip=5) fails on its first page: the first window is kept.
    ("http_500", {"page": 1}, 5, "partial", 5, "SapmcUnavailableError: SAP MC failed (HTTP 500)"),
    ("http_502", {"page": 2}, 5, "partial", 10, "SapmcUnavailableError: SAP MC failed (HTTP 502)"),
    # As on a first page: a refused user fails the run, throttling defers it; both keep the
    # pages read before.
    ("unauthorized", {"page": 1}, 100, "failed", 5, "SapmcAuthError: SAP MC refused"),
    ("rate_limit", {"page": 1, "retry_after": 0}, 100, "deferred", 5, "SapmcRateLimitedError: "),
]


@pytest.mark.parametrize(("mode", "params", "page_size", "status", "read", "error"), STOPPED)
def test_a_page_failing_after_pages_were_read_stores_them_and_marks_nothing_removed(
    live_sapmc, settings, mode, params, page_size, status, read, error
):
    settings.SAPMC_PAGE_SIZE = page_size
    seeded, refs_before = _sap_side_changes(live_sapmc)
    live_sapmc.sim.add_fault("campaigns", mode, count=None, **params)

    run = sync_sapmc_campaigns()

    assert run.status == status
    token = "" if page_size == 5 else ", $skiptoken=5"
    skip = 0 if page_size == 100 else read
    assert run.error.startswith(
        "The SAP MC campaign listing was incomplete (reading stopped at "
        f"$skip={skip}{token} after {read} campaigns: {error}"
    )
    assert run.error.endswith(
        f"read {read} campaigns of the 11 SAP MC counted): {read} campaigns read and stored of "
        "the 11 SAP MC counted; none marked removed this run."
    )
    assert SAPMC_PASSWORD not in run.error
    counts = (run.created_count, run.updated_count, run.unchanged_count, run.removed_count)
    assert counts == (0, 1, read - 1, 0)
    assert ExternalCampaign.objects.get(sap_uuid=UUID(seeded[1].uuid)).name == "Renamed in SAP"
    _assert_nothing_removed(seeded, refs_before)


def test_wrong_password_is_a_clear_auth_error_without_the_password(live_sapmc, settings, caplog):
    settings.SAPMC_PASSWORD = "not-the-password-123"
    run = sync_sapmc_campaigns()
    assert run.status == SyncRun.Status.FAILED
    assert "SapmcAuthError" in run.error
    assert "not-the-password-123" not in run.error
    assert "not-the-password-123" not in caplog.text


def test_references_to_plans_not_yet_mirrored_resolve_on_a_later_sync(live_sapmc):
    sync_sapmc_campaigns()  # no Khoros sync yet: references cannot resolve
    assert CampaignReference.objects.filter(plan__isnull=False).count() == 0
    khoros_services.sync_khoros()

    run = sync_sapmc_campaigns()

    assert run.updated_count > 0
    assert CampaignReference.objects.filter(plan__isnull=True).count() == 0


def test_command_prints_a_summary_line(live_sapmc):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sync_sapmc", stdout=out)
    run = SyncRun.objects.get(kind=SyncRun.Kind.SAPMC_CAMPAIGNS)
    assert (
        f"Sync #{run.pk} succeeded: 12 created, 0 updated, 0 unchanged, 0 removed, 0 failed"
        in out.getvalue()
    )


@pytest.mark.django_db(transaction=True)
def test_button_queues_a_run_that_a_real_worker_executes(live_sapmc, admin_user):
    from syncs.runs import sync_request
    from tests.conftest import run_queued_tasks

    run, queued = sync_request(
        kind=SyncRun.Kind.SAPMC_CAMPAIGNS, trigger=SyncRun.Trigger.BUTTON, requested_by=admin_user
    )
    assert queued
    assert run_queued_tasks() == 1
    run.refresh_from_db()
    assert (run.status, run.created_count, run.trigger) == ("succeeded", 12, "button")


def test_two_references_naming_one_plan_are_both_mirrored_and_then_unchanged(
    live_sapmc, live_khoros
):
    # SAP MC keys a reference by its UUID alone: one campaign may reference a Plan twice (for
    # another advertiser, say). The mirror kept one of them, silently, and counted the campaign
    # "updated" on every sync after, as its two never matched the one stored.
    from dataclasses import replace

    khoros_services.sync_khoros()
    target = khoros_campaigns(live_sapmc.data)[1]
    plan = live_khoros.data.plans[3]
    first = live_sapmc.sim.set_references(target.uuid, [plan.id]).references[0]
    second = replace(
        first, external_campaign_uuid="9a0c1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", advertiser="390"
    )
    live_sapmc.sim.update_campaign(target.uuid, references=(first, second))

    sync_sapmc_campaigns()
    again = sync_sapmc_campaigns()

    row = ExternalCampaign.objects.get(sap_uuid=UUID(target.uuid))
    stored = sorted(row.sap_references.values_list("external_campaign_uuid", "advertiser", "plan"))
    plan_pk = Plan.objects.get(khoros_id=UUID(plan.id)).pk
    assert stored == sorted(
        [
            (first.external_campaign_uuid, first.advertiser, plan_pk),
            (second.external_campaign_uuid, "390", plan_pk),
        ]
    )
    assert (again.status, again.updated_count, again.unchanged_count) == ("succeeded", 0, 12)


def test_a_run_taken_over_while_listing_writes_nothing(live_sapmc, monkeypatch):
    from sapmc.client import SapmcClient

    list_campaigns = SapmcClient.list_campaigns

    def listed_then_taken_over(self, **kwargs):
        listing = list_campaigns(self, **kwargs)
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED, error="run #99 took over its lease"
        )
        return listing

    monkeypatch.setattr(SapmcClient, "list_campaigns", listed_then_taken_over)

    run = sync_sapmc_campaigns()

    assert ExternalCampaign.objects.count() == 0
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
