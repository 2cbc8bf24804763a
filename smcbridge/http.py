"""Request types for annotations: what the middleware adds to Django's HttpRequest.

Declared once, as django-htmx's documentation suggests, so views say what they receive instead of
casting `request.user` or `request.htmx` one by one. Nothing here exists at run time beyond the
classes themselves; Django still hands views a plain (WSGI) HttpRequest. And one check of a
request's headers that both the pages and SAP MC's API make.
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


def content_length_is_a_number(request: HttpRequest) -> bool:
    """Whether the request's Content-Length (absent: none) is a number. Django reads the body
    by it and raises ValueError, a 500, for "abc"; gunicorn refuses such a request itself,
    runserver passes it on. Pages and SAP MC's API each refuse it in their own words."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    return length.isascii() and length.isdigit()
