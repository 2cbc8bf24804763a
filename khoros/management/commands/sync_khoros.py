"""Mirror Khoros Initiatives and Plans now, with a progress bar and a summary line."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from khoros import services
from khoros.models import SyncRun


class Command(BaseCommand):
    help = "Sync Khoros Initiatives and Plans into the mirror (same service as the schedule)."

    def handle(self, *args: Any, **options: Any) -> None:
        show_bar = self.stdout.isatty() if hasattr(self.stdout, "isatty") else False

        def progress(run: SyncRun) -> None:
            total = run.progress_total or 0
            if show_bar and total:
                filled = int(30 * run.progress_done / total)
                sys.stdout.write(
                    f"\r[{'#' * filled}{'.' * (30 - filled)}] "
                    f"{run.progress_done}/{total} Initiatives"
                )
                sys.stdout.flush()
            elif options["verbosity"] >= 2:
                self.stdout.write(f"{run.progress_done}/{total} Initiatives")

        run = services.sync_khoros(trigger=SyncRun.Trigger.COMMAND, on_progress=progress)
        if show_bar:
            sys.stdout.write("\n")
        summary = (
            f"Sync #{run.pk} {run.status}: {run.created_count} created, "
            f"{run.updated_count} updated, "
            f"{run.unchanged_count} unchanged, {run.removed_count} removed, "
            f"{run.failed_count} failed; {run.http_requests} requests, {run.http_retries} retries"
        )
        if run.duration_seconds is not None:
            summary += f", {run.duration_seconds:.1f} s"
        if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.SKIPPED):
            self.stdout.write(summary + (f" ({run.error})" if run.error else ""))
            return
        self.stderr.write(summary)
        raise CommandError(run.error or run.status)
