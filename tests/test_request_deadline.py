"""The wall-clock deadline of a request: a body dripping in under the read timeout is given up.

A real loopback server sends the answers; the clients come from the Django settings, as a sync
builds them, and retry for real (with a tiny backoff).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from khoros import client as khoros_client
from sapmc import client as sapmc_client
from smcbridge import outgoing_http

# The deadline of the tests, and what they allow on top of it: a behaviour, not a benchmark.
DEADLINE = 1.0
GIVES_UP_BEFORE = 5.0
DRIP = (4, 0.2)  # 4 bytes every 0.2 s: far under the read timeout of 2 s


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip: tuple[int, float] | None = None  # (bytes, pause): the body a few bytes at a time
    chunked: bool = False  # Transfer-Encoding: chunked, one chunk per piece


class Server:
    """A loopback HTTP server answering every request with `reply`; it counts the requests."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append(f"{self.command} {self.path}")
                reply = outer.reply
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                size, pause = reply.drip or (len(reply.body) or 1, 0.0)
                try:
                    for start in range(0, len(reply.body), size):
                        piece = reply.body[start : start + size]
                        self.wfile.write(
                            b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece
                        )
                        self.wfile.flush()
                        time.sleep(pause)
                    if reply.chunked:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                except OSError:  # the client gave up
                    self.close_connection = True

            do_GET = do_POST = answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    try:
        yield running
    finally:
        running.close()


def transport(settings: Any, prefix: str) -> None:
    """Short timeouts, one retry after a tiny backoff and a deadline of DEADLINE seconds."""
    for name, value in {
        "TIMEOUT_CONNECT": 2.0,
        "TIMEOUT_READ": 2.0,
        "MAX_RETRIES": 1,
        "BACKOFF_BASE": 0.01,
        "BACKOFF_CAP": 0.01,
        "RETRY_BUDGET_SECONDS": 1.0,
        "DEADLINE_SECONDS": DEADLINE,
    }.items():
        setattr(settings, f"{prefix}_{name}", value)


@pytest.fixture
def khoros(settings: Any, server: Server) -> Iterator[khoros_client.KhorosClient]:
    settings.KHOROS_BASE_URL = server.url + "/v2"
    settings.KHOROS_TOKEN = "s3cr3t-token"
    settings.KHOROS_COMPANY_ID = "389"
    settings.KHOROS_DOWNLOAD_DEADLINE_SECONDS = DEADLINE
    transport(settings, "KHOROS")
    with khoros_client.client_from_settings() as client:
        yield client


@pytest.fixture
def sapmc(settings: Any, server: Server) -> Iterator[sapmc_client.SapmcClient]:
    settings.SAPMC_BASE_URL = server.url
    settings.SAPMC_USER = "user"
    settings.SAPMC_PASSWORD = "s3cr3t-password"
    transport(settings, "SAPMC")
    with sapmc_client.client_from_settings() as client:
        yield client


INITIATIVE = {"data": {"id": "7", "name": "Spring " + "x" * 200}}
CAMPAIGN_UUID = "0a1b2c3d-0000-4000-8000-000000000001"
SIGNED = "/exports/e1.csv?X-Amz-Signature=s3cr3t-signature"


def csv_body(rows: int = 60) -> bytes:
    lines = ["Post ID,Plan,Impressions"] + [f"{n},plan-{n},{n * 10}" for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def dripping(body: bytes, **headers: str) -> Reply:
    # Long enough to drip for 10 s and more: without a deadline the call would take all of it.
    assert len(body) / DRIP[0] * DRIP[1] >= 10
    return Reply(200, body, dict(headers), drip=DRIP)


def test_a_json_body_dripping_under_the_read_timeout_is_given_up_at_the_deadline(
    server: Server, khoros: khoros_client.KhorosClient
) -> None:
    server.reply = dripping(json.dumps(INITIATIVE).encode(), **{"Content-Type": "application/json"})
    started = time.monotonic()
    with pytest.raises(khoros_client.KhorosUnavailableError) as caught:
        khoros.get_initiative("7")
    elapsed = time.monotonic() - started
    assert elapsed < GIVES_UP_BEFORE
    # Through the retry loop: a GET that ran out of time is asked again, then given up.
    assert len(server.requests) == 2
    assert str(caught.value) == ("Khoros's answer took longer than 1 s (gave up after 2 attempts)")
    assert caught.value.path == "/v2/conversations/initiative/7"
    assert caught.value.maybe_received and caught.value.method == "GET"
    assert [entry["status"] for entry in khoros.stats.log] == ["DeadlineExceededError"]


def test_a_post_that_ran_out_of_time_is_not_sent_again(
    server: Server, khoros: khoros_client.KhorosClient
) -> None:
    server.reply = dripping(json.dumps({"export_id": "1234567", "pad": "x" * 400}).encode())
    started = time.monotonic()
    with pytest.raises(khoros_client.KhorosUnavailableError, match="took longer than 1 s"):
        khoros.start_export(
            fields=[11, 12],
            start=date(2026, 3, 1),
            stop=date(2026, 3, 2),
            timezone="UTC",
            initiative_ids=["7"],
            plan_ids=[],
        )
    assert time.monotonic() - started < GIVES_UP_BEFORE
    assert len(server.requests) == 1  # Khoros may have started the export already


def test_sapmc_gives_up_a_dripping_answer_at_its_deadline(
    server: Server, sapmc: sapmc_client.SapmcClient
) -> None:
    body = json.dumps({"d": {"CampaignUUID": CAMPAIGN_UUID, "pad": "x" * 200}}).encode()
    server.reply = dripping(body, **{"Content-Type": "application/json"})
    started = time.monotonic()
    with pytest.raises(sapmc_client.SapmcUnavailableError) as caught:
        sapmc.get_campaign(CAMPAIGN_UUID)
    assert time.monotonic() - started < GIVES_UP_BEFORE
    assert len(server.requests) == 2
    assert "SAP MC's answer took longer than 1 s" in str(caught.value)
    assert "$format" not in str(caught.value) and "s3cr3t" not in str(caught.value)


def test_a_csv_download_dripping_under_the_read_timeout_is_given_up_at_the_deadline(
    server: Server, khoros: khoros_client.KhorosClient
) -> None:
    server.reply = dripping(csv_body(), **{"Content-Type": "text/csv"})
    started = time.monotonic()
    table = khoros.download_table(server.url + SIGNED)
    with pytest.raises(khoros_client.KhorosUnavailableError) as caught:
        assert table.header == ["Post ID", "Plan", "Impressions"]
        list(table)
    assert time.monotonic() - started < GIVES_UP_BEFORE
    assert str(caught.value) == "the download took longer than 1 s"
    assert caught.value.path == "/exports/e1.csv"
    assert not table.finished


def test_a_gzip_download_dripping_in_is_given_up_at_the_deadline(
    server: Server, khoros: khoros_client.KhorosClient
) -> None:
    sent = gzip.compress(csv_body(400), mtime=0)
    server.reply = dripping(sent, **{"Content-Encoding": "gzip", "Content-Type": "text/csv"})
    started = time.monotonic()
    with pytest.raises(khoros_client.KhorosUnavailableError, match="took longer than 1 s"):
        list(khoros.download_export(server.url + SIGNED))
    assert time.monotonic() - started < GIVES_UP_BEFORE


def test_answers_in_time_are_read_whole_whether_sent_at_once_in_pieces_or_chunked(
    server: Server, khoros: khoros_client.KhorosClient
) -> None:
    body = json.dumps(INITIATIVE).encode()
    json_type = {"Content-Type": "application/json"}
    for reply in (
        Reply(200, body, json_type),
        Reply(200, body, json_type, drip=(64, 0.05)),  # 0.2 s in all, within the deadline
        Reply(200, body, json_type, drip=(16, 0.01), chunked=True),
    ):
        server.reply = reply
        assert khoros.get_initiative("7").name == INITIATIVE["data"]["name"]
    assert len(server.requests) == 3  # nothing was asked twice


def test_downloads_in_time_are_read_whole_and_proved_by_their_etag(
    server: Server, khoros: khoros_client.KhorosClient
) -> None:
    body = csv_body()
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    server.reply = Reply(200, body, {"Content-Type": "text/csv", "ETag": etag}, drip=(256, 0.02))
    table = khoros.download_table(server.url + SIGNED)
    assert table.header == ["Post ID", "Plan", "Impressions"]
    assert len(list(table)) == 60 and table.verified
    sent = gzip.compress(body, mtime=0)
    etag = f'"{hashlib.md5(sent).hexdigest()}"'
    server.reply = Reply(200, sent, {"Content-Encoding": "gzip", "ETag": etag}, chunked=True)
    table = khoros.download_table(server.url + SIGNED)
    assert table.header == ["Post ID", "Plan", "Impressions"]
    assert len(list(table)) == 60 and table.verified


def test_the_deadlines_come_from_the_settings_and_must_be_positive(settings: Any) -> None:
    settings.KHOROS_DEADLINE_SECONDS = 45
    settings.SAPMC_DEADLINE_SECONDS = 50
    assert outgoing_http.client_settings("KHOROS").get("deadline_seconds") == 45.0
    assert outgoing_http.client_settings("SAPMC").get("deadline_seconds") == 50.0
    settings.KHOROS_DOWNLOAD_DEADLINE_SECONDS = 200
    with khoros_client.client_from_settings() as client:
        assert (client.deadline_seconds, client.download_deadline_seconds) == (45.0, 200.0)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            outgoing_http.Deadline(bad)


def test_declared_defaults() -> None:
    from django.conf import settings

    # Each below the run's lease: one attempt, or one download, cannot outlive it.
    assert settings.KHOROS_DEADLINE_SECONDS == settings.SAPMC_DEADLINE_SECONDS == 120.0
    assert settings.KHOROS_DOWNLOAD_DEADLINE_SECONDS == 240.0
    assert settings.KHOROS_DOWNLOAD_DEADLINE_SECONDS < settings.SYNC_LEASE_SECONDS


def test_a_deadline_cuts_each_timeout_to_what_is_left() -> None:
    deadline = outgoing_http.Deadline(0.5)
    connect, read = deadline.timeouts((5.0, 30.0))
    assert 0 < connect <= 0.5 and 0 < read <= 0.5
    assert outgoing_http.Deadline(60).timeouts((5.0, 30.0)) == (5.0, 30.0)
    deadline.ends = time.monotonic() - 1
    with pytest.raises(outgoing_http.DeadlineExceededError, match="longer than 0.5 s"):
        deadline.check()
