"""The Khoros sync kinds, registered with the sync engine when the app is ready."""

from __future__ import annotations

import syncs
from khoros.kinds import KHOROS_KPIS, KHOROS_PLANS

__all__ = ["KHOROS_KPIS", "KHOROS_PLANS", "register"]


def register() -> None:
    from khoros import client, kpis, services
    from khoros.kpis import retention

    syncs.register(
        value=KHOROS_PLANS,
        name="KHOROS_PLANS",
        label="Khoros plans",
        service=services.sync_khoros,
        client_factory=client.client_from_settings,
        system="Khoros",
        interval_setting="KHOROS_SYNC_MINUTES",
    )
    syncs.register(
        value=KHOROS_KPIS,
        name="KHOROS_KPIS",
        label="Khoros KPIs",
        service=kpis.sync_khoros_kpis,
        client_factory=client.client_from_settings,
        system="Khoros",
        interval_setting="KHOROS_KPI_SYNC_MINUTES",
    )
    syncs.register_secrets("KHOROS_TOKEN")
    # A year of trailing exports is ~15,000 rows: keep KHOROS_KPI_EXPORT_DAYS and what runs read.
    syncs.register_pruner(name="Khoros KPI exports", func=retention.prune_kpi_exports)
