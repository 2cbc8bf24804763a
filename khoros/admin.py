"""Admin for the Khoros mirror: read-only, because the data belongs to Khoros."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

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
    """A year is a million rows: the list is read in the order of the (plan, day) unique index
    (the model's "plan" ordering sorted every row joined to its Plan by the Plan's start and
    name), and neither a date hierarchy (a DISTINCT over every day) nor a second count of the
    whole table is drawn; a day is filtered by a range on the day index instead."""

    list_display = ["plan", "day", "impressions", "engagements", "clicks", "reach", "posts"]
    list_select_related = ["plan"]
    list_filter = [("day", admin.DateFieldListFilter)]
    ordering = ["plan_id", "day"]
    show_full_result_count = False
    search_fields = ["plan__name"]


class _ExportChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        # The Plans, Initiatives and fields an export asked for (a full-history export's Plan
        # ids are some 18 kB): not shown in the list, so not read for it.
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer("plan_ids", "initiative_ids", "field_ids")


@admin.register(KpiExport)
class KpiExportAdmin(ReadOnlyAdmin):
    """Newest first by the primary key (an export is recorded when it is requested), not by a
    sort of every export's requested_at, and without the requested Plan ids of each row."""

    list_display = ["export_id", "state", "start", "stop", "timezone", "requested_at", "rows_read"]
    list_filter = ["state"]
    ordering = ["-id"]
    show_full_result_count = False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _ExportChangeList


@admin.register(Company)
class CompanyAdmin(ReadOnlyAdmin):
    list_display = ["name", "khoros_id", "last_seen"]
