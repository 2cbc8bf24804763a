"""Subprocesses of the KPI benchmark, so that each measures its own peak memory (VmHWM).

`python -m bench.kpi_worker serve ...`: the Khoros simulator with a big export, its CSVs rendered
once and kept (the benchmark times the bridge reading them, not the simulator writing them).
`python -m bench.kpi_worker ingest product|limit --base-url URL`: one KPI ingest, prints JSON.
Both are started by bench/kpis.py with the benchmark's environment (DATABASE_URL and all).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import sys
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

import requests

TOKEN = "bench-token"

# Reach's position in the daily numbers (impressions, engagements, clicks, reach, ...).
REACH = 3


def _rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux's VmHWM, which starts again at exec. Not ru_maxrss: that one is kept across fork and
    exec, so a worker started by `bench all`, whose parent had grown to 229 MiB running the
    Plan benchmark first, reported 229 MiB and no growth for every ingest, the limit's too.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# The simulator ----------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    from simulators.khoros import KhorosSimulator
    from simulators.khoros_data import KhorosData
    from simulators.server import serve_forever

    class CachedExports(KhorosSimulator):
        """Each distinct export is rendered once; later downloads send the same bytes."""

        _rendered: dict[tuple[Any, ...], bytes] = {}
        _render_lock = threading.Lock()

        def _export_csv(self, export, data, call):  # noqa: ANN001, ANN202 - the parent's API
            # Not the Initiatives: both ingests name the Plans, whose Initiatives they are.
            key = (
                tuple(export.fields), export.start, export.stop, export.timezone,
                export.plan_ids, export.header, export.delimiter,
            )  # fmt: skip
            with self._render_lock:
                body = self._rendered.get(key)
                if body is None:
                    body = self._rendered[key] = super()._export_csv(export, data, call)
            return body

    data = KhorosData.generate(
        seed=args.seed,
        initiatives=args.initiatives,
        plans_per_initiative=args.plans_per_initiative,
        posts_per_plan=args.posts_per_plan,
    )
    data.cache_posts = False  # a million Post objects would be a gigabyte
    app = CachedExports(data, token=TOKEN, export_polls=0)
    serve_forever(app, "127.0.0.1", 0, lambda url: print(url, flush=True))


# The ingests ------------------------------------------------------------------------------------


def _django() -> None:
    import django

    django.setup()


def ingest_product(base_url: str) -> dict[str, Any]:
    from khoros import client as khoros_client
    from khoros.kpis import sync_khoros_kpis
    from khoros.models import Company

    company = Company.objects.get()
    client = khoros_client.KhorosClient(
        base_url=base_url, token=TOKEN, company_id=company.khoros_id
    )
    with client:
        run = sync_khoros_kpis(client=client, sleep=lambda seconds: None)
    if run.status != "succeeded":
        raise SystemExit(f"KPI sync ended {run.status}: {run.error}")
    rows = sum(outcome.get("rows", 0) for outcome in run.outcomes)
    return {"http": run.http_requests, "rows_read": rows, "exports": len(run.outcomes)}


def _export_fields() -> list[int]:
    """The fields the bridge asks for, in its order: both ingests read the very same exports."""
    from django.conf import settings

    from khoros import kpis

    kpi_fields = dict(settings.KHOROS_KPI_FIELDS)
    # An export's columns are the requested fields in the requested order, the placing ones
    # (post, plan, publication time) first.
    return [field for _, field in kpis.requested_order(kpis.export_fields(kpi_fields))]


def _columns(header: list[str], metrics: int) -> tuple[int, int, list[int]]:
    """Positions of the plan id, the publication time and the metrics (the last columns)."""
    names = [re.sub(r"[^0-9a-z]", "", name.lower()) for name in header]
    plan = next(i for i, name in enumerate(names) if name in ("planid", "plan"))
    published = next(i for i, name in enumerate(names) if name.startswith("published"))
    return plan, published, list(range(len(header) - metrics, len(header)))


def ingest_limit(base_url: str) -> dict[str, Any]:
    """The same exports read with requests and csv.reader, summed in a dict, one upsert."""
    from zoneinfo import ZoneInfo

    from django.db import connection, transaction
    from django.utils import timezone

    from khoros.kpis import KPI_NAMES, PLANS_PER_EXPORT
    from khoros.models import Company, Plan

    zone = ZoneInfo(Company.objects.get().timezone)
    fields = _export_fields()
    metric_count = len(KPI_NAMES)
    today = datetime.now(zone).date()
    stop = today + timedelta(days=1)
    plans = [
        (str(khoros_id), pk, first)
        for khoros_id, pk, first in Plan.objects.filter(removed_at__isnull=True)
        .order_by("khoros_id")
        .values_list("khoros_id", "pk", "start_day")
        if first <= today
    ]
    pks = {khoros_id: pk for khoros_id, pk, _ in plans}
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    http = 0
    sums: dict[tuple[int, str], list[int]] = {}
    rows_read = 0
    for index in range(0, len(plans), PLANS_PER_EXPORT):
        chunk = plans[index : index + PLANS_PER_EXPORT]
        query = {
            "fields": fields,
            "start": min(first for _, _, first in chunk).isoformat(),
            "stop": stop.isoformat(),
            "timezone": zone.key,
            "content_filter": {"plans": [khoros_id for khoros_id, _, _ in chunk]},
        }
        answer = session.post(
            f"{base_url}/analytics/export/posts", json={"query": query}, timeout=60
        )
        answer.raise_for_status()
        export_id = answer.json()["export_id"]
        status = session.get(f"{base_url}/analytics/export/{export_id}/status", timeout=60)
        status.raise_for_status()
        url = status.json()["url"]
        http += 2
        with requests.get(url, stream=True, timeout=300) as download:
            http += 1
            download.raise_for_status()
            # A CRLF split across two chunks yields an empty line: csv.reader makes it [].
            reader = csv.reader(download.iter_lines(chunk_size=65536, decode_unicode=True))
            plan, published, metrics = _columns(next(reader), metric_count)
            for row in reader:
                if not row:
                    continue
                rows_read += 1
                # The publication time is local to the export's zone: its day is its date.
                key = (pks[row[plan]], row[published][:10])
                bucket = sums.get(key)
                values = (*(int(row[i]) for i in metrics), 1)
                if bucket is None:
                    sums[key] = list(values)
                else:
                    # The same work as the product: reach (position 3) is the day's highest.
                    for position, value in enumerate(values):
                        if position == REACH:
                            bucket[position] = max(bucket[position], value)
                        else:
                            bucket[position] += value
    session.close()
    now = timezone.now()
    rows = [(pk, date.fromisoformat(day), *values, now) for (pk, day), values in sums.items()]
    columns = (
        "plan_id", "day", "impressions", "engagements", "clicks", "reach", "video_views",
        "posts", "updated_at",
    )  # fmt: skip
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    sql = (
        f"INSERT INTO khoros_plankpi ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT (plan_id, day) DO UPDATE SET {updates}"
    )
    adapt_date = connection.ops.adapt_datefield_value
    adapt_time = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, [(r[0], adapt_date(r[1]), *r[2:8], adapt_time(r[8])) for r in rows])
    return {"http": http, "rows_read": rows_read, "exports": -(-len(plans) // PLANS_PER_EXPORT)}


def ingest(args: argparse.Namespace) -> None:
    _django()
    from bench.common import count_sql

    rss_before = _rss_mib()
    work = ingest_product if args.implementation == "product" else ingest_limit
    with count_sql() as sql:
        started = time.perf_counter()
        figures = work(args.base_url)
        seconds = time.perf_counter() - started
    figures.update(
        seconds=seconds,
        sql=sql.statements,
        rows=sql.rows_written,
        rss_before_mib=rss_before,
        rss_peak_mib=_rss_mib(),
    )
    print(json.dumps(figures), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kpi_worker")
    sub = parser.add_subparsers(dest="what", required=True)
    server = sub.add_parser("serve")
    server.add_argument("--seed", type=int, default=1)
    server.add_argument("--initiatives", type=int, required=True)
    server.add_argument("--plans-per-initiative", type=int, required=True)
    server.add_argument("--posts-per-plan", type=int, required=True)
    worker = sub.add_parser("ingest")
    worker.add_argument("implementation", choices=("product", "limit"))
    worker.add_argument("--base-url", required=True)
    args = parser.parse_args(argv)
    if args.what == "serve":
        serve(args)
    else:
        ingest(args)


if __name__ == "__main__":
    sys.exit(main())
