"""Request types for annotations: what the middleware adds to Django's HttpRequest.

Declared once, as django-htmx's documentation suggests, so views say what they receive instead of
casting `request.user` or `request.htmx` one by one. Nothing here exists at run time beyond the
classes themselves; Django still hands views a plain (WSGI) HttpRequest.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's HtmxMiddleware."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """A request of a logged-in user (a view behind login_required or a permission check)."""

    user: User
