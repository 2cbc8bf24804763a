"""What a screen reader user meets after an htmx swap: the outcome announced, the title current.

A live region is announced when its text changes while it is in the page. One that an htmx
swap removes and inserts again, already holding the answer, is usually not announced at all: the
answer of an action ("Assigned … to …") was only on the screen. These tests mark the live
regions present before an action and ask whether one of those same elements says the outcome
after it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from campaigns.models import Assignment
from syncs.models import SyncRun
from tests.browser.conftest import htmx_settled, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)

# The live regions in the page now: an announcement must come from one of these.
MARK = (
    "window.__live = [...document.querySelectorAll("
    "'[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]')]"
)
ANNOUNCED = """(text) => (window.__live || []).some(
    el => el.isConnected && el.textContent.replace(/\\s+/g, ' ').includes(text))"""


def _announced(page, text: str) -> bool:
    return page.evaluate(ANNOUNCED, text)


def test_workbench_answers_are_announced_and_the_title_names_the_campaign(live_server, world, page):
    spring = world.campaigns[0]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/")
    htmx_settled(page)
    assert page.title() == "Workbench · smcbridge"

    # Choosing a campaign by keyboard: the address and the title both name the new state.
    page.get_by_role("link", name="Spring Sale 2026").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    htmx_settled(page)
    assert f"campaign={spring.pk}" in page.url
    assert page.title() == "Spring Sale 2026 · Workbench · smcbridge"

    # Assign by keyboard: the answer is spoken, not only shown.
    page.evaluate(MARK)
    assigned = "Assigned “Spring Sale social” to “Spring Sale 2026”."
    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").focus()
    page.keyboard.press("Enter")
    page.locator("main").get_by_text(assigned).wait_for()
    htmx_settled(page)
    assert Assignment.objects.filter(campaign=spring).count() == 1
    assert _announced(page, assigned)

    # Unassign: a new answer in the same region.
    page.evaluate(MARK)
    unassigned = "Unassigned “Spring Sale social” from “Spring Sale 2026”."
    page.get_by_role("button", name="Unassign Spring Sale social").focus()
    page.keyboard.press("Enter")
    page.locator("main").get_by_text(unassigned).wait_for()
    htmx_settled(page)
    assert not Assignment.objects.exists()
    assert _announced(page, unassigned)

    # A page loaded at that address has the same title.
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    assert page.title() == "Spring Sale 2026 · Workbench · smcbridge"


def test_calendar_panel_assignment_is_announced(live_server, world, page):
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-04-01")
        htmx_settled(page)
        # The title names the period shown, after Next and Previous too.
        heading = page.get_by_role("heading", level=1)
        shown = heading.inner_text()
        assert page.title() == f"{shown} · Calendar · smcbridge"
        page.get_by_role("link", name="Next ›").click()
        page.wait_for_url("**date=2026-07-01*")
        htmx_settled(page)
        assert heading.inner_text() != shown
        assert page.title() == f"{heading.inner_text()} · Calendar · smcbridge"
        page.get_by_role("link", name="‹ Previous").click()
        page.wait_for_url("**date=2026-04-01*")
        htmx_settled(page)
        assert page.title() == f"{shown} · Calendar · smcbridge"
        page.locator(".tl-row.unassigned a.bar", has_text="Summer teaser").focus()
        page.keyboard.press("Enter")
        page.locator("#cal-panel").get_by_role("heading", name="Summer teaser").wait_for()
        htmx_settled(page)
        page.evaluate(MARK)
        page.keyboard.press("Tab")  # from the heading to the "Assign to…" menu
        page.get_by_label("Assign to…").select_option(label="Summer 2026 (2026-06-01 – 2026-08-31)")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.locator("#cal-panel").get_by_test_id("panel-feeds").get_by_role(
            "link", name="Summer 2026"
        ).wait_for()
        htmx_settled(page)
        assert Assignment.objects.get(plan=world.plans[1]).campaign == world.campaigns[1]
        assert _announced(page, "Assigned “Summer teaser” to “Summer 2026”.")


# Every control whose aria-describedby names an element that is not in the page, and every
# invalid control (aria-invalid) with what a screen reader says of it besides its name.
DESCRIPTIONS = """() => {
  const controls = [...document.querySelectorAll('input, select, textarea')];
  const missing = controls.flatMap(el => (el.getAttribute('aria-describedby') || '')
    .split(/\\s+/).filter(id => id && !document.getElementById(id)).map(id => el.id + ' -> ' + id));
  const invalid = Object.fromEntries(controls
    .filter(el => el.getAttribute('aria-invalid') === 'true')
    .map(el => [el.id, (el.getAttribute('aria-describedby') || '').split(/\\s+/)
      .map(id => document.getElementById(id)).filter(Boolean)
      .map(d => d.textContent.trim()).join(' ')]));
  return {missing, invalid};
}"""


def test_filter_errors_are_tied_to_their_fields(live_server, world, page):
    backwards = "The start of the date range is after its end."
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/audit/")
    assert page.evaluate(DESCRIPTIONS) == {"missing": [], "invalid": {}}

    page.goto(f"{live_server.url}/audit/?date_from=2026-03-10&date_to=2026-03-01&actor=99999")
    found = page.evaluate(DESCRIPTIONS)
    assert found["missing"] == []
    assert sorted(found["invalid"]) == ["id_actor", "id_date_from", "id_date_to"]
    for field in ("id_date_from", "id_date_to"):
        assert backwards in found["invalid"][field]
    assert "Select a valid choice." in found["invalid"]["id_actor"]
    assert page.get_by_label("Campaign").get_attribute("aria-invalid") is None
    # Seen as well as heard: the boxes of the problem have a red border, the others do not.
    borders = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('form input, form select')]
             .filter(el => el.id).map(el => [el.id, getComputedStyle(el).borderTopColor]))"""
    )
    red = "rgb(198, 40, 40)"  # --bad
    assert [f for f, color in borders.items() if color == red] == [
        "id_actor", "id_date_from", "id_date_to"
    ]  # fmt: skip
    assert borders["id_campaign"] != red

    page.goto(f"{live_server.url}/syncs/?date_from=2026-03-10&date_to=2026-03-01")
    found = page.evaluate(DESCRIPTIONS)
    assert found["missing"] == []
    assert sorted(found["invalid"]) == ["id_date_from", "id_date_to"]

    # On the workbench the Plans' range is wrong, the campaigns' is not: only the Plans' dates
    # are marked, and the problem is spoken when the change that made it is answered.
    page.goto(f"{live_server.url}/workbench/?campaign={world.campaigns[0].pk}")
    htmx_settled(page)
    page.locator("#id_p-date_to").fill("2026-03-01")
    htmx_settled(page)
    page.evaluate(MARK)
    page.locator("#id_p-date_from").fill("2026-03-10")
    page.locator("#plan-list").get_by_text("No Plan matches these filters.").wait_for()
    htmx_settled(page)
    found = page.evaluate(DESCRIPTIONS)
    assert found["missing"] == []
    assert sorted(found["invalid"]) == ["id_p-date_from", "id_p-date_to"]
    assert backwards in found["invalid"]["id_p-date_to"]
    assert _announced(page, backwards)


def test_a_poll_keeps_the_keyboard_focus_where_it_was(live_server, world, page):
    """While a run is active the dashboard redraws its runs every 2 s: a person tabbing through
    them lost her place to the page's start at each redraw."""
    running = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, status="running",
        requested_by=world.admin,
    )  # fmt: skip
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/")
    link = page.locator("#sync-runs").get_by_role("link", name=str(running.pk), exact=True)
    link.focus()
    for _ in range(2):  # two redraws: the focus survives more than one
        page.evaluate(
            """() => new Promise(done => document.addEventListener('htmx:afterSettle',
                 e => e.detail.target.id === 'sync-runs' && setTimeout(done, 0), {once: true}))"""
        )
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"/syncs/{running.pk}/"
    assert page.evaluate("!!document.activeElement.closest('#sync-runs')")


# The contrast against white of the focus ring's colours (its outline and its box-shadow ring),
# read from the focused element's computed style (WCAG's relative luminance).
RING_CONTRAST = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  const lum = c => { const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number)
    .map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = c => 1.05 / (lum(c) + 0.05);
  const colours = [style.outlineColor, ...(style.boxShadow.match(/rgba?\\([^)]*\\)/g) || [])];
  return {tag: el.tagName, best: Math.max(...colours.map(ratio))};
}"""


def test_the_focus_ring_stands_out_on_a_white_card(live_server, world, page):
    # The orange outline alone has 1.9:1 against white; WCAG asks 3:1 of a focus indicator.
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/")
    htmx_settled(page)
    for target in (
        page.locator("#id_c-q"),  # a search box
        page.get_by_role("link", name="Spring Sale 2026"),  # a campaign link
        page.locator("main select").first,  # a filter's choice
    ):
        target.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focused by the keyboard: :focus-visible
        ring = page.evaluate(RING_CONTRAST)
        assert ring["best"] >= 3, ring


def test_a_plain_forms_answer_is_spoken_and_the_keyboard_goes_on_from_it(live_server, world, page):
    # Sync now is a plain form: the page loads again with its answer at the top. A live region
    # present as a page loads is not spoken, and the keyboard began again at the top bar.
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Sync Khoros plans now").focus()
    page.keyboard.press("Enter")
    page.locator("main").get_by_text("queued.").wait_for()
    queued = SyncRun.objects.latest("queued_at")
    said = f"Khoros plans sync #{queued.pk} queued."
    page.wait_for_function(
        "text => document.getElementById('announcer').textContent.includes(text)", arg=said
    )
    focused = page.evaluate(
        "() => document.activeElement.matches('main .messages') "
        "&& document.activeElement.textContent.trim()"
    )
    assert focused == said
    page.keyboard.press("Tab")  # the keyboard goes on after the answer, not from the top bar
    assert page.evaluate("() => !document.activeElement.closest('header')")
