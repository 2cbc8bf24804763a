"""Pages at scale: time, queries and SQL time of each page, Django's admin as the peer.

Two data sets, a big one (2,000 campaigns, 10,000 Plans, 90 days of KPIs, 1,000 runs, 10,000
audit rows by default) and a tenth of it; growth is big / small. Requests go through Django's
test client in this process (no HTTP server): the figures are the view, its templates, its
middleware and its SQL. The SQL floor of a page is the time of its captured SELECTs run again
on the same connection, results fetched: what the page would cost with free Python.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from bench.common import count_sql, fmt_seconds, percentile, print_table
from campaigns.models import SYNC_ADMINS, Assignment, AuditEvent
from khoros.models import Initiative, Plan, PlanKpi
from sapmc.models import ExternalCampaign
from syncs import registry
from syncs.models import SyncRun
from tests.scale import build_scale, scale_initiatives  # the suite's one builder of data at scale

KPI_DAYS = 90
PEER = "admin Plan change list"


def pages(campaign: int, today: date) -> list[tuple[str, str]]:
    day = today.isoformat()
    return [
        ("workbench", f"/workbench/?campaign={campaign}&ppage=7&cpage=3"),
        ("calendar month", f"/calendar/?zoom=month&date={day}"),
        ("calendar quarter", f"/calendar/?zoom=quarter&date={day}"),
        ("calendar year", f"/calendar/?zoom=year&date={day}"),
        ("campaign page", f"/campaigns/{campaign}/"),
        ("sync history", "/syncs/"),
        ("audit", "/audit/"),
        ("dashboard", "/"),
        (PEER, "/admin/khoros/plan/"),
    ]


def _wipe() -> None:
    AuditEvent.objects.all().delete()
    PlanKpi.objects.all().delete()
    Assignment.objects.all().delete()
    Plan.objects.all().delete()
    ExternalCampaign.objects.all().delete()
    Initiative.objects.all().delete()
    SyncRun.objects.all().delete()


def _populate(campaigns: int, plans: int, runs: int, audits: int, actor) -> tuple[int, date]:  # noqa: ANN001
    """Build one data set; return the pk of a campaign whose Plans have KPIs, and today.

    Plans and campaigns spread evenly over the 330 days that end 30 days from today; every
    third Plan is assigned to the campaign that starts when it does; each Plan has a KPI row for
    each of its days in the last KPI_DAYS days.
    """
    _wipe()
    now = timezone.now()
    today = now.date()
    start = today - timedelta(days=300)
    built = build_scale(
        initiatives=scale_initiatives(20, first_id=5000), plans=plans, campaigns=campaigns,
        first_campaign_id=100000, start=start, spread=330, even=True,
        plan_days=lambda i: 5 + i % 40, campaign_days=45,
        assign_step=3, assign_below=plans, assign_to=lambda i: i * campaigns // plans,
    )  # fmt: skip
    plan_rows, campaign_rows = built.plans, built.campaigns
    window = today - timedelta(days=KPI_DAYS - 1)

    def kpis():  # noqa: ANN202
        for plan in plan_rows:
            day = max(plan.start_day, window)
            while day <= min(plan.end_day, today):
                n = plan.pk + day.toordinal()
                yield PlanKpi(
                    plan=plan, day=day, impressions=1000 + n % 997, engagements=50 + n % 89,
                    clicks=n % 31, reach=700 + n % 701, video_views=n % 53, posts=1 + n % 3,
                    updated_at=now,
                )  # fmt: skip
                day += timedelta(days=1)

    PlanKpi.objects.bulk_create(kpis(), batch_size=5000)
    _add_sync_runs(runs, now)
    actions = list(AuditEvent.Action)[:3]
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                at=now - timedelta(minutes=7 * i),
                actor=actor,
                actor_name=actor.username,
                action=actions[i % 3],
                campaign=campaign_rows[i % campaigns],
                plan=plan_rows[i % plans],
                summary=f"Plan {i % plans} assigned",
                before=None,
                after={"campaign": campaign_rows[i % campaigns].campaign_id},
            )  # fmt: skip
            for i in range(audits)
        ),
        batch_size=2000,
    )
    # A campaign that starts 60 days ago: its Plans start then too, and have KPIs.
    return campaign_rows[240 * campaigns // 330].pk, today


def _add_sync_runs(runs: int, now: datetime) -> None:
    """`runs` runs as the schedules write them: shared among the registered kinds that are on
    (stored by value), each kind's runs one schedule interval apart, newest first, queued two
    seconds before they start, never two of a kind at once. Each kind's newest run succeeded and
    no three in a row failed, as on a working installation: the pages show last successes and
    numbers, not "never succeeded"."""
    kinds = [kind for kind in registry.kinds() if kind.is_enabled]
    statuses = [SyncRun.Status.SUCCEEDED] * 8 + [SyncRun.Status.PARTIAL, SyncRun.Status.FAILED]

    def rows() -> Iterator[SyncRun]:
        for i in range(runs):
            kind = kinds[i % len(kinds)]
            nth = i // len(kinds)  # 0: the kind's newest run
            interval = timedelta(minutes=getattr(settings, kind.interval_setting))
            started = now - nth * interval - timedelta(minutes=2 + i % len(kinds))
            yield SyncRun(
                kind=kind.value, trigger=SyncRun.Trigger.SCHEDULE,
                status=statuses[nth % len(statuses)], started_at=started,
                finished_at=started + timedelta(seconds=20 + (i * 7) % 40),
                progress_done=20, progress_total=20, created_count=i % 7,
                updated_count=i % 11, unchanged_count=500, http_requests=23,
                outcomes=[
                    {"initiative": str(5000 + k), "status": "ok", "plans": 25} for k in range(20)
                ],
            )  # fmt: skip

    SyncRun.objects.bulk_create(rows(), batch_size=500)
    # queued_at is set on insert (auto_now_add), whatever the row says: each run was queued just
    # before it started, not all of them now.
    SyncRun.objects.update(queued_at=F("started_at") - timedelta(seconds=2))


def _sql_floor(captured: list[tuple[str, object, bool]]) -> float:
    """Run the captured SELECTs again and fetch their rows: the page's SQL time."""
    total = 0.0
    with connection.cursor() as cursor:
        for sql, params, many in captured:
            if many or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            total += time.perf_counter() - started
    return total


def _measure(client: Client, path: str, repeat: int, figures: dict) -> None:
    samples = figures.setdefault("samples", [])
    cpu = figures.setdefault("cpu", [])
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        # This process's CPU time: what other jobs on a shared machine do not stretch (on
        # SQLite it includes the SQL, on PostgreSQL only the client's side of it).
        cpu.append(time.process_time() - cpu_started)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    with count_sql(capture=True) as sql:
        client.get(path)
    figures["queries"] = sql.statements
    floors = figures.setdefault("floors", [])
    floors.append(_sql_floor(sql.captured))


def run_pages_bench(args: argparse.Namespace) -> None:
    admin_group, _ = Group.objects.get_or_create(name=SYNC_ADMINS)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    user.groups.add(admin_group)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    # 10,000 Plans come with 1,000 runs and 10,000 audit rows.
    big = (args.campaigns, args.page_plans, max(1, args.page_plans // 10), args.page_plans)
    small = tuple(max(1, n // 10) for n in big)
    sets = {"small": small, "big": big}
    results: dict[tuple[str, str], dict] = {}
    kpi_rows: dict[str, int] = {}
    names: list[str] = []
    if args.instructions:
        _count_instructions(client, user, sets, args.repeat)
        return
    for label, (campaigns, plans, runs, audits) in sets.items():
        campaign, today = _populate(campaigns, plans, runs, audits, user)
        if connection.vendor == "postgresql":
            # A server analyzes freshly loaded tables itself (autovacuum) soon after a load like
            # this one; measured at once, every page and the admin would run on the planner's
            # guesses instead.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        kpi_rows[label] = PlanKpi.objects.count()
        urls = pages(campaign, today)
        names = [name for name, _ in urls]
        for _, path in urls:
            client.get(path)  # templates compiled, caches warm
        for _ in range(args.rounds):
            for name, path in urls:  # interleaved: every page once per round
                _measure(client, path, args.repeat, results.setdefault((label, name), {}))
    _wipe()

    peer = {label: statistics.median(results[(label, PEER)]["samples"]) for label in sets}
    peer_cpu = statistics.median(results[("big", PEER)]["cpu"])
    header = [
        "page", "small median", "small p95", "queries", "big median", "big p95", "big min",
        "queries", "SQL floor", "SQL share", "growth", "vs admin", "big CPU", "CPU growth",
        "CPU vs admin",
    ]  # fmt: skip
    rows = []
    for name in names:
        s, b = results[("small", name)], results[("big", name)]
        s_median, b_median = statistics.median(s["samples"]), statistics.median(b["samples"])
        b_cpu = statistics.median(b["cpu"])
        floor = min(b["floors"])
        rows.append(
            [
                name, fmt_seconds(s_median), fmt_seconds(percentile(s["samples"], 0.95)),
                str(s["queries"]), fmt_seconds(b_median),
                fmt_seconds(percentile(b["samples"], 0.95)), fmt_seconds(min(b["samples"])),
                str(b["queries"]), fmt_seconds(floor), f"{floor / b_median:.0%}",
                f"x{b_median / s_median:.2f}", f"x{b_median / peer['big']:.2f}",
                fmt_seconds(b_cpu), f"x{b_cpu / statistics.median(s['cpu']):.2f}",
                f"x{b_cpu / peer_cpu:.2f}",
            ]
        )  # fmt: skip
    c, p, r, a = big
    title = (
        f"3. Pages: big = {c:,} campaigns, {p:,} Plans, {kpi_rows['big']:,} KPI rows "
        f"({KPI_DAYS} days), {r:,} runs, {a:,} audit rows; small = a tenth "
        f"({kpi_rows['small']:,} KPI rows); {args.rounds} rounds x {args.repeat} requests per "
        f"page through Django's test client; {connection.vendor}"
    )
    print_table(title, header, rows)
    print(
        "SQL floor = the page's captured SELECTs run again (best round); growth = big median / "
        "small median; vs admin = big median / the admin change list's big median; CPU = this "
        "process's CPU time per request (median), which a busy machine stretches far less than "
        "wall time (on PostgreSQL it leaves out the server's side)\n"
    )


def _count_instructions(
    client: Client,
    user,  # noqa: ANN001
    sets: dict[str, tuple[int, ...]],
    repeat: int,
) -> None:
    """`--instructions`: each page's instructions per request at both sets (bench.instructions)."""
    from bench.instructions import Counter

    counter = Counter()
    counted: dict[tuple[str, str], float] = {}
    names: list[str] = []
    sizes = {}
    for label, (campaigns, plans, runs, audits) in sets.items():
        campaign, today = _populate(campaigns, plans, runs, audits, user)
        sizes[label] = (campaigns, plans, PlanKpi.objects.count(), runs, audits)
        urls = pages(campaign, today)
        names = [name for name, _ in urls]
        for name, path in urls:
            client.get(path)  # templates compiled, caches warm
            client.get(path)

            def work(path: str = path) -> None:
                for _ in range(repeat):
                    if (status := client.get(path).status_code) != 200:
                        raise RuntimeError(f"{path} answered {status}")

            dump = f"{label}-{name.replace(' ', '-')}"
            counted[(label, name)] = counter.count(dump, work) / repeat
    _wipe()
    peer = counted[("big", PEER)]
    rows = []
    for name in names:
        small, big = counted[("small", name)], counted[("big", name)]
        rows.append([name, f"{small / 1e6:,.1f} M", f"{big / 1e6:,.1f} M",
                     f"x{big / small:.2f}", f"x{big / peer:.2f}"])  # fmt: skip
    c, p, k, r, a = sizes["big"]
    print_table(
        f"3. Pages, instructions per request (callgrind): big = {c:,} campaigns, {p:,} Plans, "
        f"{k:,} KPI rows, {r:,} runs, {a:,} audit rows; small = a tenth; {repeat} requests per "
        f"page; {connection.vendor}",
        ["page", "small", "big", "growth", "vs admin"],
        rows,
    )
    print(
        "Instructions this process ran per request (the SQL too on SQLite, not the server's on "
        "PostgreSQL): the same from run to run, to compare two versions of a page, not a time\n"
    )
