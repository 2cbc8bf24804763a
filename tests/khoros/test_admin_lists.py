"""The admin's lists of KPI days and KPI exports: read in the order of an index, with neither a
date hierarchy nor a second count of the whole table (a year is a million KPI days)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from khoros.models import KpiExport, PlanKpi

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model, world):
    return django_user_model.objects.create_superuser("root", password="pw-root-2026")


def _listed(client, name: str, params: dict | None = None) -> tuple[list, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(f"admin:{name}_changelist"), params or {})
    assert response.status_code == 200
    return list(response.context["cl"].result_list), [q["sql"] for q in queries]


def _order_by(sql: str) -> str:
    """The ORDER BY terms of a statement (a list of one page has no LIMIT)."""
    return re.sub(r" LIMIT \d+( OFFSET \d+)?$", "", sql.rsplit("ORDER BY ", 1)[1])


def test_kpi_days_are_listed_by_plan_and_day_without_a_date_hierarchy(client, root, world):
    now = timezone.now()
    # Plans whose start and name order is not their pk order: the list was sorted by those.
    plans = world.plans[:3]
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=date(2026, 5, 1) + timedelta(days=d), impressions=d, updated_at=now)
        for plan in reversed(plans)
        for d in (3, 0, 2, 1)
    )
    client.force_login(root)
    with time_machine.travel(datetime(2026, 5, 20, 12, tzinfo=UTC), tick=False):
        rows, sql = _listed(client, "khoros_plankpi")
    expected = sorted(PlanKpi.objects.all(), key=lambda k: (k.plan_id, k.day))
    assert [k.pk for k in rows] == [k.pk for k in expected]
    page = [s for s in sql if 'FROM "khoros_plankpi"' in s and "ORDER BY" in s]
    assert len(page) == 1
    assert _order_by(page[0]) == '"khoros_plankpi"."plan_id" ASC, "khoros_plankpi"."day" ASC'
    # No DISTINCT over every day (the date hierarchy) and one count (the pager's), not two.
    assert not [s for s in sql if "DISTINCT" in s and "khoros_plankpi" in s]
    assert len([s for s in sql if "COUNT(" in s and "khoros_plankpi" in s]) == 1
    # A month is chosen by a range on the day (the day index), with the same rows.
    with time_machine.travel(datetime(2026, 5, 20, 12, tzinfo=UTC), tick=False):
        this_month, _ = _listed(
            client, "khoros_plankpi", {"day__gte": "2026-05-01", "day__lt": "2026-06-01"}
        )
    assert len(this_month) == 12
    assert _listed(client, "khoros_plankpi", {"day__gte": "2026-05-03"})[0] == [
        k for k in expected if k.day >= date(2026, 5, 3)
    ]


def test_kpi_exports_are_listed_newest_first_without_their_plan_ids(client, root):
    now = timezone.now()
    exports = [
        KpiExport.objects.create(
            export_id=f"e{i}",
            start=date(2026, 5, 1),
            stop=date(2026, 5, 2),
            timezone="UTC",
            plan_ids=[f"{i:032x}"] * 500,
            requested_at=now + timedelta(minutes=i),
        )
        for i in range(3)
    ]
    client.force_login(root)
    rows, sql = _listed(client, "khoros_kpiexport")
    assert [e.pk for e in rows] == [e.pk for e in reversed(exports)]
    page = [s for s in sql if 'FROM "khoros_kpiexport"' in s and "ORDER BY" in s]
    assert len(page) == 1 and '"plan_ids"' not in page[0]
    assert _order_by(page[0]) == '"khoros_kpiexport"."id" DESC'
    assert len([s for s in sql if "COUNT(" in s and "khoros_kpiexport" in s]) == 1
    # An export's own page still shows what it asked for.
    body = client.get(reverse("admin:khoros_kpiexport_change", args=[exports[0].pk])).content
    assert f"{0:032x}".encode() in body
