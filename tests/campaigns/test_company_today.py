"""One "today" for every day-based figure: the Khoros company's, whoever looks.

At 01:50 UTC on 1 Dec it is still 30 Nov in Chicago (the company's zone): a Plan whose days
start on 1 Dec has not started, for a viewer in UTC or Tokyo as for one in Los Angeles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import PlanKpi
from khoros.zone import company_today
from tests.world import make_campaign, make_plan

pytestmark = pytest.mark.django_db

VIEWERS = ("UTC", "Asia/Tokyo", "America/Los_Angeles")
NOW = datetime(2026, 12, 1, 1, 50, tzinfo=UTC)  # 30 Nov, 19:50 in Chicago
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def december(world, settings):
    settings.KHOROS_COMPANY_TIMEZONE = "America/Chicago"
    campaign = make_campaign("December push", date(2026, 12, 1), date(2026, 12, 31))
    campaign.save()
    plan = make_plan(world.initiatives[0], "December plan", date(2026, 12, 1), date(2026, 12, 20))
    plan.save()
    Assignment.objects.create(plan=plan, campaign=campaign, assigned_at=timezone.now())
    # 85 days, 5 Oct to 28 Dec: 57 of them are over on 30 Nov, 58 on 1 Dec.
    autumn = make_campaign("Autumn push", date(2026, 10, 5), date(2026, 12, 28))
    autumn.save()
    running = make_plan(world.initiatives[0], "Autumn plan", date(2026, 10, 5), date(2026, 12, 28))
    running.save()
    Assignment.objects.create(plan=running, campaign=autumn, assigned_at=timezone.now())
    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=running,
            day=date(2026, 10, 5) + timedelta(days=i),
            impressions=10,
            updated_at=timezone.now(),
        )
        for i in range(50)
    )
    return campaign, plan, autumn


def test_company_today_is_the_day_in_the_company_zone(settings):
    settings.KHOROS_COMPANY_TIMEZONE = "America/Chicago"
    with time_machine.travel(NOW, tick=False):
        assert company_today() == date(2026, 11, 30)
    settings.KHOROS_COMPANY_TIMEZONE = "Asia/Tokyo"
    with time_machine.travel(NOW, tick=False):
        assert company_today() == date(2026, 12, 1)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_calendar_counts_the_company_today_for_every_viewer(client, world, december, viewer):
    campaign, plan, _ = december
    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = viewer
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-11-01"})
        default = client.get(reverse("calendar"))
        plan_panel = client.get(reverse("calendar-panel"), {"panel": f"p{plan.pk}"}, **HX)
        campaign_panel = client.get(reverse("calendar-panel"), {"panel": f"c{campaign.pk}"}, **HX)
        with_panel = client.get(
            reverse("calendar"), {"zoom": "quarter", "date": "2026-11-01", "panel": f"p{plan.pk}"}
        )
        listed = client.get(reverse("calendar-list"))
    cal = response.context["cal"]
    assert cal.today == date(2026, 11, 30)
    body = response.content.decode()
    assert (
        "<span>days of the Khoros company’s zone, America/Chicago</span> "
        '<span>today is <time datetime="2026-11-30">2026-11-30</time></span>'
    ) in body
    row = next(r for r in cal.rows if r.campaign.pk == campaign.pk)
    # Not started in Khoros: upcoming, and no numbers are owed yet.
    assert row.bar.state == "upcoming"
    assert "no KPIs" not in row.bar.marks
    assert [b.state for lane in row.plan_lanes for b in lane] == ["upcoming"]
    assert response.context["today_date"] == "2026-11-30"
    # No date asked: the company's month, and its Today link.
    assert default.context["period"].first == date(2026, 11, 1)
    assert default.context["today_date"] == "2026-11-30"
    assert listed.context["period"].first == date(2026, 11, 1)
    assert plan_panel.context["ppanel"].state == "upcoming"
    assert campaign_panel.context["cpanel"].state == "upcoming"
    assert with_panel.context["ppanel"].state == "upcoming"


@pytest.mark.parametrize("viewer", VIEWERS)
def test_campaign_page_counts_the_same_days_for_every_viewer(client, world, december, viewer):
    campaign, _, autumn = december
    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = viewer
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("campaign", args=[autumn.pk]))
        compared = client.get(reverse("campaign", args=[autumn.pk]), {"compare": campaign.pk})
        upcoming = client.get(reverse("campaign", args=[campaign.pk]))
    pacing = page.context["pacing"]
    assert (pacing.elapsed_days, pacing.total_days) == (57, 85)
    assert 'Campaign days so far: <strong data-testid="elapsed-days">57 of 85' in (
        page.content.decode()
    )
    assert page.context["state"] == "running"
    assert upcoming.context["state"] == "upcoming"
    # The KPI days drawn run to the company's today (30 Nov), not the viewer's.
    assert page.context["kpis"].days[-1] == date(2026, 11, 30)
    assert "57 of its 85 days so far" in compared.content.decode()
