"""Who may do what: the two roles of design.md "Access", and the grants that scope a manager.

Which layer checks what is written at the top of syncs.access: roles on the views (the
decorators), grants on writes in the services, grants on reads in the selectors. The rules
themselves are here, once; views import only the decorators and the role questions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from campaigns.models import MARKETING_MANAGERS, Assignment
from khoros.models import Initiative, Plan, PlanKpi
from syncs.access import (
    AnyUser,
    View,
    is_sync_admin,
    role_required,
    signed_in_required,
    sync_admin_required,
    user_roles,
)

__all__ = [
    "AnyUser",
    "NotAllowedError",
    "can_assign_plan",
    "can_use_workbench",
    "granted_initiative_ids",
    "is_manager_only",
    "is_marketing_manager",
    "is_sync_admin",
    "manager_action",
    "manager_or_admin_required",
    "signed_in_required",
    "sync_admin_required",
    "visible_initiatives",
    "visible_plans",
]

M = TypeVar("M", bound=Model)


class NotAllowedError(PermissionDenied):
    """The acting user may not touch this object (a Plan outside her grants) or do this at all.

    A PermissionDenied, so a view that lets it through answers the 403 page with its message;
    a bulk assignment records it as one Plan's refusal instead.
    """


def is_marketing_manager(user: AnyUser) -> bool:
    return MARKETING_MANAGERS in user_roles(user)


def is_manager_only(user: AnyUser) -> bool:
    """A marketing manager who is not also a sync admin: her pages show her own work."""
    return is_marketing_manager(user) and not is_sync_admin(user)


def can_use_workbench(user: AnyUser) -> bool:
    return is_sync_admin(user) or is_marketing_manager(user)


def manager_or_admin_required(reason: str) -> Callable[[View], View]:
    """Marketing managers and sync admins reach the view; grants are the services' to check."""
    return role_required("manager_or_admin", can_use_workbench, reason)


def manager_action(reason: str) -> Callable[[View], View]:
    """A manager's action (a form POST): signed in, POST only, managers and sync admins, never
    cached; the stack every such view wore, written once."""

    def decorate(view: View) -> View:
        return never_cache(login_required(require_POST(manager_or_admin_required(reason)(view))))

    return decorate


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
        user._smcbridge_grants = cached  # type: ignore[attr-defined]  # a cache on this object
    return cached


def _within_grants(user: AnyUser, rows: QuerySet[M], to_initiative: str) -> QuerySet[M]:
    """`rows` cut to the user's grants: all for sync admins, none for anonymous visitors, the
    rows whose Initiative (reached by `to_initiative`) is granted to a manager."""
    if is_sync_admin(user):
        return rows
    if not user.is_authenticated:
        return rows.none()
    return rows.filter(**{f"{to_initiative}grants__user": user})


def visible_initiatives(user: AnyUser) -> QuerySet[Initiative]:
    """Initiatives the user may see: all for sync admins, the granted ones for managers."""
    return _within_grants(user, Initiative.objects.all(), "")


def visible_plans(user: AnyUser) -> QuerySet[Plan]:
    """Plans the user may see and assign."""
    return _within_grants(user, Plan.objects.all(), "initiative__")


def visible_kpis(user: AnyUser) -> QuerySet[PlanKpi]:
    """Daily numbers of the Plans the user may see (for a sync admin, every one)."""
    return _within_grants(user, PlanKpi.objects.all(), "plan__initiative__")


def visible_assignments(user: AnyUser) -> QuerySet[Assignment]:
    """Assignments of the Plans the user may see (for a sync admin, every one: no semi-join
    over the Plans)."""
    return _within_grants(user, Assignment.objects.all(), "plan__initiative__")


def can_assign_plan(user: AnyUser, plan: Plan) -> bool:
    """A sync admin may assign any Plan, a manager the Plans of granted Initiatives."""
    if not can_use_workbench(user):
        return False
    granted = granted_initiative_ids(user)
    return granted is None or plan.initiative_id in granted
