"""The calendar as a planning surface in a real browser: side panel, drag to assign, the same by
keyboard, the list view's sorting, the manager's home; screenshots at 1440 and 390 px."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from campaigns.models import Assignment, AuditEvent
from sapmc.models import CampaignReference, ExternalCampaign
from tests.browser.conftest import htmx_settled, screenshot, sign_in
from tests.world import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
WIDTHS = (1440, 390)


def test_side_panel_opens_at_a_real_url_closes_with_escape_and_returns_focus(
    live_server, world, page
):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-04-01")
        htmx_settled(page)
        bar = page.locator(".tl-row.campaign a.bar", has_text="Summer 2026")
        bar.click()
        panel = page.locator("#cal-panel")
        panel.get_by_role("heading", name="Summer 2026").wait_for()
        htmx_settled(page)
        assert f"panel=c{world.campaigns[1].pk}" in page.url
        assert page.evaluate("document.activeElement.id") == "panel-title"
        assert "2026-06-01 – 2026-08-31" in panel.inner_text()
        assert panel.get_by_role("link", name="Open in the workbench").count() == 1
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"calendar-panel-{width}")
        page.set_viewport_size({"width": 1440, "height": 900})

        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('#cal-panel .panel-inner')")
        assert "panel=" not in page.url
        assert page.evaluate("document.activeElement.getAttribute('data-panel')") == (
            f"c{world.campaigns[1].pk}"
        )

        # Back reopens it, Forward closes it again: the address and the page agree.
        page.go_back()
        panel.get_by_role("heading", name="Summer 2026").wait_for()
        assert f"panel=c{world.campaigns[1].pk}" in page.url
        # Back reloaded the page: its (deferred) scripts run before a person presses Forward.
        page.wait_for_load_state("load")
        page.go_forward()
        page.wait_for_function("() => !location.search.includes('panel=')")
        # Forward reloads the page (no htmx history cache): wait for the new one, not the old.
        page.wait_for_load_state("load")
        page.wait_for_function("() => !document.querySelector('#cal-panel .panel-inner')")
        htmx_settled(page)
        assert panel.locator(".panel-inner").count() == 0

        # The URL is real: opened fresh, the panel is there; the close button works too.
        page.goto(
            f"{live_server.url}/calendar/?zoom=quarter&date=2026-04-01&panel=p{world.plans[1].pk}"
        )
        panel.get_by_role("heading", name="Summer teaser").wait_for()
        panel.get_by_role("link", name="Close details (Escape)").click()
        page.wait_for_function("() => !document.querySelector('#cal-panel .panel-inner')")


def test_drag_an_unassigned_plan_onto_a_campaign_row_assigns_it(live_server, world, page):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-04-01")
        htmx_settled(page)
        plan_bar = page.locator(
            '.tl-row.unassigned a.bar[draggable="true"]', has_text="Summer teaser"
        )
        row = page.locator(f'.tl-row.campaign[data-campaign="{world.campaigns[1].pk}"]')
        plan_bar.drag_to(row)
        page.locator("main").get_by_text("Assigned “Summer teaser” to “Summer 2026”.").wait_for()
        htmx_settled(page)
        assignment = Assignment.objects.get(plan=world.plans[1])
        assert assignment.campaign == world.campaigns[1] and assignment.assigned_by == world.maria
        assert (
            AuditEvent.objects.filter(action="assignment.create", plan=world.plans[1]).count() == 1
        )
        # It now draws under its campaign, no longer among the unassigned.
        assert page.locator(".tl-row.unassigned .bar", has_text="Summer teaser").count() == 0
        assert (
            page.locator(".tl-row.plans:not(.unassigned) .bar", has_text="Summer teaser").count()
            == 1
        )
        assert "zoom=quarter" in page.url
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"calendar-after-drag-{width}")


def test_a_drag_outside_the_campaigns_dates_asks_first_as_the_workbench_does(
    live_server, world, page
):
    late_spring = make_campaign("Late spring", date(2026, 4, 1), date(2026, 5, 31))
    late_spring.save()
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-04-01")
        htmx_settled(page)
        plan_bar = page.locator(
            '.tl-row.unassigned a.bar[draggable="true"]', has_text="Summer teaser"
        )
        row = page.locator(f'.tl-row.campaign[data-campaign="{late_spring.pk}"]')
        plan_bar.drag_to(row)
        question = page.get_by_role("alertdialog")
        question.wait_for()
        htmx_settled(page)
        text = question.inner_text()
        assert "Assign “Summer teaser” to “Late spring”?" in text
        assert "This Plan runs 1 Jun–15 Jun, outside the campaign's 1 Apr–31 May." in text
        # The question takes the focus: "Assign anyway" is what a keyboard answers first.
        assert page.evaluate("document.activeElement.id") == "confirm-yes"
        assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"calendar-drag-question-{width}")
        page.set_viewport_size({"width": 1440, "height": 900})

        # Cancel: the calendar as it was, nothing assigned, nothing audited; the focus back on
        # the bar that was dragged, not in some field further down the page.
        question.get_by_role("link", name="Cancel").click()
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.getAttribute('data-panel')") == (
            f"p{world.plans[1].pk}"
        )
        # Escape answers as Cancel does, with the same focus.
        plan_bar.drag_to(row)
        question.wait_for()
        htmx_settled(page)
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.getAttribute('data-panel')") == (
            f"p{world.plans[1].pk}"
        )
        assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
        assert page.locator(".tl-row.unassigned .bar", has_text="Summer teaser").count() == 1
        assert "zoom=quarter" in page.url and "date=2026-04-01" in page.url

        # Dragged again and answered: assigned, once, by her.
        plan_bar.drag_to(row)
        question.get_by_role("button", name="Assign anyway").click()
        page.locator("main").get_by_text("Assigned “Summer teaser” to “Late spring”.").wait_for()
        htmx_settled(page)
        assignment = Assignment.objects.get(plan=world.plans[1])
        assert assignment.campaign == late_spring and assignment.assigned_by == world.maria
        assert list(AuditEvent.objects.values_list("action", flat=True)) == ["assignment.create"]
        assert page.get_by_role("alertdialog").count() == 0
        assert page.locator(".tl-row.unassigned .bar", has_text="Summer teaser").count() == 0


def test_keyboard_path_assigns_from_the_plans_panel(live_server, world, page):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-04-01")
        htmx_settled(page)
        page.locator(".tl-row.unassigned a.bar", has_text="Summer teaser").focus()
        page.keyboard.press("Enter")
        panel = page.locator("#cal-panel")
        panel.get_by_role("heading", name="Summer teaser").wait_for()
        htmx_settled(page)
        assert page.evaluate("document.activeElement.id") == "panel-title"
        page.keyboard.press("Tab")  # from the heading to the "Assign to…" menu
        assert page.evaluate("document.activeElement.id") == "assign-to"
        menu = page.get_by_label("Assign to…")
        menu.select_option(label="Summer 2026 (2026-06-01 – 2026-08-31)")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        panel.get_by_test_id("panel-feeds").get_by_role("link", name="Summer 2026").wait_for()
        htmx_settled(page)
        assert Assignment.objects.get(plan=world.plans[1]).campaign == world.campaigns[1]
        assert page.evaluate("document.activeElement.id") == "panel-title"
        assert (
            page.locator("#cal-feedback").inner_text()
            == "Assigned “Summer teaser” to “Summer 2026”."
        )
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"calendar-keyboard-assign-{width}")


def test_list_view_sorts_by_clicking_column_headers(live_server, world, page):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=year&date=2026-01-01")
        page.get_by_role("link", name="List", exact=True).click()
        table = page.get_by_test_id("campaign-table")
        table.wait_for()

        def names() -> list[str]:
            return [
                n.split("\n")[0].rsplit(" ", 1)[0]
                for n in table.locator("tbody tr td:first-child").all_inner_texts()
            ]

        assert names() == ["Spring Sale 2026", "Summer 2026", "Autumn 2026"]
        htmx_settled(page)
        page.locator("#sort-name").click()
        page.wait_for_function("() => location.search.includes('sort=name')")
        htmx_settled(page)
        assert names() == ["Autumn 2026", "Spring Sale 2026", "Summer 2026"]
        assert table.locator("th[aria-sort=ascending]").inner_text().startswith("CAMPAIGN")
        page.locator("#sort-name").click()
        page.wait_for_function("() => location.search.includes('sort=-name')")
        htmx_settled(page)
        assert names() == ["Summer 2026", "Spring Sale 2026", "Autumn 2026"]
        # Mass assign: tick a Plan, choose a campaign of the view.
        page.get_by_label("Select Summer teaser").check()
        page.get_by_label("Assign the selected Plans to").select_option(label="Summer 2026")
        page.get_by_role("button", name="Assign selected").click()
        page.locator("main").get_by_text("Assigned 1 Plan to “Summer 2026”.").wait_for()
        assert Assignment.objects.get(plan=world.plans[1]).campaign == world.campaigns[1]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"calendar-list-{width}")
        # On a desktop the Plans and Impressions headings stand over their numbers, at the
        # right: they were at the left of columns whose numbers are at the right.
        page.set_viewport_size({"width": 1440, "height": 900})
        ends = page.evaluate(NUMBER_COLUMN_ENDS)
        assert [key for key, _, _ in ends] == ["sort-plans", "sort-kpis"]
        for key, heading, numbers in ends:
            assert abs(heading - numbers) <= 1, (key, heading, numbers)


# Each number column of the list's campaigns: its heading link's right edge and its cells' text.
NUMBER_COLUMN_ENDS = """() => {
  const table = document.querySelector('[data-testid=campaign-table]');
  const right = el => { const r = document.createRange(); r.selectNodeContents(el);
                        return Math.round(r.getBoundingClientRect().right); };
  const heads = [...table.querySelectorAll('thead th')];
  return heads.flatMap((th, i) => {
    const cells = [...table.querySelectorAll(`tbody tr td:nth-child(${i + 1})`)];
    if (!cells.length || !cells.every(td => td.classList.contains('num'))) return [];
    return [[th.querySelector('a').id, right(th.querySelector('a')), right(cells[0])]];
  });
}"""


def test_manager_home_and_saved_view(live_server, world, page):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(live_server.url + "/")
        page.get_by_test_id("home-starting-empty").get_by_role(
            "link", name="Summer 2026"
        ).wait_for()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            # Nothing runs off the side of the page, on a phone either.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"manager-home-{width}")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(f"{live_server.url}/calendar/?zoom=days90&date=2026-05-20")
        page.get_by_label("Name for these filters").fill("Next 90 days, mine")
        page.get_by_role("button", name="Save view").click()
        page.get_by_role("link", name="Next 90 days, mine").wait_for()
        page.get_by_role("link", name="Month", exact=True).click()
        # Exact: the 90 days' heading "20 May 2026 – 17 Aug 2026" contains "May 2026", and a
        # click made before the month's swap had landed was undone by the URL the swap pushed.
        page.get_by_role("heading", name="May 2026", exact=True).wait_for()
        htmx_settled(page)
        page.get_by_role("link", name="Next 90 days, mine").click()
        page.get_by_role("heading", name="20 May 2026 – 17 Aug 2026").wait_for()


def test_drag_in_the_month_grid_onto_a_campaign_bar(live_server, world, page):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=month&date=2026-03-01")
        htmx_settled(page)
        plan_bar = page.locator('a.bar.plan[draggable="true"]', has_text="Spring Sale social")
        campaign_bar = page.locator(
            f'a.bar[data-campaign="{world.campaigns[0].pk}"]', has_text="Spring Sale 2026"
        )
        plan_bar.nth(1).drag_to(campaign_bar.nth(2))
        page.locator("main").get_by_text(
            "Assigned “Spring Sale social” to “Spring Sale 2026”."
        ).wait_for()
        assert Assignment.objects.get(plan=world.plans[0]).campaign == world.campaigns[0]
        htmx_settled(page)
        assert (
            page.locator('a.bar.plan[draggable="true"]', has_text="Spring Sale social").count() == 0
        )
        assert "zoom=month" in page.url and "date=2026-03-01" in page.url


CENTRE_IS_ITSELF = """(id) => {
    const el = document.getElementById(id);
    const box = el.getBoundingClientRect();
    return document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2) === el;
}"""
# No part of the question under something else: its corners and centre are its own.
NOTHING_ON_IT = """() => {
    const question = document.querySelector('[role=alertdialog]');
    const b = question.getBoundingClientRect();
    const points = [[b.left + 3, b.top + 3], [b.right - 3, b.top + 3], [b.left + 3, b.bottom - 3],
                    [b.right - 3, b.bottom - 3], [(b.left + b.right) / 2, (b.top + b.bottom) / 2]];
    return points.filter(([x, y]) => !question.contains(document.elementFromPoint(x, y)));
}"""
WHOLE_IN_VIEW = """() => {
    const box = document.querySelector('[role=alertdialog]').getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
}"""


def _another_initiatives_campaign(world):
    """Spring Sale 2026 made Brand 1's: assigning Brand 0's Spring Sale social to it asks."""
    CampaignReference.objects.create(
        campaign=world.campaigns[0],
        external_campaign_id=world.plans[2].khoros_id.hex,
        managing_party=world.initiatives[1].khoros_id,
    )
    return world.campaigns[0], world.plans[0]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_panels_question_is_seen_on_top_and_cancel_returns_to_assign(
    live_server, world, page, width
):
    spring, social = _another_initiatives_campaign(world)
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-01-01")
        htmx_settled(page)
        page.locator(".tl-row.unassigned a.bar", has_text="Spring Sale social").click()
        panel = page.locator("#cal-panel")
        panel.get_by_role("heading", name="Spring Sale social").wait_for()
        htmx_settled(page)

        def ask() -> None:
            panel.get_by_label("Assign to…").select_option(value=str(spring.pk))
            panel.get_by_role("button", name="Assign", exact=True).click()
            panel.get_by_role("alertdialog").wait_for()
            htmx_settled(page)
            # Seen, on top, and holding the focus: at 390 the panel covers the whole calendar.
            assert page.evaluate("document.activeElement.id") == "confirm-yes"
            assert page.evaluate(CENTRE_IS_ITSELF, "confirm-yes")
            assert page.evaluate(WHOLE_IN_VIEW)
            assert page.get_by_role("alertdialog").count() == 1
            assert "not of the campaign's own" in panel.get_by_role("alertdialog").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= width

        ask()
        screenshot(page, f"calendar-panel-question-{width}")
        # Escape cancels: the panel as it was, the focus on its Assign, not in a form field.
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.id") == "panel-assign"
        assert f"panel=p{social.pk}" in page.url
        ask()
        panel.get_by_role("link", name="Cancel").click()
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.id") == "panel-assign"
        assert not Assignment.objects.exists() and not AuditEvent.objects.exists()

        ask()
        page.keyboard.press("Enter")
        panel.get_by_test_id("panel-feeds").get_by_role("link", name="Spring Sale 2026").wait_for()
        htmx_settled(page)
        assert Assignment.objects.get(plan=social).campaign == spring
        assert page.evaluate("document.activeElement.id") == "panel-title"


def test_a_question_low_on_the_page_comes_into_view_whole(live_server, world, page):
    spring, social = _another_initiatives_campaign(world)
    # Long Initiative names make a tall question; a dozen campaigns put the Plan low on the page.
    for number, initiative in enumerate(world.initiatives[:2]):
        initiative.name = f"Brand {number} " + "with a very long name " * 11
        initiative.save()
    for number in range(12):
        make_campaign(f"January {number}", date(2026, 1, 1), date(2026, 1, 31)).save()
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.set_viewport_size({"width": 1440, "height": 200})
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-01-01")
        htmx_settled(page)
        plan_bar = page.locator('.tl-row.unassigned a.bar[draggable="true"]', has_text="social")
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        plan_bar.drag_to(page.locator(f'.tl-row.campaign[data-campaign="{spring.pk}"]'))
        page.get_by_role("alertdialog").wait_for()
        htmx_settled(page)
        height = page.evaluate("document.querySelector('[role=alertdialog]').offsetHeight")
        # Taller than half the screen: centring its button alone cut off its title and reasons.
        assert 130 < height < 200
        assert page.evaluate(WHOLE_IN_VIEW)
        assert page.evaluate("document.activeElement.id") == "confirm-yes"


def test_the_lists_question_cancel_keeps_the_selection_and_focus(live_server, world, page):
    spring, social = _another_initiatives_campaign(world)
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/list/?zoom=year&date=2026-01-01")
        htmx_settled(page)
        page.get_by_label("Select Spring Sale social").check()
        page.get_by_label("Assign the selected Plans to").select_option(label="Spring Sale 2026")
        page.locator("#mass-campaign").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "mass-assign"

        def ask() -> None:
            page.keyboard.press("Enter")
            page.get_by_role("alertdialog").wait_for()
            htmx_settled(page)
            assert page.evaluate("document.activeElement.id") == "confirm-yes"
            assert page.evaluate(WHOLE_IN_VIEW)

        ask()
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        # As it was: the tick, the campaign, the focus on "Assign selected".
        assert page.get_by_label("Select Spring Sale social").is_checked()
        assert page.locator("#mass-campaign").input_value() == str(spring.pk)
        assert page.evaluate("document.activeElement.id") == "mass-assign"
        # Not part of the view: a sort keeps neither.
        assert "plans=" not in page.locator("#sort-name").get_attribute("href")

        page.set_viewport_size({"width": 390, "height": 800})
        ask()
        assert page.evaluate(CENTRE_IS_ITSELF, "confirm-yes")
        page.get_by_role("link", name="Cancel").click()
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.get_by_label("Select Spring Sale social").is_checked()
        assert page.evaluate("document.activeElement.id") == "mass-assign"

        ask()
        page.get_by_role("button", name="Assign anyway").click()
        page.locator("main").get_by_text("Assigned 1 Plan to “Spring Sale 2026”.").wait_for()
        htmx_settled(page)
        assert Assignment.objects.get(plan=social).campaign == spring
        # Near the list, where the next Plans are ticked: other Plans remain, so its button.
        assert page.evaluate("document.activeElement.id") == "mass-assign"


def test_list_pager_by_keyboard_keeps_the_focus_sort_and_page(live_server, world, page):
    ExternalCampaign.objects.bulk_create(
        make_campaign(
            f"Bulk {i:03d}", date(2026, 4, 1), date(2026, 4, 30), campaign_id=str(5000 + i)
        )
        for i in range(205)
    )  # with the world's 3: 208 campaigns, three pages of 100
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/list/?zoom=year&date=2026-01-01&sort=-name")
        table = page.get_by_test_id("campaign-table")
        first_name = table.locator("tbody tr td:first-child a")
        assert first_name.first.inner_text() == "Summer 2026"
        htmx_settled(page)
        pager = page.get_by_role("navigation", name="Campaign pages")
        pager.get_by_role("link", name="Next page").focus()
        page.keyboard.press("Enter")
        page.wait_for_function("() => location.search.includes('page=2')")
        htmx_settled(page)
        # The swap keeps the keyboard where it was: a second Enter goes on to page 3.
        assert page.evaluate("document.activeElement.id") == "page-next"
        assert "sort=-name" in page.url
        assert pager.locator("span").inner_text() == "Campaigns 101–200 of 208"
        assert table.locator("th[aria-sort=descending]").inner_text().startswith("CAMPAIGN")
        page_two_first = first_name.first.inner_text()
        assert page_two_first == "Bulk 106"  # page 1: Summer, Spring Sale, Bulk 204 … Bulk 107
        # A reload and a bookmark of the page-2 address show page 2; Back shows page 1 again.
        page.reload()
        assert first_name.first.inner_text() == page_two_first
        page.go_back()
        page.wait_for_function("() => !location.search.includes('page=2')")
        htmx_settled(page)
        assert first_name.first.inner_text() == "Summer 2026"


def _drop(page, bar, row) -> None:
    """Drop `bar` on `row` through the drag's own events, the pointer nowhere: at 390 px the open
    panel covers the whole calendar, and a phone turned from landscape (or a window narrowed)
    leaves a question asked beside the panel under it all the same."""
    carried = page.evaluate_handle("() => new DataTransfer()")
    bar.dispatch_event("dragstart", {"dataTransfer": carried})
    row.dispatch_event("dragover", {"dataTransfer": carried})
    row.dispatch_event("drop", {"dataTransfer": carried})
    bar.dispatch_event("dragend", {"dataTransfer": carried})


def _year_with_panel(page, base: str, width: int, height: int, panel: str, heading: str):
    """Maria's year view of 2026 at this size with a side panel open (`c<id>` or `p<id>`)."""
    sign_in(page, base, "maria")
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{base}/calendar/?zoom=year&date=2026-01-01&panel={panel}")
    locator = page.locator("#cal-panel")
    locator.get_by_role("heading", name=heading).wait_for()
    htmx_settled(page)
    return locator


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_a_drag_with_the_panel_open_asks_on_top_of_the_panel(live_server, world, page, width):
    """Under 1100 px the panel covers part of the calendar (at 390 px all of it): the question a
    drop asks was drawn in the calendar under it, unseen and out of reach. Wider, the calendar
    makes room for the panel and asks in its own place."""
    late_spring = make_campaign("Late spring", date(2026, 4, 1), date(2026, 5, 31))
    late_spring.save()
    summer = world.campaigns[1]
    with time_machine.travel(NOW, tick=True):
        panel = _year_with_panel(page, live_server.url, width, 800, f"c{summer.pk}", "Summer 2026")
        plan_bar = page.locator(
            '.tl-row.unassigned a.bar[draggable="true"]', has_text="Summer teaser"
        )
        row = page.locator(f'.tl-row.campaign[data-campaign="{late_spring.pk}"]')
        question = page.get_by_role("alertdialog")

        def ask() -> None:
            if width > 700:
                plan_bar.drag_to(row)  # a person's drag, on the calendar beside the panel
            else:
                _drop(page, plan_bar, row)
            question.wait_for()
            htmx_settled(page)
            assert "Assign “Summer teaser” to “Late spring”?" in question.inner_text()
            # Seen, on top of the panel, whole, and holding the focus.
            assert page.evaluate("document.activeElement.id") == "confirm-yes"
            assert page.evaluate(CENTRE_IS_ITSELF, "confirm-yes")
            assert page.evaluate(CENTRE_IS_ITSELF, "confirm-cancel")
            assert page.evaluate(NOTHING_ON_IT) == []
            assert page.evaluate(WHOLE_IN_VIEW)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            # The panel stays open behind it.
            assert panel.get_by_role("heading", name="Summer 2026").is_visible()

        ask()
        screenshot(page, f"calendar-panel-drag-question-{width}")
        # Escape cancels, as elsewhere: the question goes, the panel stays, the focus is back on
        # the bar that was dragged.
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.getAttribute('data-panel')") == (
            f"p{world.plans[1].pk}"
        )
        assert panel.get_by_role("heading", name="Summer 2026").is_visible()
        assert f"panel=c{summer.pk}" in page.url
        assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
        # Its Cancel, reached by Tab, does the same.
        ask()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "confirm-cancel"
        page.keyboard.press("Enter")
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert panel.get_by_role("heading", name="Summer 2026").is_visible()
        assert not Assignment.objects.exists()

        # Asked again and answered by keyboard: assigned, once, the panel still open.
        ask()
        page.keyboard.press("Enter")
        page.locator("#cal-feedback").get_by_text(
            "Assigned “Summer teaser” to “Late spring”."
        ).wait_for()
        htmx_settled(page)
        assert Assignment.objects.get(plan=world.plans[1]).campaign == late_spring
        assert list(AuditEvent.objects.values_list("action", flat=True)) == ["assignment.create"]
        assert page.get_by_role("alertdialog").count() == 0
        assert panel.get_by_role("heading", name="Summer 2026").is_visible()


# A point of the element `selector` (the first shown) outside the question's box, in the screen:
# where a click lands on the dimmed page, not on the question.
POINT_BESIDE_THE_QUESTION = """(selector) => {
    const el = [...document.querySelectorAll(selector)].find(e => e.getClientRects().length);
    const q = document.querySelector('[role=alertdialog]').getBoundingClientRect();
    const b = el.getBoundingClientRect();
    for (let y = b.top + 2; y < b.bottom - 1; y += 3) {
        for (let x = b.left + 2; x < b.right - 1; x += 3) {
            const onQuestion = x >= q.left && x <= q.right && y >= q.top && y <= q.bottom;
            if (!onQuestion && x >= 0 && y >= 0 && x < innerWidth && y < innerHeight) {
                return [x, y];
            }
        }
    }
    return null;
}"""


@pytest.mark.parametrize("width", [1024, 390])
def test_the_question_over_the_panel_is_modal(live_server, world, page, width):
    """Drawn over a dimmed screen, the question was modal to the eye only: Tab went on past
    Cancel into the dimmed calendar, and a click there acted on it (the panel's Assign
    assigned). The rest of the page is inert while it is open: Tab cycles between its two
    buttons, and a click beside it does nothing (an answer is asked for: Cancel or Escape
    dismiss it, a stray tap does not)."""
    late_spring = make_campaign("Late spring", date(2026, 4, 1), date(2026, 5, 31))
    late_spring.save()
    spring, social, teaser = world.campaigns[0], world.plans[0], world.plans[1]
    with time_machine.travel(NOW, tick=True):
        # The panel of another Plan, its Assign ready: a click reaching it assigns that Plan.
        panel = _year_with_panel(
            page, live_server.url, width, 844, f"p{social.pk}", "Spring Sale social"
        )
        panel.get_by_label("Assign to…").select_option(value=str(spring.pk))
        plan_bar = page.locator('.tl-row.unassigned a.bar[draggable="true"]', has_text="teaser")
        row = page.locator(f'.tl-row.campaign[data-campaign="{late_spring.pk}"]')
        if width > 700:
            plan_bar.drag_to(row)  # on the calendar beside the panel
        else:
            _drop(page, plan_bar, row)  # the panel covers the whole calendar
        question = page.get_by_role("alertdialog")
        question.wait_for()
        htmx_settled(page)
        assert "Assign “Summer teaser” to “Late spring”?" in question.inner_text()
        assert page.evaluate("document.activeElement.id") == "confirm-yes"
        screenshot(page, f"calendar-modal-question-{width}")

        # Tab and Shift+Tab go round its two buttons, never into the page behind it.
        focused = []
        for key in ("Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"):
            page.keyboard.press(key)
            focused.append(page.evaluate("document.activeElement.id"))
        assert focused == [
            "confirm-cancel", "confirm-yes", "confirm-cancel",
            "confirm-yes", "confirm-cancel", "confirm-yes",
        ]  # fmt: skip

        # Clicks on the dimmed page beside it: the panel's Assign, its close button and, where
        # the calendar shows beside the panel, its Next link and a campaign's name. None acts.
        targets = ["#panel-assign", "#cal-panel [data-panel-close]"]
        if width > 700:
            targets += ["#calendar a[rel=next]", "#calendar .tl-row.campaign .tl-label a"]
        url = page.url
        for target in targets:
            point = page.evaluate(POINT_BESIDE_THE_QUESTION, target)
            assert point, f"{target} is wholly under the question"
            page.mouse.click(*point)
            htmx_settled(page)
            assert not Assignment.objects.exists() and not AuditEvent.objects.exists(), target
            assert question.is_visible(), target
            assert page.url == url, target
            assert panel.get_by_role("heading", name="Spring Sale social").is_visible(), target
            # Tab after the click goes to the question, not into the page behind it.
            page.keyboard.press("Tab")
            assert page.evaluate("!!document.activeElement.closest('dialog:modal')"), target

        if width > 700:
            # Widened past 1100 px the calendar makes room for the panel: the question is in its
            # place there, not modal, the page live; narrowed again, modal again.
            modal = "!!document.querySelector('[role=alertdialog]:modal')"
            page.locator("#confirm-cancel").focus()
            page.set_viewport_size({"width": 1440, "height": 844})
            page.wait_for_function(f"() => !{modal}")
            assert page.evaluate("document.activeElement.id") == "confirm-cancel"
            assert page.evaluate(NOTHING_ON_IT) == []
            page.set_viewport_size({"width": width, "height": 844})
            page.wait_for_function(f"() => {modal}")
            assert page.evaluate("document.activeElement.id") == "confirm-cancel"
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "confirm-yes"

        # Escape still cancels; the focus back on the bar that was dragged, the panel open.
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('confirm-title')")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.getAttribute('data-panel')") == (
            f"p{teaser.pk}"
        )
        assert panel.get_by_role("heading", name="Spring Sale social").is_visible()
        # The page behind is live again: the panel's Assign assigns its Plan.
        panel.get_by_role("button", name="Assign", exact=True).click()
        panel.get_by_test_id("panel-feeds").get_by_role("link", name="Spring Sale 2026").wait_for()
        assert Assignment.objects.get().plan == social
        screenshot(page, f"calendar-modal-question-answered-{width}")


def test_on_a_phone_tab_stays_in_the_panel_that_covers_the_page(live_server, world, page):
    """At 390 px the side panel covers the whole page: Tab past its last link went on to the
    top bar and the calendar under it, the focus out of sight behind the panel. It goes round
    the panel's own controls instead, Shift+Tab too; Escape still closes it."""
    spring = world.campaigns[0]
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-01-01")
        htmx_settled(page)
        bar = page.locator(f'.tl-row.campaign a.bar[data-panel="c{spring.pk}"]')
        bar.focus()
        page.keyboard.press("Enter")
        page.locator("#cal-panel").get_by_role("heading", name="Spring Sale 2026").wait_for()
        htmx_settled(page)
        stops = page.evaluate(
            "[...document.querySelectorAll('#cal-panel a[href], #cal-panel button, "
            "#cal-panel select')].length"
        )
        assert stops >= 3  # its close button and two links at least
        where = "(() => { const a = document.activeElement; return a.closest('#cal-panel') ? "
        where += (
            "(a.id || a.textContent.trim()) : 'outside: ' + a.textContent.trim().slice(0, 30) })()"
        )
        forward = []
        for _ in range(stops + 1):
            page.keyboard.press("Tab")
            forward.append(page.evaluate(where))
        assert not [f for f in forward if f.startswith("outside")], forward
        assert forward[stops] == forward[0]  # round again
        backward = []
        for _ in range(stops + 1):
            page.keyboard.press("Shift+Tab")
            backward.append(page.evaluate(where))
        assert not [b for b in backward if b.startswith("outside")], backward
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('#cal-panel .panel-inner')")
        assert page.evaluate("document.activeElement.getAttribute('data-panel')") == f"c{spring.pk}"
