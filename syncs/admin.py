"""Admin for the sync record: read-only, because only the engine writes runs and leases."""

from __future__ import annotations

from django.contrib import admin

from smcbridge.admin_readonly import ReadOnlyAdmin
from syncs.models import SyncLease, SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "kind", "status", "trigger", "requested_by", "started_at", "finished_at",
        "created_count", "updated_count", "unchanged_count", "removed_count", "failed_count",
    ]  # fmt: skip
    list_filter = ["kind", "status", "trigger"]
    list_select_related = ["requested_by"]


@admin.register(SyncLease)
class SyncLeaseAdmin(ReadOnlyAdmin):
    list_display = ["kind", "run", "expires_at"]
