"""How long a sign-in lasts and what ends it (README "Configuration": SESSION_HOURS), the session
cookie's flags under the documented production settings, and the login page's guards against a
caller inside the network (redirects to other sites, CSRF on login and logout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from tests.conftest import settings_from

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _sign_in(client, world) -> None:
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    response = client.post("/login/", {"username": "maria", "password": "right-pw-2026"})
    assert response.status_code == 302


def test_a_sign_in_lasts_a_working_day_from_the_login_whatever_the_activity(client, world):
    # Django's default kept a session for 14 days: a laptop left open in a meeting room, or
    # lost, stayed signed in for two weeks.
    with time_machine.travel(T0, tick=False):
        _sign_in(client, world)
    for hours in (1, 6, 11):
        with time_machine.travel(T0 + timedelta(hours=hours), tick=False):
            assert client.get("/").status_code == 200  # used all day: not renewed by it
    with time_machine.travel(T0 + timedelta(hours=12, minutes=1), tick=False):
        response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_session_hours_is_read_from_the_environment_and_checked():
    assert settings_from({})["SESSION_COOKIE_AGE"] == 12 * 3600
    assert settings_from({"SESSION_HOURS": "8"})["SESSION_COOKIE_AGE"] == 8 * 3600
    from django.core.exceptions import ImproperlyConfigured

    for wrong in ("0", "a day"):
        with pytest.raises(ImproperlyConfigured, match="SESSION_HOURS"):
            settings_from({"SESSION_HOURS": wrong})


def test_under_the_production_settings_the_cookies_are_secure_http_only_and_same_site(tmp_path):
    from tests.test_deploy import production_env

    read = settings_from(production_env(tmp_path))
    assert read["SESSION_COOKIE_SECURE"] is True and read["CSRF_COOKIE_SECURE"] is True
    assert read["SESSION_COOKIE_HTTPONLY"] is True
    # Lax, Django's default: a link from an alert email still opens the page signed in, while
    # no other site's form or script request carries the cookie.
    assert read.get("SESSION_COOKIE_SAMESITE", "Lax") == "Lax"
    assert read.get("CSRF_COOKIE_SAMESITE", "Lax") == "Lax"


def test_a_password_changed_in_the_admin_ends_that_users_other_sessions(
    client, world, django_user_model
):
    _sign_in(client, world)
    assert client.get("/").status_code == 200
    root = django_user_model.objects.create_superuser("root", password="root-pw-2026")
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        f"/admin/auth/user/{world.maria.pk}/password/",
        {"password1": "a-new-pw-2026!", "password2": "a-new-pw-2026!", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "http:evil.example",
        " //evil.example",
        "javascript:alert(1)",
    ],
)
def test_a_login_never_leads_to_another_site(client, world, next_url):
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    response = client.post(
        "/login/", {"username": "maria", "password": "right-pw-2026", "next": next_url}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    # Signed in already, the login page leads on the same way.
    response = client.get("/login/", {"next": next_url})
    assert response.status_code == 302 and response["Location"] == "/"


def test_logout_and_login_need_the_csrf_token(world):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.maria)
    assert strict.get("/logout/").status_code == 405  # a link or an image cannot sign anyone out
    assert strict.post("/logout/").status_code == 403  # nor another site's form
    assert "_auth_user_id" in strict.session
    # Login CSRF: another site cannot sign a browser in under the attacker's account.
    assert (
        Client(enforce_csrf_checks=True)
        .post("/login/", {"username": "maria", "password": "x"})
        .status_code
        == 403
    )
