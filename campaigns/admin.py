"""Admin of the human work: grants are managed here (audited); the rest is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns import services
from campaigns.models import Assignment, AuditEvent, InitiativeGrant
from khoros.admin import ReadOnlyAdmin


@admin.register(InitiativeGrant)
class InitiativeGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "initiative", "granted_by", "granted_at"]
    list_filter = ["initiative"]
    list_select_related = ["user", "initiative", "granted_by"]
    readonly_fields = ["granted_by", "granted_at"]
    fields = ["user", "initiative", "granted_by", "granted_at"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # A grant is given or revoked, never edited: both are audited.

    def save_model(
        self, request: HttpRequest, obj: InitiativeGrant, form: object, change: bool
    ) -> None:
        grant = services.grant_create(
            user=obj.user, initiative=obj.initiative, acting_user=request.user
        )
        obj.pk = grant.pk

    def delete_model(self, request: HttpRequest, obj: InitiativeGrant) -> None:
        services.grant_delete(grant=obj, acting_user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[InitiativeGrant]) -> None:
        for grant in queryset.select_related("user", "initiative"):
            services.grant_delete(grant=grant, acting_user=request.user)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    """Assignments change in the workbench only, where every change is audited."""

    list_display = ["plan", "campaign", "assigned_by", "assigned_at", "note"]
    list_select_related = ["plan", "campaign", "assigned_by"]
    search_fields = ["plan__name", "campaign__name"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "actor_name"]
    date_hierarchy = "at"
