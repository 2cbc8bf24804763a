"""Mirror SAP MC's Khoros-category campaigns now, with a progress bar and a summary line."""

from __future__ import annotations

from collections.abc import Callable

from campaigns.sync import sync_sapmc_campaigns
from khoros.management.sync_command import SyncCommand
from khoros.models import SyncRun


class Command(SyncCommand):
    help = "Sync SAP MC external campaigns into the mirror (same service as the schedule)."
    unit = "campaigns"

    def run_sync(self, on_progress: Callable[[SyncRun], None]) -> SyncRun:
        return sync_sapmc_campaigns(trigger=SyncRun.Trigger.COMMAND, on_progress=on_progress)
