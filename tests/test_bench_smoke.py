"""Each benchmark command still runs and prints its table (tiny sizes; no figures checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TINY = {
    "plans": (["--initiatives", "2", "--plans-per-initiative", "3"], "1. Plan sync"),
    "kpis": (["--rows", "300", "--kpi-plans", "20"], "2. KPI ingest"),
    "pages": (["--campaigns", "10", "--page-plans", "30", "--repeat", "1"], "3. Pages"),
    "api": (["--seconds", "0.3", "--clients", "2", "--workers", "1"], "4. Inbound API"),
    "push": (["--push-plans", "3", "--push-days", "2"], "5. Success push"),
}


@pytest.mark.parametrize("command", list(TINY))
def test_bench_command_prints_its_table(command: str, tmp_path: Path) -> None:
    args, title = TINY[command]
    # A fresh SQLite file of the benchmark's own, whatever database the tests were given.
    env = {**os.environ, "DATABASE_URL": "", "REDIS_URL": "", "DEBUG": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", command, "--rounds", "1", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith(title))
    header, rule, first_row = lines[heading + 1 : heading + 4]
    assert "implementation" in header or header.startswith("page")
    assert set(rule) == {"-"}
    assert first_row.strip()
