"""Mirror SAP MC's Khoros-category campaigns now, with a progress bar and a summary line."""

from __future__ import annotations

from sapmc.kinds import SAPMC_CAMPAIGNS
from syncs.management.sync_command import SyncCommand


class Command(SyncCommand):
    help = "Sync SAP MC external campaigns into the mirror (same service as the schedule)."
    unit = "campaigns"
    kind = SAPMC_CAMPAIGNS
