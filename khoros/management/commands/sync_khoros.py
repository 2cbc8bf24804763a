"""Mirror Khoros Initiatives and Plans now, with a progress bar and a summary line."""

from __future__ import annotations

from collections.abc import Callable

from khoros import services
from khoros.management.sync_command import SyncCommand
from khoros.models import SyncRun


class Command(SyncCommand):
    help = "Sync Khoros Initiatives and Plans into the mirror (same service as the schedule)."
    unit = "Initiatives"

    def run_sync(self, on_progress: Callable[[SyncRun], None]) -> SyncRun:
        return services.sync_khoros(trigger=SyncRun.Trigger.COMMAND, on_progress=on_progress)
