"""Request-wide behaviour: the viewer's time zone, the product's 404 and 405 pages, a signed-out
person's htmx request."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from smcbridge.http import content_length_is_a_number
from smcbridge.zones import zone_named

# Set by a line of script in base.html from Intl.DateTimeFormat().resolvedOptions().timeZone.
COOKIE = "smcbridge_tz"


class ViewerTimezoneMiddleware:
    """Activate the zone named by the cookie; an unknown or missing one leaves TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get(COOKIE, "")
        zone = zone_named(name) if name and len(name) < 64 else None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)


class ProductNotFoundMiddleware:
    """Under DEBUG (the demo), answer a mistyped URL with the product's 404 page, not Django's.

    Django shows its technical 404 page, with every URL pattern, whenever DEBUG is on and never
    consults handler404. Staff keep it (they debug); everyone else gets templates/404.html. Other
    answers, JSON ones (SAP MC's endpoints) included, pass untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(getattr(request, "user", None), "is_staff", False)
        ):
            return render(request, "404.html", status=404)
        return response


class SignedOutHtmxMiddleware:
    """Send a signed-out person's htmx request, or form, to the login page, which says why and
    leads back to the page the person was on.

    login_required answers 302 to the login page; htmx followed it and swapped the login form
    into the part of the page it was updating (under a top bar still naming the person), and
    the login's `next` was the action's address, which takes only a POST. Instead the window
    goes to the login page, which says why, with `next` the page the person was on (htmx sends
    it as HX-Current-URL). A plain form (the audit's Undo, a schedule's Save, Sync now) met the
    same `next`: logged in again, the person landed on the "Not a page" error, not told that her
    change was not saved; its page is the Referer. A GET, or a form without a Referer, keeps
    Django's redirect.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = bool(getattr(request, "htmx", False))
        # Only a signed-out person's htmx request or form is looked at: no work for any other
        # answer.
        if response.status_code not in (302, 403) or not (htmx or request.method == "POST"):
            return response
        login = resolve_url(settings.LOGIN_URL)
        to_login = response.status_code == 302 and urlsplit(response["Location"]).path == login
        # With every cookie gone, not only the session's, a POST fails the CSRF check before a
        # view can ask for a login: the same case for a signed-out person.
        if request.user.is_authenticated or not (to_login or response.status_code == 403):
            return response
        if htmx:
            back = _same_site_path(request, request.headers.get("HX-Current-URL"))
        elif request.path in (login, reverse("logout"), reverse("admin:login")) or (
            request.path.startswith(API_PREFIX)
        ):
            # Logging in (its own refusal) or out (a session already ended) is no lost change,
            # and SAP MC's calls answer their own JSON.
            return response
        else:
            back = _same_site_path(request, request.headers.get("Referer"))
            if not back:
                return response
        if request.method == "GET":
            messages.info(request, "Your session has ended. Please log in again.")
        else:
            messages.info(
                request,
                "Your session has ended, so your last change was not saved. Please log in again.",
            )
        if back:
            login += "?" + urlencode({REDIRECT_FIELD_NAME: back})
        return HttpResponseClientRedirect(login) if htmx else redirect(login)


class ProductMethodNotAllowedMiddleware:
    """Answer a visit to an address that takes only a form (405) with a page of the product.

    require_POST answers with an empty body, which a browser shows as its own bare error; people
    get there by a bookmark, a reload or an old login link. The Allow header stays. SAP MC's
    endpoints answer their own JSON, the admin its own pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code != 405
            or not response.get("Content-Type", "").startswith("text/html")
            or request.path.startswith((API_PREFIX, reverse("admin:index")))
        ):
            return response
        back = _same_site_path(request, request.headers.get("Referer"))
        page = render(request, "405.html", {"back": back}, status=405)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        # The way back depends on the Referer: never keep this page.
        add_never_cache_headers(page)
        return page


def _same_site_path(request: HttpRequest, url: str | None) -> str | None:
    """The path and query of `url` when it is a page of this site (not the login page)."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    # A path of "//host" would be read as another site.
    if path.startswith("//") or parts.path == resolve_url(settings.LOGIN_URL):
        return None
    return path


class PrivateAnswersMiddleware:
    """Keep no answer to a signed-in person in any cache, unless its view said otherwise.

    The audit trail and its CSV, campaign pages and their KPI files, the alerts and the SAP MC
    call log said nothing about caching, so a browser kept them on disk: after logging out on
    a shared computer, Back (or the download history) showed them to the next person. Pages
    that must be fresh already say so (never_cache); this covers every other one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Cache-Control first: SAP MC's answers set theirs, and an anonymous request (a monitor,
        # the login page) costs no session read.
        if not response.has_header("Cache-Control") and request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


class RefuseNulMiddleware:
    """Answer 400 to a page request whose path, query string or form fields hold a NUL character.

    PostgreSQL refuses NUL in text, so such a value would turn any query or write that uses it
    into a 500; no person types one. The path too: the admin looks a row up by the id in its
    address (`/admin/django_q/success/a%00b/change/`, whose key is text). SAP MC's endpoints
    check their own input and answer JSON.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) and (
            not content_length_is_a_number(request)
            or "\x00" in request.path_info
            or _holds_nul(request.GET)
            or (request.method == "POST" and _holds_nul(request.POST))
        ):
            return render(request, "400.html", status=400)
        return self.get_response(request)


API_PREFIX = "/sapmc/extcamp/"


def _holds_nul(data: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in v for v in data.getlist(key)) for key in data)


# Scripts, styles, images and fonts from our own origin only: no inline script or style
# (attributes included), no eval, no plugins, no framing, forms post only to us. Positions and
# colours computed per row come as data-style attributes that static/js/app.js applies through
# the CSSOM, which the policy allows; htmx's own indicator style is off and it never copies a
# style attribute while settling a swap (htmx-config meta in base.html); the indicator's rules
# live in app.css.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# Django's own debug pages (the technical 404 staff keep under DEBUG, the technical 500) are
# styled and scripted inline: under the policy above they came out unstyled, their tracebacks
# folded shut, with a violation in the console. They only exist while DEBUG is on.
DEBUG_PAGE_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# Every debug page of Django's carries this tag; the product's own pages do not.
_DEBUG_PAGE_MARK = b'<meta name="robots" content="NONE,NOARCHIVE">'


class ContentSecurityPolicyMiddleware:
    """Send the policy with every answer that has none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = CONTENT_SECURITY_POLICY
        if (
            settings.DEBUG
            and response.status_code in (404, 500)
            and not response.streaming
            and _DEBUG_PAGE_MARK in response.content[:2000]
        ):
            policy = DEBUG_PAGE_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
