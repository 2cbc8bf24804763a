"""Run one sync of every registered kind now: a deployment's first syncs (README "Deployment").

`setup_schedules` puts each kind's first scheduled run one interval away (Plans 30 min, SAP MC
campaigns 60, KPIs 4 h), since `make run` has synced just before (campaigns' demo_setup). A
deployment had not: every kind counted as never succeeded, the first alert check emailed each as
failing, /healthz answered 503 for hours and SAP MC's value help stayed empty. This is the step
that syncs them, the same services as the schedules and the sync commands.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from syncs import registry
from syncs.models import SyncRun
from syncs.registry import SyncKind
from syncs.runs import sync_request

# How a run may end without anything to fix.
FINE = (SyncRun.Status.SUCCEEDED, SyncRun.Status.SKIPPED)


def first_sync_kinds() -> tuple[list[SyncKind], dict[str, str]]:
    """The enabled kinds to run, in the order the apps registered them (Plans before their KPIs),
    and each kind left out because the engine requests it after another's success (the SAP MC
    success push after the KPI sync), with that kind's label."""
    enabled = [kind for kind in registry.kinds() if kind.is_enabled]
    followed = {
        follow_up: kind.label for kind in enabled for follow_up in registry.follow_ups(kind.value)
    }
    return [kind for kind in enabled if kind.value not in followed], followed


class Command(BaseCommand):
    help = (
        "Run one sync of every enabled kind now (a deployment's first syncs); "
        "--queue hands them to the worker instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Queue the runs for the worker (manage.py qcluster) and return at once, instead "
            "of running them here one after the other.",
        )

    def handle(self, *args: Any, queue: bool = False, **options: Any) -> None:
        kinds, followed = first_sync_kinds()
        not_fine = []
        for kind in kinds:
            if queue:
                run, queued = sync_request(kind=kind.value, trigger=SyncRun.Trigger.COMMAND)
                if run.status == SyncRun.Status.FAILED:
                    # The broker did not take its task (sync_request records why): no worker
                    # will run it, so it is not "queued".
                    self.stderr.write(f"{kind.label} sync #{run.pk} not started: {run.error}")
                    not_fine.append(kind.label)
                    continue
                verb = "queued" if queued else f"already {run.status}"
                self.stdout.write(f"{kind.label} sync #{run.pk} {verb}")
                continue
            self.stdout.write(f"{kind.label} sync ...")
            # One kind's failure (a refused credential) must not keep the others from running.
            run = kind.service(trigger=SyncRun.Trigger.COMMAND)
            line = (
                f"{kind.label} sync #{run.pk} {run.status}: {run.created_count} created, "
                f"{run.updated_count} updated, {run.unchanged_count} unchanged"
                + (f" ({run.error})" if run.error else "")
            )
            if run.status in FINE:
                self.stdout.write(line)
            else:
                self.stderr.write(line)
                not_fine.append(kind.label)
        for value, after in followed.items():
            self.stdout.write(
                f"{registry.kind_label(value)}: requested by the engine after the {after} sync "
                "succeeds (the worker runs it)"
            )
        if not_fine:
            raise CommandError(
                f"{', '.join(not_fine)} did not succeed: see the lines above and the sync "
                "history (/syncs/); each kind's schedule tries again at its interval."
            )
