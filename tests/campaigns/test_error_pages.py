"""Custom 403, 404 and 500 pages in the product's layout, with a way back; never Django's
debug page for a mistyped URL, even in the demo (DEBUG on)."""

from __future__ import annotations

import base64
import sys

import pytest
from django.test import RequestFactory
from django.views import defaults
from django.views.debug import technical_500_response

from campaigns.middleware import ContentSecurityPolicyMiddleware

pytestmark = pytest.mark.django_db


def test_a_mistyped_url_gets_the_product_404_page(client, world):
    client.force_login(world.maria)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert {"404.html", "base.html"} <= {t.name for t in response.templates}
    body = response.content.decode()
    assert "Page not found" in body and 'href="/"' in body and "Back to the dashboard" in body
    assert 'class="topbar"' in body  # the product's layout


def test_the_demo_with_debug_on_never_shows_django_debug_404(client, world, settings):
    settings.DEBUG = True
    for user in (None, world.maria):
        if user is not None:
            client.force_login(user)
        response = client.get("/campaigns/not-a-number/")
        assert response.status_code == 404
        body = response.content.decode()
        assert "Using the URLconf" not in body and "DEBUG = True" not in body
        assert "Page not found" in body and "Back to the dashboard" in body


def test_debug_404_leaves_json_answers_alone(client, settings):
    settings.DEBUG = True
    settings.SAPMC_INBOUND_PASSWORD = "pw-inbound"
    response = client.post(
        "/sapmc/extcamp/v1/nothing-here",
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"sapmc-inbound:pw-inbound").decode(),
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_forbidden_page_is_the_product_403(client, world):
    client.force_login(world.maria)
    response = client.get("/audit/")
    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert "Not allowed" in body and "Back to the dashboard" in body


def test_the_500_page_needs_no_database(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        response = defaults.server_error(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and 'href="/"' in body and 'class="topbar"' in body


def test_a_failed_csrf_check_gets_the_product_page(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.maria)
    response = client.post("/workbench/assign/", {"campaign": "1", "plans": "1"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This form has expired" in body and 'class="topbar"' in body
    assert "Back to the dashboard" in body


@pytest.mark.parametrize("path", ["/workbench/assign/", "/calendar/assign/", "/calendar/views/"])
def test_a_visit_to_an_action_address_gets_the_product_405_page(client, world, path):
    client.force_login(world.maria)
    response = client.get(path)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert {"405.html", "base.html"} <= {t.name for t in response.templates}
    body = response.content.decode()
    assert "This address takes a form, not a visit" in body and 'class="topbar"' in body
    assert '<a href="/">Back to the dashboard</a>' in body
    assert "Back to the previous page" not in body
    assert "no-store" in response["Cache-Control"]


def test_the_405_page_leads_back_to_a_page_of_this_site_only(client, world):
    client.force_login(world.maria)
    back = client.get(
        "/workbench/assign/", headers={"Referer": "http://testserver/workbench/?campaign=3&p-q=x"}
    )
    assert '<a href="/workbench/?campaign=3&amp;p-q=x">Back to the previous page</a>' in (
        back.content.decode()
    )
    for referer in (
        "https://elsewhere.example/",
        "http://testserver/login/?next=/workbench/assign/",
    ):
        body = client.get("/workbench/assign/", headers={"Referer": referer}).content.decode()
        assert "Back to the previous page" not in body and "elsewhere" not in body


def test_a_signed_out_visit_to_the_logout_address_gets_the_405_page(client):
    response = client.get("/logout/")
    assert response.status_code == 405
    assert "This address takes a form, not a visit" in response.content.decode()


def test_405_answers_of_the_admin_and_sap_mcs_endpoints_are_their_own(
    client, settings, django_user_model
):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root"))
    admin = client.get("/admin/logout/")
    assert admin.status_code == 405
    assert "405.html" not in {t.name for t in admin.templates}
    settings.SAPMC_INBOUND_PASSWORD = "pw-inbound"
    api = client.get(
        "/sapmc/extcamp/v1/parameter-values",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"sapmc-inbound:pw-inbound").decode(),
    )
    assert api.status_code == 405
    assert api["Content-Type"].startswith("application/json")
    assert "405.html" not in {t.name for t in api.templates}


def _policy(response) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1]
        for part in response["Content-Security-Policy"].split("; ")
    }


def test_staff_keep_django_debug_404_styled_under_debug(client, settings, django_user_model):
    # Staff keep Django's debug 404 (it lists the URL patterns); its inline style is allowed on
    # that page only, and only while DEBUG is on.
    settings.DEBUG = True
    staff = django_user_model.objects.create_user("dev", password="pw-dev-2026", is_staff=True)
    client.force_login(staff)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "Using the URLconf" in response.content.decode()
    policy = _policy(response)
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self' 'unsafe-inline'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"


def test_product_pages_keep_the_strict_policy_under_debug(client, world, settings):
    settings.DEBUG = True
    client.force_login(world.maria)
    for path in ("/no-such-page/", "/"):
        response = client.get(path)
        assert _policy(response)["style-src"] == "'self'", path
        assert _policy(response)["script-src"] == "'self'", path


def test_django_debug_500_page_is_styled_only_under_debug(settings):
    request = RequestFactory().get("/boom/")

    def view(request):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            return technical_500_response(request, *sys.exc_info())

    settings.DEBUG = True
    response = ContentSecurityPolicyMiddleware(view)(request)
    assert response.status_code == 500 and b"RuntimeError" in response.content
    assert _policy(response)["style-src"] == "'self' 'unsafe-inline'"
    settings.DEBUG = False
    response = ContentSecurityPolicyMiddleware(view)(request)
    assert _policy(response)["style-src"] == "'self'"


@pytest.mark.parametrize("host", ["evil.example", "testserver:abc", "[::1"])
def test_a_host_the_bridge_does_not_serve_gets_the_400_page_not_a_500(client, world, host, caplog):
    # Scanners send any Host. Django refuses it with a 400 before a session or user is read; the
    # product's 400 page then asked who the viewer was (the navigation's roles) and crashed, so
    # each such request answered 500 and logged a traceback for the alerts to find.
    client.raise_request_exception = False
    for user in (None, world.maria):
        if user is not None:
            client.force_login(user)
        caplog.clear()
        response = client.get("/login/", HTTP_HOST=host)
        assert response.status_code == 400
        assert "Bad request" in response.content.decode()
        assert not [r for r in caplog.records if r.name == "django.request"]
