"""Talk to SAP Marketing Cloud's campaign API (OData V2); the only module doing HTTP with SAP MC.

Contract: docs/sapmc-api.md part 2. Every call goes through one requests.Session with
Basic auth and a (connect, read) timeout, and every failure leaves as a SapmcError subclass. The
password never appears in a message, a repr or a log line.
"""

from __future__ import annotations

import base64
import email.errors
import email.parser
import email.policy
import json
import logging
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar, Unpack, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit

import requests

from smcbridge.outgoing_http import (
    RETRY_STATUSES,
    ClientError,
    ClientStats,
    HttpClient,
    TransportOptions,
    UndecodableBodyError,
    clean_text,
    client_settings,
    decode_json,
    http_url,
    looks_like_markup,
    origin,
    parse_retry_after,
)
from smcbridge.zones import zone_named

# Everything about the payloads (their errors too) is declared in sapmc.payloads and
# re-exported here: callers keep one module to import for SAP MC.
from .payloads import (
    _EPOCH,
    REFERENCES,
    Campaign,
    CampaignListing,
    CampaignReference,
    SapmcAuthError,
    SapmcBadPayloadError,
    SapmcError,
    SapmcIncompleteListingError,
    SapmcNotFoundError,
    SapmcRateLimitedError,
    SapmcRequestError,
    SapmcUnavailableError,
    _mapping,
    parse_campaign,
    parse_feed,
    parse_odata_datetime,
)

_T = TypeVar("_T")

__all__ = [
    "Campaign",
    "CampaignListing",
    "CampaignReference",
    "ClientStats",
    "SapmcAuthError",
    "SapmcBadPayloadError",
    "SapmcClient",
    "SapmcError",
    "SapmcIncompleteListingError",
    "SapmcNotFoundError",
    "SapmcRateLimitedError",
    "SapmcRequestError",
    "SapmcSuccessOutcomeUnknownError",
    "SapmcUnavailableError",
    "SuccessImport",
    "SuccessOutcome",
    "SuccessRow",
    "client_from_settings",
    "odata_string",
    "parse_campaign",
    "parse_odata_datetime",
    "success_batch_body",
    "success_payload",
]

logger = logging.getLogger("sapmc.client")

DEFAULT_BASE_URL = "http://127.0.0.1:8702"
SERVICE_PATH = "/sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV"
# A listing that has not ended after this many answers is a server bug, not a big tenant.
MAX_PAGES = 10_000


class _UndecodableBodyError(SapmcBadPayloadError, UndecodableBodyError):
    """Raise for a 2xx body that is not JSON: the one payload failure worth one more GET."""


# Success import (API_MKT_CMPGN_SUCCESS_IMPORT_SRV): the rows and what SAP MC made of them -----

SUCCESS_SERVICE_PATH = "/sap/opu/odata/sap/API_MKT_CMPGN_SUCCESS_IMPORT_SRV"
SUCCESS_ENTITY_SET = "Successes"
# SAP's EDMX of the service, shipped with the app (a copy of the contract file): the payload's
# property list, types and neutral values come from it, not from a hand-kept list.
SUCCESS_EDMX = Path(__file__).with_name("edmx") / "API_MKT_CMPGN_SUCCESS_IMPORT_SRV.xml"
_EDM_NS = "{http://schemas.microsoft.com/ado/2008/09/edm}"
_SAP_NS = "{http://www.sap.com/Protocols/SAPData}"
_INTEGER_TYPES = frozenset({"Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32", "Edm.Int64"})
# OData V2 JSON writes these as strings ("12", "0.000"): a JSON number loses digits past 2**53.
_STRING_NUMBER_TYPES = frozenset({"Edm.Int64", "Edm.Decimal"})


@dataclass(frozen=True)
class SuccessProperty:
    """One property of SAP's Success entity type, with the facets the payload needs."""

    name: str
    edm: str
    nullable: bool
    max_length: int | None
    scale: int | None
    creatable: bool


def _success_properties() -> tuple[SuccessProperty, ...]:
    root = ET.fromstring(SUCCESS_EDMX.read_bytes())
    node = next(n for n in root.iter(f"{_EDM_NS}EntityType") if n.get("Name") == "Success")
    return tuple(
        SuccessProperty(
            name=p.get("Name", ""),
            edm=p.get("Type", ""),
            nullable=p.get("Nullable", "true") != "false",
            max_length=int(p.get("MaxLength", "0")) or None,
            scale=int(p.get("Scale", "0")) if p.get("Scale") else None,
            creatable=p.get(f"{_SAP_NS}creatable", "true") != "false",
        )
        for p in node.findall(f"{_EDM_NS}Property")
    )


SUCCESS_PROPERTIES = _success_properties()


def neutral_value(prop: SuccessProperty) -> Any:
    """The value of a property the bridge does not fill: null where allowed, else SAP's empty."""
    # SAP MC refuses a Success without its non-nullable properties: what the bridge does not
    # know is sent as ABAP's initial value ("", 0, 0.000), which SAP MC reads as "not given".
    if prop.nullable:
        return None
    if prop.edm == "Edm.String":
        return ""
    if prop.edm == "Edm.Decimal":
        return f"{Decimal(0):.{prop.scale or 0}f}"
    if prop.edm in _INTEGER_TYPES:
        return "0" if prop.edm in _STRING_NUMBER_TYPES else 0
    raise ValueError(f"no neutral value for {prop.name} ({prop.edm}): the bridge must fill it")


@dataclass(frozen=True)
class SuccessRow:
    """One Success for SAP MC: one external campaign (a Khoros Plan) on one day.

    Only what the bridge knows; every other property of the EDMX goes out with its neutral
    value (see success_payload). Reach counts unique people: it is the Plan's reach of that day,
    never a sum.
    """

    campaign_uuid: str  # SAP MC campaign
    campaign_id: str
    campaign_category: str
    external_campaign_id: str  # the Plan UUID without hyphens, as SAP MC holds it
    external_campaign_name: str
    advertiser: str  # Khoros company id
    advertiser_name: str
    managing_party: str  # Khoros Initiative id
    managing_party_name: str
    day: date  # the calendar day the numbers belong to
    timezone: str  # SAP time-zone code of that day (at most 6 characters: "UTC", "CET")
    impressions: int
    clicks: int
    post_engagements: int
    video_views: int
    reach: int
    communication_medium: str = ""

    @property
    def key(self) -> tuple[str, str, date]:
        """What identifies the row for the ledger: campaign, Plan and day."""
        return (self.campaign_uuid, self.external_campaign_id, self.day)

    def filled(self) -> dict[str, Any]:
        """The properties the bridge fills, as OData V2 JSON values."""
        iso = self.day.isocalendar()
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return {
            "CampaignUUID": self.campaign_uuid,
            "CampaignID": self.campaign_id,
            "CampaignCategoryID": self.campaign_category,
            "ExternalCampaignID": self.external_campaign_id,
            "ExternalCampaignName": self.external_campaign_name,
            "Advertiser": self.advertiser,
            "AdvertiserName": self.advertiser_name,
            "ExternalCmpgnManagingParty": self.managing_party,
            "ExternalCmpgnManagingPartyName": self.managing_party_name,
            "CommunicationMedium": self.communication_medium,
            # An ABAP date exposed as Edm.DateTime: midnight UTC of the day (no time of day, no
            # zone shift); the zone the day is meant in travels in SuccessDataDateTimeZone.
            "SuccessDataDate": f"/Date({int((midnight - _EPOCH).total_seconds()) * 1000})/",
            "SuccessDataDateTimeZone": self.timezone,
            "YearWeek": f"{iso.year:04d}{iso.week:02d}",  # ISO week: 2026-01-01 is 202601
            "YearMonth": f"{self.day.year:04d}{self.day.month:02d}",
            "NumberOfImpressions": str(self.impressions),
            "NumberOfClicks": str(self.clicks),
            "NumberOfPostEngagements": str(self.post_engagements),
            "NumberOfVideoViews": str(self.video_views),
            "CampaignReach": str(self.reach),
        }


def success_payload(row: SuccessRow) -> dict[str, Any]:
    """The JSON body of one Success create: every creatable EDMX property, in EDMX order."""
    filled = row.filled()
    unknown = set(filled) - {p.name for p in SUCCESS_PROPERTIES}
    if unknown:  # a typo here would be refused by SAP MC for every row
        raise ValueError(f"not properties of a Success: {sorted(unknown)}")
    return {
        p.name: filled[p.name] if p.name in filled else neutral_value(p)
        for p in SUCCESS_PROPERTIES
        if p.creatable
    }


@dataclass(frozen=True)
class SuccessOutcome:
    """What SAP MC made of one row: created (with the key it assigned) or refused."""

    row: SuccessRow
    created: bool
    status: int
    success_uuid: str | None = None  # CampaignSuccessUUID of a created row
    field: str | None = None  # the property SAP MC named in its refusal, if any
    message: str = ""
    code: str = ""
    details: tuple[tuple[str, str], ...] = ()  # every (property, message) SAP MC listed


@dataclass
class SuccessImport:
    """The outcome of every row sent, in the order given."""

    outcomes: list[SuccessOutcome]
    batches: int = 0  # $batch requests that were answered

    @property
    def created(self) -> list[SuccessOutcome]:
        return [o for o in self.outcomes if o.created]

    @property
    def refused(self) -> list[SuccessOutcome]:
        return [o for o in self.outcomes if not o.created]


class SapmcSuccessOutcomeUnknownError(SapmcBadPayloadError):
    """Raise when a $batch was sent but its answer cannot tell what happened to each row.

    SAP MC may have created some or all of them: never send them again without a check (a
    second POST of the same Plan-day is stored as another row). Not retryable.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        rows: Sequence[SuccessRow],
        answered: Sequence[SuccessOutcome] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.rows = tuple(rows)  # the rows whose outcome is unknown
        # The rows of the same batch the answer did speak for (by their Content-ID), before it
        # was cut short: their outcomes are known and are recorded like any answered row.
        self.answered = tuple(answered)


class _CsrfRefusedError(SapmcAuthError):
    """403 "CSRF token validation failed": the token or its session expired; fetch again."""


# Parsing ------------------------------------------------------------------------------------


def odata_string(value: str) -> str:
    """Quote a string as an OData literal: 'O''Brien'."""
    return "'" + value.replace("'", "''") + "'"


def _leaf_bytes(part: Message) -> bytes:
    """A leaf part's decoded body: get_payload(decode=True) gives bytes for one (typed loosely)."""
    return cast(bytes | None, part.get_payload(decode=True)) or b""


def _url_key(url: str) -> tuple[Any, ...]:
    """Identify a URL regardless of percent-encoding and parameter order."""
    parts = urlsplit(url)
    return (*origin(url), unquote(parts.path), tuple(sorted(parse_qsl(parts.query, True))))


def _position(url: str) -> str:
    """Where a listing page sits, as its query says: "$skip=100, $skiptoken=50"."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    where = f"$skip={clean_text(query.get('$skip', '0'))[:20]}"
    if "$skiptoken" in query:
        # The token is SAP Gateway's own text: shown cut, as any text from upstream.
        where += f", $skiptoken={clean_text(query['$skiptoken'])[:60]}"
    return where


def _window_read(count: int | None, skip: int, size: int, new: int) -> bool:
    """Whether the window of `size` positions at `skip` brought every one SAP MC counted."""
    if count is None:
        return False  # without a count nothing proves it
    return new >= max(0, min(size, count - skip))


def _public_name(exc: Exception) -> str:
    """The name of the error's first public class, as a run's record shows it."""
    return next(c.__name__ for c in type(exc).__mro__ if not c.__name__.startswith("_"))


def _odata_message(payload: object) -> str:
    """Return the message of an OData error body, or ""."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    if not isinstance(error, dict):
        return ""
    message = error.get("message")
    if isinstance(message, dict):
        message = message.get("value")
    return message if isinstance(message, str) else ""


# An XML error body longer than this is not an OData error: it is not parsed.
_MAX_XML_ERROR = 256 * 1024


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_error(content: bytes) -> dict[str, Any] | None:
    """An OData V2 error written as XML, in the shape of the JSON one; None if it is not one.

    SAP Gateway writes its errors as XML where the request did not ask for JSON (the $batch
    itself asks for multipart/mixed), and read as JSON they lost their code and message.
    """
    if len(content) > _MAX_XML_ERROR or b"<!" in content:
        return None  # no DTD, no entities: nothing but plain elements is read from upstream
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    if _local(root.tag) != "error":
        return None

    def texts(node: ET.Element) -> dict[str, str]:
        return {_local(child.tag): (child.text or "").strip() for child in node}

    top = texts(root)
    details: list[dict[str, str]] = []
    for node in root.iter():
        if _local(node.tag) == "errordetail":
            details.append(texts(node))
    return {
        "error": {
            "code": top.get("code", ""),
            "message": {"value": top.get("message", "")},
            "innererror": {"errordetails": details},
        }
    }


def _is_page(content: bytes) -> bool:
    """Whether a body is an HTML page (a logon page, a proxy's), not XML data such as Atom."""
    text = content.decode("utf-8", "replace")
    return looks_like_markup(text) and "<html" in text[:4096].lower()


def _error_payload(content: bytes) -> Any:
    """The decoded error body of an answer: its JSON, its XML error as JSON, or None."""
    if not content.strip():
        return None
    if looks_like_markup(content.decode("utf-8", "replace")):
        return _xml_error(content)
    try:
        return decode_json(content)
    except (ValueError, RecursionError):
        return None


def success_batch_body(rows: Sequence[SuccessRow], boundary: str) -> bytes:
    """The multipart/mixed body of a $batch creating rows, one change set per row."""
    # One change set per row, not per Plan-day group or per batch: OData V2 makes a change set
    # atomic, so one refused row fails its whole change set. Alone in its change set, a refused
    # row fails only itself and every other row is still created. Nothing is lost by it: each
    # row is a complete fact (one Plan, one day) that needs no other row to be true.
    chunks: list[str] = []
    for number, row in enumerate(rows, 1):
        changeset = f"changeset_{uuid.uuid4()}"
        body = json.dumps(success_payload(row), ensure_ascii=False)
        chunks.append(
            f"--{boundary}\r\n"
            f"Content-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
            f"--{changeset}\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            f"Content-ID: {number}\r\n\r\n"
            f"POST {SUCCESS_ENTITY_SET} HTTP/1.1\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n"
            f"{body}\r\n"
            f"--{changeset}--\r\n"
        )
    chunks.append(f"--{boundary}--\r\n")
    return "".join(chunks).encode()


def _http_answer(raw: bytes) -> tuple[int, Any]:
    """(status, decoded JSON body or None) of an application/http part of a $batch answer."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    status_line = head.split(b"\n", 1)[0].decode("latin-1")
    found = re.fullmatch(r"HTTP/1\.[01] ([0-9]{3})(?: .*)?", status_line.strip())
    if found is None:
        raise ValueError(f"no HTTP status line in a part: {clean_text(status_line[:40])!r}")
    # An error without a readable body still has its status.
    return int(found[1]), _error_payload(body)


def _parts(message: Message) -> list[Message]:
    """The parts of a multipart message (compat32's get_payload gives them as a list)."""
    return cast(list[Message], message.get_payload()) if message.is_multipart() else []


@dataclass(frozen=True)
class _BatchAnswer:
    """What one change set (or lone request) of a $batch answer says."""

    status: int
    payload: Any  # the decoded body, or None
    content_id: str | None  # the Content-ID of the request it answers, when SAP MC echoes it


def _content_id(part: Message) -> str | None:
    value = part.get("Content-ID")
    return str(value).strip().strip("<>").strip() or None if value is not None else None


def _batch_answers(content_type: str, content: bytes) -> tuple[list[_BatchAnswer], bool]:
    """One answer per change set (or lone request) of a $batch answer, in order; and whether
    the answer was cut short (its closing delimiter never came)."""
    # compat32, not the HTTP policy: parts are only split and their content types read, and the
    # modern policy's header objects cost more than the rest of a push's work (issue 13).
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + content
    )
    if not message.is_multipart():
        raise ValueError("not a multipart document")
    cut = any(isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in message.defects)
    parts = _parts(message)
    answers: list[_BatchAnswer] = []
    for number, part in enumerate(parts, 1):
        try:
            answers.append(_batch_answer(part))
        except ValueError:
            if cut and number == len(parts):
                # The cut went through this last answer: what it said is lost with it, and
                # its row's outcome is unknown. The answers before it are whole.
                break
            raise
    return answers, cut


def _batch_answer(part: Message) -> _BatchAnswer:
    kind = part.get_content_type()
    if kind == "multipart/mixed":
        inner = _parts(part)
        # Each change set holds one row, so it answers exactly one part.
        if len(inner) != 1 or inner[0].get_content_type() != "application/http":
            raise ValueError(f"a change set answered {len(inner)} parts, not 1")
        leaf = inner[0]
    elif kind == "application/http":
        # A failed change set is answered by its one failure, outside a change set.
        leaf = part
    else:
        raise ValueError(f"unexpected part of type {kind}")
    return _BatchAnswer(*_http_answer(_leaf_bytes(leaf)), _content_id(leaf))


# The client ---------------------------------------------------------------------------------


class SapmcClient(HttpClient):
    """Read the campaigns of SAP MC's API_MKT_CAMPAIGN_SRV as one communication user."""

    system = "SAP MC"
    unavailable_error = SapmcUnavailableError
    logger = logger

    def __init__(
        self,
        *,
        base_url: str,
        user: str,
        password: str,
        page_size: int = 100,
        timezone: str = "UTC",
        success_batch_size: int = 100,
        **options: Unpack[TransportOptions],
    ) -> None:
        """Talk to SAP MC at base_url; `options` (timeouts, retries) go to HttpClient.

        timezone is the IANA name of SAP MC's time zone, where campaign dates are days.
        """
        parts = http_url(base_url)
        if parts.username or parts.password:
            # Credentials in the URL would end up in logs and error messages.
            raise ValueError("base_url must not carry credentials: use SAPMC_USER/SAPMC_PASSWORD")
        if not user or not password:
            raise ValueError("user and password are required")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if success_batch_size < 1:
            raise ValueError("success_batch_size must be at least 1")
        zone = zone_named(timezone)
        if zone is None:
            raise ValueError(f"timezone must be an IANA time zone name, got {timezone!r}")
        self.timezone: tzinfo = zone
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        super().__init__(secrets=(password, basic), **options)
        root = base_url.rstrip("/")
        # The base URL is the host root; tolerate one that already names the service.
        self.service_url = root if root.endswith(SERVICE_PATH) else root + SERVICE_PATH
        self.base_url = self.service_url[: -len(SERVICE_PATH)]
        self.user = user
        self.page_size = page_size
        self.success_service_url = self.base_url + SUCCESS_SERVICE_PATH
        self.success_batch_size = success_batch_size
        self._success_token: str | None = None
        self._session.auth = requests.auth.HTTPBasicAuth(user, password)

    def __repr__(self) -> str:
        return f"<SapmcClient {self.base_url} user={self.user}>"

    # --- Campaigns ---------------------------------------------------------------------------

    # https://api.sap.com/api/API_MKT_CAMPAIGN_SRV/overview (entity set Campaigns)
    # GET /sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV/Campaigns?$filter=CampaignCategory eq '...'
    #     &$expand=ExternalCampaignReferences&$top=&$skip=&$inlinecount=allpages&$format=json
    def list_campaigns(self, *, category: str) -> CampaignListing:
        """Read every campaign of a category; the listing says whether it is provably whole."""
        listing = CampaignListing(campaigns=[], problems=[], count=None)
        for campaign in self._campaign_windows(category, listing):
            listing.campaigns.append(campaign)
        return listing

    def iter_campaigns(self, *, category: str) -> Iterator[Campaign]:
        """Yield every campaign of a category once; raise at the end if the listing has gaps."""
        listing = CampaignListing(campaigns=[], problems=[], count=None)
        for campaign in self._campaign_windows(category, listing):
            listing.campaigns.append(campaign)
            yield campaign
        if listing.stopped_by is not None:
            # The error that ended the reading, as a caller reading the first page gets it.
            raise listing.stopped_by
        if not listing.complete:
            raise SapmcIncompleteListingError(listing.problem_text(), listing=listing)

    def _campaign_windows(self, category: str, listing: CampaignListing) -> Iterator[Campaign]:
        # Windows of $top=page_size are asked with $skip growing by the positions asked, never
        # by the results received: a page with a duplicate (51 results for 50 positions) or a
        # short page would otherwise move the next window past campaigns nobody read. Inside a
        # window every __next link is followed (SAP Gateway may page by itself). Anything that
        # leaves positions unread is recorded in listing.problems and the reading goes on, so
        # that what was read can still be stored; only a listing without problems may decide
        # that a campaign is gone.
        params = [
            ("$format", "json"),
            ("$filter", f"CampaignCategory eq {odata_string(category)}"),
            ("$expand", REFERENCES),
            ("$inlinecount", "allpages"),
        ]
        seen: set[str] = set()
        fetched: set[tuple[Any, ...]] = set()  # the pages answered, by URL
        counts: set[int] = set()
        skip = 0
        while True:
            window = [*params, ("$top", self.page_size), ("$skip", skip)]
            url: str | None = self._url("/Campaigns", window)
            first = _url_key(self._url("/Campaigns", window))
            received = new = 0
            looped = stopped = False
            while url is not None:
                if len(fetched) >= MAX_PAGES:
                    listing.note(
                        f"SAP MC's listing did not end after {MAX_PAGES} pages; reading stopped"
                    )
                    stopped = True
                    break
                key = _url_key(url)
                if key in fetched:
                    # A paging loop: following it would read the same pages forever. The pages
                    # read are whole and kept; the positions behind the loop are unread, and
                    # the next window may still be asked by $skip.
                    listing.note(
                        f"a paging loop in the window at $skip={skip}: SAP MC's __next led back "
                        f"to a page already read ({_position(url)})"
                    )
                    looped = True
                    break
                try:
                    feed = parse_feed(self._get_json(url))
                    # A page is taken whole or not at all: one bad campaign refuses its page.
                    page = [parse_campaign(item, self.timezone) for item in feed.results]
                except SapmcError as exc:
                    if not fetched:
                        raise  # nothing was read: the run fails as a whole, nothing is stored
                    # Retries and their budget are spent on this page: asking the windows after
                    # it would spend them again. What the answered pages held is kept and the
                    # listing is incomplete; the caller decides the run's status by the error.
                    listing.stopped_by = exc
                    listing.note(
                        f"reading stopped at {_position(url)} after {len(seen)} campaigns: "
                        f"{_public_name(exc)}: {exc}"
                    )
                    stopped = True
                    break
                fetched.add(key)
                if feed.count is None:
                    listing.note(f"SAP MC sent no __count at $skip={skip}")
                else:
                    counts.add(feed.count)
                    listing.count = feed.count
                if not feed.results and (
                    feed.next_url
                    or (key != first and not _window_read(feed.count, skip, self.page_size, new))
                ):
                    # An empty page that links on, or that ends a window still short. An empty
                    # last page of a window read whole is no gap: SAP Gateway's data providers
                    # set a $skiptoken whenever a page is full, so a window ending on a page
                    # boundary links to one.
                    listing.note(f"SAP MC sent an empty page inside the window at $skip={skip}")
                received += len(page)
                for campaign in page:
                    if campaign.category != category:
                        # SAP MC did not apply the $filter (a __next link that lost it): this
                        # is no campaign of the category asked, and the positions and count
                        # around it are not the category's either.
                        listing.note(
                            f"SAP MC answered campaigns of another category "
                            f"({campaign.category[:10]!r}) at {_position(url)}: its $filter "
                            "was not applied; they are not stored"
                        )
                        continue
                    if campaign.uuid in seen:
                        # The list moved while it was read: a campaign removed meanwhile may
                        # have moved past a page boundary unseen.
                        listing.duplicates += 1
                        listing.note(f"SAP MC repeated campaigns at $skip={skip}")
                        continue
                    seen.add(campaign.uuid)
                    new += 1
                    yield campaign
                # A __next to another server or outside the service is not followed, and the
                # run fails whatever was read: the answer tried to send the credentials
                # elsewhere, so none of it is trusted (docs/sapmc-api.md, paging).
                url = self._next(feed.next_url, url) if feed.next_url else None
            if stopped:
                break
            logger.debug("campaigns window $skip=%d: %d read, %d new", skip, received, new)
            total = listing.count
            if total is None:
                # No count: a short window is the only sign of the end (the listing is
                # already marked as unprovable), and a repeated one the sign of a loop.
                if received > 0 and new == 0:
                    listing.note(
                        f"SAP MC repeated the whole window at $skip={skip} ($skip is not "
                        "honoured): a paging loop; reading stopped"
                    )
                    break
                if received < self.page_size:
                    break
                skip += self.page_size
                continue
            expected = max(0, min(self.page_size, total - skip))
            if new < expected and not looped:
                # Fewer new campaigns than the positions asked, and no __next for the rest.
                listing.note(
                    f"SAP MC sent {new} new of the {expected} campaigns at $skip={skip} (of "
                    f"{total}) with no link to the rest"
                )
            skip += self.page_size
            if skip >= total:
                break
        if len(counts) > 1:
            listing.note(
                "SAP MC's count changed while the list was read "
                f"({', '.join(str(c) for c in sorted(counts))}): campaigns moved between pages"
            )
        if listing.count is not None and len(seen) != listing.count:
            listing.note(f"read {len(seen)} campaigns of the {listing.count} SAP MC counted")

    # https://api.sap.com/api/API_MKT_CAMPAIGN_SRV/overview (entity Campaigns by key)
    # GET /sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV/Campaigns(guid'...')?$expand=...
    def get_campaign(self, campaign_uuid: str) -> Campaign:
        """Return one campaign with its references; raise SapmcNotFoundError when unknown."""
        try:
            key = str(uuid.UUID(str(campaign_uuid)))
        except ValueError:
            raise ValueError(f"not a campaign UUID: {campaign_uuid!r}") from None
        url = self._url(f"/Campaigns(guid'{key}')", [("$format", "json"), ("$expand", REFERENCES)])
        payload = _mapping(self._get_json(url), "answer")
        return parse_campaign(payload.get("d"), self.timezone)

    # https://api.sap.com/api/API_MKT_CAMPAIGN_SRV/overview (writes need a CSRF token)
    # GET /sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV/ with the header X-CSRF-Token: Fetch
    def fetch_csrf_token(self) -> str:
        """Return a CSRF token for a later write; it is bound to this client's session cookies."""
        url = self._url("/", [("$format", "json")])
        response = self._get(url, headers={"X-CSRF-Token": "Fetch"}, accept=self._accept_raw)
        token = response.headers.get("X-CSRF-Token", "").strip()
        if not token or token.lower() in ("required", "fetch"):
            raise SapmcBadPayloadError(
                "SAP MC answered without a CSRF token", status=response.status_code
            )
        return token

    # --- Success import ------------------------------------------------------------------------

    # https://api.sap.com/api/API_MKT_CMPGN_SUCCESS_IMPORT_SRV/overview (writes need a token)
    # GET /sap/opu/odata/sap/API_MKT_CMPGN_SUCCESS_IMPORT_SRV/ with X-CSRF-Token: Fetch
    def fetch_success_csrf_token(self) -> str:
        """Fetch (and keep) a CSRF token of the success import; the session keeps its cookie."""
        # SAP Gateway binds the token to the session its answer opens (SAP_SESSIONID_* cookie):
        # the requests session stores that cookie and sends it with the $batch that follows.
        url = f"{self.success_service_url}/?$format=json"
        response = self._get(url, headers={"X-CSRF-Token": "Fetch"}, accept=self._accept_raw)
        token = response.headers.get("X-CSRF-Token", "").strip()
        if not token or token.lower() in ("required", "fetch"):
            raise SapmcBadPayloadError(
                "SAP MC answered without a CSRF token", status=response.status_code
            )
        self._success_token = token
        return token

    def import_successes(self, rows: Sequence[SuccessRow]) -> SuccessImport:
        """Send every row (success_batch_size rows per $batch); the outcome of each, in order.

        A failure of a whole request (SAP MC unreachable, 401, 500 ...) raises a SapmcError; the
        rows of earlier batches were sent by then. A caller that records outcomes as they come
        (the push ledger) uses iter_success_batches instead.
        """
        result = SuccessImport(outcomes=[])
        for outcomes in self.iter_success_batches(rows):
            result.outcomes.extend(outcomes)
            result.batches += 1
        return result

    def iter_success_batches(self, rows: Sequence[SuccessRow]) -> Iterator[list[SuccessOutcome]]:
        """Send the rows batch by batch, yielding each batch's outcomes before the next is sent."""
        rows = list(rows)
        for start in range(0, len(rows), self.success_batch_size):
            yield self.send_success_batch(rows[start : start + self.success_batch_size])

    # POST /sap/opu/odata/sap/API_MKT_CMPGN_SUCCESS_IMPORT_SRV/$batch (multipart/mixed)
    def send_success_batch(self, rows: Sequence[SuccessRow]) -> list[SuccessOutcome]:
        """Create rows in one $batch request; return one outcome per row, in order."""
        rows = list(rows)
        if not rows:
            return []
        if self._success_token is None:
            self.fetch_success_csrf_token()
        try:
            return self._post_success_batch(rows)
        except _CsrfRefusedError:
            # The token lives as long as its SAP session (which times out when idle, or ends
            # when SAP MC restarts): fetch a new one, once. Nothing was created by the refused
            # request, so sending it again cannot create a row twice.
            self.logger.info("SAP MC refused the CSRF token; fetching a new one")
            self._success_token = None
            self.fetch_success_csrf_token()
            try:
                return self._post_success_batch(rows)
            except _CsrfRefusedError as exc:
                raise SapmcAuthError(
                    "SAP MC refused a freshly fetched CSRF token (HTTP 403): check that "
                    f"{self.user} may use API_MKT_CMPGN_SUCCESS_IMPORT_SRV",
                    status=exc.status,
                    path=exc.path,
                ) from None

    def _post_success_batch(self, rows: list[SuccessRow]) -> list[SuccessOutcome]:
        boundary = f"batch_{uuid.uuid4()}"
        url = f"{self.success_service_url}/$batch"
        path = urlsplit(url).path
        headers = {
            "Content-Type": f"multipart/mixed; boundary={boundary}",
            "Accept": "multipart/mixed",
            "X-CSRF-Token": self._success_token or "",
        }
        # POST is not idempotent: HttpClient retries it only when SAP MC cannot have acted
        # (a connection that never opened, 429) and _may_retry adds a whole-request 503. Never
        # after a timeout, a reset or a 500/502/504: the rows may exist by then, and a second
        # POST would store them twice (SAP MC keeps every row it is sent).
        return self._send(
            "POST",
            url,
            path=path,
            accept=lambda response: self._accept_success_batch(response, rows, path),
            data=success_batch_body(rows, boundary),
            headers=headers,
            allow_redirects=False,
        )

    @staticmethod
    def _may_retry(error: ClientError, status: int, idempotent: bool) -> bool:
        # SAP MC answers a whole request with 503 only when it did not take it up (the ICM or
        # Web Dispatcher finds no free work process, or the tenant is in maintenance): nothing
        # was created, so a POST may go again after Retry-After. Failures inside a $batch come
        # back under 202 and are outcomes of rows, never retried here.
        if not idempotent and status == 503:
            return True
        return HttpClient._may_retry(error, status, idempotent)

    def _accept_success_batch(
        self, response: requests.Response, rows: list[SuccessRow], path: str
    ) -> list[SuccessOutcome]:
        status = response.status_code
        if status == 403 and (
            response.headers.get("X-CSRF-Token", "").lower() == "required"
            or b"CSRF token validation failed" in response.content
        ):
            raise _CsrfRefusedError(
                "SAP MC refused the CSRF token (HTTP 403)", status=status, path=path
            )
        if not 200 <= status < 300:
            raise self._error_for(response, path)
        content_type = response.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/mixed"):
            # A logon page means the request never reached the service; any other answer
            # (XML included) may come after the rows were created.
            if _is_page(response.content):
                raise self._logon_page(response)
            raise SapmcSuccessOutcomeUnknownError(
                f"SAP MC answered the $batch with {content_type or 'no content type'}, not "
                "multipart/mixed: the rows' outcome is unknown",
                rows=rows,
                status=status,
                path=path,
            )
        try:
            answers, cut = _batch_answers(content_type, response.content)
        except ValueError as exc:
            raise SapmcSuccessOutcomeUnknownError(
                f"SAP MC's $batch answer cannot be read ({exc}): the rows' outcome is unknown",
                rows=rows,
                status=status,
                path=path,
            ) from None

        def unknown(problem: str, answered: Sequence[SuccessOutcome] = ()) -> Exception:
            known = {id(outcome.row) for outcome in answered}
            missing = [row for row in rows if id(row) not in known]
            return SapmcSuccessOutcomeUnknownError(
                f"SAP MC {problem}: the outcome of {len(missing)} of the {len(rows)} rows sent "
                "is unknown",
                rows=missing,
                answered=answered,
                status=status,
                path=path,
            )

        sent = {str(number): row for number, row in enumerate(rows, 1)}
        if answers and all(a.content_id is not None for a in answers):
            # SAP MC names the request each answer is for: map by it, not by position, so that
            # an answer cut short (or out of order) still tells what happened to the rows it
            # answered. A Content-ID that was not sent, or twice, makes every answer suspect.
            by_id: dict[str, _BatchAnswer] = {}
            for answer in answers:
                cid = answer.content_id or ""
                if cid not in sent or cid in by_id:
                    shown = clean_text(cid[:20])
                    raise unknown(f"named a request not sent, or one twice (Content-ID {shown!r})")
                by_id[cid] = answer
            outcomes = [
                self._outcome(row, by_id[cid].status, by_id[cid].payload)
                for cid, row in sent.items()
                if cid in by_id
            ]
            if len(outcomes) < len(rows):
                cut_short = " (its answer was cut short)" if cut else ""
                raise unknown(
                    f"answered {len(outcomes)} of {len(rows)} change sets{cut_short}", outcomes
                )
            return outcomes
        if len(answers) != len(rows):
            raise unknown(f"answered {len(answers)} change sets for the {len(rows)} sent")
        if any(a.content_id not in (None, str(n)) for n, a in enumerate(answers, 1)):
            raise unknown("answered the change sets out of order")
        return [
            self._outcome(row, answer.status, answer.payload)
            for row, answer in zip(rows, answers, strict=True)
        ]

    def _outcome(self, row: SuccessRow, status: int, payload: Any) -> SuccessOutcome:
        if 200 <= status < 300:
            entity = payload.get("d") if isinstance(payload, dict) else None
            key = entity.get("CampaignSuccessUUID") if isinstance(entity, dict) else None
            return SuccessOutcome(
                row=row,
                created=True,
                status=status,
                success_uuid=key.lower() if isinstance(key, str) else None,
            )
        details: list[tuple[str, str]] = []
        code = ""
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            code = c if isinstance(c := error.get("code"), str) else ""
            inner = error.get("innererror")
            found = inner.get("errordetails") if isinstance(inner, dict) else None
            for detail in found if isinstance(found, list) else []:
                if not isinstance(detail, dict):
                    continue
                ref = detail.get("propertyref") or detail.get("target") or ""
                text = detail.get("message")
                if isinstance(ref, str) and isinstance(text, str):
                    # The property's name is SAP MC's text too: a NUL in it failed the ledger's
                    # write (PostgreSQL) after the batch's other rows were created.
                    name = clean_text(ref).rsplit("/", 1)[-1]
                    details.append((name, self._redact(clean_text(text))[:500]))
        message = self._redact(clean_text(_odata_message(payload)))[:500]
        named = next((name for name, _ in details if name), None)
        return SuccessOutcome(
            row=row,
            created=False,
            status=status,
            field=named,
            message=message or (details[0][1] if details else f"HTTP {status}"),
            code=clean_text(code)[:80],
            details=tuple(details),
        )

    # --- Transport ---------------------------------------------------------------------------

    def _url(self, path: str, params: list[tuple[str, Any]]) -> str:
        # Spaces as %20 and OData's punctuation left readable, as SAP's own clients send it.
        query = urlencode([(k, str(v)) for k, v in params], quote_via=quote, safe="$'(),:")
        return f"{self.service_url}{path}?{query}"

    def _next(self, next_url: str, current: str) -> str:
        """Resolve a __next link; refuse one that leaves the configured service."""
        url = urljoin(current, next_url)
        if origin(url) != origin(self.service_url):
            # Following it would send the Basic credentials to whoever the link names.
            raise SapmcBadPayloadError(
                f"__next leads to another server ({urlsplit(url).hostname or '?'}); refused so "
                "that the credentials stay with SAPMC_BASE_URL",
                path=urlsplit(current).path,
            )
        if not unquote(urlsplit(url).path).startswith(urlsplit(self.service_url).path + "/"):
            raise SapmcBadPayloadError(
                "__next leads outside the campaign service; refused", path=urlsplit(current).path
            )
        return url

    def _get_json(self, url: str) -> Any:
        path = urlsplit(url).path
        return self._get(url, accept=lambda response: self._accept_json(response, path))

    def _get(
        self,
        url: str,
        *,
        accept: Callable[[requests.Response], _T],
        headers: dict[str, str] | None = None,
    ) -> _T:
        """GET url and return what accept makes of the answer, retrying what may heal."""
        # No redirects: SAP sends a redirect to its logon page, and a followed redirect could
        # carry the session elsewhere. No chained requests exception either (chain=False): its
        # text is ours to vet, not the library's.
        path = urlsplit(url).path
        return self._send(
            "GET", url, path=path, accept=accept, headers=headers, allow_redirects=False
        )

    def _accept_raw(self, response: requests.Response) -> requests.Response:
        """Return a 2xx response whatever its body, or raise the matching SapmcError."""
        if 200 <= response.status_code < 300:
            if _is_page(response.content):
                raise self._logon_page(response)
            return response
        raise self._error_for(response, urlsplit(response.url or "").path)

    def _accept_json(self, response: requests.Response, path: str) -> Any:
        """Return the decoded JSON of a successful answer, or raise the matching SapmcError."""
        status = response.status_code
        if not 200 <= status < 300:
            raise self._error_for(response, path)
        content = response.content
        if _is_page(content):
            raise self._logon_page(response)
        if looks_like_markup(content.decode("utf-8", "replace")):
            # Atom or another XML document: the data, not the user, is the problem.
            raise SapmcBadPayloadError(
                "SAP MC answered with XML where JSON was asked for ($format=json)",
                status=status,
                path=path,
            )
        try:
            return decode_json(content)
        except (ValueError, RecursionError):
            raise _UndecodableBodyError(
                "SAP MC answered with a body that is not JSON (empty, cut short or invalid)",
                status=status,
                path=path,
            ) from None

    def _logon_page(self, response: requests.Response) -> SapmcError:
        # SAP cloud systems show a browser logon page (SAML) to a user that is not set up
        # for Basic auth: the credentials, not the data, are the problem.
        return SapmcAuthError(
            f"SAP MC answered with an HTML (logon) page instead of data: check that {self.user} "
            "is a communication user with Basic authentication",
            status=response.status_code,
            path=urlsplit(response.url or "").path,
        )

    def _error_for(self, response: requests.Response, path: str) -> SapmcError:
        status = response.status_code
        payload = _error_payload(response.content)
        detail = self._detail(_odata_message(payload))
        kwargs: dict[str, Any] = {"status": status, "path": path}
        if status == 401:
            return SapmcAuthError(
                f"SAP MC refused the credentials of user {self.user} (HTTP 401)", **kwargs
            )
        if status == 403:
            return SapmcAuthError(
                f"SAP MC refused user {self.user} access (HTTP 403){detail}", **kwargs
            )
        if 300 <= status < 400:
            where = urlsplit(response.headers.get("Location", "")).hostname or "?"
            return SapmcAuthError(
                f"SAP MC redirected to {where} (HTTP {status}), most likely a logon page: check "
                f"that {self.user} is a communication user with Basic authentication",
                **kwargs,
            )
        if status == 404:
            return SapmcNotFoundError(f"not found on SAP MC{detail}", **kwargs)
        if status == 429:
            return SapmcRateLimitedError(
                f"SAP MC is throttling requests{detail}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                **kwargs,
            )
        if status >= 500:
            return SapmcUnavailableError(
                f"SAP MC failed (HTTP {status}){detail}",
                retryable=status in RETRY_STATUSES,
                **kwargs,
            )
        if 400 <= status < 500:
            return SapmcRequestError(
                f"SAP MC rejected the request (HTTP {status}){detail}", **kwargs
            )
        return SapmcBadPayloadError(f"unexpected HTTP status {status}", **kwargs)


def client_from_settings() -> SapmcClient:
    """Build a client from the SAPMC_* Django settings."""
    from django.conf import settings

    user = getattr(settings, "SAPMC_USER", "demo-user")
    password = getattr(settings, "SAPMC_PASSWORD", "demo-password")
    if not user or not password:
        raise SapmcAuthError("SAPMC_USER and SAPMC_PASSWORD must be set to the communication user")
    return SapmcClient(
        base_url=getattr(settings, "SAPMC_BASE_URL", DEFAULT_BASE_URL),
        user=user,
        password=password,
        page_size=int(getattr(settings, "SAPMC_PAGE_SIZE", 100)),
        timezone=getattr(settings, "SAPMC_TIMEZONE", "UTC"),
        success_batch_size=int(getattr(settings, "SAPMC_SUCCESS_BATCH_SIZE", 100)),
        # SAPMC_TIMEOUT_CONNECT, _TIMEOUT_READ, _MAX_RETRIES, _BACKOFF_*, _RETRY_BUDGET_SECONDS
        **client_settings("SAPMC"),
    )
