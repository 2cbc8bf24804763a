"""Parse Khoros payloads into typed objects; no I/O here, the HTTP side lives in khoros.client."""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

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
from smcbridge.payloads import WirePayload, explain, validate


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,9})?")
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
# Initiative ids are integers in practice; a bound keeps junk out of the mirror's 32-char column.
_MAX_ID_LENGTH = 32
# Integers whose decimal form fits the bound, minus sign included: str() of them is the id.
_ID_INT_MIN = -(10 ** (_MAX_ID_LENGTH - 1)) + 1
_ID_INT_MAX = 10**_MAX_ID_LENGTH - 1
# The canonical form str(uuid.UUID(...)) prints: such a string is its own canonical form.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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


# --- Payload models: declared fields, strict types, explicit validators for the variants -----
#
# Names and texts must be JSON strings (never coerced from numbers); ids may be a string or an
# integer (both documented); instants may be epoch milliseconds (number or digits), ISO with
# "Z", or ISO with an offset with or without its colon; a /v2/whoami answer may be bare (the
# spec's example) or inside a "data" envelope. Every model is frozen; invalid input raises
# KhorosBadPayloadError naming the object and the field.


# The validators below run per field of every Plan of a page (issue 13): the common case (an
# ASCII string without NUL, an integer id, epoch milliseconds) is answered before any call.


def _text(value: object) -> str:
    if type(value) is str and value.isascii() and "\x00" not in value:
        return value  # what clean_text would return
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    return clean_text(value)


def _optional_text(value: object) -> str:
    return "" if value is None else _text(value)


def _required_text(value: object) -> str:
    if value is None:
        raise ValueError("missing")
    return _text(value)


def _khoros_id(value: object, what: str) -> str:
    """normalise_id, answered at once for an integer (Khoros's usual id)."""
    if type(value) is int and _ID_INT_MIN <= value <= _ID_INT_MAX:
        return str(value)  # what normalise_id returns for it
    return normalise_id(value, what)


def _id(value: object) -> str:
    try:
        return _khoros_id(value, "id")
    except KhorosBadPayloadError as exc:
        raise ValueError(str(exc).removeprefix("id: ")) from None


def _instant(value: object) -> datetime:
    if type(value) is int:
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except (OverflowError, ValueError):
            pass  # parse_datetime words the error
    if value is None:
        raise ValueError("missing")
    try:
        return parse_datetime(value)
    except KhorosBadPayloadError as exc:
        raise ValueError(str(exc)) from None


def _optional_instant(value: object) -> datetime | None:
    return None if value is None else _instant(value)


def _wall_time(value: object) -> datetime | None:
    """A wall time, or None for none or for a text that is none: the spec promises only "a
    string", and nothing is decided from it (failing the status over it lost the export)."""
    try:
        return None if value is None else _parse_wall_time(value)
    except KhorosBadPayloadError:
        return None


def plan_uuid(value: object) -> str:
    """A Plan id in its canonical form (lower-case UUID); ValueError when it is none."""
    if not isinstance(value, str):
        # Plan ids are UUIDs; a number cannot be one, so it is a broken payload, not a variant.
        raise ValueError(f"must be a UUID string, got {type(value).__name__}")
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError(f"is not a UUID: {value[:40]!r}") from None


OptionalText = Annotated[str, BeforeValidator(_optional_text)]
KhorosId = Annotated[str, BeforeValidator(_id)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
OptionalInstant = Annotated[datetime | None, BeforeValidator(_optional_instant)]


class _Payload(WirePayload):
    pass


class Company(_Payload):
    """One company of /v2/me."""

    id: KhorosId
    name: OptionalText = ""


class WhoAmI(_Payload):
    """The API user of /v2/whoami; its zone stands in for the company's."""

    # The public docs name the id only in prose ("user id"): both spellings seen are accepted.
    user_id: KhorosId = Field(validation_alias=AliasChoices("id", "userId", "user_id"))
    email: OptionalText = ""
    timezone: Annotated[str, BeforeValidator(_required_text), AfterValidator(str.strip)]

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: object) -> object:
        # The introspection spec's example is a bare object (integer id, no envelope); the rest
        # of V2 wraps objects in "data". A bare answer has its own id; an envelope has none.
        if isinstance(data, dict) and "id" not in data and "userId" not in data:
            inner = data.get("data")
            if isinstance(inner, dict):
                return inner
        return data

    @model_validator(mode="after")
    def _zone_named(self) -> WhoAmI:
        if not self.timezone:
            raise ValueError("empty timezone")
        return self


class Initiative(_Payload):
    id: KhorosId
    # Not required by the spec (its answers list no required property): a blank name is shown
    # as "(no name)" with the id, as a blank one always was.
    name: OptionalText = ""
    description: OptionalText = ""


class Plan(_Payload):
    id: Annotated[str, BeforeValidator(plan_uuid)]  # UUID, lower-case canonical form
    initiative_id: KhorosId = Field(alias="campaignId")
    name: OptionalText = ""  # optional in the spec, as the Initiative's
    color: OptionalText = ""
    start: Instant = Field(alias="startDate")
    end: Instant = Field(alias="endDate")  # inclusive: the last ms of the Plan's last local day
    overview: OptionalText = ""
    objective: OptionalText = ""
    target_audience: OptionalText = Field("", alias="targetAudience")
    created: OptionalInstant = Field(None, alias="createdDate")
    last_modified: OptionalInstant = Field(None, alias="lastModifiedDate")
    # The payload as received, stored with the mirror; not part of a Plan's identity.
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _place(cls, data: object, info: ValidationInfo) -> object:
        if not isinstance(data, dict):
            return data
        listed_under = (info.context or {}).get("initiative_id")
        placed = dict(data)
        parent = data.get("campaignId")
        if parent is not None:
            parent_id = _khoros_id(parent, "plan campaignId")
            if listed_under is not None and parent_id != listed_under:
                # Filing a Plan under the wrong Initiative would show it to the wrong managers.
                raise _bad(
                    f"{_plan_label(data)}: belongs to Initiative {parent_id}, listed under "
                    f"{listed_under}"
                )
        elif listed_under is not None:
            placed["campaignId"] = listed_under
        if "raw" not in data:
            # A page decoded by the client is already plain, storable JSON and ours alone:
            # copying it again cost as much as the rest of the validation (issue 13).
            owned = (info.context or {}).get("storable")
            placed["raw"] = data if owned else json_safe_copy(data)
        return placed

    @model_validator(mode="after")
    def _in_order(self) -> Plan:
        if self.end < self.start:
            raise ValueError("ends before it starts")
        return self

    def _identity(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in type(self).model_fields if name != "raw")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


class ExportStatus(_Payload):
    export_id: KhorosId
    # Lower-case: pending, running, complete, failed (only "complete" is documented).
    status: Annotated[str, BeforeValidator(_required_text), AfterValidator(str.strip)]
    url: Annotated[str | None, BeforeValidator(lambda v: _optional_text(v).strip() or None)] = None
    # Wall time as Khoros sends it: naive (no offset, the spec's example) in the export's own
    # time zone, which the answer does not name; aware only if an offset ever comes. Compare
    # it with a clock through expires_at(zone), never directly: nothing here decides expiry
    # (an expired link answers 403, and the KPI sync then asks for a fresh one).
    expires: Annotated[datetime | None, BeforeValidator(_wall_time)] = None

    @model_validator(mode="before")
    @classmethod
    def _answered_for(cls, data: object, info: ValidationInfo) -> object:
        asked = (info.context or {}).get("export_id")
        if not isinstance(data, dict) or asked is None:
            return data
        if "export_id" in data:
            answered = normalise_id(data["export_id"], "export status")
            if answered != asked:
                raise _bad(f"export status: asked for {asked}, answered for {answered}")
        status = data.get("status")
        return {
            **data,
            "export_id": asked,
            "status": status.lower() if isinstance(status, str) else status,
        }

    @model_validator(mode="after")
    def _usable(self) -> ExportStatus:
        if not self.status:
            raise ValueError("empty status")
        if self.status == "complete" and self.url is None:
            raise ValueError("complete without a download url")
        return self

    def expires_at(self, zone: tzinfo) -> datetime | None:
        """The instant the link expires, reading a naive `expires` in `zone` (the export's)."""
        if self.expires is None or self.expires.tzinfo is not None:
            return self.expires
        return self.expires.replace(tzinfo=zone).astimezone(UTC)


M = TypeVar("M", bound=WirePayload)


def _plan_label(data: dict[str, Any]) -> str:
    try:
        return f"plan {plan_uuid(data.get('id'))}"
    except ValueError:
        return "plan"


def _validate(model: type[M], item: object, what: str, **context: object) -> M:
    return validate(model, item, what, bad=_bad, context=context)


def parse_initiative(item: object) -> Initiative:
    """Parse one Initiative item."""
    return _validate(Initiative, item, "initiative")


def parse_plan(item: object, *, initiative_id: str | None = None) -> Plan:
    """Parse one Plan item; `initiative_id` is the Initiative it was listed under, if any."""
    what = _plan_label(item) if isinstance(item, dict) else "plan"
    return _validate(Plan, item, what, initiative_id=initiative_id)


_PLAN_PAGE: TypeAdapter[list[Plan]] = TypeAdapter(list[Plan])
_FLAT_SCALARS = frozenset({type(None), bool})
# Every integer below this prints whatever int_max_str_digits is set to (640 at the least).
_PRINTABLE_INT = 10**600


def _flat_and_clean(items: list[Any]) -> bool:
    """Tell whether every item is a flat object of ASCII strings without NUL, integers,
    booleans and nulls: plain JSON no string of which needs clean_text (a Plan page as Khoros
    sends it). False only means "look closer": it is four times cheaper than json.dumps."""
    for item in items:
        if type(item) is not dict:
            return False
        for key, value in item.items():
            if type(key) is not str or not key.isascii() or "\x00" in key:
                return False
            kind = type(value)
            if kind is str:
                if not value.isascii() or "\x00" in value:
                    return False
            elif kind is int:
                if not -_PRINTABLE_INT < value < _PRINTABLE_INT:
                    return False
            elif kind not in _FLAT_SCALARS:
                return False
    return True


def parse_plan_page(items: list[Any], *, initiative_id: str | None = None) -> list[Plan]:
    """Parse the Plan items of one decoded page at once; errors name the Plan like parse_plan.

    The page's items must come straight from the JSON decoder (the client's): they are kept as
    the Plans' raw payloads without a copy once one pass over the page shows that no string in
    it needs cleaning (every string ASCII, no escape: no NUL, no lone surrogate, no bidi
    control). Otherwise each item is copied and cleaned, as parse_plan does.
    """
    storable = _flat_and_clean(items)
    if not storable:
        try:
            # ensure_ascii (the default) writes every non-ASCII character as an escape: no
            # backslash-u in the text means no string of the page needs clean_text.
            storable = "\\u" not in json.dumps(items, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            storable = False  # not plain JSON: parse_plan's copy says so, item by item
    try:
        return _PLAN_PAGE.validate_python(
            items, context={"initiative_id": initiative_id, "storable": storable}
        )
    except ValidationError as exc:
        index = exc.errors(include_url=False, include_input=False)[0]["loc"][0]
        item = items[index] if isinstance(index, int) and index < len(items) else None
        # The failing item alone, validated again, gives parse_plan's words for it.
        parse_plan(item, initiative_id=initiative_id)
        raise _bad(f"plan: {explain(exc)}") from None  # not reached: the item failed again
    except RecursionError:
        raise _bad("plan: nested too deep") from None


@dataclass(frozen=True)
class UnreadablePlan:
    """A listed Plan whose item does not parse on its own (no startDate, say): its id, so that
    the sync neither takes it as removed nor stops at it, and why."""

    id: str
    reason: str


def parse_plan_items(
    items: list[Any], *, initiative_id: str | None = None
) -> list[Plan | UnreadablePlan]:
    """parse_plan_page, except that a Plan failing alone is an UnreadablePlan, not the page's
    failure: one bad Plan no longer keeps every other Plan of its Initiative from the mirror.
    An item without a readable Plan id still fails the page: it could be any Plan."""
    try:
        return list(parse_plan_page(items, initiative_id=initiative_id))
    except KhorosBadPayloadError:
        pass
    parsed: list[Plan | UnreadablePlan] = []
    for item in items:
        try:
            parsed.append(parse_plan(item, initiative_id=initiative_id))
        except KhorosBadPayloadError as exc:
            try:
                key = plan_uuid(item["id"])
            except (TypeError, KeyError, ValueError):
                raise exc from None
            parsed.append(UnreadablePlan(key, str(exc)))
    return parsed


def parse_company(item: object) -> Company:
    """Parse one company of /v2/me."""
    return _validate(Company, item, "company")


def parse_whoami(item: object) -> WhoAmI:
    """Parse /v2/whoami, bare as the public spec shows it or inside a "data" envelope."""
    return _validate(WhoAmI, item, "whoami")


def parse_export_status(item: object, *, export_id: str) -> ExportStatus:
    """Parse the answer of the export status endpoint for the export `export_id`."""
    return _validate(ExportStatus, item, f"export {export_id}", export_id=export_id)


def parse_field(item: object) -> tuple[int, str]:
    """Parse one analytics export field as (id, name)."""
    data = require_mapping(item, "export field")
    raw_id = data.get("id")
    if isinstance(raw_id, str) and raw_id.strip().isascii() and raw_id.strip().isdigit():
        raw_id = int(raw_id.strip())
    if isinstance(raw_id, bool) or not isinstance(raw_id, int):
        raise _bad("export field: id must be an integer")
    return raw_id, required_text(data, "name", f"export field {raw_id}")
