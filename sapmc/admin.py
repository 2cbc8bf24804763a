"""Admin of the SAP MC side: the campaign mirror and SAP MC's calls, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sapmc.models import (
    CampaignReference,
    ExternalCampaign,
    InboundCall,
    InboundLockout,
    InboundReport,
)
from smcbridge.admin_readonly import ReadOnlyAdmin, mirrored_name

# A tuple: the admin types `fields` and `readonly_fields` differently, a tuple of str fits both.
_REFERENCE_FIELDS = ("external_campaign_id", "name", "advertiser", "managing_party", "plan")


class ReferenceInline(admin.TabularInline):
    model = CampaignReference
    fields = _REFERENCE_FIELDS
    readonly_fields = _REFERENCE_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ExternalCampaign)
class ExternalCampaignAdmin(ReadOnlyAdmin):
    list_display = [
        mirrored_name, "campaign_id", "start", "end", "lifecycle_status_name", "removed_at",
    ]  # fmt: skip
    list_filter = ["lifecycle_status_name", "removed_at"]
    search_fields = ["name", "campaign_id", "sap_uuid"]
    inlines = [ReferenceInline]


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
    list_display = ["at", "method", "endpoint", "caller", "status_code", "calls", "duration_ms"]
    list_filter = ["endpoint", "status_code"]
    search_fields = ["correlation_id", "caller"]
    date_hierarchy = "at"


@admin.register(InboundLockout)
class InboundLockoutAdmin(ReadOnlyAdmin):
    """Addresses whose wrong SAP MC credentials are counted, and the calls their lockout refused."""

    list_display = ["ip", "failures", "last_failure_at", "locked_until", "refused"]
    search_fields = ["ip"]
