"""Brakes on guessing passwords: the login page (django-axes) and SAP MC's Basic auth.

Both count failures per client address (`client_ip`); the login page per user name and address,
so that one person's typos never lock out a colleague behind the same NAT.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.models import InboundLockout

logger = logging.getLogger("campaigns.throttle")


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


# ---- The login page ------------------------------------------------------------------------


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first of the authentication backends.

    Every login form of the app (and the admin's) passes the request. A call without one (a test
    client's login(), a shell) cannot be counted per address; django-axes would raise an error
    there, this lets the next backend decide as if axes were not installed.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def login_locked_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """django-axes' answer to a locked-out login: the login page with a clear message, 429."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {
        "form": AuthenticationForm(request),
        "locked_minutes": minutes,
        "next": request.POST.get("next", "") or request.GET.get("next", ""),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


# ---- SAP MC's inbound Basic auth -----------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """What the record of an address says before its call is authenticated."""

    on_record: bool = False  # failures are on record (a success clears them)
    retry_after: int = 0  # seconds; above 0 while the address is locked
    first_refusal: bool = False  # the first call refused in this lockout (the call log keeps it)

    @property
    def locked(self) -> bool:
        return self.retry_after > 0


def _window() -> timedelta:
    return timedelta(minutes=settings.SAPMC_INBOUND_LOCKOUT_MINUTES)


def inbound_gate(*, ip: str, now: datetime) -> Gate:
    """Whether calls from `ip` are refused now (one read); counts the refusal when they are."""
    row = InboundLockout.objects.filter(ip=ip).values("locked_until", "refused").first()
    if row is None:
        return Gate()
    locked_until = row["locked_until"]
    if locked_until is None or locked_until <= now:
        return Gate(on_record=True)
    InboundLockout.objects.filter(ip=ip).update(refused=F("refused") + 1)
    return Gate(
        on_record=True,
        retry_after=max(1, math.ceil((locked_until - now).total_seconds())),
        first_refusal=row["refused"] == 0,
    )


def inbound_failure(*, ip: str, now: datetime) -> None:
    """Count a call with wrong credentials; the limit-th within the window locks the address."""
    _prune(now=now, keep=ip)
    with transaction.atomic():
        row, _ = InboundLockout.objects.select_for_update().get_or_create(
            ip=ip, defaults={"first_failure_at": now}
        )
        if row.locked_until is not None and row.locked_until <= now:
            # A lockout that ran out: say how much it held back, then count afresh.
            logger.warning(
                "SAP MC lockout of %s ended: %d calls refused while it lasted", ip, row.refused
            )
            row.locked_until, row.refused, row.failures = None, 0, 0
            row.first_failure_at = now
        elif row.first_failure_at + _window() <= now:
            row.failures, row.first_failure_at = 0, now  # the window passed: start again
        row.failures += 1
        if row.failures >= settings.SAPMC_INBOUND_FAILURE_LIMIT and row.locked_until is None:
            row.locked_until = now + _window()
            logger.warning(
                "SAP MC calls from %s locked for %d minutes after %d failed logins",
                ip, settings.SAPMC_INBOUND_LOCKOUT_MINUTES, row.failures,
            )  # fmt: skip
        row.save()


def _prune(*, now: datetime, keep: str) -> None:
    """Forget other addresses whose failures or lockout are over, so that guesses from many
    addresses leave no row behind for long; a lockout's refused calls are logged first."""
    stale = InboundLockout.objects.exclude(ip=keep).filter(
        Q(locked_until__isnull=True, first_failure_at__lte=now - _window())
        | Q(locked_until__lte=now)
    )
    for ip, refused in stale.filter(refused__gt=0).values_list("ip", "refused"):
        logger.warning("SAP MC lockout of %s ended: %d calls refused while it lasted", ip, refused)
    stale.delete()


def inbound_success(*, ip: str) -> None:
    """A right password forgets the address's failures (and an expired lockout's count)."""
    for row in InboundLockout.objects.filter(ip=ip):
        if row.refused:
            logger.warning(
                "SAP MC lockout of %s ended: %d calls refused while it lasted", ip, row.refused
            )
        row.delete()
