"""Writing one downloaded export's daily sums to PlanKpi."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connections, router, transaction
from django.db.models import Q

from khoros.kpi_catalog import METRICS
from khoros.kpis.export_csv import Key, KpiSums
from khoros.models import KpiExport, PlanKpi
from syncs.upsert import upsert_rows

ZEROS: tuple[int, ...] = (0,) * len(METRICS)


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    zeroed: int = 0
    kept: int = 0  # days left as stored because a row failed or the body was not proved whole


def kpis_write(
    *, export: KpiExport, sums: KpiSums, plan_pks: list[int], now: datetime
) -> WriteCounts:
    """Upsert the changed daily totals of one downloaded export and close it, in one transaction.

    Every day written records the export's zone: a day counted again in a new zone with the same
    numbers is updated too (its zone), so the push and SAP MC's answers take it as the new zone's.
    """
    counts = WriteCounts()
    sums.drop_overflowing()
    days = Q(day__gte=export.start, day__lt=export.stop)
    if export.full_history:
        # A history counts every post so far into this zone's days: a day after today here has
        # none, so numbers stored there were counted in a zone ahead of this one (Tokyo, then
        # Chicago again) and are zeroed like any day the export no longer reports. Not the days
        # between the export's end and today: a later export may have filled them truly.
        today = now.astimezone(ZoneInfo(export.timezone)).date()
        days |= Q(day__gt=max(today, export.stop - timedelta(days=1)))
    zone = export.timezone
    existing: dict[Key, tuple[int, ...]] = {}
    zones: dict[Key, str] = {}
    for plan_id, day, stored_zone, *values in PlanKpi.objects.filter(
        days, plan_id__in=plan_pks
    ).values_list("plan_id", "day", "timezone", *METRICS):
        existing[plan_id, day] = tuple(values)
        zones[plan_id, day] = stored_zone
    rows: list[tuple[int, date, tuple[int, ...] | list[int]]] = []
    for key, values in sums.sums.items():
        if sums.keeps(key):
            counts.kept += 1
            continue  # a row of this day was rejected: its sum would be short, keep the old one
        stored = existing.get(key)
        if stored == tuple(values) and zones[key] == zone:
            counts.unchanged += 1
            continue
        if stored is None:
            counts.created += 1
        else:
            counts.updated += 1
        rows.append((key[0], key[1], values))
    # A stored day that a complete export no longer reports lost its posts (deleted, moved to
    # another Plan): it becomes zeros. Not when the export had no rows at all, nor when a row
    # could not be placed, nor when the body could not be proved whole (a file cut between two
    # rows reads like one without the last posts): "nothing" is then more likely a glitch than
    # the truth, and a day is never replaced by nothing because something failed (user-pains #5).
    may_zero = sums.rows_read and not sums.unplaced_failures and sums.verified
    for key, stored in existing.items():
        if key in sums.sums or (stored == ZEROS and zones[key] == zone):
            continue
        if not may_zero or sums.keeps(key):
            counts.kept += 1
            continue
        counts.zeroed += 1
        rows.append((key[0], key[1], ZEROS))
    with transaction.atomic():
        if rows:
            _upsert(rows, zone, now)
        export.downloaded(rows_read=sums.rows_read, rows_failed=sums.rows_failed, at=now)
    return counts


def _upsert(
    rows: list[tuple[int, date, tuple[int, ...] | list[int]]], zone: str, now: datetime
) -> None:
    """Insert or update the given daily totals by (plan, day), as days of `zone`.

    One bulk INSERT ... ON CONFLICT (syncs.upsert.upsert_rows): a million-row export
    gives hundreds of thousands of Plan-days, and building a model object per day and a
    statement per 100 of them (SQLite's variable limit) cost more than reading the CSV.
    Both engines we run on (SQLite 3.24+, PostgreSQL 9.5+) speak this upsert; any other falls
    back to bulk_create's.
    """
    connection = connections[router.db_for_write(PlanKpi)]
    if connection.vendor not in ("sqlite", "postgresql"):
        PlanKpi.objects.bulk_create(
            [
                PlanKpi(
                    plan_id=plan_id,
                    day=day,
                    timezone=zone,
                    updated_at=now,
                    **dict(zip(METRICS, values, strict=True)),
                )
                for plan_id, day, values in rows
            ],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["plan", "day"],
            update_fields=[*METRICS, "timezone", "updated_at"],
        )
        return
    # Concrete columns of the model: a column name is always there (str, not None).
    plan_column = str(PlanKpi._meta.get_field("plan").column)
    day_column = str(PlanKpi._meta.get_field("day").column)
    adapt_day = connection.ops.adapt_datefield_value
    stamp = connection.ops.adapt_datetimefield_value(now)
    upsert_rows(
        connection,
        PlanKpi._meta.db_table,
        [plan_column, day_column, *METRICS, "timezone", "updated_at"],
        [(plan_id, adapt_day(day), *values, zone, stamp) for plan_id, day, values in rows],
        conflict=[plan_column, day_column],
    )
