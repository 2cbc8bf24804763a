"""Template context every page needs: the viewer's role, for the navigation."""

from __future__ import annotations

from django.http import HttpRequest

from campaigns.access import is_sync_admin


def roles(request: HttpRequest) -> dict[str, bool]:
    return {"viewer_is_sync_admin": is_sync_admin(request.user)}
