"""Is the bridge healthy? The database, the task broker and the freshness of every sync kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import Max
from django.utils import timezone

from syncs import registry
from syncs.models import SyncRun
from syncs.schedules import declared_schedules

logger = logging.getLogger(__name__)

# A kind is stale when its last success is older than this many of its schedule intervals.
STALE_AFTER_INTERVALS = 3


@dataclass
class KindHealth:
    kind: str
    label: str
    last_success: datetime | None
    max_age: timedelta

    @property
    def age_seconds(self) -> float | None:
        if self.last_success is None:
            return None
        return (timezone.now() - self.last_success).total_seconds()

    @property
    def ok(self) -> bool:
        age = self.age_seconds
        return age is not None and age <= self.max_age.total_seconds()


@dataclass
class Health:
    database: bool = False
    broker: bool = False
    queued_tasks: int | None = None
    kinds: list[KindHealth] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
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
                    "status": "ok" if k.ok else "stale",
                }
                for k in self.kinds
            },
            "problems": self.problems,
        }


def _kind_intervals() -> dict[str, tuple[str, timedelta]]:
    """Each scheduled kind switched on, its label and how old its last success may be."""
    return {
        spec.kind: (spec.name, timedelta(minutes=spec.minutes * STALE_AFTER_INTERVALS))
        for spec in declared_schedules()
        if spec.kind and registry.get(spec.kind).is_enabled
    }


def health_check(*, broker: Any = None) -> Health:
    """Check the database, the broker and the age of each kind's last successful run."""
    health = Health()
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        health.database = True
    except DatabaseError as exc:
        logger.warning("health: database unreachable: %s", type(exc).__name__)
        health.problems.append("The database does not answer.")
    try:
        if broker is None:
            from django_q.brokers import get_broker

            broker = get_broker()
        # queue_size() talks to the broker for real; ping() of the ORM broker always says yes.
        health.queued_tasks = broker.queue_size()
        health.broker = True
    except Exception as exc:  # noqa: BLE001 - any broker failure means "down"
        logger.warning("health: broker unreachable: %s", type(exc).__name__)
        health.problems.append("The task broker does not answer: no sync can be queued.")
    if not health.database:
        return health
    health.kinds = sync_freshness()
    for item in health.kinds:
        if not item.ok:
            when = (
                "never"
                if item.last_success is None
                else f"not since {item.last_success:%Y-%m-%d %H:%M} UTC"
            )
            health.problems.append(f"{item.label} sync has succeeded {when}.")
    return health


def sync_freshness() -> list[KindHealth]:
    """Each scheduled kind with its last success and how old that may be, in one query."""
    last = dict(
        SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED)
        .values("kind")
        .annotate(last=Max("finished_at"))
        .values_list("kind", "last")
    )
    return [
        KindHealth(kind=kind, label=label, last_success=last.get(kind), max_age=max_age)
        for kind, (label, max_age) in _kind_intervals().items()
    ]
