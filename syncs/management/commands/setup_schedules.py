"""Install the declared django-q2 schedules; safe to run at every start."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from syncs.schedules import setup_schedules


class Command(BaseCommand):
    help = "Create or update the background schedules (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-intervals",
            action="store_true",
            help="Also reset intervals an admin changed back to the configured ones.",
        )

    def handle(self, *args: Any, reset_intervals: bool = False, **options: Any) -> None:
        setup_schedules(reset_intervals=reset_intervals, report=self.stdout.write)
