"""Pull Khoros KPIs (daily totals per Plan) now, with a progress bar and a summary line."""

from __future__ import annotations

from collections.abc import Callable

from khoros import kpis
from khoros.management.sync_command import SyncCommand
from khoros.models import SyncRun


class Command(SyncCommand):
    help = (
        "Sync daily KPIs of every live Plan from Khoros analytics (same service as the schedule)."
    )
    unit = "exports"

    def run_sync(self, on_progress: Callable[[SyncRun], None]) -> SyncRun:
        return kpis.sync_khoros_kpis(trigger=SyncRun.Trigger.COMMAND, on_progress=on_progress)
