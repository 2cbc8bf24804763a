"""The sync admin role: who may see and start runs, schedules and logs (design.md "Access").

It lives with the engine so that every app's pages (syncs', sapmc's, campaigns') ask the same
question without importing each other; campaigns.access adds the managers' side.

Where each rule is checked, once:
- the role a page needs ("sync admins", "managers and sync admins") is declared on the view with
  `@sync_admin_required` / `@manager_or_admin_required` (campaigns.access): nobody without it
  reaches the view's body. An anonymous visitor is sent to the login page, a signed-in user
  without the role gets the 403 page with the reason given to the decorator.
- which objects a user may touch (the Plans of granted Initiatives, schedules) is checked in the
  services (campaigns.services) for writes, which every caller goes through, and refused there
  with campaigns.access.NotAllowedError (a PermissionDenied: the 403 page with its message);
  reads are cut to what the user may see in the selectors (campaigns.selectors). Views do not
  repeat either.
- a view open to any signed-in user carries `@login_required`; a public one (login, health, the
  inbound API with its own Basic auth) carries `@login_not_required`. tests/test_view_access.py
  walks every URL pattern and fails on a view that declares none of these.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import TypeVar, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

SYNC_ADMINS = "Sync admins"

AnyUser = User | AnonymousUser


def user_roles(user: AnyUser) -> frozenset[str]:
    """The user's group names, read once per user object (a request asks several times)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_smcbridge_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._smcbridge_roles = cached  # type: ignore[attr-defined]  # a cache on this object
    return cached


def is_sync_admin(user: AnyUser) -> bool:
    """Sync admins see everything and run syncs; superusers count as sync admins."""
    return user.is_authenticated and (user.is_superuser or SYNC_ADMINS in user_roles(user))


def may_read_health_errors(request: HttpRequest) -> bool:
    """Whether /healthz may show error texts: a sync admin's session or the monitor's token.

    Anyone else gets the public answer, not a 401: a monitor with a wrong or missing token
    must keep seeing ok/failing. The token is compared in constant time.
    """
    if is_sync_admin(request.user):
        return True
    token = settings.HEALTHZ_TOKEN
    if not token:
        return False
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


# Any view: the decorators give back the very view they were given, so its type is kept.
View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def role_required(
    role: str, allowed: Callable[[AnyUser], bool], reason: str
) -> Callable[[View], View]:
    """A view decorator: login page for anonymous visitors, 403 with `reason` without `role`.

    The view is marked with `access_role` (functools.wraps carries it through the decorators
    above) so that a test can tell every view declared its access.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                raise PermissionDenied(reason)
            return view(request, *args, **kwargs)

        checked.access_role = role  # type: ignore[attr-defined]
        return cast(View, checked)

    return decorator


# Any signed-in user: a page that shows each role its own part (the dashboard).
signed_in_required = role_required("signed_in", lambda user: True, "")


def sync_admin_required(reason: str) -> Callable[[View], View]:
    """Only sync admins (and superusers) reach the view."""
    return role_required("sync_admin", is_sync_admin, reason)
