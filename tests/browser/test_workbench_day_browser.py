"""The workbench as a manager uses it all day: real URLs after actions, Back and Forward with
current data, filters that apply at once, a selection across Plan pages, focus that stays put,
and Move offered where a Plan already feeds another campaign."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent
from khoros.models import Plan
from sapmc.models import CampaignReference
from tests.browser.conftest import htmx_settled, screenshot, sign_in
from tests.scale import build_scale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _path(page) -> str:
    return page.url.split("//", 1)[1].split("/", 1)[1]


def _assert_state_url(page, campaign_pk: int) -> None:
    path = "/" + _path(page)
    assert path.startswith("/workbench/?"), path
    assert f"campaign={campaign_pk}" in path


def test_after_every_action_the_address_is_the_screen_and_reload_shows_it(live_server, world, page):
    spring, summer = world.campaigns[0], world.campaigns[1]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}&p-q=s")
    htmx_settled(page)

    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    _assert_state_url(page, spring.pk)
    assert "p-q=s" in page.url
    page.reload()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    assert "Spring Sale social" in page.locator("#assigned-plans").inner_text()
    assert page.locator("#id_p-q").input_value() == "s"

    page.goto(f"{live_server.url}/workbench/?campaign={summer.pk}")
    htmx_settled(page)
    page.get_by_role("button", name="Move Spring Sale social here from Spring Sale 2026").click()
    # Issue 11: a March Plan for the summer campaign: asked first.
    page.get_by_role("alertdialog").get_by_role("button", name="Move anyway").click()
    page.locator("main").get_by_text("Moved “Spring Sale social” to “Summer 2026”.").wait_for()
    _assert_state_url(page, summer.pk)
    page.reload()
    assert "Spring Sale social" in page.locator("#assigned-plans").inner_text()

    page.get_by_role("button", name="Unassign Spring Sale social").click()
    page.locator("main").get_by_text(
        "Unassigned “Spring Sale social” from “Summer 2026”."
    ).wait_for()
    _assert_state_url(page, summer.pk)
    response = page.reload()
    assert response.status == 200
    assert "No Plan feeds this campaign yet." in page.locator("#assigned-plans").inner_text()


def test_drift_decision_leaves_the_workbench_url(live_server, world, page):
    spring = world.campaigns[0]
    CampaignReference.objects.create(
        campaign=spring,
        external_campaign_id=world.plans[0].khoros_id.hex,
        plan=world.plans[0],
        managing_party=world.initiatives[0].khoros_id,
    )
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    page.get_by_role("button", name="Keep the bridge's").click()
    page.locator("main").get_by_text("Kept the bridge's Plans for “Spring Sale 2026”.").wait_for()
    _assert_state_url(page, spring.pk)
    assert page.reload().status == 200


def test_back_and_forward_show_current_data(live_server, world, page):
    spring, summer = world.campaigns[0], world.campaigns[1]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/")
    htmx_settled(page)
    page.get_by_role("link", name="Spring Sale 2026").click()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    htmx_settled(page)
    teaser = page.locator("#plan-list li", has_text="Summer teaser")
    assert teaser.get_by_role("button", name="Assign Summer teaser").count() == 1

    page.get_by_role("link", name="Summer 2026").click()
    page.get_by_role("heading", name="Summer 2026").wait_for()
    htmx_settled(page)
    page.locator("#plan-list").get_by_role("button", name="Assign Summer teaser").click()
    page.locator("main").get_by_text("Assigned “Summer teaser” to “Summer 2026”.").wait_for()
    htmx_settled(page)

    page.go_back()
    page.get_by_role("heading", name="Spring Sale 2026").wait_for()
    htmx_settled(page)
    _assert_state_url(page, spring.pk)
    teaser = page.locator("#plan-list li", has_text="Summer teaser")
    assert "feeds Summer 2026" in teaser.inner_text()  # not the snapshot from before the assign
    assert teaser.get_by_role("button", name="Assign Summer teaser").count() == 0

    # Someone else unassigns it meanwhile: Forward shows that too.
    Assignment.objects.filter(plan__name="Summer teaser").delete()
    page.go_forward()
    page.get_by_role("heading", name="Summer 2026").wait_for()
    htmx_settled(page)
    _assert_state_url(page, summer.pk)
    assert "No Plan feeds this campaign yet." in page.locator("#assigned-plans").inner_text()


def test_status_and_initiative_selects_apply_on_change(live_server, world, page):
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/workbench/")
    htmx_settled(page)
    page.get_by_label("Status").select_option(label="In Preparation")
    page.wait_for_url("**/workbench/?*c-status=1*")
    htmx_settled(page)
    campaigns = page.locator("section[aria-labelledby=campaigns-title] .list").inner_text()
    assert "Autumn 2026" in campaigns and "Spring Sale 2026" not in campaigns

    page.get_by_label("Initiative").select_option(label="Brand 1")
    page.wait_for_url(f"**/workbench/?*p-initiative={world.initiatives[1].pk}*")
    htmx_settled(page)
    plans = page.locator("#plan-list").inner_text()
    assert "Spring Sale video" in plans and "Spring Sale social" not in plans
    assert page.get_by_label("Status").input_value() == "1"


def _many_plans(world, count: int) -> list[Plan]:
    """`count` Plans "Extra 00", ... of Maria's Initiative, 1 to 6 June."""
    return build_scale(
        initiatives=world.initiatives[:1], plans=count, campaigns=0, first_campaign_id=0,
        plan_name="Extra {:02d}", start=date(2026, 6, 1), spread=1, plan_days=5, campaign_days=0,
        assign_step=1, assign_below=0, assign_to=int,
    ).plans  # fmt: skip


def test_a_selection_survives_plan_pages_and_is_counted(live_server, world, page):
    _many_plans(world, 30)  # 32 live Plans for Maria: two pages of 25
    summer = world.campaigns[1]
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={summer.pk}&ppage=1")
    htmx_settled(page)
    page.get_by_label("Select Spring Sale social").check()
    page.get_by_label("Select Extra 00").check()
    assert page.locator("#selection-count").inner_text() == "2 Plans selected."

    page.get_by_role("navigation", name="Plan pages").get_by_role("link", name="Next ›").click()
    page.locator("main").get_by_text("Page 2 of 2").wait_for()
    htmx_settled(page)
    count = page.locator("#selection-count")
    assert count.inner_text() == "2 Plans selected, 2 of them on other pages."
    page.get_by_label("Select Extra 29").check()
    assert count.inner_text() == "3 Plans selected, 2 of them on other pages."
    assert "ppage=2" in page.url and "plans=" in page.url  # a reload keeps the selection
    page.reload()
    assert page.locator("#selection-count").inner_text() == (
        "3 Plans selected, 2 of them on other pages."
    )
    screenshot(page, "workbench-selection-1280")

    page.get_by_role("button", name="Assign selected to “Summer 2026”").click()
    # Issue 11: "Spring Sale social" runs in March, outside the campaign: asked first, and the
    # question keeps the selection (the Plans on page 1 included).
    page.get_by_role("alertdialog").get_by_role("button", name="Assign anyway").click()
    page.locator("main").get_by_text("to “Summer 2026”.").first.wait_for()
    assert set(Assignment.objects.filter(campaign=summer).values_list("plan__name", flat=True)) == {
        "Spring Sale social",
        "Extra 00",
        "Extra 29",
    }
    assert AuditEvent.objects.count() == 3
    assert page.locator("#selection-count").inner_text().startswith("No Plan selected")
    assert "plans=" not in page.url


@pytest.mark.parametrize("width", [1280, 390])
def test_keyboard_focus_stays_and_the_selected_pane_stays_in_view(live_server, world, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    build_scale(  # 20 campaigns "Zeta 00", ... in June
        initiatives=[], plans=0, campaigns=20, first_campaign_id=900, campaign_name="Zeta {:02d}",
        start=date(2026, 6, 1), spread=1, plan_days=0, campaign_days=29, assign_step=1,
        assign_below=0, assign_to=int,
    )  # fmt: skip
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/")
    htmx_settled(page)
    low = page.get_by_role("link", name="Zeta 19")
    low.focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Zeta 19").wait_for()
    htmx_settled(page)
    assert page.evaluate("document.activeElement.textContent").strip().startswith("Zeta 19")
    box = page.locator("#selected-title").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 900  # in the viewport

    # Assign the first Plan by keyboard: its button goes away, focus moves to what came next.
    plans = list(
        Plan.objects.filter(initiative=world.initiatives[0], removed_at__isnull=True).order_by(
            "start", "name", "pk"
        )
    )
    first, second = plans[0], plans[1]
    page.locator(f"#assign-{first.pk}").focus()
    page.keyboard.press("Enter")
    # Issue 11: a March Plan for a June campaign is asked about first; the question has the
    # focus, Enter answers it, and the focus then goes on as if no question had been asked.
    page.get_by_role("alertdialog").wait_for()
    htmx_settled(page)
    assert page.evaluate("document.activeElement.id") == "confirm-yes"
    page.keyboard.press("Enter")
    page.locator("main").get_by_text(f"Assigned “{first.name}” to “Zeta 19”.").wait_for()
    htmx_settled(page)
    assert page.evaluate("document.activeElement.id") == f"plan-{second.pk}"
    # The answer is written at the top of the campaign's pane: on a phone, far above the Plan
    # list the person acted in. A copy then shows at the bottom of the screen.
    box = page.locator(".feedback .notice").bounding_box()
    answer_seen = box["y"] + box["height"] > 0 and box["y"] < 900
    assert answer_seen == (width == 1280)
    toast = page.locator("#toast")
    assert toast.is_visible() == (not answer_seen)
    if not answer_seen:
        assert toast.get_attribute("data-text") == f"Assigned “{first.name}” to “Zeta 19”."
        assert toast.text_content() == ""  # no second copy of the words in the page's text
        toast_box = toast.bounding_box()
        assert toast_box["y"] + toast_box["height"] <= 900
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == f"assign-{second.pk}"

    # Unassign it again: the Unassign button goes, focus lands on the next control, not the body.
    page.locator(f"#unassign-{first.pk}").focus()
    page.keyboard.press("Enter")
    page.locator("main").get_by_text(f"Unassigned “{first.name}” from “Zeta 19”.").wait_for()
    htmx_settled(page)
    assert page.evaluate("document.activeElement.id") == "id_note"


def test_escape_answers_the_question_as_cancel_does(live_server, world, page):
    summer = world.campaigns[1]
    plan = world.plans[0]  # Spring Sale social, a March Plan: outside the summer campaign
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={summer.pk}")
    htmx_settled(page)

    for answer in ("Cancel", "Escape"):
        page.locator(f"#assign-{plan.pk}").focus()
        page.keyboard.press("Enter")
        question = page.get_by_role("alertdialog")
        question.wait_for()
        htmx_settled(page)
        assert page.evaluate("document.activeElement.id") == "confirm-yes"
        if answer == "Cancel":
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "confirm-cancel"
            page.keyboard.press("Enter")
        else:
            page.keyboard.press("Escape")
        question.wait_for(state="detached")
        htmx_settled(page)
        assert page.evaluate("document.activeElement.id") == f"assign-{plan.pk}", answer
        _assert_state_url(page, summer.pk)
        assert not Assignment.objects.exists()
        assert not AuditEvent.objects.exists()


def test_move_is_offered_where_a_plan_feeds_another_campaign(live_server, world, page):
    spring, summer = world.campaigns[0], world.campaigns[1]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    row = page.locator("#plan-list li", has_text="Spring Sale social")
    assert row.get_by_role("button").count() == 0  # it feeds this very campaign

    page.goto(f"{live_server.url}/workbench/?campaign={summer.pk}")
    htmx_settled(page)
    row = page.locator("#plan-list li", has_text="Spring Sale social")
    assert "feeds Spring Sale 2026" in row.inner_text()
    row.get_by_role("button", name="Move Spring Sale social here from Spring Sale 2026").click()
    question = page.get_by_role("alertdialog")
    assert "outside the campaign's 1 Jun–31 Aug" in question.inner_text()
    assert not AuditEvent.objects.exists()
    question.get_by_role("button", name="Move anyway").click()
    page.locator("main").get_by_text("Moved “Spring Sale social” to “Summer 2026”.").wait_for()
    assert Assignment.objects.get(plan=world.plans[0]).campaign == summer
    assert AuditEvent.objects.get().action == AuditEvent.Action.ASSIGNMENT_MOVE


@pytest.mark.parametrize("width", [1440, 390])
def test_workbench_screenshots(live_server, world, page, width):
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={world.campaigns[1].pk}")
    htmx_settled(page)
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"workbench-{width}")


def test_letters_typed_while_a_search_is_answered_are_kept(live_server, world, fresh_page):
    """The answer to a search swaps in its own copy of the search box: letters typed while it
    was on its way were replaced by the ones it was asked with ("Holiday" read "Holiay")."""
    page = fresh_page  # it adds a handler, an init script or a route
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/?campaign={world.campaigns[1].pk}")
    htmx_settled(page)
    held = []

    def hold_the_first(route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/workbench/?*p-q=*", hold_the_first)
    search = page.get_by_label("Search Plans")
    search.focus()
    page.keyboard.type("Sum")
    page.wait_for_function("() => document.querySelector('.htmx-request')")  # asked for "Sum"
    page.keyboard.type("mer")
    held[0].continue_()  # "Sum"'s answer arrives after "mer" was typed
    page.wait_for_url("**p-q=Summer*")
    htmx_settled(page)
    assert search.input_value() == "Summer"
    assert page.evaluate("document.activeElement.id") == "id_p-q"
    plans = page.locator("#plan-list").inner_text()
    assert "Summer teaser" in plans and "Spring Sale social" not in plans
