"""The housekeeping prunes old KPI exports, never one a later KPI run reads (khoros.kpis.retention).

A pruned export must never make a run pull a Plan's history again, skip a day after an outage,
resume less or lose a stored number: the rules one by one, a comparison of what runs plan
before and after a pruning over random histories, and the sync against the simulator.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from khoros import selectors
from khoros.kpis import planning
from khoros.kpis.retention import prune_kpi_exports
from khoros.models import Initiative, KpiExport, Plan
from syncs.models import SyncRun
from tests.khoros.test_kpi_sync import expected_totals, requests_to, stored, sync
from tests.world import make_plan

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
FIELDS = {"impressions": 101, "engagements": 102, "clicks": 103, "reach": 104, "video_views": 105}
State = KpiExport.State


def export(
    *,
    ago: timedelta,
    state: str = State.DOWNLOADED,
    full_history: bool = False,
    zone: str = "UTC",
    fields: dict[str, int] | None = None,
    plan_ids: list[str] | None = None,
    start: date = date(2026, 6, 1),
    stop: date = date(2026, 6, 30),
) -> KpiExport:
    finished = NOW - ago
    return KpiExport.objects.create(
        state=state,
        full_history=full_history,
        start=start,
        stop=stop,
        timezone=zone,
        plan_ids=plan_ids if plan_ids is not None else [str(uuid.uuid4())],
        field_ids=FIELDS if fields is None else fields,
        requested_at=finished - timedelta(minutes=5),
        finished_at=None if state in (State.REQUESTED, *KpiExport.RESUMABLE) else finished,
    )


def kept() -> set[int]:
    return set(KpiExport.objects.values_list("pk", flat=True))


def test_old_trailing_and_failed_exports_go_and_recent_ones_stay():
    old_trailing = [export(ago=timedelta(days=8, hours=h)) for h in range(3)]
    old_failed = [
        export(ago=timedelta(days=20), state=state)
        for state in (State.FAILED, State.EXPIRED, State.ABANDONED)
    ]
    old_failed_history = export(ago=timedelta(days=20), state=State.FAILED, full_history=True)
    recent = [export(ago=timedelta(days=6, hours=h)) for h in range(3)]
    recent_failed = export(ago=timedelta(days=1), state=State.FAILED)
    last = export(ago=timedelta(hours=4))

    deleted = prune_kpi_exports(days=7, now=NOW)

    assert deleted == len(old_trailing) + len(old_failed) + 1
    assert kept() == {e.pk for e in recent} | {recent_failed.pk, last.pk}
    assert not KpiExport.objects.filter(pk=old_failed_history.pk).exists()


def test_exports_still_open_are_never_pruned():
    # However old: a run resumes them (requested ones it closes as abandoned first).
    open_ones = [
        export(ago=timedelta(days=300), state=state)
        for state in (State.REQUESTED, *KpiExport.RESUMABLE)
    ]
    export(ago=timedelta(hours=1))

    assert prune_kpi_exports(days=1, now=NOW) == 0
    assert {e.pk for e in open_ones} <= kept()


def test_downloaded_histories_are_kept_whatever_their_age():
    histories = [export(ago=timedelta(days=300 - d), full_history=True) for d in range(5)]
    export(ago=timedelta(hours=1))

    prune_kpi_exports(days=7, now=NOW)

    assert {e.pk for e in histories} <= kept()


def test_the_last_export_of_each_zone_and_field_ids_is_kept():
    # Chicago's last export tells a later Chicago history from one a Tokyo run overwrote
    # (plan_exports' other_last): gone, a Tokyo history from before it would count as pulled.
    chicago_last = export(ago=timedelta(days=40), zone="America/Chicago")
    export(ago=timedelta(days=41), zone="America/Chicago")
    other_fields_last = export(ago=timedelta(days=30), fields={**FIELDS, "clicks": 99})
    export(ago=timedelta(days=31), fields={**FIELDS, "clicks": 99})
    utc_old = export(ago=timedelta(days=20))
    utc_last = export(ago=timedelta(hours=1))

    assert prune_kpi_exports(days=7, now=NOW) == 3

    assert kept() == {chicago_last.pk, other_fields_last.pk, utc_last.pk}
    assert not KpiExport.objects.filter(pk=utc_old.pk).exists()


def test_the_export_with_the_latest_stop_is_kept_after_an_outage():
    # No run for 30 days: every export is older than the retention. The trailing window reaches
    # back from the latest stop (plan_exports' last_stop) to fill the days missed since.
    latest_stop = export(ago=timedelta(days=31), stop=date(2026, 5, 31))
    export(ago=timedelta(days=32), stop=date(2026, 5, 30))
    # Resumed late: finished last, for an older window.
    finished_last = export(ago=timedelta(days=30), stop=date(2026, 5, 29))

    assert prune_kpi_exports(days=7, now=NOW) == 1

    assert kept() == {latest_stop.pk, finished_last.pk}


def test_the_retention_is_a_setting(settings):
    settings.KHOROS_KPI_EXPORT_DAYS = 2
    old = export(ago=timedelta(days=3))
    export(ago=timedelta(days=1))
    last = export(ago=timedelta(hours=1))

    assert prune_kpi_exports(now=NOW) == 1
    assert old.pk not in kept() and last.pk in kept()


def test_exports_are_deleted_in_bounded_batches(monkeypatch):
    from syncs import housekeeping

    monkeypatch.setattr(housekeeping, "BATCH_SIZE", 4)
    for h in range(10):
        export(ago=timedelta(days=10, hours=h))
    export(ago=timedelta(hours=1))

    with CaptureQueriesContext(connection) as ctx:
        assert prune_kpi_exports(days=7, now=NOW) == 10

    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 4 + 4 + 2
    assert KpiExport.objects.count() == 1


def test_the_freshness_query_reads_an_index():
    names = {
        name
        for name, c in connection.introspection.get_constraints(
            connection.cursor(), KpiExport._meta.db_table
        ).items()
        if c["index"] and c["columns"] == ["state", "finished_at", "id"]
    }
    assert names == {"khoros_kpiexport_finished"}


# --- What runs plan: the same before and after a pruning, over random histories -----------------


def _plans(rnd: random.Random) -> list[Plan]:
    initiative = Initiative.objects.create(
        khoros_id="7", name="I", first_seen=timezone.now(), last_seen=timezone.now()
    )
    plans = []
    for _ in range(12):
        first = date(2026, 3, 1) + timedelta(days=rnd.randrange(110))
        plans.append(make_plan(initiative, "P", first, first + timedelta(days=rnd.randrange(60))))
    return Plan.objects.bulk_create(plans)


def _random_history(rnd: random.Random, plans: list[Plan]) -> None:
    zones = ["UTC", "UTC", "UTC", "America/Chicago", "Asia/Tokyo"]
    mappings = [FIELDS, FIELDS, {**FIELDS, "clicks": 99}]
    ago = timedelta(days=60)
    for _ in range(rnd.randrange(5, 40)):
        ago -= timedelta(hours=rnd.randrange(1, 48))
        if ago < timedelta(0):
            break
        state = rnd.choice([State.DOWNLOADED] * 6 + [State.FAILED, State.ABANDONED, State.EXPIRED])
        chosen = rnd.sample(plans, rnd.randrange(1, len(plans)))
        stop = (NOW - ago).date() + timedelta(days=rnd.choice([0, 1, 1, 1]))
        start = stop - timedelta(days=rnd.choice([7, 8, 30, 120]))
        export(
            ago=ago,
            state=state,
            full_history=rnd.random() < 0.3,
            zone=rnd.choice(zones),
            fields=rnd.choice(mappings),
            plan_ids=sorted(str(p.khoros_id) for p in chosen),
            start=start,
            stop=stop,
        )
    for state in rnd.sample([State.REQUESTED, *KpiExport.RESUMABLE], rnd.randrange(3)):
        export(ago=timedelta(days=rnd.randrange(60)), state=state)


def _planned() -> list:
    """What a run would ask for in each zone and mapping, and the freshness' zone."""
    today = NOW.date()
    plans = [
        [
            (spec.full_history, spec.start, spec.stop, spec.plan_ids)
            for spec in planning.plan_exports(zone=ZoneInfo(zone), fields=fields, today=today)
        ]
        for zone in ("UTC", "America/Chicago", "Asia/Tokyo")
        for fields in (FIELDS, {**FIELDS, "clicks": 99})
    ]
    zone = (
        KpiExport.objects.filter(state=State.DOWNLOADED)
        .order_by("-finished_at", "-id")
        .values_list("timezone", flat=True)
        .first()
    )
    resumable = sorted(
        KpiExport.objects.filter(state__in=[State.REQUESTED, *KpiExport.RESUMABLE]).values_list(
            "pk", flat=True
        )
    )
    return [plans, zone, resumable]


@pytest.mark.parametrize("seed", range(12))
def test_runs_plan_the_same_exports_after_a_pruning(seed):
    rnd = random.Random(seed)
    plans = _plans(rnd)
    _random_history(rnd, plans)
    before = _planned()

    deleted = prune_kpi_exports(days=rnd.choice([1, 3, 7]), now=NOW)

    assert _planned() == before
    if seed == 0:
        assert deleted > 0  # the comparison is about something


# --- The sync against the simulator after its exports were pruned -------------------------------


def test_after_a_pruning_the_sync_pulls_no_history_again_and_keeps_every_number(mirrored):
    for _ in range(4):
        assert sync().status == SyncRun.Status.SUCCEEDED
    histories = KpiExport.objects.filter(full_history=True).count()
    assert histories > 0 and KpiExport.objects.filter(full_history=False).count() > 0
    # A month passes: every export is older than the retention.
    KpiExport.objects.update(finished_at=F("finished_at") - timedelta(days=30))

    deleted = prune_kpi_exports(days=7)

    assert deleted > 0
    assert KpiExport.objects.filter(full_history=True).count() == histories
    creates = len(requests_to(mirrored, "export_create"))
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    new = KpiExport.objects.filter(run=run)
    assert new.exists() and not new.filter(full_history=True).exists()
    assert len(requests_to(mirrored, "export_create")) == creates + new.count()
    assert stored() == expected_totals(mirrored.data)
    assert selectors.kpi_last_success() is not None


@pytest.fixture
def mirrored(live_khoros):
    from khoros import services

    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    return live_khoros
