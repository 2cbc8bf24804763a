"""The SAP MC success push over real loopback HTTP against the simulator's Successes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import requests
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import Company, Plan, PlanKpi
from khoros.sync_kinds import KHOROS_KPIS
from sapmc.models import SuccessSent
from sapmc.push import push_successes
from sapmc.sync_kinds import SAPMC_SUCCESS_PUSH
from sapmc.timezones import sap_timezone_code
from simulators.sapmc import SapmcSimulator
from simulators.server import start_in_thread
from syncs.models import SyncRun
from syncs.runs import SyncRunner, run_finish
from syncs.wording import outcome_sentence
from tests.world import kpi_days_counted_in

pytestmark = pytest.mark.django_db

USER, PASSWORD = "comm-push", "push-secret-77aa"
# 2026-03-20 in Berlin: with 7 settle days, March 1..12 have settled, 13..19 wait.
NOW = datetime(2026, 3, 20, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    sim = SapmcSimulator(user=USER, password=PASSWORD)
    with start_in_thread(sim) as running:
        running.sim = sim
        yield running


@pytest.fixture
def sim(server, settings, world):
    server.sim.reset()
    settings.SAPMC_BASE_URL = server.base_url
    settings.SAPMC_USER, settings.SAPMC_PASSWORD = USER, PASSWORD
    settings.SAPMC_MAX_RETRIES = 1
    settings.SAPMC_BACKOFF_BASE = settings.SAPMC_BACKOFF_CAP = 0.0
    settings.SAPMC_SUCCESS_BATCH_SIZE = 4
    settings.SAPMC_SUCCESS_PUSH_ENABLED = True
    settings.SAPMC_SUCCESS_SETTLE_DAYS = 7
    settings.SAPMC_SUCCESS_TIMEZONE_CODE = ""
    settings.KHOROS_COMPANY_TIMEZONE = "Europe/Berlin"
    settings.KHOROS_COMPANY_ID = "389"
    Company.objects.create(khoros_id="389", name="Acme", last_seen=timezone.now())
    with time_machine.travel(NOW, tick=False):
        yield server.sim


def readback(sim_server) -> list[dict]:
    return requests.get(f"{sim_server.base_url}/_sim/successes", timeout=5).json()["successes"]


def kpis(plan, first: date, days: int, base: int = 100) -> None:
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=first + timedelta(days=i), impressions=base + i, engagements=7,
                clicks=3 + i, reach=50 + i, video_views=2, posts=1, updated_at=timezone.now())
        for i in range(days)
    )  # fmt: skip


def assign(plan, campaign) -> Assignment:
    return Assignment.objects.create(plan=plan, campaign=campaign, assigned_at=timezone.now())


def test_full_push_sends_every_settled_day_once_with_every_property(server, sim, world):
    plan, spring = world.plans[0], world.campaigns[0]
    kpis(plan, date(2026, 3, 1), 15)  # March 1..15: 12 settled, 3 waiting
    assign(plan, spring)

    run = push_successes()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.created_count, run.failed_count, run.unchanged_count) == (12, 0, 0)
    assert run.outcomes[0]["waiting_to_settle"] == 3
    rows = readback(server)
    assert len(rows) == 12
    by_day = {r["SuccessDataDate"]: r for r in rows}
    first = by_day["/Date(1772323200000)/"]  # 2026-03-01 00:00 UTC
    assert first["CampaignUUID"] == str(spring.sap_uuid)
    assert first["CampaignID"] == spring.campaign_id
    assert first["ExternalCampaignID"] == plan.khoros_id.hex
    assert first["ExternalCampaignName"] == "Spring Sale social"
    assert (first["Advertiser"], first["AdvertiserName"]) == ("389", "Acme")
    assert (first["ExternalCmpgnManagingParty"], first["ExternalCmpgnManagingPartyName"]) == (
        "1700", "Brand 0",
    )  # fmt: skip
    assert first["SuccessDataDateTimeZone"] == "CET"
    assert (first["YearWeek"], first["YearMonth"]) == ("202609", "202603")
    assert first["CommunicationMedium"] == "SOCIAL"
    assert (first["NumberOfImpressions"], first["NumberOfClicks"]) == ("100", "3")
    assert (first["NumberOfPostEngagements"], first["NumberOfVideoViews"]) == ("7", "2")
    assert first["CampaignReach"] == "50"  # that day's reach, never a sum
    twelfth = by_day["/Date(1773273600000)/"]  # 2026-03-12
    assert (twelfth["YearWeek"], twelfth["CampaignReach"]) == ("202611", "61")
    assert SuccessSent.objects.filter(status=SuccessSent.Status.CREATED).count() == 12
    assert {r["CampaignSuccessUUID"] for r in rows} == set(
        SuccessSent.objects.values_list("success_uuid", flat=True)
    )

    again = push_successes()
    assert again.status == SyncRun.Status.SUCCEEDED
    assert (again.created_count, again.unchanged_count) == (0, 12)
    assert len(readback(server)) == 12  # a second push sends nothing


def test_an_emoji_heavy_plan_name_is_cut_to_sap_s_length_and_created(server, sim, world):
    # SAP counts MaxLength in UTF-16 units: 255 emoji are 510 units, twice what
    # ExternalCampaignName holds. Cut to 255 characters, every row was refused.
    plan = world.plans[0]
    plan.name = "\U0001f389" * 200 + "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 11  # 255
    plan.save(update_fields=["name"])
    plan.initiative.name = "\U0001f680" * 255
    plan.initiative.save(update_fields=["name"])
    kpis(plan, date(2026, 3, 1), 2)
    assign(plan, world.campaigns[0])

    run = push_successes()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.created_count, run.failed_count) == (2, 0)
    rows = readback(server)
    assert len(rows) == 2
    for row in rows:
        # 127 whole emoji: 254 units, never half of the 128th.
        assert row["ExternalCampaignName"] == "\U0001f389" * 127
        assert row["ExternalCmpgnManagingPartyName"] == "\U0001f680" * 127


def test_days_counted_in_the_companys_old_zone_are_not_sent_as_days_of_the_new_one(
    server, sim, world, client
):
    # The company moved from Chicago to Berlin (KHOROS_COMPANY_TIMEZONE here): March 1..5 were
    # counted by a KPI export in Chicago before the change, March 6..8 in Berlin after it. A
    # Chicago day is not the Berlin day of the same date; sent with the Berlin code, SAP MC
    # would file it under the wrong day.
    plan = world.plans[0]
    kpi_days_counted_in("America/Chicago", plan, date(2026, 3, 1), 5)
    kpi_days_counted_in("Europe/Berlin", plan, date(2026, 3, 6), 3, base=200)
    assign(plan, world.campaigns[0])

    run = push_successes()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.created_count, run.failed_count) == (3, 0)
    assert run.outcomes[0]["other_zone"] == 5
    assert sorted(r["NumberOfImpressions"] for r in readback(server)) == ["200", "201", "202"]
    assert not SuccessSent.objects.filter(day__lt=date(2026, 3, 6)).exists()
    client.force_login(world.admin)
    page = client.get(f"/syncs/{run.pk}/").content.decode()
    assert (
        "5 counted in another time zone than Europe/Berlin (not sent until the KPI sync "
        "counts them again)"
    ) in page

    # The KPI sync pulls the history again in Berlin: the same numbers, now Berlin's days.
    kpi_days_counted_in("Europe/Berlin", plan, date(2026, 3, 1), 5)
    again = push_successes()
    assert (again.created_count, again.outcomes[0]["other_zone"]) == (5, 0)
    assert len(readback(server)) == 8


def test_days_settle_and_go_on_a_later_run(server, sim, world):
    kpis(world.plans[0], date(2026, 3, 1), 15)
    assign(world.plans[0], world.campaigns[0])
    push_successes()
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        later = push_successes()
    assert later.created_count == 2  # March 13 and 14
    assert len(readback(server)) == 14


def test_a_plan_removed_in_khoros_sends_no_more_days_and_says_how_many(server, sim, world):
    # Khoros removed the Plan before its last days settled: they were never counted again, so
    # they are not sent (the policy), and each later run says so; runs "succeeded".
    plan = world.plans[0]
    kpis(plan, date(2026, 3, 1), 15)
    assign(plan, world.campaigns[0])
    assert push_successes().created_count == 12
    Plan.objects.filter(pk=plan.pk).update(removed_at=NOW)
    with time_machine.travel(NOW + timedelta(days=10), tick=False):
        later = push_successes()
    assert later.status == SyncRun.Status.SUCCEEDED, later.error
    assert (later.created_count, later.unchanged_count) == (0, 12)
    assert later.outcomes[0]["removed_plan"] == 3
    assert len(readback(server)) == 12
    assert "3 of Plans removed in Khoros before they settled (never sent)" in outcome_sentence(
        later.outcomes[0]
    )


def test_a_removed_plan_still_sends_the_days_that_had_settled_when_it_was_removed(
    server, sim, world, client
):
    # Removed before any push: March 1..12 had settled by the removal (final numbers), so they
    # go; 13..15 had not, so never. Removed at 23:30 UTC on the 19th, the 20th in Berlin: in
    # UTC's days March 12 would not have settled yet.
    plan, spring = world.plans[0], world.campaigns[0]
    kpis(plan, date(2026, 3, 1), 15)
    assign(plan, spring)
    Plan.objects.filter(pk=plan.pk).update(removed_at=datetime(2026, 3, 19, 23, 30, tzinfo=UTC))

    client.force_login(world.admin)
    page = client.get(f"/campaigns/{spring.pk}/").content.decode()
    waiting = pushes_of(client, spring).waiting
    assert [(w.settled, w.unsettled, w.never) for w in waiting] == [(12, 0, 3)]
    assert "Never sent: the days of a Plan removed in Khoros that had not settled" in page

    with time_machine.travel(NOW + timedelta(days=10), tick=False):
        run = push_successes()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.created_count, run.outcomes[0]["removed_plan"]) == (12, 3)
    assert max(r["SuccessDataDate"] for r in readback(server)) == "/Date(1773273600000)/"  # 12th
    waiting = pushes_of(client, spring).waiting
    assert [(w.settled, w.unsettled, w.never) for w in waiting] == [(0, 0, 3)]


def pushes_of(client, campaign):
    return client.get(f"/campaigns/{campaign.pk}/").context["pushes"]


def test_a_moved_plan_keeps_what_was_sent_and_sends_new_days_to_the_new_campaign(
    server, sim, world
):
    plan, spring, summer = world.plans[0], world.campaigns[0], world.campaigns[1]
    kpis(plan, date(2026, 3, 1), 5)
    assignment = assign(plan, spring)
    push_successes()
    assignment.campaign = summer
    assignment.save()
    kpis(plan, date(2026, 3, 6), 3, base=900)

    run = push_successes()

    assert (run.created_count, run.unchanged_count) == (3, 5)
    rows = readback(server)
    assert len(rows) == 8
    assert sum(r["CampaignUUID"] == str(spring.sap_uuid) for r in rows) == 5
    assert sum(r["CampaignUUID"] == str(summer.sap_uuid) for r in rows) == 3
    assert SuccessSent.objects.filter(campaign=spring).count() == 5
    assignment.delete()  # unassigned: nothing more goes anywhere, the ledger stays
    kpis(plan, date(2026, 3, 9), 1)
    assert push_successes().created_count == 0
    assert SuccessSent.objects.count() == 8


def test_a_day_corrected_in_khoros_after_sending_is_not_sent_again(server, sim, world):
    plan = world.plans[0]
    kpis(plan, date(2026, 3, 1), 3)
    assign(plan, world.campaigns[0])
    push_successes()
    PlanKpi.objects.filter(plan=plan, day=date(2026, 3, 2)).update(impressions=5000)

    run = push_successes()

    assert run.created_count == 0
    assert run.outcomes[0]["changed_after_sending"] == 1
    assert len(readback(server)) == 3
    sent = SuccessSent.objects.get(day=date(2026, 3, 2))
    assert sent.numbers["impressions"] == 101  # what SAP MC holds


def _one_row_refused(world, sim, prop: str):
    """Two Plans of a day each on one campaign; SAP MC refuses the second's row, naming `prop`."""
    good, bad = world.plans[0], world.plans[2]
    for plan in (good, bad):
        kpis(plan, date(2026, 3, 1), 1)
        assign(plan, world.campaigns[0])
    sim.add_fault(
        "success_batch", "refuse_row", external_campaign_id=bad.khoros_id.hex,
        property=prop, message="Campaign is locked",
    )  # fmt: skip
    return good, bad


def test_sap_refusing_one_row_records_it_and_the_next_run_retries_it(server, sim, world):
    good, bad = _one_row_refused(world, sim, "CampaignID")

    run = push_successes()

    assert run.status == SyncRun.Status.PARTIAL
    assert (run.created_count, run.failed_count) == (1, 1)
    refused = SuccessSent.objects.get(plan=bad)
    assert refused.status == SuccessSent.Status.REFUSED
    assert (refused.field, refused.message) == ("CampaignID", "Campaign is locked")
    assert [r["ExternalCampaignID"] for r in readback(server)] == [good.khoros_id.hex]

    retry = push_successes()
    assert (retry.status, retry.created_count, retry.unchanged_count) == ("succeeded", 1, 1)
    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == (SuccessSent.Status.CREATED, 2)
    assert len(readback(server)) == 2


def test_a_refusal_naming_its_property_in_odd_text_is_recorded_with_the_rows_created(
    server, sim, world
):
    # The property SAP MC names is its text: a NUL in it (which PostgreSQL refuses) made the
    # ledger's write fail after SAP MC had created the batch's other rows, and the run ended
    # with them unrecorded.
    good, bad = _one_row_refused(world, sim, "Campaign\x00ID")

    run = push_successes()

    assert run.status == SyncRun.Status.PARTIAL, run.error
    assert (run.created_count, run.failed_count) == (1, 1)
    assert SuccessSent.objects.get(plan=good).status == SuccessSent.Status.CREATED
    refused = SuccessSent.objects.get(plan=bad)
    assert (refused.status, refused.field) == (SuccessSent.Status.REFUSED, "CampaignID")
    sim.clear_faults()
    assert push_successes().created_count == 1
    assert len(readback(server)) == 2


def test_sap_unreachable_mid_push_fails_cleanly_and_the_next_run_resumes(server, sim, world):
    kpis(world.plans[0], date(2026, 3, 1), 10)  # 10 rows: batches of 4, 4, 2
    assign(world.plans[0], world.campaigns[0])

    def after_first_batch(run: SyncRun) -> None:
        if run.progress_done == 4:
            sim.add_fault("success_batch", "http_503", count=None)

    run = push_successes(on_progress=after_first_batch)

    assert run.status == SyncRun.Status.FAILED
    assert "stopped after 4 rows created" in run.error
    assert SuccessSent.objects.count() == 4 and len(readback(server)) == 4
    sim.clear_faults()
    resumed = push_successes()
    assert (resumed.status, resumed.created_count, resumed.unchanged_count) == ("succeeded", 6, 4)
    rows = readback(server)
    assert len(rows) == 10
    assert len({(r["ExternalCampaignID"], r["SuccessDataDate"]) for r in rows}) == 10


@pytest.mark.parametrize("mode", ["http_500", "http_520", "http_524"])
def test_an_ambiguous_failure_is_recorded_unknown_and_never_sent_blindly(server, sim, world, mode):
    # 500: SAP MC failed while acting; 520 and 524: a CDN lost the answer of a request the
    # origin may have taken up. Either way the rows may exist in SAP MC.
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_batch", mode, body="html")
    run = push_successes()
    assert f"(HTTP {mode[5:]})" in run.error  # the status SAP MC's side answered
    assert run.status == SyncRun.Status.FAILED
    assert SuccessSent.objects.filter(status=SuccessSent.Status.UNKNOWN).count() == 2
    again = push_successes()
    assert again.created_count == 0 and again.outcomes[0]["outcome_unknown"] == 2
    assert readback(server) == []


def test_push_off_by_setting_is_skipped(server, sim, world, settings):
    settings.SAPMC_SUCCESS_PUSH_ENABLED = False
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    run = push_successes()
    assert run.status == SyncRun.Status.SKIPPED and "SAPMC_SUCCESS_PUSH_ENABLED" in run.error
    assert readback(server) == []


def test_unknown_zone_names_the_setting(server, sim, world, settings):
    settings.KHOROS_COMPANY_TIMEZONE = "Asia/Kathmandu"
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    run = push_successes()
    assert run.status == SyncRun.Status.FAILED and "SAPMC_SUCCESS_TIMEZONE_CODE" in run.error
    settings.SAPMC_SUCCESS_TIMEZONE_CODE = "NEPAL"
    assert push_successes().created_count == 2
    assert {r["SuccessDataDateTimeZone"] for r in readback(server)} == {"NEPAL"}


def test_timezone_codes(settings):
    settings.SAPMC_SUCCESS_TIMEZONE_CODE = ""
    assert sap_timezone_code("America/New_York") == "EST"
    assert sap_timezone_code("Australia/Sydney") == "AUSNSW"
    assert sap_timezone_code("UTC") == "UTC"
    with pytest.raises(ImproperlyConfigured, match="SAPMC_SUCCESS_TIMEZONE_CODE"):
        sap_timezone_code("Pacific/Chatham")
    settings.SAPMC_SUCCESS_TIMEZONE_CODE = "TOOLONGX"
    with pytest.raises(ImproperlyConfigured):
        sap_timezone_code("UTC")


def test_a_successful_kpi_sync_queues_the_push(sim, settings):
    def ok(run, client):
        return run_finish(run, SyncRun.Status.SUCCEEDED)

    def failed(run, client):
        return run_finish(run, SyncRun.Status.FAILED, "boom")

    SyncRunner(KHOROS_KPIS).run(work=failed, client=object())
    assert not SyncRun.objects.filter(kind=SAPMC_SUCCESS_PUSH).exists()
    SyncRunner(KHOROS_KPIS).run(work=ok, client=object())
    queued = SyncRun.objects.get(kind=SAPMC_SUCCESS_PUSH)
    assert (queued.status, queued.trigger) == (SyncRun.Status.QUEUED, SyncRun.Trigger.FOLLOW_UP)
    SyncRunner(KHOROS_KPIS).run(work=ok, client=object())  # one pending push is enough
    assert SyncRun.objects.filter(kind=SAPMC_SUCCESS_PUSH).count() == 1
    settings.SAPMC_SUCCESS_PUSH_ENABLED = False
    SyncRun.objects.filter(kind=SAPMC_SUCCESS_PUSH).delete()
    SyncRunner(KHOROS_KPIS).run(work=ok, client=object())
    assert not SyncRun.objects.filter(kind=SAPMC_SUCCESS_PUSH).exists()


def test_a_push_whose_schedule_is_off_does_not_follow_the_kpi_sync(sim):
    # Paused on the Schedules page (say, while rows of unknown outcome wait): it runs only by
    # hand, as its header says, not after every KPI sync.
    from django.core.management import call_command
    from django_q.models import Schedule

    from syncs.schedules import declared_schedules

    def ok(run, client):
        return run_finish(run, SyncRun.Status.SUCCEEDED)

    call_command("setup_schedules", stdout=StringIO())
    name = next(s.name for s in declared_schedules() if s.kind == SAPMC_SUCCESS_PUSH)
    Schedule.objects.filter(name=name).update(repeats=0)
    SyncRunner(KHOROS_KPIS).run(work=ok, client=object())
    assert not SyncRun.objects.filter(kind=SAPMC_SUCCESS_PUSH).exists()
    Schedule.objects.filter(name=name).update(repeats=-1)  # on again: it follows
    SyncRunner(KHOROS_KPIS).run(work=ok, client=object())
    assert SyncRun.objects.get(kind=SAPMC_SUCCESS_PUSH).trigger == SyncRun.Trigger.FOLLOW_UP


def _page_queries(client, url) -> tuple[int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_campaign_page_shows_the_round_trip_with_a_fixed_query_count(server, sim, world, client):
    from django.urls import reverse

    spring, summer = world.campaigns[0], world.campaigns[1]
    moved, refused, waiting = world.plans[0], world.plans[2], world.plans[1]
    kpis(moved, date(2026, 3, 1), 3)
    kpis(refused, date(2026, 3, 1), 1)
    kpis(waiting, date(2026, 3, 15), 2)  # not settled yet
    assignment = assign(moved, spring)
    assign(refused, spring)
    assign(waiting, spring)
    sim.add_fault("success_batch", "refuse_row", external_campaign_id=refused.khoros_id.hex,
                  property="CampaignID", message="Campaign is locked")  # fmt: skip
    run = push_successes()
    assert (run.created_count, run.failed_count) == (3, 1)
    PlanKpi.objects.filter(plan=moved, day=date(2026, 3, 2)).update(clicks=999)
    assignment.campaign = summer
    assignment.save()
    client.force_login(world.admin)
    url = reverse("campaign", args=[spring.pk])

    queries, body = _page_queries(client, url)

    assert "Sent to SAP MC" in body and "Spring Sale social" in body
    assert "2026-03-01 – 2026-03-03" in body
    assert f'href="/syncs/{run.pk}/"' in body
    assert "moved away since" in body
    assert 'changed after sending: <time datetime="2026-03-02">2026-03-02</time>' in body
    assert "Campaign is locked" in body and "CampaignID" in body
    assert "Summer teaser" in body  # waiting to settle
    assert "Push every campaign now" in body and "not only this one's" in body
    # More Plans, days and ledger rows: the same number of queries.
    for plan in world.plans[3:5]:
        kpis(plan, date(2026, 3, 1), 4)
        assign(plan, spring)
    push_successes()
    more_queries, body = _page_queries(client, url)
    assert "Winter launch" in body
    assert more_queries == queries


def test_push_now_queues_the_push_for_sync_admins_only(sim, world, client):
    from django.urls import reverse

    url = reverse("sync-now", args=[SAPMC_SUCCESS_PUSH])
    page = reverse("campaign", args=[world.campaigns[0].pk])
    client.force_login(world.maria)
    assert client.post(url, {"next": page}).status_code == 403
    assert "Push every campaign now" not in client.get(page).content.decode()
    client.force_login(world.admin)
    response = client.post(url, {"next": page})
    assert response.status_code == 302 and response.url == page
    assert SyncRun.objects.get(kind=SAPMC_SUCCESS_PUSH).trigger == SyncRun.Trigger.BUTTON
    assert client.post(url, {"next": "https://evil.example/"}).url == "/"


def test_health_counts_the_push_only_when_it_is_on(settings):
    from syncs.health import sync_freshness

    settings.SAPMC_SUCCESS_PUSH_ENABLED = False
    assert SAPMC_SUCCESS_PUSH not in {k.kind for k in sync_freshness()}
    settings.SAPMC_SUCCESS_PUSH_ENABLED = True
    push = next(k for k in sync_freshness() if k.kind == SAPMC_SUCCESS_PUSH)
    assert not push.ok  # never succeeded: stale
    SyncRun.objects.create(kind=SAPMC_SUCCESS_PUSH, trigger="schedule", status="succeeded",
                           finished_at=timezone.now())  # fmt: skip
    push = next(k for k in sync_freshness() if k.kind == SAPMC_SUCCESS_PUSH)
    assert push.ok and push.label == "SAP MC success push"


def test_a_real_kpi_sync_queues_the_push_and_the_worker_sends_the_rows(
    live_khoros, live_sapmc, settings, django_capture_on_commit_callbacks
):
    from django_q.brokers import get_broker

    from khoros import kpis as khoros_kpis
    from khoros import services as khoros_services
    from khoros.models import Plan
    from sapmc.models import ExternalCampaign
    from sapmc.sync import sync_sapmc_campaigns
    from syncs.tasks import sync_task

    settings.SAPMC_SUCCESS_PUSH_ENABLED = True
    settings.KHOROS_COMPANY_TIMEZONE = "UTC"
    settings.KHOROS_EXPORT_POLL_BASE = 0.05
    assert khoros_services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    assert sync_sapmc_campaigns().status == SyncRun.Status.SUCCEEDED
    plan = Plan.objects.order_by("start").first()
    assign(plan, ExternalCampaign.objects.order_by("pk").first())
    with django_capture_on_commit_callbacks(execute=True):
        kpi_run = khoros_kpis.sync_khoros_kpis()
    assert kpi_run.status == SyncRun.Status.SUCCEEDED, kpi_run.error

    queued = SyncRun.objects.get(kind=SAPMC_SUCCESS_PUSH)
    assert queued.status == SyncRun.Status.QUEUED
    broker = get_broker()
    assert broker.queue_size() == 1  # the push's task, queued by the KPI run's success
    assert sync_task(SAPMC_SUCCESS_PUSH, queued.pk) == f"run #{queued.pk} succeeded"
    broker.purge_queue()
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED, queued.error
    settled = PlanKpi.objects.filter(
        plan=plan,
        day__lt=timezone.now().date() - timedelta(days=settings.SAPMC_SUCCESS_SETTLE_DAYS),
    ).count()
    assert queued.created_count == settled == len(live_sapmc.sim.successes)
    assert settled > 0


def test_the_dashboard_offers_sync_now_for_the_push(world, client):
    client.force_login(world.admin)
    body = client.get("/").content.decode()
    assert "Sync SAP MC success push now" in body
    assert f'action="/sync/{SAPMC_SUCCESS_PUSH}/"' in body


def test_the_run_page_shows_the_push_counts(server, sim, world, client):
    kpis(world.plans[0], date(2026, 3, 1), 14)  # 12 settled, 2 waiting
    assign(world.plans[0], world.campaigns[0])
    run = push_successes()
    client.force_login(world.admin)
    response = client.get(f"/syncs/{run.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "SAP MC success push" in body
    # In words, not the outcome's keys: 12 settled days to send, 2 waiting to settle.
    assert "12 Plan-days to send, 2 waiting to settle" in body
    assert "waiting_to_settle" not in body


def test_a_connection_reset_after_sending_leaves_the_batch_unknown_not_sent_again(
    server, sim, world
):
    # The request left, the answer never came: SAP MC may hold the rows, so none goes again.
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_batch", "connection_reset")
    run = push_successes()
    assert run.status == SyncRun.Status.FAILED
    assert SuccessSent.objects.filter(status=SuccessSent.Status.UNKNOWN).count() == 2
    before = len(readback(server))
    assert push_successes().created_count == 0
    assert len(readback(server)) == before


def test_a_read_timeout_leaves_the_batch_unknown_not_sent_again(server, sim, world, settings):
    settings.SAPMC_TIMEOUT_READ = 0.3
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_batch", "slow_headers", seconds=1.0)
    run = push_successes()
    assert run.status == SyncRun.Status.FAILED and "ReadTimeout" in run.error
    assert SuccessSent.objects.filter(status=SuccessSent.Status.UNKNOWN).count() == 2
    before = len(readback(server))
    assert push_successes().created_count == 0
    assert len(readback(server)) == before  # whatever SAP MC kept, nothing was sent twice


def _unknown_rows(server, sim, world) -> list[SuccessSent]:
    """Two days whose batch SAP MC answered 500: it may or may not hold them."""
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_batch", "http_500")
    assert push_successes().status == SyncRun.Status.FAILED
    return list(SuccessSent.objects.order_by("day"))


def test_a_sync_admin_settles_unknown_rows_and_the_next_push_follows(server, sim, world, client):
    from django.urls import reverse

    from campaigns.models import AuditEvent

    first, second = _unknown_rows(server, sim, world)
    page = reverse("campaign", args=[world.campaigns[0].pk])
    client.force_login(world.admin)
    body = client.get(page).content.decode()
    # A pair of buttons per row, and one for both rows at once.
    assert body.count('value="arrived"') == 3 and body.count('value="resend"') == 3

    # An admin found the first day in SAP MC and not the second.
    arrived = client.post(
        reverse("push-resolve", args=[world.campaigns[0].pk, first.pk]), {"resolution": "arrived"}
    )
    assert arrived.status_code == 302 and arrived.url == page + "#sap-pushes"
    resend = client.post(
        reverse("push-resolve", args=[world.campaigns[0].pk, second.pk]), {"resolution": "resend"}
    )
    assert resend.status_code == 302
    first.refresh_from_db()
    assert first.status == SuccessSent.Status.CREATED
    assert not SuccessSent.objects.filter(pk=second.pk).exists()

    # The next push sends the second day only, once; the first is never sent again.
    run = push_successes()
    assert (run.status, run.created_count) == (SyncRun.Status.SUCCEEDED, 1)
    midnight = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
    assert [r["SuccessDataDate"] for r in readback(server)] == [f"/Date({midnight})/"]
    assert set(SuccessSent.objects.values_list("status", flat=True)) == {"created"}

    # One audit row per change, naming the day, the Plan and what was found.
    events = list(AuditEvent.objects.filter(action=AuditEvent.Action.PUSH_RESOLVE).order_by("id"))
    assert [e.after["status"] for e in events] == ["created", "due again"]
    assert [e.before["day"] for e in events] == ["2026-03-01", "2026-03-02"]
    assert all(e.actor == world.admin and e.campaign == world.campaigns[0] for e in events)
    followed = client.get(page).content.decode()
    assert 'value="arrived"' not in followed
    audit = client.get("/audit/").content.decode()
    assert "Marked 2026-03-01 of “Spring Sale social” as in SAP MC" in audit
    assert "Success push outcome settled" in audit


def test_settling_twice_changes_once_and_says_so(server, sim, world, client):
    from django.urls import reverse

    from campaigns.models import AuditEvent

    first, second = _unknown_rows(server, sim, world)
    client.force_login(world.admin)
    url = reverse("push-resolve", args=[world.campaigns[0].pk, first.pk])
    client.post(url, {"resolution": "arrived"})
    again = client.post(url, {"resolution": "resend"}, follow=True)  # a second window, stale
    assert "settled meanwhile" in again.content.decode()
    first.refresh_from_db()
    assert first.status == SuccessSent.Status.CREATED
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PUSH_RESOLVE).count() == 1

    # After "Send again" the row is gone: the stale window is told so, on the campaign's page.
    url = reverse("push-resolve", args=[world.campaigns[0].pk, second.pk])
    client.post(url, {"resolution": "resend"})
    late = client.post(url, {"resolution": "arrived"})
    assert late.status_code == 302 and late.url.endswith("#sap-pushes")
    assert "settled meanwhile" in client.get(late.url).content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PUSH_RESOLVE).count() == 2


def test_only_sync_admins_settle_and_bad_input_is_a_clear_error(server, sim, world, client):
    from django.urls import reverse

    from campaigns.models import AuditEvent

    first, _ = _unknown_rows(server, sim, world)
    url = reverse("push-resolve", args=[world.campaigns[0].pk, first.pk])
    page = reverse("campaign", args=[world.campaigns[0].pk])
    client.force_login(world.maria)
    assert client.post(url, {"resolution": "arrived"}).status_code == 403
    assert 'value="arrived"' not in client.get(page).content.decode()
    client.force_login(world.admin)
    assert client.get(url).status_code == 405
    bad = client.post(url, {"resolution": "maybe"})
    assert bad.status_code == 400 and "in SAP MC" in bad.content.decode()
    missing = reverse("push-resolve", args=[10**9, first.pk])
    assert client.post(missing, {"resolution": "arrived"}).status_code == 404
    # Another campaign's page cannot settle this campaign's row.
    elsewhere = reverse("push-resolve", args=[world.campaigns[1].pk, first.pk])
    assert client.post(elsewhere, {"resolution": "arrived"}).status_code == 302
    first.refresh_from_db()
    assert first.status == SuccessSent.Status.UNKNOWN
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PUSH_RESOLVE).exists()


def test_the_run_page_says_a_batch_of_unknown_outcome_waits_to_be_settled_and_where(
    server, sim, world, client, settings
):
    # A batch of 19 answered HTTP 500: SAP MC may hold all of them, and nothing resends them.
    settings.SAPMC_SUCCESS_BATCH_SIZE = 50
    kpis(world.plans[0], date(2026, 2, 22), 19)
    spring = world.campaigns[0]
    assign(world.plans[0], spring)
    sim.add_fault("success_batch", "http_500", count=None)
    run = push_successes()

    assert run.status == SyncRun.Status.FAILED
    # Not "failed": failed rows go again next run, these wait until a sync admin settles them.
    assert (run.created_count, run.failed_count, run.progress_done) == (0, 0, 19)
    assert run.outcomes[1] == {
        "batch": 1, "created": 0, "refused": 0, "unknown": 19, "status": "failed",
        "campaigns": [{"id": spring.pk, "name": spring.name, "rows": 19}],
    }  # fmt: skip
    assert run.error.endswith(
        "19 rows of batch 1 of unknown outcome (SAP MC may have created them): not sent again "
        f"until a sync admin settles them on the campaign page ({spring.name})."
    )
    client.force_login(world.admin)
    body = client.get(f"/syncs/{run.pk}/").content.decode()
    assert "Failed: all 19 tried, see the error and outcomes" in body
    assert "0 created, 0 updated, 0 unchanged, 0 removed, 0 failed, 19 of unknown outcome" in body
    assert (
        "0 rows created in SAP MC, 19 of unknown outcome (not sent again until settled), "
        "1 batch failed." in body
    )
    assert (
        "19 rows of unknown outcome: SAP MC may have created them; not sent again until a sync "
        f"admin settles them on the campaign page ({spring.name})." in body
    )
    assert (
        f'<li><a href="/campaigns/{spring.pk}/#sap-pushes">{spring.name}</a>: 19 rows</li>' in body
    )
    assert "Outcome unknown" in body
    sim.clear_faults()
    assert push_successes().outcomes[0]["outcome_unknown"] == 19
    assert readback(server) == []


@pytest.mark.parametrize(
    ("mode", "params"),
    [("http_502", {"body": "html"}), ("http_504", {"body": "html"}), ("http_500", {})],
)
def test_a_token_fetch_that_fails_sends_nothing_and_leaves_no_row_unknown(
    server, sim, world, mode, params
):
    # The CSRF token is fetched with a GET before the first $batch: when a proxy answers it
    # with an error page, no row has left, so none is of unknown outcome.
    kpis(world.plans[0], date(2026, 3, 1), 2)
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_service", mode, count=None, **params)
    run = push_successes()
    assert run.status == SyncRun.Status.FAILED
    assert "unknown outcome" not in run.error
    assert SuccessSent.objects.count() == 0
    assert [e["route"] for e in sim.requests if e["route"] == "success_batch"] == []
    sim.clear_faults()
    again = push_successes()
    assert (again.status, again.created_count) == (SyncRun.Status.SUCCEEDED, 2)
    assert len(readback(server)) == 2


def test_a_token_fetched_again_after_expiry_that_fails_leaves_the_batch_unsent(server, sim, world):
    # The session expired mid-run: SAP MC refused the $batch (403, nothing created) and the
    # token fetched again failed. The refused rows are not of unknown outcome.
    kpis(world.plans[0], date(2026, 3, 1), 8)  # batches of 4
    assign(world.plans[0], world.campaigns[0])

    def after_first_batch(run: SyncRun) -> None:
        if run.progress_done == 4:
            sim.expire_sessions()
            sim.add_fault("success_service", "http_504", count=None)

    run = push_successes(on_progress=after_first_batch)
    assert run.status == SyncRun.Status.FAILED and "stopped after 4 rows created" in run.error
    assert list(SuccessSent.objects.values_list("status", flat=True)) == ["created"] * 4
    assert len(readback(server)) == 4
    sim.clear_faults()
    again = push_successes()
    assert (again.created_count, again.unchanged_count) == (4, 4)
    assert len(readback(server)) == 8


def test_an_answer_cut_mid_batch_records_the_rows_it_answered_and_the_rest_unknown(
    server, sim, world
):
    # SAP MC created all four rows; the answer was cut inside the third change set's answer.
    # Its Content-IDs say which rows the first two answers are for: those are created, with
    # SAP's keys, and only the two unanswered rows wait to be settled.
    kpis(world.plans[0], date(2026, 3, 1), 4)  # one batch of 4
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_batch", "batch_cut", parts=2)
    run = push_successes()
    assert run.status == SyncRun.Status.FAILED
    assert run.created_count == 2 and "2 rows of batch 1 of unknown outcome" in run.error
    held = readback(server)
    assert len(held) == 4
    ledger = list(SuccessSent.objects.order_by("day").values_list("status", "success_uuid"))
    assert ledger == [
        ("created", held[0]["CampaignSuccessUUID"]),
        ("created", held[1]["CampaignSuccessUUID"]),
        ("unknown", ""),
        ("unknown", ""),
    ]
    assert run.outcomes[-1] | {"campaigns": None} == {
        "batch": 1, "created": 2, "refused": 0, "unknown": 2, "campaigns": None, "status": "failed"
    }  # fmt: skip
    again = push_successes()
    assert again.created_count == 0 and again.outcomes[0]["outcome_unknown"] == 2
    assert len(readback(server)) == 4


def test_the_rows_of_unknown_outcome_shown_are_settled_together(server, sim, world, client):
    from django.urls import reverse

    from campaigns.models import AuditEvent

    # One failed batch, four rows: each was a click and a reload of its own.
    kpis(world.plans[0], date(2026, 3, 1), 5)
    assign(world.plans[0], world.campaigns[0])
    sim.add_fault("success_batch", "http_500")
    assert push_successes().status == SyncRun.Status.FAILED
    rows = list(SuccessSent.objects.order_by("day").values_list("pk", flat=True))
    assert len(rows) == 4  # the first batch of four (SAPMC_SUCCESS_BATCH_SIZE), unknown
    page = reverse("campaign", args=[world.campaigns[0].pk])
    client.force_login(world.admin)
    body = client.get(page).content.decode()
    assert "The 4 rows of unknown outcome below:" in body
    # A second window settled one meanwhile: the other three are settled, and that is said.
    client.post(reverse("push-resolve", args=[world.campaigns[0].pk, rows[0]]),
                {"resolution": "resend"})  # fmt: skip
    url = reverse("push-resolve-shown", args=[world.campaigns[0].pk])
    answer = client.post(url, {"entry": rows, "resolution": "arrived"}, follow=True)
    said = answer.content.decode()
    assert "Marked 3 rows as in SAP MC (never sent again)." in said
    assert "That row was settled meanwhile" in said
    assert SuccessSent.objects.filter(status=SuccessSent.Status.CREATED).count() == 3
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PUSH_RESOLVE).count() == 4
    assert 'data-testid="settle-shown"' not in said
    # Bad input is a clear 400, a manager a 403.
    for bad in ({"resolution": "arrived"}, {"entry": ["x"], "resolution": "arrived"},
                {"entry": rows, "resolution": "maybe"}):  # fmt: skip
        assert client.post(url, bad).status_code == 400
    client.force_login(world.maria)
    assert client.post(url, {"entry": rows, "resolution": "resend"}).status_code == 403


def test_after_a_restore_the_days_a_lost_push_may_have_sent_are_held_not_sent_twice(
    server, sim, world, client
):
    # Found by a review: restoring yesterday's dump took the ledger back, and the next push sent
    # again every day pushed since; SAP MC stores a day sent twice as two rows (its Successes
    # cannot be read back), and the campaign's numbers counted twice.
    from django.core.management import call_command
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    plan, spring = world.plans[0], world.campaigns[0]
    kpis(plan, date(2026, 3, 1), 15)
    assign(plan, spring)
    assert push_successes().created_count == 12
    # The dump held the ledger of March 1..8; the push that sent 9..12 came after it.
    SuccessSent.objects.filter(day__gte=date(2026, 3, 9)).delete()
    async_task("syncs.tasks.sync_task", "sapmc_success_push", 999_999)  # queued before it

    out = StringIO()
    call_command(
        "success_push_after_restore", "--dump", "the dump of 2026-03-19 03:00", "--purge-queue",
        stdout=out,
    )  # fmt: skip

    said = out.getvalue()
    assert "Task queue emptied (1 task)." in said
    assert "4 settled days held as of unknown outcome on 1 campaign; 8 already in" in said
    assert f"  {spring.display_name}: 4" in said
    assert get_broker().queue_size() == 0
    held = SuccessSent.objects.filter(status=SuccessSent.Status.UNKNOWN)
    assert sorted(held.values_list("day", flat=True)) == [date(2026, 3, d) for d in (9, 10, 11, 12)]
    assert held.first().message.startswith(
        "The bridge's database was restored from the dump of 2026-03-19 03:00"
    )
    # The next push sends none of them: SAP MC still holds each day once.
    again = push_successes()
    assert again.status == SyncRun.Status.SUCCEEDED
    assert (again.created_count, again.outcomes[0]["outcome_unknown"]) == (0, 4)
    assert len(readback(server)) == 12
    run = SyncRun.objects.get(pk=int(said.split("Run #")[1].split(":")[0]))
    assert (run.kind, run.status, run.outcomes[0]["held"]) == (SAPMC_SUCCESS_PUSH, "succeeded", 4)
    client.force_login(world.admin)
    page = client.get(f"/syncs/{run.pk}/").content.decode()
    assert "Held after a restore" in page
    assert (
        "4 settled days held as of unknown outcome after the restore from the dump of "
        "2026-03-19 03:00, 8 already in the ledger." in page
    )
