"""A read-only mixin for admin pages whose rows only the code writes (mirrors, runs, schedules)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Lets admins look, never add, edit or delete: the code that owns the rows would overwrite
    (or be confused by) any hand edit. Put it before the ModelAdmin base."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A ModelAdmin that only shows its rows."""


@admin.display(description="Name", ordering="name")
def mirrored_name(obj: Any) -> str:
    """A mirrored row's name column, the changelist's link: a blank name, sent so by Khoros or
    SAP MC, by the rule of every page (smcbridge.names), not a link with nothing to click."""
    return str(obj.display_name)
