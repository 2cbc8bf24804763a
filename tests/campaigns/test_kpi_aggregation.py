"""Reach counts unique people: no total anywhere in the bridge adds it up (issue 10).

Each KPI declares its aggregation in khoros/kpi_catalog.py; every total reads it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment
from khoros import kpi_catalog
from khoros.models import PlanKpi

MARCH = [date(2026, 3, 1) + timedelta(days=i) for i in range(3)]


def _numbers(plan, reach: int, impressions: int) -> None:
    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=plan,
            day=day,
            impressions=impressions,
            engagements=1,
            clicks=1,
            reach=reach + i,
            video_views=0,
            posts=1,
            updated_at=timezone.now(),
        )
        for i, day in enumerate(MARCH)
    )


@pytest.fixture
def two_plans(world):
    spring = world.campaigns[0]
    for plan in (world.plans[0], world.plans[1]):
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    _numbers(world.plans[0], reach=100, impressions=10)
    _numbers(world.plans[1], reach=1000, impressions=20)
    return spring


def test_every_kpi_declares_an_aggregation_the_helper_knows():
    for kpi in kpi_catalog.KPIS:
        kpi_catalog.combine(kpi.name, [1, 2])  # raises on an unknown aggregation
    assert kpi_catalog.combine("impressions", [3, 4, 5]) == 12
    assert kpi_catalog.combine("reach", [3, 9, 5]) == 9
    assert kpi_catalog.combine("reach", []) == 0
    assert kpi_catalog.TOTAL_LABELS["reach"] == "Highest daily reach"
    assert kpi_catalog.TOTAL_LABELS["impressions"] == "Impressions"


def test_campaign_page_never_adds_reach_over_days_or_plans(client, world, two_plans):
    client.force_login(world.admin)
    response = client.get(reverse("campaign", args=[two_plans.pk]))
    kpis = response.context["kpis"]
    # Per day: the highest Plan's reach, not 100 + 1000.
    assert kpis.series["reach"][:3] == [1000, 1001, 1002]
    assert kpis.series["impressions"][:3] == [30, 30, 30]
    assert kpis.totals["reach"] == 1002  # was 3 * 100 + 3 + 3 * 1000 + 3 summed
    assert kpis.totals["impressions"] == 90
    assert kpis.per_plan[world.plans[0].pk]["reach"] == 102
    assert kpis.per_plan[world.plans[0].pk]["impressions"] == 30
    body = response.content.decode()
    assert "Highest daily reach" in body
    reach_total = response.context["totals"][3]
    assert (reach_total.label, reach_total.text) == ("Highest daily reach", "1,002")


def test_calendar_panels_total_reach_as_its_highest_day(world, two_plans):
    from campaigns.calendar import campaign_panel, plan_panel

    panel = campaign_panel(campaign=two_plans, user=world.admin)
    assert panel.kpis.totals["Highest daily reach"] == 1002
    assert panel.kpis.totals["Impressions"] == 90
    assert "Reach" not in panel.kpis.totals
    assert plan_panel(plan=world.plans[0]).kpis.totals["Highest daily reach"] == 102


def test_plan_kpi_totals_reads_the_declaration(world, two_plans):
    from khoros.selectors import plan_kpi_totals

    totals = plan_kpi_totals(plans=[world.plans[1]], date_from=MARCH[0], date_to=MARCH[-1])
    assert totals[world.plans[1].pk]["reach"] == 1002
    assert totals[world.plans[1].pk]["impressions"] == 60


def test_inbound_success_answers_reach_per_plan_and_day(world, two_plans):
    from sapmc.inbound.catalog import external_campaign_id
    from sapmc.inbound.reports import report_results

    ids = [
        external_campaign_id(world.plans[0].khoros_id),
        external_campaign_id(world.plans[1].khoros_id),
    ]
    rows = report_results(
        external_campaign_ids=ids,
        from_date=MARCH[0],
        to_date=MARCH[-1],
        kpi_names=["Reach"],
        zone="UTC",
    ).rows
    assert len(rows) == 6  # one per Plan and day: nothing combined
    assert sorted(row[2] for row in rows) == [100, 101, 102, 1000, 1001, 1002]


def test_calendar_panel_and_list_show_totals_people_read(client, world, two_plans):
    PlanKpi.objects.filter(plan=world.plans[1]).update(impressions=2_000)
    client.force_login(world.admin)
    body = client.get(reverse("calendar") + f"?zoom=quarter&date=2026-03-01&panel=c{two_plans.pk}")
    text = body.content.decode()
    assert "<dt>Highest daily reach</dt><dd>1,002</dd>" in text
    assert "<dt>Impressions</dt><dd>6,030</dd>" in text
    listing = client.get(reverse("calendar-list") + "?zoom=quarter&date=2026-03-01").content
    assert '<td class="num" data-label="Impressions">6,030</td>' in listing.decode()
