"""The KPI benchmark's memory figure is the ingest's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys

from bench.kpi_worker import _rss_mib


def test_a_worker_reports_its_own_peak_not_the_parent_it_was_started_from():
    parent = bytearray(200 * 1024 * 1024)  # 200 MiB this process holds while the child starts
    parent[::4096] = b"\1" * len(parent[::4096])
    assert _rss_mib() > 200
    child = subprocess.run(
        [sys.executable, "-c", "from bench.kpi_worker import _rss_mib; print(_rss_mib())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    # ru_maxrss, kept across fork and exec, said more than 200 here.
    assert 1 < float(child.stdout) < 100
