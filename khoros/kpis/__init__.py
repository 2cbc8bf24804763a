"""The Khoros KPI sync: analytics exports in, daily totals per Plan (PlanKpi) out.

Khoros has no "KPIs of plan X" endpoint: the bridge asks for a posts export (one CSV row per
published post: post id, Plan id, publication time and the metrics, asked for by field id and read
by position, as the spec returns them), waits for it, streams it and sums the rows per Plan and
per calendar day in the company time zone. A download counts only when it is a CSV with the
header asked for and complete as far as the format tells (final line break, MD5 ETag); a row
that cannot be read fails alone and is counted. Contract: docs/khoros-api.md, "Analytics
export". Windows:

- A Plan whose history was never pulled (in this zone, with these field ids) gets a "history"
  export from its first day to today.
- Every other live Plan gets a "trailing" export of the last KHOROS_KPI_TRAILING_DAYS days, pulled
  again on every run because likes and views keep arriving after a post is published. After an
  outage the window reaches back to cover the days missed since the last downloaded export.

Each export covers at most PLANS_PER_EXPORT Plans, is recorded in KpiExport before and while
Khoros works on it (a restarted run polls it instead of asking again) and is written in one
transaction once its CSV has been read to the end; a failed export writes nothing.

Modules, one concern each: `export_csv` reads an export's table (columns, rows, completeness),
`planning` decides which exports a run asks for, `write` stores the sums, `sync` runs it all
(the work registered in khoros/sync_kinds.py); an export's state changes are KpiExport's methods.
"""

from khoros.kpi_catalog import EXPORT_KPIS as KPI_NAMES
from khoros.kpi_catalog import METRICS
from khoros.kpis.export_csv import (
    BAD_ROWS_SHOWN,
    Columns,
    ExportError,
    KpiSums,
    export_fields,
    parse_count,
    parse_post_day,
    requested_order,
    resolve_columns,
)
from khoros.kpis.planning import PLANS_PER_EXPORT, ExportSpec
from khoros.kpis.sync import sync_khoros_kpis
from khoros.kpis.write import WriteCounts, kpis_write

__all__ = [
    "BAD_ROWS_SHOWN",
    "KPI_NAMES",
    "METRICS",
    "PLANS_PER_EXPORT",
    "Columns",
    "ExportError",
    "ExportSpec",
    "KpiSums",
    "WriteCounts",
    "export_fields",
    "kpis_write",
    "parse_count",
    "parse_post_day",
    "requested_order",
    "resolve_columns",
    "sync_khoros_kpis",
]
