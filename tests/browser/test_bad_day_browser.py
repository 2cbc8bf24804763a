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
