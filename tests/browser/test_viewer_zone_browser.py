"""The browser tells the server its time zone: times are the viewer's from the next page on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncs.models import SyncRun
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zone_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "smcbridge_tz"), None)


@pytest.mark.parametrize(
    ("before", "now", "shown"),
    [
        # Mexico's Bahía de Banderas (UTC-6) to Brazil's Bahia (UTC-3): the old name starts with
        # the new one, and a cookie that merely contains it is not the browser's zone.
        ("America/Bahia_Banderas", "America/Bahia", "2026-03-08 11:30:00"),
        ("America/Dawson_Creek", "America/Dawson", "2026-03-08 07:30:00"),
        (None, "America/New_York", "2026-03-08 10:30:00"),  # after the clocks moved on
    ],
)
def test_the_browsers_zone_replaces_the_one_remembered(
    live_server, world, chromium, before, now, shown
):
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, status="succeeded",
        requested_by=world.admin,
    )  # fmt: skip
    SyncRun.objects.filter(pk=run.pk).update(queued_at=datetime(2026, 3, 8, 14, 30, tzinfo=UTC))
    context = chromium.new_context(timezone_id=now)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live_server.url, "alex")
        if before is not None:
            context.add_cookies([{"name": "smcbridge_tz", "value": before, "url": live_server.url}])
        page.goto(f"{live_server.url}/syncs/{run.pk}/")
        assert zone_cookie(page) == now
        page.reload()
        queued = page.locator("dt", has_text="Queued").locator("xpath=following-sibling::dd[1]")
        assert queued.inner_text() == shown
    finally:
        context.close()


def queued_page(live_server, world) -> str:
    """A run's page whose one time, queued at 14:30 UTC on 8 March 2026, shows the zone."""
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, status="succeeded",
        requested_by=world.admin,
    )  # fmt: skip
    SyncRun.objects.filter(pk=run.pk).update(queued_at=datetime(2026, 3, 8, 14, 30, tzinfo=UTC))
    return f"{live_server.url}/syncs/{run.pk}/"


def open_in_zone(chromium, live_server, zone: str, cookie: str | None):
    """A signed-in page whose browser is in `zone`, remembering `cookie`; and its page loads."""
    context = chromium.new_context(timezone_id=zone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alex")
    if cookie is not None:
        context.add_cookies([{"name": "smcbridge_tz", "value": cookie, "url": live_server.url}])
    loads: list[str] = []
    page.on("request", lambda r: loads.append(r.url) if r.resource_type == "document" else None)
    return context, page, loads


def settled(page) -> None:
    """Wait until no reload is pending: the last page loaded and the network fell quiet."""
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    ("before", "now", "shown"),
    [
        ("Europe/Berlin", "America/New_York", "2026-03-08 10:30:00"),  # the laptop travelled
        (None, "Asia/Tokyo", "2026-03-08 23:30:00"),  # a browser without the cookie yet
    ],
)
def test_the_first_page_after_a_zone_change_shows_the_new_zones_times(
    live_server, world, chromium, before, now, shown
):
    url = queued_page(live_server, world)
    context, page, loads = open_in_zone(chromium, live_server, now, before)
    try:
        page.goto(url)
        page.locator(f'meta[name="smcbridge-tz"][content="{now}"]').wait_for(state="attached")
        settled(page)

        queued = page.locator("dt", has_text="Queued").locator("xpath=following-sibling::dd[1]")
        assert queued.inner_text() == shown
        assert loads == [url, url]  # rendered in the old zone, then once in the browser's
        assert zone_cookie(page) == now

        page.goto(url)  # the next page is right at once
        settled(page)
        assert loads == [url, url, url]
    finally:
        context.close()


def test_a_zone_the_server_does_not_know_is_asked_for_once_and_never_loops(
    live_server, world, chromium
):
    """SystemV/AST4 is a zone of the browser's ICU data but not of the server's zone data:
    the page stays in the server's zone (UTC), reloaded once for a browser without the
    cookie, and never for one whose cookie already asked for it."""
    url = queued_page(live_server, world)
    context, page, loads = open_in_zone(chromium, live_server, "SystemV/AST4", None)
    try:
        page.goto(url)
        page.locator('meta[name="smcbridge-tz"][data-asked="SystemV/AST4"]').wait_for(
            state="attached"
        )
        settled(page)
        queued = page.locator("dt", has_text="Queued").locator("xpath=following-sibling::dd[1]")
        assert queued.inner_text() == "2026-03-08 14:30:00"  # UTC, the server's TIME_ZONE
        assert loads == [url, url]
        assert zone_cookie(page) == "SystemV/AST4"
    finally:
        context.close()

    context, page, loads = open_in_zone(chromium, live_server, "SystemV/AST4", "SystemV/AST4")
    try:
        page.goto(url)
        settled(page)
        assert loads == [url]  # exactly one load
        assert page.locator('meta[name="smcbridge-tz"]').get_attribute("content") == "UTC"
    finally:
        context.close()


def test_a_post_answer_in_another_zone_is_not_reloaded(live_server, world, chromium):
    """A form's answer (here the login page's, after a wrong password) is never loaded again:
    that would send the form again. The next GET page is rendered in the browser's zone."""
    context = chromium.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(10_000)
    loads: list[tuple[str, str]] = []
    page.on(
        "request",
        lambda r: loads.append((r.method, r.url)) if r.resource_type == "document" else None,
    )
    try:
        context.add_cookies(
            [{"name": "smcbridge_tz", "value": "Europe/Berlin", "url": live_server.url}]
        )
        page.goto(f"{live_server.url}/login/")  # rendered in Berlin: reloaded once, in Tokyo
        page.locator('meta[name="smcbridge-tz"][content="Asia/Tokyo"]').wait_for(state="attached")
        settled(page)
        context.add_cookies(
            [{"name": "smcbridge_tz", "value": "Europe/Berlin", "url": live_server.url}]
        )
        page.evaluate("window.sessionStorage.clear()")
        page.get_by_label("Username").fill("alex")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        page.locator("main").get_by_text("Your username and password didn't match").wait_for()
        settled(page)

        assert [method for method, _ in loads] == ["GET", "GET", "POST"]
        assert page.locator('meta[name="smcbridge-tz"]').count() == 0
    finally:
        context.close()
