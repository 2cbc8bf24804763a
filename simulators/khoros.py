"""Fake Khoros Conversations V2 server (WSGI, stdlib only) speaking docs/khoros-api.md."""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import hmac
import io
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from simulators.base import (
    Call,
    Request,
    Response,
    SimulatorApp,
    StartResponse,
    html_page,
    lenient_int,
)
from simulators.faults import KHOROS_ROUTES, LIST_ROUTES, MODES, Fault
from simulators.khoros_data import (
    FIELD_NAMES,
    INITIATIVE_FIELD,
    PLAN_FIELD,
    POST_ID_FIELD,
    PUBLISHED_FIELD,
    Initiative,
    KhorosData,
    Plan,
    zone,
)
from simulators.khoros_exports import Export, expires_text, export_csv, export_posts, s3_error

__all__ = ["Export", "KhorosData", "KhorosSimulator", "export_posts", "s3_error"]


def _moved_csv(body: bytes, export: Export, mod: Callable[[str], Fault | None]) -> bytes:
    """The export's CSV with a row served twice (csv_row_repeated), two metric columns swapped
    (csv_columns_swapped) or one added among them (csv_column_inserted); else as it was."""
    repeated = mod("csv_row_repeated")
    swapped = mod("csv_columns_swapped") is not None
    inserted = mod("csv_column_inserted") is not None
    if repeated is None and not swapped and not inserted:
        return body
    text = body.decode()
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    rows = list(csv.reader(io.StringIO(text[len(bom) :], newline=""), delimiter=export.delimiter))
    fields = list(export.fields)
    if mod("csv_named_header") is not None:
        fields = [POST_ID_FIELD, PLAN_FIELD, INITIATIVE_FIELD, PUBLISHED_FIELD]
        fields += [f for f in export.fields if f in FIELD_NAMES]
    metrics = [i for i, f in enumerate(fields) if f in FIELD_NAMES]
    first = 1 if export.header else 0
    if repeated is not None and len(rows) > first:
        again = list(rows[first + (len(rows) - first) // 2])
        if repeated.params.get("numbers") == "changed" and metrics:
            cell = again[metrics[0]]
            again[metrics[0]] = str(int(cell) + 1) if cell.isdigit() else "1"
        rows.append(again)
    if swapped and len(metrics) >= 2:
        one, other = metrics[0], metrics[min(2, len(metrics) - 1)]
        for row in rows:
            if len(row) > max(one, other):
                row[one], row[other] = row[other], row[one]
    if inserted and metrics:
        for index, row in enumerate(rows):
            row.insert(metrics[0] + 1, "Shares" if export.header and index == 0 else "7")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=export.delimiter, lineterminator="\r\n").writerows(rows)
    return (bom + buffer.getvalue()).encode()


JSON = "application/json;charset=UTF-8"
DEFAULT_PAGE_SIZE = 20
# The real maximum is unknown; the contract assumes 100 and asks for a silent clamp.
MAX_PAGE_SIZE = 100
FIRST_EXPORT_ID = 1958298
_EXTRA_ITEM_FIELDS: dict[str, Any] = {
    "sfLegacyId": 48213,
    "tags": ["simulated"],
    "permissions": {"canEdit": False, "canDelete": False},
}


def json_response(payload: Any, status: int = 200, content_type: str = JSON) -> Response:
    return Response(status, json.dumps(payload).encode(), content_type)


def error_envelope(code: str, message: str) -> dict[str, Any]:
    return {"status": {"succeeded": False, "error": {"code": code, "message": message}}}


def error_response(status: int, code: str, message: str, content_type: str = JSON) -> Response:
    return json_response(error_envelope(code, message), status, content_type)


def not_acceptable() -> Response:
    """The spec's answer to a body it cannot parse: 406, text/plain, lower-case code."""
    return error_response(
        406, "not_acceptable", "Unable to parse the json you provided.", "text/plain"
    )


def _ms_to_iso_z(ms: int) -> str:
    instant = datetime.fromtimestamp(ms / 1000, UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ms_to_iso_offset(ms: int, tz: ZoneInfo) -> str:
    # Older payloads: local time with a colon-less offset, e.g. 2014-11-06T15:10:20.139+0000.
    local = datetime.fromtimestamp(ms / 1000, tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + local.strftime("%z")


@dataclass
class _Call(Call):
    body: bytes


Handler = Callable[["KhorosSimulator", _Call], Response]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    authenticated: bool = True


class KhorosSimulator(SimulatorApp[KhorosData]):
    """WSGI app faking Khoros Conversations V2, with fault injection and a request log."""

    routes = KHOROS_ROUTES
    modes = MODES

    def __init__(
        self,
        data: KhorosData | None = None,
        *,
        token: str = "demo-token",
        user_timezone: str | None = None,
        export_polls: int = 2,
        link_ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] | None = None,
        public_url: str | None = None,
    ) -> None:
        """Serve data (default: KhorosData.generate()); export_polls = status calls before
        complete; link_ttl = download link lifetime; clock returns aware UTC now."""
        data = data if data is not None else KhorosData.generate()
        super().__init__(data, clock=clock, public_url=public_url)
        self.token = token
        self.user_timezone = user_timezone or self._seed_data.timezone
        self.export_polls = export_polls
        self.link_ttl = link_ttl
        self._exports: dict[int, Export] = {}
        self._next_export_id = FIRST_EXPORT_ID

    # Python API for tests ------------------------------------------------------------------

    def reset(self) -> None:
        """Drop faults, the request log and exports; serve the seeded data again."""
        with self._lock:
            super().reset()
            self._exports.clear()

    def rename_plan(self, plan_id: str, new_name: str) -> Plan:
        with self._lock:
            return self._data.rename_plan(plan_id, new_name)

    def change_plans(self, fraction: float, *, tag: str = "edited") -> list[Plan]:
        """Rename that fraction of all Plans (every n-th one); returns the changed Plans."""
        with self._lock:
            return self._data.change_plans(fraction, tag=tag)

    def update_plan(self, plan_id: str, **fields: Any) -> Plan:
        with self._lock:
            return self._data.update_plan(plan_id, **fields)

    def remove_plan(self, plan_id: str) -> Plan:
        with self._lock:
            return self._data.remove_plan(plan_id)

    def add_plan(self, initiative_id: str | int, **fields: Any) -> Plan:
        with self._lock:
            return self._data.add_plan(initiative_id, **fields)

    def add_initiative(self, name: str, description: str | None = None) -> Initiative:
        with self._lock:
            return self._data.add_initiative(name, description)

    def remove_initiative(self, initiative_id: str | int) -> Initiative:
        with self._lock:
            return self._data.remove_initiative(initiative_id)

    def exports(self) -> list[Export]:
        with self._lock:
            return list(self._exports.values())

    # WSGI ----------------------------------------------------------------------------------

    def _serve(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        environ, method, path, body = request.environ, request.method, request.path, request.body
        if len(path) > 1:
            path = path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        route, args, path_known = self._match(method, path)
        entry = self._log_request(
            request,
            path=path,
            query=query,
            route=route.name if route else None,
            body=_json_or_none(body),
        )
        if route is None:
            if path_known:
                response = error_response(405, "NOT_ACCEPTABLE", f"{method} not allowed on {path}")
            else:
                response = error_response(404, "NOT_FOUND", f"No resource at {path}")
            return self._send(response, start_response, entry)
        if route.authenticated and (problem := self._auth_problem(environ)):
            return self._send(
                error_response(401, "UNAUTHENTICATED", problem), start_response, entry
            )

        page = lenient_int(query.get("pageNumber", "0")) if route.name in LIST_ROUTES else None
        applied = self._take_faults(route.name, page, entry)
        call = _Call(environ=environ, query=query, args=args, faults=applied, body=body)
        return self._respond(call, lambda: route.handler(self, call), start_response, entry)

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_known = False
        for route in _ROUTES:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            path_known = True
            if route.method == method:
                return route, found.groupdict(), True
        return None, {}, path_known

    def _auth_problem(self, environ: dict[str, Any]) -> str | None:
        header = environ.get("HTTP_AUTHORIZATION")
        if not header:
            return "Authentication required: send Authorization: Bearer <token>"
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        ):
            return "Invalid or expired access token"  # never echo the token back
        return None

    # Replacing faults ------------------------------------------------------------------------

    def _rate_limited(self) -> Response:
        return error_response(429, "PROXY_RATE_LIMIT_EXCEEDED", "Too many requests")

    def _server_error(self, status: int, body: str) -> Response:
        phrase = HTTPStatus(status).phrase
        if body == "html":
            return html_page(status, f"{status} {phrase}")
        code = "UNKNOWN_ERROR" if status == 500 else f"PROXY_{phrase.upper().replace(' ', '_')}"
        # "text": the JSON error with a text/plain Content-Type, as the real gateway sends it.
        return error_response(status, code, phrase, "text/plain" if body == "text" else JSON)

    def _fault_response(self, fault: Fault) -> Response:
        mode, params = fault.mode, fault.params
        if mode == "invalid_json":
            return Response(200, b'{"data": {"sfEntityType": undefined,}, "status": {"succ')
        if mode == "expired_token":
            code = "unauthenticated" if params.get("lowercase") else "UNAUTHENTICATED"
            content_type = "text/plain" if params.get("body") == "text" else JSON
            return error_response(401, code, "The access token has expired", content_type)
        if mode == "developer_inactive":
            return html_page(int(params.get("status", 200)), "Developer Inactive")
        if mode == "status_586":
            return html_page(586, "Service Not Found")
        if mode == "forbidden_company":
            company = params.get("company_id", self._data.company_id)
            application = params.get("application", "smcbridge")
            message = f"Company {company} does not allow the application {application}"
            return error_response(403, "UNAUTHORIZED", message)
        if mode == "not_acceptable":
            return not_acceptable()
        if mode == "gone":
            return error_response(404, "NOT_FOUND", "The requested resource does not exist")
        if mode == "not_csv":
            return self._not_csv(fault)
        if mode == "link_expired":
            return s3_error("AccessDenied", "Request has expired", X_Amz_Expires="3600")
        if mode == "link_token_expired":
            return s3_error("ExpiredToken", "The provided token has expired.", status=400)
        return super()._fault_response(fault)

    # Conversations ---------------------------------------------------------------------------

    def _me(self, call: _Call) -> Response:
        data = self._data
        company = {
            "id": data.company_id,
            "name": data.company_name,
            "environment": "APP3",
            "directoryId": "24606",
        }
        user = {"sfEntityType": "User", "email": data.user_email, "companies": [company]}
        return json_response({"data": user, "status": {"succeeded": True}})

    def _whoami(self, call: _Call) -> Response:
        if call.mod("whoami_enveloped"):
            # The shape of the rest of V2 (what this route answered before it followed the spec).
            user = {
                "sfEntityType": "User",
                "id": "24606",
                "email": self._data.user_email,
                "firstName": "Demo",
                "lastName": "User",
                "timezone": self.user_timezone,
            }
            return json_response({"data": user, "status": {"succeeded": True}})
        # The introspection spec: a bare object, integer ids, no envelope, no sfEntityType.
        company = {"id": int(self._data.company_id), "name": self._data.company_name}
        bare = {
            "companies": [{**company, "products": []}],
            "description": "",
            "email": self._data.user_email,
            "firstName": "Demo",
            "id": 24606,
            "jobTitle": "",
            "lastName": "User",
            "profileImageUri": "https://example.com/avatar.jpg",
            "timezone": self.user_timezone,
        }
        return json_response(bare)

    def _initiatives(self, call: _Call) -> Response:
        with self._lock:
            items = _name_filtered(self._data.initiatives, call.query.get("nameFilter", ""))
        return self._page(call, [self._initiative_json(i, call) for i in items])

    def _initiative(self, call: _Call) -> Response:
        with self._lock:
            initiative = self._data.initiative(call.args["initiative_id"])
        if initiative is None:
            return error_response(
                404, "NOT_FOUND", f"Initiative {call.args['initiative_id']} not found"
            )
        return json_response(
            {"data": self._initiative_json(initiative, call), "status": {"succeeded": True}}
        )

    def _plans(self, call: _Call) -> Response:
        initiative_id = call.args["initiative_id"]
        with self._lock:
            if self._data.initiative(initiative_id) is None:
                return error_response(404, "NOT_FOUND", f"Initiative {initiative_id} not found")
            plans = self._data.plans_for_initiative(initiative_id)
            items = _name_filtered(plans, call.query.get("nameFilter", ""))
        return self._page(call, [self._plan_json(p, call) for p in items])

    def _initiative_json(self, initiative: Initiative, call: _Call) -> dict[str, Any]:
        item: dict[str, Any] = {
            "sfEntityType": "Initiative",
            "id": int(initiative.id) if call.mod("ids_as_numbers") else initiative.id,
            "name": initiative.name,
        }
        if initiative.description is not None:
            item["description"] = initiative.description
        if call.mod("extra_fields"):
            item.update(_EXTRA_ITEM_FIELDS)
        return item

    def _plan_json(self, plan: Plan, call: _Call) -> dict[str, Any]:
        tz = self._data.tz

        def fmt_date(ms: int) -> int | str:
            if call.mod("dates_iso_z"):
                return _ms_to_iso_z(ms)
            if call.mod("dates_iso_offset"):
                return _ms_to_iso_offset(ms, tz)
            return ms

        as_strings = call.mod("ids_as_strings") is not None
        item: dict[str, Any] = {"sfEntityType": "Plan", "id": plan.id, "name": plan.name}
        if plan.color is not None:
            item["color"] = plan.color
        campaign_id, company_id = int(plan.initiative_id), int(self._data.company_id)
        item["campaignId"] = str(campaign_id) if as_strings else campaign_id
        item["companyId"] = str(company_id) if as_strings else company_id
        item["startDate"] = fmt_date(plan.start_ms)
        item["endDate"] = fmt_date(plan.end_ms)
        optional = (
            ("overview", plan.overview),
            ("objective", plan.objective),
            ("targetAudience", plan.target_audience),
        )
        item.update({key: value for key, value in optional if value is not None})
        if plan.created_ms is not None:
            item["createdDate"] = fmt_date(plan.created_ms)
        if plan.last_modified_ms is not None:
            item["lastModifiedDate"] = fmt_date(plan.last_modified_ms)
        if call.mod("extra_fields"):
            item.update(_EXTRA_ITEM_FIELDS)
        missing = call.mod("plan_fields_missing")
        if missing is not None and missing.params.get("plan", plan.id) == plan.id:
            for key in str(missing.params.get("fields", "startDate,endDate")).split(","):
                item.pop(key.strip(), None)
        return item

    def _page(self, call: _Call, items: list[dict[str, Any]]) -> Response:
        paging = _paging(call.query)
        if isinstance(paging, Response):
            return paging
        number, size = paging
        total = len(items)
        start = number * size
        page = items[start : start + size]
        reported_total = total
        if (fault := call.mod("duplicates")) and number >= 1:
            if fault.params.get("style", "prepend") == "shift":
                # As if one record was inserted before this page: everything slides by one.
                page = items[start - 1 : start - 1 + size]
                reported_total = total + 1
            else:
                # The last record of the previous page shows up again at the top of this one.
                page = items[start - 1 : start + size]
        if call.mod("page_skipped"):
            page = items[start + size : start + 2 * size]
        if call.mod("page_repeated"):
            page = items[:size]
        if call.mod("empty_page"):
            page = []
        envelope: dict[str, Any] = {"data": page, "pagination": {"totalItems": reported_total}}
        if fault := call.mod("wrong_total"):
            value = fault.params.get("value")
            envelope["pagination"]["totalItems"] = total + 1000 if value is None else value
        if fault := call.mod("missing_total"):
            if fault.params.get("keep_object"):
                envelope["pagination"] = {}
            else:
                del envelope["pagination"]
        envelope["status"] = {"succeeded": True}
        if call.mod("extra_fields"):
            envelope["links"] = {"self": "/v2/simulated", "deprecated": False}
        return json_response(envelope)

    # Analytics export ------------------------------------------------------------------------

    def _fields(self, call: _Call) -> Response:
        if not call.mod("fields_catalogue"):
            # The spec's only example: the field ids are configuration, the catalogue a nicety.
            return Response(200, b"Coming Soon", "text/plain")
        fields = [{"id": field_id, "name": name} for field_id, name in FIELD_NAMES.items()]
        return json_response({"data": fields, "status": {"succeeded": True}})

    def _export_create(self, call: _Call) -> Response:
        try:
            json.loads(call.body or b"null")
        except ValueError:
            return not_acceptable()
        try:
            export = self._parse_export(call)
        except ValueError as exc:
            return error_response(400, "VALIDATION_ERROR", str(exc))
        return json_response({"export_id": str(export.id)})

    def _parse_export(self, call: _Call) -> Export:
        payload = json.loads(call.body or b"null")
        query = payload.get("query") if isinstance(payload, dict) else None
        if not isinstance(query, dict):
            raise ValueError("query is required")
        fields = query.get("fields")
        if (
            not isinstance(fields, list)
            or not fields
            or not all(isinstance(f, int) and not isinstance(f, bool) for f in fields)
        ):
            raise ValueError("fields is required: a non-empty list of integer field ids")
        try:
            start = date.fromisoformat(str(query["start"]))
            stop = date.fromisoformat(str(query["stop"]))
        except (KeyError, ValueError) as exc:
            raise ValueError("start and stop are required dates (YYYY-MM-DD)") from exc
        if stop <= start:
            raise ValueError("stop must be after start")
        timezone = query.get("timezone") or self._data.timezone
        try:
            zone(str(timezone))
        # OSError: a folder of the zone data ("Europe") is no zone either.
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"Unknown timezone {timezone}") from exc
        # The documentation spells the key "intiatives" (sic); accept both spellings.
        initiatives: list[Any] = []
        for key in ("intiatives", "initiatives"):
            value = query.get(key) or []
            if not isinstance(value, list):
                raise ValueError(f"{key} must be a list")
            initiatives.extend(value)
        initiative_ids = {str(i) for i in initiatives}
        if not all(i.isdigit() for i in initiative_ids):
            raise ValueError("initiative ids must be integers")
        content_filter = query.get("content_filter") or {}
        plans = (content_filter.get("plans") or []) if isinstance(content_filter, dict) else None
        if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
            raise ValueError("content_filter.plans must be a list of plan ids")
        delimiter = call.query.get("delimiter", ",")
        if len(delimiter) != 1:
            raise ValueError("delimiter must be one character")
        with self._lock:
            export = Export(
                id=self._next_export_id,
                fields=list(fields),
                start=start,
                stop=stop,
                timezone=str(timezone),
                initiative_ids=frozenset(initiative_ids),
                plan_ids=frozenset(plans),
                header=call.query.get("header", "true").lower() != "false",
                delimiter=delimiter,
            )
            self._next_export_id += 1
            self._exports[export.id] = export
        return export

    def _export_status(self, call: _Call) -> Response:
        export_id = lenient_int(call.args["export_id"])
        with self._lock:
            export = self._exports.get(export_id) if export_id is not None else None
            if export is None:
                # The spec's example: an unknown export id answers 400 with `{}`.
                if call.mod("unknown_export_empty"):
                    return Response(400, b"", None)
                return json_response({}, 400)
            if call.mod("export_failed"):
                state = "failed"
            elif call.mod("export_stuck"):
                state = "pending"  # and the poll does not count towards completion
            else:
                export.polls += 1
                if export.polls > self.export_polls:
                    state = "complete"
                    if export.token is None:
                        export.token = secrets.token_urlsafe(24)
                        export.expires = self.clock() + self.link_ttl
                else:
                    state = "pending" if export.polls == 1 else "running"
            payload: dict[str, Any] = {"export_id": export.id, "status": state}
            if state == "complete" and export.expires is not None:
                payload["url"] = f"{self._base_url(call.environ)}/downloads/{export.token}.csv"
                payload["expires"] = expires_text(export.expires, zone(export.timezone))
        return json_response(payload)

    def _export_download(self, call: _Call) -> Response:
        token = call.args["token"]
        with self._lock:
            export = next((e for e in self._exports.values() if e.token == token), None)
            data = self._data
        if export is None or export.expires is None:
            return s3_error("AccessDenied", "Access Denied")
        now = self.clock()
        if now >= export.expires:
            return s3_error(
                "AccessDenied",
                "Request has expired",
                Expires=expires_text(export.expires) + "Z",
                ServerTime=expires_text(now) + "Z",
            )
        body = _moved_csv(export_csv(export, data, call.mod), export, call.mod)
        headers: list[tuple[str, str]] = []
        content_type = "text/csv;charset=UTF-8"
        if (gzipped := call.mod("csv_gzip")) is not None:
            plain = body
            # mtime=0: the same export gives the same bytes (and ETag) on every download.
            body = gzip.compress(plain, mtime=0)
            if gzipped.params.get("encoding", True):
                headers.append(("Content-Encoding", "gzip"))
            else:
                content_type = "application/gzip"
        # S3 answers the MD5 of a file uploaded in one part as its ETag.
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        if gzipped is not None and gzipped.params.get("etag") == "plain":
            etag = hashlib.md5(plain, usedforsecurity=False).hexdigest()
        if call.mod("etag_multipart"):
            etag = f"{etag[:32]}-2"
        if (cut := call.mod("csv_truncated")) is not None:
            size = int(len(body) * float(cut.params.get("fraction", 0.5)))
            if cut.params.get("boundary"):
                size = body.rfind(b"\n", 0, size) + 1  # cut between two rows
            body = body[:size]  # Content-Length follows the cut body
        return Response(200, body, content_type, headers=[*headers, ("ETag", f'"{etag}"')])

    def _not_csv(self, fault: Fault) -> Response:
        body = fault.params.get("body", "empty")
        if body == "html":
            return html_page(200, "Developer Inactive")
        if body == "json":
            # The gateway's JSON error, under 200 and a text/plain Content-Type.
            return json_response(
                error_envelope("UNKNOWN_ERROR", "Export unavailable"), 200, "text/plain"
            )
        if body == "text":
            return Response(200, b"Developer Inactive\n", "text/plain")
        return Response(200, b"", "binary/octet-stream")


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _paging(query: dict[str, str]) -> tuple[int, int] | Response:
    number = lenient_int(query.get("pageNumber", "0"))
    size = lenient_int(query.get("pageSize", str(DEFAULT_PAGE_SIZE)))
    if number is None or number < 0:
        return error_response(400, "VALIDATION_ERROR", "pageNumber must be an integer >= 0")
    if size is None or size < 1:
        return error_response(400, "VALIDATION_ERROR", "pageSize must be an integer >= 1")
    return number, min(size, MAX_PAGE_SIZE)


def _name_filtered(items: Iterable[Any], name_filter: str) -> list[Any]:
    needle = name_filter.strip().casefold()
    return [item for item in items if needle in item.name.casefold()]


_ROUTES: tuple[_Route, ...] = (
    _Route("GET", re.compile(r"/v2/me"), "me", KhorosSimulator._me),
    _Route("GET", re.compile(r"/v2/whoami"), "whoami", KhorosSimulator._whoami),
    _Route("GET", re.compile(r"/v2/conversations/initiative"), "initiatives",
           KhorosSimulator._initiatives),
    _Route("GET", re.compile(r"/v2/conversations/initiative/(?P<initiative_id>[^/]+)"),
           "initiative", KhorosSimulator._initiative),
    _Route("GET", re.compile(r"/v2/conversations/initiative/(?P<initiative_id>[^/]+)/plan"),
           "plans", KhorosSimulator._plans),
    _Route("POST", re.compile(r"/v2/analytics/export/posts"), "export_create",
           KhorosSimulator._export_create),
    _Route("GET", re.compile(r"/v2/analytics/export/posts/fields"), "fields",
           KhorosSimulator._fields),
    _Route("GET", re.compile(r"/v2/analytics/export/(?P<export_id>[^/]+)/status"),
           "export_status", KhorosSimulator._export_status),
    # Pre-signed download links carry their own authorization: no bearer token.
    _Route("GET", re.compile(r"/downloads/(?P<token>[A-Za-z0-9_-]+)\.csv"), "export_download",
           KhorosSimulator._export_download, authenticated=False),
)  # fmt: skip


# Command line (see simulators/__main__.py) -----------------------------------------------------

DEFAULT_PORT = 8701
CLI_HELP = "Khoros Conversations V2 (serves /v2/...; KHOROS_BASE_URL=<url>/v2)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the khoros subcommand's options."""
    parser.add_argument("--token", default="demo-token", help="bearer token to accept")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--initiatives", type=int, default=5)
    parser.add_argument("--plans-per-initiative", type=int, default=8)
    parser.add_argument("--posts-per-plan", type=int, default=20)
    parser.add_argument(
        "--posts-pro-rata",
        action="store_true",
        help="running Plans have posted only their share for the days run (the demo)",
    )
    parser.add_argument("--company-id", default="389")
    parser.add_argument("--company-name", default="Acme")
    parser.add_argument("--timezone", default="America/Chicago", help="company time zone")
    parser.add_argument("--export-polls", type=int, default=2, help="status calls before complete")


def build_app(args: argparse.Namespace) -> KhorosSimulator:
    """Build the simulator from parsed command-line options."""
    data = KhorosData.generate(
        seed=args.seed,
        initiatives=args.initiatives,
        plans_per_initiative=args.plans_per_initiative,
        posts_per_plan=args.posts_per_plan,
        posts_pro_rata=args.posts_pro_rata,
        company_id=args.company_id,
        company_name=args.company_name,
        timezone=args.timezone,
    )
    return KhorosSimulator(data, token=args.token, export_polls=args.export_polls)


def describe(base_url: str) -> str:
    """The one start-up line: where to point the bridge."""
    return f"Khoros simulator listening on {base_url} (KHOROS_BASE_URL={base_url}/v2)"
