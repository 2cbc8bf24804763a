"""What every benchmark shares: counting SQL and rows, rounds, and the side-by-side table."""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# A write, or a write after a WITH clause (the call log's, which sets its own commit mode).
_WRITE = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT|UPDATE|DELETE)\b", re.IGNORECASE | re.DOTALL)


@dataclass
class Sample:
    """One measured run of one implementation."""

    seconds: float
    sql: int | None = None  # statements sent; None where we cannot see them (dlt's own driver)
    rows: int | None = None  # rows inserted, updated or deleted
    http: int | None = None  # HTTP requests made
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SqlCount:
    statements: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    captured: list[tuple[str, Any, bool]] = field(default_factory=list)


@contextmanager
def count_sql(*, capture: bool = False) -> Iterator[SqlCount]:
    """Count the statements Django's connection sends and the rows they write.

    Raw `connection.cursor()` calls go through the same wrapper, so the bare-SQL limits are
    counted exactly like the ORM. `rows_written` is the driver's rowcount of INSERT, UPDATE
    and DELETE (an upsert counts each row once, whether inserted or updated).
    """
    from django.db import connection

    counts = SqlCount()

    def wrapper(execute, sql, params, many, context):  # noqa: ANN001 - Django's wrapper API
        counts.statements += 1
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        counts.seconds += time.perf_counter() - started
        if _WRITE.match(sql):
            rowcount = getattr(context["cursor"], "rowcount", -1)
            if rowcount and rowcount > 0:
                counts.rows_written += rowcount
        if capture:
            counts.captured.append((sql, params, many))
        return result

    # SQLite's cursor has no rowcount for INSERT ... RETURNING (bulk_create) until its rows
    # are read: its own counter of changed rows is exact, so it is used instead.
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        connection.ensure_connection()
        changes_before = connection.connection.total_changes
    with connection.execute_wrapper(wrapper):
        yield counts
    if sqlite:
        counts.rows_written = connection.connection.total_changes - changes_before


def timed(func: Callable[[], Any]) -> tuple[Sample, Any]:
    """Run func once; its wall time, SQL statements and rows written."""
    with count_sql() as counts:
        started = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - started
    return Sample(seconds, counts.statements, counts.rows_written), result


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def fmt_seconds(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def fmt_int(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def ratio(value: float, base: float) -> str:
    if not base:
        return "n/a"
    return f"x{value / base:.2f}"


def summarize(samples: Sequence[Sample]) -> tuple[float, float]:
    """(minimum, median) seconds of the rounds."""
    seconds = [s.seconds for s in samples]
    return min(seconds), statistics.median(seconds)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = "".join(
            f"  {cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return first + rest

    print(f"\n{title}")
    print(line(header))
    print("-" * len(line(header)))
    for row in rows:
        print(line(row))
    print(flush=True)


def implementation_rows(
    scenarios: Sequence[str],
    implementations: Sequence[str],
    results: dict[tuple[str, str], list[Sample]],
    *,
    base: str,
) -> list[list[str]]:
    """One row per scenario and implementation: min, median, ratios to `base`, and counts.

    The ratio is implementation / base on the minimum (the least-disturbed round on a busy
    machine) and on the median; counts are those of the last round (they do not vary).
    """
    rows = []
    for scenario in scenarios:
        base_min, base_median = summarize(results[(scenario, base)])
        for name in implementations:
            samples = results.get((scenario, name))
            if not samples:
                continue
            low, median = summarize(samples)
            last = samples[-1]
            rows.append(
                [
                    scenario,
                    name,
                    fmt_seconds(low),
                    fmt_seconds(median),
                    ratio(low, base_min),
                    ratio(median, base_median),
                    fmt_int(last.http),
                    fmt_int(last.sql),
                    fmt_int(last.rows),
                ]
            )
    return rows


IMPLEMENTATION_HEADER = [
    "scenario",
    "implementation",
    "min",
    "median",
    "min ratio",
    "median ratio",
    "HTTP",
    "SQL",
    "rows written",
]
