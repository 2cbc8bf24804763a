"""SAP MC's inbound API under gunicorn, loaded by concurrent clients, against a trivial view.

Two calls SAP MC makes: the external-campaign list of one Initiative (100 Plans) and the answer
of a completed success report (3,000 results). The limit is a view that returns the very same
bytes under the same server, settings and middleware (bench/api_urls.py). gunicorn runs with
DEBUG off, as in production; the clients are threads of this process on the same machine, so
on 2 cores they compete with the server for CPU: compare the ratios.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.common import count_sql, fmt_int, percentile, print_table
from bench.plans import mirror_plans, wipe_mirror
from khoros.models import Plan, PlanKpi
from sapmc.inbound import reports as api_reports
from sapmc.models import InboundCall, InboundReport
from simulators.khoros import KhorosData
from syncs.models import SyncRun

ROOT = Path(__file__).resolve().parent.parent
API = "/sapmc/extcamp/v1"
USER = "sapmc-inbound"
PLANS = 100
DAYS = 30  # 100 Plans x 30 days = 3,000 results


def _prepare() -> dict[str, dict]:
    """One Initiative with 100 Plans, 30 days of their KPIs, and a completed report of them."""
    InboundCall.objects.all().delete()
    InboundReport.objects.all().delete()
    PlanKpi.objects.all().delete()
    wipe_mirror()
    data = KhorosData.generate(seed=1, initiatives=1, plans_per_initiative=PLANS, posts_per_plan=0)
    mirror_plans(data, "API")
    now = timezone.now()
    today = now.date()
    plans = list(Plan.objects.all())
    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=plan,
            day=today - timedelta(days=d),
            impressions=1000 + d,
            engagements=40 + d,
            clicks=d,
            reach=800 + d,
            video_views=d // 2,
            posts=1 + d % 3,
            updated_at=now,
        )  # fmt: skip
        for plan in plans
        for d in range(DAYS)
    )
    # A KPI sync that just succeeded: the report completes without asking for another one.
    SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS,
        trigger=SyncRun.Trigger.COMMAND,
        status=SyncRun.Status.SUCCEEDED,
        started_at=now,
        finished_at=now,
    )
    report = api_reports.report_create(
        external_campaign_ids=[plan.khoros_id.hex for plan in plans],
        from_date=today - timedelta(days=DAYS - 1),
        to_date=today,
        caller=USER,
    )
    report = api_reports.report_complete(report=report)
    if len(report.results) != PLANS * DAYS:
        raise RuntimeError(f"the report has {len(report.results)} results, not {PLANS * DAYS}")
    initiative = plans[0].initiative.khoros_id
    return {
        "external-campaigns": {
            "path": f"{API}/external-campaigns",
            "body": {"ADVERTISER": data.company_id, "EXT_CAMPAIGN_MANAGING_PARTY": initiative},
        },
        "campaign-success": {
            "path": f"{API}/campaign-success",
            "body": {"ReportId": report.report_id, "Package": 1},
        },
    }


def _capture(calls: dict[str, dict], password: str, bodies: Path) -> dict[str, dict]:
    """Call each endpoint once in this process: its bytes for the limit, its SQL and rows."""
    auth = "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
    client = Client(HTTP_AUTHORIZATION=auth, HTTP_HOST="localhost")
    figures = {}
    for name, call in calls.items():
        body = json.dumps(call["body"])
        client.post(call["path"], body, content_type="application/json")  # warm
        with count_sql() as sql:
            response = client.post(call["path"], body, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"{name} answered {response.status_code}: {response.content[:300]}")
        (bodies / f"{name}.json").write_bytes(response.content)
        figures[name] = {
            "sql": sql.statements,
            "rows": sql.rows_written,
            "bytes": len(response.content),
        }
    return figures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "smcbridge.wsgi:application", "--workers",
        str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection_.request("GET", "/bench/same-bytes/external-campaigns")
            if connection_.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited at start")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not answer within 60 s")


def _load(port: int, path: str, body: bytes, headers: dict, clients: int, seconds: float) -> dict:
    """`clients` threads, each sending the request again as soon as the last one is answered."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        nonlocal errors
        mine, failed = [], 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                # gunicorn's sync workers close every connection: one connection per request.
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                ok = response.status == 200
            except OSError:
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.5) if latencies else float("nan"),
        "p99": percentile(latencies, 0.99) if latencies else float("nan"),
        "requests": len(latencies),
        "errors": errors,
    }


def run_api_bench(args: argparse.Namespace, workdir: Path) -> None:
    password = secrets.token_urlsafe(16)
    os.environ["SAPMC_INBOUND_PASSWORD"] = password  # this process's test client too
    from django.conf import settings

    settings.SAPMC_INBOUND_PASSWORD = password
    calls = _prepare()
    bodies = workdir / "api-bodies"
    bodies.mkdir(exist_ok=True)
    per_call = _capture(calls, password, bodies)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.api_settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "SAPMC_INBOUND_PASSWORD": password,
        "LOG_LEVEL": "WARNING",
        "BENCH_API_BODIES": str(bodies),
    }
    auth = "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    process, port = _start_gunicorn(args.workers, env)
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        for _ in range(args.rounds):
            for name, call in calls.items():
                body = json.dumps(call["body"]).encode()
                for impl, path in (
                    ("smcbridge", call["path"]),
                    ("limit", f"/bench/same-bytes/{name}"),
                ):
                    figures = _load(port, path, body, headers, args.clients, args.seconds)
                    results.setdefault((name, impl), []).append(figures)
    finally:
        process.terminate()
        process.wait(timeout=20)
    InboundCall.objects.all().delete()

    header = [
        "endpoint", "implementation", "req/s median", "req/s best", "ratio", "p50", "p99",
        "requests", "errors", "SQL/request", "rows written/request", "bytes",
    ]  # fmt: skip
    rows = []
    for name in calls:
        limit_rps = statistics.median(r["rps"] for r in results[(name, "limit")])
        for impl in ("smcbridge", "limit"):
            runs = results[(name, impl)]
            rps = statistics.median(r["rps"] for r in runs)
            counted = per_call[name] if impl == "smcbridge" else {"sql": 0, "rows": 0}
            rows.append(
                [
                    name, impl if impl == "smcbridge" else "limit: same bytes, trivial view",
                    f"{rps:,.1f}", f"{max(r['rps'] for r in runs):,.1f}",
                    f"x{rps / limit_rps:.2f}" if limit_rps else "n/a",
                    f"{statistics.median(r['p50'] for r in runs) * 1000:.1f} ms",
                    f"{statistics.median(r['p99'] for r in runs) * 1000:.1f} ms",
                    fmt_int(sum(r["requests"] for r in runs)),
                    fmt_int(sum(r["errors"] for r in runs)), fmt_int(counted["sql"]),
                    fmt_int(counted["rows"]), fmt_int(per_call[name]["bytes"]),
                ]
            )  # fmt: skip
    title = (
        f"4. Inbound API under gunicorn ({args.workers} sync workers, DEBUG off), "
        f"{args.clients} concurrent clients, {args.seconds:g} s per measurement, "
        f"{args.rounds} rounds; {connection.vendor}; ratio = req/s / the limit's"
    )
    print_table(title, header, rows)
    print(
        "external-campaigns: one Initiative, 100 Plans; campaign-success: a completed report, "
        "3,000 results. SQL and rows per request measured once in-process (rows: the call log)\n"
    )
