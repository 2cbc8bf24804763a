"""A manager on a bad day: a slow network, a proxy in the way, JavaScript blocked, two windows."""

from __future__ import annotations

import pytest
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent
from tests.browser.conftest import htmx_settled, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_enter_in_a_box_searches_and_never_presses_an_action(live_server, world, page):
    """Enter in a text box submits a form by clicking its first submit button: on the workbench
    that was the first Plan's Unassign, so a search ended with the Plan taken off."""
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)

    page.get_by_label("Search campaigns").fill("Summer")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Spring Sale 2026").wait_for(state="detached")
    htmx_settled(page)
    page.get_by_label("Note for new assignments").fill("launch week")
    page.keyboard.press("Enter")
    htmx_settled(page)

    assert Assignment.objects.get().plan == world.plans[0]
    assert not AuditEvent.objects.exists()
    assert page.locator("#assigned-plans").get_by_text("Spring Sale social").count() == 1
    assert page.locator(".feedback").inner_text().strip() == ""
    assert "c-q=Summer" in page.url


def test_without_javascript_the_workbench_filters_assigns_and_unassigns(
    live_server, world, chromium
):
    """A locked-down browser runs no script: the workbench is a plain form. Its actions were
    refused as "This form has expired" (the form had no token, which htmx sends in a header)."""
    spring = world.campaigns[0]
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")

    page.get_by_label("Search campaigns").fill("Spring")
    page.keyboard.press("Enter")
    page.wait_for_url("**/workbench/?*c-q=Spring*")
    assert "csrfmiddlewaretoken" not in page.url
    assert page.locator("#campaigns-title").inner_text() == "Campaigns 1"

    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
    page.locator(".messages").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    assert Assignment.objects.get().plan == world.plans[0]
    assert "c-q=Spring" in page.url and "/workbench/?" in page.url

    # A question without script: a page of its own, answered by its button.
    page.locator("#plan-list").get_by_role("button", name="Assign Summer teaser").click()
    page.get_by_role("button", name="Assign anyway").click()
    page.locator(".messages").get_by_text(
        "Assigned “Summer teaser” to “Spring Sale 2026”."
    ).wait_for()

    page.get_by_role("button", name="Unassign Spring Sale social").click()
    page.locator(".messages").get_by_text(
        "Unassigned “Spring Sale social” from “Spring Sale 2026”."
    ).wait_for()
    assert list(Assignment.objects.values_list("plan__name", flat=True)) == ["Summer teaser"]
    assert AuditEvent.objects.count() == 3
    context.close()


def test_on_a_slow_line_one_click_counts_and_the_page_says_it_is_working(
    live_server, world, fresh_page
):
    """An answer held back (a slow line): the workbench says it is working, a second Assign of
    the same Plan and a campaign chosen meanwhile are dropped, not sent. The campaign's answer
    came first, then the Assign's went into the replaced workbench: the action's notice was never
    seen, and the address said one campaign while the screen showed the other."""
    page = fresh_page
    spring = world.campaigns[0]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    held: list = []
    page.route("**/workbench/assign/", lambda route: held.append(route))

    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").dblclick()
    page.locator("#workbench[aria-busy=true]").wait_for()
    page.locator("#busy").wait_for()  # shown after a moment
    page.locator("#suggestions").get_by_role("button", name="Assign Spring Sale social").click()
    page.get_by_role("link", name="Autumn 2026").click()
    page.keyboard.press("Enter")
    # Dropped: htmx marks a request it sends on its element at once.
    assert page.locator("#workbench .htmx-request").count() == 1
    assert len(held) == 1
    assert page.get_by_role("heading", name="Spring Sale 2026").count() == 1

    held[0].continue_()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    htmx_settled(page)
    assert len(held) == 1
    assert f"campaign={spring.pk}" in page.url
    assert page.locator("#workbench[aria-busy]").count() == 0
    assert not page.locator("#busy").is_visible()
    assert Assignment.objects.get().plan == world.plans[0]
    assert AuditEvent.objects.count() == 1

    # Once answered, the next click goes.
    page.get_by_role("link", name="Autumn 2026").click()
    page.get_by_role("heading", name="Autumn 2026").wait_for()


NGINX_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>"
)

SIGN_IN_PAGE = (
    '<!doctype html><html><body><div id="workbench"><h1>Corporate network</h1>'
    "<p>Sign in to continue browsing.</p></div></body></html>"
)


def _answering(answer):
    """A route handler answering as something in between: a response, or a network error."""
    if isinstance(answer, dict):
        return lambda route: route.fulfill(**answer)
    return lambda route: route.abort(answer)


def test_a_proxys_error_or_a_timeout_is_said_in_the_bridges_words(live_server, world, page):
    """Something in between answers instead of the bridge: its 502 page, a 504 in plain text
    ("upstream request timeout" was shown as the bridge's answer), a 413, the connection times
    out (nothing was shown at all), or a network's sign-in page with a 200 (swapped into the
    workbench). The manager reads what it means; nothing of it is swapped
    in; the same click then works."""
    spring = world.campaigns[0]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    problem = page.locator("#request-problem")
    assign = page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social")
    unsure = "Your change may or may not have been saved: reload the page to see."
    answers = [
        ({"status": 502, "body": NGINX_502, "content_type": "text/html"},
         "The bridge did not answer (error 502 from the network in between), so this page was "
         f"not updated. {unsure}"),
        ({"status": 504, "body": "upstream request timeout", "content_type": "text/plain"},
         "The bridge did not answer (error 504 from the network in between), so this page was "
         f"not updated. {unsure}"),
        ({"status": 413, "body": "<h1>413 Request Entity Too Large</h1>",
          "content_type": "text/html"},
         "The network in between refused this request as too large (error 413), so nothing was "
         "saved. Try again with fewer Plans selected."),
        ("timedout", f"The bridge did not answer in time, so this page was not updated. {unsure}"),
        # A network's sign-in page, with a 200: it was swapped into the workbench.
        ({"status": 200, "body": SIGN_IN_PAGE, "content_type": "text/html"},
         "Something between this browser and the bridge (a proxy?) answered in its place, so "
         f"this page was not updated. {unsure}"),
    ]  # fmt: skip
    for answer, said in answers:
        page.route("**/workbench/assign/", _answering(answer))
        assign.click()
        problem.get_by_text(said, exact=True).wait_for()
        page.get_by_role("button", name="Dismiss").click()
        page.unroute("**/workbench/assign/")
    main = page.locator("main").inner_text()
    assert "nginx" not in main and "Bad Gateway" not in main and "upstream" not in main
    assert "Corporate network" not in main
    assert page.get_by_role("heading", name="Spring Sale 2026").count() == 1
    assert not Assignment.objects.exists()

    assign.click()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    assert not problem.is_visible()
    assert Assignment.objects.get().plan == world.plans[0]


def test_on_a_slow_line_the_calendar_keeps_its_address_with_its_screen(live_server, world, page):
    """The side panel's Assign held back, "Next ›" pressed meanwhile: the next quarter showed,
    then the Assign's answer put the address back on the quarter before (a reload showed
    another quarter than the screen). A click while a request is answered is dropped."""
    plan = world.plans[0]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-03-01&panel=p{plan.pk}")
    htmx_settled(page)
    held: list = []
    page.route("**/calendar/assign/", lambda route: held.append(route))
    page.locator("#assign-to").select_option(label="Spring Sale 2026 (2026-03-01 – 2026-03-31)")
    page.locator("#panel-assign").click()
    page.locator("#calendar[aria-busy=true]").wait_for()
    page.get_by_role("link", name="Next ›").click()
    # Dropped: htmx marks a request it sends on its element at once.
    assert page.locator(".cal-nav .htmx-request").count() == 0
    held[0].continue_()
    page.locator("#cal-panel").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    htmx_settled(page)
    assert page.get_by_role("heading", name="Q1 2026").count() == 1
    assert "date=2026-03-01" in page.url
    assert len(held) == 1
    assert Assignment.objects.get().plan == plan
    assert AuditEvent.objects.count() == 1


def test_on_a_slow_line_the_calendar_list_sends_one_request_at_a_time(live_server, world, page):
    """The list's Assign held back, a column sorted meanwhile: dropped, as on the timeline."""
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/calendar/list/?zoom=quarter&date=2026-03-01")
    htmx_settled(page)
    held: list = []
    page.route("**/calendar/list/assign/", lambda route: held.append(route))
    page.get_by_label("Select Spring Sale social").check()
    page.locator("#mass-campaign").select_option(label="Spring Sale 2026")
    page.get_by_role("button", name="Assign selected").click()
    page.locator("#calendar-list[aria-busy=true]").wait_for()
    page.locator("thead").get_by_role("link", name="Campaign").click()
    assert page.locator("#calendar-list thead .htmx-request").count() == 0
    held[0].continue_()
    page.locator("#calendar-list[aria-busy]").wait_for(state="detached")
    htmx_settled(page)
    assert Assignment.objects.get().plan == world.plans[0]
    assert AuditEvent.objects.count() == 1
    # The address is the list that answered the Assign, not sorted by a click it dropped.
    assert page.url.endswith("/calendar/list/?zoom=quarter&date=2026-03-01")


def test_two_windows_a_stale_view_says_what_changed_and_writes_no_second_row(
    live_server, world, page
):
    """Window A assigns, then unassigns; window B, never reloaded, repeats each: B is told what
    happened meanwhile, and only A's real changes are audited."""
    spring = world.campaigns[0]
    sign_in(page, live_server.url, "maria")
    other = page.context.new_page()
    try:
        for window in (page, other):
            window.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
            htmx_settled(window)
        page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
        page.get_by_role("button", name="Unassign Spring Sale social").wait_for()
        other.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
        other.locator(".feedback").get_by_text(
            "Already assigned to this campaign: nothing changed."
        ).wait_for()
        htmx_settled(page)
        page.get_by_role("button", name="Unassign Spring Sale social").click()
        page.locator(".feedback").get_by_text("Unassigned “Spring Sale social”").wait_for()
        htmx_settled(other)
        other.get_by_role("button", name="Unassign Spring Sale social").click()
        other.locator(".feedback").get_by_text(
            "Plan “Spring Sale social” does not feed campaign “Spring Sale 2026” any more: it is "
            "unassigned already, nothing changed."
        ).wait_for()
        assert other.locator("#assigned-plans").get_by_text("Spring Sale social").count() == 0
    finally:
        other.close()
    assert not Assignment.objects.exists()
    assert list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)) == [
        "assignment.create",
        "assignment.delete",
    ]


def test_a_filter_changed_while_a_search_is_answered_is_applied(live_server, world, page):
    """One request at a time drops the filter's own request while a search is answered: the
    answer's form showed the box unticked again and the list unfiltered by it."""
    spring = world.campaigns[0]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    held: list = []

    def hold_the_first(route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/workbench/?*", hold_the_first)
    page.get_by_label("Search campaigns").fill("Sum")
    page.locator("#workbench[aria-busy=true]").wait_for()
    page.get_by_label("Without Plans only").check()
    held[0].continue_()
    page.wait_for_url("**c-unassigned=on**")
    htmx_settled(page)
    assert page.get_by_label("Without Plans only").is_checked()
    assert page.get_by_label("Search campaigns").input_value() == "Sum"
    assert page.locator("#campaigns-title").inner_text() == "Campaigns 1"
    assert "c-q=Sum" in page.url
