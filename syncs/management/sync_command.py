"""The shape every sync command shares: progress bar, summary line, exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from syncs import registry
from syncs.models import SyncRun
from syncs.wording import plural


class SyncCommand(BaseCommand):
    """Run one kind's sync service now; subclasses name the kind and what it counts."""

    kind = ""
    unit = "items"

    def run_sync(self, on_progress: Callable[[SyncRun], None]) -> SyncRun:
        service = registry.get(self.kind).service
        return service(trigger=SyncRun.Trigger.COMMAND, on_progress=on_progress)

    def handle(self, *args: Any, **options: Any) -> None:
        show_bar = getattr(self.stdout, "isatty", lambda: False)()

        def progress(run: SyncRun) -> None:
            total = run.progress_total or 0
            if show_bar and total:
                filled = int(30 * run.progress_done / total)
                bar = f"[{'#' * filled}{'.' * (30 - filled)}]"
                sys.stdout.write(f"\r{bar} {run.progress_done}/{total} {self.unit}")
                sys.stdout.flush()
            elif options["verbosity"] >= 2:
                self.stdout.write(f"{run.progress_done}/{total} {self.unit}")

        run = self.run_sync(progress)
        if show_bar:
            sys.stdout.write("\n")
        summary = (
            f"Sync #{run.pk} {run.status}: {run.created_count} created, "
            f"{run.updated_count} updated, {run.unchanged_count} unchanged, "
            f"{run.removed_count} removed, {run.failed_count} failed; "
            f"{plural(run.http_requests, 'request', 'requests')}, "
            f"{plural(run.http_retries, 'retry', 'retries')}"
        )
        if run.duration_seconds is not None:
            summary += f", {run.duration_seconds:.1f} s"
        if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.SKIPPED):
            self.stdout.write(summary + (f" ({run.error})" if run.error else ""))
            return
        self.stderr.write(summary)
        raise CommandError(run.error or run.status)
