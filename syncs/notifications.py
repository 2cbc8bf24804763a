"""The in-app alerts: what sync admins see in the top bar, and their dismissal."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from syncs.models import Notification


def notifications_open() -> QuerySet[Notification]:
    """Alerts no one has dismissed yet, newest first."""
    return Notification.objects.filter(dismissed_at__isnull=True).order_by("-created_at", "-id")


def notifications_history(*, limit: int = 100) -> list[Notification]:
    """Every alert, newest first, with who dismissed it."""
    return list(
        Notification.objects.select_related("dismissed_by").order_by("-created_at", "-id")[:limit]
    )


def notification_dismiss(*, notification_id: int, user: User) -> bool:
    """Dismiss one alert for everyone; False when it was already dismissed (the first one wins)."""
    return bool(
        Notification.objects.filter(pk=notification_id, dismissed_at__isnull=True).update(
            dismissed_by=user, dismissed_at=timezone.now()
        )
    )
