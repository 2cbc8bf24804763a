"""Template context for the top bar: how many alerts wait for a sync admin."""

from __future__ import annotations

from django.http import HttpRequest

from syncs.access import is_sync_admin
from syncs.notifications import notifications_open


def notifications(request: HttpRequest) -> dict[str, int]:
    if not is_sync_admin(request.user):
        return {}
    return {"open_notifications_count": notifications_open().count()}
