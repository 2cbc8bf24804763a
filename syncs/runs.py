"""The life of a SyncRun, shared by every sync kind: request, run under the lease, finish.

SyncRunner is the one entry point that runs a kind's work (netbox's JobRunner is the model): it
claims the run, takes the lease, builds the kind's client, calls the work and records how it
ended; a crash or a lost lease ends the run, never hangs it. State changes are SyncRun methods.
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from smcbridge.outgoing_http import HttpClient
from syncs import registry
from syncs.models import (
    BROKER_REFUSED_ERROR,
    COUNT_FIELDS,
    QUEUE_LOST_ERROR,
    HttpStats,
    LeaseLostError,
    SyncRun,
)
from syncs.registry import SYNC_TASK, redact
from syncs.schedules import schedule_is_off

logger = logging.getLogger(__name__)

__all__ = [
    "BROKER_REFUSED_ERROR",
    "COUNT_FIELDS",
    "HttpStats",
    "LeaseLostError",
    "SyncRunner",
    "error_text",
    "redact",
    "run_abandoned",
    "run_checkpoint",
    "run_finish",
    "run_step_done",
    "run_stopped",
    "sync_request",
    "take_over_stopped_runs",
]


def error_text(exc: Exception, *, with_path: bool = True) -> str:
    """Describe a client error for a run's record: its kind, message and failing request."""
    path, status = getattr(exc, "path", None), getattr(exc, "status", None)
    method = getattr(exc, "method", None)
    where = ""
    if with_path and path:
        request = f"{method} {path}" if method else path
        where = f" ({request}, HTTP {status})" if status else f" ({request}, no answer)"
    return f"{type(exc).__name__}: {exc}{where}"


# The services' checkpoints, in the words they use; each is one SyncRun method.
def run_checkpoint(
    run: SyncRun, stats: HttpStats, fields: list[str], *, heartbeat: bool = False
) -> None:
    run.checkpoint(stats, fields, heartbeat=heartbeat)


def run_step_done(run: SyncRun, stats: HttpStats, *, steps: int = 1) -> None:
    run.step_done(stats, steps=steps)


def run_finish(run: SyncRun, status: str, error: str = "") -> SyncRun:
    return run.finish(status, error)


def run_stopped(
    run: SyncRun, stats: HttpStats, error: str, *, throttled: bool, fields: list[str] | None = None
) -> SyncRun:
    """End a run an upstream error stopped: save its progress, then finish it DEFERRED when the
    API throttled us (the next run resumes; hammering it only makes it worse), else FAILED."""
    run.checkpoint(stats, fields or [])
    return run.finish(SyncRun.Status.DEFERRED if throttled else SyncRun.Status.FAILED, error)


def sync_request(
    *, kind: str, trigger: str, requested_by: User | None = None
) -> tuple[SyncRun, bool]:
    """Queue a run of `kind` unless a live one is queued or running; return (run, queued).

    A running run whose lease expired is not live: its worker died. It is recorded as failed and
    a new run is queued in its place, whoever asks (button, Run again, SAP MC, schedule, the
    takeover schedule). So is a run still queued after the queue window: its task was lost (a
    worker killed before it started the run, a flushed Redis); if the task turns up after all
    (the ORM broker redelivers one), it does nothing. Redis does not redeliver a task whose
    worker died: only such a request ends its run.

    When the broker does not take the new run's task, the run is returned already failed
    (BROKER_REFUSED_ERROR, the reason in its error) and the next request queues another: left
    queued, it stood for a task that did not exist.
    """
    registry.get(kind)  # KeyError for a kind no app registered
    now = timezone.now()
    with transaction.atomic():
        _one_request_at_a_time(kind)
        pending = (
            SyncRun.objects.filter(kind=kind, status__in=SyncRun.ACTIVE)
            .order_by("-queued_at")
            .first()
        )
        if pending is not None and not run_abandoned(pending, now):
            return pending, False
        lost = pending is not None and pending.status == SyncRun.Status.QUEUED
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(kind=kind, trigger=trigger, requested_by=requested_by)
                if pending is not None and not _record_replaced(pending, run, now, lost=lost):
                    raise _StillAlive
        except _StillAlive:
            assert pending is not None
            # Its worker renewed the lease (or started the lost task) a moment ago: reuse it.
            pending.refresh_from_db()
            return pending, False
        # After commit: a worker must never pick up a run id that is not in the database yet.
        transaction.on_commit(functools.partial(_hand_to_broker, run))
    return run, True


def run_abandoned(run: SyncRun, now: datetime | None = None) -> bool:
    """Queued or running, but nobody works on it: running on an expired lease (its worker
    died) or still queued after the queue window (its task was lost). Whoever asks next for its
    kind records it failed and queues a run in its place (sync_request)."""
    now = now or timezone.now()
    if run.status == SyncRun.Status.QUEUED:
        return run.queued_at < now - _queue_window()
    return run.status == SyncRun.Status.RUNNING and not run.lease_is_live(now)


def take_over_stopped_runs() -> list[SyncRun]:
    """Ask for each kind whose run nobody works on any more; return the runs queued instead.

    With Redis a task whose worker was killed is gone for good, and nothing else asked for its
    kind until a person's button, a new SAP MC report or the next firing of the kind's schedule
    (hours for the KPIs). A schedule runs this every few minutes: it is the next to ask. The
    run it queues is the engine's own request made after another run, as a follow-up is (a
    scheduled one would be taken for a firing's run by a late copy of that firing's task).
    """
    now = timezone.now()
    stopped = SyncRun.objects.filter(
        Q(status=SyncRun.Status.RUNNING)
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        | Q(status=SyncRun.Status.QUEUED, queued_at__lt=now - _queue_window())
    )
    kinds = set(stopped.values_list("kind", flat=True))
    queued = []
    for kind in registry.kinds():
        if kind.value not in kinds:
            continue
        run, new = sync_request(kind=kind.value, trigger=SyncRun.Trigger.FOLLOW_UP)
        if new:
            logger.warning("%s: a stopped run was taken over by #%s", kind.value, run.pk)
            queued.append(run)
    return queued


def _hand_to_broker(run: SyncRun) -> None:
    """Give the run's task to the broker; one that does not take it ends the run failed.

    Redis down at that moment made the button and SAP MC's call a 500 after the run was
    committed, and the run stayed queued with no task behind it: every request reused it
    ("already queued") until the queue window passed, and a report waited on it for hours.
    """
    try:
        async_task(SYNC_TASK, run.kind, run.pk, task_name=f"{run.kind}-{run.pk}")
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised, it holds no task
        reason = _without_connection_secrets(f"{type(exc).__name__}: {exc}")
        logger.error("sync %s #%s not started: the task broker refused it: %s", run.kind, run.pk,
                     reason)  # fmt: skip
        try:
            run.finish(
                SyncRun.Status.FAILED,
                f"{BROKER_REFUSED_ERROR} ({reason}). The next request queues a new run.",
            )
        except LeaseLostError:
            run.refresh_from_db()  # ended meanwhile (replaced as lost): that record stands
        except DatabaseError:
            # The database is down too: the run stays queued until the queue window passes,
            # then counts as lost and is replaced.
            logger.exception("could not record that sync %s #%s was not started", run.kind,
                             run.pk)  # fmt: skip


def _without_connection_secrets(text: str) -> str:
    """`text` without the broker's and the databases' passwords (a client error may quote its
    URL); the registered secrets are removed when the run's error is stored (SyncRun.finish)."""
    secrets = []
    redis_url = getattr(settings, "REDIS_URL", "") or ""
    if redis_url:
        password = urlsplit(redis_url).password
        if password:
            secrets += [password, unquote(password)]
    secrets += [str(db.get("PASSWORD")) for db in settings.DATABASES.values() if db.get("PASSWORD")]
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def _one_request_at_a_time(kind: str) -> None:
    """Make requests for `kind` wait for each other until the end of the transaction.

    Two presses of Sync now at the same moment (two admins, a second window) both found no run
    pending and queued one each: two runs of one kind, the second skipped or run twice. Nothing
    is locked while no run exists, so PostgreSQL takes a lock on the kind itself; SQLite's
    IMMEDIATE transactions already let one writer in at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            key = zlib.crc32(f"syncs.sync_request:{kind}".encode())
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


class _StillAlive(Exception):
    """The run a request would replace turned out alive: undo the replacement."""


def _record_replaced(pending: SyncRun, run: SyncRun, now: datetime, *, lost: bool) -> bool:
    """Record `pending` as dead, replaced by `run`; False when it proved alive meanwhile.

    Conditional, like the start of a run: a worker that was only slow and renewed its lease
    keeps its run, and a lost task that started after all is not marked dead.
    """
    if lost:
        minutes = round(_queue_window().total_seconds() / 60)
        return pending.mark_dead(
            taken_over_by=run,
            error=f"{QUEUE_LOST_ERROR} within {minutes} minutes; run #{run.pk} replaced it.",
            queued_only=True,
        )
    return pending.mark_dead(taken_over_by=run, expired_at=now)


def _queue_window() -> timedelta:
    """How long a queued task may wait: after django-q2's `retry` it counts as lost."""
    return timedelta(seconds=int(settings.Q_CLUSTER.get("retry", 2100)))


class SyncRunner:
    """Runs one kind's work: start (lease), client, work, finish; records whatever happens."""

    def __init__(self, kind: str) -> None:
        self.kind = registry.get(kind)

    def run(
        self,
        *,
        work: Callable[[SyncRun, Any], SyncRun],
        run: SyncRun | None = None,
        trigger: str = SyncRun.Trigger.COMMAND,
        requested_by: User | None = None,
        client: Any | None = None,
    ) -> SyncRun:
        """Run `work(run, client)` under the kind's lease, with the given client or a built one."""
        if run is None:
            run, started = SyncRun.begin(
                kind=self.kind.value, trigger=trigger, requested_by=requested_by
            )
            if not started:
                return run
        elif run.is_finished:
            return run  # A duplicated or redelivered task for a run that already ended.
        elif not run.start():
            return run
        try:
            try:
                own = client or self.kind.client_factory()
            except Exception as exc:  # noqa: BLE001 - a configuration error ends the run clearly
                return _end(
                    run,
                    SyncRun.Status.FAILED,
                    f"{self.kind.system} client could not be set up: {exc}",
                )
            # The run's heartbeat between a request's attempts (saved when one is due): retries
            # that outlast the lease must not get a live run taken over as stopped.
            http = own if isinstance(own, HttpClient) else None
            if http is not None:
                kept, http.between_attempts = (
                    http.between_attempts,
                    functools.partial(run.checkpoint, http.stats),
                )
            try:
                run = work(run, own)
            finally:
                if http is not None:
                    http.between_attempts = kept
                if client is None:
                    own.close()
        except LeaseLostError:
            return run.stop_lease_lost()
        except Exception as exc:
            logger.exception("sync %s #%s crashed", run.kind, run.pk)
            return _end_after_crash(run, exc)
        if run.status == SyncRun.Status.SUCCEEDED:
            self._request_follow_ups(run)
        return run

    def _request_follow_ups(self, run: SyncRun) -> None:
        """Queue the kinds declared to follow this one (registry.register_follow_up)."""
        for kind in registry.follow_ups(self.kind.value):
            if schedule_is_off(kind):
                # Paused on the Schedules page: it runs only by hand, as its header says (a
                # push paused while rows of unknown outcome wait ran after every KPI sync).
                logger.info("%s #%s succeeded: %s not queued, its schedule is off", run.kind,
                            run.pk, kind)  # fmt: skip
                continue
            try:
                follow, queued = sync_request(kind=kind, trigger=SyncRun.Trigger.FOLLOW_UP)
            except Exception:  # noqa: BLE001 - the run succeeded; a queue problem must not undo it
                logger.exception("could not queue %s after %s #%s", kind, run.kind, run.pk)
                continue
            logger.info(
                "%s #%s succeeded: %s #%s %s", run.kind, run.pk, kind, follow.pk,
                "queued" if queued else "already pending",
            )  # fmt: skip


def _end(run: SyncRun, status: str, error: str) -> SyncRun:
    """End a run outside its work; one taken over meanwhile is recorded as having lost it."""
    try:
        return run.finish(status, error)
    except LeaseLostError:
        return run.stop_lease_lost()


def _end_after_crash(run: SyncRun, exc: Exception) -> SyncRun:
    """Record a crashed run as failed, on a fresh connection when the crash broke the one it had.

    A connection the database dropped mid-run (a restart, pg_terminate_backend) failed the
    record too: the run stayed "running" with no error until its lease expired. If even a new
    connection cannot record it, the log says so and the lease's expiry ends the run.
    """
    error = f"Unexpected error: {type(exc).__name__}: {exc}"
    if isinstance(exc, OperationalError | InterfaceError):
        _drop_broken_connection()
    # finish() takes the progress noted since the last save with it: kept for the second try.
    pending = set(getattr(run, "_pending", set()))
    for attempt in (1, 2):
        try:
            return _end(run, SyncRun.Status.FAILED, error)
        except DatabaseError as failed:
            # Broken without saying so first (SQLite's closed file, a dead socket): once more.
            if attempt == 1 and _drop_broken_connection(force=True):
                run._pending = pending
                continue
            logger.error(
                "could not record the crash of sync %s #%s; it ends when its lease expires, "
                "taken over by whoever asks next", run.kind, run.pk, exc_info=failed,
            )  # fmt: skip
            break
    return run


def _drop_broken_connection(*, force: bool = False) -> bool:
    """Close this thread's connection when it no longer works (or with `force`), so that the
    next query opens a new one; False inside a transaction, whose connection is not ours."""
    if connection.in_atomic_block:
        return False
    if force or not connection.is_usable():
        connection.close()
    return True


ProgressFn = Callable[[SyncRun], None]
ClientT = TypeVar("ClientT")
ClientT_contra = TypeVar("ClientT_contra", contravariant=True)


class SyncEntry(Protocol[ClientT_contra]):
    """The entry point of a kind: what the registry, the task, the command and the tests call."""

    def __call__(
        self,
        *,
        run: SyncRun | None = None,
        trigger: str = SyncRun.Trigger.COMMAND,
        requested_by: User | None = None,
        client: ClientT_contra | None = None,
        on_progress: ProgressFn | None = None,
    ) -> SyncRun: ...


def sync_entry(
    kind: str,
) -> Callable[[Callable[[SyncRun, ClientT, ProgressFn | None], SyncRun]], SyncEntry[ClientT]]:
    """Make a kind's work, `work(run, client, on_progress)`, its entry point run by SyncRunner.

    The kinds' entry points differed only in the kind and the work; this keeps one copy of the
    signature every caller uses (run=, trigger=, requested_by=, client=, on_progress=).
    """

    def decorate(
        work: Callable[[SyncRun, ClientT, ProgressFn | None], SyncRun],
    ) -> SyncEntry[ClientT]:
        @functools.wraps(work)
        def entry(*, on_progress: ProgressFn | None = None, **given: Any) -> SyncRun:
            # given: run, trigger, requested_by, client (typed by SyncEntry for the callers).
            return SyncRunner(kind).run(
                work=lambda run, client: work(run, client, on_progress), **given
            )

        return entry

    return decorate
