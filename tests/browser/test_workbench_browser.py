"""The workbench in a real browser: a manager assigns a Plan with htmx, the audit shows it."""

from __future__ import annotations

import pytest

from campaigns.models import Assignment, AuditEvent, InitiativeGrant
from tests.browser.conftest import htmx_settled, login, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_assigns_a_plan_without_reload_and_the_audit_has_it(
    live_server, world, page, chromium
):
    login(page, live_server.url, "maria", "pw-maria-2026")
    page.get_by_role("link", name="Workbench").click()
    page.get_by_role("heading", name="Assignment workbench").wait_for()
    page.evaluate("window.__notReloaded = true")

    # Keyboard: the campaign link is focusable and Enter selects it.
    page.get_by_role("link", name="Spring Sale 2026").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    assert "campaign=" in page.url  # a real, shareable URL

    htmx_settled(page)
    page.get_by_label("Note for new assignments").fill("launch week")
    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()

    assigned = page.locator("#assigned-plans")
    assert "Spring Sale social" in assigned.inner_text()
    assert "launch week" in assigned.inner_text()
    assert page.evaluate("window.__notReloaded") is True
    assignment = Assignment.objects.get()
    assert (assignment.plan.name, assignment.campaign.name, assignment.note) == (
        "Spring Sale social",
        "Spring Sale 2026",
        "launch week",
    )
    screenshot(page, "workbench")

    # Tom's Plans never show up for Maria.
    assert "Spring Sale video" not in page.locator("#plan-list").inner_text()

    event = AuditEvent.objects.get()
    assert event.actor_name == "maria"
    admin_context = chromium.new_context()
    admin_page = admin_context.new_page()
    sign_in(admin_page, live_server.url, "alex")
    admin_page.goto(f"{live_server.url}/audit/")
    row = admin_page.locator("tbody tr").first
    assert "maria" in row.inner_text()
    assert "Assigned Plan “Spring Sale social” to campaign “Spring Sale 2026”" in row.inner_text()
    screenshot(admin_page, "audit")
    admin_context.close()


def test_manager_bulk_assigns_and_unassigns(live_server, world, page):
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={world.campaigns[1].pk}")
    page.get_by_label("Select Spring Sale social").check()
    page.get_by_label("Select Summer teaser").check()
    page.get_by_role("button", name="Assign selected to “Summer 2026”").click()
    # Issue 11: the March Plan runs outside the summer campaign, so the bridge asks first.
    question = page.get_by_role("alertdialog")
    question.wait_for()
    assert (
        "“Spring Sale social”: This Plan runs 1 Mar–31 Mar, outside the campaign's 1 Jun–31 Aug."
        in question.inner_text()
    )
    assert not Assignment.objects.exists()
    # Cancelled (by its button, then by Escape), and asked again: Back still leaves at once.
    # Each Cancel added an entry to the history, one more press of Back each.
    history = page.evaluate("history.length")
    question.get_by_role("link", name="Cancel").click()
    question.wait_for(state="detached")
    htmx_settled(page)
    page.get_by_role("button", name="Assign selected to “Summer 2026”").click()
    question.wait_for()
    question.get_by_role("link", name="Cancel").focus()
    page.keyboard.press("Escape")
    question.wait_for(state="detached")
    htmx_settled(page)
    assert page.evaluate("history.length") == history
    page.get_by_label("Select Spring Sale social").check()
    page.get_by_label("Select Summer teaser").check()
    page.get_by_role("button", name="Assign selected to “Summer 2026”").click()
    question.wait_for()
    question.get_by_role("button", name="Assign anyway").click()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social”, “Summer teaser” to “Summer 2026”."
    ).wait_for()
    assert Assignment.objects.filter(campaign=world.campaigns[1]).count() == 2

    page.get_by_role("button", name="Unassign Summer teaser").click()
    page.locator("main").get_by_text("Unassigned “Summer teaser” from “Summer 2026”.").wait_for()
    assert Assignment.objects.filter(campaign=world.campaigns[1]).count() == 1


@pytest.mark.parametrize("how", ["logout in another tab", "cookies cleared"])
def test_a_session_ended_elsewhere_leads_to_the_login_page_and_back(live_server, world, page, how):
    spring = world.campaigns[0]
    workbench = f"/workbench/?campaign={spring.pk}"
    sign_in(page, live_server.url, "maria")
    page.goto(live_server.url + workbench)
    htmx_settled(page)
    if how == "cookies cleared":
        page.context.clear_cookies()
    else:
        other = page.context.new_page()
        other.goto(f"{live_server.url}/")
        other.get_by_role("button", name="Log out").click()
        other.get_by_role("heading", name="Log in").wait_for()
        other.close()

    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
    # The whole window is the login page, not a login form inside the workbench.
    page.wait_for_url(f"{live_server.url}/login/?*")
    assert page.locator("#workbench").count() == 0
    assert page.get_by_role("button", name="Log out").count() == 0
    assert (
        "Your session has ended, so your last change was not saved."
        in page.locator(".messages").inner_text()
    )
    assert not Assignment.objects.exists()

    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("pw-maria-2026")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    assert page.url == live_server.url + workbench

    # Back, and a reload of what Back shows, lead on to the page again: no login form asking a
    # signed-in person for her password.
    page.go_back()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    page.reload()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    assert page.get_by_label("Password").count() == 0
    assert page.url == live_server.url + workbench


def test_an_action_refused_or_unanswered_says_so_and_offers_a_reload(live_server, world, page):
    """htmx swaps nothing when an answer is an error (403, 404, 500) or never comes: the click
    did nothing that a person could see, and she could not tell a refusal from a slow answer."""
    spring = world.campaigns[0]
    social = world.plans[0]
    workbench = f"{live_server.url}/workbench/?campaign={spring.pk}"
    sign_in(page, live_server.url, "maria")
    page.goto(workbench)
    htmx_settled(page)
    problem = page.get_by_role("alert").filter(has_text="Reload the page")
    assign = page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social")

    # She logged out and in again in another tab: this page's form token is the one before (403).
    other = page.context.new_page()
    other.goto(f"{live_server.url}/")
    other.get_by_role("button", name="Log out").click()
    login(other, live_server.url, "maria", "pw-maria-2026")
    other.close()
    assign.click()
    problem.wait_for()
    assert "This form has expired" in problem.inner_text()
    assert not Assignment.objects.exists()
    problem.get_by_role("link", name="Reload the page").click()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    htmx_settled(page)
    assert problem.count() == 0

    # No answer at all (the connection dropped).
    page.route("**/workbench/assign/", lambda route: route.abort("connectionrefused"))
    assign.click()
    problem.wait_for()
    assert "could not be reached" in problem.inner_text()
    page.unroute("**/workbench/assign/")

    # The same click answered: the notice replaces the problem.
    assign.click()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    assert problem.count() == 0
    assert Assignment.objects.get().plan == social

    # Her grant was taken away meanwhile: the Plan is not found for her (404).
    InitiativeGrant.objects.filter(user=world.maria).delete()
    before = page.url
    page.get_by_role("button", name="Unassign Spring Sale social").click()
    problem.wait_for()
    assert "Not found" in problem.inner_text()
    assert Assignment.objects.get().plan == social
    assert page.url == before
