"""The sync admin role: who may see and start runs, schedules and logs (design.md "Access").

It lives with the engine so that every app's pages (syncs', sapmc's, campaigns') ask the same
question without importing each other; campaigns.access adds the managers' side.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

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
