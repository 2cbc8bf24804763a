"""`bench pages --instructions`: how it reads callgrind's dumps and which commands take it.

Under valgrind the command takes a minute even at tiny sizes, too long for the suite; what it
decides by itself is tested here, callgrind_control stood in for by a recorder.
"""

from __future__ import annotations

import pytest

from bench import instructions
from bench.__main__ import main


def test_only_the_pages_are_counted():
    with pytest.raises(SystemExit, match="counts the pages only"):
        main(["plans", "--instructions"])


def test_a_dump_is_read_by_its_name_and_each_only_once(tmp_path, monkeypatch):
    monkeypatch.setenv(instructions.DUMPS, str(tmp_path))
    counter = instructions.Counter()
    calls: list[str] = []
    dumps = iter(range(1, 10))

    def control(*args: str) -> None:
        calls.append(" ".join(args))
        if args[0].startswith("--dump="):
            name = args[0].removeprefix("--dump=")
            # As callgrind writes it: a file per dump, numbered, its trigger and its totals.
            path = tmp_path / f"out.{counter.pid}.{next(dumps)}"
            path.write_text(
                f"version: 1\ndesc: Trigger: dump {name}\nsummary: 0\ntotals: {len(name)}\n"
            )

    monkeypatch.setattr(counter, "_control", control)
    ran: list[str] = []

    assert counter.count("big-workbench", lambda: ran.append(calls[-1])) == len("big-workbench")
    # Counting was on while the work ran, and off before the dump.
    assert ran == ["--instr=on"]
    assert calls == ["--zero", "--instr=on", "--instr=off", "--dump=big-workbench"]
    # The next count reads its own dump, not the first again (a name that starts the same).
    assert counter.count("big-work", lambda: None) == len("big-work")


def test_a_dump_that_never_came_or_has_no_totals_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(instructions.DUMPS, str(tmp_path))
    counter = instructions.Counter()
    monkeypatch.setattr(counter, "_control", lambda *args: None)
    with pytest.raises(RuntimeError, match="no dump named 'audit'"):
        counter.count("audit", lambda: None)
    with pytest.raises(RuntimeError, match="without totals"):
        instructions._totals("desc: Trigger: dump audit\nsummary: 0\n")
