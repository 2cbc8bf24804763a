"""The background schedules, declared here and installed by `manage.py setup_schedules`."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


def declared_schedules() -> list[ScheduleSpec]:
    """Every schedule the bridge runs, with intervals from settings."""
    return [
        ScheduleSpec("Khoros plans", "khoros.tasks.sync_khoros_task", settings.KHOROS_SYNC_MINUTES),
        ScheduleSpec(
            "Khoros KPIs", "khoros.tasks.sync_khoros_kpis_task", settings.KHOROS_KPI_SYNC_MINUTES
        ),
        ScheduleSpec(
            "SAP MC campaigns", "campaigns.tasks.sync_sapmc_task", settings.SAPMC_SYNC_MINUTES
        ),
        ScheduleSpec("Alerts", "campaigns.tasks.check_alerts_task", 5),
    ]


# The task that runs each sync kind; the dashboard's buttons queue these.
SYNC_TASKS: dict[str, str] = {
    "khoros_plans": "khoros.tasks.sync_khoros_task",
    "khoros_kpis": "khoros.tasks.sync_khoros_kpis_task",
    "sapmc_campaigns": "campaigns.tasks.sync_sapmc_task",
}

# The one service behind each sync kind; every entry point (command, task, button) calls it.
SYNC_SERVICES: dict[str, str] = {
    "khoros_plans": "khoros.services.sync_khoros",
    "khoros_kpis": "khoros.kpis.sync_khoros_kpis",
    "sapmc_campaigns": "campaigns.sync.sync_sapmc_campaigns",
}
