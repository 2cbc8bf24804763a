"""The machine side of SAP MC's inbound endpoints: Basic auth, JSON in and out, the call log.

Contract: docs/sapmc-api.md, part 1. Every answer is JSON (`application/json;
charset=utf-8`), errors included: `{"error": {"code": "...", "message": "..."}}`. SAP MC cannot
read a Django HTML page, so none ever leaves these endpoints.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

from sapmc.models import InboundCall
from smcbridge.client_ip import lockout_network
from smcbridge.db import hot_row
from smcbridge.fields import fit
from smcbridge.http import content_length_is_a_number

logger = logging.getLogger("sapmc.inbound")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# Password of the communication user when none is configured and DEBUG is on (the demo).
DEMO_PASSWORD = "sapmc-inbound-demo"  # noqa: S105 - DEBUG only, documented in the README
REALM = "smcbridge"
# The largest body we read: 10,000 campaign ids of 32 characters fit with room to spare, and it
# stays below Django's DATA_UPLOAD_MAX_MEMORY_SIZE so that its HTML error never shows.
MAX_BODY_BYTES = 1024 * 1024
# A correlation id we echo: what SAP MC and proxies send (GUIDs, hex, dotted ids). Anything else
# is replaced by a fresh id rather than copied into a response header or the log.
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,100}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(eq=False)
class ApiError(Exception):
    """An answer other than success, with the status, code and message SAP MC gets."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def bad_request(message: str, code: str = "BAD_REQUEST") -> ApiError:
    return ApiError(400, code, message)


def json_text(data: Any) -> str:
    """The JSON text of every answer: compact, UTF-8 characters as they are."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(json_text(data).encode(), status=status, content_type=JSON_CONTENT_TYPE)


def error_response(error: ApiError) -> HttpResponse:
    response = json_response(
        {"error": {"code": error.code, "message": error.message}}, status=error.status
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def correlation_id(request: HttpRequest) -> str:
    """The caller's X-Correlation-ID when it is a plain token, else a new one (uuid4 hex)."""
    sent = request.headers.get("X-Correlation-ID", "").strip()
    return sent if _CORRELATION_ID.fullmatch(sent) else uuid.uuid4().hex


@dataclass(frozen=True)
class BasicCredentials:
    user: str
    password: str


def basic_credentials(request: HttpRequest) -> BasicCredentials | None:
    """The user and password of an `Authorization: Basic` header, or None when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # RFC 7617's historical default charset
    user, sep, password = text.partition(":")
    if not sep:
        return None
    return BasicCredentials(user=user, password=password)


def caller_name(credentials: BasicCredentials | None) -> str:
    """The attempted user name as it may be stored and logged: printable, short, never a secret."""
    if credentials is None:
        return ""
    name = credentials.user
    # The communication user's own name is no secret, however much it resembles the password.
    if name != settings.SAPMC_INBOUND_USER and _like_the_password(name, inbound_password()):
        return "[redacted]"
    return fit(InboundCall, "caller", _UNPRINTABLE.sub("?", name))


def _like_the_password(name: str, secret: str) -> bool:
    """Whether a user name may be the password typed into the user field, typos included.

    Someone who does that must not find it in the call log: nor the password with a letter
    missing or in another case, which is most of it.
    """
    if not secret:
        return False
    name, secret = name.casefold(), secret.casefold()
    if secret == name or (len(secret) >= 4 and secret in name):
        return True
    return len(secret) >= 4 and SequenceMatcher(None, name, secret).ratio() >= 0.75


def inbound_password() -> str:
    """The communication user's password; checked when a call comes in, not at start."""
    if settings.SAPMC_INBOUND_PASSWORD:
        return settings.SAPMC_INBOUND_PASSWORD
    return DEMO_PASSWORD if settings.DEBUG else ""


def authenticate(credentials: BasicCredentials | None) -> None:
    """Let the configured communication user through; raise a 401 ApiError for anyone else."""
    challenge = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
    expected_password = inbound_password()
    if not expected_password:
        logger.error(
            "SAP MC call refused: SAPMC_INBOUND_PASSWORD is not set and DEBUG is off; set it to "
            "the password of SAP MC's communication user %r",
            settings.SAPMC_INBOUND_USER,
        )
        raise ApiError(401, "UNAUTHORIZED", "The bridge has no inbound credentials.", challenge)
    if credentials is None:
        raise ApiError(401, "UNAUTHORIZED", "HTTP Basic authentication is required.", challenge)
    # Both comparisons always run, in constant time, so that timing tells nothing about which
    # of the two was wrong.
    user_ok = hmac.compare_digest(credentials.user.encode(), settings.SAPMC_INBOUND_USER.encode())
    password_ok = hmac.compare_digest(credentials.password.encode(), expected_password.encode())
    if not (user_ok and password_ok):
        raise ApiError(401, "UNAUTHORIZED", "Wrong user or password.", challenge)


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object; a 4xx ApiError for anything else."""
    content_type = request.content_type or ""
    if content_type and content_type.lower() != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.")
    if not content_length_is_a_number(request):
        raise bad_request("The Content-Length header is not a number.")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    too_large = f"The body is larger than {MAX_BODY_BYTES} bytes."
    if length > MAX_BODY_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", too_large)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", too_large) from None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", too_large)
    if not raw.strip():
        raise bad_request("The body is empty; send a JSON object.")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise bad_request("The body is not UTF-8.") from None
    except json.JSONDecodeError as exc:
        # Where, not Python's words (a byte order mark is "Unexpected UTF-8 BOM (decode using
        # utf-8-sig)").
        raise bad_request(
            f"The body is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from None
    except RecursionError:
        raise bad_request("The body is not valid JSON: nested too deep.") from None
    except ValueError as exc:  # NaN, Infinity: _refuse_constant's own words
        raise bad_request(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.")
    if not _clean_text(data):
        # JSON may escape both (\u0000, \ud800); neither is text the database can store or
        # compare (PostgreSQL refuses NUL, UTF-8 has no lone surrogates).
        raise bad_request(
            "A string of the body holds a NUL character (\\u0000) or an unpaired surrogate."
        )
    return data


def _clean_text(value: Any) -> bool:
    """Whether every string in a parsed JSON value, keys included, is storable text."""
    pending = [value]  # iterative: a body nested as deep as the parser allows must not recurse
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item or _SURROGATE.search(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


@dataclass(frozen=True)
class InboundCallRecord:
    """One call as the call log and the log line tell it."""

    at: datetime
    method: str
    endpoint: str
    caller: str
    status_code: int
    duration_ms: int
    correlation_id: str
    error_code: str

    def values(self) -> list[object]:
        """Its values in the order of _CALL_LOG_COLUMNS, each cut to its column."""
        return [
            connection.ops.adapt_datetimefield_value(self.at),
            fit(InboundCall, "method", self.method),
            fit(InboundCall, "endpoint", self.endpoint),
            fit(InboundCall, "caller", self.caller),
            self.status_code,
            max(0, self.duration_ms),
            fit(InboundCall, "correlation_id", self.correlation_id),
            fit(InboundCall, "error_code", self.error_code),
        ]

    def log_line(self, suffix: str = "") -> None:
        """The call's log line: a warning for a refusal or an error."""
        logger.log(
            logging.WARNING if self.status_code >= 400 else logging.INFO,
            "SAP MC call %s %s -> %s %s caller=%r %sms correlation_id=%s%s",
            self.method, self.endpoint, self.status_code, self.error_code, self.caller,
            self.duration_ms, self.correlation_id, suffix,
        )  # fmt: skip


def inbound_call_log(call: InboundCallRecord) -> None:
    """Record one call; a failure to record it must not turn SAP MC's answer into an error."""
    try:
        hot_row(_call_log_sql(asynchronous=not connection.in_atomic_block), call.values())
    except DatabaseError:
        logger.warning(
            "could not record SAP MC call %s %s", call.method, call.endpoint, exc_info=True
        )


_CALL_LOG_COLUMNS = (
    "at", "method", "endpoint", "caller", "status_code", "duration_ms", "correlation_id",
    "error_code",
)  # fmt: skip

# The calls of one burst counted on one row: those of one address to one endpoint with one
# method and one status within this hour (UTC, from the hour's start).
BURST = timedelta(hours=1)
# A burst's method is one of these or "(other)": a caller chooses the method, and a new one
# on every call must not make a row each.
BURST_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def burst_address(ip: str | None) -> str:
    """The address a burst is counted for: the client's, an IPv6 one as its /64 (the network
    one subscriber gets, so that its 2^64 addresses are not each a burst), "unknown" for none;
    the same block as the lockouts count (smcbridge.client_ip.lockout_network)."""
    network = lockout_network(ip)
    return "unknown" if network is None else str(network)


def burst_start(at: datetime) -> datetime:
    """The start of the burst a call at `at` belongs to: its hour, in UTC."""
    return datetime.fromtimestamp(
        at.timestamp() // BURST.total_seconds() * BURST.total_seconds(), UTC
    )


def inbound_burst_log(call: InboundCallRecord, *, address: str) -> int:
    """Count one call on the row of its burst (one per address, endpoint, method, status and
    hour), made by the first call of the burst: how many calls the row holds with this one, 1 when
    this call made it (so that the caller logs one line per burst); 0 when it could not be
    recorded. One statement, an upsert on the row's unique key: two workers counting the
    same burst at once add to one row, on PostgreSQL as on SQLite, and lose no count."""
    adapt = connection.ops.adapt_datetimefield_value
    if call.method not in BURST_METHODS:
        call = replace(call, method="(other)")
    values = [
        *call.values(),
        adapt(burst_start(call.at)),
        fit(InboundCall, "address", address),
        adapt(call.at),
    ]
    try:
        row = hot_row(_burst_sql(asynchronous=not connection.in_atomic_block), values)
    except DatabaseError:
        logger.warning(
            "could not record SAP MC call %s %s", call.method, call.endpoint, exc_info=True
        )
        return 0
    return int(row[0]) if row else 0


_BURST_COLUMNS = (*_CALL_LOG_COLUMNS, "burst", "address", "last_at")


@cache
def _call_log_sql(*, asynchronous: bool) -> str:
    # One row per call, on every call: an INSERT written once rather than a model saved (its
    # signals, its compiled query), which cost more than the insert itself.
    q = connection.ops.quote_name
    columns = ", ".join(q(name) for name in _CALL_LOG_COLUMNS)  # plain fields: column = name
    marks = ", ".join(["%s"] * len(_CALL_LOG_COLUMNS))
    table = q(InboundCall._meta.db_table)
    if asynchronous and connection.vendor == "postgresql":
        # The log row is the one write of a call, and PostgreSQL waiting for the disk on its
        # commit was a quarter of an answer's time under load (bench api: 538 -> 737 req/s).
        # Committed asynchronously, a row may be lost only if PostgreSQL itself crashes within
        # a second of the call, as SQLite's synchronous=NORMAL may lose it on a power cut; the
        # database stays consistent and nothing else is committed this way. One statement,
        # its own transaction: the setting is local to it (set_config(..., true)), is read by
        # its commit and ends with it. One statement rather than SET LOCAL before the insert,
        # because a query bound on the server (psycopg's server_side_binding) holds only one.
        # Inside a caller's transaction the plain insert is used, so that its commit keeps
        # its own setting.
        return (
            "WITH off AS (SELECT set_config('synchronous_commit', 'off', true)) "
            f"INSERT INTO {table} ({columns}) SELECT {marks} FROM off"
        )
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


@cache
def _burst_sql(*, asynchronous: bool) -> str:
    # The row of a burst: made by its first call, counted by the others. ON CONFLICT names the
    # partial unique index of InboundCall (sapmc_one_row_per_call_burst) by its columns and
    # condition; PostgreSQL and SQLite (3.35 for RETURNING) read it alike. The earliest and
    # the latest time win whichever worker commits first.
    q = connection.ops.quote_name
    table = q(InboundCall._meta.db_table)
    columns = ", ".join(q(name) for name in _BURST_COLUMNS)
    marks = ", ".join(["%s"] * len(_BURST_COLUMNS))
    at, last_at, calls = q("at"), q("last_at"), q("calls")
    key = ", ".join(q(name) for name in ("burst", "address", "endpoint", "method", "status_code"))
    upsert = (
        f"ON CONFLICT ({key}) WHERE {q('burst')} IS NOT NULL DO UPDATE SET "
        f"{calls} = {table}.{calls} + 1, "
        f"{at} = CASE WHEN excluded.{at} < {table}.{at} THEN excluded.{at} ELSE {table}.{at} END, "
        f"{last_at} = CASE WHEN excluded.{last_at} > {table}.{last_at} "
        f"THEN excluded.{last_at} ELSE {table}.{last_at} END "
        f"RETURNING {calls}"
    )
    if asynchronous and connection.vendor == "postgresql":
        # Committed asynchronously, as one call's row (_call_log_sql): the same one statement.
        return (
            "WITH off AS (SELECT set_config('synchronous_commit', 'off', true)) "
            f"INSERT INTO {table} ({columns}) SELECT {marks} FROM off {upsert}"
        )
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) {upsert}"
