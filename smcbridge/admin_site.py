"""The Django admin's site: every admin page answers a value the database cannot take with 400.

Django's admin validates lookups by trying them (ChangeList catches what `filter()` raises), but
some values only fail when the query runs or the form's choices are looked up: a number past
SQLite's 64 bits in a filter on a foreign key or many-to-many (`?groups=9999...`, a Group's
permissions posted as one), a word where an address column expects an IP (PostgreSQL), an empty
or non-numeric id in a change list action's selection. Each was a 500. Nothing was written: the
admin's writes run in a transaction, rolled back by the error before it reaches this wrapper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import ValidationError
from django.db import DataError
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.template.response import SimpleTemplateResponse

logger = logging.getLogger(__name__)

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])

# What a request's value that the database cannot take raises: OverflowError (SQLite's driver,
# an integer past 64 bits), ValueError and ValidationError (a field's conversion of a lookup
# value, PostgreSQL's address adapter), DataError (the database itself).
BAD_VALUE_ERRORS = (OverflowError, ValueError, ValidationError, DataError)
BAD_VALUE_REASON = (
    "A value in this request cannot be looked up or stored (a number too large, an id of the "
    "wrong kind, an address that is none): nothing was changed. Go back and correct it."
)


class BridgeAdminSite(admin.AdminSite):
    def admin_view(self, view: _View, cacheable: bool = False) -> _View:
        inner = super().admin_view(view, cacheable)

        def refusing_bad_values(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            try:
                response = inner(request, *args, **kwargs)
                # A change list's template runs queries of its own (the date hierarchy's, the
                # filters' choices): rendered here, so that what they raise is answered too.
                if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                    response.render()
            except BAD_VALUE_ERRORS as exc:
                # A warning with the traceback, not an error: the request was wrong, and the
                # traceback tells a bug of ours apart if one ever lands here.
                logger.warning(
                    "admin %s %s: refused a value (%s)",
                    request.method,
                    request.path,
                    type(exc).__name__,
                    exc_info=True,
                )
                return render(request, "400.html", {"reason": BAD_VALUE_REASON}, status=400)
            return response

        # Keep what admin_view set on its wrapper (csrf_exempt, the view's name and docstring).
        return cast(_View, update_wrapper(refusing_bad_values, inner))


class BridgeAdminConfig(AdminConfig):
    """django.contrib.admin, with BridgeAdminSite as `admin.site`."""

    default_site = "smcbridge.admin_site.BridgeAdminSite"
