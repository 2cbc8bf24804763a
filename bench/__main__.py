"""Benchmarks that print figures: `make bench`, or `python -m bench [COMMAND|all]`.

Each figure is printed beside a limit (the least work that gets the same result: bare HTTP and
one bulk upsert, or a trivial view) and, where there is one, a peer (dlt; Django's admin),
measured in the same run on the same data, in interleaved rounds (minimum and median).

SQLite by default (a fresh file per run). With DATABASE_URL=postgres://.../smcbridge_bench...
the benchmarks run on PostgreSQL, and REDIS_URL makes django-q2 use Redis, as in production.
The PostgreSQL database's tables are emptied: its name must contain "bench".
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("plans", "kpis", "pages", "api", "push")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("command", nargs="?", default="all", choices=(*COMMANDS, "all"))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    group = parser.add_argument_group("plans")
    group.add_argument("--initiatives", type=int, default=100)
    group.add_argument("--plans-per-initiative", type=int, default=100)
    group.add_argument("--change", type=float, default=0.05, help="share of Plans changed")
    group = parser.add_argument_group("kpis")
    group.add_argument("--rows", type=int, default=1_000_000, help="post rows of the big export")
    group.add_argument("--kpi-plans", type=int, default=10_000, help="Plans the export covers")
    group = parser.add_argument_group("pages")
    group.add_argument("--campaigns", type=int, default=2_000)
    group.add_argument("--page-plans", type=int, default=10_000)
    group.add_argument("--repeat", type=int, default=10, help="requests per page per round")
    group.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under valgrind's callgrind instead of timing",
    )
    group = parser.add_argument_group("api")
    group.add_argument("--seconds", type=float, default=20.0, help="load time per measurement")
    group.add_argument("--clients", type=int, default=8, help="concurrent clients")
    group.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    group = parser.add_argument_group("push")
    group.add_argument("--push-plans", type=int, default=50, help="assigned Plans")
    group.add_argument("--push-days", type=int, default=20, help="settled days per Plan")
    return parser


def database_url(workdir: Path) -> str:
    """The database to measure: PostgreSQL when DATABASE_URL says so, else a fresh SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        if "bench" not in name:
            sys.exit(
                f"python -m bench empties the tables of its database; {name!r} does not look like "
                "a benchmark database. Use a name containing 'bench', e.g. "
                "DATABASE_URL=postgres://postgres@127.0.0.1:5432/smcbridge_bench"
            )
        return url
    # Never the developer's own SQLite file: a fresh one per run.
    return f"sqlite:///{workdir / 'bench.sqlite3'}"


def setup(workdir: Path) -> str:
    """Point Django at the benchmark database, set it up and return a one-line description."""
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = database_url(workdir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "smcbridge.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    broker = "Redis" if settings.REDIS_URL else "the ORM broker"
    return f"{connection.vendor} {connection.settings_dict['NAME']}, django-q2 on {broker}"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    if args.instructions:
        from bench.instructions import rerun_under_callgrind, under_callgrind

        if args.command != "pages":
            sys.exit("--instructions counts the pages only: python -m bench pages --instructions")
        if not under_callgrind():
            rerun_under_callgrind(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="smcbridge-bench-"))
    where = setup(workdir)
    cpus = os.cpu_count()
    print(f"smcbridge benchmarks on {where}; {cpus} CPUs; {args.rounds} interleaved rounds")
    if args.instructions:
        print("Figures are instructions counted by callgrind: the same from run to run.")
    else:
        print("Figures are wall time on a shared machine: compare ratios, not absolute numbers.")
    commands = COMMANDS if args.command == "all" else (args.command,)
    try:
        run(commands, args, workdir)
    finally:
        from django.db import connection

        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)  # the SQLite files, dlt's pipelines


def run(commands: tuple[str, ...], args: argparse.Namespace, workdir: Path) -> None:
    from django.core.management import call_command

    for command in commands:
        # Each benchmark starts from empty tables, whatever an earlier (or failed) run left.
        call_command("flush", interactive=False, verbosity=0)
        if command == "plans":
            from bench.plans import run_plans_bench

            run_plans_bench(args, workdir)
        elif command == "kpis":
            from bench.kpis import run_kpis_bench

            run_kpis_bench(args, workdir)
        elif command == "pages":
            from bench.pages import run_pages_bench

            run_pages_bench(args)
        elif command == "api":
            from bench.api import run_api_bench

            run_api_bench(args, workdir)
        elif command == "push":
            from bench.push import run_push_bench

            run_push_bench(args)


if __name__ == "__main__":
    main()
