"""Parse Khoros payloads into typed objects; no I/O here, the HTTP side lives in khoros.client."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from smcbridge.outgoing_http import (
    AuthError,
    BadPayloadError,
    ClientError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    UnavailableError,
    clean_text,
    storable_copy,
)


class KhorosError(ClientError):
    """Base of every error the Khoros client raises; `retryable` says whether trying later helps."""

    def __init__(self, message: str, *, code: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.code = code  # Khoros' error code (UNAUTHENTICATED, VALIDATION_ERROR, ...), upper-case


class KhorosAuthError(KhorosError, AuthError):
    """Raise when the token is refused, expired or cannot reach the configured company."""


class KhorosNotFoundError(KhorosError, NotFoundError):
    """Raise when the object or the path does not exist."""


class KhorosRequestError(KhorosError, RequestError):
    """Raise when Khoros rejects what was sent (VALIDATION_ERROR, MISSING_FIELD, other 4xx)."""


class KhorosRateLimitedError(KhorosError, RateLimitedError):
    """Raise when Khoros still throttles after the retry budget is spent."""


class KhorosUnavailableError(KhorosError, UnavailableError):
    """Raise when Khoros fails (5xx, timeout, broken connection) after the retry budget."""


class KhorosBadPayloadError(KhorosError, BadPayloadError):
    """Raise when an answer cannot be parsed or does not have the documented shape."""


class KhorosIncompleteListingError(KhorosError):
    """Raise when a paged list ended before the items its totalItems promised (a page empty
    even when read again): what was read is in `items`, and nothing may be taken as removed."""

    retryable = True

    def __init__(self, message: str, *, items: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.items: list[Any] = list(items or [])


class KhorosLinkExpiredError(KhorosError):
    """Raise when a download link is refused: ask the export status again for a fresh one."""

    retryable = True


@dataclass(frozen=True)
class Company:
    id: str
    name: str


@dataclass(frozen=True)
class WhoAmI:
    user_id: str
    email: str
    timezone: str


@dataclass(frozen=True)
class Initiative:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Plan:
    id: str  # UUID, lower-case canonical form
    initiative_id: str
    name: str
    color: str
    start: datetime
    end: datetime  # inclusive: the last millisecond of the Plan's last local day
    overview: str
    objective: str
    target_audience: str
    created: datetime | None
    last_modified: datetime | None
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class ExportStatus:
    export_id: str
    status: str  # lower-case: pending, running, complete, failed (only "complete" is documented)
    url: str | None
    # Wall time as Khoros sends it: naive (no offset, the spec's example) in the export's own
    # time zone, which the answer does not name; aware only if an offset ever comes. Compare
    # it with a clock through expires_at(zone), never directly: nothing here decides expiry
    # (an expired link answers 403, and the KPI sync then asks for a fresh one).
    expires: datetime | None

    def expires_at(self, zone: tzinfo) -> datetime | None:
        """The instant the link expires, reading a naive `expires` in `zone` (the export's)."""
        if self.expires is None or self.expires.tzinfo is not None:
            return self.expires
        return self.expires.replace(tzinfo=zone).astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,9})?")
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
# Initiative ids are integers in practice; a bound keeps junk out of the mirror's 32-char column.
_MAX_ID_LENGTH = 32


def _bad(message: str) -> KhorosBadPayloadError:
    return KhorosBadPayloadError(message)


def _from_epoch_ms(value: float) -> datetime:
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except (OverflowError, ValueError):
        raise _bad("epoch milliseconds out of range") from None


def _parse_datetime(value: object, *, naive_as_utc: bool) -> datetime:
    if isinstance(value, bool):  # bool is an int subclass: True is not 1 ms after the epoch
        raise _bad("a boolean is not a date")
    if isinstance(value, int):
        return _from_epoch_ms(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad("a non-finite number is not a date")
        return _from_epoch_ms(value)
    if not isinstance(value, str):
        raise _bad(f"expected a date, got {type(value).__name__}")
    text = value.strip()
    if _NUMERIC.fullmatch(text):
        return _from_epoch_ms(float(text) if "." in text else int(text))
    match = _ISO.fullmatch(text)
    if match is None:
        raise _bad(f"unrecognised date: {text[:40]!r}")
    if match["offset"] is None and not naive_as_utc:
        # A local time without its zone cannot be placed on the timeline; guessing shifts Plans.
        raise _bad(f"date without a UTC offset: {text[:40]!r}")
    if match["offset"] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad(f"invalid date: {text[:40]!r}") from None


def _parse_wall_time(value: object) -> datetime:
    """Parse an ISO date-time; without an offset it stays naive (a local wall time)."""
    match = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is not None and match["offset"] is None:
        try:
            return datetime.fromisoformat(match[0])
        except ValueError:
            raise _bad(f"invalid date: {match[0][:40]!r}") from None
    return _parse_datetime(value, naive_as_utc=False)


def parse_datetime(value: object) -> datetime:
    """Parse epoch milliseconds (number or digits) or an ISO string with an offset, to UTC."""
    return _parse_datetime(value, naive_as_utc=False)


def json_safe_copy(item: dict[str, Any]) -> dict[str, Any]:
    """Return a deep, storable copy of a payload; raise KhorosBadPayloadError if not JSON."""
    try:
        return storable_copy(item)
    except ValueError:
        raise _bad("payload is not plain JSON") from None


def require_mapping(item: object, what: str) -> dict[str, Any]:
    """Return the item if it is a JSON object with string keys, else raise."""
    if not isinstance(item, dict):
        raise _bad(f"{what}: expected an object, got {type(item).__name__}")
    return item


def normalise_id(value: object, what: str) -> str:
    """Return a string or integer id as a non-empty string."""
    if isinstance(value, bool):
        raise _bad(f"{what}: a boolean is not an id")
    if isinstance(value, int):
        try:
            text = str(value)
        except ValueError:  # more digits than Python agrees to print
            raise _bad(f"{what}: id is too large") from None
    elif isinstance(value, str):
        text = clean_text(value).strip()
    else:
        raise _bad(f"{what}: expected a string or integer id, got {type(value).__name__}")
    if not text:
        raise _bad(f"{what}: empty id")
    if len(text) > _MAX_ID_LENGTH:
        raise _bad(f"{what}: id longer than {_MAX_ID_LENGTH} characters")
    return text


def optional_text(item: dict[str, Any], key: str, what: str) -> str:
    """Return a string field, "" when missing or null."""
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{what}: {key} must be a string, got {type(value).__name__}")
    return clean_text(value)


def required_text(item: dict[str, Any], key: str, what: str) -> str:
    """Return a string field that must be present (it may be empty)."""
    if item.get(key) is None:
        raise _bad(f"{what}: missing {key}")
    return optional_text(item, key, what)


def _optional_datetime(item: dict[str, Any], key: str, what: str) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except KhorosBadPayloadError as exc:
        raise _bad(f"{what}: {key}: {exc}") from None


def _required_datetime(item: dict[str, Any], key: str, what: str) -> datetime:
    parsed = _optional_datetime(item, key, what)
    if parsed is None:
        raise _bad(f"{what}: missing {key}")
    return parsed


def parse_initiative(item: object) -> Initiative:
    """Parse one Initiative item."""
    data = require_mapping(item, "initiative")
    if "id" not in data:
        raise _bad("initiative: missing id")
    initiative_id = normalise_id(data["id"], "initiative")
    what = f"initiative {initiative_id}"
    return Initiative(
        id=initiative_id,
        name=required_text(data, "name", what),
        description=optional_text(data, "description", what),
    )


def parse_plan(item: object, *, initiative_id: str | None = None) -> Plan:
    """Parse one Plan item; `initiative_id` is the Initiative it was listed under, if any."""
    data = require_mapping(item, "plan")
    raw_id = data.get("id")
    if not isinstance(raw_id, str):
        # Plan ids are UUIDs; a number cannot be one, so it is a broken payload, not a variant.
        raise _bad(f"plan: id must be a UUID string, got {type(raw_id).__name__}")
    try:
        plan_id = str(uuid.UUID(raw_id.strip()))
    except ValueError:
        raise _bad(f"plan: id is not a UUID: {raw_id[:40]!r}") from None
    what = f"plan {plan_id}"
    parent = data.get("campaignId")
    if parent is not None:
        parent_id = normalise_id(parent, f"{what} campaignId")
        if initiative_id is not None and parent_id != initiative_id:
            # Filing a Plan under the wrong Initiative would show it to the wrong managers.
            raise _bad(f"{what}: belongs to Initiative {parent_id}, listed under {initiative_id}")
    elif initiative_id is not None:
        parent_id = initiative_id
    else:
        raise _bad(f"{what}: missing campaignId")
    start = _required_datetime(data, "startDate", what)
    end = _required_datetime(data, "endDate", what)
    if end < start:
        raise _bad(f"{what}: ends before it starts")
    return Plan(
        id=plan_id,
        initiative_id=parent_id,
        name=required_text(data, "name", what),
        color=optional_text(data, "color", what),
        start=start,
        end=end,
        overview=optional_text(data, "overview", what),
        objective=optional_text(data, "objective", what),
        target_audience=optional_text(data, "targetAudience", what),
        created=_optional_datetime(data, "createdDate", what),
        last_modified=_optional_datetime(data, "lastModifiedDate", what),
        raw=json_safe_copy(data),
    )


def parse_company(item: object) -> Company:
    """Parse one company of /v2/me."""
    data = require_mapping(item, "company")
    if "id" not in data:
        raise _bad("company: missing id")
    company_id = normalise_id(data["id"], "company")
    return Company(id=company_id, name=optional_text(data, "name", f"company {company_id}"))


def parse_whoami(item: object) -> WhoAmI:
    """Parse the data of /v2/whoami."""
    data = require_mapping(item, "whoami")
    # The public docs name the fields only in prose ("user id"): accept both spellings seen.
    raw_id = data.get("id", data.get("userId"))
    if raw_id is None:
        raise _bad("whoami: missing user id")
    timezone = required_text(data, "timezone", "whoami").strip()
    if not timezone:
        raise _bad("whoami: empty timezone")
    return WhoAmI(
        user_id=normalise_id(raw_id, "whoami"),
        email=optional_text(data, "email", "whoami"),
        timezone=timezone,
    )


def parse_export_status(item: object, *, export_id: str) -> ExportStatus:
    """Parse the answer of the export status endpoint for the export `export_id`."""
    data = require_mapping(item, "export status")
    if "export_id" in data:
        answered = normalise_id(data["export_id"], "export status")
        if answered != export_id:
            raise _bad(f"export status: asked for {export_id}, answered for {answered}")
    status = required_text(data, "status", f"export {export_id}").strip().lower()
    if not status:
        raise _bad(f"export {export_id}: empty status")
    url = optional_text(data, "url", f"export {export_id}").strip() or None
    if status == "complete" and url is None:
        raise _bad(f"export {export_id}: complete without a download url")
    expires_raw = data.get("expires")
    try:
        # The spec's example has no offset ("2021-03-24T16:58:16.478", one hour after the
        # "...T155721-0500" in its file name): local wall time, kept naive (see ExportStatus).
        expires = None if expires_raw is None else _parse_wall_time(expires_raw)
    except KhorosBadPayloadError as exc:
        raise _bad(f"export {export_id}: expires: {exc}") from None
    return ExportStatus(export_id=export_id, status=status, url=url, expires=expires)


def parse_field(item: object) -> tuple[int, str]:
    """Parse one analytics export field as (id, name)."""
    data = require_mapping(item, "export field")
    raw_id = data.get("id")
    if isinstance(raw_id, str) and raw_id.strip().isascii() and raw_id.strip().isdigit():
        raw_id = int(raw_id.strip())
    if isinstance(raw_id, bool) or not isinstance(raw_id, int):
        raise _bad("export field: id must be an integer")
    return raw_id, required_text(data, "name", f"export field {raw_id}")
