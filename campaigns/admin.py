"""Admin of the campaigns app: grants are managed here (audited); the rest is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns import services
from campaigns.models import (
    Assignment,
    AuditEvent,
    CampaignReference,
    ExternalCampaign,
    InboundCall,
    InboundReport,
    InitiativeGrant,
)
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


class ReferenceInline(admin.TabularInline):
    model = CampaignReference
    fields = ["external_campaign_id", "name", "advertiser", "managing_party", "plan"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ExternalCampaign)
class ExternalCampaignAdmin(ReadOnlyAdmin):
    list_display = ["name", "campaign_id", "start", "end", "lifecycle_status_name", "removed_at"]
    list_filter = ["lifecycle_status_name", "removed_at"]
    search_fields = ["name", "campaign_id", "sap_uuid"]
    inlines = [ReferenceInline]


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


@admin.register(InboundReport)
class InboundReportAdmin(ReadOnlyAdmin):
    """SAP MC's success reports: what was asked, and the frozen answer."""

    # kpi_run: the one KPI sync the report waits on; data_as_of: how old its frozen numbers are.
    list_display = [
        "report_id", "status", "from_date", "to_date", "caller", "created_at", "kpi_run",
        "data_as_of",
    ]  # fmt: skip
    list_select_related = ["kpi_run"]
    list_filter = ["status"]
    search_fields = ["report_id"]
    date_hierarchy = "created_at"


@admin.register(InboundCall)
class InboundCallAdmin(ReadOnlyAdmin):
    list_display = ["at", "method", "endpoint", "caller", "status_code", "duration_ms"]
    list_filter = ["endpoint", "status_code"]
    search_fields = ["correlation_id", "caller"]
    date_hierarchy = "at"
