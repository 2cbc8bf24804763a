"""Benchmarks that print figures: `make bench` or `python -m bench [--initiatives N ...]`.

Each figure is shown side by side with a baseline measured in the same run on the same data:
the obvious implementation (one `update_or_create` per row) against the bridge's bulk upsert.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--initiatives", type=int, default=20)
    parser.add_argument("--plans-per-initiative", type=int, default=200)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="smcbridge-bench-"))
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smcbridge.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from bench.khoros_sync import run_khoros_sync_bench
    from bench.pages import run_pages_bench

    run_khoros_sync_bench(
        initiatives=args.initiatives, plans_per_initiative=args.plans_per_initiative
    )
    run_pages_bench()


def timed(func: Callable[[], object]) -> tuple[float, int, object]:
    """Run `func`; return (seconds, database queries, result)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):  # noqa: ANN001 - Django's wrapper API
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - start
    return seconds, count, result


if __name__ == "__main__":
    main()
