"""A session that ends while a page is open: the next htmx request takes the whole window to the
login page, which says why and leads back to the page the person was on."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages

pytestmark = pytest.mark.django_db

ON_THE_WORKBENCH = "http://testserver/workbench/?campaign=7&p-q=spring#plan-list"


def htmx(current_url: str | None = ON_THE_WORKBENCH) -> dict[str, str]:
    headers = {"HX-Request": "true"}
    if current_url is not None:
        headers["HX-Current-URL"] = current_url
    return headers


def _next(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("next", [])


def test_an_htmx_post_after_logout_takes_the_window_to_the_login_page_and_back(client, world):
    response = client.post(
        "/workbench/assign/", {"campaign": world.campaigns[0].pk, "plan_one": world.plans[0].pk},
        headers=htmx(),
    )  # fmt: skip
    # 200 with HX-Redirect: htmx navigates the window instead of swapping the login page in.
    assert response.status_code == 200
    assert "Location" not in response
    assert urlsplit(response["HX-Redirect"]).path == "/login/"
    # The page the person was on, path and query only, not the action's POST-only address.
    assert _next(response["HX-Redirect"]) == ["/workbench/?campaign=7&p-q=spring"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your session has ended, so your last change was not saved. Please log in again."
    ]

    login_page = client.get(response["HX-Redirect"])
    body = login_page.content.decode()
    assert "Your session has ended, so your last change was not saved." in body
    assert 'name="next" value="/workbench/?campaign=7&amp;p-q=spring"' in body

    back = _next(response["HX-Redirect"])[0]
    logged_in = client.post(
        "/login/", {"username": "maria", "password": "pw-maria-2026", "next": back}
    )
    assert logged_in.status_code == 302
    assert logged_in["Location"] == "/workbench/?campaign=7&p-q=spring"
    assert client.get(logged_in["Location"]).status_code == 200


@pytest.mark.parametrize(
    "path", ["/calendar/panel/?panel=c1", "/syncs/", "/"],
    ids=["login_required", "sync_admin_required", "signed_in_required"],
)  # fmt: skip
def test_an_htmx_get_after_logout_says_the_session_ended(client, world, path):
    response = client.get(path, headers=htmx("http://testserver/calendar/?zoom=quarter"))
    assert response.status_code == 200
    assert _next(response["HX-Redirect"]) == ["/calendar/?zoom=quarter"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your session has ended. Please log in again."
    ]


@pytest.mark.parametrize(
    "current_url",
    [
        None,
        "https://elsewhere.example/workbench/",
        "http://testserver//elsewhere.example/workbench/",
        "javascript:alert(1)",
        "http://testserver/login/?next=/workbench/",
    ],
)
def test_a_next_page_only_on_this_site_and_never_the_login_page(client, world, current_url):
    response = client.post("/workbench/assign/", {}, headers=htmx(current_url))
    assert response["HX-Redirect"] == "/login/"


def test_an_htmx_post_without_any_cookie_left_is_sent_to_the_login_page_too():
    from django.test import Client

    # No session and no CSRF cookie (the browser's cookies cleared): the CSRF check refuses
    # the POST before login_required is asked.
    response = Client(enforce_csrf_checks=True).post("/workbench/assign/", {}, headers=htmx())
    assert response.status_code == 200
    assert _next(response["HX-Redirect"]) == ["/workbench/?campaign=7&p-q=spring"]


def test_a_signed_in_persons_refusals_are_untouched(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.maria)
    refused = client.post("/workbench/assign/", {}, headers=htmx())
    assert refused.status_code == 403
    assert "HX-Redirect" not in refused


def test_a_plain_post_after_logout_keeps_djangos_redirect(client, world):
    response = client.post("/workbench/assign/", {"campaign": world.campaigns[0].pk})
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/workbench/assign/"
    assert "HX-Redirect" not in response
    assert list(get_messages(response.wsgi_request)) == []


def test_a_signed_in_htmx_request_is_untouched(client, world):
    client.force_login(world.maria)
    response = client.get(f"/workbench/?campaign={world.campaigns[0].pk}", headers=htmx())
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert 'id="workbench"' in response.content.decode()


def test_no_page_or_file_shown_to_a_signed_in_person_is_kept_by_the_browser(client, world):
    """After logging out on a shared computer, Back and the downloads must not show the next
    person the audit trail, a campaign's numbers or the alerts from the browser's cache."""
    spring = world.campaigns[0].pk
    pages = {
        world.admin: [
            "/audit/", "/audit/?format=csv", "/syncs/alerts/", "/syncs/alerts/count/",
            "/schedules/", "/sapmc-calls/", "/no-such-page/",
        ],
        world.maria: [
            f"/campaigns/{spring}/", f"/campaigns/{spring}/kpis.csv", "/calendar/list/?format=csv",
        ],
    }  # fmt: skip
    for user, urls in pages.items():
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 404), url
            cache_control = response.get("Cache-Control", "")
            assert "no-store" in cache_control and "private" in cache_control, url
    # Nobody signed in: a monitor's probe is left as it is.
    client.logout()
    assert not client.get("/healthz/live").has_header("Cache-Control")


@pytest.mark.parametrize(
    "action",
    ["/workbench/undo/", "/schedules/1/", "/sync/khoros_plans/", "/syncs/alerts/1/dismiss/"],
)
def test_a_plain_form_post_after_logout_says_so_and_leads_back_to_its_page(client, world, action):
    """A form without htmx (Undo on the audit page, a schedule's Save, Sync now, Dismiss): its
    login page said nothing and led, once logged in, to the action's POST-only address, the
    "Not a page" error, instead of the page the person was on."""
    response = client.post(action, {"event": 1}, headers={"Referer": AUDIT_PAGE})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/login/"
    assert _next(response["Location"]) == ["/audit/?actor=2&campaign=7"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your session has ended, so your last change was not saved. Please log in again."
    ]
    logged_in = client.post(
        "/login/",
        {"username": "alex", "password": "pw-alex-2026", "next": _next(response["Location"])[0]},
    )
    assert logged_in["Location"] == "/audit/?actor=2&campaign=7"


def test_a_plain_form_post_without_any_cookie_left_is_sent_to_the_login_page_too():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/workbench/undo/", {"event": 1}, headers={"Referer": AUDIT_PAGE}
    )
    assert response.status_code == 302
    assert _next(response["Location"]) == ["/audit/?actor=2&campaign=7"]


def test_logging_in_and_out_are_not_taken_for_an_ended_session(world):
    from django.test import Client

    # Log out in a tab whose session had already ended: the login page, with nothing to say.
    client = Client()
    response = client.post("/logout/", headers={"Referer": AUDIT_PAGE})
    assert response["Location"] == "/login/"
    assert list(get_messages(response.wsgi_request)) == []
    # The login form posted without its cookie keeps its own refusal.
    refused = Client(enforce_csrf_checks=True).post(
        "/login/", {"username": "alex", "password": "x"}, headers={"Referer": AUDIT_PAGE}
    )
    assert refused.status_code == 403


AUDIT_PAGE = "http://testserver/audit/?actor=2&campaign=7"


@pytest.mark.parametrize(
    ("asked", "lands_on"),
    [
        ("/login/", "/"),
        ("/login/?next=/audit/%3Fcampaign%3D7", "/audit/?campaign=7"),
        ("/login/?next=https://elsewhere.example/", "/"),
    ],
    ids=["no next page", "its next page", "never another site"],
)
def test_the_login_page_asked_again_when_signed_in_leads_on(client, world, asked, lands_on):
    """Back after logging in, a reload or a bookmark of the login page asked a signed-in person
    for her password again."""
    client.force_login(world.maria)
    response = client.get(asked)
    assert response.status_code == 302
    assert response["Location"] == lands_on
    # Someone without the next page's role gets its refusal there, not the login page again.
    assert client.get(response["Location"]).status_code in (200, 403)


def test_a_stale_login_form_posted_when_signed_in_keeps_the_session(client, world):
    client.force_login(world.maria)
    response = client.post("/login/", {"username": "maria", "password": "wrong"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").context["user"] == world.maria
