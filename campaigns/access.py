"""Who may do what: the two roles of design.md "Access"."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS
from khoros.models import Initiative


def _roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The user's group names, read once per user object (a request asks several times)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_smcbridge_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._smcbridge_roles = cached  # type: ignore[union-attr]
    return cached


def is_sync_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Sync admins see everything and run syncs; superusers count as sync admins."""
    return user.is_authenticated and (user.is_superuser or SYNC_ADMINS in _roles(user))


def is_marketing_manager(user: AbstractBaseUser | AnonymousUser) -> bool:
    return MARKETING_MANAGERS in _roles(user)


def visible_initiatives(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Initiative]:
    """Initiatives the user may see: all for sync admins, the granted ones for managers."""
    if is_sync_admin(user):
        return Initiative.objects.all()
    if not user.is_authenticated:
        return Initiative.objects.none()
    return Initiative.objects.filter(grants__user=user)
