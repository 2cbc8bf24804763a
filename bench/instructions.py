"""Instructions per request of each page, counted by valgrind's callgrind: `bench pages
--instructions`.

Wall and CPU time of a page moved by 20-40% between two runs of the same code on the shared
machines these benchmarks run on (steal time, changing clock rates), more than most changes
to a page. An instruction count is the same from run to run (the admin's change list, which a
change to the product's pages does not touch, counted within 0.03% twice), so a before and after
of a few percent can be told apart. It counts this process only (on SQLite: the SQL too; on
PostgreSQL: not the server's side) and says nothing of memory stalls; it is the figure to compare
two versions with, not a speed.

The command runs itself again under `valgrind --tool=callgrind` with instrumentation off, builds
each data set at about a quarter of normal speed, and switches counting on around the measured
requests only (`callgrind_control`), so one run takes minutes, not hours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# Set by the run under valgrind: where callgrind writes its dumps.
DUMPS = "SMCBRIDGE_BENCH_CALLGRIND_DIR"


def under_callgrind() -> bool:
    return bool(os.environ.get(DUMPS))


def rerun_under_callgrind(argv: list[str]) -> None:
    """Replace this process by the same command under callgrind, counting switched off."""
    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        sys.exit("--instructions needs valgrind (Debian's package valgrind)")
    import tempfile

    dumps = tempfile.mkdtemp(prefix="smcbridge-callgrind-")
    os.environ[DUMPS] = dumps
    os.execv(
        valgrind,
        [
            valgrind, "--tool=callgrind", "--instr-atstart=no", "--quiet",
            f"--callgrind-out-file={dumps}/out.%p", sys.executable, "-m", "bench", *argv,
        ],
    )  # fmt: skip


class Counter:
    """Counts the instructions of a piece of work run under callgrind."""

    def __init__(self) -> None:
        self.dumps = Path(os.environ[DUMPS])
        self.pid = str(os.getpid())  # under valgrind the program keeps valgrind's process
        self._seen: set[Path] = set()

    def _control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, self.pid], check=True, capture_output=True)

    def count(self, name: str, work: Callable[[], object]) -> int:
        """Run `work()` with counting on; return the instructions it took. `name`: one word."""
        self._control("--zero")
        self._control("--instr=on")
        try:
            work()
        finally:
            self._control("--instr=off")
        self._control(f"--dump={name}")
        for path in sorted(self.dumps.glob(f"out.{self.pid}.*")):
            if path in self._seen:
                continue
            self._seen.add(path)
            text = path.read_text(errors="replace")
            if f"desc: Trigger: dump {name}\n" in text:
                return _totals(text)
        raise RuntimeError(f"callgrind wrote no dump named {name!r} in {self.dumps}")


def _totals(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError("a callgrind dump without totals")
