"""Calendar navigation and a sync watched live, in a real browser; screenshots as artifacts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from campaigns.models import Assignment
from syncs.models import SyncRun
from syncs.runs import sync_request
from syncs.tasks import sync_task
from tests.browser.conftest import htmx_settled, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_navigates_the_calendar(live_server, world, page):
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(live_server.url + "/")
        page.get_by_role("link", name="Calendar").click()
        page.get_by_role("heading", name="March 2026").wait_for()
        assert page.locator(".day.today").inner_text() == "18"
        page.evaluate("window.__notReloaded = true")

        page.get_by_role("link", name="Quarter").click()
        page.get_by_role("heading", name="Q1 2026").wait_for()
        assert "zoom=quarter" in page.url
        spring = page.locator(".tl-row.campaign a.bar", has_text="Spring Sale 2026")
        assert spring.get_attribute("data-start") == "2026-03-01"
        assert spring.get_attribute("data-end") == "2026-03-31"
        assert page.locator(".tl-row.plans .bar", has_text="Spring Sale social").count() == 1
        assert page.locator(".today-line").count() > 0
        screenshot(page, "calendar-quarter")

        # htmx binds the swapped-in links as it settles: a click before that, on a loaded
        # machine, followed the link's href as a plain page load.
        htmx_settled(page)
        page.get_by_role("link", name="Next ›").click()
        page.get_by_role("heading", name="Q2 2026").wait_for()
        assert page.locator(".tl-row.campaign a.bar", has_text="Summer 2026").count() == 1

        # By keyboard: Enter on "Next ›" twice goes on twice, the focus staying on it (it
        # went to the zoom button that took the old address, and the second Enter reloaded).
        htmx_settled(page)
        page.get_by_role("link", name="Next ›").focus()
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Q3 2026").wait_for()
        htmx_settled(page)
        assert page.evaluate("document.activeElement.textContent.trim()") == "Next ›"
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Q4 2026").wait_for()
        htmx_settled(page)
        page.get_by_role("link", name="‹ Previous").focus()
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Q3 2026").wait_for()
        htmx_settled(page)
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Q2 2026").wait_for()

        htmx_settled(page)
        page.get_by_label("Search").fill("teaser")
        page.locator(".bar", has_text="Summer teaser").wait_for()
        page.wait_for_function("() => !document.querySelector('.tl-row.campaign a.bar')")
        assert "q=teaser" in page.url
        assert page.evaluate("window.__notReloaded") is True
        # The URL is real: opening it fresh shows the same filtered quarter.
        page.goto(page.url)
        page.get_by_role("heading", name="Q2 2026").wait_for()
        assert page.locator(".bar", has_text="Summer teaser").count() == 1

        page.get_by_role("link", name="Month", exact=True).click()
        page.get_by_role("heading", name="April 2026").wait_for()
        htmx_settled(page)
        page.get_by_label("Search").fill("")
        page.wait_for_function("() => !location.search.includes('teaser')")
        page.get_by_role("link", name="‹ Previous").click()
        page.get_by_role("heading", name="March 2026").wait_for()
        screenshot(page, "calendar-month")
        # A bar opens its side panel; the panel links to the campaign page.
        page.locator("a.bar", has_text="Spring Sale 2026").first.click()
        page.locator("#cal-panel").get_by_role("heading", name="Spring Sale 2026").wait_for()
        page.get_by_role("link", name="Open campaign page").click()
        # The panel's own heading has the same name: wait for the campaign page's address.
        page.wait_for_url("**/campaigns/*/")
        page.get_by_role("heading", name="Spring Sale 2026").wait_for()


def test_admin_watches_a_sync_run_to_the_end(live_server, world, live_khoros, page):
    sign_in(page, live_server.url, "alex")
    run, _ = sync_request(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, requested_by=world.admin
    )
    page.goto(f"{live_server.url}/syncs/{run.pk}/")
    assert page.get_by_test_id("run-status").inner_text() == "Queued"
    # Each Initiative's Plans answer slowly, so the run is seen in progress.
    live_khoros.sim.add_fault("plans", "slow_headers", count=4, seconds=0.8)

    def work() -> None:
        try:
            sync_task(SyncRun.Kind.KHOROS_PLANS, run.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    page.get_by_test_id("run-status").filter(has_text="Running").wait_for(timeout=10_000)
    page.get_by_test_id("run-progress").filter(has_text="of 4").wait_for(timeout=10_000)
    screenshot(page, "sync-run-running")
    page.get_by_test_id("run-status").filter(has_text="Succeeded").wait_for(timeout=20_000)
    worker.join(timeout=20)
    assert page.get_by_test_id("run-progress").inner_text() == "4 of 4"
    # The outcomes table (the run page also lists the run's requests now).
    outcomes = page.get_by_test_id("run-outcomes")
    assert "Brand" in outcomes.inner_text() or outcomes.locator("tbody tr").count() == 4
    screenshot(page, "sync-run-finished")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
