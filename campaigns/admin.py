"""Admin for access grants: sync admins decide which manager sees which Initiative."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.models import InitiativeGrant


@admin.register(InitiativeGrant)
class InitiativeGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "initiative", "granted_by", "granted_at"]
    list_filter = ["initiative"]
    list_select_related = ["user", "initiative", "granted_by"]
    autocomplete_fields: list[str] = []
    readonly_fields = ["granted_by", "granted_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InitiativeGrant]:
        return super().get_queryset(request).select_related("user", "initiative")

    def save_model(
        self, request: HttpRequest, obj: InitiativeGrant, form: object, change: bool
    ) -> None:
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)
