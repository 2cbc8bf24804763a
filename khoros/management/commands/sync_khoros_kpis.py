"""Pull Khoros KPIs (daily totals per Plan) now, with a progress bar and a summary line."""

from __future__ import annotations

from khoros.kinds import KHOROS_KPIS
from syncs.management.sync_command import SyncCommand


class Command(SyncCommand):
    help = (
        "Sync daily KPIs of every live Plan from Khoros analytics (same service as the schedule)."
    )
    unit = "exports"
    kind = KHOROS_KPIS
