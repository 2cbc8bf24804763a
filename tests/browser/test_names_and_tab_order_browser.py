"""Keyboard paths and counts a keyboard and a screen reader depend on, in a real browser: a bar
over several weeks of the month grid is one Tab stop, and a shared campaign's Plans are counted
alike on the workbench and the calendar's list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone

from campaigns.models import Assignment
from tests.browser.conftest import cells_out_of_view, htmx_settled, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARCH = "zoom=month&date=2026-03-01"


def test_tab_reaches_each_item_of_the_month_once(live_server, world, page):
    """Spring Sale 2026 and the Plan feeding it run all of March (six week rows), "Spring Sale
    video" four: Tab stops at each once, at its first row, and goes on past the grid."""
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    base = live_server.url
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        sign_in(page, base, "alex")
        page.goto(f"{base}/calendar/?{MARCH}")
        drawn = page.eval_on_selector_all(
            ".month a.bar", "bars => bars.map(b => b.getAttribute('data-panel'))"
        )
        assert sorted(set(drawn)) == sorted(
            [f"c{world.campaigns[0].pk}", f"p{world.plans[0].pk}", f"p{world.plans[2].pk}"]
        )
        assert len(drawn) == 6 + 6 + 4
        in_grid = "() => !!document.activeElement.closest('.month')"
        for _ in range(100):  # from the top of the page to the grid, as a keyboard goes
            page.keyboard.press("Tab")
            if page.evaluate(in_grid):
                break
        reached = []
        while page.evaluate(in_grid):
            reached.append(page.evaluate("document.activeElement.getAttribute('data-panel')"))
            page.keyboard.press("Tab")
            assert len(reached) <= len(drawn), reached
        assert sorted(reached) == sorted(set(drawn))
        # Each at its first segment: the first bar of its kind in the page, which the panel's
        # Escape also gives the focus back to.
        page.keyboard.press("Shift+Tab")
        last = page.evaluate("document.activeElement.getAttribute('data-panel')")
        page.keyboard.press("Enter")
        page.locator("#cal-panel h2").wait_for()
        htmx_settled(page)
        page.keyboard.press("Escape")
        page.wait_for_function(
            "key => document.activeElement.getAttribute('data-panel') === key", arg=last
        )
        assert page.evaluate(
            "key => document.activeElement === document.querySelector(`.bar[data-panel='${key}']`)",
            last,
        )


@pytest.mark.parametrize("width", [1440, 390])
def test_a_managers_plan_counts_read_alike_on_the_workbench_and_the_list(
    live_server, world, page, width
):
    for plan in (world.plans[0], world.plans[2]):  # maria's and tom's
        Assignment.objects.create(
            plan=plan, campaign=world.campaigns[0], assigned_at=timezone.now()
        )
    said = "1 Plan (and 1 in Initiatives you cannot see)"
    count = f"#plan-count-{world.campaigns[0].pk}"
    base = live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        sign_in(page, base, "maria")
        page.goto(f"{base}/workbench/?c-q=Spring&cpage=1&ppage=1")
        assert page.locator(count).inner_text() == said
        screenshot(page, f"plan-counts-workbench-{width}")
        page.goto(f"{base}/calendar/list/?{MARCH}")
        assert page.locator(count).inner_text() == said
        assert cells_out_of_view(page) == []
        screenshot(page, f"plan-counts-calendar-list-{width}")
