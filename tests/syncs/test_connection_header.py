"""The connection header of one sync kind: state, last success, next run, run timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from syncs.connection import connection_header
from syncs.models import SyncRun
from syncs.schedules import setup_schedules

pytestmark = pytest.mark.django_db


def run(status: str, *, ago: timedelta, seconds: float = 2.0, rows: int = 0, error: str = ""):
    finished = timezone.now() - ago
    r = SyncRun.objects.create(
        kind="khoros_plans", trigger="schedule", status=status, error=error,
        started_at=finished - timedelta(seconds=seconds), finished_at=finished,
        unchanged_count=rows,
    )  # fmt: skip
    SyncRun.objects.filter(pk=r.pk).update(queued_at=finished - timedelta(seconds=seconds))
    return r


def test_states_in_order_of_what_matters():
    setup_schedules()
    run("succeeded", ago=timedelta(minutes=10), rows=120)
    assert connection_header("khoros_plans").state == "healthy"
    for _ in range(3):
        run("failed", ago=timedelta(minutes=5), error="KhorosUnavailableError: 503")
    header = connection_header("khoros_plans")
    assert (header.state, header.last_error) == ("failing", "KhorosUnavailableError: 503")
    live = SyncRun.objects.create(
        kind="khoros_plans", trigger="button", status="running",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    assert connection_header("khoros_plans").state == "running"
    # Its worker died: the header says so rather than "in progress" for ever.
    SyncRun.objects.filter(pk=live.pk).update(lease_expires_at=timezone.now())
    header = connection_header("khoros_plans")
    assert (header.state, header.state_text) == (
        "failing",
        f"Run #{live.pk} stopped sending heartbeats; the next request takes it over.",
    )
    SyncRun.objects.filter(kind="khoros_plans").delete()
    run("succeeded", ago=timedelta(hours=5))
    assert connection_header("khoros_plans").state == "stale"  # 3 x 30 min passed
    run("succeeded", ago=timedelta(minutes=1))
    Schedule.objects.filter(name="Khoros plans").update(repeats=0)
    header = connection_header("khoros_plans")
    assert header.state == "paused" and header.next_run is None


def test_header_on_the_history_filtered_by_kind(client, world):
    setup_schedules()
    next_run = Schedule.objects.get(name="Khoros plans").next_run
    ok = run("succeeded", ago=timedelta(days=2), seconds=10, rows=1204)
    run("succeeded", ago=timedelta(days=20), seconds=10)  # outside the 14 days
    for hours in (3, 2, 1):
        run("failed", ago=timedelta(hours=hours), seconds=5, error="KhorosAuthError: 401")
    SyncRun.objects.create(kind="sapmc_campaigns", trigger="schedule", status="failed")
    client.force_login(world.admin)

    page = client.get(reverse("sync-history"), {"kind": "khoros_plans"}).content.decode()

    header = page[page.index('data-testid="connection-header"') : page.index("</section>")]
    assert 'data-testid="connection-state">Failing<' in header
    assert f"{ok.finished_at:%Y-%m-%d %H:%M}" in header
    assert f">{next_run:%Y-%m-%d %H:%M}</time>, every 30 min" in header
    assert "KhorosAuthError: 401" in header
    assert "Runs over the last 14 days: 4 runs." in header
    assert "tallest 10.0 s" in header and "tallest 1204)" in header
    assert len(re.findall(r'<rect class="run-bar (\w+)"', header)) == 4
    assert re.findall(r'<rect class="run-bar (\w+)"', header).count("failed") == 3
    assert len(re.findall(r'<rect class="rows-bar', header)) == 1
    assert "1,204 rows" in header
    # CSP: no inline style anywhere in the chart.
    assert "style=" not in header
    # Unfiltered, no header (and no extra queries).
    page = client.get(reverse("sync-history")).content.decode()
    assert 'data-testid="connection-header"' not in page
    assert 'href="/syncs/?kind=khoros_plans"' in page


def test_a_paused_kind_is_paused_before_it_is_stale():
    setup_schedules()
    run("succeeded", ago=timedelta(days=2))
    Schedule.objects.filter(name="Khoros plans").update(repeats=0)

    header = connection_header("khoros_plans")

    assert (header.state, header.state_text) == (
        "paused",
        "Its schedule is off: runs start only by hand.",
    )


def test_the_history_header_follows_the_interval_it_shows(client, world):
    setup_schedules()
    Schedule.objects.filter(name="SAP MC campaigns").update(minutes=1440)
    finished = timezone.now() - timedelta(hours=4)
    SyncRun.objects.create(
        kind="sapmc_campaigns", trigger="schedule", status="succeeded",
        started_at=finished - timedelta(seconds=3), finished_at=finished,
    )  # fmt: skip
    client.force_login(world.admin)

    page = client.get(reverse("sync-history"), {"kind": "sapmc_campaigns"}).content.decode()

    header = page[page.index('data-testid="connection-header"') : page.index("</section>")]
    assert "every 1440 min" in header
    assert 'data-testid="connection-state">Healthy<' in header
    assert "Stale" not in header


def test_a_run_bar_names_its_time_in_the_viewers_zone_as_the_facts_above_it(client, world):
    """A run at 2026-03-08 14:30 UTC, the day New York moved to summer time, is 10:30 there:
    its bar says so, as "Last success" does, not 14:30 "UTC" beside it."""
    with time_machine.travel(datetime(2026, 3, 8, 15, tzinfo=UTC), tick=False):
        ok = run("succeeded", ago=timedelta(minutes=29, seconds=30), seconds=4, rows=7)
        client.force_login(world.admin)
        client.cookies["smcbridge_tz"] = "America/New_York"
        page = client.get(reverse("sync-history"), {"kind": "khoros_plans"}).content.decode()

    header = page[page.index('data-testid="connection-header"') : page.index("</section>")]
    # The viewer's time, and the instant with her offset for machines (US DST began that day).
    assert 'data-testid="connection-last-success"><time datetime="2026-03-08T10:30:30' in header
    assert '-04:00">2026-03-08 10:30</time> (' in header
    assert f"<title>#{ok.pk} Succeeded, 2026-03-08 10:30, 4.0 s, 7 rows</title>" in header
    assert f'aria-label="#{ok.pk} Succeeded, 2026-03-08 10:30, 4.0 s, 7 rows"' in header
    assert "UTC" not in header


def test_an_hour_of_runs_is_drawn_as_its_worst_run_and_links_to_the_newest_failure():
    # Three failures just after eleven successes, in one hour: one bar for the hour, red, that
    # counts them all and opens the newest failure (per-run bars drew the failures under the
    # green bars painted after them, then 672 bars of 4 units merged into one block).
    with time_machine.travel(datetime(2026, 3, 8, 10, 30, tzinfo=UTC), tick=False):
        for minutes in range(20, 9, -1):
            run("succeeded", ago=timedelta(minutes=minutes))
        failed = [run("failed", ago=timedelta(minutes=m), error="down").pk for m in (3, 2, 1)]

        header = connection_header("khoros_plans")

    assert header.state == "failing"
    [bar] = header.bars
    assert (bar.status, bar.count, bar.pk) == ("failed", 14, failed[-1])
    hour = timezone.localtime(datetime(2026, 3, 8, 10, tzinfo=UTC))
    assert bar.title == (
        f"{hour:%Y-%m-%d %H:%M}–{hour + timedelta(hours=1):%H:%M}: 14 runs, 3 failed, "
        f"11 succeeded (newest #{failed[-1]}); longest 2.0 s, most 0 rows"
    )
    assert bar.mark_x is not None and bar.mark_width == 8


def test_fourteen_days_of_half_hourly_runs_are_all_counted_and_drawn(
    client, world, django_assert_num_queries
):
    """The default schedule's 48 runs a day, one of them failed: the caption counts 672 (it
    said 500, the newest 500), every hour with runs has its bar (the oldest 3.6 days were blank,
    which read as an outage), and the failed run's hour is red with its mark above the lanes."""
    setup_schedules()
    now = datetime(2026, 3, 8, 15, 10, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        runs = [
            SyncRun(
                kind="khoros_plans",
                trigger="schedule",
                status="failed" if i == 400 else "succeeded",
                error="KhorosUnavailableError: 503" if i == 400 else "",
                started_at=now - timedelta(minutes=30 * i + 5),
                finished_at=now - timedelta(minutes=30 * i + 4),
                unchanged_count=100 + i % 7,
            )  # fmt: skip
            for i in range(672)
        ]
        SyncRun.objects.bulk_create(runs)
        for r in SyncRun.objects.all():
            SyncRun.objects.filter(pk=r.pk).update(queued_at=r.started_at)
        failed = SyncRun.objects.get(status="failed")
        client.force_login(world.admin)
        client.get(reverse("sync-history"), {"kind": "khoros_plans"})  # session warmed
        with django_assert_num_queries(12):
            response = client.get(reverse("sync-history"), {"kind": "khoros_plans"})
        header = connection_header("khoros_plans")

    page = response.content.decode()
    html = page[page.index('data-testid="connection-header"') : page.index("</section>")]
    assert "Runs over the last 14 days: 672 runs. 1 failed, 671 succeeded." in html
    assert header.runs_total == 672
    # Every hour of the 14 days ran twice: a bar an hour end to end, from the left edge to the
    # right, with no hour missing between them (337: the window's ends cut two UTC hours).
    assert len(header.bars) == 337
    assert sum(bar.count for bar in header.bars) == 672
    assert header.bars[0].x == 0 and header.bars[-1].x + header.bars[-1].width >= 699.9
    hours = [bar.x for bar in header.bars]
    assert all(0 < b - a < 2.2 for a, b in zip(hours, hours[1:], strict=False))
    assert len(re.findall(r'<rect class="run-bar (\w+)"', html)) == 337
    [red] = [bar for bar in header.bars if bar.status == "failed"]
    assert red.pk == failed.pk and red.count == 2
    assert re.findall(r'<rect class="run-bar (\w+)"', html).count("failed") == 1
    marks = re.findall(r'<rect class="status-mark (\w+)" x="[\d.]+" y="0" width="8"', html)
    assert marks == ["failed"]
    # Its link names the hour, the failure and the run it opens, for a screen reader too.
    assert re.search(
        rf'href="/syncs/{failed.pk}/" aria-label="[^"]*: 2 runs, 1 failed, 1 succeeded '
        rf'\(newest #{failed.pk}\); longest 60.0 s, most 10\d rows"',
        html,
    )
    # The page no longer grows with the runs: 337 hours, whatever ran in them (500 bars of
    # runs weighed 260 KB).
    assert len(page) < 175_000 and len(html) < 125_000


def test_the_header_reads_the_same_queries_whatever_the_number_of_runs(client, world):
    setup_schedules()
    client.force_login(world.admin)
    counts = []
    for n in (3, 300):
        SyncRun.objects.bulk_create(
            SyncRun(kind="khoros_plans", trigger="schedule", status="succeeded") for _ in range(n)
        )
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("sync-history"), {"kind": "khoros_plans"})
        counts.append(len(captured))
    assert counts[0] == counts[1]
