"""Install the declared django-q2 schedules; safe to run at every start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from smcbridge.schedules import declared_schedules


class Command(BaseCommand):
    help = "Create or update the background schedules (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-intervals",
            action="store_true",
            help="Also reset intervals an admin changed back to the configured ones.",
        )

    @transaction.atomic
    def handle(self, *args: Any, reset_intervals: bool = False, **options: Any) -> None:
        for spec in declared_schedules():
            schedule, created = Schedule.objects.get_or_create(
                name=spec.name,
                defaults={
                    "func": spec.func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": spec.minutes,
                    "repeats": -1,
                    # The first run is due one interval from now: `make run` has just synced.
                    "next_run": timezone.now() + timedelta(minutes=spec.minutes),
                },
            )
            if not created:
                # Keep an admin's interval and on/off choice unless asked; fix only the target.
                schedule.func = spec.func
                schedule.schedule_type = Schedule.MINUTES
                if reset_intervals:
                    schedule.minutes = spec.minutes
                schedule.save()
            verb = "created" if created else "kept"
            self.stdout.write(f"{verb} schedule {spec.name!r}: every {schedule.minutes} min")
