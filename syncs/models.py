"""The record of every sync run, the single-flight lease of each kind and the alert state."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from syncs.registry import KindNamespace, kind_choices, redact

if TYPE_CHECKING:
    from syncs.registry import SyncKind

logger = logging.getLogger(__name__)

# The counts a checkpoint saves, in every kind.
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

# How often a running run saves its progress and renews its lease at most (and at least a
# quarter of the lease, so a live run never lets it lapse between two items).
PROGRESS_SAVE_SECONDS = 5.0


class HttpStats(Protocol):
    requests: int
    retries: int


class LeaseLostError(Exception):
    """Another run took this run's lease: stop writing at once."""


class SyncRun(models.Model):
    """One run of one sync kind, whatever started it."""

    # The kinds the system apps registered (syncs.register): SyncRun.Kind.KHOROS_PLANS etc.
    Kind = KindNamespace()

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        BUTTON = "button", "Button"
        COMMAND = "command", "Command"
        API = "api", "API"
        # Requested by the engine after a successful run of another kind (register_follow_up).
        FOLLOW_UP = "follow_up", "After another sync"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        DEFERRED = "deferred", "Deferred"
        SKIPPED = "skipped", "Skipped"

    FINISHED = (Status.SUCCEEDED, Status.PARTIAL, Status.FAILED, Status.DEFERRED, Status.SKIPPED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=32, choices=kind_choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    http_requests = models.PositiveIntegerField(default=0)
    http_retries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Per-item outcomes (one entry per Initiative or export): the run's checkpoint.
    outcomes = models.JSONField(default=list, blank=True)
    # The run's latest HTTP requests (method, path, status, retries, ms), saved at checkpoints:
    # built by the HTTP client from what holds no secret (smcbridge.outgoing_http.ClientStats).
    http_log = models.JSONField(default=list, blank=True)

    class Meta:
        # The table it had in khoros/: moved without copying a row.
        db_table = "khoros_syncrun"
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["kind", "-queued_at"], name="khoros_sync_kind_befbe3_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def sync_kind(self) -> SyncKind:
        return SyncRun.Kind(self.kind)

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    # --- State changes: the only writers of a run's status -----------------------------------

    @classmethod
    def begin(
        cls, *, kind: str, trigger: str, requested_by: models.Model | None = None
    ) -> tuple[SyncRun, bool]:
        """Record a new run already running under the kind's lease; (run, False): it was skipped.

        The run and its lease are written in one transaction, two statements (issue 13: a run
        created queued, then its lease taken, then it started cost three writes and as many
        commits). Nobody sees the run before it holds the lease, so a worker killed in between
        leaves no running run without a lease, which no one could take over.
        """
        now = timezone.now()
        with transaction.atomic():
            run = cls.objects.create(
                kind=kind,
                trigger=trigger,
                requested_by=requested_by,
                status=cls.Status.RUNNING,
                started_at=now,
                heartbeat_at=now,
            )
            acquired, other = lease_acquire(run=run)
            if not acquired:
                held_by = f" (#{other.pk})" if other else ""
                run.finish(cls.Status.SKIPPED, f"Another run of this kind is in progress{held_by}.")
                return run, False
            if other is not None and not other.is_finished:
                other.mark_dead(taken_over_by=run)
        run._saved_at = now  # the lease was just taken: the next save is due an interval on
        return run, True

    def start(self) -> bool:
        """Take the kind's lease and mark the run running; False: it was skipped (and ended)."""

        acquired, other = lease_acquire(run=self)
        if not acquired:
            held_by = f" (#{other.pk})" if other else ""
            self.started_at = timezone.now()
            self.save(update_fields=["started_at"])
            self.finish(self.Status.SKIPPED, f"Another run of this kind is in progress{held_by}.")
            return False
        if other is not None and not other.is_finished:
            # Its worker died or hung past the lease: say so on that run instead of leaving it.
            other.mark_dead(taken_over_by=self)
        now = timezone.now()
        # Conditional: a run recorded as dead or lost meanwhile stays ended (a late task).
        if not SyncRun.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
            status=self.Status.RUNNING, started_at=now, heartbeat_at=now
        ):
            lease_release(run=self)
            self.refresh_from_db()
            return False
        self.status, self.started_at, self.heartbeat_at = self.Status.RUNNING, now, now
        self._saved_at = now  # the lease was just taken: the next save is due an interval on
        return True

    def mark_dead(self, *, taken_over_by: SyncRun, error: str = "") -> bool:
        """Record that this run's worker is gone; False when it had ended meanwhile."""
        return bool(
            SyncRun.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
                status=self.Status.FAILED,
                finished_at=timezone.now(),
                error=error
                or (
                    "The worker stopped sending heartbeats; "
                    f"run #{taken_over_by.pk} took over its lease."
                ),
            )
        )

    def _take_http(self, stats: HttpStats) -> list[str]:
        self.http_requests = stats.requests
        self.http_retries = stats.retries
        log = getattr(stats, "log", None)
        if log is None:
            return ["http_requests", "http_retries"]
        self.http_log = list(log)
        return ["http_requests", "http_retries", "http_log"]

    def _save_due(self) -> bool:
        """True when the run's progress was last saved long enough ago to save it again."""
        # Saving after every item wrote two rows per Initiative even when nothing changed
        # (issue 13). Progress is saved at a bounded rate instead, well inside the lease so a
        # live run keeps renewing it, and always at the end (finish writes what is pending).
        saved = getattr(self, "_saved_at", None)
        interval = min(PROGRESS_SAVE_SECONDS, settings.SYNC_LEASE_SECONDS / 4)
        return saved is None or (timezone.now() - saved).total_seconds() >= interval

    def checkpoint(self, stats: HttpStats, fields: Iterable[str] = ()) -> None:
        """Note the run's progress; saved with the heartbeat when a save is due, else at finish."""
        # Kept so that finish() saves the requests made since (a failing run's last calls).
        self._http_stats = stats
        pending: set[str] = getattr(self, "_pending", set())
        self._pending = pending | set(fields) | set(self._take_http(stats))
        if self._save_due():
            self._save_progress()

    def _save_progress(self) -> None:
        self.heartbeat_at = self._saved_at = timezone.now()
        fields = sorted(self._pending | {"http_requests", "http_retries"})
        self._pending = set()
        self.save(update_fields=[*fields, "heartbeat_at"])

    def renew_lease(self) -> None:
        """Push the lease's expiry forward; raise LeaseLostError when another run has taken it."""

        if not lease_renew(run=self):
            raise LeaseLostError

    def step_done(self, stats: HttpStats, *, steps: int = 1) -> None:
        """Count finished items, renew the lease and save the counts."""
        self.progress_done += steps
        if self._save_due():
            self.renew_lease()
        self.checkpoint(stats, COUNT_FIELDS)

    def finish(self, status: str, error: str = "") -> SyncRun:
        """End the run with `status`, store its (redacted) error and give the lease back."""

        self.status = status
        self.error = redact(error)[:4000]
        self.finished_at = timezone.now()
        # The progress noted since the last save, and the requests made since, go with the end,
        # in the same statement.
        pending: set[str] = getattr(self, "_pending", set())
        stats = getattr(self, "_http_stats", None)
        if stats is not None:
            pending |= set(self._take_http(stats))
        if pending:
            pending |= {"heartbeat_at"}
            self.heartbeat_at = self.finished_at
        self._pending = set()
        # One transaction, one commit: the run's end and its lease given back.
        with transaction.atomic(savepoint=False):
            self.save(update_fields=["status", "error", "finished_at", *sorted(pending)])
            lease_release(run=self)
        logger.info(
            "sync %s #%s %s: created=%s updated=%s unchanged=%s removed=%s failed=%s",
            self.kind, self.pk, self.status, self.created_count, self.updated_count,
            self.unchanged_count, self.removed_count, self.failed_count,
        )  # fmt: skip
        return self

    def stop_lease_lost(self) -> SyncRun:
        """End a run whose lease another run took: no lease to give back, nothing more written."""
        self.status = self.Status.FAILED
        self.error = "Lost the sync lease to another run; stopped without writing further."
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "error", "finished_at"])
        return self


class SyncLease(models.Model):
    """At most one running sync per kind, enforced by one row per kind."""

    kind = models.CharField(max_length=32, choices=kind_choices, primary_key=True)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "khoros_synclease"

    def __str__(self) -> str:
        return f"{self.kind} lease"


class AlertState(models.Model):
    """Whether admins were told a sync kind is failing: one email per outage, one on recovery."""

    kind = models.CharField(max_length=32, primary_key=True)
    alerting = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "campaigns_alertstate"

    def __str__(self) -> str:
        return f"{self.kind}: {'alerting' if self.alerting else 'ok'}"


class Notification(models.Model):
    """An alert shown inside the app to sync admins: one per outage of a kind, one on recovery.

    Dismissal is recorded here (who, when) and stays visible in the notification history: the
    audit trail of campaigns/ cannot be imported from the engine, and this row is the record.
    """

    class Event(models.TextChoices):
        OUTAGE = "outage", "Outage"
        RECOVERY = "recovery", "Recovery"

    kind = models.CharField(max_length=32)
    event = models.CharField(max_length=16, choices=Event.choices)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dismissed_at"], name="syncs_notif_dismissed_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.event} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def kind_label(self) -> str:
        """The kind's name for people ("Khoros plans"), or its key if no app registers it now."""
        from syncs import registry

        return registry.get(self.kind).label if registry.is_registered(self.kind) else self.kind


# ---- The lease: one row per kind, held by at most one run (single flight) ---------------------


def _ttl() -> timedelta:
    return timedelta(seconds=settings.SYNC_LEASE_SECONDS)


def lease_acquire(*, run: SyncRun) -> tuple[bool, SyncRun | None]:
    """Take the kind's lease for `run`; return (acquired, the run it was taken from or held by)."""
    held = list(SyncLease.objects.filter(kind=run.kind).values_list("run_id", flat=True)[:1])
    if not held:
        try:
            with transaction.atomic():
                SyncLease.objects.get_or_create(kind=run.kind)
        except IntegrityError:
            pass  # Another process created the row first: it exists now, which is all we need.
    previous = held[0] if held else None
    now = timezone.now()
    # One conditional UPDATE decides the race: the database serialises it on every backend.
    # The run itself may re-take its lease: that is a django-q2 retry after its worker died.
    taken = SyncLease.objects.filter(
        Q(run__isnull=True) | Q(expires_at__lt=now) | Q(run=run), kind=run.kind
    ).update(run=run, expires_at=now + _ttl())
    previous_run = SyncRun.objects.filter(pk=previous).first() if previous else None
    if taken:
        return True, previous_run if previous != run.pk else None
    holder = SyncLease.objects.filter(kind=run.kind).values_list("run_id", flat=True).first()
    return False, SyncRun.objects.filter(pk=holder).first() if holder else None


def lease_renew(*, run: SyncRun) -> bool:
    """Push the lease's expiry forward; False means another run has taken it over."""
    return bool(
        SyncLease.objects.filter(kind=run.kind, run=run).update(expires_at=timezone.now() + _ttl())
    )


def lease_release(*, run: SyncRun) -> None:
    """Give the lease back, if this run still holds it."""
    SyncLease.objects.filter(kind=run.kind, run=run).update(run=None, expires_at=None)


def lease_free_if_expired(*, run: SyncRun) -> bool:
    """Take an expired lease away from `run`; True when it held one: its worker is gone.

    A conditional UPDATE like lease_acquire's decides: a worker that was only slow loses the
    lease at its next renewal (and stops) instead of writing beside the run that takes over.
    """
    return bool(
        SyncLease.objects.filter(kind=run.kind, run=run, expires_at__lt=timezone.now()).update(
            run=None, expires_at=None
        )
    )


def lease_is_live(*, run: SyncRun) -> bool:
    """Whether `run` holds its kind's lease and the lease has not expired: its worker is alive."""
    return SyncLease.objects.filter(kind=run.kind, run=run, expires_at__gte=timezone.now()).exists()
