"""Pruning the KPI exports: a year of trailing exports is ~15,000 rows of up to 500 Plan ids.

What later runs read of KpiExport (khoros.kpis.planning, khoros.selectors) and so is kept
whatever its age:

- exports not finished (requested, pending, running, complete): a run resumes them;
- downloaded history exports: the fact that a Plan's history was pulled (in that zone, with
  those field ids, from that day). Without it the next run pulls the Plan's history again;
- of the downloaded exports of each zone and field ids, the one finished last: a Plan's history
  counts as pulled only if no export in another zone or with other field ids finished after it
  (plan_exports' `other_last`), and the freshness of the campaign page reads the zone of the
  last one;
- of the downloaded exports of each zone, the one with the latest stop: the trailing window
  reaches back to it after an outage (plan_exports' `last_stop`), so no day is skipped.

Everything else that finished more than KHOROS_KPI_EXPORT_DAYS ago goes: trailing exports
(their numbers are in PlanKpi, which is never pruned) and exports that failed, expired or were
abandoned. So a run plans the same exports after a pruning as before it (a test compares them).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from khoros.models import KpiExport
from syncs.housekeeping import delete_in_batches

FINISHED = (
    KpiExport.State.DOWNLOADED,
    KpiExport.State.FAILED,
    KpiExport.State.EXPIRED,
    KpiExport.State.ABANDONED,
)


def needed_exports() -> set[int]:
    """The pks of the downloaded trailing exports later runs read: the last finished of each
    zone and field ids, and the one with the latest stop of each zone."""
    last_finished: dict[tuple[str, str], tuple[datetime, int]] = {}
    last_stop: dict[str, tuple[date, datetime, int]] = {}
    rows = KpiExport.objects.filter(state=KpiExport.State.DOWNLOADED).values_list(
        "pk", "timezone", "field_ids", "stop", "finished_at"
    )
    for pk, zone, field_ids, stop, finished_at in rows.order_by():
        if finished_at is None:
            continue  # never so: downloaded() sets it
        key = (zone, json.dumps(field_ids, sort_keys=True))
        if key not in last_finished or (finished_at, pk) > last_finished[key]:
            last_finished[key] = (finished_at, pk)
        if zone not in last_stop or (stop, finished_at, pk) > last_stop[zone]:
            last_stop[zone] = (stop, finished_at, pk)
    return {pk for _, pk in last_finished.values()} | {pk for _, _, pk in last_stop.values()}


def prune_kpi_exports(*, days: int | None = None, now: datetime | None = None) -> int:
    """Delete the exports that finished more than `days` (KHOROS_KPI_EXPORT_DAYS) ago and that
    no later run reads (the module's docstring); the number deleted."""
    keep_days = settings.KHOROS_KPI_EXPORT_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    old = (
        KpiExport.objects.filter(state__in=FINISHED, finished_at__lt=cutoff)
        .exclude(state=KpiExport.State.DOWNLOADED, full_history=True)
        .exclude(pk__in=needed_exports())
    )
    return delete_in_batches(old)
