"""Names and keyboard paths a screen reader and a keyboard depend on, in a real browser: a blank
name upstream is still a link's name, a bar over several weeks is one Tab stop, and a shared
campaign's Plans are counted alike on the workbench and the calendar's list."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import Plan
from sapmc.models import ExternalCampaign
from tests.browser.conftest import cells_out_of_view, htmx_settled, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARCH = "zoom=month&date=2026-03-01"


def _blank_names(world) -> tuple[str, str, str]:
    """Spring's campaign and two of maria's Plans without names, one feeding it; what pages
    show for each."""
    spring, fed, spare = world.campaigns[0], world.plans[0], world.plans[1]
    ExternalCampaign.objects.filter(pk=spring.pk).update(name="")
    Plan.objects.filter(pk=fed.pk).update(name="  ")
    Plan.objects.filter(pk=spare.pk).update(name="\u200b")
    Assignment.objects.create(plan=fed, campaign=spring, assigned_at=timezone.now())
    return (
        "(no name) · 100",
        f"(no name) · {fed.khoros_id.hex}",
        f"(no name) · {spare.khoros_id.hex}",
    )


def _starts(name: str) -> re.Pattern[str]:
    """An accessible name that starts with `name` (a bar's marks follow it), and not with a
    longer id: "(no name) · 100" is not "(no name) · 100b3…"."""
    return re.compile("^" + re.escape(name) + "(?![0-9a-f])")


def test_a_blank_name_is_the_links_accessible_name_on_the_workbench_and_calendar(
    live_server, world, page
):
    campaign, fed, spare = _blank_names(world)
    base = live_server.url
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        sign_in(page, base, "maria")
        page.goto(f"{base}/workbench/?c-q=100&p-q=&cpage=1&ppage=1")
        # The campaign's link, named by the rule (then its ID, dates and Plans, as any other).
        link = page.get_by_role("link", name=_starts(campaign))
        assert link.count() == 1
        link.click()
        page.get_by_role("heading", name=campaign, exact=True).wait_for()
        htmx_settled(page)
        assert page.title().startswith(f"{campaign} · Workbench")
        assert page.get_by_role("button", name=f"Unassign {fed}", exact=True).count() == 1
        # The Plan without a name is found by the id its name shows.
        page.get_by_label("Search Plans").fill(spare.removeprefix("(no name) · "))
        page.get_by_role("checkbox", name=f"Select {spare}", exact=True).wait_for()
        assert page.get_by_role("button", name=f"Assign {spare}", exact=True).count() == 1
        screenshot(page, "blank-names-workbench")

        page.goto(f"{base}/calendar/?{MARCH}")
        # Each bar's first week row is a link named by the rule; the rows after it say so.
        for name in (campaign, fed):
            bars = page.locator(".month").get_by_role("link", name=_starts(name))
            assert bars.count() == 6
            assert bars.first.evaluate("a => a.textContent.trim()").startswith(name)
            assert (
                page.locator(".month")
                .get_by_role("link", name=_starts(f"{name} (continued)"))
                .count()
                == 5
            )
        page.locator(".month").get_by_role("link", name=_starts(campaign)).first.click()
        page.locator("#cal-panel").get_by_role("heading", name=campaign, exact=True).wait_for()
        assert page.locator("#cal-panel .panel-plans li").all_inner_texts() == [fed]

        page.goto(f"{base}/calendar/?zoom=quarter&date=2026-03-01")
        label = page.locator(".tl-label").get_by_role("link", name=campaign, exact=True)
        assert label.count() == 1
        assert page.locator(".tl-track").get_by_role("link", name=_starts(fed)).count() == 1
        screenshot(page, "blank-names-calendar-quarter")


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
