"""The calendar in a browser: Plan bars lead somewhere, odd dates stay readable; screenshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone

from campaigns.models import Assignment
from sapmc.models import CampaignReference
from tests.browser.conftest import htmx_settled, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plan_bars_open_their_campaign_or_the_workbench(live_server, world, page):
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/calendar/?zoom=month&date=2026-03-01")
    htmx_settled(page)
    # A bar opens its side panel (issue 11); the panel leads to the campaign or the workbench.
    page.locator("a.bar.plan", has_text="Spring Sale social").first.click()
    page.locator("#cal-panel").get_by_role("heading", name="Spring Sale social").wait_for()
    page.locator("#cal-panel").get_by_role("link", name="Open campaign page").click()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    assert page.url.endswith(f"/campaigns/{spring.pk}/")

    page.go_back()
    page.get_by_role("heading", name="March 2026").wait_for()
    htmx_settled(page)
    page.locator("a.bar.plan", has_text="Spring Sale video").first.click()
    page.locator("#cal-panel").get_by_role("heading", name="Spring Sale video").wait_for()
    page.locator("#cal-panel").get_by_role("link", name="Open in the workbench").click()
    page.get_by_role("heading", name="Assignment workbench").wait_for()
    assert page.locator("#id_p-q").input_value() == "Spring Sale video"
    assert page.locator("#plan-list").inner_text().count("Spring Sale video") == 1


def test_a_date_far_out_gives_a_page_not_an_error(live_server, world, page):
    sign_in(page, live_server.url, "maria")
    response = page.goto(f"{live_server.url}/calendar/?zoom=month&date=9999-12-15")
    assert response.status == 200
    page.locator("main").get_by_text("showing 2199-12-31 instead of 9999-12-15").wait_for()
    page.get_by_role("link", name="Next ›").click()
    page.get_by_role("heading", name="December 2199").wait_for()


@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize("zoom", ["month", "year"])
def test_calendar_screenshots(live_server, world, page, width, zoom):
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    CampaignReference.objects.create(
        campaign=spring,
        external_campaign_id=world.plans[0].khoros_id.hex,
        plan=world.plans[0],
        managing_party=world.initiatives[0].khoros_id,
    )
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        page.set_viewport_size({"width": width, "height": 900})
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom={zoom}&date=2026-03-01")
        htmx_settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"calendar-{zoom}-{width}")
