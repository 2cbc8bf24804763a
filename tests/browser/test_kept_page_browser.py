"""The page kept from test to test is handed on as empty as a new one."""

from __future__ import annotations

import pytest

from tests.browser.conftest import VIEWPORT, _emptied, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_emptied_page_keeps_no_storage_cookie_route_size_or_place(live_server, world, page):
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/workbench/")
    page.set_viewport_size({"width": 390, "height": 600})
    page.evaluate("() => { localStorage.setItem('a', '1'); sessionStorage.setItem('b', '2'); }")
    page.route("**/login/", lambda route: route.abort())  # a route the test left behind

    assert _emptied(page)

    assert page.url == "about:blank"
    assert page.context.cookies() == []
    assert page.viewport_size == VIEWPORT
    page.goto(f"{live_server.url}/login/")  # not aborted: the route went with the rest
    stored = page.evaluate("() => [localStorage.getItem('a'), sessionStorage.getItem('b')]")
    assert stored == [None, None]
    # Signed out: the workbench sends the next person to the login page.
    page.goto(f"{live_server.url}/workbench/")
    assert "/login/" in page.url
