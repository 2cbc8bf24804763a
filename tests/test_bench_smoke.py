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

# The four run in one process (`python -m bench all`, which empties the tables before each):
# a process of its own per command spent a quarter of the time starting Python and migrating.
pytestmark = pytest.mark.xdist_group("bench-smoke")


@pytest.fixture(scope="module")
def bench_all(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    # A fresh SQLite file of the benchmark's own, whatever database the tests were given.
    tmp = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "DATABASE_URL": "", "REDIS_URL": "", "DEBUG": "1", "TMPDIR": str(tmp)}
    args = [arg for tiny, _ in TINY.values() for arg in tiny]
    return subprocess.run(
        [sys.executable, "-m", "bench", "all", "--rounds", "1", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("command", list(TINY))
def test_bench_command_prints_its_table(
    command: str, bench_all: subprocess.CompletedProcess[str]
) -> None:
    _, title = TINY[command]
    done = bench_all
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith(title))
    header, rule, first_row = lines[heading + 1 : heading + 4]
    assert "implementation" in header or header.startswith("page")
    assert set(rule) == {"-"}
    assert first_row.strip()
