"""KPI ingest of a big analytics export: smcbridge's KPI sync against the limit.

The limit reads the same exports with requests and csv.reader, sums them in a dict and writes
them with one executemany upsert. Each ingest runs in a subprocess of its own, so that its peak
memory (VmHWM) is its own; the simulator runs in another and renders each export once before
the measured rounds, so the rounds time the reading, not the writing of the CSV.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

from bench.common import Sample, fmt_int, fmt_seconds, print_table, ratio, summarize
from bench.plans import mirror_plans, wipe_mirror
from khoros.kpis import PLANS_PER_EXPORT
from khoros.models import KpiExport, PlanKpi
from simulators.khoros_data import KhorosData
from syncs.models import SyncRun

ROOT = Path(__file__).resolve().parent.parent
PRODUCT, LIMIT = "smcbridge", "limit: csv.reader + dict + one upsert"
IMPLEMENTATIONS = {PRODUCT: "product", LIMIT: "limit"}


def wipe_kpis() -> None:
    PlanKpi.objects.all().delete()
    KpiExport.objects.all().delete()
    SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS).delete()


def _start_simulator(initiatives: int, plans_per_initiative: int, posts: int) -> tuple:
    command = [
        sys.executable, "-m", "bench.kpi_worker", "serve", "--initiatives", str(initiatives),
        "--plans-per-initiative", str(plans_per_initiative), "--posts-per-plan", str(posts),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise RuntimeError(f"the simulator did not start: {url!r}")
    return process, f"{url}/v2"


def _ingest(implementation: str, base_url: str) -> dict:
    command = [sys.executable, "-m", "bench.kpi_worker", "ingest", implementation]
    done = subprocess.run(
        [*command, "--base-url", base_url],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{implementation} ingest failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _sync_plans(initiatives: int, plans_per_initiative: int) -> KhorosData:
    """Mirror the Plans the export covers, with the bridge's own Plan sync (not measured)."""
    data = KhorosData.generate(
        seed=1, initiatives=initiatives, plans_per_initiative=plans_per_initiative, posts_per_plan=0
    )
    mirror_plans(data, "KPI")
    return data


def run_kpis_bench(args: argparse.Namespace, workdir: Path) -> None:
    initiatives = max(1, min(100, args.kpi_plans))
    per_initiative = max(1, args.kpi_plans // initiatives)
    wipe_kpis()
    wipe_mirror()
    data = _sync_plans(initiatives, per_initiative)
    # Upcoming Plans have published nothing yet: the posts per Plan that give --rows rows.
    publishing = sum(1 for plan in data.plans if plan.start_date <= data.today)
    sizes = sorted({max(1, args.rows // 10), args.rows})
    results: dict[tuple[int, str], list[Sample]] = {}
    actual: dict[int, int] = {}
    for size in sizes:
        posts = max(1, math.ceil(size / publishing))
        process, base_url = _start_simulator(initiatives, per_initiative, posts)
        try:
            wipe_kpis()
            _ingest("limit", base_url)  # warm-up: the simulator renders every export once
            for _ in range(args.rounds):
                for name, implementation in IMPLEMENTATIONS.items():
                    wipe_kpis()
                    figures = _ingest(implementation, base_url)
                    actual[size] = figures["rows_read"]
                    sample = Sample(
                        figures["seconds"], figures["sql"], figures["rows"], figures["http"]
                    )
                    sample.extra = figures
                    results.setdefault((size, name), []).append(sample)
        finally:
            process.terminate()
            process.wait(timeout=10)
    wipe_kpis()

    header = [
        "post rows", "implementation", "min", "median", "min ratio", "rows/s (min)", "peak RSS",
        "RSS growth", "HTTP", "SQL", "rows written",
    ]  # fmt: skip
    rows = []
    for size in sizes:
        base_min, _ = summarize(results[(size, LIMIT)])
        for name in IMPLEMENTATIONS:
            samples = results[(size, name)]
            low, median = summarize(samples)
            last = samples[-1]
            peak = max(s.extra["rss_peak_mib"] for s in samples)
            growth = max(s.extra["rss_peak_mib"] - s.extra["rss_before_mib"] for s in samples)
            rows.append(
                [
                    f"{actual[size]:,}", name, fmt_seconds(low), fmt_seconds(median),
                    ratio(low, base_min), f"{actual[size] / low:,.0f}", f"{peak:.0f} MiB",
                    f"{growth:.0f} MiB", fmt_int(last.http), fmt_int(last.sql), fmt_int(last.rows),
                ]
            )  # fmt: skip
    title = (
        f"2. KPI ingest: {args.rows:,} post rows (and a tenth) for {len(data.plans):,} Plans "
        f"({publishing:,} with posts), in exports of {PLANS_PER_EXPORT} Plans as the bridge asks; "
        f"first ingest into an empty table; {connection.vendor}; "
        f"{args.rounds} rounds; each ingest a subprocess; ratios to the limit"
    )
    print_table(title, header, rows)
    print(
        "rows written = daily totals (Plan x day) upserted, plus the run's own bookkeeping; "
        "RSS growth = peak RSS minus RSS after Django started\n"
    )
