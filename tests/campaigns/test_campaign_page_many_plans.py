"""The campaign page of a campaign with 300 Plans and 90 days of KPIs, sent to SAP MC daily:
the same queries as one of 3 Plans, a bounded page, and every figure still counting all Plans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import kpi_views
from campaigns.kpi_views import OTHERS_COLOR, STACKED_PLANS
from campaigns.selectors import PUSHES_PAGE_SIZE
from campaigns.views import CAMPAIGN_PLANS_PAGE_SIZE
from khoros.models import PlanKpi
from sapmc.models import ExternalCampaign, SuccessSent
from sapmc.push import numbers_hash
from syncs.models import SyncRun
from tests.scale import build_scale, built_once

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)
DAYS = 90
SENT_DAYS = 80  # the last 10 days wait for the next push
REFUSED = 60  # Plans whose last sent day SAP MC refused


@dataclass
class Campaigns:
    big: ExternalCampaign  # 300 Plans
    small: ExternalCampaign  # 3 Plans
    runs: list[SyncRun]


def _impressions(plan: int, day: int) -> int:
    return 100 * (plan + 1) + day  # a later Plan has more: the top 10 are the last 10


def _numbers(plan: int, day: int) -> dict[str, int]:
    return {"impressions": _impressions(plan, day), "clicks": 1, "engagements": 10,
            "video_views": 0, "reach": 500 + plan}  # fmt: skip


@built_once
def many_plans(world) -> Campaigns:
    """A campaign of 300 Plans and one of 3 (Maria's Initiative), 90 days of KPIs, pushed daily."""
    built = [
        build_scale(
            initiatives=[world.initiatives[0]],
            plans=count,
            campaigns=1,
            first_campaign_id=first_id,
            plan_name=name + " Plan {:03}",
            campaign_name=name,
            start=START,
            spread=1,
            plan_days=DAYS - 1,
            campaign_days=DAYS - 1,
            assign_step=1,
            assign_below=count,
            assign_to=lambda i: 0,
        )
        for count, first_id, name in ((300, 70_000, "Big"), (3, 71_000, "Small"))
    ]
    days = [START + timedelta(days=j) for j in range(DAYS)]
    now = timezone.now()
    PlanKpi.objects.bulk_create(
        (
            PlanKpi(plan=plan, day=day, posts=1, updated_at=now, **_numbers(k, j))
            for scale in built
            for k, plan in enumerate(scale.plans)
            for j, day in enumerate(days)
        ),
        batch_size=2000,
    )
    runs = SyncRun.objects.bulk_create(
        SyncRun(kind="sapmc_success_push", trigger="schedule", status="succeeded", finished_at=now)
        for _ in range(SENT_DAYS)
    )
    SuccessSent.objects.bulk_create(
        (
            SuccessSent(
                plan=plan,
                day=days[j],
                campaign=scale.campaigns[0],
                run=runs[j],
                status=(
                    SuccessSent.Status.REFUSED
                    if j == SENT_DAYS - 1 and k < REFUSED
                    else SuccessSent.Status.CREATED
                ),
                sent_at=now,
                # Numbers changed in Khoros after sending on the first day only.
                numbers_hash="not these numbers" if j == 0 else numbers_hash(_numbers(k, j)),
                message="Campaign is locked",
            )
            for scale in built
            for k, plan in enumerate(scale.plans)
            for j in range(SENT_DAYS)
        ),
        batch_size=2000,
    )
    return Campaigns(built[0].campaigns[0], built[1].campaigns[0], runs)


def _get(client, campaign: ExternalCampaign, query: str = "") -> tuple[int, object, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("campaign", args=[campaign.pk]) + query)
    assert response.status_code == 200
    return len(ctx.captured_queries), response, response.content.decode()


def test_the_page_of_300_plans_costs_the_queries_of_3_and_stays_bounded(client, world, many_plans):
    client.force_login(world.maria)
    few, _, small = _get(client, many_plans.small)
    many, response, body = _get(client, many_plans.big)
    assert many == few
    assert (
        _get(client, many_plans.big, f"?compare={many_plans.small.pk}&ppage=3&spage=2")[0]
        == (_get(client, many_plans.small, f"?compare={many_plans.big.pk}")[0])
    )
    # One path per series: 6 daily charts, 2 cumulative lines, 10 Plans and the others stacked.
    assert body.count("<path ") == 6 + 2 + STACKED_PLANS + 1
    assert small.count("<path ") == 6 + 2 + 3
    legend = re.search(r'data-testid="stacked-chart-figure">.*?</figure>', body, re.S)
    assert legend and legend.group(0).count("<li>") == STACKED_PLANS + 1
    # Rows: a page of Plans, of Plans sent, waiting and failed, and the 90 days.
    plans_table = re.search(r'<section class="card" id="plans">.*?</section>', body, re.S)
    assert plans_table and plans_table.group(0).count("<tr>") == 1 + CAMPAIGN_PLANS_PAGE_SIZE
    pushes = re.search(r'id="sap-pushes".*?</section>', body, re.S)
    assert pushes and pushes.group(0).count("<tr>") == 3 * (1 + PUSHES_PAGE_SIZE)
    assert body.count("<tr") == (1 + DAYS) + (1 + CAMPAIGN_PLANS_PAGE_SIZE) + 3 * (
        1 + PUSHES_PAGE_SIZE
    )
    # Each Plan sent by 79 daily runs (its 80th day refused) links its first and latest only.
    first, last = many_plans.runs[0].pk, many_plans.runs[-2].pk
    assert (
        f'<a href="/syncs/{first}/">#{first}</a> … <a href="/syncs/{last}/">#{last}</a>'
        ' <span class="muted">(79 runs)</span>'
    ) in body
    # Those two for each Plan sent, and its run for each failed row, of a page each.
    assert len(re.findall(r'href="/syncs/\d+/"', body)) == 2 * PUSHES_PAGE_SIZE + PUSHES_PAGE_SIZE
    assert len(body) < 200_000  # was 2.2 MB with every Plan and run


def test_stacked_chart_adds_up_to_every_plan_each_day(client, world, many_plans, monkeypatch):
    drawn = []
    stacked_chart = kpi_views.stacked_chart

    def recording(title, days, layers, **kwargs):
        drawn.append(layers)
        return stacked_chart(title, days, layers, **kwargs)

    monkeypatch.setattr(kpi_views, "stacked_chart", recording)
    client.force_login(world.maria)
    _, response, body = _get(client, many_plans.big)
    (layers,) = drawn
    kpis = response.context["kpis"]
    # Every day: the 10 layers and "Other 290 Plans" add up to all 300 Plans, exactly.
    per_day = [sum(values[j] for _, _, values in layers) for j in range(DAYS)]
    assert per_day == kpis.series["impressions"]
    assert per_day[0] == sum(_impressions(k, 0) for k in range(300)) == 4_515_000
    chart = response.context["stacked_chart"]
    assert chart.total == kpis.totals["impressions"] == sum(per_day)
    # The 10 with the most impressions, in the table's order, then the others in grey.
    assert [label for label, _, _ in layers] == [f"Big Plan {k:03}" for k in range(290, 300)] + [
        "Other 290 Plans"
    ]
    assert layers[-1][1] == OTHERS_COLOR and [s.color for s in chart.series][-1] == OTHERS_COLOR
    assert layers[-1][2][0] == sum(_impressions(k, 0) for k in range(290))
    assert (
        "The 10 Plans with the most impressions on these days, the other 290 together in grey"
        in body
    )
    assert (
        f'<li><span class="key " data-style="--key: {OTHERS_COLOR}"></span>Other 290 Plans</li>'
        in body
    )


def test_plans_table_pages_keep_the_comparison_and_totals_count_every_plan(
    client, world, many_plans
):
    client.force_login(world.maria)
    url = reverse("campaign", args=[many_plans.big.pk])
    compare = f"compare={many_plans.small.pk}"
    _, response, body = _get(client, many_plans.big, f"?{compare}")
    total = sum(_impressions(k, j) for k in range(300) for j in range(DAYS))
    assert response.context["totals"][0].text == f"{total:,}"
    assert "Plans 1–50 of 300" in body
    assert f'<a rel="next" href="?{compare}&amp;ppage=2#plans">Next ›</a>' in body
    assert "Big Plan 000" in body and "Big Plan 050" not in body
    # The last page: its Plans' own totals, the same figures above the table.
    _, response, body = _get(client, many_plans.big, f"?{compare}&ppage=6")
    assert "Plans 251–300 of 300" in body and "Big Plan 299" in body
    assert "Big Plan 249" not in body.split('id="plans"')[1].split("</section>")[0]
    plan_299 = sum(_impressions(299, j) for j in range(DAYS))
    assert f'<td class="num">{plan_299:,}</td>' in body
    assert response.context["totals"][0].text == f"{total:,}"
    assert response.context["compare"] == many_plans.small
    assert f'<a rel="prev" href="?{compare}&amp;ppage=5#plans">‹ Previous</a>' in body
    # A page number that is none is no error: the nearest page.
    for bad, first_row in (("abc", "Plans 1–50"), ("0", "Plans 1–50"), ("999", "Plans 251–300")):
        response = client.get(url, {"ppage": bad, "spage": bad, "wpage": bad, "fpage": bad})
        assert response.status_code == 200 and first_row in response.content.decode()


@time_machine.travel("2026-05-01 12:00:00+00:00", tick=False)
def test_pushes_tables_page_and_count_every_plan(client, world, many_plans):
    client.force_login(world.admin)
    _, response, body = _get(client, many_plans.big, "?spage=6&wpage=2&fpage=2")
    pushes = response.context["pushes"]
    assert (pushes.sent.paginator.count, pushes.waiting.paginator.count) == (300, 300)
    assert pushes.failed.paginator.count == REFUSED
    assert [p.plan.name for p in pushes.sent][-1] == "Big Plan 299"
    last = pushes.sent[-1]
    assert (last.days, last.first, last.last) == (SENT_DAYS, START, START + timedelta(days=79))
    assert last.changed == [START]  # the one day whose numbers differ from those sent
    assert [p.days for p in pushes.sent] == [SENT_DAYS] * 50
    first_page = client.get(reverse("campaign", args=[many_plans.big.pk])).context["pushes"]
    assert [p.days for p in first_page.sent] == [SENT_DAYS - 1] * 50  # their 80th day refused
    assert [f.plan.name for f in pushes.failed] == [f"Big Plan {k:03}" for k in range(50, 60)]
    # Its last 10 days, settled long ago, due on the next push.
    assert [(w.plan_name, w.settled, w.unsettled) for w in pushes.waiting][0] == (
        "Big Plan 050",
        10,
        0,
    )
    assert "Plans 251–300 of 300" in body and "Rows 51–60 of 60" in body
    assert '<a rel="prev" href="?wpage=2&amp;fpage=2&amp;spage=5#sap-pushes">' in body


def test_choosing_a_comparison_keeps_the_tables_pages(client, world, many_plans):
    client.force_login(world.admin)
    _, response, body = _get(client, many_plans.big, "?ppage=3&spage=2&wpage=junk&fpage=1")
    form = body.split('id="compare"')[1].split("</form>")[0]
    # The pages shown, as numbers; a first page or junk needs no field.
    assert '<input type="hidden" name="ppage" value="3">' in form
    assert '<input type="hidden" name="spage" value="2">' in form
    assert 'name="wpage"' not in form and 'name="fpage"' not in form
    # What the form sends: the comparison, and the Plans table still on its page 3.
    _, response, body = _get(
        client, many_plans.big, f"?compare={many_plans.small.pk}&compare_id=&ppage=3&spage=2"
    )
    assert response.context["compare"] == many_plans.small
    assert response.context["plan_page"].number == 3
    assert response.context["pushes"].sent.number == 2
