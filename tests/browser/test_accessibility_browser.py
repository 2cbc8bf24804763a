"""Every main page passes axe-core's accessibility rules (WCAG 2 A and AA) in a real browser.

axe-core is the engine behind the browsers' own accessibility audits. Each page is checked as a
sync admin sees it, with data on it, and the pages a manager sees differently as a manager; a
violation names its rule, how serious it is and the first element it found.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import htmx_settled, main_pages, sign_in, world_with_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
RULES = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def _violations(page, where: str) -> list[str]:
    found = AXE.run(page, options=RULES).response["violations"]
    return [
        f"{where}: {v['id']} ({v['impact']}) x{len(v['nodes'])} at {v['nodes'][0]['target']}: "
        f"{v['nodes'][0]['html'][:120]}"
        for v in found
    ]


def test_main_pages_pass_axe_for_an_admin_and_a_manager(live_server, world, page):
    run = world_with_data(world)
    base = live_server.url
    found: list[str] = []
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        page.goto(f"{base}/login/")
        found += _violations(page, "/login/")
        sign_in(page, base, "alex")
        pages = main_pages(base, world, run, admin=True)
        pages += [f"{base}/calendar/list/", f"{base}/syncs/?kind=khoros_plans"]
        for url in pages:
            page.goto(url)
            found += _violations(page, url.removeprefix(base) + " (admin)")
        # The calendar's side panel, swapped in by htmx.
        page.goto(f"{base}/calendar/")
        page.locator("a.bar", has_text="Spring Sale 2026").first.click()
        page.get_by_role("link", name="Open campaign page").wait_for()
        htmx_settled(page)
        found += _violations(page, "/calendar/ with a campaign's panel (admin)")
        # On a phone, tables wider than the screen scroll: a keyboard must reach them too.
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/", f"/campaigns/{world.campaigns[0].pk}/"):
            page.goto(base + path)
            if path != "/":
                page.get_by_text("The daily numbers as a table").click()
            found += _violations(page, path + " at 390 px (admin)")
        page.set_viewport_size({"width": 1280, "height": 900})

        # The first Tab stop skips the top bar's links to the page itself.
        page.goto(f"{base}/syncs/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('header')") is None

        page.context.clear_cookies()
        sign_in(page, base, "maria")
        for path in ("/", "/workbench/", "/audit/"):  # her dashboard, her Plans, the 403 page
            page.goto(base + path)
            found += _violations(page, path + " (manager)")
    assert found == []
