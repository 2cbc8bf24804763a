"""Mirror Khoros Initiatives and Plans now, with a progress bar and a summary line."""

from __future__ import annotations

from khoros.kinds import KHOROS_PLANS
from syncs.management.sync_command import SyncCommand


class Command(SyncCommand):
    help = "Sync Khoros Initiatives and Plans into the mirror (same service as the schedule)."
    unit = "Initiatives"
    kind = KHOROS_PLANS
