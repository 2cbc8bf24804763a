"""Fake SAP Marketing Cloud campaign API (OData V2, WSGI, stdlib only) per sapmc-api.md part 2."""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from simulators.base import (
    Call,
    Request,
    Response,
    SimulatorApp,
    StartResponse,
    html_page,
    lenient_int,
)
from simulators.faults import Fault, ModeSpec, mode_spec
from simulators.khoros_data import KhorosData
from simulators.sapmc_data import Campaign, Reference, SapmcData
from simulators.sapmc_metadata import (
    CAMPAIGN_NAVIGATION,
    CAMPAIGN_PROPERTIES,
    CAMPAIGN_TYPE,
    ENTITY_SETS,
    REFERENCE_PROPERTIES,
    REFERENCE_TYPE,
    REFERENCES,
    EdmProperty,
    campaign_values,
    epoch_ms,
    metadata_xml,
    reference_values,
)
from simulators.sapmc_odata import (
    ODataQueryError,
    Values,
    parse_filter,
    parse_orderby,
    parse_select,
    sort_items,
)
from simulators.sapmc_success import (
    REFUSED_ROW,
    SUCCESS_ENTITY_SET,
    SUCCESS_KEY,
    SUCCESS_SERVICE_PATH,
    BatchError,
    PartResponse,
    Problem,
    batch_answer,
    created_success,
    gateway_error,
    parse_batch,
    success_metadata_xml,
    validate_success,
)

SERVICE_PATH = "/sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
HTML = "text/html; charset=utf-8"
REALM = "SAP NetWeaver Application Server"
DEFAULT_PAGE_SIZE = 50

# The success import (API_MKT_CMPGN_SUCCESS_IMPORT_SRV) has routes of its own: faults can aim at
# its service root (the CSRF fetch), its $metadata, a single POST of Successes or a $batch.
SUCCESS_ROUTES: tuple[str, ...] = (
    "success_service",
    "success_metadata",
    "successes",
    "success_batch",
)
SAPMC_ROUTES: tuple[str, ...] = (
    "service",
    "metadata",
    "campaigns",
    "campaign",
    "references",
    *SUCCESS_ROUTES,
)
LIST_ROUTES: tuple[str, ...] = ("campaigns", "references")
_ENTITY_ROUTES = ("campaigns", "campaign", "references")
_CAMPAIGN_ROUTES = ("campaigns", "campaign")


# The same budgets and queueing as the Khoros simulator (simulators/faults.py), with SAP's modes.
# Every mode takes "page" (the server page number on the list routes, counted over $skip and
# $skiptoken) to hit a listing in the middle; on other routes a page-bound fault never fires.
SAPMC_MODES: dict[str, ModeSpec] = {
    "unauthorized": mode_spec("replace", SAPMC_ROUTES, "page"),
    "forbidden": mode_spec("replace", SAPMC_ROUTES, "page"),
    "login_page": mode_spec("replace", SAPMC_ROUTES, "page"),
    "rate_limit": mode_spec("replace", SAPMC_ROUTES, "page", "retry_after"),
    "http_500": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_502": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_503": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_504": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "slow_headers": mode_spec("replace", SAPMC_ROUTES, "page", "seconds"),
    "slow_body": mode_spec("replace", SAPMC_ROUTES, "page", "seconds", "chunks"),
    "connection_reset": mode_spec("replace", SAPMC_ROUTES, "page"),
    "invalid_json": mode_spec("replace", _ENTITY_ROUTES, "page"),
    "truncated_json": mode_spec("replace", SAPMC_ROUTES, "page", "fraction"),
    "next_loop": mode_spec("modify", LIST_ROUTES, "page"),
    "next_foreign_host": mode_spec("modify", LIST_ROUTES, "page", "host"),
    "next_relative": mode_spec("modify", LIST_ROUTES, "page"),
    "missing_next": mode_spec("modify", LIST_ROUTES, "page"),
    "missing_count": mode_spec("modify", LIST_ROUTES, "page"),
    "duplicates": mode_spec("modify", LIST_ROUTES, "page"),
    "empty_page": mode_spec("modify", LIST_ROUTES, "page"),
    "date_offset_variant": mode_spec("modify", _CAMPAIGN_ROUTES),
    "guids_upper": mode_spec("modify", _ENTITY_ROUTES),
    "extra_fields": mode_spec("modify", _ENTITY_ROUTES),
    # SAP MC refuses the Success rows of one external campaign (a row-level business check):
    # `property` (default ExternalCampaignID) and `message` shape the Gateway error.
    "refuse_row": mode_spec(
        "modify", ("successes", "success_batch"), "external_campaign_id", "property", "message"
    ),
}
# SAP Gateway's session cookie (SAP_SESSIONID_<system>_<client>): a CSRF token is valid only
# together with the session it was fetched in.
SESSION_COOKIE = "SAP_SESSIONID_SIM_100"
_EXTRA_FIELDS: dict[str, Any] = {"YY1_CampaignPriority_MKT": "HIGH", "CampaignTargetGroup": None}


# Requests -----------------------------------------------------------------------------------


@dataclass
class _Call(Call):
    pairs: list[tuple[str, str]]  # the query string in order, decoded
    subpath: str  # the path below the service root, e.g. "Campaigns"


@dataclass(frozen=True)
class _Options:
    predicate: Callable[[Values], bool] | None
    top: int | None
    skip: int
    token: int
    inlinecount: bool
    expand: bool
    select: frozenset[str] | None  # None: every property
    orderby: list[tuple[str, bool]]


Handler = Callable[["SapmcSimulator", _Call], Response]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    name: str
    handler: Handler


_GUID_KEY = r"\((?:{key}=)?guid'(?P<{group}>[^']*)'\)"
_SUPPORTED_OPTIONS = frozenset(
    {
        "$format",
        "$filter",
        "$top",
        "$skip",
        "$skiptoken",
        "$inlinecount",
        "$expand",
        "$select",
        "$orderby",
    }
)
_COUNT_SEGMENT = "/$count"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})


def odata_error(status: int, code: str, message: str, content_type: str = JSON) -> Response:
    """An OData V2 error answer as SAP Gateway sends it."""
    payload = {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": message},
            "innererror": {"transactionid": uuid.uuid4().hex.upper(), "errordetails": []},
        }
    }
    return Response(status, json.dumps(payload).encode(), content_type)


def _html(status: int, title: str, body: str = "") -> Response:
    return html_page(status, title, body, HTML)


def _json_body(payload: Any) -> bytes:
    text = json.dumps(payload, ensure_ascii=False)
    # SAP Gateway escapes the slashes of its date literals ("\/Date(...)\/"); JSON decoders
    # read them back unchanged, and the client must not depend on either spelling.
    return text.replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"').encode()


class SapmcSimulator(SimulatorApp[SapmcData]):
    """WSGI app faking SAP MC's API_MKT_CAMPAIGN_SRV, with fault injection and a request log."""

    routes = SAPMC_ROUTES
    modes = SAPMC_MODES
    json_type = JSON

    def __init__(
        self,
        data: SapmcData | None = None,
        *,
        user: str = "demo-user",
        password: str = "demo-password",
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], datetime] | None = None,
        public_url: str | None = None,
    ) -> None:
        """Serve data (default: SapmcData.generate()), at most page_size results per answer."""
        # clock returns aware UTC now (LastChangeDateTime of mutations, Retry-After dates);
        # public_url replaces the Host header in __metadata and __next links.
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        data = data if data is not None else SapmcData.generate()
        super().__init__(data, clock=clock, public_url=public_url)
        self.user = user
        self.password = password
        self.page_size = page_size
        self.csrf_token = secrets.token_urlsafe(18)
        self._sessions: set[str] = set()  # the session ids handed out with a CSRF token
        self._successes: list[dict[str, Any]] = []  # Success rows created, oldest first

    # Python API for tests: the success import ----------------------------------------------

    @property
    def successes(self) -> list[dict[str, Any]]:
        """Copy of every Success row created (as received, with its assigned key), oldest first."""
        with self._lock:
            return [dict(row) for row in self._successes]

    def clear_successes(self) -> None:
        with self._lock:
            self._successes.clear()

    def expire_sessions(self) -> None:
        """End every session: the next write answers 403 until a token is fetched again."""
        with self._lock:
            self._sessions.clear()

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._successes.clear()
            self._sessions.clear()

    def _control(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_sim/successes" and method == "GET":
            return self._control_json({"successes": self.successes})
        if path == "/_sim/successes" and method == "DELETE":
            self.clear_successes()
            return self._control_json({"successes": []})
        return super()._control(method, path, body)

    # Python API for tests ------------------------------------------------------------------

    def add_campaign(self, **fields: Any) -> Campaign:
        """Add a campaign (fields of simulators.sapmc_data.Campaign; defaults fill the rest)."""
        with self._lock:
            return self._data.add_campaign(now=self.clock(), **fields)

    def update_campaign(self, campaign_uuid: str, **fields: Any) -> Campaign:
        with self._lock:
            return self._data.update_campaign(campaign_uuid, now=self.clock(), **fields)

    def remove_campaign(self, campaign_uuid: str) -> Campaign:
        with self._lock:
            return self._data.remove_campaign(campaign_uuid)

    def set_references(self, campaign_uuid: str, plan_ids: list[str]) -> Campaign:
        """Make the campaign reference exactly these Khoros Plans."""
        with self._lock:
            return self._data.set_references(campaign_uuid, list(plan_ids), now=self.clock())

    # WSGI ----------------------------------------------------------------------------------

    def _serve(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        answer = self._serve_method(request, start_response)
        if request.method != "HEAD":
            return answer
        # HEAD: the headers of the GET without its body, whatever the answer (SAP's clients
        # fetch a CSRF token so, on the service root with X-CSRF-Token: Fetch).
        close = getattr(answer, "close", None)
        if close is not None:
            close()
        return []

    def _serve_method(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        environ, method, path, body = request.environ, request.method, request.path, request.body
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query = dict(pairs)
        user, authorised = self._check_auth(environ.get("HTTP_AUTHORIZATION"))
        route, args, subpath = self._match(path)
        success_route = _success_route(path)
        entry = self._log_request(
            request,
            query=query,
            route=route.name if route else success_route,
            user=user,  # the user name only: the password never reaches the log
            csrf_fetch=environ.get("HTTP_X_CSRF_TOKEN", "").strip().lower() == "fetch",
        )

        if not authorised:
            return self._send(self._unauthorized(), start_response, entry)
        if path == SUCCESS_SERVICE_PATH or path.startswith(SUCCESS_SERVICE_PATH + "/"):
            return self._serve_success(
                environ, method, path, query, pairs, body, success_route, entry, start_response
            )
        if method in _WRITE_METHODS:
            return self._send(self._write(environ), start_response, entry)
        if method not in ("GET", "HEAD"):
            response = odata_error(405, "/IWFND/CM_BEC/026", f"Method {method} is not allowed")
            return self._send(response, start_response, entry)
        return self._answer_get(
            environ, path, query, pairs, route, args, subpath, entry, start_response
        )

    def _answer_get(
        self,
        environ: dict[str, Any],
        path: str,
        query: dict[str, str],
        pairs: list[tuple[str, str]],
        route: _Route | None,
        args: dict[str, str],
        subpath: str,
        entry: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        if route is None:
            entity_set = re.split(r"[(/]", subpath, maxsplit=1)[0]
            if entity_set in ENTITY_SETS:
                # Declared in SAP's $metadata, but nothing the bridge reads: say so plainly.
                message = f"The simulator does not serve the entity set '{entity_set}'"
                response = odata_error(501, "/IWBEP/CM_MGW_RT/000", message)
            elif path == SERVICE_PATH or path.startswith(SERVICE_PATH + "/"):
                segment = path[len(SERVICE_PATH) + 1 :]
                message = f"Resource not found for segment '{segment}'"
                response = odata_error(404, "/IWBEP/CM_MGW_RT/021", message)
            else:
                response = _html(404, "Not Found", "<p>Service cannot be reached</p>")
            return self._send(response, start_response, entry)
        page = self._page_number(query) if route.name in LIST_ROUTES else None
        applied = self._take_faults(route.name, page, entry)
        call = _Call(
            environ=environ, query=query, args=args, faults=applied, pairs=pairs, subpath=subpath
        )
        return self._respond(call, lambda: self._handle(route, call), start_response, entry)

    def _handle(self, route: _Route, call: _Call) -> Response:
        response = route.handler(self, call)
        fetch = call.environ.get("HTTP_X_CSRF_TOKEN", "").strip().lower() == "fetch"
        if fetch and response.status < 400:
            response.headers.append(("X-CSRF-Token", self.csrf_token))
            if self._session_of(call.environ) is None:
                session = secrets.token_hex(16)
                with self._lock:
                    self._sessions.add(session)
                cookie = f"{SESSION_COOKIE}={session}; path=/; HttpOnly"
                response.headers.append(("Set-Cookie", cookie))
                response.headers.append(("Set-Cookie", "sap-usercontext=sap-client=100; path=/"))
        return response

    def _session_of(self, environ: dict[str, Any]) -> str | None:
        """The live SAP session the request's cookie names, or None."""
        try:
            cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        except CookieError:
            return None
        morsel = cookies.get(SESSION_COOKIE)
        with self._lock:
            return morsel.value if morsel is not None and morsel.value in self._sessions else None

    def _csrf_refusal(self, environ: dict[str, Any]) -> Response | None:
        """403 unless the request carries the token and the session it was fetched in."""
        sent = environ.get("HTTP_X_CSRF_TOKEN", "")
        good = hmac.compare_digest(sent.encode(), self.csrf_token.encode())
        if good and self._session_of(environ) is not None:
            return None
        response = Response(403, b"CSRF token validation failed", "text/plain; charset=utf-8")
        response.headers.append(("X-CSRF-Token", "Required"))
        return response

    def _match(self, path: str) -> tuple[_Route | None, dict[str, str], str]:
        if not (path == SERVICE_PATH or path.startswith(SERVICE_PATH + "/")):
            return None, {}, ""
        subpath = path[len(SERVICE_PATH) :].lstrip("/")
        if subpath.endswith("/"):
            subpath = subpath.rstrip("/")
        counted = subpath.endswith(_COUNT_SEGMENT)
        target = subpath[: -len(_COUNT_SEGMENT)] if counted else subpath
        for route in _ROUTES:
            found = route.pattern.fullmatch(target)
            if found is not None:
                args = found.groupdict()
                if counted:
                    if route.name not in LIST_ROUTES or "reference" in args:
                        break  # $count of a single entity does not exist
                    args["$count"] = "1"
                return route, args, target
        return None, {}, subpath

    def _check_auth(self, header: str | None) -> tuple[str | None, bool]:
        """Return (user name sent, whether the credentials are right)."""
        if not header:
            return None, False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        user, _, password = decoded.partition(":")
        # Both compared in full and in constant time: no early exit that tells which was wrong.
        good_user = hmac.compare_digest(user.encode(), self.user.encode())
        good_password = hmac.compare_digest(password.encode(), self.password.encode())
        return user, good_user and good_password

    def _unauthorized(self) -> Response:
        response = _html(401, "Logon failed", "<p>Logon failed. Check your user and password.</p>")
        response.headers.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
        return response

    def _write(self, environ: dict[str, Any]) -> Response:
        if refusal := self._csrf_refusal(environ):
            return refusal
        # The CSRF check passed: that is all a test of the token needs. Writes are not simulated.
        return odata_error(501, "/IWBEP/CM_MGW_RT/000", "The simulator is read-only")

    def _page_number(self, query: dict[str, str]) -> int:
        """Number of the server page a list call asks for, for faults bound to a page."""
        skip = lenient_int(query.get("$skip", "0")) or 0
        token = lenient_int(query.get("$skiptoken", "0")) or 0
        return max(0, skip + token) // self.page_size

    def _send(
        self, response: Response, start_response: StartResponse, entry: dict[str, Any] | None
    ) -> list[bytes]:
        if response.content_type and response.content_type.startswith("application/json"):
            response.headers.append(("DataServiceVersion", "2.0"))
        return super()._send(response, start_response, entry)

    # The success import (API_MKT_CMPGN_SUCCESS_IMPORT_SRV) ----------------------------------

    def _serve_success(
        self,
        environ: dict[str, Any],
        method: str,
        path: str,
        query: dict[str, str],
        pairs: list[tuple[str, str]],
        body: bytes,
        name: str | None,
        entry: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        if name is None:
            segment = path[len(SUCCESS_SERVICE_PATH) + 1 :]
            message = f"Resource not found for segment '{segment}'"
            return self._send(
                odata_error(404, "/IWBEP/CM_MGW_RT/021", message), start_response, entry
            )
        applied = self._take_faults(name, None, entry)
        call = _Call(
            environ=environ, query=query, args={}, faults=applied, pairs=pairs, subpath=name
        )

        def handle() -> Response:
            return self._handle_success(name, method, call, body)

        return self._respond(call, handle, start_response, entry)

    def _handle_success(self, name: str, method: str, call: _Call, body: bytes) -> Response:
        reading = method in ("GET", "HEAD")
        if name in ("success_service", "success_metadata") and not reading:
            return odata_error(405, "/IWFND/CM_BEC/026", f"Method {method} is not allowed")
        if name == "success_metadata":
            return self._handle(_METADATA_ROUTE, call)
        if name == "success_service":
            return self._handle(_SUCCESS_SERVICE_ROUTE, call)
        if reading:
            # POST only: SAP's data provider implements no read of Successes.
            message = "Method 'SUCCESSES_GET_ENTITYSET' not implemented in data provider class"
            return odata_error(501, "/IWBEP/CM_MGW_RT/000", message)
        if method != "POST":
            return odata_error(405, "/IWFND/CM_BEC/026", f"Method {method} is not allowed")
        if refusal := self._csrf_refusal(call.environ):
            return refusal
        if name == "successes":
            part = self._create_success(call, call.environ.get("CONTENT_TYPE", ""), body)
            if part.row is not None:
                with self._lock:
                    self._successes.append(part.row)
            response = Response(part.status, _json_body(part.payload), JSON)
            response.headers.extend(part.headers)
            return response
        return self._success_batch(call, body)

    def _success_service(self, call: _Call) -> Response:
        wanted = call.query.get("$format")
        if wanted is None and "json" not in call.environ.get("HTTP_ACCEPT", "").lower():
            base = self._base_url(call.environ) + SUCCESS_SERVICE_PATH
            collection = (
                f'<app:collection href="{SUCCESS_ENTITY_SET}">'
                f"<atom:title>{SUCCESS_ENTITY_SET}</atom:title></app:collection>"
            )
            document = (
                '<?xml version="1.0" encoding="utf-8"?>'
                f'<app:service xml:base="{base}/" xmlns:app="http://www.w3.org/2007/app" '
                'xmlns:atom="http://www.w3.org/2005/Atom">'
                f"<app:workspace><atom:title>Data</atom:title>{collection}</app:workspace>"
                "</app:service>"
            )
            return Response(200, document.encode(), XML)
        if problem := self._format_problem(call):
            return problem
        return Response(200, _json_body({"d": {"EntitySets": [SUCCESS_ENTITY_SET]}}), JSON)

    def _success_metadata(self, call: _Call) -> Response:
        return Response(200, success_metadata_xml().encode(), XML)

    def _create_success(self, call: _Call, content_type: str, body: bytes) -> PartResponse:
        """Validate one Success create and store it; the answer as a batch part would carry it."""
        if "json" not in content_type.lower():
            problem = Problem("", "Send the Success as application/json", "/IWBEP/CM_MGW_RT/023")
            return PartResponse(415, gateway_error([problem]))
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            problem = Problem("", "The request body is not valid JSON", "/IWBEP/CM_MGW_RT/022")
            return PartResponse(400, gateway_error([problem]))
        if isinstance(payload, dict) and set(payload) == {"d"} and isinstance(payload["d"], dict):
            payload = payload["d"]  # the verbose envelope some clients send
        problems = validate_success(payload)
        if not problems and (fault := call.mod("refuse_row")):
            wanted = fault.params.get("external_campaign_id")
            if wanted is None or payload.get("ExternalCampaignID") == wanted:
                prop = str(fault.params.get("property", "ExternalCampaignID"))
                message = str(
                    fault.params.get(
                        "message",
                        f"External campaign {payload.get('ExternalCampaignID')} is not assigned "
                        f"to campaign {payload.get('CampaignID')}",
                    )
                )
                problems = [Problem(prop, message, REFUSED_ROW)]
        if problems:
            return PartResponse(400, gateway_error(problems))
        key = str(uuid.uuid4())
        row = {k: v for k, v in payload.items() if k not in ("__metadata", SUCCESS_KEY)}
        row = {SUCCESS_KEY: key, **row}
        service_url = self._base_url(call.environ) + SUCCESS_SERVICE_PATH
        entity = created_success(payload, key, service_url)
        location = f"{service_url}/{SUCCESS_ENTITY_SET}(guid'{key}')"
        return PartResponse(201, {"d": entity}, [("Location", location)], row=row)

    def _success_batch(self, call: _Call, body: bytes) -> Response:
        try:
            items = parse_batch(call.environ.get("CONTENT_TYPE", ""), body)
        except BatchError as exc:
            return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
        answers: list[tuple[bool, list[PartResponse]]] = []
        for item in items:
            responses: list[PartResponse] = []
            failed: PartResponse | None = None
            for request in item.requests:
                if request.method != "POST" or request.target.split("?")[0] != SUCCESS_ENTITY_SET:
                    problem = Problem(
                        "",
                        f"{request.method} {request.target[:60]} is not served: Successes "
                        "takes POST only",
                        "/IWBEP/CM_MGW_RT/000",
                    )
                    part = PartResponse(405, gateway_error([problem]))
                elif not item.changeset:
                    problem = Problem(
                        "", "A create must be inside a change set", "/IWBEP/CM_MGW_RT/022"
                    )
                    part = PartResponse(400, gateway_error([problem]))
                else:
                    part = self._create_success(
                        call, request.headers.get("content-type", ""), request.body
                    )
                part.content_id = request.content_id
                responses.append(part)
                if part.status >= 400:
                    failed = part
                    break  # SAP Gateway stops a change set at its first failure
            if failed is not None:
                # A change set is atomic: nothing of it is stored, and its answer is the one
                # failure, as a lone part (OData V2 batch processing, 2.2.7.2).
                answers.append((False, [failed]))
                continue
            with self._lock:
                self._successes.extend(r.row for r in responses if r.row is not None)
            answers.append((item.changeset, responses))
        content_type, payload = batch_answer(answers, lambda: f"batch_{uuid.uuid4()}")
        return Response(202, payload, content_type)

    # Replacing faults ------------------------------------------------------------------------

    def _rate_limited(self) -> Response:
        return odata_error(429, "/IWFND/CM_BEC/429", "Too many requests")

    def _fault_response(self, fault: Fault) -> Response:
        mode = fault.mode
        if mode == "unauthorized":
            return self._unauthorized()
        if mode == "forbidden":
            message = f"User {self.user.upper()} has no authorization for API_MKT_CAMPAIGN_SRV"
            return odata_error(403, "/IWBEP/CM_MGW_RT/010", message)
        if mode == "login_page":
            # SAP cloud systems answer a browser-style logon (SAML redirect) with a 200 page.
            form = '<form method="post" action="https://accounts.example.com/saml2/idp/sso">'
            return _html(200, "Logon", f"{form}<input name='SAMLRequest'/></form>")
        if mode == "invalid_json":
            return Response(200, b'{"d": {"results": [{"CampaignUUID": guid\'0\', "__next', JSON)
        return super()._fault_response(fault)

    def _server_error(self, status: int, body: str) -> Response:
        phrase = HTTPStatus(status).phrase
        if body == "html":
            # What SAP Web Dispatcher shows when the backend is away.
            return _html(status, f"{status} {phrase}", "<p>SAP Web Dispatcher</p>")
        content_type = "text/plain; charset=utf-8" if body == "text" else JSON
        return odata_error(status, "/IWFND/CM_BEC/026", phrase, content_type)

    # OData ---------------------------------------------------------------------------------

    def _service(self, call: _Call) -> Response:
        wanted = call.query.get("$format")
        if wanted is None and "json" not in call.environ.get("HTTP_ACCEPT", "").lower():
            # SAP Gateway's default: the AtomPub service document.
            return Response(200, self._service_document(call).encode(), XML)
        if problem := self._format_problem(call):
            return problem
        payload = {"d": {"EntitySets": list(ENTITY_SETS)}}
        return Response(200, _json_body(payload), JSON)

    def _service_document(self, call: _Call) -> str:
        collections = "".join(
            f'<app:collection href="{name}"><atom:title>{name}</atom:title></app:collection>'
            for name in ENTITY_SETS
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<app:service xml:base="{self._service_url(call)}/" '
            'xmlns:app="http://www.w3.org/2007/app" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<app:workspace><atom:title>Data</atom:title>{collections}</app:workspace>"
            "</app:service>"
        )

    def _metadata(self, call: _Call) -> Response:
        return Response(200, metadata_xml().encode(), XML)

    def _campaigns(self, call: _Call) -> Response:
        with self._lock:
            data = self._data
            campaigns = data.campaigns
        return self._list(
            call,
            campaigns,
            CAMPAIGN_PROPERTIES,
            lambda c: campaign_values(c, data),
            lambda c, options: self._campaign_json(c, data, call, options),
            navigation=CAMPAIGN_NAVIGATION,
        )

    def _campaign(self, call: _Call) -> Response:
        try:
            options = self._options(
                call, single=True, properties=CAMPAIGN_PROPERTIES, navigation=CAMPAIGN_NAVIGATION
            )
        except ODataQueryError as exc:
            return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
        key = _guid(call.args["uuid"])
        if key is None:
            return odata_error(400, "/IWBEP/CM_MGW_RT/020", "Invalid key predicate")
        with self._lock:
            data = self._data
            campaign = data.campaign(key)
        if campaign is None:
            return _not_found("Campaign", call.args["uuid"])
        if problem := self._format_problem(call):
            return problem
        return self._entity(self._campaign_json(campaign, data, call, options))

    def _references(self, call: _Call) -> Response:
        with self._lock:
            data = self._data
            if "campaign" in call.args:
                key = _guid(call.args["campaign"])
                campaign = data.campaign(key) if key else None
                if campaign is None:
                    return _not_found("Campaign", call.args["campaign"])
                references = list(campaign.references)
            else:
                references = data.references
        if "reference" in call.args:
            try:
                options = self._options(
                    call, single=True, properties=REFERENCE_PROPERTIES, navigation=()
                )
            except ODataQueryError as exc:
                return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
            key = _guid(call.args["reference"])
            found = next((r for r in references if r.external_campaign_uuid == key), None)
            if found is None:
                return _not_found("ExternalCampaignReference", call.args["reference"])
            if problem := self._format_problem(call):
                return problem
            return self._entity(self._reference_json(found, call, options.select))
        return self._list(
            call,
            references,
            REFERENCE_PROPERTIES,
            reference_values,
            lambda r, options: self._reference_json(r, call, options.select),
            navigation=(),
        )

    def _entity(self, item: dict[str, Any]) -> Response:
        return Response(200, _json_body({"d": item}), JSON)

    def _list(
        self,
        call: _Call,
        items: list[Any],
        properties: tuple[EdmProperty, ...],
        values: Callable[[Any], Mapping[str, Any]],
        to_json: Callable[[Any, _Options], dict[str, Any]],
        *,
        navigation: tuple[str, ...],
    ) -> Response:
        counting = "$count" in call.args
        try:
            options = self._options(
                call, single=False, properties=properties, navigation=navigation
            )
            if counting and (options.inlinecount or options.expand or options.select):
                raise ODataQueryError("$count takes $filter only (and $top/$skip)")
        except ODataQueryError as exc:
            return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
        if options.predicate is not None:
            predicate = options.predicate
            items = [i for i in items if predicate(values(i))]
        if options.orderby:
            items = list(items)
            sort_items(items, values, options.orderby)
        if counting:
            # /$count is a plain-text number (no $format) of the matching entities; the
            # simulator applies $skip/$top too when given (the bridge never sends them here).
            counted = items[options.skip :]
            if options.top is not None:
                counted = counted[: options.top]
            return Response(200, str(len(counted)).encode(), "text/plain; charset=utf-8")
        if problem := self._format_problem(call):
            return problem
        # $skip/$top select a window of the collection; server-driven paging then hands the
        # window out page_size items at a time, $skiptoken being the offset inside the window.
        window = items[options.skip :]
        if options.top is not None:
            window = window[: options.top]
        start = options.token
        page = window[start : start + self.page_size]
        if call.mod("duplicates") and options.skip + start >= 1:
            # The last item of the previous page shows up again, as if inserted while reading.
            previous = items[options.skip + start - 1]
            page = [previous, *page]
        if call.mod("empty_page"):
            page = []  # a glitch mid-listing: the links and the count stay as they were
        feed: dict[str, Any] = {"results": [to_json(item, options) for item in page]}
        if options.inlinecount and not call.mod("missing_count"):
            feed["__count"] = str(len(items))  # V2 JSON carries the count as a string
        if start + self.page_size < len(window):
            feed["__next"] = self._next_url(call, start + self.page_size)
        if call.mod("next_loop"):
            feed["__next"] = self._request_url(call)
        if "__next" in feed:
            if fault := call.mod("next_foreign_host"):
                parts = urlsplit(feed["__next"])
                host = str(fault.params.get("host", "sapmc.attacker.example"))
                feed["__next"] = urlunsplit(parts._replace(netloc=host))
            if call.mod("next_relative"):
                parts = urlsplit(feed["__next"])
                relative = parts.path.rsplit("/", 1)[-1]
                feed["__next"] = f"{relative}?{parts.query}"
            if call.mod("missing_next"):
                del feed["__next"]
        return Response(200, _json_body({"d": feed}), JSON)

    def _options(
        self,
        call: _Call,
        *,
        single: bool,
        properties: tuple[EdmProperty, ...],
        navigation: tuple[str, ...],
    ) -> _Options:
        query = call.query
        for name in query:
            if name.startswith("$") and name not in _SUPPORTED_OPTIONS:
                raise ODataQueryError(f"System query option '{name}' is not supported")
        if single:
            for name in ("$filter", "$top", "$skip", "$skiptoken", "$inlinecount", "$orderby"):
                if name in query:
                    raise ODataQueryError(f"System query option '{name}' is not allowed here")
        expand = query.get("$expand", "").strip()
        if expand and expand not in navigation:
            raise ODataQueryError(f"Navigation property '{expand}' cannot be expanded")
        if expand and expand != REFERENCES:
            raise ODataQueryError(f"The simulator does not serve '{expand}'")
        inlinecount = query.get("$inlinecount", "none")
        if inlinecount not in ("allpages", "none"):
            raise ODataQueryError(f"Invalid value '{inlinecount}' of $inlinecount")
        text = query.get("$filter", "").strip()
        select = query.get("$select", "").strip()
        orderby = query.get("$orderby", "").strip()
        return _Options(
            predicate=parse_filter(text, properties) if text else None,
            top=_count_option(query, "$top"),
            skip=_count_option(query, "$skip") or 0,
            token=_count_option(query, "$skiptoken") or 0,
            inlinecount=inlinecount == "allpages",
            expand=bool(expand),
            select=parse_select(select, properties, navigation) if select else None,
            orderby=parse_orderby(orderby, properties) if orderby else [],
        )

    def _format_problem(self, call: _Call) -> Response | None:
        wanted = call.query.get("$format")
        if wanted is not None:
            if wanted.lower() != "json":
                return odata_error(400, "/IWBEP/CM_MGW_RT/022", "The simulator speaks JSON only")
            return None
        if "json" not in call.environ.get("HTTP_ACCEPT", "").lower():
            # A real gateway would answer Atom XML here; the simulator refuses instead, so that
            # a client forgetting both $format and Accept is caught in tests.
            return odata_error(406, "/IWBEP/CM_MGW_RT/023", "Send $format=json or Accept JSON")
        return None

    def _service_url(self, call: _Call) -> str:
        return self._base_url(call.environ) + SERVICE_PATH

    def _next_url(self, call: _Call, token: int) -> str:
        pairs = [("$skiptoken", str(token))]
        pairs += [(k, v) for k, v in call.pairs if k != "$skiptoken"]
        query = urlencode(pairs, quote_via=quote, safe="$'(),:")
        return f"{self._service_url(call)}/{quote(call.subpath, safe=_PATH_SAFE)}?{query}"

    def _request_url(self, call: _Call) -> str:
        path = quote(call.environ.get("PATH_INFO", "/"), safe=_PATH_SAFE)
        query = call.environ.get("QUERY_STRING", "")
        return f"{self._base_url(call.environ)}{path}" + (f"?{query}" if query else "")

    def _campaign_json(
        self, campaign: Campaign, data: SapmcData, call: _Call, options: _Options
    ) -> dict[str, Any]:
        uri = f"{self._service_url(call)}/Campaigns(guid'{campaign.uuid}')"
        item: dict[str, Any] = {"__metadata": {"id": uri, "uri": uri, "type": CAMPAIGN_TYPE}}
        values = campaign_values(campaign, data)
        item.update(self._wire(values, CAMPAIGN_PROPERTIES, call, options.select))
        for name in CAMPAIGN_NAVIGATION:
            if options.select is not None and name not in options.select:
                continue
            if name == REFERENCES and options.expand:
                references = [self._reference_json(r, call, None) for r in campaign.references]
                item[name] = {"results": references}
            else:
                item[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
        return item

    def _reference_json(
        self, reference: Reference, call: _Call, select: frozenset[str] | None
    ) -> dict[str, Any]:
        key = reference.external_campaign_uuid
        uri = f"{self._service_url(call)}/ExternalCampaignReferences(guid'{key}')"
        item: dict[str, Any] = {"__metadata": {"id": uri, "uri": uri, "type": REFERENCE_TYPE}}
        item.update(self._wire(reference_values(reference), REFERENCE_PROPERTIES, call, select))
        return item

    def _wire(
        self,
        values: Mapping[str, Any],
        properties: tuple[EdmProperty, ...],
        call: _Call,
        select: frozenset[str] | None,
    ) -> dict[str, Any]:
        offset_variant = call.mod("date_offset_variant") is not None
        upper = call.mod("guids_upper") is not None
        item: dict[str, Any] = {}
        for prop in properties:
            if select is not None and prop.name not in select:
                continue
            value = values[prop.name]
            if value is None:
                item[prop.name] = None
            elif prop.edm == "Edm.DateTime":
                suffix = "+0000" if offset_variant else ""
                item[prop.name] = f"/Date({epoch_ms(value)}{suffix})/"
            elif prop.edm == "Edm.DateTimeOffset":
                item[prop.name] = f"/Date({epoch_ms(value)}+0000)/"
            elif prop.edm == "Edm.Guid":
                item[prop.name] = value.upper() if upper else value
            else:
                item[prop.name] = value
        if call.mod("extra_fields"):
            item.update(_EXTRA_FIELDS)
        return item


_PATH_SAFE = "/()'$,:=@"


def _not_found(entity: str, key: str) -> Response:
    message = f"Resource not found for segment '{entity}' with key guid'{key}'"
    return odata_error(404, "/IWBEP/CM_MGW_RT/021", message)


def _guid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _count_option(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ODataQueryError(f"Invalid value '{raw}' of {name}: a whole number is expected")
    return int(raw)


def _success_route(path: str) -> str | None:
    """The route name of a path of the success import service, or None."""
    if not (path == SUCCESS_SERVICE_PATH or path.startswith(SUCCESS_SERVICE_PATH + "/")):
        return None
    subpath = path[len(SUCCESS_SERVICE_PATH) :].strip("/")
    return {
        "": "success_service",
        "$metadata": "success_metadata",
        SUCCESS_ENTITY_SET: "successes",
        "$batch": "success_batch",
    }.get(subpath)


_ROUTES: tuple[_Route, ...] = (
    _Route(re.compile(r""), "service", SapmcSimulator._service),
    _Route(re.compile(r"\$metadata"), "metadata", SapmcSimulator._metadata),
    _Route(re.compile(r"Campaigns"), "campaigns", SapmcSimulator._campaigns),
    _Route(re.compile(r"Campaigns" + _GUID_KEY.format(key="CampaignUUID", group="uuid")),
           "campaign", SapmcSimulator._campaign),
    _Route(re.compile(r"Campaigns" + _GUID_KEY.format(key="CampaignUUID", group="campaign")
                      + r"/ExternalCampaignReferences"), "references", SapmcSimulator._references),
    _Route(re.compile(r"ExternalCampaignReferences"), "references", SapmcSimulator._references),
    _Route(re.compile(r"ExternalCampaignReferences"
                      + _GUID_KEY.format(key="ExternalCampaignUUID", group="reference")),
           "references", SapmcSimulator._references),
)  # fmt: skip


# Command line (see simulators/__main__.py) -----------------------------------------------------

DEFAULT_PORT = 8702
CLI_HELP = "SAP Marketing Cloud campaign API (OData V2; SAPMC_BASE_URL=<url>)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the sapmc subcommand's options (the Khoros ones match `khoros`'s defaults)."""
    parser.add_argument("--user", default="demo-user", help="Basic-auth user to accept")
    parser.add_argument("--password", default="demo-password", help="Basic-auth password")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--initiatives", type=int, default=5, help="as for the khoros simulator")
    parser.add_argument("--plans-per-initiative", type=int, default=8, help="as for khoros")
    parser.add_argument("--company-id", default="389", help="as for khoros")
    parser.add_argument("--company-name", default="Acme", help="as for khoros")
    parser.add_argument("--timezone", default="America/Chicago", help="as for khoros")
    parser.add_argument("--campaigns-per-initiative", type=int, default=3)
    parser.add_argument("--other-category", type=int, default=5, help="campaigns of category Z02")
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="per answer")
    parser.add_argument(
        "--sap-timezone",
        default="UTC",
        help="the tenant's time zone: campaign dates are midnights there (SAPMC_TIMEZONE)",
    )


def build_app(args: argparse.Namespace) -> SapmcSimulator:
    """Build the simulator from parsed options, over the Khoros data `khoros` would serve."""
    # Same generator and arguments as simulators.khoros.build_app: the demo's two simulators
    # then agree on every Initiative and Plan (posts are drawn separately and not needed here).
    khoros = KhorosData.generate(
        seed=args.seed,
        initiatives=args.initiatives,
        plans_per_initiative=args.plans_per_initiative,
        posts_per_plan=0,
        company_id=args.company_id,
        company_name=args.company_name,
        timezone=args.timezone,
    )
    data = SapmcData.generate(
        khoros=khoros,
        campaigns_per_initiative=args.campaigns_per_initiative,
        other_category=args.other_category,
        seed=args.seed,
        timezone=args.sap_timezone,
    )
    return SapmcSimulator(data, user=args.user, password=args.password, page_size=args.page_size)


_METADATA_ROUTE = _Route(
    re.compile(r"\$metadata"), "success_metadata", SapmcSimulator._success_metadata
)
_SUCCESS_SERVICE_ROUTE = _Route(re.compile(r""), "success_service", SapmcSimulator._success_service)


def describe(base_url: str) -> str:
    """The one start-up line: where to point the bridge."""
    return f"SAP MC simulator listening on {base_url} (SAPMC_BASE_URL={base_url})"
