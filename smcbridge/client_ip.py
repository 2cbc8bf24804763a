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


def lockout_network(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Network | None:
    """What the lockouts count a caller as: an IPv4 address itself (also as a dual-stack socket
    shows it, ::ffff:a.b.c.d), an IPv6 one as its /64. One subscriber, one machine even (SLAAC
    privacy addresses), gets a whole /64: counted per address, a caller rotating through it
    would never be locked out. None when `ip` is no address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return ipaddress.IPv6Network((address, 64), strict=False)
    return address


def lockout_address(request: HttpRequest) -> str | None:
    """The caller as the login lockout (django-axes' AXES_CLIENT_IP_CALLABLE) counts it: an IPv4
    address, or an IPv6 /64 as its first address ("2001:db8:1:2::"), since axes keeps an address
    (not a network) per attempt. None when the caller has no readable address."""
    network = lockout_network(client_ip(request))
    if isinstance(network, ipaddress.IPv6Network):
        return str(network.network_address)
    return None if network is None else str(network)
