"""Is the bridge healthy? The database, the task broker and the freshness of every sync kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, ExpressionWrapper, Q, Subquery
from django.utils import timezone
from django_q.models import Schedule

from syncs import registry
from syncs.models import AlertState, SyncRun
from syncs.schedules import declared_schedules

logger = logging.getLogger(__name__)

# A kind is stale when its last success is older than this many of its schedule intervals.
STALE_AFTER_INTERVALS = 3

# What the public /healthz says instead of an error text (which may quote upstream hosts, paths
# and status lines); sync admins and the monitor's token get the text itself.
ERROR_IN_HISTORY = "see the sync history"


@dataclass
class KindHealth:
    kind: str
    label: str
    last_success: datetime | None
    max_age: timedelta
    # Set when the kind's last ALERT_AFTER_FAILURES finished runs all failed: the latest error.
    failing_error: str | None = None
    # Its schedule is switched off: nothing runs it unless someone asks, so it cannot go stale.
    paused: bool = False
    # A run of the kind is running under a lease that has not expired.
    running: bool = False
    # When its schedule was last switched back on (AlertState.switched_on_at), if ever.
    switched_on_at: datetime | None = None

    @property
    def failing(self) -> bool:
        return self.failing_error is not None

    @property
    def overdue(self) -> bool:
        """No success within its max age (or ever), whatever runs now; a schedule switched back
        on gets its max age from then, as if it had succeeded then: it had no chance before."""
        return self._older_than_max_age(self.last_success) and self._older_than_max_age(
            self.switched_on_at
        )

    @property
    def just_switched_on(self) -> bool:
        """Switched back on within its max age, with no success within it: not stale, but no
        recovery either (an outage stays open until a success)."""
        return self._older_than_max_age(self.last_success) and not self.overdue

    def _older_than_max_age(self, moment: datetime | None) -> bool:
        return moment is None or timezone.now() - moment > self.max_age

    @property
    def stale(self) -> bool:
        # A run under way may still succeed: a shortened schedule starts one at once, and the
        # alert check must not call the kind stale before it ends. A run whose worker died is
        # taken over when its lease expires, so this hides a dead worker no longer than that.
        return self.overdue and not self.paused and not self.running

    @property
    def waiting_on_run(self) -> bool:
        """Overdue, and only the run under way keeps it from stale: no verdict, no recovery."""
        return self.overdue and not self.paused and self.running

    @property
    def status(self) -> str:
        """ "failing" (runs fail in a row) wins over "paused", "stale" (no recent success), "ok"."""
        if self.failing:
            return "failing"
        if self.paused:
            return "paused"
        return "stale" if self.stale else "ok"

    @property
    def age_seconds(self) -> float | None:
        if self.last_success is None:
            return None
        return (timezone.now() - self.last_success).total_seconds()

    @property
    def ok(self) -> bool:
        return not self.failing and not self.stale


@dataclass(frozen=True)
class Problem:
    """One thing that needs attention, as a sentence for people.

    A time in it is kept apart (`since`): a page shows it in the viewer's zone, /healthz in UTC.
    """

    # The whole sentence; without its end " since <time>." when `since` is set, and without the
    # error it quotes when `error` is set.
    text: str
    since: datetime | None = None
    # An error text the sentence quotes at its end (upstream hosts, paths, status lines): kept
    # apart so that whoever may not read it gets the sentence without it.
    error: str | None = None

    def __str__(self) -> str:
        return self.sentence(with_error=True)

    def sentence(self, *, with_error: bool) -> str:
        """The sentence in UTC, quoting its error only `with_error`."""
        if self.error is not None:
            if with_error:
                return f"{self.text}; the latest said: {self.error}"
            return f"{self.text}; the latest error is in the sync history."
        if self.since is None:
            return self.text
        return f"{self.text} since {self.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC."


@dataclass
class Health:
    database: bool = False
    broker: bool = False
    queued_tasks: int | None = None
    kinds: list[KindHealth] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self, *, with_errors: bool) -> dict[str, object]:
        """The monitor's JSON; error texts only `with_errors`, else a pointer to the history."""
        return {
            "status": "ok" if self.ok else "failing",
            "database": "ok" if self.database else "down",
            "broker": "ok" if self.broker else "down",
            "queued_tasks": self.queued_tasks,
            "syncs": {
                k.kind: {
                    "last_success": k.last_success.isoformat() if k.last_success else None,
                    "age_seconds": round(k.age_seconds) if k.age_seconds is not None else None,
                    "max_age_seconds": round(k.max_age.total_seconds()),
                    "status": k.status,
                    "last_error": (
                        k.failing_error
                        if with_errors or k.failing_error is None
                        else ERROR_IN_HISTORY
                    ),
                }
                for k in self.kinds
            },
            "problems": [problem.sentence(with_error=with_errors) for problem in self.problems],
        }


@dataclass(frozen=True)
class KindSchedule:
    label: str
    minutes: int
    paused: bool


def _kind_schedules() -> dict[str, KindSchedule]:
    """Each enabled scheduled kind with its schedule as it is now, read in one query.

    The interval and the on/off switch are the installed django-q2 schedule's (what the
    Schedules page edits); a kind whose schedule is not installed yet counts with the interval
    from settings, switched on: nothing runs it, and health must say so in time.
    """
    specs = [s for s in declared_schedules() if s.kind and registry.get(s.kind).is_enabled]
    installed = {
        name: (minutes, repeats)
        for name, minutes, repeats in Schedule.objects.filter(
            name__in=[spec.name for spec in specs]
        ).values_list("name", "minutes", "repeats")
    }
    kinds = {}
    for spec in specs:
        minutes, repeats = installed.get(spec.name, (spec.minutes, -1))
        # django-q2 never starts a schedule whose repeats is 0: the page's "off".
        kinds[spec.kind] = KindSchedule(spec.name, minutes or spec.minutes, paused=repeats == 0)
    return kinds


def health_check(*, broker: Any = None) -> Health:
    """Check the database, the broker and the age of each kind's last successful run."""
    health = Health()
    failure = _database_failure()
    health.database = failure is None
    if failure is not None:
        health.problems.append(Problem(f"The database does not answer ({failure})."))
    try:
        if broker is None:
            from django_q.brokers import get_broker

            broker = get_broker()
        # queue_size() talks to the broker for real; ping() of the ORM broker always says yes.
        health.queued_tasks = broker.queue_size()
        health.broker = True
    except Exception as exc:  # noqa: BLE001 - any broker failure means "down"
        logger.warning("health: broker unreachable: %s", type(exc).__name__)
        health.problems.append(Problem("The task broker does not answer: no sync can be queued."))
    if not health.database:
        return health
    try:
        health.kinds = sync_freshness()
    except Exception as exc:  # noqa: BLE001 - a health check reports, it never raises
        logger.warning("health: sync state unreadable: %s", type(exc).__name__)
        health.database = False
        health.problems.append(Problem(f"The sync runs cannot be read ({type(exc).__name__})."))
        return health
    for item in health.kinds:
        if item.failing:
            health.problems.append(
                Problem(
                    f"{item.label} sync is failing: its last {settings.ALERT_AFTER_FAILURES} "
                    "runs failed",
                    error=item.failing_error,
                )
            )
        elif item.stale and item.last_success is None:
            health.problems.append(Problem(f"{item.label} sync has never succeeded."))
        elif item.stale:
            health.problems.append(
                Problem(f"{item.label} sync has not succeeded", since=item.last_success)
            )
    return health


def web_alive() -> bool:
    """Whether this process can serve pages: the database serves a real read. What a load
    balancer asks; the syncs' freshness (health_check) is a monitor's: a failing sync must not
    take the web pages out of rotation."""
    return _database_failure() is None


def _database_failure() -> str | None:
    """The name of what broke the database's real read (logged), or None when it served it."""
    try:
        _check_database()
    except Exception as exc:  # noqa: BLE001 - whatever breaks the database means "down"
        logger.warning("health: database unusable: %s", type(exc).__name__)
        return type(exc).__name__
    return None


def _check_database() -> None:
    """Raise when the database cannot serve a real read.

    "SELECT 1" answers even from a corrupted SQLite file (it reads no page of it), so the check
    reads a row of a real table: a file that is not a database fails here, as every page would.
    """
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT id FROM {SyncRun._meta.db_table} ORDER BY id DESC LIMIT 1")
        cursor.fetchall()


# Runs that say nothing about a kind's health: another run held the lease, or it is not done.
NEUTRAL = (SyncRun.Status.SKIPPED, SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def failing_error(kind: str) -> str | None:
    """The latest error when the kind's last ALERT_AFTER_FAILURES telling runs all failed."""
    n = settings.ALERT_AFTER_FAILURES
    recent = list(
        SyncRun.objects.filter(kind=kind)
        .exclude(status__in=NEUTRAL)
        .order_by("-queued_at", "-id")
        .values_list("status", "error")[:n]
    )
    if len(recent) == n and all(status == SyncRun.Status.FAILED for status, _ in recent):
        return (recent[0][1] or "no error was recorded")[:300]
    return None


def failing_errors(kinds: list[str]) -> dict[str, str]:
    """failing_error() of every kind, in one query (the last N telling runs of each kind)."""
    n = settings.ALERT_AFTER_FAILURES
    if not kinds:
        return {}
    # Each kind's newest N by its (kind, queued_at) index, not a window numbering every run the
    # bridge ever recorded: the dashboard and /healthz read this on every request, and a year of
    # half-hourly runs is tens of thousands of rows. The runs from the Nth newest telling one on
    # are asked for by (queued_at, id), not as "pk IN (newest N)": PostgreSQL tests every run
    # against such a list, but reads a range of the index.
    newest = Q()
    for kind in kinds:
        telling = SyncRun.objects.filter(kind=kind).exclude(status__in=NEUTRAL)
        nth = telling.order_by("-queued_at", "-id")[n - 1 : n]
        nth_queued, nth_pk = Subquery(nth.values("queued_at")), Subquery(nth.values("pk"))
        newest |= Q(kind=kind) & (
            Q(queued_at__gt=nth_queued) | Q(queued_at=nth_queued, pk__gte=nth_pk)
        )
    recent: dict[str, list[tuple[datetime, int, str, str]]] = {}
    for kind, queued_at, pk, status, error in (
        SyncRun.objects.filter(newest)
        .exclude(status__in=NEUTRAL)
        .values_list("kind", "queued_at", "pk", "status", "error")
    ):
        recent.setdefault(kind, []).append((queued_at, pk, status, error))
    failing = {}
    for kind, rows in recent.items():
        rows.sort(reverse=True)  # newest first, as the runs were chosen
        if len(rows) == n and all(status == SyncRun.Status.FAILED for _, _, status, _ in rows):
            failing[kind] = (rows[0][3] or "no error was recorded")[:300]
    return failing


def sync_freshness() -> list[KindHealth]:
    """Each scheduled kind: its last success, how old that may be, whether runs fail, and
    whether a run is under way (under a live lease)."""
    schedules = _kind_schedules()
    # One query for both: each kind's newest success, read by the (kind, status, finished_at)
    # index rather than a MAX over every success ever recorded (the dashboard and /healthz ask
    # on every request), and the runs under a live lease (one per kind at most).
    newest_success = Q()
    for kind in schedules:
        successes = SyncRun.objects.filter(
            kind=kind, status=SyncRun.Status.SUCCEEDED, finished_at__isnull=False
        )
        # pk = (one row's subquery), not pk IN (...): PostgreSQL then reads each by the primary
        # key instead of testing every run against the subqueries.
        newest_success |= Q(pk=Subquery(successes.order_by("-finished_at").values("pk")[:1]))
    live = SyncRun.live_lease()
    last: dict[str, datetime | None] = {}
    running: set[str] = set()
    for kind, finished_at, is_live in (
        SyncRun.objects.filter(newest_success | live)
        .annotate(is_live=ExpressionWrapper(live, output_field=BooleanField()))
        .values_list("kind", "finished_at", "is_live")
    ):
        if is_live:
            running.add(kind)
        else:
            last[kind] = finished_at
    failing = failing_errors(list(schedules))
    switched_on = dict(
        AlertState.objects.filter(kind__in=schedules, switched_on_at__isnull=False).values_list(
            "kind", "switched_on_at"
        )
    )
    return [
        KindHealth(
            kind=kind,
            label=schedule.label,
            last_success=last.get(kind),
            max_age=timedelta(minutes=schedule.minutes * STALE_AFTER_INTERVALS),
            failing_error=failing.get(kind),
            paused=schedule.paused,
            running=kind in running,
            switched_on_at=switched_on.get(kind),
        )
        for kind, schedule in schedules.items()
    ]
