"""Issue 11 in a real browser: a manager adopts SAP MC's side after the question that says what
it takes from whom, then undoes it at once; a calm box lists what to add in SAP MC."""

from __future__ import annotations

import pytest

from campaigns.models import Assignment, AuditEvent
from sapmc.models import CampaignReference
from tests.browser.conftest import htmx_settled, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1440, 390])
def test_adopt_with_confirmation_then_undo(live_server, world, page, width):
    spring, summer = world.campaigns[0], world.campaigns[1]
    social, teaser = world.plans[0], world.plans[1]
    for plan in (social, teaser):
        CampaignReference.objects.create(
            campaign=spring,
            external_campaign_id=plan.khoros_id.hex,
            plan=plan,
            managing_party=world.initiatives[0].khoros_id,
        )
    # SAP MC puts "Spring Sale social" under spring, the bridge under summer (a conflict);
    # "Summer teaser" is in SAP MC only.
    Assignment.objects.create(
        plan=social, campaign=summer, assigned_at=social.first_seen, note="kept by hand"
    )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    box = page.get_by_role("region", name="Differs from SAP MC")
    assert "Conflict:" in box.inner_text()
    box.get_by_role("button", name="Adopt SAP MC's side", exact=True).click()
    question = page.get_by_role("alertdialog")
    question.wait_for()
    htmx_settled(page)
    text = question.inner_text()
    assert "Adopt SAP MC's side for 2 Plans?" in text
    assert "Removes 1 Plan from “Summer 2026”: “Spring Sale social”." in text
    assert "Assigns 1 unassigned Plan: “Summer teaser”." in text
    # The question has the focus: Enter confirms, Tab reaches Cancel.
    assert page.evaluate("document.activeElement.id") == "confirm-yes"
    assert Assignment.objects.get(plan=social).campaign == summer
    screenshot(page, f"drift-adopt-question-{width}")

    page.keyboard.press("Enter")
    page.locator("main").get_by_text(
        "now has exactly the Plans SAP MC references. 2 Plans changed."
    ).wait_for()
    htmx_settled(page)
    assert set(Assignment.objects.values_list("plan", "campaign")) == {
        (social.pk, spring.pk),
        (teaser.pk, spring.pk),
    }
    assert "Differs from SAP MC" not in page.locator("#workbench").inner_text()
    assert f"campaign={spring.pk}" in page.url
    # The question is gone; its Undo holds the focus.
    assert page.evaluate("document.activeElement.id") == "undo-adopt"
    # Its name says what it undoes, not only "Undo".
    assert (
        page.get_by_role(
            "button", name="Undo adopting SAP MC's side for “Spring Sale 2026”"
        ).count()
        == 1
    )
    screenshot(page, f"drift-adopted-{width}")

    page.keyboard.press("Enter")
    page.locator("main").get_by_text("Undone: 2 Plans back where they were.").wait_for()
    htmx_settled(page)
    assert set(Assignment.objects.values_list("plan", "campaign", "note")) == {
        (social.pk, summer.pk, "kept by hand")
    }
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "drift.adopt_sap",
        "drift.undo",
    ]
    assert page.get_by_role("region", name="Differs from SAP MC").is_visible()
    assert page.reload().status == 200
    screenshot(page, f"drift-undone-{width}")

    # A Plan assigned here and not yet in SAP MC: shown calmly, with what to enter there.
    CampaignReference.objects.all().delete()
    page.goto(f"{live_server.url}/workbench/?campaign={summer.pk}")
    htmx_settled(page)
    pending = page.get_by_role("region", name="To add in SAP MC")
    assert social.khoros_id.hex in pending.inner_text()
    screenshot(page, f"drift-pending-{width}")
