"""django-q2 task functions of the campaigns app: thin, they take ids."""

from __future__ import annotations

from khoros.models import SyncRun
from khoros.tasks import sync_task


def sync_sapmc_task(run_id: int | None = None) -> str:
    """Run the SAP MC campaign sync."""
    return sync_task(SyncRun.Kind.SAPMC_CAMPAIGNS, run_id)


def check_alerts_task() -> str:
    """Send the alert and recovery emails that are due."""
    from campaigns.alerts import alerts_check

    sent = alerts_check()
    return f"{len(sent)} alert email(s)"
