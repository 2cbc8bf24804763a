"""django-q2 task functions: thin wrappers that take ids and call one service."""

from __future__ import annotations

from django.utils.module_loading import import_string

from khoros.models import SyncRun
from smcbridge.schedules import SYNC_SERVICES


def sync_task(kind: str, run_id: int | None = None) -> str:
    """Run the sync service of `kind`; a schedule passes no id, the button its queued run."""
    run = SyncRun.objects.filter(pk=run_id).first() if run_id is not None else None
    if run_id is not None and run is None:
        return f"run #{run_id} no longer exists"
    service = import_string(SYNC_SERVICES[kind])
    run = service(run=run, trigger=SyncRun.Trigger.SCHEDULE)
    return f"run #{run.pk} {run.status}"


def sync_khoros_task(run_id: int | None = None) -> str:
    """Run the Khoros plan sync."""
    return sync_task(SyncRun.Kind.KHOROS_PLANS, run_id)


def sync_khoros_kpis_task(run_id: int | None = None) -> str:
    """Run the Khoros KPI sync."""
    return sync_task(SyncRun.Kind.KHOROS_KPIS, run_id)
