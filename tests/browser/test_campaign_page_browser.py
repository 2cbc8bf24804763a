"""The campaign page in a real browser: daily KPI charts, totals and the CSV link."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import PlanKpi
from syncs.models import SyncRun
from tests.browser.conftest import screenshot
from tests.browser.test_workbench_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_the_kpi_charts_of_a_campaign(live_server, world, page):
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=world.plans[0],
            day=date(2026, 3, 1) + timedelta(days=i),
            impressions=1000 + 100 * i,
            engagements=50 + i,
            clicks=10,
            reach=800,
            video_views=i,
            posts=1,
            updated_at=timezone.now(),
        )
        for i in range(20)
    )
    SyncRun.objects.create(
        kind="khoros_kpis", trigger="schedule", status="succeeded", finished_at=timezone.now()
    )

    login(page, live_server.url, "maria", "pw-maria-2026")
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/")
    page.get_by_role("heading", name="Daily KPIs").wait_for()

    charts = page.get_by_role("img")
    assert charts.count() == 6
    impressions = page.get_by_role("img", name="Impressions per day, 39000 in total")
    assert impressions.is_visible()
    bars = impressions.locator("rect")
    assert bars.count() == 31  # every day of the campaign's March
    assert bars.nth(2).locator("title").text_content() == "2026-03-03: 1200"
    tallest = max(float(bars.nth(i).get_attribute("height")) for i in range(31))
    assert (
        float(bars.nth(19).get_attribute("height")) == tallest
    )  # the biggest day is the highest bar
    assert float(bars.nth(25).get_attribute("height")) == 0
    assert page.get_by_test_id("total-0").inner_text() == "39000"
    assert page.get_by_test_id("kpi-stale").count() == 0
    assert page.get_by_role("link", name="Download CSV").get_attribute("href").endswith("/kpis.csv")
    screenshot(page, "campaign-kpis")
