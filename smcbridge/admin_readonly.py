"""A read-only mixin for admin pages whose rows only the code writes (mirrors, runs, schedules)."""

from __future__ import annotations

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
