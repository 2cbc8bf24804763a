"""The caller's address, the same way for every throttle: behind PROXY_COUNT trusted proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind PROXY_COUNT proxies the address the first
    of them saw (the proxies append to X-Forwarded-For; entries further left are the caller's
    own claims and are never trusted). X-Forwarded-For is read only from a request that came
    from a proxy's address (PROXY_ADDRESSES): one sent straight to the app server with a new
    address in it each time would otherwise guess passwords without ever being locked out.
    None when that is no IP address."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.PROXY_COUNT > 0 and _from_a_proxy(candidate):
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= settings.PROXY_COUNT:
            candidate = hops[-settings.PROXY_COUNT]
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def _from_a_proxy(remote: str) -> bool:
    try:
        address = ipaddress.ip_address(remote.strip())
    except ValueError:
        return False
    # A dual-stack socket reports an IPv4 proxy as ::ffff:127.0.0.1.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net) for net in settings.PROXY_ADDRESSES)
