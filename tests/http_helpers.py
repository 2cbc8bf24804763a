"""What the tests of the HTTP clients and of the simulators share: a simulator served on loopback
with clients that sleep into a recorder, free ports, junk payloads and checks of wire answers."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import requests
from hypothesis import strategies as st

from simulators.base import SimulatorApp
from simulators.server import RunningServer, start_in_thread
from tests.conftest import FakeClock

_S = TypeVar("_S", bound=SimulatorApp[Any])
_C = TypeVar("_C")


@dataclass
class Live(Generic[_S, _C]):
    """A simulator serving on loopback, and clients of it whose retries sleep into a recorder."""

    sim: _S
    server: RunningServer
    make_client: Callable[..., _C]
    options: dict[str, Any]  # the client's arguments but base_url and sleep
    path: str = ""  # what the client's base_url adds to the server's
    sleep: FakeClock = field(default_factory=FakeClock)

    @property
    def base_url(self) -> str:
        return self.server.base_url + self.path

    def client(self, **options: Any) -> _C:
        """Build a client of the simulator; `options` replace the defaults."""
        defaults = {"base_url": self.base_url, **self.options, "sleep": self.sleep.sleep}
        return self.make_client(**(defaults | options))

    def logged(self, route: str) -> list[dict[str, Any]]:
        """Return the simulator's log entries of one route, oldest first."""
        return [entry for entry in self.sim.requests if entry["route"] == route]

    def fresh(self) -> Live[_S, _C]:
        """Reset the simulator and return the harness with a new, empty sleep recorder."""
        self.sim.reset()
        return dataclasses.replace(self, sleep=FakeClock())


@contextmanager
def serving(
    sim: _S, make_client: Callable[..., _C], path: str = "", **options: Any
) -> Iterator[Live[_S, _C]]:
    """Serve sim on loopback for the block (a module-scoped fixture): see Live."""
    with start_in_thread(sim) as server:
        yield Live(sim=sim, server=server, make_client=make_client, options=options, path=path)


def unused_port() -> int:
    """Return a loopback port that nothing listens on (any more)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def huge_int() -> int:
    """Return an int too long to print (Python refuses str() past 4300 digits)."""
    return 10**5000


# Anything a broken server or proxy might put where a value belongs, JSON or not.
JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.builds(huge_int)
    | st.floats()
    | st.text()
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5), children, max_size=3)
        | st.tuples(children)
    ),
    max_leaves=8,
)


# Checks of a simulator's answers, for tables of (mode, params, check) --------------------------

Check = Callable[[requests.Response], None]


def retry_after(value: str | None) -> Check:
    """Check a 429 whose Retry-After header is `value` (None: no header)."""

    def check(response: requests.Response) -> None:
        assert response.status_code == 429
        assert response.headers.get("Retry-After") == value

    return check


def retry_after_date(response: requests.Response) -> None:
    """Check a 429 whose Retry-After is an HTTP date less than 3 s ahead."""
    assert response.status_code == 429
    when = parsedate_to_datetime(response.headers["Retry-After"])
    assert timedelta(0) < when - datetime.now(UTC) <= timedelta(seconds=3)


def empty(status: int) -> Check:
    """Check an answer of `status` without a body."""

    def check(response: requests.Response) -> None:
        assert response.status_code == status and response.content == b""

    return check


def html_page(status: int, text: str = "<html>") -> Check:
    """Check an HTML answer of `status` that contains `text`."""

    def check(response: requests.Response) -> None:
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith("text/html")
        assert text in response.text

    return check


def not_json(response: requests.Response) -> None:
    """Check a 200 that announces JSON and is not."""
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    try:
        response.json()
    except ValueError:
        return
    raise AssertionError(f"the body is JSON: {response.text[:80]!r}")


@dataclass
class Served:
    """Stand in for simulators.server.serve_forever: keep what main() serves, announce it."""

    app: Any = None
    host: str = ""
    port: int = 0

    def __call__(self, app: Any, host: str, port: int, announce: Callable[[str], None]) -> None:
        self.app, self.host, self.port = app, host, port
        announce(f"http://{host}:{port}")
