"""Where an export download link may lead (docs/khoros-api.md, "Where the link may lead"): only to
public addresses, unless it is KHOROS_BASE_URL's own host and port or one of
KHOROS_DOWNLOAD_HOSTS; a refused link sends nothing, anywhere."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from khoros import services
from khoros.client import (
    KhorosBadPayloadError,
    KhorosClient,
    KhorosUnavailableError,
    client_from_settings,
)
from khoros.download_links import (
    DownloadPolicy,
    KhorosDownloadRefusedError,
    PublicOnlyAdapter,
    is_public_address,
)
from khoros.models import KpiExport
from syncs.models import SyncRun
from tests.khoros.test_kpi_sync import snapshot, sync, tamper_one_recent_row

CSV = b"Post ID,Plan,Impressions\r\np1,plan-1,5\r\n"
SIGNED = "?X-Amz-Security-Token=sts-secret&X-Amz-Signature=sig-secret"
# A base URL on no server of ours: the links below are judged by their own host.
ELSEWHERE = "https://api.khoros.invalid/v2"


class Recorder(ThreadingHTTPServer):
    """A loopback server that records every request: /redirect answers 302 to its `to`."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", family: int = socket.AF_INET) -> None:
        self.address_family = family
        self.hits: list[str] = []
        self.redirect_to = ""
        super().__init__((host, 0), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.hits.append(self.path.split("?")[0])
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(CSV)))
        self.end_headers()
        self.wfile.write(CSV)

    def log_message(self, *args: Any) -> None:
        pass


def serving(server: Recorder) -> Iterator[Recorder]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield from serving(Recorder())


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket of this process connects to, the recorder's included; one that
    is not loopback is refused here, so that a test that fails never reaches the network."""
    seen: list[Any] = []
    real = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        seen.append(address)
        if address[0] not in ("127.0.0.1", "::1"):
            raise ConnectionRefusedError(f"the test refuses {address[0]}")
        real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def client(base_url: str = ELSEWHERE, **kwargs: Any) -> KhorosClient:
    # No retries: a request that is sent once would be sent again, and the counts tell it.
    return KhorosClient(base_url=base_url, token="t0ken", company_id="389", max_retries=0, **kwargs)


def refused(khoros: KhorosClient, url: str) -> KhorosDownloadRefusedError:
    with pytest.raises(KhorosDownloadRefusedError) as caught:
        khoros.download_table(url)
    return caught.value


# --- Addresses that are not public ---------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "127.1",  # 127.0.0.1 as inet_aton reads it
        "2130706433",  # 127.0.0.1 as one number
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:7f00:1]",
    ],
)
def test_a_link_to_loopback_is_refused_without_a_request(
    recorder: Recorder, connects: list[Any], host: str
) -> None:
    error = refused(client(), f"http://{host}:{recorder.port}/export.csv{SIGNED}")

    assert recorder.hits == []
    assert connects == []
    assert isinstance(error, KhorosBadPayloadError)  # the KPI sync fails the export with it


def test_a_link_to_ipv6_loopback_is_refused_without_a_request(connects: list[Any]) -> None:
    try:
        server = Recorder("::1", socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    for listening in serving(server):
        refused(client(), f"http://[::1]:{listening.port}/export.csv{SIGNED}")
        assert listening.hits == []
    assert connects == []


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "169.254.169.254",  # the cloud's metadata service
        "0.0.0.0",  # noqa: S104 - connects to this host
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "[::]",
        "[fe80::1]",
        "[fd00::1]",
        "[fec0::1]",
        "[ff02::1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:10.0.0.5]",
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[2002:a00:5::1]",  # 6to4 of 10.0.0.5
        "[::127.0.0.1]",  # IPv4-compatible (deprecated)
    ],
)
def test_a_link_to_a_private_link_local_or_reserved_address_sends_nothing(
    connects: list[Any], host: str
) -> None:
    error = refused(client(), f"http://{host}/latest/meta-data/{SIGNED}")

    assert connects == []
    assert host.strip("[]") in str(error)


def test_a_host_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch, connects: list[Any]
) -> None:
    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "storage.example"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    refused(client(), f"https://storage.example/export.csv{SIGNED}")

    assert connects == []


def test_the_refusal_is_the_same_whether_the_port_is_open_or_closed(recorder: Recorder) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    khoros = client()

    open_error = refused(khoros, f"http://127.0.0.1:{recorder.port}/export.csv{SIGNED}")
    closed_error = refused(khoros, f"http://127.0.0.1:{closed_port}/export.csv{SIGNED}")

    assert str(open_error) == str(closed_error)
    assert (open_error.status, closed_error.status) == (None, None)
    assert recorder.hits == []


def test_the_refusal_names_the_host_but_never_the_link_s_path_or_query(recorder: Recorder) -> None:
    error = refused(client(), f"http://localhost:{recorder.port}/secret-token/export.csv{SIGNED}")

    text = str(error)
    assert "localhost" in text
    for secret in ("secret-token", "export.csv", "sts-secret", "sig-secret", "X-Amz"):
        assert secret not in text
    assert not error.retryable


# --- Hosts that may be reached whatever they resolve to ------------------------------------------


def test_a_link_on_the_base_url_s_own_host_and_port_is_read(recorder: Recorder) -> None:
    khoros = client(f"http://127.0.0.1:{recorder.port}/v2")

    table = khoros.download_table(f"http://127.0.0.1:{recorder.port}/export.csv{SIGNED}")

    assert table.header == ["Post ID", "Plan", "Impressions"]
    assert list(table) == [(2, ["p1", "plan-1", "5"])]
    assert recorder.hits == ["/export.csv"]


def test_another_port_of_the_base_url_s_host_is_not_exempt(recorder: Recorder) -> None:
    other = Recorder()
    for listening in serving(other):
        khoros = client(f"http://127.0.0.1:{recorder.port}/v2")
        refused(khoros, f"http://127.0.0.1:{listening.port}/export.csv{SIGNED}")
        assert listening.hits == []


def test_a_host_of_khoros_download_hosts_is_read_whatever_it_resolves_to(
    recorder: Recorder,
) -> None:
    khoros = client(download_hosts=["LOCALHOST."])

    table = khoros.download_table(f"http://localhost:{recorder.port}/export.csv{SIGNED}")

    assert list(table) == [(2, ["p1", "plan-1", "5"])]
    assert recorder.hits == ["/export.csv"]


def test_the_setting_reaches_the_client(settings: Any, recorder: Recorder) -> None:
    settings.KHOROS_BASE_URL = ELSEWHERE
    settings.KHOROS_TOKEN = "t0ken"
    settings.KHOROS_COMPANY_ID = "389"
    settings.KHOROS_DOWNLOAD_HOSTS = ["localhost"]

    with client_from_settings() as khoros:
        table = khoros.download_table(f"http://localhost:{recorder.port}/export.csv")
        assert len(list(table)) == 1
    settings.KHOROS_DOWNLOAD_HOSTS = []
    with client_from_settings() as khoros:
        refused(khoros, f"http://localhost:{recorder.port}/export.csv")
    assert recorder.hits == ["/export.csv"]


@pytest.mark.parametrize(
    "entry", ["https://storage.example", "storage.example:9000", "storage.example/bucket", ""]
)
def test_an_allowed_host_that_is_no_host_name_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="KHOROS_DOWNLOAD_HOSTS"):
        client(download_hosts=[entry])


# --- Redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/export.csv",
        "http://localhost:{port}/export.csv",
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(
    recorder: Recorder, connects: list[Any], target: str
) -> None:
    recorder.redirect_to = target.format(port=recorder.port)
    khoros = client(f"http://127.0.0.1:{recorder.port}/v2")

    refused(khoros, f"http://127.0.0.1:{recorder.port}/redirect{SIGNED}")

    assert recorder.hits == ["/redirect"]  # asked once, not retried
    assert connects == [("127.0.0.1", recorder.port)]


def test_a_redirect_to_an_allowed_host_is_followed(recorder: Recorder) -> None:
    recorder.redirect_to = f"http://localhost:{recorder.port}/export.csv?X-Amz-Signature=2"
    khoros = client(f"http://127.0.0.1:{recorder.port}/v2", download_hosts=["localhost"])

    table = khoros.download_table(f"http://127.0.0.1:{recorder.port}/redirect{SIGNED}")

    assert list(table) == [(2, ["p1", "plan-1", "5"])]
    assert recorder.hits == ["/redirect", "/export.csv"]


def test_redirects_are_followed_a_few_times_only(recorder: Recorder) -> None:
    recorder.redirect_to = "/redirect"
    khoros = client(f"http://127.0.0.1:{recorder.port}/v2")

    with pytest.raises(KhorosBadPayloadError, match="redirected more than 3 times"):
        khoros.download_table(f"http://127.0.0.1:{recorder.port}/redirect{SIGNED}")

    assert recorder.hits == ["/redirect"] * 4


# --- DNS rebinding: the address checked is the address connected to ------------------------------


def fake_dns(monkeypatch: pytest.MonkeyPatch, name: str, answers: Iterator[str]) -> None:
    """Answer `name` with the next address of `answers` at each lookup; others as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_turns_internal_after_the_check_is_refused_where_the_socket_opens(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, connects: list[Any]
) -> None:
    # The first answer (the check before the request) is public; every later one is loopback.
    # Connected to by a second lookup, the link would reach the recorder.
    answers = iter(["93.184.216.34", *["127.0.0.1"] * 10])
    fake_dns(monkeypatch, "rebind.example", answers)

    refused(client(), f"http://rebind.example:{recorder.port}/export.csv{SIGNED}")

    assert recorder.hits == []
    assert connects == []


def test_the_download_adapter_connects_only_to_the_addresses_it_checked(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, connects: list[Any]
) -> None:
    fake_dns(monkeypatch, "rebind.example", iter(["127.0.0.1"] * 10))
    policy = DownloadPolicy.for_base_url(ELSEWHERE)
    with requests.Session() as session:
        session.mount("http://", PublicOnlyAdapter(policy))
        with pytest.raises(KhorosDownloadRefusedError):
            session.get(f"http://rebind.example:{recorder.port}/export.csv", timeout=5)
    assert recorder.hits == []
    assert connects == []


def test_a_host_that_does_not_resolve_fails_as_unavailable_as_before() -> None:
    with pytest.raises(KhorosUnavailableError):
        client().download_table(f"http://no-such-host.invalid/export.csv{SIGNED}")


# --- What counts as public -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("52.216.8.75", True),  # an S3 endpoint
        ("2600:1f18:4a3:6902::1", True),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::5db8:d822", True),  # NAT64 of a public address: IPv6-only hosts reach S3 so
        ("127.0.0.53", False),
        ("10.255.255.255", False),
        ("172.31.0.1", False),
        ("198.18.0.1", False),
        ("192.0.2.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:192.168.0.1", False),
        ("fe80::1%1", False),
        ("fc00::1", False),
        ("ff0e::1", False),
        ("2001:db8::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("100::1", False),
    ],
)
def test_public_addresses_are_told_apart(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- The KPI sync against the simulator ----------------------------------------------------------


@pytest.mark.django_db
def test_a_kpi_export_whose_link_leads_inside_fails_and_changes_nothing(live_khoros: Any) -> None:
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    sync()
    tamper_one_recent_row(live_khoros.data)
    before = snapshot()
    live_khoros.sim.clear_requests()
    # The simulator's links now name it by another name: loopback, not KHOROS_BASE_URL's host.
    port = live_khoros.base_url.rsplit(":", 1)[1]
    live_khoros.sim.public_url = f"http://localhost:{port}"

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "the download link was refused: KhorosDownloadRefusedError" in run.error
    assert "localhost" in run.error
    assert "/downloads/" not in run.error
    assert snapshot() == before  # nothing stored is lost or zeroed
    export = KpiExport.objects.order_by("-pk").first()
    assert export is not None and export.state == KpiExport.State.FAILED
    assert run.outcomes[-1]["status"] == "failed"
    assert [r for r in live_khoros.sim.requests if r["route"] == "export_download"] == []
    # The same simulator, named as KHOROS_BASE_URL names it, is read again.
    live_khoros.sim.public_url = None
    assert sync().status == SyncRun.Status.SUCCEEDED
