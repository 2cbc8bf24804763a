"""Show times in the viewer's own time zone, as the browser reports it."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
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
