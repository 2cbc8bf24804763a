"""khoros 0009: every stored KPI day learns the zone of the last export that counted it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from khoros.models import PlanKpi
from tests.migrating import migrate_to, migrate_to_latest, old_plans

BEFORE = [("khoros", "0008_initiative_plans_digest")]


@pytest.mark.django_db(transaction=True)
def test_stored_days_take_the_zone_of_the_last_export_that_counted_them():
    executor = migrate_to(BEFORE)
    old = executor.loader.project_state(BEFORE[0]).apps
    now = timezone.now()
    plans = old_plans(old, ["Plan 0", "Plan 1"], at=now, khoros_id="1700")
    for plan in plans:
        for day in range(1, 11):
            old.get_model("khoros", "PlanKpi").objects.create(
                plan=plan, day=date(2026, 3, day), impressions=day, updated_at=now
            )
    exports = old.get_model("khoros", "KpiExport").objects

    def export(zone: str, plan_ids: list, first: int, stop: int, minutes: int, state: str) -> None:
        exports.create(
            timezone=zone, plan_ids=[str(p.khoros_id) for p in plan_ids], state=state,
            start=date(2026, 3, first), stop=date(2026, 3, stop), requested_at=now,
            finished_at=now + timedelta(minutes=minutes),
        )  # fmt: skip

    # Both Plans' histories in Chicago; then the zone became Tokyo, and the KPI sync pulled only
    # the first Plan's March 6..10 again before the migration; an export that failed wrote none.
    export("America/Chicago", plans, 1, 11, 1, "downloaded")
    export("Asia/Tokyo", plans[:1], 6, 11, 2, "downloaded")
    export("Europe/Berlin", plans, 1, 11, 3, "failed")

    migrate_to_latest()

    zones = {
        (kpi.plan.name, kpi.day.day): kpi.timezone for kpi in PlanKpi.objects.select_related("plan")
    }
    assert zones == {
        **{("Plan 0", day): "America/Chicago" for day in range(1, 6)},
        **{("Plan 0", day): "Asia/Tokyo" for day in range(6, 11)},
        **{("Plan 1", day): "America/Chicago" for day in range(1, 11)},
    }
