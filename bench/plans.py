"""Plan sync over loopback HTTP: smcbridge, the limit (bare HTTP + one upsert per table), dlt.

Scenarios, each on the same simulator data: the first sync into empty tables, a sync where
nothing changed, and a sync after a share of the Plans (5% by default) was renamed.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.db import connection, transaction
from django.utils import timezone

from bench.common import (
    IMPLEMENTATION_HEADER,
    Sample,
    count_sql,
    implementation_rows,
    print_table,
    ratio,
    summarize,
)
from khoros import client as khoros_client
from khoros import services
from khoros.models import Company, Initiative, Plan
from simulators.khoros import KhorosData, KhorosSimulator
from simulators.server import start_in_thread
from syncs.models import SyncRun

TOKEN = "bench-token"
PAGE_SIZE = khoros_client.MAX_PAGE_SIZE
SCENARIOS = ("first sync", "no-change sync", "changed sync")
PRODUCT, LIMIT, PEER = "smcbridge", "limit: requests + executemany upsert", "peer: dlt rest_api"
# The floor of a sync that has nothing to write: the same GETs, decoded, and nothing stored.
FETCH = "bare fetch: requests, no database"

PLAN_COLUMNS = (
    "khoros_id", "initiative_id", "name", "color", "start", "end", "start_day", "end_day",
    "overview", "objective", "target_audience", "khoros_created", "khoros_modified", "raw",
    "first_seen", "last_seen",
)  # fmt: skip
INITIATIVE_COLUMNS = ("khoros_id", "name", "description", "first_seen", "last_seen")


def wipe_mirror() -> None:
    """Empty the tables a Plan sync writes, for a first sync."""
    Plan.objects.all().delete()
    Initiative.objects.all().delete()
    SyncRun.objects.all().delete()
    Company.objects.all().delete()


def mirror_plans(data: KhorosData, what: str) -> None:
    """Mirror the simulator's Plans with the bridge's own Plan sync: another benchmark's data,
    not measured."""
    with start_in_thread(KhorosSimulator(data, token=TOKEN)) as server:
        client = khoros_client.KhorosClient(
            base_url=f"{server.base_url}/v2", token=TOKEN, company_id=data.company_id
        )
        with client:
            run = services.sync_khoros(client=client)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise RuntimeError(f"plan sync for the {what} benchmark ended {run.status}: {run.error}")


# The limit ------------------------------------------------------------------------------------


def _pages(session: requests.Session, url: str) -> Iterator[dict[str, Any]]:
    page, seen = 0, 0
    while True:
        response = session.get(url, params={"pageNumber": page, "pageSize": PAGE_SIZE}, timeout=30)
        response.raise_for_status()
        payload = response.json()
        items = payload["data"]
        yield from items
        seen += len(items)
        if not items or seen >= payload["pagination"]["totalItems"]:
            return
        page += 1


def fetch_only(base_url: str) -> int:
    """The same pages as the limit, decoded, written nowhere: what a no-change sync must cost."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    initiatives = list(_pages(session, f"{base_url}/conversations/initiative"))
    for item in initiatives:
        for _plan in _pages(session, f"{base_url}/conversations/initiative/{item['id']}/plan"):
            pass
    session.close()
    return 0


def _ms(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _upsert_sql(table: str, columns: tuple[str, ...], conflict: str, keep: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keep)
    return (
        f"INSERT INTO {quote(table)} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({quote(conflict)}) DO UPDATE SET {updates}, {quote('removed_at')} = NULL"
    )


def _preparers(model: type, columns: tuple[str, ...]) -> list[Callable[[Any], Any]]:
    """Each column's own adaptation to this database (UUID, JSON, datetimes), nothing more."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    return [
        (lambda value, f=fields[c]: f.get_db_prep_save(value, connection=connection))
        for c in columns
    ]


def limit_sync(base_url: str, zone: ZoneInfo) -> int:
    """The least work for the same tables: GET every page, then one executemany per table."""
    now = timezone.now()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    initiatives = list(_pages(session, f"{base_url}/conversations/initiative"))
    plans = [
        (str(item["id"]), plan)
        for item in initiatives
        for plan in _pages(session, f"{base_url}/conversations/initiative/{item['id']}/plan")
    ]
    session.close()
    prep = _preparers(Initiative, INITIATIVE_COLUMNS)
    initiative_rows = [
        [
            p(v)
            for p, v in zip(
                prep,
                (str(i["id"]), i["name"], i.get("description") or "", now, now),
                strict=True,
            )
        ]
        for i in initiatives
    ]
    prep = _preparers(Plan, PLAN_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            _upsert_sql("khoros_initiative", INITIATIVE_COLUMNS, "khoros_id", ("first_seen",)),
            initiative_rows,
        )
        cursor.execute("SELECT khoros_id, id FROM khoros_initiative")
        pks = dict(cursor.fetchall())
        plan_rows = []
        for initiative_id, plan in plans:
            start, end = _ms(plan["startDate"]), _ms(plan["endDate"])
            values = (
                plan["id"], pks[initiative_id], plan["name"], plan.get("color") or "", start, end,
                start.astimezone(zone).date(), end.astimezone(zone).date(),
                plan.get("overview") or "", plan.get("objective") or "",
                plan.get("targetAudience") or "", _ms(plan.get("createdDate")),
                _ms(plan.get("lastModifiedDate")), plan, now, now,
            )  # fmt: skip
            plan_rows.append([p(v) for p, v in zip(prep, values, strict=True)])
        cursor.executemany(
            _upsert_sql("khoros_plan", PLAN_COLUMNS, "khoros_id", ("first_seen",)), plan_rows
        )
    return len(initiative_rows) + len(plan_rows)


# The peer -------------------------------------------------------------------------------------


def dlt_available() -> bool:
    try:
        import dlt  # noqa: F401
    except ImportError:
        return False
    return True


class DltPeer:
    """dlt's REST API source (page-number paginator, merge on id) into the same database."""

    def __init__(self, workdir: Path) -> None:
        os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
        # dlt's SQLAlchemy merge job warns about its own query on every run.
        warnings.filterwarnings("ignore", module="dlt.*")
        warnings.filterwarnings("ignore", message=".*scalar subquery.*")
        self.workdir = workdir
        self.runs = 0
        self.datasets: list[str] = []

    def destination(self) -> Any:
        import dlt

        if connection.vendor == "postgresql":
            # The same PostgreSQL database as the bridge, in a schema of its own per pipeline.
            db = connection.settings_dict
            credentials = {
                "database": db["NAME"],
                "username": db["USER"],
                # dlt insists on a password; a server that trusts loopback ignores this one.
                "password": db["PASSWORD"] or "unused",
                "host": db["HOST"] or "127.0.0.1",
                "port": int(db["PORT"] or 5432),
            }
            return dlt.destinations.postgres(credentials=credentials)
        # SQLite: a file of its own beside the bridge's (dlt attaches one per dataset).
        return dlt.destinations.sqlalchemy(credentials=f"sqlite:///{self.workdir / 'dlt.sqlite3'}")

    def pipeline(self) -> Any:
        """A fresh pipeline and dataset: its first run is a first sync."""
        import dlt

        self.runs += 1
        dataset = f"dlt_plans_{os.getpid()}_{self.runs}"
        self.datasets.append(dataset)
        return dlt.pipeline(
            pipeline_name=f"bench_plans_{self.runs}",
            destination=self.destination(),
            dataset_name=dataset,
            pipelines_dir=str(self.workdir / "dlt-pipelines"),
        )

    def cleanup(self) -> None:
        """Drop dlt's schemas from PostgreSQL (SQLite's files go with the work directory)."""
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for dataset in self.datasets:
                for schema in (dataset, f"{dataset}_staging"):
                    cursor.execute(
                        f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema)} CASCADE"
                    )

    @staticmethod
    def source(base_url: str) -> Any:
        from dlt.sources.rest_api import rest_api_source

        return rest_api_source(
            {
                "client": {
                    "base_url": f"{base_url}/",
                    "auth": {"type": "bearer", "token": TOKEN},
                    "paginator": {
                        "type": "page_number",
                        "base_page": 0,
                        "page_param": "pageNumber",
                        # Khoros reports items, not pages: stop at the first empty page.
                        "total_path": None,
                        "stop_after_empty_page": True,
                    },
                },
                "resource_defaults": {
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {"params": {"pageSize": PAGE_SIZE}, "data_selector": "data"},
                },
                "resources": [
                    {"name": "initiatives", "endpoint": {"path": "conversations/initiative"}},
                    {
                        "name": "plans",
                        "endpoint": {
                            "path": "conversations/initiative/{initiative_id}/plan",
                            "params": {
                                "initiative_id": {
                                    "type": "resolve",
                                    "resource": "initiatives",
                                    "field": "id",
                                }
                            },
                        },
                    },
                ],
            }
        )

    @staticmethod
    def run(pipeline: Any, base_url: str) -> int:
        pipeline.run(DltPeer.source(base_url))
        counts = pipeline.last_trace.last_normalize_info.row_counts
        return sum(n for table, n in counts.items() if not table.startswith("_dlt"))


# The benchmark --------------------------------------------------------------------------------


def run_plans_bench(args: argparse.Namespace, workdir: Path) -> None:
    data = KhorosData.generate(
        seed=1,
        initiatives=args.initiatives,
        plans_per_initiative=args.plans_per_initiative,
        posts_per_plan=0,
    )
    zone = ZoneInfo(data.timezone)
    sim = KhorosSimulator(data=data, token=TOKEN)
    peer = DltPeer(workdir) if dlt_available() else None
    implementations = [PRODUCT, LIMIT, FETCH] + ([PEER] if peer else [])
    results: dict[tuple[str, str], list[Sample]] = {}
    wipe_mirror()
    with start_in_thread(sim) as server:
        base_url = f"{server.base_url}/v2"

        def measure(name: str, work: Callable[[], int | None]) -> Sample:
            before = len(sim.requests)
            with count_sql() as sql:
                started = time.perf_counter()
                rows = work()
                seconds = time.perf_counter() - started
            sample = Sample(seconds, sql.statements, sql.rows_written, len(sim.requests) - before)
            if name == PEER:
                sample.sql, sample.rows = None, rows  # dlt's own driver: rows from its trace
            return sample

        for round_number in range(1, args.rounds + 1):
            for name in implementations:
                sim.reset()
                wipe_mirror()
                if name == PRODUCT:

                    def work() -> None:
                        client = khoros_client.KhorosClient(
                            base_url=base_url, token=TOKEN, company_id=data.company_id
                        )
                        with client:
                            run = services.sync_khoros(client=client)
                        if run.status != SyncRun.Status.SUCCEEDED:
                            raise RuntimeError(f"plan sync ended {run.status}: {run.error}")

                elif name == LIMIT:

                    def work() -> int:
                        return limit_sync(base_url, zone)

                elif name == FETCH:

                    def work() -> int:
                        return fetch_only(base_url)

                else:
                    pipeline = peer.pipeline()

                    def work(pipeline: Any = pipeline) -> int:
                        return peer.run(pipeline, base_url)

                for scenario in SCENARIOS:
                    if scenario == "changed sync":
                        sim.change_plans(args.change, tag=f"round {round_number}")
                    results.setdefault((scenario, name), []).append(measure(name, work))
    wipe_mirror()
    if peer is not None:
        peer.cleanup()
    total = args.initiatives * args.plans_per_initiative
    title = (
        f"1. Plan sync: {args.initiatives} Initiatives x {args.plans_per_initiative} Plans = "
        f"{total:,} Plans, {args.change:.0%} changed; loopback HTTP to the Khoros simulator; "
        f"{connection.vendor}; {args.rounds} rounds; ratios to the limit"
    )
    rows = implementation_rows(SCENARIOS, implementations, results, base=LIMIT)
    print_table(title, IMPLEMENTATION_HEADER, rows)
    own_min, own_median = summarize(results[("no-change sync", PRODUCT)])
    floor_min, floor_median = summarize(results[("no-change sync", FETCH)])
    print(
        f"no-change sync / bare fetch: {ratio(own_min, floor_min)} (min), "
        f"{ratio(own_median, floor_median)} (median)"
    )
    if peer is None:
        print("peer: dlt is not installed (pip install -r requirements-bench.txt)\n")
    else:
        print(
            "peer: SQL n/a (dlt talks to the database through its own driver); its rows "
            "written are the rows its trace says it loaded\n"
        )
