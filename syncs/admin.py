"""Admin for the sync record: read-only, because only the engine writes runs."""

from __future__ import annotations

from django.contrib import admin

from smcbridge.admin_readonly import ReadOnlyAdmin
from syncs.models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "kind", "status", "trigger", "requested_by", "started_at", "finished_at",
        "created_count", "updated_count", "unchanged_count", "removed_count", "failed_count",
    ]  # fmt: skip
    list_filter = ["kind", "status", "trigger"]
    list_select_related = ["requested_by"]
