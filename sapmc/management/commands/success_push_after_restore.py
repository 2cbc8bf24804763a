"""After a restore from a dump: hold every settled day the ledger does not know as unknown."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_q.brokers import get_broker

from sapmc.push import hold_after_restore
from sapmc.selectors import campaign_names
from syncs.models import SyncRun


class Command(BaseCommand):
    help = (
        "Run once after restoring the database from a dump, before the success push runs "
        "again: every settled Plan-day the restored ledger does not hold is recorded as of "
        "unknown outcome (a push after the dump may have created it in SAP MC, which would "
        "store it twice), to be settled per campaign by a sync admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dump",
            required=True,
            help='what the database was restored from, e.g. "the dump of 2026-12-02 03:00 UTC"',
        )
        parser.add_argument(
            "--purge-queue",
            action="store_true",
            help="also empty the task queue: tasks queued before the restore name runs the "
            "restored database does not have, or has under other numbers",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["purge_queue"]:
            broker = get_broker()
            queued = broker.queue_size()
            broker.purge_queue()
            self.stdout.write(f"Task queue emptied ({queued} task{'' if queued == 1 else 's'}).")
        run, held = hold_after_restore(restored_from=options["dump"].strip() or "a dump")
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}: {run.error}")
        names = campaign_names(held)
        total = sum(held.values())
        self.stdout.write(
            f"Run #{run.pk}: {total} settled day{'' if total == 1 else 's'} held as of unknown "
            f"outcome on {len(held)} campaign{'' if len(held) == 1 else 's'}; "
            f"{run.unchanged_count} already in the ledger."
        )
        for pk, rows in held.most_common():
            self.stdout.write(f"  {names.get(pk, f'#{pk}')}: {rows}")
        if total:
            self.stdout.write(
                "A sync admin settles them on each campaign's page (It is in SAP MC / Send again)."
            )
