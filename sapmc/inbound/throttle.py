"""Brakes on guessing SAP MC's Basic-auth password: failures counted per client address (an
IPv6 one per /64, smcbridge.client_ip.lockout_network); a locked address is answered 429 and
counted, not logged call by call.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from sapmc.models import InboundLockout
from smcbridge.db import first_read

logger = logging.getLogger("sapmc.inbound.throttle")


@dataclass(frozen=True)
class Gate:
    """What the record of an address says before its call is authenticated."""

    on_record: bool = False  # failures are on record (a success clears them)
    retry_after: int = 0  # seconds; above 0 while the address is locked
    first_refusal: bool = False  # the first call refused in this lockout (the call log keeps it)

    @property
    def locked(self) -> bool:
        return self.retry_after > 0


def _window() -> timedelta:
    return timedelta(minutes=settings.SAPMC_INBOUND_LOCKOUT_MINUTES)


def inbound_gate(*, ip: str, now: datetime) -> Gate:
    """Whether calls from `ip` are refused now (one read); counts the refusal when they are."""
    # The first statement of every call: it also checks the kept connection (first_read).
    row = first_read(_gate_sql(), [ip])
    if row is None:
        return Gate()
    locked_until, refused = row
    if locked_until is not None and timezone.is_naive(locked_until):
        locked_until = locked_until.replace(tzinfo=UTC)  # SQLite's: stored in UTC, read naive
    if locked_until is None or locked_until <= now:
        return Gate(on_record=True)
    InboundLockout.objects.filter(ip=ip).update(refused=F("refused") + 1)
    return Gate(
        on_record=True,
        retry_after=max(1, math.ceil((locked_until - now).total_seconds())),
        first_refusal=refused == 0,
    )


@cache
def _gate_sql() -> str:
    # Asked before every call SAP MC makes: SQL written once, not a queryset compiled per call
    # (compiling cost more than the query).
    q = connection.ops.quote_name
    table = q(InboundLockout._meta.db_table)
    return f"SELECT {q('locked_until')}, {q('refused')} FROM {table} WHERE {q('ip')} = %s"


def inbound_failure(*, ip: str, now: datetime) -> None:
    """Count a call with wrong credentials; the limit-th locks the address, unless a whole
    window (SAPMC_INBOUND_LOCKOUT_MINUTES) passed without one, which starts the count again."""
    _prune(now=now, keep=ip)
    with transaction.atomic():
        row, _ = InboundLockout.objects.select_for_update().get_or_create(
            ip=ip, defaults={"last_failure_at": now}
        )
        if row.locked_until is not None and row.locked_until <= now:
            # A lockout that ran out: say how much it held back, then count afresh.
            logger.warning(
                "SAP MC lockout of %s ended: %d calls refused while it lasted", ip, row.refused
            )
            row.locked_until, row.refused, row.failures = None, 0, 0
        elif row.last_failure_at + _window() <= now:
            row.failures = 0  # a window without a failure: start again
        # Counted until a whole window passes without one: a count that restarted a window
        # after the first failure let twice the limit through around the restart, in seconds.
        row.last_failure_at = now
        row.failures += 1
        if row.failures >= settings.SAPMC_INBOUND_FAILURE_LIMIT and row.locked_until is None:
            row.locked_until = now + _window()
            logger.warning(
                "SAP MC calls from %s locked for %d minutes after %d failed logins",
                ip, settings.SAPMC_INBOUND_LOCKOUT_MINUTES, row.failures,
            )  # fmt: skip
        row.save()


def _prune(*, now: datetime, keep: str) -> None:
    """Forget other addresses whose failures or lockout are over, so that guesses from many
    addresses leave no row behind for long; a lockout's refused calls are logged first."""
    stale = InboundLockout.objects.exclude(ip=keep).filter(
        Q(locked_until__isnull=True, last_failure_at__lte=now - _window())
        | Q(locked_until__lte=now)
    )
    for ip, refused in stale.filter(refused__gt=0).values_list("ip", "refused"):
        logger.warning("SAP MC lockout of %s ended: %d calls refused while it lasted", ip, refused)
    stale.delete()


def inbound_success(*, ip: str) -> None:
    """A right password forgets the address's failures (and an expired lockout's count)."""
    for row in InboundLockout.objects.filter(ip=ip):
        if row.refused:
            logger.warning(
                "SAP MC lockout of %s ended: %d calls refused while it lasted", ip, row.refused
            )
        row.delete()
