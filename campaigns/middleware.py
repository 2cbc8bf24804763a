"""Request-wide behaviour: the viewer's time zone, the product's 404 page under DEBUG."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone

# Set by a line of script in base.html from Intl.DateTimeFormat().resolvedOptions().timeZone.
COOKIE = "smcbridge_tz"


class ViewerTimezoneMiddleware:
    """Activate the zone named by the cookie; an unknown or missing one leaves TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get(COOKIE, "")
        try:
            zone = ZoneInfo(name) if name and len(name) < 64 else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
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


class RefuseNulMiddleware:
    """Answer 400 to a page request whose query string or form fields hold a NUL character.

    PostgreSQL refuses NUL in text, so such a value would turn any query or write that uses it
    into a 500; no person types one. SAP MC's endpoints check their own input and answer JSON.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) and (
            _holds_nul(request.GET) or (request.method == "POST" and _holds_nul(request.POST))
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


class ContentSecurityPolicyMiddleware:
    """Send the policy with every answer that has none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
