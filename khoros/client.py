"""Talk to the Khoros Conversations API (V2); the only module of the project that does HTTP with it.

Contract and quirks: docs/khoros-api.md. Every call goes through one requests.Session
with a (connect, read) timeout, and every failure leaves as a KhorosError subclass.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar, Unpack, cast
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from khoros.download_links import DownloadPolicy, KhorosDownloadRefusedError, PublicOnlyAdapter
from khoros.payloads import (
    Company,
    ExportStatus,
    Initiative,
    KhorosAuthError,
    KhorosBadPayloadError,
    KhorosError,
    KhorosIncompleteListingError,
    KhorosLinkExpiredError,
    KhorosNotFoundError,
    KhorosRateLimitedError,
    KhorosRequestError,
    KhorosUnavailableError,
    Plan,
    UnreadablePlan,
    WhoAmI,
    normalise_id,
    parse_company,
    parse_datetime,
    parse_export_status,
    parse_field,
    parse_initiative,
    parse_plan,
    parse_plan_items,
    parse_whoami,
    plan_uuid,
    require_mapping,
)
from smcbridge.outgoing_http import (
    DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
    ClientStats,
    Deadline,
    DeadlineExceededError,
    HttpClient,
    TransportOptions,
    UndecodableBodyError,
    body_chunks,
    clean_text,
    client_settings,
    decode_json,
    http_url,
    looks_like_markup,
    parse_retry_after,
)

__all__ = [
    "ClientStats",
    "Company",
    "ExportStatus",
    "ExportTable",
    "Initiative",
    "KhorosAuthError",
    "KhorosBadPayloadError",
    "KhorosClient",
    "KhorosDownloadRefusedError",
    "KhorosError",
    "KhorosIncompleteListingError",
    "KhorosLinkExpiredError",
    "KhorosNotFoundError",
    "KhorosRateLimitedError",
    "KhorosRequestError",
    "KhorosUnavailableError",
    "Plan",
    "UnreadablePlan",
    "WhoAmI",
    "client_from_settings",
    "parse_datetime",
    "parse_initiative",
    "parse_plan",
]

logger = logging.getLogger("khoros.client")

DEFAULT_BASE_URL = "https://api.spredfast.com/v2"

# The maximum page size is not documented; 100 is our assumption and the simulator clamps above it.
MAX_PAGE_SIZE = 100
# A server that never sends a short page would otherwise be read forever.
MAX_PAGES = 10_000
AUTH_CODES = frozenset({"UNAUTHENTICATED", "UNAUTHORIZED"})
NOT_FOUND_CODES = frozenset({"NOT_FOUND", "RESOURCE_NOT_FOUND"})
# Non-standard status Khoros answers, with an HTML page, for a path it does not know.
STATUS_WRONG_PATH = 586
# A CSV line longer than this is not a row of post metrics; stop before it eats the memory.
MAX_CSV_LINE = 4 * 1024 * 1024
CSV_CHUNK = 64 * 1024
# Redirects a download link may take, each target checked as the link was. S3's pre-signed links
# do not redirect (a SigV4 signature covers the host, so one sent elsewhere would not work).
MAX_DOWNLOAD_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_I = TypeVar("_I", bound=_Identified)


@dataclass(frozen=True)
class PlanListing:
    """An Initiative's Plans as listed, with the digest of the pages they came in.

    `plans` is None when the pages' digest is the one the caller already mirrored: the pages
    were read in full (ids counted, pagination checked) but not parsed again.
    """

    digest: str
    count: int
    plans: list[Plan] | None
    # Listed Plans whose items do not parse on their own: not mirrored, never taken as removed.
    unreadable: list[UnreadablePlan] = field(default_factory=list)


@dataclass(frozen=True)
class _Unparsed:
    """A Plan item read but not yet validated: its canonical id and the decoded item."""

    id: str
    item: Any


class _UndecodableBodyError(KhorosBadPayloadError, UndecodableBodyError):
    """Raise for a 2xx body that is not JSON: the one payload failure worth one more GET."""


class _NoAuthorization(requests.auth.AuthBase):
    """Send no Authorization header, and keep requests from taking one from ~/.netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def _envelope_error(payload: object) -> tuple[str | None, str]:
    """Return (code, message) of a failed envelope, or (None, "") for anything else."""
    if not isinstance(payload, dict):
        return None, ""
    status = payload.get("status")
    # Export answers carry "status" as a string ("complete"); only the object form is an envelope.
    if not isinstance(status, dict) or status.get("succeeded") is not False:
        return None, ""
    error = status.get("error")
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code")
    message = error.get("message")
    # Khoros's words go into the run's error and outcomes: a NUL (which PostgreSQL refuses)
    # failed their write and left the run running; a bidi override turned the page's text.
    return (
        clean_text(code).strip().upper()[:80] if isinstance(code, str) else "",
        message if isinstance(message, str) else "",
    )


def _redirect_location(response: requests.Response) -> str | None:
    """The Location of a redirect answer, or None for any other."""
    if response.status_code not in _REDIRECT_STATUSES:
        return None
    return response.headers.get("Location") or None


def _is_plain_text(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return content_type.split(";", 1)[0].strip().lower() == "text/plain"


def _total_items(payload: dict[str, Any]) -> int | None:
    pagination = payload.get("pagination")
    if not isinstance(pagination, dict):
        return None
    total = pagination.get("totalItems")
    if isinstance(total, str) and total.isascii() and total.isdigit():
        total = int(total)
    # The spec types it integer (and string in one schema); 4.0 is the same count. Thrown away,
    # a missing page after it read as the end of the list.
    if isinstance(total, float) and total.is_integer():
        total = int(total)
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        return None
    return total


def _list_data(payload: object, what: str) -> list[Any]:
    data = require_mapping(payload, what).get("data")
    if not isinstance(data, list):
        raise KhorosBadPayloadError(f"{what}: data must be a list")
    return data


def _object_data(payload: object, what: str) -> dict[str, Any]:
    return require_mapping(require_mapping(payload, what).get("data"), what)


def _unwrap_export(payload: object, what: str) -> dict[str, Any]:
    """Return the export object, bare as documented or inside a "data" envelope."""
    data = require_mapping(payload, what)
    inner = data.get("data")
    if "export_id" not in data and isinstance(inner, dict):
        return inner
    return data


def _wire_id(value: str) -> str | int:
    # The documented export query sends Initiative ids as numbers; our ids are strings.
    return int(value) if value.isascii() and value.isdigit() else value


def _decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the lines of a UTF-8 byte stream with their "\\n", a leading BOM dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        if "\n" in pending:
            # Only "\n" ends a line here: str.splitlines would also cut at \x0b, \x1c, \u2028...
            # inside a quoted field, and the csv module would then see a truncated record.
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        if len(pending) > MAX_CSV_LINE:
            raise KhorosBadPayloadError(f"CSV line longer than {MAX_CSV_LINE} characters")
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


_MD5_ETAG = re.compile(r'^(?:W/)?"?([0-9a-fA-F]{32})"?$')
_NOT_CSV_TYPES = ("text/html", "application/json", "application/xml", "text/xml", "+json", "+xml")
# Every gzip member starts with these two bytes; no UTF-8 text does (0x8b never leads a character).
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
# Most bytes one step of inflating may give: a small, highly compressed chunk of a gzip body
# must not become hundreds of megabytes at once.
_INFLATE_STEP = 16 * CSV_CHUNK


# S3's codes (400) for a link signed with temporary credentials (the spec's link carries an
# X-Amz-Security-Token) whose session ended before the link: a fresh link works again.
_S3_EXPIRED_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired"})
_S3_CODE = re.compile(rb"<Code>\s*([A-Za-z]+)\s*</Code>")
# An S3 error body is a few hundred bytes; its code is read from no more than this.
_S3_ERROR_HEAD = 4096


def _s3_error_code(response: requests.Response) -> str | None:
    """The <Code> of an S3 XML error body, read from its first bytes; None if there is none."""
    try:
        head = next(response.iter_content(_S3_ERROR_HEAD), b"")
    except (requests.RequestException, urllib3.exceptions.HTTPError):
        return None
    match = _S3_CODE.search(head[:_S3_ERROR_HEAD])
    return match.group(1).decode("ascii") if match else None


class _Gunzip:
    """Inflate a gzip stream (one member or several, as concatenated .gz files are) bit by bit."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._inflater.eof:  # the next member
                self._inflater = zlib.decompressobj(wbits=31)
            out = self._inflater.decompress(data, _INFLATE_STEP)
            if out:
                yield out
            data = (
                self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
            )

    @property
    def complete(self) -> bool:
        """Whether the stream ended where a member ends (a cut one does not)."""
        return self._inflater.eof


class ExportTable:
    """A downloaded export CSV read as it arrives: `header`, then (line number, cells) rows.

    The body is checked as far as the format allows: it must be a CSV (not empty, not served as
    HTML, XML or JSON under status 200), must end with a line break (a body cut mid-row does
    not), and must match its ETag when that is a plain MD5, as S3 gives for a file uploaded in
    one part.
    `verified` tells, once every row was read, whether the ETag proved the body whole; a body
    cut exactly between two rows can only be caught that way.

    A gzip body is inflated here, whether it says so (Content-Encoding: gzip, an object stored
    compressed) or not (a .csv.gz served as a file): it is read as sent, so that its ETag can
    be checked against the MD5 of the bytes stored (S3) or of the CSV (a CDN that compressed
    it on the way), and a gzip stream that stops before its end is a cut file.
    """

    def __init__(
        self, response: requests.Response, path: str, *, deadline: Deadline | None = None
    ) -> None:
        self.path = path
        self._response = response
        # The whole body must arrive within it, however slowly the rows are read.
        self._deadline = deadline
        self._md5 = hashlib.md5(usedforsecurity=False)  # of the bytes as sent
        self._plain_md5 = hashlib.md5(usedforsecurity=False)  # of the CSV, when sent as gzip
        self._gunzip: _Gunzip | None = None
        self._sniffed = False  # whether the first bytes told gzip from plain
        self._tail = b""
        self._size = 0
        headers = getattr(response, "headers", None) or {}
        self._encoding = headers.get("Content-Encoding", "").strip().lower()
        match = _MD5_ETAG.match(headers.get("ETag", "").strip())
        self._etag = match.group(1).lower() if match else None
        self.verified = False
        self.finished = False
        self._header: list[str] | None = None
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type and content_type.endswith(_NOT_CSV_TYPES):
            response.close()
            raise KhorosBadPayloadError(f"the download is {content_type}, not a CSV", path=path)
        self._reader = csv.reader(_decoded_lines(self._chunks()), strict=True)

    @property
    def header(self) -> list[str]:
        """The header row, read on first use; raise KhorosBadPayloadError if there is none.

        Whether it is the header of the table asked for is the caller's to judge.
        """
        if self._header is None:
            try:
                with self._translated():
                    header = next(self._reader, None)
                    while header == []:  # blank lines before the header
                        header = next(self._reader, None)
                if header is None:
                    raise KhorosBadPayloadError(
                        "the download is empty: not even a header row", path=self.path
                    )
            except BaseException:
                self.close()
                raise
            self._header = header
        return self._header

    def _sent_chunks(self) -> Iterator[bytes]:
        """The body as it came over the wire (still gzip if it was)."""
        raw = getattr(self._response, "raw", None)
        # requests would inflate gzip, and the ETag of a stored gzip object is of the gzip.
        as_sent = self._encoding in _GZIP_ENCODINGS and raw is not None
        if hasattr(raw, "read1"):  # a real answer: read as it arrives, within the deadline
            yield from body_chunks(
                self._response, self._deadline, CSV_CHUNK, decode_content=not as_sent
            )
        elif as_sent and raw is not None:
            yield from raw.stream(CSV_CHUNK, decode_content=False)
        else:
            yield from self._response.iter_content(CSV_CHUNK)

    def _chunks(self) -> Iterator[bytes]:
        head = b""
        for chunk in self._sent_chunks():
            if not chunk:
                continue
            self._md5.update(chunk)
            if not self._sniffed:
                head += chunk
                if len(head) < len(_GZIP_MAGIC):
                    continue
                chunk, head, self._sniffed = head, b"", True
                if chunk.startswith(_GZIP_MAGIC):
                    self._gunzip = _Gunzip()
            yield from self._plain(chunk)
        if head:  # a one-byte body
            yield from self._plain(head)

    def _plain(self, chunk: bytes) -> Iterator[bytes]:
        """The CSV bytes of a chunk as sent: inflated if the body is gzip."""
        pieces: Iterable[bytes] = (chunk,) if self._gunzip is None else self._gunzip.feed(chunk)
        try:
            for piece in pieces:
                if self._gunzip is not None:
                    self._plain_md5.update(piece)
                self._size += len(piece)
                self._tail = piece[-1:]
                yield piece
        except zlib.error as exc:
            # The file itself is broken (TCP would have caught a flip in transit).
            raise KhorosBadPayloadError(
                f"the gzip download is damaged: {exc}", path=self.path
            ) from None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except csv.Error as exc:
            raise KhorosBadPayloadError(f"invalid CSV: {exc}", path=self.path) from None
        except UnicodeDecodeError:
            raise KhorosBadPayloadError("the CSV is not UTF-8", path=self.path) from None
        except DeadlineExceededError as exc:
            # KHOROS_DOWNLOAD_DEADLINE_SECONDS: a link dripping bytes held a worker for days.
            raise KhorosUnavailableError(
                f"the download took longer than {exc.seconds:g} s", path=self.path
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # Rows already went to the caller, so this cannot be retried here: start again.
            # (A gzip body is read from urllib3 itself, whose errors requests does not wrap.)
            raise KhorosUnavailableError(
                f"the download broke off: {type(exc).__name__}", path=self.path
            ) from None

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        self.header  # noqa: B018 - the rows start after it
        try:
            with self._translated():
                for row in self._reader:
                    if row:
                        yield self._reader.line_num, row
            self._check_complete()
        finally:
            self.close()

    def _check_complete(self) -> None:
        if self._gunzip is not None and not self._gunzip.complete:
            raise KhorosUnavailableError(
                f"the gzip download stops before its end after {self._size} bytes of CSV: the "
                "file is cut",
                path=self.path,
            )
        if self._tail not in (b"\n", b"\r"):
            # Every row of a CSV writer ends with a line break: this body was cut mid-row.
            raise KhorosUnavailableError(
                f"the download ends mid-row after {self._size} bytes (no final line break): "
                f"the file is cut",
                path=self.path,
            )
        if self._etag is not None:
            digests = {self._md5.hexdigest()}
            if self._gunzip is not None:
                digests.add(self._plain_md5.hexdigest())
            if self._etag not in digests:
                raise KhorosUnavailableError(
                    f"the download ({self._size} bytes) does not match its ETag: the file is cut "
                    f"or damaged",
                    path=self.path,
                )
            self.verified = True
        self.finished = True

    def close(self) -> None:
        self._response.close()


class KhorosClient(HttpClient):
    """Read Initiatives and Plans, and run analytics exports, on one Khoros company."""

    system = "Khoros"
    unavailable_error = KhorosUnavailableError
    logger = logger

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        company_id: str,
        page_size: int = 100,
        download_deadline_seconds: float = DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
        download_hosts: Iterable[str] = (),
        **options: Unpack[TransportOptions],
    ) -> None:
        """Talk to Khoros at base_url; `options` (timeouts, retries) go to HttpClient.

        `download_deadline_seconds` bounds an export download from its request to its last byte.
        `download_hosts` names the hosts a download link may lead to although they are not
        public (besides base_url's own host and port): see khoros.download_links.
        """
        http_url(base_url)
        if not token:
            raise ValueError("token is required")
        if not str(company_id).strip():
            raise ValueError("company_id is required")
        super().__init__(secrets=(token,), **options)
        Deadline(download_deadline_seconds)  # refuses one that is not a positive number
        self.download_deadline_seconds = float(download_deadline_seconds)
        self.base_url = base_url.rstrip("/")
        self.download_policy = DownloadPolicy.for_base_url(self.base_url, tuple(download_hosts))
        self.company_id = str(company_id).strip()
        # Above the server's maximum a clamped page looks short and would end the listing early.
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._session.headers["Authorization"] = f"Bearer {token}"
        # Pre-signed download links must not receive the bearer token: it would leak to the
        # storage service, and S3-like services refuse a request that carries two credentials.
        self._download_session = requests.Session()
        self._download_session.headers["User-Agent"] = self._session.headers["User-Agent"]
        self._download_session.auth = _NoAuthorization()
        # gzip is read (and its ETag checked) by ExportTable; other codings could only be
        # taken as requests decodes them, with an ETag that then proves nothing.
        self._download_session.headers["Accept-Encoding"] = "gzip"
        # The link comes from Khoros' answer: it may lead only to public addresses (SSRF).
        for scheme in ("http://", "https://"):
            self._download_session.mount(scheme, PublicOnlyAdapter(self.download_policy))

    def __repr__(self) -> str:
        return f"<KhorosClient {self.base_url} company={self.company_id}>"

    def close(self) -> None:
        """Close the pooled connections."""
        super().close()
        self._download_session.close()

    # --- Companies and user ------------------------------------------------------------------

    # https://developer.khoros.com/khorosmarketingdevdocs/reference/conversations-api
    # GET /v2/me: the companies the token reaches.
    def me(self) -> list[Company]:
        """Return the companies the token can reach."""
        payload = self._get_json("/me")
        with self._locating("/me"):
            companies = _object_data(payload, "me").get("companies")
            if not isinstance(companies, list):
                raise KhorosBadPayloadError("me: companies must be a list")
            return [parse_company(item) for item in companies]

    # https://developer.khoros.com/khorosmarketingdevdocs/reference/conversations-api
    # GET /v2/whoami (the "introspection-api" OpenAPI document).
    def whoami(self) -> WhoAmI:
        """Return the user behind the token."""
        payload = self._get_json("/whoami")
        with self._locating("/whoami"):
            return parse_whoami(payload)

    def check_company(self) -> Company:
        """Return the configured company, or raise KhorosAuthError if the token cannot reach it."""
        companies = self.me()
        for company in companies:
            if company.id == self.company_id:
                return company
        reachable = ", ".join(c.id for c in companies) or "none"
        # V2 paths carry no company id, so a wrong KHOROS_COMPANY_ID would silently read another
        # company's data: refuse it here with words an operator can act on.
        raise KhorosAuthError(
            f"the API token cannot reach company {self.company_id} "
            f"(KHOROS_COMPANY_ID); companies it reaches: {reachable}",
            path=urlsplit(self.base_url + "/me").path,
        )

    # --- Initiatives and Plans ---------------------------------------------------------------

    # https://developer.khoros.com/khorosmarketingdevdocs/reference/conversations-api
    # GET /v2/conversations/initiative?nameFilter=&pageNumber=0&pageSize=20
    def iter_initiatives(self, name_filter: str = "") -> Iterator[Initiative]:
        """Yield every Initiative once, in the order Khoros lists them (the first copy wins)."""
        seen: set[str] = set()
        pages = self._iter_pages(
            "/conversations/initiative",
            {"nameFilter": name_filter},
            lambda items: [parse_initiative(item) for item in items],
        )
        for page in pages:
            for initiative in page:
                if initiative.id not in seen:
                    seen.add(initiative.id)
                    yield initiative

    # https://developer.khoros.com/khorosmarketingdevdocs/reference/conversations-api
    # GET /v2/conversations/initiative/{id}
    def get_initiative(self, initiative_id: str) -> Initiative:
        """Return one Initiative; raise KhorosNotFoundError when unknown."""
        key = normalise_id(initiative_id, "initiative id")
        path = f"/conversations/initiative/{quote(key, safe='')}"
        payload = self._get_json(path)
        with self._locating(path):
            return parse_initiative(_object_data(payload, "initiative"))

    # https://developer.khoros.com/khorosmarketingdevdocs/reference/conversations-api
    # GET /v2/conversations/initiative/{initiativeId}/plan?pageNumber=0&pageSize=20
    def list_plans(self, initiative_id: str) -> list[Plan]:
        """Return every Plan of an Initiative once, in order of first appearance."""
        plans = self.read_plans(initiative_id).plans
        assert plans is not None  # parsed: there was no digest to compare with
        return plans

    def read_plans(self, initiative_id: str, *, salt: str = "", unless: str = "") -> PlanListing:
        """Read every Plan page of an Initiative and digest the pages' bodies with `salt`.

        When the digest equals `unless`, the pages are exactly those the caller mirrored last
        time: their Plans are counted but not validated again (plans is None). Otherwise every
        Plan is returned once, in order of first appearance.
        """
        key = normalise_id(initiative_id, "initiative id")
        path = f"/conversations/initiative/{quote(key, safe='')}/plan"
        digest = hashlib.blake2b(salt.encode(), digest_size=32, usedforsecurity=False)

        def parse(items: list[Any]) -> list[Plan | UnreadablePlan]:
            # A page at once: one validation call per page, not one per Plan (issue 13).
            return parse_plan_items(items, initiative_id=key)

        def read(items: list[Any]) -> list[Plan | _Unparsed | UnreadablePlan]:
            if unless:
                # Ids are enough to follow the pagination. A page whose ids are not all Plan
                # ids is parsed at once, so that its error is the one a parsed read gives.
                try:
                    return [_Unparsed(plan_uuid(item["id"]), item) for item in items]
                except (TypeError, KeyError, ValueError):
                    pass
            return list(parse(items))

        pages: list[list[Plan | _Unparsed | UnreadablePlan]] = []
        try:
            for page in self._iter_pages(path, {"nameFilter": ""}, read, body=digest.update):
                pages.append(page)
        except KhorosIncompleteListingError as exc:
            exc.items = self._plans_of(path, pages, parse)[0]
            raise
        if unless and digest.hexdigest() == unless:
            return PlanListing(unless, len({item.id for page in pages for item in page}), None)
        plans, unreadable = self._plans_of(path, pages, parse)
        # Pages with an unreadable Plan are read again next time, not skipped as mirrored.
        return PlanListing(
            "" if unreadable else digest.hexdigest(), len(plans) + len(unreadable), plans,
            unreadable,
        )  # fmt: skip

    def _plans_of(
        self,
        path: str,
        pages: list[list[Plan | _Unparsed | UnreadablePlan]],
        parse: Callable[[list[Any]], list[Plan | UnreadablePlan]],
    ) -> tuple[list[Plan], list[UnreadablePlan]]:
        """The Plans of the pages read, parsing those read by id only; each Plan once, and
        those that did not parse."""
        plans: dict[str, Plan | UnreadablePlan] = {}
        for page in pages:
            parsed: list[Plan | _Unparsed | UnreadablePlan] | list[Plan | UnreadablePlan] = page
            if page and isinstance(page[0], _Unparsed):
                with self._locating(path):
                    parsed = parse([cast(_Unparsed, item).item for item in page])
            for plan in parsed:
                # A Plan seen twice moved between pages while we read (the doc's "data
                # changed mid-scan"): the later copy is the fresher read, so it wins; the
                # dict keeps the position of the first one.
                plans[plan.id] = cast(Plan | UnreadablePlan, plan)
        found = list(plans.values())
        return (
            [plan for plan in found if isinstance(plan, Plan)],
            [plan for plan in found if isinstance(plan, UnreadablePlan)],
        )

    # --- Analytics export --------------------------------------------------------------------

    # https://developer.khoros.com/khorosmarketingdevdocs/docs/calling-the-analytics-reporting-api
    # GET /v2/analytics/export/posts/fields. The public spec's only example is a 200 with
    # text/plain "Coming Soon": the field ids are configuration, this catalogue a convenience.
    def export_fields(self) -> list[tuple[int, str]]:
        """Return the (id, name) of every field the posts export offers; [] if Khoros lists none."""
        path = "/analytics/export/posts/fields"
        try:
            payload = self._send_json("GET", path, plain_text_ok=True)
        except KhorosRequestError as exc:
            if exc.status != 400:
                raise
            # The spec's other answer: 400 with `{}`. The export type is fixed, so it can only
            # mean "no catalogue here"; the KPI sync must not fail over a convenience.
            logger.warning("%s refused (HTTP 400): no field catalogue", path)
            return []
        if payload is None:
            logger.info(
                "%s answered plain text, not a field list; field ids come from settings", path
            )
            return []
        with self._locating(path):
            return [parse_field(item) for item in _list_data(payload, "export fields")]

    # https://developer.khoros.com/khorosmarketingdevdocs/docs/calling-the-analytics-reporting-api
    # POST /v2/analytics/export/posts?header=true&delimiter=,
    def start_export(
        self,
        *,
        fields: list[int],
        start: date,
        stop: date,
        timezone: str,
        initiative_ids: list[str],
        plan_ids: list[str],
    ) -> str:
        """Start a posts export from `start` (inclusive) to `stop` (exclusive); return its id."""
        if not fields or any(isinstance(f, bool) or not isinstance(f, int) for f in fields):
            raise ValueError("fields must be a non-empty list of integer field ids")
        if stop <= start:
            raise ValueError("stop must be after start (it is exclusive)")
        if not timezone.strip():
            raise ValueError("timezone is required (an IANA name such as America/Chicago)")
        initiatives = [_wire_id(normalise_id(i, "initiative id")) for i in initiative_ids]
        query: dict[str, Any] = {
            "fields": list(fields),
            "start": start.isoformat(),
            "stop": stop.isoformat(),
            "timezone": timezone,
            # The docs spell the key "intiatives" (sic); which one the server reads is unknown.
            "intiatives": initiatives,
            "initiatives": initiatives,
            "content_filter": {"plans": [str(p) for p in plan_ids]},
        }
        # Not idempotent: every accepted POST starts one more export, so it is sent again only
        # when we know the server did not act on it (see _send).
        path = "/analytics/export/posts"
        payload = self._send_json(
            "POST", path, params={"header": "true", "delimiter": ","}, body={"query": query}
        )
        with self._locating(path):
            data = _unwrap_export(payload, "export")
            if "export_id" not in data:
                raise KhorosBadPayloadError("export: answer has no export_id")
            return normalise_id(data["export_id"], "export")

    # https://developer.khoros.com/khorosmarketingdevdocs/docs/calling-the-analytics-reporting-api
    # GET /v2/analytics/export/{id}/status
    def export_status(self, export_id: str) -> ExportStatus:
        """Return the state of an export; raise KhorosNotFoundError for an unknown id."""
        key = normalise_id(export_id, "export id")
        path = f"/analytics/export/{quote(key, safe='')}/status"
        payload = self._send_json("GET", path, bare_400_is_not_found=True)
        with self._locating(path):
            return parse_export_status(_unwrap_export(payload, "export status"), export_id=key)

    # https://developer.khoros.com/khorosmarketingdevdocs/docs/calling-the-analytics-reporting-api
    # Step 3: the pre-signed link is fetched without the Authorization header.
    def download_table(self, url: str) -> ExportTable:
        """Fetch a finished export: its header row now, its rows (lists of cells) as read.

        Raises KhorosBadPayloadError, before any row, when the body is not a CSV at all (empty,
        an HTML page, a JSON body) even under status 200, and KhorosDownloadRefusedError, before
        any request, when the link or one of its redirects leads to an address that is not
        public (khoros.download_links).
        """
        # The request is made here, not on the first row: an expired link raises
        # KhorosLinkExpiredError at the call, before any row, so the caller can ask for a new one.
        # One deadline for the whole download, its redirects, retries and the reading of its rows.
        deadline = Deadline(self.download_deadline_seconds)
        for _hop in range(MAX_DOWNLOAD_REDIRECTS + 1):
            host = self.download_policy.check(url)
            # The query string of a pre-signed link is a credential: errors and logs get the path.
            path = urlsplit(url).path or "/"
            response = self._send(
                "GET",
                url,
                path=path,
                session=self._download_session,
                # The path of a pre-signed link is part of its signature: the run page shows the
                # host and says it was a signed link.
                log_path=f"{host} (signed link)",
                stream=True,
                deadline=deadline,
                # Each target is checked before it is asked, as the link was.
                allow_redirects=False,
                accept=self._download_accepter(path),
            )
            location = _redirect_location(response)
            if location is None:
                return ExportTable(response, path, deadline=deadline)
            response.close()
            url = urljoin(url, location)
        raise KhorosBadPayloadError(
            f"the export download link redirected more than {MAX_DOWNLOAD_REDIRECTS} times",
            path=path,
        )

    def _download_accepter(self, path: str) -> Callable[[requests.Response], requests.Response]:
        def accept(response: requests.Response) -> requests.Response:
            if _redirect_location(response) is not None:
                return response  # followed by download_table, once its target is checked
            return self._accept_download(response, path)

        return accept

    def download_export(self, url: str) -> Iterator[dict[str, str]]:
        """Fetch a finished export and yield its CSV rows as dicts keyed by the header row."""
        table = self.download_table(url)
        return self._csv_rows(table, table.path)

    # --- Transport ---------------------------------------------------------------------------

    @contextmanager
    def _locating(self, path: str) -> Iterator[None]:
        """Stamp the URL path on a KhorosBadPayloadError raised while parsing its answer."""
        try:
            yield
        except KhorosBadPayloadError as exc:
            if exc.path is None:
                exc.path = urlsplit(self.base_url + path).path
            raise

    def _get_json(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        body: Callable[[bytes], object] | None = None,
    ) -> Any:
        return self._send_json("GET", path, params=params, body_seen=body)

    def _send_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        bare_400_is_not_found: bool = False,
        plain_text_ok: bool = False,
        body_seen: Callable[[bytes], object] | None = None,
    ) -> Any:
        """Send a request and return its decoded JSON; `body_seen` gets the accepted body."""
        url = self.base_url + path
        error_path = urlsplit(url).path

        def accept(response: requests.Response) -> Any:
            payload = self._accept_json(
                response,
                error_path,
                bare_400_is_not_found=bare_400_is_not_found,
                plain_text_ok=plain_text_ok,
            )
            if body_seen is not None:
                body_seen(response.content)
            return payload

        # Our own API's URLs hold no credential: the requests exception may stay the cause.
        return self._send(
            method, url, path=error_path, accept=accept, chain=True, params=params, json=body
        )

    def _accept_json(
        self,
        response: requests.Response,
        path: str,
        *,
        bare_400_is_not_found: bool,
        plain_text_ok: bool = False,
    ) -> Any:
        """Return the decoded JSON of a successful answer, or raise the matching KhorosError.

        With plain_text_ok, a 2xx text/plain body that is not JSON gives None (no retry).
        """
        status = response.status_code
        content = response.content
        text = content.decode("utf-8", "replace")
        markup = looks_like_markup(text)
        payload: Any = None
        decoded = False
        if content.strip() and not markup:
            try:
                payload = decode_json(content)
                decoded = True
            except (ValueError, RecursionError):
                pass
        if not decoded and "developer inactive" in text.lower():
            # Khoros answers an expired or revoked token with this HTML page, even under 200.
            raise KhorosAuthError(
                "Khoros answered with its 'Developer Inactive' page: the API token is expired "
                "or revoked",
                status=status,
                path=path,
            )
        # Error bodies often come as text/plain although they hold JSON: judge the content.
        code, message = _envelope_error(payload)
        if status == 429:
            raise KhorosRateLimitedError(
                f"Khoros is throttling requests{self._detail(message)}",
                status=status,
                path=path,
                code=code or None,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if 200 <= status < 300:
            if markup:
                raise KhorosBadPayloadError(
                    "Khoros answered with an HTML page where JSON was expected",
                    status=status,
                    path=path,
                )
            if not decoded and plain_text_ok and _is_plain_text(response) and content.strip():
                return None
            if not decoded:
                raise _UndecodableBodyError(
                    "Khoros answered with a body that is not JSON (empty, cut short or invalid)",
                    status=status,
                    path=path,
                )
            if code is None:
                return payload
        if bare_400_is_not_found and status == 400 and (not content.strip() or payload == {}):
            # The export status endpoint answers an unknown id with a 400 and no content: `{}`
            # in the public spec's example, an empty body in the wild. Both mean a lost export.
            raise KhorosNotFoundError("unknown export id", status=status, path=path)
        raise self._error_for(status, code or None, message, path)

    def _error_for(self, status: int, code: str | None, message: str, path: str) -> KhorosError:
        detail = self._detail(message)
        label = f" [{code}]" if code else ""
        kwargs: dict[str, Any] = {"status": status, "path": path, "code": code}
        if status in (401, 403) or code in AUTH_CODES:
            return KhorosAuthError(f"Khoros refused the credentials{label}{detail}", **kwargs)
        if status == 406:
            # The spec's one published error: text/plain {"code": "not_acceptable"} when the
            # body cannot be parsed. Sending it again cannot help: it is our bug, not Khoros'.
            return KhorosRequestError(
                f"Khoros could not parse the request (HTTP 406 Not Acceptable){label}{detail}",
                retryable=False,
                **kwargs,
            )
        if status == STATUS_WRONG_PATH:
            return KhorosNotFoundError(
                "Khoros does not know this path (status 586): check KHOROS_BASE_URL", **kwargs
            )
        if status == 404 or code in NOT_FOUND_CODES:
            return KhorosNotFoundError(f"not found on Khoros{label}{detail}", **kwargs)
        if status >= 500 or code == "UNKNOWN_ERROR" or (code or "").startswith("PROXY_"):
            return KhorosUnavailableError(f"Khoros failed (HTTP {status}){label}{detail}", **kwargs)
        if 400 <= status < 500 or 200 <= status < 300:
            return KhorosRequestError(f"Khoros rejected the request{label}{detail}", **kwargs)
        return KhorosBadPayloadError(f"unexpected HTTP status {status}", **kwargs)

    def _accept_download(self, response: requests.Response, path: str) -> requests.Response:
        """Return a successful download response (still streaming) or raise the matching error."""
        status = response.status_code
        if 200 <= status < 300:
            return response
        if status == 403 or (status == 400 and _s3_error_code(response) in _S3_EXPIRED_CODES):
            # Like S3, an expired pre-signed link answers 403 with an XML body; one signed with
            # temporary credentials that ran out first answers 400 ExpiredToken.
            raise KhorosLinkExpiredError(
                "the export download link was refused (expired): ask the export status again",
                status=status,
                path=path,
            )
        if status == 429:
            raise KhorosRateLimitedError(
                "the download is throttled",
                status=status,
                path=path,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            error: KhorosError = KhorosUnavailableError(
                f"the download failed (HTTP {status})", status=status, path=path
            )
        elif status == 404:
            error = KhorosNotFoundError("the export file is gone", status=status, path=path)
        else:
            error = KhorosRequestError(
                f"the download was refused (HTTP {status})", status=status, path=path
            )
        raise error

    def _csv_rows(
        self, source: requests.Response | ExportTable, path: str
    ) -> Iterator[dict[str, str]]:
        """Yield rows as dicts while reading the body; a body never sits whole in memory."""
        table = source if isinstance(source, ExportTable) else ExportTable(source, path)
        header = table.header
        try:
            if len(set(header)) != len(header):
                # Two columns under one name would merge into one dict key and skew the sums.
                raise KhorosBadPayloadError("CSV header repeats a column name", path=path)
            for line, row in table:
                if len(row) != len(header):
                    raise KhorosBadPayloadError(
                        f"CSV row ending on line {line} has {len(row)} fields, "
                        f"the header has {len(header)}",
                        path=path,
                    )
                yield dict(zip(header, row, strict=True))
        finally:
            table.close()

    # --- Paging ------------------------------------------------------------------------------

    def _iter_pages(
        self,
        path: str,
        params: dict[str, Any],
        parse: Callable[[list[Any]], list[_I]],
        *,
        body: Callable[[bytes], object] | None = None,
    ) -> Iterator[list[_I]]:
        """Yield the parsed items page by page until the listing ends; callers dedupe by id.

        `parse` turns the decoded items of one page into their objects; `body`, if given, is
        fed the body of every page read, in order.
        """
        # When totalItems changes between pages, records moved while we read: one that slid
        # back across a page boundary was skipped, and deduplication cannot bring it back. The
        # listing is then read once more from page 0 (the caller merges both readings).
        for reading in (1, 2):
            totals: set[int] = set()
            yield from self._read_listing(path, params, parse, totals, body, last=reading == 2)
            if len(totals) <= 1:
                return
            logger.warning(
                "%s: totalItems changed while reading (%s)%s",
                path,
                ", ".join(str(t) for t in sorted(totals)),
                "; reading it again" if reading == 1 else "; keeping both readings",
            )

    def _read_listing(
        self,
        path: str,
        params: dict[str, Any],
        parse: Callable[[list[Any]], list[_I]],
        totals: set[int],
        body: Callable[[bytes], object] | None = None,
        *,
        last: bool = False,
    ) -> Iterator[list[_I]]:
        """Read one listing from page 0, collecting the totalItems values it announces.

        A listing it cannot tell complete raises KhorosIncompleteListingError (the sync then
        marks nothing removed); one whose totalItems moved ends where it ends, for the caller
        to read again, unless this is the `last` reading.
        """
        # A full page always leads to the next one and a short or empty page ends the listing:
        # totalItems is missing or wrong often enough that it only decides two doubtful cases.
        # A short page while totalItems promises more is followed (the server may clamp
        # pageSize below ours), and an empty page while totalItems promises more is read once
        # again (an empty page mid-list is a known glitch). Both cost an extra request or two
        # at most when totalItems is too large.
        seen: set[str] = set()
        promised: int | None = None
        stale_pages = 0
        # A full page that brought no item not read already: the server served a page again
        # (or ignored pageNumber), so the page it should have served was never read.
        repeated = False
        after_short = False  # the page before this one was short
        reread_left = 1
        page = 0
        while True:
            if page >= MAX_PAGES:
                raise KhorosBadPayloadError(f"listing did not end after {MAX_PAGES} pages")
            payload = self._get_json(
                path, {**params, "pageNumber": page, "pageSize": self.page_size}, body=body
            )
            with self._locating(path):
                items = parse(_list_data(payload, "list"))
            total = _total_items(payload)
            new = {item.id for item in items} - seen
            seen |= new
            if total is not None and total < len(seen):
                # Below what was read already: wrong, so no promise, and no sign that records
                # moved (an empty page's 0 ended a listing whose earlier pages promised more).
                total = None
            if total is not None:
                totals.add(total)
                promised = total
            more_promised = total is not None and len(seen) < total
            # Only a reading that ends where it should may stand for the whole list: the sync
            # marks removed every item it did not bring.
            moved = len(totals) > 1 and not last  # the caller reads the listing again
            proven = promised is not None and len(seen) >= promised
            if not items:
                short = promised is not None and len(seen) < promised
                # A list empty from its first page, with no totalItems to say it is: an answer
                # without its envelope (`{"data": []}`) removed every Initiative.
                unproven = page == 0 and promised is None
                if short or unproven:
                    if reread_left:
                        reread_left -= 1
                        self.stats.retries += 1
                        logger.warning("%s page %d empty; reading it again", path, page)
                        continue
                    if unproven:
                        raise self._incomplete(path, "page 0 came back empty twice", None, seen)
                    # Ending here would report every item past this page as removed, unless
                    # the records moved while they were read (totalItems changed) and the page
                    # before was short: that is where the list ended, read on only because of
                    # a totalItems that does not hold still. After a full page, an empty one
                    # ends nothing.
                    if not (moved or (len(totals) > 1 and after_short)):
                        raise self._incomplete(
                            path, f"page {page} came back empty twice", promised, seen
                        )
                elif repeated and not (moved or proven):
                    raise self._incomplete(path, "a page came back repeated", promised, seen)
                return
            logger.debug(
                "%s page %d: %d items, %d of %s",
                path,
                page,
                len(items),
                len(seen),
                total if total is not None else "?",
            )
            yield items
            # A full page that brings the count to exactly totalItems, which has not moved,
            # is the last: asking for the next (empty) page would cost a request per listing.
            # A totalItems below what was read is wrong, so it never ends the listing.
            if new and total is not None and len(seen) == total and len(totals) == 1:
                return
            if len(items) < self.page_size and not more_promised:
                if repeated and not (moved or proven):
                    raise self._incomplete(path, "a page came back repeated", promised, seen)
                return
            after_short = len(items) < self.page_size
            if not new and not after_short:
                repeated = True
            # A server that ignores pageNumber would serve the same full page forever.
            stale_pages = 0 if new else stale_pages + 1
            if stale_pages >= 2:
                if not (moved or proven):
                    # Ending here as if complete would report every item not read as removed.
                    raise self._incomplete(
                        path, f"pages {page - 1} and {page} (repeated) brought nothing new",
                        promised, seen,
                    )  # fmt: skip
                logger.warning("%s: two pages in a row brought nothing new; stopping", path)
                return
            page += 1

    def _incomplete(
        self, path: str, what: str, total: int | None, seen: set[str]
    ) -> KhorosIncompleteListingError:
        if total is None or total <= len(seen):
            # No totalItems to prove the count: what was read cannot be told to be all.
            why = f"{what}, {len(seen)} item(s) read and no totalItems saying that is all"
        else:
            why = f"{what} although totalItems ({total}) promises {total - len(seen)} more item(s)"
        return KhorosIncompleteListingError(
            f"{why}: the listing is incomplete", path=urlsplit(self.base_url + path).path
        )


def client_from_settings() -> KhorosClient:
    """Build a client from the KHOROS_* Django settings."""
    from django.conf import settings

    token = settings.KHOROS_TOKEN
    company_id = str(settings.KHOROS_COMPANY_ID).strip()
    if not token:
        raise KhorosAuthError("KHOROS_TOKEN is not set: add the API token to the environment")
    if not company_id:
        raise KhorosAuthError("KHOROS_COMPANY_ID is not set: add the company id to the environment")
    return KhorosClient(
        base_url=settings.KHOROS_BASE_URL,
        token=token,
        company_id=company_id,
        page_size=settings.KHOROS_PAGE_SIZE,
        download_deadline_seconds=settings.KHOROS_DOWNLOAD_DEADLINE_SECONDS,
        download_hosts=settings.KHOROS_DOWNLOAD_HOSTS,
        # KHOROS_TIMEOUT_CONNECT, _TIMEOUT_READ, _MAX_RETRIES, _BACKOFF_*, _RETRY_BUDGET_SECONDS,
        # _DEADLINE_SECONDS
        **client_settings("KHOROS"),
    )
