"""System-agnostic pieces of the HTTP clients: errors, the session, retries, stats, JSON.

Each client module (khoros/client.py, sapmc/client.py) subclasses HttpClient and the error
kinds below, and keeps what is its system's own: URLs, credentials, how an answer is judged and
parsed. This module owns the transport: one session, timeouts, and which failures are tried again,
when and how often.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Self, TypedDict, TypeVar
from urllib.parse import SplitResult, urlsplit

import requests
import urllib3.exceptions

# 429 and the 5xx statuses a gateway or an overloaded server answers; 501 and 505 never heal.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_DEFAULT_PORTS = {"http": 80, "https": 443}

_T = TypeVar("_T")


# Errors -------------------------------------------------------------------------------------


class ClientError(Exception):
    """Base of every error an HTTP client raises; `retryable` says whether trying later helps."""

    retryable: bool = False
    method: str | None = None  # set by HttpClient when the request fails for good
    # A transport failure after the request may have left (a read timeout, a reset, a cut body):
    # the system may have acted on it although no answer came back. False for answers and for
    # connections that never opened.
    maybe_received: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        if retryable is not None:
            self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes would be lost when a task queue pickles the error.
        return (self.__class__, self.args, self.__dict__)


# The kinds of failure, whatever the system. A client derives each of its error classes from its
# own base and one kind (class KhorosAuthError(KhorosError, AuthError)): callers catch one
# system's errors, and the retry loop of HttpClient reads the kind.


class AuthError(ClientError):
    """Raise when the system refuses the credentials."""


class NotFoundError(ClientError):
    """Raise when the object or the path does not exist."""


class RequestError(ClientError):
    """Raise when the system rejects what was asked: fix the call, not the time."""


class RateLimitedError(ClientError):
    """Raise when the system still throttles after the retry budget is spent."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UnavailableError(ClientError):
    """Raise when the system fails (5xx, timeout, broken connection) after the retry budget."""

    retryable = True


class BadPayloadError(ClientError):
    """Raise when an answer cannot be parsed or breaks the contract."""


class UndecodableBodyError(BadPayloadError):
    """Raise for a 2xx body that is not JSON: the one payload failure worth one more GET."""


# Retry pacing -------------------------------------------------------------------------------


# How many requests a client remembers for its run's page: the latest ones, older ones counted.
REQUEST_LOG_SIZE = 200


class RequestLogEntry(TypedDict):
    """One logical request as a run page shows it. Built only from the method, the path the
    client names (never a query string, a header or a body) and the outcome: redacted by
    construction. A pre-signed link's path is replaced by its host and a marker."""

    method: str
    path: str
    status: str  # the HTTP status of the last attempt, or the transport error's class name
    retries: int
    ms: int  # from the first attempt to the last answer, retry pauses included


@dataclass
class ClientStats:
    """Counts a client keeps for the sync run that uses it, and its latest requests."""

    requests: int = 0  # every HTTP attempt, retries included
    retries: int = 0  # attempts made again after a failure (and pages read again)
    log: deque[RequestLogEntry] = field(
        default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE), compare=False, repr=False
    )
    logged: int = field(default=0, compare=False)  # every logical request, also those dropped

    def record(self, *, method: str, path: str, status: str, retries: int, started: float) -> None:
        self.logged += 1
        self.log.append(
            RequestLogEntry(
                method=method,
                path=path,
                status=status,
                retries=retries,
                ms=max(0, round((time.monotonic() - started) * 1000)),
            )
        )


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


# The transport defaults, in one place: RetryPolicy, HttpClient, client_settings() and the
# <prefix>_* declarations in settings.py all take them from here.
DEFAULT_TIMEOUT_CONNECT = 5.0
DEFAULT_TIMEOUT_READ = 30.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_CAP = 30.0
DEFAULT_RETRY_BUDGET_SECONDS = 120.0
# The read timeout bounds one socket read, not an answer: a proxy sending a byte every 29 s never
# trips a 30 s read timeout and held a worker for (body size x 29 s). A deadline bounds one
# attempt from its connect to the last byte of its body. 120 s is ample for a page of JSON and
# stays well inside the run's lease (SYNC_LEASE_SECONDS, 300 s) for one attempt; retries are
# attempts of their own, each with a fresh deadline, as they are with the read timeout; a sync
# run renews its lease between them (HttpClient.between_attempts).
DEFAULT_DEADLINE_SECONDS = 120.0
# A file download (Khoros' export CSV) is one attempt read while its rows are used; it has its
# own, larger deadline. 240 s stays below the run's lease as well, so that a download that
# stalls cannot outlive the lease even before the KPI sync's heartbeat (every 20,000 rows) came.
DEFAULT_DOWNLOAD_DEADLINE_SECONDS = 240.0
# Most bytes asked of one read of a body; read1 gives what one socket read brings, so a body
# arriving a few bytes at a time is checked against its deadline after every piece.
BODY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a client may try a request again."""

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS  # total sleep one request may spend

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
        before_pause: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy
        self.stats = stats
        self.attempt = 0
        self.slept = 0.0
        self._sleep = sleep
        self._rng = rng
        self._before_pause = before_pause

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
        if self._before_pause is not None:
            self._before_pause()  # may raise: whoever it tells may want no further attempt
        self.stats.retries += 1
        self._sleep(delay)
        self.slept += delay
        return delay


class DeadlineExceededError(requests.Timeout):
    """Raise when an answer takes longer than its deadline: connect, headers and whole body."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the answer took longer than {seconds:g} s")
        self.seconds = seconds


class Deadline:
    """A wall-clock limit on one exchange, checked between the reads that make it up.

    The (connect, read) timeout still bounds each single read, cut to what is left of the
    deadline when the request is sent: the deadline is noticed at the first read that ends
    after it, so an answer is given up within the deadline plus at most one read timeout.
    """

    def __init__(self, seconds: float) -> None:
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError("a deadline must be a positive number of seconds")
        self.seconds = float(seconds)
        self.ends = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.ends - time.monotonic()

    def check(self) -> None:
        """Raise DeadlineExceededError once the deadline has passed."""
        if self.left() <= 0:
            raise DeadlineExceededError(self.seconds)

    def timeouts(self, timeout: tuple[float, float]) -> tuple[float, float]:
        """Return (connect, read) cut to what is left, so that no single wait outlives it."""
        left = max(self.left(), 0.001)
        return min(timeout[0], left), min(timeout[1], left)


def body_chunks(
    response: requests.Response,
    deadline: Deadline | None,
    size: int = BODY_CHUNK,
    *,
    decode_content: bool = True,
) -> Iterator[bytes]:
    """Yield a streamed body as it arrives, in pieces of at most `size` bytes.

    Raise DeadlineExceededError when the deadline passes before the body's end, and the
    requests exception that Response.iter_content would raise when the body breaks off.
    With decode_content false, a compressed body comes as sent.
    """
    # iter_content(size) waits for `size` bytes (or the end) before it yields: a body dripping
    # in would never reach a check. read1 returns whatever one read of the socket brings.
    raw = response.raw
    while True:
        if deadline is not None:
            deadline.check()
        try:
            piece = raw.read1(size, decode_content=decode_content)
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.ConnectionError(exc) from exc
        except urllib3.exceptions.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        if not piece:
            return
        yield piece


def read_body(response: requests.Response, deadline: Deadline | None) -> None:
    """Read a streamed response's whole body within the deadline; `content` then holds it."""
    try:
        content = b"".join(body_chunks(response, deadline))
    except BaseException:
        response.close()
        raise
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]
    response.raw.release_conn()


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


def looks_like_markup(text: str) -> bool:
    """Tell whether a body is an HTML or XML page (a logon page, a proxy's error page)."""
    return text.lstrip()[:1] == "<"


_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean_text(value: str) -> str:
    """Drop NUL characters and lone surrogates, which Postgres text and jsonb cannot store.

    Bidi embedding, override and isolate controls go too: they could make a name read as
    another (U+202E reverses what follows).
    """
    value = value.replace("\x00", "")
    if not value.isascii():
        value = value.translate(_BIDI_CONTROLS)
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean_json(v) for k, v in value.items()}
    return value


def storable_copy(item: dict[str, Any]) -> dict[str, Any]:
    """Return a deep copy of a payload that Postgres can store; raise ValueError if not JSON."""
    try:
        copied = json.loads(json.dumps(item, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise ValueError("not plain JSON") from None
    return _clean_json(copied)


# The client ---------------------------------------------------------------------------------


class TransportOptions(TypedDict, total=False):
    """The keyword arguments of HttpClient that every client passes on unchanged."""

    timeout: tuple[float, float]  # (connect, read) seconds
    max_retries: int
    backoff_base: float
    backoff_cap: float
    retry_budget_seconds: float
    deadline_seconds: float  # one attempt, from connect to the body's last byte
    user_agent: str
    sleep: Callable[[float], None]  # time.sleep; tests pass a recorder


def http_url(url: str) -> SplitResult:
    """Return the parts of a base URL; raise ValueError unless it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must be an http(s) URL")
    return parts


def client_settings(prefix: str) -> TransportOptions:
    """Return a client's timeout and retry arguments from the <prefix>_* Django settings."""
    # <prefix>_TIMEOUT_CONNECT, _TIMEOUT_READ, _MAX_RETRIES, _BACKOFF_BASE, _BACKOFF_CAP,
    # _RETRY_BUDGET_SECONDS and _DEADLINE_SECONDS; a missing one takes the default of HttpClient.
    from django.conf import settings

    def setting(name: str, default: float) -> Any:
        return getattr(settings, f"{prefix}_{name}", default)

    return {
        "timeout": (
            float(setting("TIMEOUT_CONNECT", DEFAULT_TIMEOUT_CONNECT)),
            float(setting("TIMEOUT_READ", DEFAULT_TIMEOUT_READ)),
        ),
        "max_retries": int(setting("MAX_RETRIES", DEFAULT_MAX_RETRIES)),
        "backoff_base": float(setting("BACKOFF_BASE", DEFAULT_BACKOFF_BASE)),
        "backoff_cap": float(setting("BACKOFF_CAP", DEFAULT_BACKOFF_CAP)),
        "retry_budget_seconds": float(
            setting("RETRY_BUDGET_SECONDS", DEFAULT_RETRY_BUDGET_SECONDS)
        ),
        "deadline_seconds": float(setting("DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS)),
    }


class HttpClient:
    """One configured session to one external system, and the retry loop every call goes through."""

    system: ClassVar[str]  # the system's name in messages: "Khoros", "SAP MC"
    unavailable_error: ClassVar[type[UnavailableError]]  # raised when the system does not answer
    logger: ClassVar[logging.Logger]

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        timeout: tuple[float, float] = (DEFAULT_TIMEOUT_CONNECT, DEFAULT_TIMEOUT_READ),
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
        retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        user_agent: str = "smcbridge/0.1",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Open the session; `secrets` are the credentials that no message may show."""
        if len(timeout) != 2 or min(timeout) <= 0:
            raise ValueError("timeout must be a (connect, read) pair of positive seconds")
        self.timeout = (float(timeout[0]), float(timeout[1]))
        Deadline(deadline_seconds)  # refuses a deadline that is not a positive number
        self.deadline_seconds = float(deadline_seconds)
        self.retry_policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            budget_seconds=retry_budget_seconds,
        )
        self.stats = ClientStats()
        self._sleep = sleep
        self._random = random.Random()
        # Called before each pause between attempts. A sync run sets it to its heartbeat: five
        # attempts of a request that each wait out their deadline, with the pauses between
        # them, can take longer than the run's lease, and a run with a live worker would then be
        # taken over as stopped while it still waited. What it raises (the run's lease lost to
        # another run) ends the request without a further attempt.
        self.between_attempts: Callable[[], None] | None = None
        # A server may echo the credential it refused; these never reach a message or a log line.
        self._secrets = tuple(secret for secret in secrets if secret)
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _detail(self, text: str) -> str:
        """Return a server's message as ": <message>" for an error text, redacted and cut short."""
        text = " ".join(clean_text(self._redact(text)).split())
        return f": {text[:200]}" if text else ""

    def _send(
        self,
        method: str,
        url: str,
        *,
        path: str,
        accept: Callable[[requests.Response], _T],
        session: requests.Session | None = None,
        chain: bool = False,
        log_path: str | None = None,
        deadline: Deadline | None = None,
        **request: Any,
    ) -> _T:
        """Send a request, retrying what is safe to retry, and return what `accept` makes of it."""
        # `path` names the request in errors and logs: never the query string, which may hold a
        # credential. `accept` turns a response into a result or raises a ClientError. `chain`
        # keeps the requests exception as the cause of a transport error (its text quotes the
        # URL). `log_path` replaces `path` in the run's request log (a signed link's host and
        # a marker). `deadline` bounds every attempt together (a download whose body the caller
        # reads within it); without it, each attempt has its own of deadline_seconds. The rest
        # goes to Session.request: with stream=True the caller reads the body, else it is read
        # here, within the attempt's deadline, before `accept` sees the response.
        # GET is retried on 429, 500/502/503/504, timeouts and broken connections, and once on a
        # 2xx body that is not JSON (a proxy that cut the body short looks exactly like that).
        # Any other method is retried only when the server cannot have acted on it: 429, or a
        # connection that never opened. After a read timeout, a reset or a 5xx it may well have
        # acted, and sending it again would act twice.
        session = session or self._session
        # Log lines name the request as the run's log does: a signed link's path and query
        # are its credential.
        shown = log_path or path
        idempotent = method == "GET"
        attempts = Attempts(
            self.retry_policy,
            stats=self.stats,
            sleep=self._sleep,
            rng=self._random,
            before_pause=self.between_attempts,
        )
        undecodable_retry_left = idempotent
        started = time.monotonic()
        streamed = bool(request.pop("stream", False))

        def record(outcome: str) -> None:
            self.stats.record(
                method=method,
                path=shown,
                status=outcome,
                retries=attempts.attempt - 1,
                started=started,
            )

        while True:
            attempt = attempts.start()
            retry_after: float | None = None
            cause: BaseException | None = None
            limit = deadline or Deadline(self.deadline_seconds)
            response: requests.Response | None = None
            try:
                limit.check()
                response = session.request(
                    method, url, timeout=limit.timeouts(self.timeout), stream=True, **request
                )
                limit.check()
                if not streamed:
                    read_body(response, limit)
            except requests.RequestException as exc:
                if response is not None:
                    response.close()
                outcome = type(exc).__name__
                if isinstance(exc, DeadlineExceededError):
                    message = f"{self.system}'s answer took longer than {exc.seconds:g} s"
                else:
                    message = f"{self.system} did not answer: {outcome}"
                error: ClientError = self.unavailable_error(message, path=path)
                error.maybe_received = not is_unsent(exc)
                may_retry = idempotent or not error.maybe_received
                if isinstance(exc, DeadlineExceededError) and deadline is not None:
                    may_retry = False  # the caller's deadline is spent for any further attempt
                cause = exc if chain else None
            else:
                outcome = str(response.status_code)
                try:
                    result = accept(response)
                except ClientError as exc:
                    if streamed:
                        response.close()
                    error = exc
                    if isinstance(exc, UndecodableBodyError):
                        may_retry, undecodable_retry_left = undecodable_retry_left, False
                    else:
                        may_retry = self._may_retry(exc, response.status_code, idempotent)
                    if response.status_code in RETRY_STATUSES:
                        # The contracts ask to honour Retry-After on 503 as well as on 429.
                        retry_after = parse_retry_after(response.headers.get("Retry-After"))
                else:
                    self.logger.debug("%s %s -> %s (attempt %d)", method, shown, outcome, attempt)
                    record(outcome)
                    return result
            if may_retry and (delay := attempts.retry(retry_after)) is not None:
                self.logger.warning(
                    "%s %s -> %s (attempt %d); retrying after %.2fs",
                    method,
                    shown,
                    outcome,
                    attempt,
                    delay,
                )
                continue
            self.logger.warning(
                "%s %s -> %s (attempt %d); giving up", method, shown, outcome, attempt
            )
            record(outcome)
            if attempt > 1:
                error.args = (f"{error.args[0]} (gave up after {attempt} attempts)",)
            error.method = method
            raise error from cause

    @staticmethod
    def _may_retry(error: ClientError, status: int, idempotent: bool) -> bool:
        """Tell whether an answer that raised `error` may be asked for again."""
        if isinstance(error, RateLimitedError):
            return True  # a 429 was not processed, whatever the method
        if not idempotent or not isinstance(error, UnavailableError):
            return False
        # 501, 505 and friends will not change on a second try; a failure reported under 2xx
        # (a gateway's PROXY_* envelope) may.
        return status in RETRY_STATUSES or 200 <= status < 300
