"""The background schedules: one per registered sync kind, the alert check, housekeeping.

Declared here from the registry (intervals from each kind's setting) and installed by
`setup_schedules` (`manage.py setup_schedules`), which keeps an admin's interval and on/off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from syncs import registry
from syncs.models import AlertState
from syncs.registry import SYNC_TASK

ALERTS_MINUTES = 5
# How often a run whose worker died (its lease expired) or whose task was lost is taken over:
# Redis does not redeliver a killed worker's task, and the kind's own schedule may be hours away.
TAKEOVER_MINUTES = 2
# The keyword django-q2 passes a sync kind's task with the time its firing was due
# (Schedule.intended_date_kwarg): a redelivered copy of the task knows which run is its own.
FIRED_FOR = "fired_for"


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int
    # The arguments django-q2 passes, as it stores them (a Python literal); "" for none.
    args: str = ""
    kind: str = ""


def declared_schedules() -> list[ScheduleSpec]:
    """Every schedule the bridge runs, with intervals from settings."""
    specs = [
        ScheduleSpec(
            name=kind.label,
            func=SYNC_TASK,
            minutes=getattr(settings, kind.interval_setting),
            args=repr((kind.value,)),
            kind=kind.value,
        )
        for kind in registry.kinds()
    ]
    specs.append(ScheduleSpec("Alerts", "syncs.tasks.check_alerts_task", ALERTS_MINUTES))
    specs.append(
        ScheduleSpec("Stopped runs", "syncs.tasks.take_over_stopped_runs_task", TAKEOVER_MINUTES)
    )
    # Every app's pruning (syncs.register_pruner), one after the other: docs/retention.md.
    specs.append(
        ScheduleSpec("Housekeeping", "syncs.tasks.housekeeping_task", settings.HOUSEKEEPING_MINUTES)
    )
    specs.extend(
        ScheduleSpec(m.name, m.func, getattr(settings, m.interval_setting))
        for m in registry.maintenance_schedules()
    )
    return specs


def schedule_is_off(kind: str) -> bool:
    """Whether `kind`'s installed schedule is switched off (the Schedules page's "off": django-q2
    never starts a schedule whose repeats is 0). Not installed is not off."""
    name = next((s.name for s in declared_schedules() if s.kind == kind), None)
    return name is not None and Schedule.objects.filter(name=name, repeats=0).exists()


def schedule_switched_on(schedule: Schedule) -> None:
    """Record that a sync admin switched `schedule` back on now: its kind's health counts from
    here (syncs.health), since nothing ran it while it was off."""
    kind = schedule_kinds().get(schedule.name)
    if kind:
        AlertState.objects.update_or_create(kind=kind, defaults={"switched_on_at": timezone.now()})


def schedule_kinds() -> dict[str, str]:
    """Schedule name -> the sync kind it runs, for the scheduled kinds."""
    return {spec.name: spec.kind for spec in declared_schedules() if spec.kind}


@transaction.atomic
def setup_schedules(
    *, reset_intervals: bool = False, report: Callable[[str], None] | None = None
) -> list[Schedule]:
    """Create or update the declared schedules (idempotent); keep an admin's choices."""
    installed = []
    for spec in declared_schedules():
        schedule, created = Schedule.objects.get_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "args": spec.args or None,
                "schedule_type": Schedule.MINUTES,
                "minutes": spec.minutes,
                "repeats": -1,
                "intended_date_kwarg": FIRED_FOR if spec.kind else None,
                # The first run is due one interval from now: `make run` has just synced.
                "next_run": timezone.now() + timedelta(minutes=spec.minutes),
            },
        )
        if not created:
            # Keep an admin's interval and on/off choice unless asked; fix only the target.
            schedule.func = spec.func
            schedule.args = spec.args or None
            schedule.schedule_type = Schedule.MINUTES
            schedule.intended_date_kwarg = FIRED_FOR if spec.kind else None
            if reset_intervals:
                schedule.minutes = spec.minutes
            schedule.save()
        installed.append(schedule)
        if report is not None:
            verb = "created" if created else "kept"
            report(f"{verb} schedule {spec.name!r}: every {schedule.minutes} min")
    return installed
