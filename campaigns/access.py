"""Who may do what: the two roles of design.md "Access"."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS
from khoros.models import Initiative, Plan

AnyUser = AbstractBaseUser | AnonymousUser


def _roles(user: AnyUser) -> frozenset[str]:
    """The user's group names, read once per user object (a request asks several times)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_smcbridge_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._smcbridge_roles = cached  # type: ignore[union-attr]
    return cached


def is_sync_admin(user: AnyUser) -> bool:
    """Sync admins see everything and run syncs; superusers count as sync admins."""
    return user.is_authenticated and (user.is_superuser or SYNC_ADMINS in _roles(user))


def is_marketing_manager(user: AnyUser) -> bool:
    return MARKETING_MANAGERS in _roles(user)


def can_use_workbench(user: AnyUser) -> bool:
    return is_sync_admin(user) or is_marketing_manager(user)


def granted_initiative_ids(user: AnyUser) -> frozenset[int] | None:
    """Primary keys of the Initiatives granted to a manager; None means all (sync admins)."""
    if is_sync_admin(user):
        return None
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_smcbridge_grants", None)
    if cached is None:
        cached = frozenset(
            Initiative.objects.filter(grants__user=user).values_list("pk", flat=True)
        )
        user._smcbridge_grants = cached  # type: ignore[union-attr]
    return cached


def visible_initiatives(user: AnyUser) -> QuerySet[Initiative]:
    """Initiatives the user may see: all for sync admins, the granted ones for managers."""
    if is_sync_admin(user):
        return Initiative.objects.all()
    if not user.is_authenticated:
        return Initiative.objects.none()
    return Initiative.objects.filter(grants__user=user)


def visible_plans(user: AnyUser) -> QuerySet[Plan]:
    """Plans the user may see and assign."""
    if is_sync_admin(user):
        return Plan.objects.all()
    if not user.is_authenticated:
        return Plan.objects.none()
    return Plan.objects.filter(initiative__grants__user=user)


def can_assign_plan(user: AnyUser, plan: Plan) -> bool:
    """A sync admin may assign any Plan, a manager the Plans of granted Initiatives."""
    if not can_use_workbench(user):
        return False
    granted = granted_initiative_ids(user)
    return granted is None or plan.initiative_id in granted
