"""django-q2 task functions: thin wrappers that take ids and call one service."""

from __future__ import annotations

from khoros import services
from khoros.models import SyncRun


def sync_khoros_task(run_id: int | None = None) -> str:
    """Run the Khoros plan sync; the schedule passes no id, the button passes its queued run."""
    run = SyncRun.objects.filter(pk=run_id).first() if run_id is not None else None
    if run_id is not None and run is None:
        return f"run #{run_id} no longer exists"
    run = services.sync_khoros(run=run, trigger=SyncRun.Trigger.SCHEDULE)
    return f"run #{run.pk} {run.status}"
