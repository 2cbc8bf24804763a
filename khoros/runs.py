"""The life of a SyncRun, shared by every sync kind: lease, heartbeat, checkpoint, finish."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from khoros.leases import lease_acquire, lease_release, lease_renew
from khoros.models import SyncRun

logger = logging.getLogger(__name__)

COUNT_FIELDS = [
    "created_count",
    "updated_count",
    "unchanged_count",
    "removed_count",
    "failed_count",
    "progress_done",
    "progress_total",
    "outcomes",
]


class HttpStats(Protocol):
    requests: int
    retries: int


class LeaseLostError(Exception):
    """Another run took this run's lease: stop writing at once."""


def error_text(exc: Exception, *, with_path: bool = True) -> str:
    """Describe a client error for a run's record: its kind, message and failing request."""
    path, status = getattr(exc, "path", None), getattr(exc, "status", None)
    method = getattr(exc, "method", None)
    where = ""
    if with_path and path:
        request = f"{method} {path}" if method else path
        where = f" ({request}, HTTP {status})" if status else f" ({request}, no answer)"
    return f"{type(exc).__name__}: {exc}{where}"


def redact(text: str) -> str:
    """Remove every configured secret from a text before it is stored or shown."""
    for name in ("KHOROS_TOKEN", "SAPMC_PASSWORD", "SAPMC_INBOUND_PASSWORD"):
        secret = getattr(settings, name, "")
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def sync_request(
    *, kind: str, trigger: str, requested_by: AbstractBaseUser | None = None
) -> tuple[SyncRun, bool]:
    """Queue a run of `kind` unless one is already queued or running; return (run, queued)."""
    from smcbridge.schedules import SYNC_TASKS

    task = SYNC_TASKS[kind]
    with transaction.atomic():
        pending = (
            SyncRun.objects.filter(
                kind=kind, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
            )
            .order_by("-queued_at")
            .first()
        )
        if pending is not None:
            return pending, False
        run = SyncRun.objects.create(kind=kind, trigger=trigger, requested_by=requested_by)
        # After commit: a worker must never pick up a run id that is not in the database yet.
        transaction.on_commit(lambda: async_task(task, run.pk, task_name=f"{kind}-{run.pk}"))
    return run, True


def run_checkpoint(run: SyncRun, stats: HttpStats, fields: list[str]) -> None:
    """Save the run's progress; the heartbeat goes with it."""
    run.heartbeat_at = timezone.now()
    run.http_requests = stats.requests
    run.http_retries = stats.retries
    run.save(update_fields=[*fields, "heartbeat_at", "http_requests", "http_retries"])


def run_step_done(run: SyncRun, stats: HttpStats, *, steps: int = 1) -> None:
    """Count finished items, renew the lease and save the counts."""
    run.progress_done += steps
    if not lease_renew(run=run):
        raise LeaseLostError
    run_checkpoint(run, stats, COUNT_FIELDS)


def run_finish(run: SyncRun, status: str, error: str = "") -> SyncRun:
    """End the run with `status`, store its (redacted) error and give the lease back."""
    run.status = status
    run.error = redact(error)[:4000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    lease_release(run=run)
    logger.info(
        "sync %s #%s %s: created=%s updated=%s unchanged=%s removed=%s failed=%s",
        run.kind, run.pk, run.status, run.created_count, run.updated_count,
        run.unchanged_count, run.removed_count, run.failed_count,
    )  # fmt: skip
    return run


class ClosableClient(Protocol):
    stats: HttpStats

    def close(self) -> None: ...


C = TypeVar("C", bound=ClosableClient)


def run_with_client(
    *,
    kind: str,
    run: SyncRun | None,
    trigger: str,
    requested_by: AbstractBaseUser | None,
    client: C | None,
    client_factory: Callable[[], C],
    system: str,
    work: Callable[[SyncRun, C], SyncRun],
) -> SyncRun:
    """Run `work` under the kind's lease with a client: the given one, or one built and closed."""

    def with_client(run: SyncRun) -> SyncRun:
        try:
            own = client or client_factory()
        except Exception as exc:  # noqa: BLE001 - a configuration error ends the run clearly
            return run_finish(
                run, SyncRun.Status.FAILED, f"{system} client could not be set up: {exc}"
            )
        try:
            return work(run, own)
        finally:
            if client is None:
                own.close()

    return run_guarded(
        kind=kind, run=run, trigger=trigger, requested_by=requested_by, work=with_client
    )


def run_guarded(
    *,
    kind: str,
    run: SyncRun | None,
    trigger: str,
    requested_by: AbstractBaseUser | None,
    work: Callable[[SyncRun], SyncRun],
) -> SyncRun:
    """Run `work` under the kind's lease; a crash or a lost lease ends the run, never hangs it."""
    if run is None:
        run = SyncRun.objects.create(kind=kind, trigger=trigger, requested_by=requested_by)
    elif run.is_finished:
        return run  # A duplicated or retried task for a run that already ended: nothing to do.
    acquired, other = lease_acquire(run=run)
    if not acquired:
        held_by = f" (#{other.pk})" if other else ""
        run.started_at = timezone.now()
        run.save(update_fields=["started_at"])
        return run_finish(
            run, SyncRun.Status.SKIPPED, f"Another run of this kind is in progress{held_by}."
        )
    if other is not None and not other.is_finished:
        # Its worker died or hung past the lease: say so on that run instead of leaving it running.
        SyncRun.objects.filter(
            pk=other.pk, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            error=f"The worker stopped sending heartbeats; run #{run.pk} took over its lease.",
        )
    run.status = SyncRun.Status.RUNNING
    run.started_at = run.heartbeat_at = timezone.now()
    run.save(update_fields=["status", "started_at", "heartbeat_at"])
    try:
        return work(run)
    except LeaseLostError:
        run.status = SyncRun.Status.FAILED
        run.error = "Lost the sync lease to another run; stopped without writing further."
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    except Exception as exc:
        logger.exception("sync %s #%s crashed", run.kind, run.pk)
        return run_finish(
            run, SyncRun.Status.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}"
        )
