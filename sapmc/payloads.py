"""Parse SAP MC campaign payloads (OData V2 JSON) into typed objects; no I/O here.

The HTTP side lives in sapmc.client, which re-exports everything public here. The wire shape is
declared as frozen, strict pydantic models (read by the wire names only); what the rest of the
bridge holds are the plain frozen dataclasses Campaign and CampaignReference.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, Any, TypeVar

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
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
from smcbridge.payloads import WirePayload, validate

REFERENCES = "ExternalCampaignReferences"
# Field lengths of sapmc-api.md part 2 (the EDMX's MaxLength): the values round-trip into SAP MC,
# so longer ones are refused here rather than cut (a cut ExternalCampaignID would point at
# another Plan).
CAMPAIGN_ID_LENGTH = 10
CAMPAIGN_NAME_LENGTH = 40
LIFECYCLE_STATUS_LENGTH = 1
EXTERNAL_ID_LENGTH = 32
EXTERNAL_NAME_LENGTH = 255
EXTERNAL_URL_LENGTH = 1000
PARTY_LENGTH = 32
PARTY_NAME_LENGTH = 255

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# OData V2 JSON dates: "/Date(<ms since the epoch>)/" for Edm.DateTime, with "+hhmm"-looking
# minutes for Edm.DateTimeOffset ("+0000", "+0060", "-0090").
_ODATA_DATE = re.compile(
    r"/Date\((?P<ms>-?[0-9]{1,15})(?:(?P<sign>[+-])(?P<offset>[0-9]{1,4}))?\)/"
)


class SapmcError(ClientError):
    """Base of every error the SAP MC client raises; `retryable` says whether trying later helps."""


class SapmcAuthError(SapmcError, AuthError):
    """Raise when SAP MC refuses the communication user (401, 403, a logon page or redirect)."""


class SapmcNotFoundError(SapmcError, NotFoundError):
    """Raise when the entity or the service path does not exist."""


class SapmcRequestError(SapmcError, RequestError):
    """Raise when SAP MC rejects what was asked (400 and other 4xx): fix the call, not the time."""


class SapmcRateLimitedError(SapmcError, RateLimitedError):
    """Raise when SAP MC still throttles after the retry budget is spent."""


class SapmcUnavailableError(SapmcError, UnavailableError):
    """Raise when SAP MC fails (5xx, timeout, broken connection) after the retry budget."""


class SapmcBadPayloadError(SapmcError, BadPayloadError):
    """Raise when an answer cannot be parsed or breaks the contract (shape, lengths, links)."""


class SapmcIncompleteListingError(SapmcBadPayloadError):
    """Raise when a listing ended with positions unread (a gap, a loop) or read twice.

    Everything read is valid; what is missing is proof that nothing else exists, so nothing may
    be taken as removed. Retryable: the next run usually meets a list that holds still.
    """

    retryable = True

    def __init__(self, message: str, *, listing: CampaignListing) -> None:
        """Carry the listing (campaigns read, problems met) with the message."""
        super().__init__(message)
        self.listing = listing


@dataclass(frozen=True)
class CampaignReference:
    external_campaign_uuid: str  # lower-case canonical
    external_campaign_id: str  # a Khoros Plan UUID without hyphens, as SAP MC holds it
    campaign_uuid: str
    name: str
    url: str
    advertiser: str  # Khoros company id
    advertiser_name: str
    managing_party: str  # Khoros Initiative id
    managing_party_name: str


@dataclass(frozen=True)
class Campaign:
    uuid: str  # lower-case canonical
    campaign_id: str
    name: str
    description: str
    start: date | None  # the day of the Edm.DateTime instant in SAP MC's time zone
    end: date | None
    lifecycle_status: str  # a customer-configured code: compare with settings, not constants
    lifecycle_status_name: str
    category: str
    category_name: str
    media_type: str
    marketing_area: str
    owner: str
    created: datetime | None  # aware UTC
    changed: datetime | None
    references: tuple[CampaignReference, ...]
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass
class CampaignListing:
    """The campaigns of one category as read, and why the reading may have missed some."""

    campaigns: list[Campaign]
    problems: list[str]  # each problem once, in the order met; empty for a whole listing
    count: int | None  # SAP MC's __count of the last page, None when it sent none
    duplicates: int = 0  # results dropped because the campaign had been read already
    # The error that ended the reading after some pages had been answered (5xx after the
    # retries, a cut page, a refusal): the pages before it are in campaigns, the rest unread.
    stopped_by: SapmcError | None = None

    @property
    def complete(self) -> bool:
        """Whether every position SAP MC counted was read once: only then may absence count."""
        return not self.problems and self.stopped_by is None

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def problem_text(self) -> str:
        shown = "; ".join(self.problems[:5])
        more = len(self.problems) - 5
        return shown + (f"; and {more} more" if more > 0 else "")


def _bad(message: str) -> SapmcBadPayloadError:
    return SapmcBadPayloadError(message)


def _storable(item: dict[str, Any]) -> dict[str, Any]:
    try:
        return storable_copy(item)
    except ValueError:
        raise _bad("campaign payload is not plain JSON") from None


def parse_odata_datetime(value: object) -> datetime:
    """Parse an OData V2 JSON date ("/Date(ms)/" or "/Date(ms+0000)/") to an aware UTC datetime."""
    # The milliseconds count from the epoch in UTC; the optional suffix is the offset, in
    # minutes, of the zone the value was entered in. SAP's Cloud SDK reads it that way (datajs
    # would move the instant by the offset); SAP Gateway always sends +0000, where both agree.
    if not isinstance(value, str):
        raise _bad(f"expected an OData date string, got {type(value).__name__}")
    found = _ODATA_DATE.fullmatch(value)
    if found is None:
        raise _bad(f"not an OData date: {clean_text(value[:40])!r}")
    if found["offset"] is not None and int(found["offset"]) >= 24 * 60:
        raise _bad(f"OData date offset out of range: {value[:40]!r}")
    try:
        return _EPOCH + timedelta(milliseconds=int(found["ms"]))
    except OverflowError:
        raise _bad(f"OData date out of range: {value[:40]!r}") from None


def _mapping(item: object, what: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _bad(f"{what}: expected an object, got {type(item).__name__}")
    return item


# --- Wire models: declared fields, strict types, explicit validators for the variants ---------
#
# Texts must be JSON strings (never coerced from numbers) and are cut of NUL and lone
# surrogates; lengths are the EDMX's MaxLength; GUIDs become lower-case canonical; instants are
# "/Date(ms)/" (Edm.DateTime) or "/Date(ms+0000)/" (Edm.DateTimeOffset). Invalid input raises
# SapmcBadPayloadError naming the object and the field.


def _text(value: object, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    value = clean_text(value)
    # Characters, not SAP's UTF-16 units (sapmc.sap_length): what SAP MC's field holds is never
    # more characters than units, so this refuses nothing SAP MC can send.
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    return value


def _optional(max_length: int | None = None) -> Any:
    return BeforeValidator(lambda v: "" if v is None else _text(v, max_length))


def _required(max_length: int | None = None, *, blank: bool = True) -> Any:
    def check(value: object) -> str:
        if value is None:
            raise ValueError("missing")
        text = _text(value, max_length)
        if not blank and not text.strip():
            raise ValueError("empty")
        return text

    return BeforeValidator(check)


def _guid(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a GUID string, got {type(value).__name__}")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError(f"is not a GUID: {clean_text(value[:40])!r}") from None


def _optional_instant(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_odata_datetime(value)
    except SapmcBadPayloadError as exc:
        raise ValueError(str(exc)) from None


Guid = Annotated[str, BeforeValidator(_guid)]
OptionalGuid = Annotated[str | None, BeforeValidator(lambda v: None if v is None else _guid(v))]
OptionalInstant = Annotated[datetime | None, BeforeValidator(_optional_instant)]


class _Payload(WirePayload):
    pass


class ReferencePayload(_Payload):
    """One ExternalCampaignReferences entity as SAP MC sends it."""

    external_campaign_uuid: Guid = Field(alias="ExternalCampaignUUID")
    external_campaign_id: Annotated[str, _required(EXTERNAL_ID_LENGTH, blank=False)] = Field(
        alias="ExternalCampaignID"
    )
    # Absent when SAP MC leaves the key of the parent out: the campaign it was expanded under.
    campaign_uuid: OptionalGuid = Field(None, alias="CampaignUUID")
    name: Annotated[str, _optional(EXTERNAL_NAME_LENGTH)] = Field("", alias="ExternalCampaignName")
    url: Annotated[str, _optional(EXTERNAL_URL_LENGTH)] = Field("", alias="ExternalCampaignURL")
    advertiser: Annotated[str, _optional(PARTY_LENGTH)] = Field("", alias="Advertiser")
    advertiser_name: Annotated[str, _optional(PARTY_NAME_LENGTH)] = Field(
        "", alias="AdvertiserName"
    )
    managing_party: Annotated[str, _optional(PARTY_LENGTH)] = Field(
        "", alias="ExternalCmpgnManagingParty"
    )
    managing_party_name: Annotated[str, _optional(PARTY_NAME_LENGTH)] = Field(
        "", alias="ExternalCmpgnManagingPartyName"
    )

    def reference(self, campaign_uuid: str) -> CampaignReference:
        """The reference as the bridge holds it; refuse one that names another campaign."""
        owner = self.campaign_uuid or campaign_uuid
        if owner != campaign_uuid:
            raise _bad(f"campaign {campaign_uuid}: reference: belongs to campaign {owner}")
        return CampaignReference(
            external_campaign_uuid=self.external_campaign_uuid,
            external_campaign_id=self.external_campaign_id,
            campaign_uuid=owner,
            name=self.name,
            url=self.url,
            advertiser=self.advertiser,
            advertiser_name=self.advertiser_name,
            managing_party=self.managing_party,
            managing_party_name=self.managing_party_name,
        )


class CampaignPayload(_Payload):
    """One Campaigns entity with its expanded references, as SAP MC sends it."""

    uuid: Guid = Field(alias="CampaignUUID")
    campaign_id: Annotated[str, _required(CAMPAIGN_ID_LENGTH, blank=False)] = Field(
        alias="CampaignID"
    )
    name: Annotated[str, _required(CAMPAIGN_NAME_LENGTH)] = Field(alias="CampaignName")
    description: Annotated[str, _optional()] = Field("", alias="CampaignDescription")
    # CampaignStartDate/EndDate are Edm.DateTime without sap:display-format="Date": an instant
    # that may carry a time of day (a Berlin user's 1 April is 31 March 22:00 UTC). The day it
    # means is the calendar day at that instant in the tenant's time zone (SAPMC_TIMEZONE,
    # given as the validation context "zone").
    start: date | None = Field(None, alias="CampaignStartDate")
    end: date | None = Field(None, alias="CampaignEndDate")
    lifecycle_status: Annotated[str, _optional(LIFECYCLE_STATUS_LENGTH)] = Field(
        "", alias="CampaignLifecycleStatus"
    )
    lifecycle_status_name: Annotated[str, _optional()] = Field(
        "", alias="CampaignLifecycleStatusName"
    )
    category: Annotated[str, _required()] = Field(alias="CampaignCategory")
    category_name: Annotated[str, _optional()] = Field("", alias="CampaignCategoryName")
    media_type: Annotated[str, _optional()] = Field("", alias="MediaType")
    marketing_area: Annotated[str, _optional()] = Field("", alias="MarketingArea")
    owner: Annotated[str, _optional()] = Field("", alias="CampaignOwner")
    created: OptionalInstant = Field(None, alias="CreationDateTime")
    changed: OptionalInstant = Field(None, alias="LastChangeDateTime")
    # No default really: a missing navigation is refused by _expanded, with the reason.
    references: tuple[ReferencePayload, ...] = Field((), alias=REFERENCES, validate_default=True)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _day(cls, value: object, info: ValidationInfo) -> date | None:
        instant = _optional_instant(value)
        zone: tzinfo = (info.context or {}).get("zone") or UTC
        if instant is None:
            return None
        try:
            return instant.astimezone(zone).date()
        except OverflowError:
            # An instant within hours of the calendar's ends, seen in a zone beyond them: SAP's
            # "unlimited" end 9999-12-31T23:59:59 east of UTC falls on a day no date can hold.
            # Its nearest day keeps the campaign (open-ended) instead of failing every sync.
            return date.max if instant.year == MAXYEAR else date.min

    @field_validator("references", mode="before")
    @classmethod
    def _expanded(cls, value: object) -> tuple[ReferencePayload, ...]:
        if isinstance(value, dict) and "results" in value:
            if value.get("__next"):
                # An inline collection cut into pages: replacing the stored set with the first
                # page would drop the rest.
                raise ValueError("came paged (__next); refused rather than cut")
            value = value["results"]
        # An unexpanded ({"__deferred": ...}) or missing navigation says nothing about the
        # references; reading it as "none" would report every assignment as drift.
        if not isinstance(value, list):  # also the default: the navigation was missing
            raise ValueError("were not expanded")
        try:
            return tuple(
                _validate(ReferencePayload, item, f"reference {number}")
                for number, item in enumerate(value)
            )
        except SapmcBadPayloadError as exc:  # named under the campaign by _validate
            raise ValueError(str(exc)) from None


M = TypeVar("M", bound=WirePayload)


def _validate(model: type[M], item: object, what: str, **context: object) -> M:
    return validate(model, item, what, bad=_bad, phrases=True, context=context)


def _campaign_label(data: dict[str, Any]) -> str:
    try:
        return f"campaign {_guid(data.get('CampaignUUID'))}"
    except ValueError:
        return "campaign"


def parse_campaign(item: object, zone: tzinfo = UTC) -> Campaign:
    """Parse one Campaigns entity with its expanded references; raise SapmcBadPayloadError.

    zone is SAP MC's time zone: the start and end instants become days there.
    """
    data = _mapping(item, "campaign")
    wire = _validate(CampaignPayload, data, _campaign_label(data), zone=zone)
    what = f"campaign {wire.uuid}"
    references = [r.reference(wire.uuid) for r in wire.references]
    if len({r.external_campaign_uuid for r in references}) != len(references):
        raise _bad(f"{what}: a reference appears twice")
    # SAP MC lists them in no promised order: sort so that equal content compares equal.
    references.sort(key=lambda r: (r.external_campaign_id, r.external_campaign_uuid))
    return Campaign(
        uuid=wire.uuid,
        campaign_id=wire.campaign_id,
        name=wire.name,
        description=wire.description,
        start=wire.start,
        end=wire.end,
        lifecycle_status=wire.lifecycle_status,
        lifecycle_status_name=wire.lifecycle_status_name,
        category=wire.category,
        category_name=wire.category_name,
        media_type=wire.media_type,
        marketing_area=wire.marketing_area,
        owner=wire.owner,
        created=wire.created,
        changed=wire.changed,
        references=tuple(references),
        raw=_storable(data),
    )


@dataclass(frozen=True)
class Feed:
    """One page of an OData V2 collection answer: its results, __next and __count."""

    results: list[Any]
    next_url: str | None
    count: int | None


def parse_feed(payload: object) -> Feed:
    """Split an OData V2 collection answer into its results, __next and __count."""
    body = _mapping(payload, "answer").get("d")
    if isinstance(body, list):  # the V1 shape, without paging information
        return Feed(body, None, None)
    body = _mapping(body, "answer: d")
    results = body.get("results")
    if not isinstance(results, list):
        raise _bad("answer: d.results must be a list")
    next_url = body.get("__next")
    if next_url is not None and (not isinstance(next_url, str) or not next_url.strip()):
        raise _bad("answer: __next must be a URL string")
    count = body.get("__count")
    if isinstance(count, str) and count.isascii() and count.isdigit() and len(count) < 16:
        count = int(count)
    # The count only spares a request at the end of the listing: anything odd means unknown.
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        count = None
    return Feed(results, next_url.strip() if next_url else None, count)
