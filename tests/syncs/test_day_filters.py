"""The sync history's, the audit trail's and SAP MC's call log's day filters: the days of the
viewer's zone (the active one), as a range of instants an index serves, selecting the rows the
local date did."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.middleware import COOKIE
from campaigns.models import AuditEvent
from campaigns.selectors import AuditFilters, audit_events
from sapmc.models import InboundCall
from sapmc.selectors import InboundCallFilters, inbound_calls
from smcbridge.zones import day_span
from syncs.models import SyncRun
from syncs.selectors import SyncRunFilters, sync_runs

pytestmark = pytest.mark.django_db

# Berlin's clocks change at 02:00 and 03:00, Santiago's at midnight (the day of 6 Sep 2026 has
# no 00:00; 4 Apr 2026 has 23:00-24:00 twice), Kiritimati is 14 hours east, Pago Pago 11 west.
ZONES = ["Europe/Berlin", "America/Santiago", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"]
DAYS = [date(2026, 3, 28), date(2026, 4, 4), date(2026, 9, 5), date(2026, 10, 24)]


def _instants() -> list[datetime]:
    """Every 20 minutes over three days around each day, and each second around midnights."""
    out = []
    for day in DAYS:
        start = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        out += [start + timedelta(minutes=20 * i) for i in range(3 * 72 + 36)]
    for zone in ZONES:
        for day in DAYS:
            for d in range(4):
                first, _ = day_span(day + timedelta(days=d - 1), None, ZoneInfo(zone))
                assert first is not None
                out += [first + timedelta(seconds=s) for s in (-1, 0, 1)]
    return sorted(set(out))


def _local_days(instants: dict[int, datetime], zone: str, first: date, last: date) -> set[int]:
    return {
        pk for pk, at in instants.items() if first <= at.astimezone(ZoneInfo(zone)).date() <= last
    }


def test_day_filters_select_the_rows_of_the_viewers_days_by_a_range(world):
    instants = _instants()
    queued = SyncRun.objects.bulk_create(SyncRun(kind="khoros_plans") for _ in instants)
    for run, at in zip(queued, instants, strict=True):
        run.queued_at = at  # auto_now_add: set after the insert
    SyncRun.objects.bulk_update(queued, ["queued_at"])
    AuditEvent.objects.bulk_create(
        AuditEvent(at=at, actor_name="maria", action="assignment.create", summary="x")
        for at in instants
    )
    InboundCall.objects.bulk_create(
        InboundCall(at=at, method="GET", endpoint="parameter-values", status_code=200)
        for at in instants
    )
    runs = dict(SyncRun.objects.values_list("pk", "queued_at"))
    events = dict(AuditEvent.objects.values_list("pk", "at"))
    calls = dict(InboundCall.objects.values_list("pk", "at"))
    compared = 0
    for zone in ZONES:
        for day in DAYS:
            for first, last in [(day, day), (day, day + timedelta(days=1)), (day, None)]:
                with timezone.override(ZoneInfo(zone)), CaptureQueriesContext(connection) as q:
                    got_runs = {
                        r.pk
                        for r in sync_runs(filters=SyncRunFilters(date_from=first, date_to=last))
                    }
                    got_events = {
                        e.pk
                        for e in audit_events(filters=AuditFilters(date_from=first, date_to=last))
                    }
                    got_calls = (
                        {c.pk for c in inbound_calls(filters=InboundCallFilters(day=first))}
                        if last == first
                        else None
                    )
                to = last or date(2100, 1, 1)
                assert got_runs == _local_days(runs, zone, first, to), (zone, first, last)
                assert got_events == _local_days(events, zone, first, to), (zone, first, last)
                if got_calls is not None:  # the call log filters by one day
                    assert got_calls == _local_days(calls, zone, first, first), (zone, first)
                if last is not None:
                    compared += len(got_runs)
                # A range of instants, not each row's date in the zone.
                for sql in (query["sql"] for query in q):
                    assert "django_datetime_cast_date" not in sql and "AT TIME ZONE" not in sql
            # Only the days before: the last one ends where the first one began.
            with timezone.override(ZoneInfo(zone)):
                before = {r.pk for r in sync_runs(filters=SyncRunFilters(date_to=day))}
            assert before == _local_days(runs, zone, date(2000, 1, 1), day)
    assert compared > 1000


def test_the_pages_filter_by_the_viewers_days(client, world):
    # 23:30 UTC on 4 Apr is 19:30 in Santiago, and 5 Apr in Kiritimati.
    at = datetime(2026, 4, 4, 23, 30, tzinfo=UTC)
    run = SyncRun.objects.create(kind="khoros_plans")
    SyncRun.objects.filter(pk=run.pk).update(queued_at=at)  # auto_now_add
    AuditEvent.objects.create(at=at, actor_name="maria", action="assignment.create", summary="x")
    client.force_login(world.admin)
    for zone, day, shown in [
        ("America/Santiago", "2026-04-04", True),
        ("America/Santiago", "2026-04-05", False),
        ("Pacific/Kiritimati", "2026-04-05", True),
        ("Pacific/Kiritimati", "2026-04-04", False),
    ]:
        client.cookies[COOKIE] = zone
        history = client.get(reverse("sync-history"), {"date_from": day, "date_to": day})
        assert (run in history.context["page"].object_list) == shown, (zone, day)
        audit = client.get(reverse("audit"), {"date_from": day, "date_to": day})
        assert (len(audit.context["page"].object_list) == 1) == shown, (zone, day)


@pytest.mark.parametrize("zone", ZONES)
def test_days_at_the_ends_of_the_calendar_leave_that_end_open(world, zone):
    with timezone.override(ZoneInfo(zone)):
        since, until = day_span(date.min, date.max)
        # (Before 1901 each zone is its local mean time: Berlin's, +0:53, has no first instant.)
        assert until is None and (since is None or since.year == 1)
        assert list(sync_runs(filters=SyncRunFilters(date_from=date.min, date_to=date.max))) == []
        since, until = day_span(date(1, 1, 2), date(9999, 12, 30))
        assert since is not None and until is not None
