"""The SAP MC simulator's success import service, API_MKT_CMPGN_SUCCESS_IMPORT_SRV (OData V2).

Its routes: the service root (where clients fetch the CSRF token), $metadata, a POST of one
Success and $batch with change sets, each write behind the CSRF check; the rows created are kept
for tests. The validation and the $batch format are pure functions in simulators/sapmc_success.py.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from simulators.base import Response
from simulators.sapmc_gateway import (
    JSON,
    XML,
    CsrfGuard,
    ODataCall,
    json_body,
    odata_error,
    service_root,
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
    cut_batch_answer,
    gateway_error,
    parse_batch,
    success_metadata_xml,
    validate_success,
)

# Faults can aim at the service root (the CSRF fetch), $metadata, a single POST or a $batch.
SUCCESS_ROUTES: tuple[str, ...] = (
    "success_service",
    "success_metadata",
    "successes",
    "success_batch",
)
_ROUTE_OF_SUBPATH = {
    "": "success_service",
    "$metadata": "success_metadata",
    SUCCESS_ENTITY_SET: "successes",
    "$batch": "success_batch",
}


class SuccessImport:
    """Answer the success import's routes and keep the Success rows created, oldest first."""

    def __init__(self, csrf: CsrfGuard) -> None:
        self._csrf = csrf
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Copy of every Success row created (as received, with its assigned key)."""
        with self._lock:
            return [dict(row) for row in self._rows]

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    @staticmethod
    def serves(path: str) -> bool:
        """Whether a path belongs to the success import service."""
        return path == SUCCESS_SERVICE_PATH or path.startswith(SUCCESS_SERVICE_PATH + "/")

    @staticmethod
    def route_of(path: str) -> str | None:
        """The route name of a path of the service, or None (also for paths outside it)."""
        if not SuccessImport.serves(path):
            return None
        return _ROUTE_OF_SUBPATH.get(path[len(SUCCESS_SERVICE_PATH) :].strip("/"))

    @staticmethod
    def unknown(path: str) -> Response:
        """The answer to a path of the service that no route matched."""
        segment = path[len(SUCCESS_SERVICE_PATH) + 1 :]
        message = f"Resource not found for segment '{segment}'"
        return odata_error(404, "/IWBEP/CM_MGW_RT/021", message)

    def answer(self, route: str, method: str, call: ODataCall, body: bytes) -> Response:
        reading = method in ("GET", "HEAD")
        if route in ("success_service", "success_metadata") and not reading:
            return odata_error(405, "/IWFND/CM_BEC/026", f"Method {method} is not allowed")
        if route == "success_metadata":
            return Response(200, success_metadata_xml().encode(), XML)
        if route == "success_service":
            return service_root(call, call.base_url + SUCCESS_SERVICE_PATH, [SUCCESS_ENTITY_SET])
        if reading:
            # POST only: SAP's data provider implements no read of Successes.
            message = "Method 'SUCCESSES_GET_ENTITYSET' not implemented in data provider class"
            return odata_error(501, "/IWBEP/CM_MGW_RT/000", message)
        if method != "POST":
            return odata_error(405, "/IWFND/CM_BEC/026", f"Method {method} is not allowed")
        if refusal := self._csrf.refusal(call.environ):
            return refusal
        if route == "successes":
            part = self._create(call, call.environ.get("CONTENT_TYPE", ""), body)
            if part.row is not None:
                with self._lock:
                    self._rows.append(part.row)
            response = Response(part.status, json_body(part.payload), JSON)
            response.headers.extend(part.headers)
            return response
        return self._batch(call, body)

    def _create(self, call: ODataCall, content_type: str, body: bytes) -> PartResponse:
        """Validate one Success create; the answer as a batch part would carry it."""
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
        service_url = call.base_url + SUCCESS_SERVICE_PATH
        entity = created_success(payload, key, service_url)
        location = f"{service_url}/{SUCCESS_ENTITY_SET}(guid'{key}')"
        return PartResponse(201, {"d": entity}, [("Location", location)], row=row)

    def _batch(self, call: ODataCall, body: bytes) -> Response:
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
                    part = self._create(call, request.headers.get("content-type", ""), request.body)
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
                self._rows.extend(r.row for r in responses if r.row is not None)
            answers.append((item.changeset, responses))
        content_type, payload = batch_answer(answers, lambda: f"batch_{uuid.uuid4()}")
        if fault := call.mod("batch_cut"):
            payload = cut_batch_answer(content_type, payload, int(fault.params.get("parts", 1)))
        return Response(202, payload, content_type)
