"""System-agnostic pieces of the HTTP clients: retry pacing, Retry-After, stats, JSON decoding.

Each client module (khoros/client.py, campaigns/sapmc.py) keeps its own session, error classes
and the decision of *what* may be retried; this module only decides *when* to try again.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

# 429 and the 5xx statuses a gateway or an overloaded server answers; 501 and 505 never heal.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class ClientStats:
    """Counts a client keeps for the sync run that uses it."""

    requests: int = 0  # every HTTP attempt, retries included
    retries: int = 0  # attempts made again after a failure (and pages read again)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the delay a Retry-After header asks for, in seconds (never negative)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC with no claim about the local zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def full_jitter(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Return a random delay in [0, min(cap, base * 2**(attempt-1))] before retry `attempt`."""
    # Full jitter: clients throttled together must not come back together. The exponent is
    # bounded so that a large attempt number cannot overflow the float.
    ceiling = min(cap, base * 2 ** min(max(attempt, 1) - 1, 32))
    return rng.uniform(0, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a client may try a request again."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    budget_seconds: float = 120.0  # total sleep one request may spend on its retries

    def __post_init__(self) -> None:
        values = (self.max_retries, self.backoff_base, self.backoff_cap, self.budget_seconds)
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError("retry settings must be finite and not negative")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Return the pause before retry `attempt`: the server's wish, else jittered backoff."""
        if retry_after is not None:
            # The cap bounds every single wait, the server's included: a Retry-After of an
            # hour must not park a sync worker; the budget then decides whether to go on.
            return min(retry_after, self.backoff_cap)
        return full_jitter(attempt, base=self.backoff_base, cap=self.backoff_cap, rng=rng)


class Attempts:
    """Count the attempts of one logical request and pace its retries within the policy."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        stats: ClientStats,
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        self.policy = policy
        self.stats = stats
        self.attempt = 0
        self.slept = 0.0
        self._sleep = sleep
        self._rng = rng

    def start(self) -> int:
        """Record one more attempt and return its number (1 for the first)."""
        self.attempt += 1
        self.stats.requests += 1
        return self.attempt

    def retry(self, retry_after: float | None = None) -> float | None:
        """Sleep before the next attempt and return the delay, or return None when none is left."""
        if self.attempt > self.policy.max_retries:
            return None
        delay = self.policy.delay(self.attempt, retry_after, self._rng)
        if self.slept + delay > self.policy.budget_seconds:
            return None
        self.stats.retries += 1
        self._sleep(delay)
        self.slept += delay
        return delay


def is_unsent(exc: requests.RequestException) -> bool:
    """Tell whether a transport error happened before any byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    # NewConnectionError covers refused connections and failed DNS look-ups (its subclass).
    return isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


def decode_json(content: bytes) -> Any:
    """Decode a JSON body; NaN and Infinity are refused so that every payload stays storable."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(content.decode("utf-8-sig"), parse_constant=refuse)


def origin(url: str) -> tuple[str, str, int | None]:
    """Return (scheme, host, port) of a URL, lower-cased and with the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number or out of range
        port = -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)
