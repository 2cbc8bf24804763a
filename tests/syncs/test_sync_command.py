"""The summary line every sync command prints reads as English whatever its counts."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest

from syncs.management.sync_command import SyncCommand
from syncs.models import SyncRun


class _Finished(SyncCommand):
    """A command whose run has already happened: only its summary line is under test."""

    def __init__(self, run: SyncRun) -> None:
        super().__init__(stdout=StringIO(), stderr=StringIO())
        self.finished = run

    def run_sync(self, on_progress: Callable[[SyncRun], None]) -> SyncRun:
        return self.finished


def summary(*, requests: int, retries: int) -> str:
    run = SyncRun(pk=7, status=SyncRun.Status.SUCCEEDED, created_count=1)
    run.http_requests, run.http_retries = requests, retries
    command = _Finished(run)
    command.handle(verbosity=1)
    return command.stdout._out.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("requests", "retries", "said"),
    [
        (1, 1, "; 1 request, 1 retry"),
        (1, 0, "; 1 request, 0 retries"),
        (2, 3, "; 2 requests, 3 retries"),
    ],
)
def test_the_summary_counts_requests_and_retries_in_words_that_agree(requests, retries, said):
    line = summary(requests=requests, retries=retries)
    assert line.startswith("Sync #7 succeeded: 1 created, 0 updated")
    assert said in line
