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
