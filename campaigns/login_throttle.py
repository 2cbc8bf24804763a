"""Brakes on guessing passwords at the login page (django-axes).

Failures are counted per user name and address (smcbridge.client_ip.lockout_address: an IPv6
caller per /64), so that one person's typos never lock out a colleague behind the same NAT; and
per address alone at a much higher limit (LOGIN_ADDRESS_FAILURE_LIMIT), so that one address
cannot try a few passwords against every user name (password spraying).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_session_hash
from axes.models import AccessAttempt, AccessLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from smcbridge.client_ip import client_ip

logger = logging.getLogger("campaigns.login_throttle")


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


class LoginLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, with a second limit per address alone.

    axes' own lockout parameters share one failure limit: adding the address alone to them
    would lock a whole office behind NAT after LOGIN_FAILURE_LIMIT typos. The address's count
    is the sum of axes' own attempt rows of that address (every user name) within the cool-off
    time, so it needs no table of its own: axes writes each failure in its own transaction, a row
    locked for update, so concurrent failures all count; its admin lists those rows, and deleting
    them (or `axes_reset_ip`) clears the address's lockout as it clears a pair's.
    """

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        # Kept on the request: the failure axes then records for a refused login (it counts
        # them, to keep the lockout going) must answer with the lockout page but not log again.
        request.address_was_locked = self._address_locked(request)  # type: ignore[attr-defined]
        return request.address_was_locked  # type: ignore[attr-defined]

    def user_login_failed(
        self,
        sender: object,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if self.is_whitelisted(request, credentials) or not self._address_locked(request):
            return
        # The failure that reached the address's limit is answered with the lockout page, as
        # axes answers the one that reaches a pair's (the same page: which limit was reached is
        # nobody's business at the login page).
        request.axes_locked_out = True  # type: ignore[attr-defined]
        request.axes_credentials = credentials  # type: ignore[attr-defined]
        if getattr(request, "address_was_locked", False):
            return
        logger.warning(
            "Logins from %s locked for %d minutes after %d failed logins from that address",
            request.axes_ip_address,  # type: ignore[attr-defined]
            settings.AXES_COOLOFF_TIME.total_seconds() // 60,
            settings.LOGIN_ADDRESS_FAILURE_LIMIT,
        )
        user_locked_out.send(
            "axes",
            request=request,
            username=None,
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        )

    def user_logged_in(
        self, sender: object, request: HttpRequest, user: Any, **kwargs: Any
    ) -> None:
        super().user_logged_in(sender, request, user, **kwargs)
        # axes keeps the lockout's address on its login log too: an IPv6 caller's /64. The log
        # says who signed in from where, so it keeps the caller's own address.
        exact = client_ip(request)
        counted = request.axes_ip_address  # type: ignore[attr-defined]
        if exact and exact != counted:
            AccessLog.objects.filter(
                username=user.get_username(),
                ip_address=counted,
                session_hash=get_client_session_hash(request),
                logout_time__isnull=True,
            ).update(ip_address=exact)

    def _address_locked(self, request: HttpRequest) -> bool:
        return address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


def address_failures(request: HttpRequest) -> int:
    """Failed logins from the request's address (any user name) within the cool-off time."""
    total = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0
