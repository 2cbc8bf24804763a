"""The django-q2 tasks of the engine: thin, they take a kind and an id and call one service."""

from __future__ import annotations

from datetime import datetime

from syncs import registry
from syncs.models import SyncRun
from syncs.runs import take_over_stopped_runs
from syncs.schedules import FIRED_FOR, schedule_is_off


def sync_task(kind: str, run_id: int | None = None, **scheduled: str) -> str:
    """Run the service of `kind`; the button passes its queued run, a schedule the time it was
    due (its `fired_for`), which names the run of that firing once there is one."""
    if run_id is None and schedule_is_off(kind):
        # Queued by its schedule before a sync admin switched it off, and picked up after: "off"
        # means no scheduled run (a run someone asked for carries its id and still runs).
        return f"{kind}: its schedule is off; not run"
    if run_id is None and FIRED_FOR in scheduled:
        # The ORM broker redelivers a task whose worker died (Redis does not: the takeover
        # schedule asks for its kind instead): the run that firing began is finished (nothing
        # to do) or still running on an expired lease (taken over and carried on).
        run = _run_of_firing(kind, datetime.fromisoformat(scheduled[FIRED_FOR]))
    else:
        run = SyncRun.objects.filter(pk=run_id).first() if run_id is not None else None
        if run_id is not None and run is None:
            return f"run #{run_id} no longer exists"
        if run is not None and run.kind != kind:
            # A task older than the database (restored from a dump) names a number another
            # kind's run has now: running it would run the wrong sync on that run's record.
            return f"run #{run.pk} is a {run.kind} run, not {kind}: not run"
    if run is not None and run.is_finished:
        # Redelivered by the ORM broker after the run ended (or was taken over): nothing to do.
        return f"run #{run.pk} already ended ({run.status})"
    run = registry.get(kind).service(run=run, trigger=SyncRun.Trigger.SCHEDULE)
    return f"run #{run.pk} {run.status}"


def _run_of_firing(kind: str, due: datetime) -> SyncRun | None:
    """The first scheduled run recorded since the firing due at `due`; None at its first try.

    Any scheduled run since then stands for this firing: its own, or one of a later firing
    (this copy is then stale and that run did its work).
    """
    return (
        SyncRun.objects.filter(kind=kind, trigger=SyncRun.Trigger.SCHEDULE, queued_at__gte=due)
        .order_by("queued_at")
        .first()
    )


def take_over_stopped_runs_task() -> str:
    """Queue a run in place of each run nobody works on any more (its worker died, its task
    was lost): with Redis nothing else would until someone asks for its kind."""
    queued = take_over_stopped_runs()
    if not queued:
        return "no stopped run"
    return ", ".join(f"{run.kind} #{run.pk} queued in place of a stopped run" for run in queued)


def check_alerts_task() -> str:
    """Send the alert and recovery emails that are due."""
    from syncs.alerts import alerts_check

    sent = alerts_check()
    emailed = sum(1 for alert in sent if alert.emailed)
    return f"{len(sent)} alert(s), {emailed} email(s) sent"


def housekeeping_task() -> str:
    """Run every app's pruning (the "Housekeeping" schedule); what each deleted."""
    from syncs.housekeeping import housekeeping, summary

    return summary(housekeeping()) or "nothing to prune"
