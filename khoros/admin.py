"""Admin for the Khoros mirror: read-only, because the data belongs to Khoros."""

from __future__ import annotations

from django.contrib import admin

from khoros.models import Company, Initiative, KpiExport, Plan, PlanKpi
from smcbridge.admin_readonly import ReadOnlyAdmin, mirrored_name


@admin.register(Initiative)
class InitiativeAdmin(ReadOnlyAdmin):
    list_display = [mirrored_name, "khoros_id", "first_seen", "last_seen", "removed_at"]
    list_filter = ["removed_at"]
    search_fields = ["name", "khoros_id"]


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = [mirrored_name, "initiative", "start", "end", "last_seen", "removed_at"]
    list_filter = ["initiative", "removed_at"]
    list_select_related = ["initiative"]
    search_fields = ["name", "khoros_id"]
    date_hierarchy = "start"


@admin.register(PlanKpi)
class PlanKpiAdmin(ReadOnlyAdmin):
    list_display = ["plan", "day", "impressions", "engagements", "clicks", "reach", "posts"]
    list_select_related = ["plan"]
    date_hierarchy = "day"
    search_fields = ["plan__name"]


@admin.register(KpiExport)
class KpiExportAdmin(ReadOnlyAdmin):
    list_display = ["export_id", "state", "start", "stop", "timezone", "requested_at", "rows_read"]
    list_filter = ["state"]


@admin.register(Company)
class CompanyAdmin(ReadOnlyAdmin):
    list_display = ["name", "khoros_id", "last_seen"]
