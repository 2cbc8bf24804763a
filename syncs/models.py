"""The record of every sync run, holding its own single-flight lease, and the alert state."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from smcbridge.choices import QuickChoiceLabels
from syncs.registry import KindNamespace, kind_choices, kind_label, redact

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

# How a run that never did its work to an end of its own is recorded: its worker died and another
# run took it over (its own record of the loss overwrites the first when its worker turns out
# alive after all), or no worker ever started it (its task was lost, the broker refused it).
WORKER_STOPPED_ERROR = "The worker stopped sending heartbeats"
LEASE_LOST_ERROR = "Lost the sync lease to another run"
QUEUE_LOST_ERROR = "No worker started this run"
BROKER_REFUSED_ERROR = "Not started: the task broker did not take it"

# How often a running run saves its progress, which renews its lease, at most (and at least a
# quarter of the lease, so a live run never lets it lapse between two items).
PROGRESS_SAVE_SECONDS = 5.0


class HttpStats(Protocol):
    requests: int
    retries: int


class LeaseLostError(Exception):
    """Another run took this run's lease: stop writing at once."""


class SyncRun(QuickChoiceLabels, models.Model):
    """One run of one sync kind, whatever started it.

    The run is its own lease: at most one run of a kind is running (a partial unique index
    decides the race on every backend), and a running run is alive while `lease_expires_at`,
    pushed forward by every progress save, lies ahead. A lease row of its own per kind cost
    two more writes per run, taking it and giving it back (issue 13).
    """

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
    # While running: when the lease runs out unless a heartbeat renews it.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
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
        indexes = [
            models.Index(fields=["kind", "-queued_at"], name="khoros_sync_kind_befbe3_idx"),
            # The history's and the dashboard's newest runs of every kind, read in this order
            # and cut to a page: without it each request sorted every run ever made.
            models.Index(fields=["-queued_at", "-id"], name="syncs_run_newest"),
            # Each kind's newest success, which the dashboard and /healthz read on every request.
            models.Index(fields=["kind", "status", "-finished_at"], name="syncs_run_last_success"),
            # Each kind's latest finished run, whatever its outcome (the Schedules page's last run).
            models.Index(fields=["kind", "-finished_at", "-id"], name="syncs_run_last_finished"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status="running"),
                name="syncs_one_running_run_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    def get_kind_display(self) -> str:  # type: ignore[no-redef]  # django-stubs declares it
        """Django's own would gather the registered kinds into a dict on every call."""
        return kind_label(self.kind)

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
        """Record a new run already running under its lease; (run, False): it was skipped.

        One INSERT when no run of the kind is running: the run, its start and its lease at once.
        When the single-flight index refuses it, the run is recorded queued and started like a
        queued run, which takes over an expired holder or ends skipped.
        """
        now = timezone.now()
        try:
            with transaction.atomic():
                run = cls.objects.create(
                    kind=kind,
                    trigger=trigger,
                    requested_by=requested_by,
                    status=cls.Status.RUNNING,
                    started_at=now,
                    heartbeat_at=now,
                    lease_expires_at=now + _ttl(),
                )
        except IntegrityError:
            run = cls.objects.create(kind=kind, trigger=trigger, requested_by=requested_by)
            return run, run.start()
        run._saved_at = now  # the lease was just taken: the next save is due an interval on
        return run, True

    def start(self) -> bool:
        """Mark the run running, which takes its kind's lease; False: it was skipped (and ended).

        The run itself may start again while running: that is a django-q2 retry after its
        worker died. A holder whose lease expired is recorded as dead and taken over.
        """
        holder = None
        for _attempt in range(3):  # a holder that ends or is taken over meanwhile: look again
            now = timezone.now()
            try:
                with transaction.atomic():
                    # Conditional: a run recorded as dead or lost meanwhile stays ended (a late
                    # task); the index refuses it while another run of the kind is running.
                    claimed = SyncRun.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
                        status=self.Status.RUNNING,
                        started_at=now,
                        heartbeat_at=now,
                        lease_expires_at=now + _ttl(),
                    )
            except IntegrityError:
                holder = SyncRun.objects.filter(kind=self.kind, status=self.Status.RUNNING).first()
                if holder is not None and holder.lease_is_live(now):
                    break
                if holder is not None:
                    # Its worker died or hung past the lease: say so on that run, then start.
                    holder.mark_dead(taken_over_by=self, expired_at=now)
                continue
            if not claimed:
                self.refresh_from_db()
                return False
            self.status, self.started_at, self.heartbeat_at = self.Status.RUNNING, now, now
            self.lease_expires_at = now + _ttl()
            self._saved_at = now  # the lease was just taken: the next save is due an interval on
            return True
        held_by = f" (#{holder.pk})" if holder else ""
        self.started_at = timezone.now()
        self._pending = {"started_at"}
        try:
            self.finish(self.Status.SKIPPED, f"Another run of this kind is in progress{held_by}.")
        except LeaseLostError:
            self.refresh_from_db()  # recorded as lost meanwhile: that record stands
        return False

    @classmethod
    def live_lease(cls, now: datetime | None = None) -> Q:
        """The runs running under a lease that has not run out, in SQL: lease_is_live's rule."""
        return Q(status=cls.Status.RUNNING, lease_expires_at__gte=now or timezone.now())

    def lease_is_live(self, now: datetime | None = None) -> bool:
        """Whether the run is running under a lease that has not run out: its worker is alive."""
        return (
            self.status == self.Status.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at >= (now or timezone.now())
        )

    @property
    def never_started(self) -> bool:
        """Failed before any worker started it: its task was lost, or the broker refused it."""
        return self.status == self.Status.FAILED and self.error.startswith(
            (QUEUE_LOST_ERROR, BROKER_REFUSED_ERROR)
        )

    @property
    def taken_over(self) -> bool:
        """Failed because its worker died (its lease expired) and another run took it over."""
        return self.status == self.Status.FAILED and self.error.startswith(
            (WORKER_STOPPED_ERROR, LEASE_LOST_ERROR)
        )

    @property
    def worker_stopped(self) -> bool:
        """Running, but its lease ran out: no heartbeat came; whoever asks next takes it over."""
        return self.status == self.Status.RUNNING and not self.lease_is_live()

    def mark_dead(
        self,
        *,
        taken_over_by: SyncRun,
        error: str = "",
        expired_at: datetime | None = None,
        queued_only: bool = False,
    ) -> bool:
        """Record that this run's worker is gone; False when it had ended meanwhile.

        With `expired_at`, only if its lease had run out by then (a slow worker that renewed
        it keeps its run); with `queued_only`, only if no worker started it after all. It
        ended, as far as anyone knows, at its last heartbeat (or start): not when someone
        noticed, which would count the time nobody ran it as its duration.
        """
        still = SyncRun.objects.filter(pk=self.pk, status__in=self.ACTIVE)
        if expired_at is not None:
            still = still.filter(
                Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=expired_at)
            )
        if queued_only:
            still = still.filter(status=self.Status.QUEUED)
        return bool(
            still.update(
                status=self.Status.FAILED,
                finished_at=Coalesce(F("heartbeat_at"), F("started_at"), Value(timezone.now())),
                lease_expires_at=None,
                error=error
                or f"{WORKER_STOPPED_ERROR}; run #{taken_over_by.pk} took over its lease.",
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

    def checkpoint(
        self, stats: HttpStats, fields: Iterable[str] = (), *, heartbeat: bool = False
    ) -> None:
        """Note the run's progress; saved with the heartbeat when a save is due (or asked for
        with `heartbeat`), else at finish."""
        # Kept so that finish() saves the requests made since (a failing run's last calls).
        self._http_stats = stats
        pending: set[str] = getattr(self, "_pending", set())
        self._pending = pending | set(fields) | set(self._take_http(stats))
        if heartbeat or self._save_due():
            self.renew_lease()

    def renew_lease(self) -> None:
        """Save the progress noted so far with a heartbeat, which pushes the lease forward.

        Raise LeaseLostError when the run is no longer running: another run took it over.
        """
        now = timezone.now()
        fields = sorted(getattr(self, "_pending", set()) | {"http_requests", "http_retries"})
        # Conditional, in the same statement as the progress: a run taken over writes nothing.
        if not SyncRun.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(
            **{name: getattr(self, name) for name in fields},
            heartbeat_at=now,
            lease_expires_at=now + _ttl(),
        ):
            raise LeaseLostError
        self.heartbeat_at = self._saved_at = now
        self.lease_expires_at = now + _ttl()
        self._pending = set()

    @contextmanager
    def leased_write(self) -> Iterator[None]:
        """A transaction that writes only while this run holds its lease, renewed in it.

        A run another one took over (its worker seemed dead) raises LeaseLostError before
        writing: its batch was written, then the loss noticed. On PostgreSQL the renewal's row
        lock also keeps a takeover waiting until the write is committed.
        """
        with transaction.atomic():
            self.renew_lease()
            yield

    def step_done(self, stats: HttpStats, *, steps: int = 1) -> None:
        """Count finished items and note the counts; a due save renews the lease with them."""
        self.progress_done += steps
        self.checkpoint(stats, COUNT_FIELDS)

    def finish(self, status: str, error: str = "") -> SyncRun:
        """End the run with `status` and store its (redacted) error: its lease ends with it.

        Raise LeaseLostError when the run had already ended: another run took it over while
        its worker hung, and its record says so; a late end must not say it succeeded.
        """

        self.status = status
        self.error = redact(error)[:4000]
        self.finished_at = timezone.now()
        self.lease_expires_at = None
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
        fields = ["status", "error", "finished_at", "lease_expires_at", *sorted(pending)]
        # Conditional, like every write of a running run: one statement, no read before it.
        if not SyncRun.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
            **{name: getattr(self, name) for name in fields}
        ):
            raise LeaseLostError
        logger.info(
            "sync %s #%s %s: created=%s updated=%s unchanged=%s removed=%s failed=%s",
            self.kind, self.pk, self.status, self.created_count, self.updated_count,
            self.unchanged_count, self.removed_count, self.failed_count,
        )  # fmt: skip
        return self

    def stop_lease_lost(self) -> SyncRun:
        """End a run another run took over: its record says so, nothing more is written."""
        self.status = self.Status.FAILED
        self.error = f"{LEASE_LOST_ERROR}; stopped without writing further."
        self.finished_at = timezone.now()
        self.lease_expires_at = None
        self.save(update_fields=["status", "error", "finished_at", "lease_expires_at"])
        return self


class AlertState(models.Model):
    """Whether admins were told a sync kind is failing: one email per outage, one on recovery."""

    kind = models.CharField(max_length=32, primary_key=True)
    alerting = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    # The email of the latest change not sent yet (the mail relay was down): the next check
    # sends it. Empty: nothing waits.
    pending_subject = models.CharField(max_length=200, blank=True)
    pending_body = models.TextField(blank=True)
    # When a sync admin last switched the kind's schedule back on: its stale clock starts there,
    # not at a success from before the pause (which would make it stale, and alert, at once).
    switched_on_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "campaigns_alertstate"

    def __str__(self) -> str:
        return f"{self.kind}: {'alerting' if self.alerting else 'ok'}"


class ScheduleLastTask(models.Model):
    """The latest finished task of each django-q2 schedule, recorded as django-q2 saves it
    (syncs.task_record): the Schedules page's "Last run" of a schedule that records no sync run.

    django-q2 keeps the newest Q_CLUSTER save_limit (500) successful tasks of all schedules
    together: with the takeover check every 2 minutes and the alert check every 5, about 1,080
    a day, the daily call-log prune's success was gone after some 11 hours, and its "Last run"
    showed "–" for the rest of the day. One row per schedule, kept whatever django-q2 prunes.
    """

    # The schedule's name: django-q2 puts a scheduled task in the group named after it.
    name = models.CharField(max_length=100, unique=True)
    task_id = models.CharField(max_length=32)
    succeeded = models.BooleanField()
    stopped = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {'succeeded' if self.succeeded else 'failed'} {self.stopped}"


class Notification(QuickChoiceLabels, models.Model):
    """An alert shown inside the app to sync admins: one per outage of a kind, one on recovery.

    Dismissal is recorded here (who, when) and stays visible in the notification history: the
    audit trail of campaigns/ cannot be imported from the engine, and this row is the record.
    """

    class Event(models.TextChoices):
        OUTAGE = "outage", "Outage"
        RECOVERY = "recovery", "Recovery"

    kind = models.CharField(max_length=32)
    event = models.CharField(max_length=16, choices=Event.choices)
    # The sentence; without its end " since <time>." when `since` is set: a page shows that
    # time in the viewer's zone (syncs.health.Problem), the email in UTC.
    text = models.TextField()
    since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    # An outage's alert closed by its kind's recovery (dismissed_at is then the recovery's time).
    closed_by_recovery = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dismissed_at"], name="syncs_notif_dismissed_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.event} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)


def _ttl() -> timedelta:
    return timedelta(seconds=settings.SYNC_LEASE_SECONDS)
