"""What every simulator shares (simulators/base.py): the shared fault modes, the request log and
the /_sim/ control endpoints, on the Khoros and the SAP MC simulator alike."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from simulators.base import SimulatorApp
from simulators.khoros import KhorosSimulator
from simulators.sapmc import SERVICE_PATH, SapmcSimulator
from simulators.server import RunningServer, start_in_thread
from tests.http_helpers import Check, empty, not_json, retry_after, retry_after_date

TOKEN = "base-test-token"
USER, PASSWORD = "base-user", "base-pass-SECRET"


@dataclass
class Site:
    """A simulator on loopback, and one of its routes called as a client would call it."""

    sim: SimulatorApp[Any]
    server: RunningServer
    route: str
    path: str  # the route's path and query string
    headers: dict[str, str]  # the credentials the simulator accepts

    @property
    def url(self) -> str:
        return self.server.base_url + self.path

    def get(self, **kwargs: Any) -> requests.Response:
        return requests.get(self.url, headers=self.headers, **({"timeout": 5} | kwargs))

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.server.base_url}/_sim/{path}", timeout=5, **kwargs)


def _khoros() -> tuple[SimulatorApp[Any], str, str, dict[str, str]]:
    return KhorosSimulator(token=TOKEN), "me", "/v2/me", {"Authorization": f"Bearer {TOKEN}"}


def _sapmc() -> tuple[SimulatorApp[Any], str, str, dict[str, str]]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    path = f"{SERVICE_PATH}/Campaigns?$format=json&$top=3"
    sim = SapmcSimulator(user=USER, password=PASSWORD)
    return sim, "campaigns", path, {"Authorization": f"Basic {basic}"}


@pytest.fixture(scope="module", params=[_khoros, _sapmc], ids=["khoros", "sapmc"])
def module_site(request: pytest.FixtureRequest) -> Iterator[Site]:
    sim, route, path, headers = request.param()
    with start_in_thread(sim) as server:
        yield Site(sim=sim, server=server, route=route, path=path, headers=headers)


@pytest.fixture
def site(module_site: Site) -> Site:
    module_site.sim.reset()
    return module_site


# Fault modes every simulator has ----------------------------------------------------------


SHARED_CASES: list[tuple[str, dict[str, Any], Check]] = [
    ("rate_limit", {}, retry_after("1")),
    ("rate_limit", {"retry_after": 7}, retry_after("7")),
    ("rate_limit", {"retry_after": None}, retry_after(None)),
    ("rate_limit", {"retry_after": "http-date"}, retry_after_date),
    ("http_502", {"body": "empty"}, empty(502)),
    ("truncated_json", {}, not_json),
    ("invalid_json", {}, not_json),
]


@pytest.mark.parametrize(("mode", "params", "check"), SHARED_CASES)
def test_a_replacing_fault_hits_exactly_n_calls(
    site: Site, mode: str, params: dict[str, Any], check: Check
) -> None:
    site.sim.add_fault(site.route, mode, count=2, **params)
    responses = [site.get() for _ in range(3)]
    check(responses[0])
    check(responses[1])
    assert responses[2].status_code == 200 and responses[2].json()
    assert [e["fault"] for e in site.sim.requests] == [mode, mode, None]


def test_replacing_faults_queue_up_in_order(site: Site) -> None:
    site.sim.add_fault(site.route, "rate_limit", count=2, retry_after=0)
    site.sim.add_fault(site.route, "http_502")
    statuses = [site.get().status_code for _ in range(4)]
    assert statuses == [429, 429, 502, 200]


def test_truncated_json_is_a_prefix_of_the_real_answer(site: Site) -> None:
    site.sim.add_fault(site.route, "truncated_json", fraction=0.3)
    truncated = site.get().content
    assert truncated and site.get().content.startswith(truncated)


def test_connection_reset_sends_a_tcp_rst(site: Site) -> None:
    site.sim.add_fault(site.route, "connection_reset", count=2)
    with pytest.raises(requests.ConnectionError):
        site.get()
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=2) as sock:
        headers = "".join(f"{name}: {value}\r\n" for name, value in site.headers.items())
        sock.sendall(f"GET {site.path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)
    assert site.get().status_code == 200
    assert [(e["fault"], e["status"]) for e in site.sim.requests] == [
        ("connection_reset", None),
        ("connection_reset", None),
        (None, 200),
    ]


def test_slow_headers_time_out_the_client_without_wedging_the_server(site: Site) -> None:
    site.sim.add_fault(site.route, "slow_headers", seconds=4.0)
    with pytest.raises(requests.ReadTimeout):
        site.get(timeout=(2, 0.2))
    # Answered while the slow call still sleeps (for 3.8 s more): not a timed assertion,
    # which a loaded machine could break, but a read timeout the sleep would exceed.
    assert site.get(timeout=(2, 1.5)).status_code == 200


def test_slow_body_sends_headers_then_trickles_the_body(site: Site) -> None:
    site.sim.add_fault(site.route, "slow_body", seconds=0.4)
    started = time.perf_counter()
    with site.get(stream=True) as response:
        body = response.json()
    assert response.status_code == 200 and body
    assert time.perf_counter() - started >= 0.35  # a lower bound: load only adds to it
    # The headers come at once and the body in pieces 1.5 s apart: the headers are read
    # within a 1 s read timeout, the body is not (requests reports it as a ConnectionError).
    site.sim.add_fault(site.route, "slow_body", seconds=3.0, chunks=2)
    with site.get(stream=True, timeout=(2, 1.0)) as response:
        assert response.status_code == 200
        with pytest.raises(requests.ConnectionError, match="Read timed out"):
            response.json()


# Request log and control endpoints ----------------------------------------------------------


def test_the_request_log_records_each_call_but_not_control_calls(site: Site) -> None:
    site.get()
    requests.get(site.url, timeout=5)  # no credentials
    site.control("GET", "requests")
    log = site.control("GET", "requests").json()
    assert log == site.sim.requests
    assert [(e["route"], e["status"], e["had_auth_header"]) for e in log] == [
        (site.route, 200, True),
        (site.route, 401, False),
    ]
    path = site.path.partition("?")[0]
    assert (log[0]["method"], log[0]["path"], log[0]["fault"]) == ("GET", path, None)
    assert site.control("DELETE", "requests").json() == [] and site.sim.requests == []


def test_faults_are_managed_over_http_and_cleared_by_reset(site: Site) -> None:
    spec = {"route": site.route, "mode": "http_503", "count": None, "params": {"body": "html"}}
    created = site.control("POST", "faults", json=spec)
    assert created.status_code == 201
    assert created.json()["fault"]["remaining"] is None
    assert len(site.control("GET", "faults").json()["faults"]) == 1
    assert [site.get().status_code for _ in range(3)] == [503, 503, 503]
    assert [e["fault"] for e in site.sim.requests] == ["http_503"] * 3
    assert site.control("POST", "reset").json() == {"reset": True}
    assert site.sim.faults == [] and site.sim.requests == []
    assert site.get().status_code == 200
    site.sim.add_fault(site.route, "http_500")
    assert site.control("DELETE", "faults").json() == {"faults": []}
    assert site.get().status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"route": "nowhere", "mode": "http_500"},
        {"mode": "http_500"},
        {"route": "ROUTE", "mode": "developer_outage"},
        {"route": "ROUTE", "mode": "http_500", "params": {"body": "xml"}},
        {"route": "ROUTE", "mode": "rate_limit", "params": {"retry_after": "soon"}},
        {"route": "ROUTE", "mode": "rate_limit", "params": {"seconds": 1}},
        {"route": "ROUTE", "mode": "http_500", "count": 0},
        {"route": "ROUTE", "mode": "http_500", "params": []},
        ["ROUTE", "http_500"],
    ],
)
def test_bad_fault_requests_are_refused(site: Site, spec: Any) -> None:
    if isinstance(spec, dict) and spec.get("route") == "ROUTE":
        spec = spec | {"route": site.route}
    response = site.control("POST", "faults", json=spec)
    assert response.status_code == 400 and response.json()["error"]
    assert site.sim.faults == []


def test_unknown_control_paths_are_not_found(site: Site) -> None:
    assert site.control("GET", "nothing").status_code == 404
    assert site.control("PUT", "faults").status_code == 404
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=2) as sock:
        sock.sendall(b"GET /_sim/faults/ HTTP/1.0\r\n\r\n")
        assert b"200 OK" in sock.recv(1024)
