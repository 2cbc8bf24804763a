"""An auditor's hand ledger of one small world, followed end to end: Khoros' posts export, the
KPI sync's daily totals, the campaign pages and calendar panels, SAP MC's campaign-success
answer, and the rows the success push sends into the SAP MC simulator (and its ledger).

Every expected figure is written out by hand below from the posts as listed, not computed by the
bridge's own functions: the company zone is Europe/Berlin, whose clocks went forward on Sunday
29 March 2026 (a day of 23 hours).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from campaigns.calendar import CalendarFilters, Period, campaign_list_rows, campaign_panel
from campaigns.models import SYNC_ADMINS, Assignment
from khoros import kpis, services
from khoros.models import Company, Plan, PlanKpi
from sapmc.models import ExternalCampaign, SuccessSent
from sapmc.push import push_successes
from simulators.khoros import KhorosSimulator
from simulators.khoros_data import Initiative as SimInitiative
from simulators.khoros_data import KhorosData, Post
from simulators.sapmc import SapmcSimulator
from simulators.server import start_in_thread
from syncs.models import SyncRun
from tests.conftest import KHOROS_TOKEN, FakeClock
from tests.world import make_campaign

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
SAP_USER, SAP_PASSWORD = "comm-audit", "audit-secret-31x"
INBOUND_USER, INBOUND_PASSWORD = "sapmc-audit", "inbound-audit-pw-77"
# The first sync and push: Monday 6 April 2026, noon in Berlin. With 7 settle days, the days
# before 30 March have settled.
FIRST = datetime(2026, 4, 6, 10, tzinfo=UTC)
# The second: Tuesday 14 April, noon in Berlin; the days before 7 April have settled.
SECOND = datetime(2026, 4, 14, 10, tzinfo=UTC)

DST = "11111111-1111-4111-8111-111111111111"
MOVER = "22222222-2222-4222-8222-222222222222"
QUIET = "33333333-3333-4333-8333-333333333333"


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def post(post_id: str, plan: str, published: datetime, imp, eng, clk, reach, vv) -> Post:
    return Post(
        post_id=post_id, plan_id=plan, initiative_id="1710", published_at=published,
        metrics={101: imp, 102: eng, 103: clk, 104: reach, 105: vv},
    )  # fmt: skip


def khoros_world() -> KhorosData:
    data = KhorosData(
        seed=1, company_id="389", company_name="Acme", timezone="Europe/Berlin",
        today=date(2026, 4, 6), posts_per_plan=0,
    )  # fmt: skip
    data._initiatives["1710"] = SimInitiative(id="1710", name="Brand audit")
    for plan_id, name, first, last in (
        (DST, "Clocks forward", date(2026, 3, 27), date(2026, 4, 2)),
        (MOVER, "Mover", date(2026, 3, 20), date(2026, 4, 10)),
        (QUIET, "Quiet", date(2026, 3, 25), date(2026, 4, 5)),
    ):
        data.add_plan("1710", id=plan_id, name=name, start_date=first, end_date=last)
    posts = [
        # The last second of Saturday 28 March and the first of Sunday 29 March (CET, +01:00).
        post("9001", DST, berlin(2026, 3, 28, 23, 59, 59), 1000, 10, 1, 900, 0),
        post("9002", DST, berlin(2026, 3, 29, 0, 0, 0), 200, 20, 2, 150, 5),
        # The last second of Sunday 29 March, now in summer time (CEST, +02:00).
        post("9003", DST, berlin(2026, 3, 29, 23, 59, 59), 300, 30, 3, 250, 0),
        post("9004", DST, berlin(2026, 3, 30, 0, 0, 0), 4000, 40, 4, 3000, 0),
        # 22:30 UTC on the 29th is 00:30 on the 30th in Berlin.
        post("9005", DST, datetime(2026, 3, 29, 22, 30, tzinfo=UTC), 50, 5, 0, 40, 0),
        post("9101", MOVER, berlin(2026, 3, 21, 12, 0, 0), 100, 1, 1, 90, 0),
        post("9102", MOVER, berlin(2026, 3, 25, 12, 0, 0), 110, 2, 1, 95, 0),
        post("9103", MOVER, berlin(2026, 4, 1, 12, 0, 0), 120, 3, 1, 100, 0),
        post("9104", MOVER, berlin(2026, 4, 3, 12, 0, 0), 130, 4, 1, 110, 0),
    ]
    for plan_id in (DST, MOVER, QUIET):
        data._posts[plan_id] = sorted(
            (p for p in posts if p.plan_id == plan_id), key=lambda p: p.published_at
        )
    return data


@pytest.fixture
def khoros(settings) -> Iterator[KhorosSimulator]:
    sim = KhorosSimulator(data=khoros_world(), token=KHOROS_TOKEN)
    with start_in_thread(sim) as server:
        settings.KHOROS_BASE_URL = f"{server.base_url}/v2"
        settings.KHOROS_TOKEN = KHOROS_TOKEN
        settings.KHOROS_COMPANY_ID = "389"
        settings.KHOROS_COMPANY_TIMEZONE = ""  # learnt from /v2/whoami: Europe/Berlin
        settings.KHOROS_MAX_RETRIES = 1
        sim.base_url = server.base_url
        yield sim


@pytest.fixture
def sapmc(settings) -> Iterator[object]:
    sim = SapmcSimulator(user=SAP_USER, password=SAP_PASSWORD)
    with start_in_thread(sim) as server:
        settings.SAPMC_BASE_URL = server.base_url
        settings.SAPMC_USER, settings.SAPMC_PASSWORD = SAP_USER, SAP_PASSWORD
        settings.SAPMC_MAX_RETRIES = 1
        settings.SAPMC_SUCCESS_BATCH_SIZE = 3
        settings.SAPMC_SUCCESS_PUSH_ENABLED = True
        settings.SAPMC_SUCCESS_SETTLE_DAYS = 7
        settings.SAPMC_SUCCESS_TIMEZONE_CODE = ""
        settings.KHOROS_KPI_TRAILING_DAYS = 7
        settings.SAPMC_INBOUND_USER = INBOUND_USER
        settings.SAPMC_INBOUND_PASSWORD = INBOUND_PASSWORD
        settings.SAPMC_REPORT_FRESH_MINUTES = 60
        yield server


def sent_to_sap(server) -> list[dict]:
    return requests.get(f"{server.base_url}/_sim/successes", timeout=5).json()["successes"]


def inbound(client, body: dict) -> dict:
    from base64 import b64encode

    auth = "Basic " + b64encode(f"{INBOUND_USER}:{INBOUND_PASSWORD}".encode()).decode()
    response = client.post(
        "/sapmc/extcamp/v1/campaign-success", json.dumps(body),
        content_type="application/json", headers={"Authorization": auth},
    )  # fmt: skip
    assert response.status_code in (200, 202), response.content
    return response.json()


@dataclass
class Audited:
    spring: ExternalCampaign  # campaign A: 15-31 March, then (SAP MC's change) 15-28 March
    april: ExternalCampaign  # campaign B: April
    plans: dict[str, Plan]
    admin: object


@pytest.fixture
def audited(khoros, sapmc, django_user_model) -> Audited:
    """The story: a first KPI sync and push on 6 April with every Plan on campaign A; then SAP
    MC shortens A, the Mover is moved to B, Khoros restates the Mover's 1 April post (120 -> 125
    impressions), and a second sync (a trailing window overlapping the first export) and push
    run on 14 April."""
    admin = django_user_model.objects.create_user("audit", password="pw-audit-2026")
    admin.groups.add(Group.objects.get(name=SYNC_ADMINS))
    Company.objects.create(khoros_id="389", name="Acme", last_seen=timezone.now())
    spring = make_campaign("Spring A", date(2026, 3, 15), date(2026, 3, 31), campaign_id="500")
    april = make_campaign("April B", date(2026, 4, 1), date(2026, 4, 30), campaign_id="501")
    spring.save()
    april.save()
    with time_machine.travel(FIRST, tick=False):
        assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
        # One post's row is written twice in the file: it counts once.
        khoros.add_fault("export_download", "csv_row_repeated")
        run = kpis.sync_khoros_kpis(sleep=FakeClock().sleep, now=FakeClock(FIRST))
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert run.outcomes[0]["rows_repeated"] == 1
        plans = {str(p.khoros_id): p for p in Plan.objects.all()}
        for key in (DST, MOVER, QUIET):
            Assignment.objects.create(plan=plans[key], campaign=spring, assigned_at=timezone.now())
        assert push_successes().created_count == 4
    ExternalCampaign.objects.filter(pk=spring.pk).update(end=date(2026, 3, 28))
    Assignment.objects.filter(plan=plans[MOVER]).update(campaign=april)
    restated = [p for p in khoros.data._posts[MOVER] if p.post_id != "9103"]
    restated.append(post("9103", MOVER, berlin(2026, 4, 1, 12, 0, 0), 125, 3, 1, 100, 0))
    khoros.data._posts[MOVER] = sorted(restated, key=lambda p: p.published_at)
    with time_machine.travel(SECOND, tick=False):
        run = kpis.sync_khoros_kpis(sleep=FakeClock().sleep, now=FakeClock(SECOND))
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        # 31 March to 14 April: 1 and 3 April were in the first export too.
        assert (run.outcomes[0]["start"], run.outcomes[0]["stop"]) == ("2026-03-31", "2026-04-15")
        assert (run.outcomes[0]["updated"], run.outcomes[0]["unchanged"]) == (1, 1)
        assert push_successes().created_count == 3
    spring.refresh_from_db()
    return Audited(spring, april, plans, admin)


# The hand ledger: (Plan, Berlin day) -> impressions, engagements, clicks, reach, video views and
# posts.
LEDGER = {
    (DST, date(2026, 3, 28)): (1000, 10, 1, 900, 0, 1),
    # 00:00:00 CET and 23:59:59 CEST: one day of 23 hours; reach the higher post's.
    (DST, date(2026, 3, 29)): (500, 50, 5, 250, 5, 2),
    # 00:00:00 CEST, and 22:30 UTC of the 29th (00:30 here).
    (DST, date(2026, 3, 30)): (4050, 45, 4, 3000, 0, 2),
    (MOVER, date(2026, 3, 21)): (100, 1, 1, 90, 0, 1),
    (MOVER, date(2026, 3, 25)): (110, 2, 1, 95, 0, 1),
    (MOVER, date(2026, 4, 1)): (125, 3, 1, 100, 0, 1),  # as restated
    (MOVER, date(2026, 4, 3)): (130, 4, 1, 110, 0, 1),
}


def test_the_daily_totals_are_the_hand_ledger(audited):
    stored = {
        (str(row[0]), row[1]): tuple(row[2:])
        for row in PlanKpi.objects.values_list("plan__khoros_id", "day", *kpis.METRICS)
    }
    assert stored == LEDGER  # the Quiet Plan had no posts: no day, not days of zeros
    assert set(PlanKpi.objects.values_list("timezone", flat=True)) == {"Europe/Berlin"}


def test_sap_mc_holds_each_plan_day_once_under_the_campaign_it_was_sent_to(audited, sapmc):
    rows = {
        (r["CampaignID"], r["ExternalCampaignID"], r["SuccessDataDate"]): (
            r["NumberOfImpressions"], r["NumberOfPostEngagements"], r["NumberOfClicks"],
            r["CampaignReach"], r["NumberOfVideoViews"], r["YearWeek"],
            r["SuccessDataDateTimeZone"],
        )
        for r in sent_to_sap(sapmc)
    }  # fmt: skip
    dst, mover = DST.replace("-", ""), MOVER.replace("-", "")
    assert rows == {
        # Sent on 6 April to A: the days before 30 March had settled.
        ("500", dst, "/Date(1774656000000)/"): ("1000", "10", "1", "900", "0", "202613", "CET"),
        ("500", dst, "/Date(1774742400000)/"): ("500", "50", "5", "250", "5", "202613", "CET"),
        ("500", mover, "/Date(1774051200000)/"): ("100", "1", "1", "90", "0", "202612", "CET"),
        ("500", mover, "/Date(1774396800000)/"): ("110", "2", "1", "95", "0", "202613", "CET"),
        # Sent on 14 April: the Clocks forward Plan's 30 March to A, where it still is (outside
        # A's dates since SAP MC shortened them: sent all the same), the Mover's April days to B.
        ("500", dst, "/Date(1774828800000)/"): ("4050", "45", "4", "3000", "0", "202614", "CET"),
        ("501", mover, "/Date(1775001600000)/"): ("125", "3", "1", "100", "0", "202614", "CET"),
        ("501", mover, "/Date(1775174400000)/"): ("130", "4", "1", "110", "0", "202614", "CET"),
    }
    ledger = SuccessSent.objects.values_list("campaign__campaign_id", "plan__khoros_id", "day")
    assert sorted((c, str(p), d) for c, p, d in ledger) == sorted(
        [("500", DST, date(2026, 3, d)) for d in (28, 29, 30)]
        + [("500", MOVER, date(2026, 3, d)) for d in (21, 25)]
        + [("501", MOVER, date(2026, 4, d)) for d in (1, 3)]
    )


def test_campaign_pages_and_panels_count_what_sap_mc_holds_for_each_campaign(audited, client):
    """A Plan moved from A to B after some of its days were sent to A: those days stay A's
    (SAP MC has them there), the rest are B's, on the campaign page as on the calendar panel."""
    client.force_login(audited.admin)

    spring = client.get(reverse("campaign", args=[audited.spring.pk])).context
    # A in SAP MC: 1000 + 500 + 4050 (Clocks forward) + 100 + 110 (the Mover's March days).
    assert {t.name: t.text for t in spring["totals"]} == {
        "impressions": "5,760", "engagements": "108", "clicks": "12", "reach": "3,000",
        "video_views": "5", "posts": "7",
    }  # fmt: skip
    counted = spring["counted"]
    assert (counted.span, counted.days, counted.outside_days) == ("21 Mar–30 Mar 2026", 5, 2)
    assert counted.outside == [("impressions", "4,550"), ("engagements", "95")]
    by_day = dict(zip(spring["kpis"].days, spring["kpis"].series["impressions"], strict=True))
    assert {d: v for d, v in by_day.items() if v} == {
        date(2026, 3, 21): 100, date(2026, 3, 25): 110, date(2026, 3, 28): 1000,
        date(2026, 3, 29): 500, date(2026, 3, 30): 4050,
    }  # fmt: skip
    # Pacing counts A's own days, 15-28 March: 100 + 110 + 1000 in 14 days.
    assert spring["pacing"].so_far[0] == ("Impressions", "1,210", "86")
    # The stack still adds up to each day: the Mover's days sent here are a layer of their own.
    layers = spring["stacked_chart"].series
    assert [series.label for series in layers][-1] == "1 Plan moved away, days sent here"

    april = client.get(reverse("campaign", args=[audited.april.pk])).context
    assert {t.name: t.text for t in april["totals"]}["impressions"] == "255"  # 125 + 130
    assert (april["counted"].days, april["counted"].outside_days) == (2, 0)

    panels = {
        c.name: campaign_panel(campaign=c, user=audited.admin).kpis.totals
        for c in (audited.spring, audited.april)
    }
    assert panels["Spring A"]["Impressions"] == 5760
    assert panels["April B"]["Impressions"] == 255
    assert (panels["Spring A"]["Highest daily reach"], panels["April B"]["Posts"]) == (3000, 2)

    # The calendar's list of campaigns, its impressions column (and the sort by it) alike.
    year = Period(zoom="year", first=date(2026, 1, 1), last=date(2026, 12, 31))
    rows = campaign_list_rows(
        user=audited.admin, period=year, filters=CalendarFilters(), sort="-kpis"
    )
    assert [(row.name, row.impressions) for row in rows if row.impressions] == [
        ("Spring A", 5760),
        ("April B", 255),
    ]


def test_sap_mc_s_campaign_success_answer_is_the_hand_ledger(audited, client):
    ids = [key.replace("-", "") for key in (DST, MOVER, QUIET)]
    with time_machine.travel(SECOND + timedelta(minutes=5), tick=False):
        report = inbound(
            client, {"ExternalCampaignIDs": ids, "FromDate": "2026-03-20", "ToDate": "2026-04-13"}
        )
        answer = inbound(client, {"ReportId": report["ReportId"]})
    assert (answer["Status"], answer["TimeZone"]) == ("COMPLETED", "Europe/Berlin")
    names = ["Impressions", "Engagements", "Clicks", "Reach", "VideoViews", "Posts"]
    got = {
        (r["ExternalCampaignID"], r["Date"]): tuple(r["KPIs"][n] for n in names)
        for r in answer["Results"]
    }
    # Per Plan and day whatever the campaign; the Quiet Plan answers no rows (no posts), not 0s.
    assert got == {(p.replace("-", ""), d.isoformat()): v for (p, d), v in LEDGER.items()}
