"""The caller's address, the same way for every throttle: behind PROXY_COUNT trusted proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind PROXY_COUNT proxies the address the first
    of them saw (the proxies append to X-Forwarded-For; entries further left are the caller's
    own claims and are never trusted). None when that is no IP address."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.PROXY_COUNT > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= settings.PROXY_COUNT:
            candidate = hops[-settings.PROXY_COUNT]
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None
