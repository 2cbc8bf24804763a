"""What every simulator shares (WSGI, stdlib only): the request log, the fault board, the shared
fault modes, the /_sim/ control endpoints and the response helpers.

A simulator subclasses SimulatorApp, routes its own paths in _serve() and answers the faults that
only its system knows in _fault_response().
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from simulators.faults import AppliedFaults, Fault, FaultBoard, FaultError, ModeSpec
from simulators.server import abort_connection

StartResponse = Callable[..., Any]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json;charset=UTF-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status_line(self) -> str:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Unknown"  # 586 and friends have no standard phrase
        return f"{self.status} {reason}"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        if self.content_type is not None:
            headers.append(("Content-Type", self.content_type))
        headers.append(("Content-Length", str(len(self.body))))
        return headers


def html_page(
    status: int, title: str, body: str = "", content_type: str = "text/html;charset=UTF-8"
) -> Response:
    """Return a minimal HTML page: what gateways, logon screens and proxies answer."""
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    return Response(status, page.encode(), content_type)


def lenient_int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def read_body(environ: dict[str, Any]) -> bytes:
    length = lenient_int(environ.get("CONTENT_LENGTH") or "0") or 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def trickle(body: bytes, seconds: float, chunks: int) -> Iterator[bytes]:
    """Yield the body in `chunks` pieces spread over `seconds`, the headers at once."""
    # An empty first chunk makes wsgiref send the status line and headers right away.
    yield b""
    size = max(1, -(-len(body) // chunks))
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    for piece in pieces:
        time.sleep(seconds / len(pieces))
        yield piece


@dataclass(frozen=True)
class Request:
    """One call of a simulated API as the WSGI server hands it over (body read whole)."""

    environ: dict[str, Any]
    method: str  # upper case
    path: str  # PATH_INFO, "/" when empty
    body: bytes


@dataclass
class Call:
    """One routed request: its query, the arguments of its path and the faults it drew."""

    environ: dict[str, Any]
    query: dict[str, str]
    args: dict[str, str]
    faults: AppliedFaults

    def mod(self, mode: str) -> Fault | None:
        return self.faults.modify.get(mode)


class _Seed(Protocol):
    def clone(self) -> Self: ...


_D = TypeVar("_D", bound=_Seed)


class SimulatorApp(Generic[_D]):
    """WSGI app with seeded data, a request log, fault injection and /_sim/ control endpoints."""

    routes: ClassVar[tuple[str, ...]]  # the route names faults can target
    modes: ClassVar[Mapping[str, ModeSpec]]  # the fault modes, by name
    # Content-Type of the control endpoints' JSON answers.
    json_type: ClassVar[str] = "application/json;charset=UTF-8"

    def __init__(
        self,
        data: _D,
        *,
        clock: Callable[[], datetime] | None = None,
        public_url: str | None = None,
    ) -> None:
        """Serve a copy of data; clock returns aware UTC now; public_url replaces the Host."""
        self._seed_data = data
        self._data = data.clone()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.public_url = public_url.rstrip("/") if public_url else None
        self._lock = threading.RLock()
        self._faults = FaultBoard(self.routes, self.modes)
        self._log: list[dict[str, Any]] = []

    # Python API for tests ------------------------------------------------------------------

    @property
    def data(self) -> _D:
        """The data currently served (mutations included); reset() restores the seed."""
        return self._data

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copy of the request log (control endpoints excluded), oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    @property
    def faults(self) -> list[dict[str, Any]]:
        """Faults still pending, oldest first."""
        return self._faults.snapshot()

    def add_fault(self, route: str, mode: str, count: int | None = 1, **params: Any) -> Fault:
        """Apply mode to the next count calls of route (None: until reset)."""
        return self._faults.add(route, mode, count, params)

    def clear_faults(self) -> None:
        self._faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self) -> None:
        """Drop faults and the request log; serve the seeded data again."""
        self._faults.clear()
        with self._lock:
            self._log.clear()
            self._data = self._seed_data.clone()

    # WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO") or "/"
        body = read_body(environ)
        if path.startswith("/_sim/"):
            return self._send(self._control(method, path.rstrip("/"), body), start_response, None)
        return self._serve(Request(environ, method, path, body), start_response)

    def _serve(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        """Answer a call of the simulated API (anything but /_sim/)."""
        raise NotImplementedError

    def _log_request(
        self,
        request: Request,
        *,
        query: dict[str, str],
        route: str | None,
        path: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Append a call to the request log and return its entry, to be completed later."""
        # path: the path as the simulator routed it, when it differs from the one requested.
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path if path is None else path,
            "query": query,
            "route": route,
            "status": None,
            "had_auth_header": "HTTP_AUTHORIZATION" in request.environ,
            "fault": None,
            "faults": [],
            **extra,
            "at": time.time(),
        }
        with self._lock:
            self._log.append(entry)
        return entry

    def _take_faults(self, route: str, page: int | None, entry: dict[str, Any]) -> AppliedFaults:
        """Draw the faults of one call of route and note them in its log entry."""
        applied = self._faults.take(route, page)
        with self._lock:
            entry["faults"] = applied.modes
            entry["fault"] = applied.modes[0] if applied.modes else None
        return applied

    def _send(
        self, response: Response, start_response: StartResponse, entry: dict[str, Any] | None
    ) -> list[bytes]:
        self._record_status(entry, response.status)
        start_response(response.status_line, response.wsgi_headers())
        return [response.body]

    def _record_status(self, entry: dict[str, Any] | None, status: int | None) -> None:
        if entry is not None:
            with self._lock:
                entry["status"] = status

    def _base_url(self, environ: dict[str, Any]) -> str:
        if self.public_url:
            return self.public_url
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    # Faults --------------------------------------------------------------------------------

    def _respond(
        self,
        call: Call,
        handle: Callable[[], Response],
        start_response: StartResponse,
        entry: dict[str, Any],
    ) -> Iterable[bytes]:
        """Answer a routed call with handle(), unless a replacing fault takes the call over."""
        fault = call.faults.replace
        if fault is None:
            return self._send(handle(), start_response, entry)
        mode, params = fault.mode, fault.params
        if mode == "connection_reset":
            abort_connection(call.environ)
            return []
        if mode == "slow_headers":
            time.sleep(float(params.get("seconds", 2.0)))
            return self._send(handle(), start_response, entry)
        if mode == "slow_body":
            response = handle()
            self._record_status(entry, response.status)
            start_response(response.status_line, response.wsgi_headers())
            seconds, chunks = float(params.get("seconds", 2.0)), int(params.get("chunks", 5))
            return trickle(response.body, seconds, chunks)
        if mode == "truncated_json":
            response = handle()
            cut = int(len(response.body) * float(params.get("fraction", 0.5)))
            response.body = response.body[:cut]
            return self._send(response, start_response, entry)
        if mode == "rate_limit":
            response = self._rate_limited()
            self._add_retry_after(response, params.get("retry_after", 1))
        elif mode.startswith("http_"):
            status, kind = int(mode[5:]), params.get("body", "json")
            # An empty 5xx looks the same from every system: no body, no Content-Type.
            response = (
                Response(status, b"", None) if kind == "empty" else self._server_error(status, kind)
            )
            self._add_retry_after(response, params.get("retry_after"))
        else:
            response = self._fault_response(fault)
        return self._send(response, start_response, entry)

    def _rate_limited(self) -> Response:
        """The system's 429 answer (rate_limit)."""
        raise NotImplementedError

    def _server_error(self, status: int, body: str) -> Response:
        """The system's 5xx answer (http_5xx) with a body of the kind asked for, but "empty"."""
        raise NotImplementedError

    def _fault_response(self, fault: Fault) -> Response:
        """The answer of a replacing fault that only this system knows."""
        raise AssertionError(f"unhandled replacing fault {fault.mode}")

    def _add_retry_after(self, response: Response, retry_after: int | str | None) -> None:
        if retry_after is None:
            return
        if retry_after == "http-date":
            # HTTP dates have one-second resolution: round up so the client never retries early.
            when = self.clock() + timedelta(seconds=2)
            response.headers.append(("Retry-After", format_datetime(when, usegmt=True)))
        else:
            response.headers.append(("Retry-After", str(retry_after)))

    # Control endpoints (no auth, not logged) -----------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_sim/faults" and method == "POST":
            try:
                spec = json.loads(body or b"{}")
                if not isinstance(spec, dict):
                    raise FaultError("body must be a JSON object")
                params = spec.get("params")
                params = {} if params is None else params
                if not isinstance(params, dict):
                    raise FaultError("params must be an object")
                fault = self.add_fault(
                    str(spec.get("route")), str(spec.get("mode")), spec.get("count", 1), **params
                )
            except (ValueError, TypeError) as exc:
                return self._control_json({"error": str(exc)}, 400)
            return self._control_json({"fault": fault.as_dict()}, 201)
        if path == "/_sim/faults" and method == "GET":
            return self._control_json({"faults": self.faults})
        if path == "/_sim/faults" and method == "DELETE":
            self.clear_faults()
            return self._control_json({"faults": []})
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return self._control_json({"reset": True})
        if path == "/_sim/requests" and method == "GET":
            return self._control_json(self.requests)
        if path == "/_sim/requests" and method == "DELETE":
            self.clear_requests()
            return self._control_json([])
        return self._control_json({"error": f"no control endpoint {method} {path}"}, 404)

    def _control_json(self, payload: Any, status: int = 200) -> Response:
        return Response(status, json.dumps(payload).encode(), self.json_type)
