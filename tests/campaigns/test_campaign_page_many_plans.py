"""The campaign page of a campaign with 300 Plans and 90 days of KPIs, sent to SAP MC daily:
the same queries as one of 3 Plans, a bounded page, every figure still counting all Plans, and
KPIs read as a row per day and per Plan, never as every Plan's every day."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import kpi_views
from campaigns.kpi_views import OTHERS_COLOR, STACKED_PLANS
from campaigns.selectors import PUSHES_PAGE_SIZE, campaign_assigned_plans
from campaigns.views import CAMPAIGN_PLANS_PAGE_SIZE
from khoros import kpi_catalog
from khoros.models import Plan, PlanKpi
from khoros.zone import company_today
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


def test_stacked_chart_adds_up_to_every_plan_each_day(client, world, many_plans, drawn_stacks):
    drawn = drawn_stacks
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
    assert f'<td class="num" data-label="Impressions">{plan_299:,}</td>' in body
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


@contextmanager
def _reads() -> Iterator[list[tuple[str, int]]]:
    """The SELECTs run inside the block, each with the number of rows it returns (counted by
    running it again once the block is over, on the same connection and data)."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params, many))
        return execute(sql, params, many, context)

    reads: list[tuple[str, int]] = []
    with connection.execute_wrapper(record):
        yield reads
    with connection.cursor() as cursor:
        for sql, params, many in statements:
            if not many and sql.lstrip().upper().startswith("SELECT"):
                cursor.execute(sql, params)
                reads.append((sql, len(cursor.fetchall())))


def test_the_page_reads_kpis_by_day_and_by_plan_not_every_plans_every_day(
    client, world, many_plans
):
    client.force_login(world.maria)
    url = reverse("campaign", args=[many_plans.big.pk]) + f"?compare={many_plans.small.pk}"
    with _reads() as reads:
        assert client.get(url).status_code == 200
    # The largest read of the page is a page of the pushes table: its 50 Plans' days, compared
    # with what was sent. Nothing reads the 300 Plans' 90 days (27,000 rows).
    assert max(rows for _, rows in reads) <= PUSHES_PAGE_SIZE * DAYS < 300 * DAYS
    # The KPI sections: a row per day and one per Plan of the campaign, its 10 Plans stacked
    # day by day, and a row per day of the campaign compared with (3 Plans).
    assigned, _ = campaign_assigned_plans(campaign=many_plans.big, user=world.maria)
    with _reads() as reads:
        kpi_views.campaign_kpi_context(
            campaign=many_plans.big,
            user=world.maria,
            assigned=assigned,
            today=company_today(),
            compare=str(many_plans.small.pk),
        )
    kpi_rows = [rows for sql, rows in reads if 'FROM "khoros_plankpi"' in sql]
    assert sorted(kpi_rows, reverse=True) == [STACKED_PLANS * DAYS, 300, DAYS, DAYS]


def test_day_totals_the_stack_and_plan_totals_are_the_stored_rows_added_up(
    client, world, many_plans, drawn_stacks
):
    big = many_plans.big
    plans = list(Plan.objects.filter(assignment__campaign=big).order_by("start", "name"))
    by_name = {plan.name: plan for plan in plans}
    day = [START + timedelta(days=j) for j in range(DAYS)]
    # Plan 005 has the best day of all, Plan 001 as many impressions as Plan 291 (the 10th and
    # 11th: the first in the table is drawn), Plan 295 a day without numbers, and no Plan has
    # numbers on the 46th day.
    PlanKpi.objects.filter(plan=by_name["Big Plan 005"], day=day[3]).update(
        impressions=10_000_000, reach=99_999
    )
    PlanKpi.objects.filter(plan=by_name["Big Plan 001"]).update(
        impressions=F("impressions") + 29_000
    )
    PlanKpi.objects.filter(plan=by_name["Big Plan 295"], day=day[10]).delete()
    PlanKpi.objects.filter(plan__in=plans, day=day[45]).delete()
    drawn = drawn_stacks
    client.force_login(world.maria)
    _, response, _ = _get(client, big)
    kpis = response.context["kpis"]
    (layers,) = drawn

    # The same figures from the stored rows, added up in Python.
    stored: dict[int, dict[date, dict[str, int]]] = {}
    for row in PlanKpi.objects.filter(plan__in=plans).values(
        "plan_id", "day", *kpi_catalog.METRICS
    ):
        stored.setdefault(row.pop("plan_id"), {})[row.pop("day")] = row
    assert sum(len(days) for days in stored.values()) == 300 * DAYS - 1 - 300
    assert kpis.days == day
    for name in kpi_catalog.METRICS:
        daily = [
            kpi_catalog.combine(
                name, [numbers[d][name] for numbers in stored.values() if d in numbers]
            )
            for d in day
        ]
        assert kpis.series[name] == daily, name
        assert kpis.totals[name] == kpi_catalog.combine(name, daily), name
        assert {plan_id: totals[name] for plan_id, totals in kpis.per_plan.items()} == {
            plan_id: kpi_catalog.combine(name, [n[name] for n in numbers.values()])
            for plan_id, numbers in stored.items()
        }, name
    assert kpis.series["impressions"][45] == 0 and kpis.series["reach"][3] == 99_999

    def impressions(plan: Plan) -> list[int]:
        return [stored[plan.pk][d]["impressions"] if d in stored[plan.pk] else 0 for d in day]

    # The 10 Plans with the most impressions (of equal ones the first in the table), in the
    # table's order, then every other Plan's impressions day by day in one layer.
    ranked = sorted(plans, key=lambda plan: -sum(impressions(plan)))
    top = [plan for plan in plans if plan in ranked[:STACKED_PLANS]]
    rest = [plan for plan in plans if plan not in top]
    assert [name for name, _, _ in layers] == [plan.name for plan in top] + ["Other 290 Plans"]
    assert [name for name, _, _ in layers][:2] == ["Big Plan 001", "Big Plan 005"]
    assert "Big Plan 291" not in [name for name, _, _ in layers]
    assert [values for _, _, values in layers[:-1]] == [impressions(plan) for plan in top]
    assert layers[-1][2] == [sum(values) for values in zip(*map(impressions, rest), strict=True)]
    assert [sum(values) for values in zip(*(v for _, _, v in layers), strict=True)] == kpis.series[
        "impressions"
    ]
