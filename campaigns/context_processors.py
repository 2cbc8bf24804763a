"""Template context every page needs: the viewer's role, for the navigation."""

from __future__ import annotations

from django.http import HttpRequest

from campaigns.access import is_sync_admin


def roles(request: HttpRequest) -> dict[str, bool]:
    # A request refused before AuthenticationMiddleware ran (a Host the bridge does not serve:
    # CommonMiddleware's 400) has no user; its error page crashed into a 500 asking for one.
    user = getattr(request, "user", None)
    return {"viewer_is_sync_admin": user is not None and is_sync_admin(user)}
