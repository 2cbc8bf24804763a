"""Replay the public Khoros OpenAPI examples, byte for byte, to the real KhorosClient.

Every answer below is read from the published documents in tests/contracts/khoros/ (status,
Content-Type, body exactly as published) and served from a loopback HTTP server: a changed
spec changes the test. Nothing here goes through the simulator, whose own choices could hide
a difference between it and the real service.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest

from khoros.client import (
    KhorosClient,
    KhorosNotFoundError,
    KhorosRequestError,
)
from simulators.server import start_in_thread

SPECS = Path(__file__).parent / "khoros"
CONVERSATIONS = SPECS / "spredfast-conversations-api-openapi.json"
ANALYTICS = SPECS / "spredfast-analytics-api-openapi.json"
# The introspection document (GET /v2/whoami) is not among the copies yet: when it is added
# under this name, its example is replayed; until then, a bare object of the same shape.
INTROSPECTION = SPECS / "spredfast-introspection-api-openapi.json"
TOKEN = "spec-replay-token"  # noqa: S105 - a test value


@dataclass(frozen=True)
class Example:
    """One published response: what the real service answers, exactly."""

    status: int
    content_type: str
    body: bytes


def published(spec: Path, method: str, path: str, status: int) -> Example:
    """The example response `spec` publishes for `method path` with `status`."""
    document = json.loads(spec.read_text(encoding="utf-8"))
    response = document["paths"][path][method.lower()]["responses"][str(status)]
    ((content_type, content),) = response["content"].items()
    ((_, example),) = content["examples"].items()
    value = example["value"]
    body = value if isinstance(value, str) else json.dumps(value)
    return Example(status=status, content_type=content_type, body=body.encode("utf-8"))


def server_path(spec: Path, path: str) -> str:
    """The URL path of a spec path on the real server (its `servers` URL + the path)."""
    document = json.loads(spec.read_text(encoding="utf-8"))
    base = urlsplit(document["servers"][0]["url"]).path.rstrip("/")
    return base + ("" if path == "/" else path)


@dataclass
class Replay:
    """A WSGI app answering each (method, path) with a published example, and logging calls."""

    answers: dict[tuple[str, str], Example] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        with self.lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": environ.get("QUERY_STRING", ""),
                    "authorization": environ.get("HTTP_AUTHORIZATION"),
                    "body": environ["wsgi.input"].read(length) if length else b"",
                }
            )
        example = self.answers.get((method, path))
        if example is None:
            start_response("599 Not In Test", [("Content-Type", "text/plain")])
            return [f"no example for {method} {path}".encode()]
        start_response(
            f"{example.status} Spec",
            [("Content-Type", example.content_type), ("Content-Length", str(len(example.body)))],
        )
        return [example.body]


@dataclass
class Live:
    replay: Replay
    base_url: str

    def serve(self, method: str, path: str, example: Example) -> None:
        self.replay.answers[(method, path)] = example

    def client(self) -> KhorosClient:
        return KhorosClient(
            base_url=f"{self.base_url}/v2",
            token=TOKEN,
            company_id="389",
            max_retries=2,
            backoff_base=0.0,
            backoff_cap=0.0,
        )

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.replay.requests if r["path"] == path]


@pytest.fixture
def live() -> Iterator[Live]:
    replay = Replay()
    with start_in_thread(replay) as server:
        yield Live(replay=replay, base_url=server.base_url)


# --- Conversations API -----------------------------------------------------------------------


def test_me_lists_the_published_company(live: Live) -> None:
    path = server_path(CONVERSATIONS, "/me")
    live.serve("GET", path, published(CONVERSATIONS, "GET", "/me", 200))
    with live.client() as client:
        companies = client.me()
        assert [(c.id, c.name) for c in companies] == [("389", "(documentation2)")]
        assert client.check_company().id == "389"
    assert path == "/v2/me"
    assert live.calls(path)[0]["authorization"] == f"Bearer {TOKEN}"


def _bare_whoami() -> Example:
    # The shape of the introspection spec's example: a bare object, integer ids, no envelope.
    user = {
        "companies": [{"id": 389, "name": "Example", "products": []}],
        "description": "",
        "email": "user@example.com",
        "firstName": "Ann",
        "id": 424242,
        "jobTitle": "",
        "lastName": "Example",
        "profileImageUri": "https://example.com/a.jpg",
        "timezone": "America/Chicago",
    }
    return Example(200, "application/json", json.dumps(user, indent=2).encode())


def test_whoami_reads_the_published_bare_object(live: Live) -> None:
    if INTROSPECTION.exists():
        example = published(INTROSPECTION, "GET", "/", 200)
        path = server_path(INTROSPECTION, "/")
    else:
        example, path = _bare_whoami(), "/v2/whoami"
    expected = json.loads(example.body)
    assert "data" not in expected and isinstance(expected["id"], int)
    live.serve("GET", path, example)
    with live.client() as client:
        user = client.whoami()
    assert (user.user_id, user.email, user.timezone) == (
        str(expected["id"]),
        expected["email"],
        expected["timezone"],
    )


def test_whoami_still_reads_an_enveloped_answer(live: Live) -> None:
    inner = {"sfEntityType": "User", "id": "24606", "email": "a@b.c", "timezone": "Europe/Paris"}
    body = json.dumps({"data": inner, "status": {"succeeded": True}}).encode()
    live.serve("GET", "/v2/whoami", Example(200, "application/json", body))
    with live.client() as client:
        user = client.whoami()
    assert (user.user_id, user.email, user.timezone) == ("24606", "a@b.c", "Europe/Paris")


def test_initiative_list_reads_the_published_page(live: Live) -> None:
    path = server_path(CONVERSATIONS, "/conversations/initiative")
    live.serve("GET", path, published(CONVERSATIONS, "GET", "/conversations/initiative", 200))
    with live.client() as client:
        initiatives = list(client.iter_initiatives())
    assert [(i.id, i.name, i.description) for i in initiatives] == [
        ("1710", "doc", "This is an initiative's description.")
    ]
    # totalItems is 1 and the page holds it: the listing ends after page 0.
    assert [r["query"] for r in live.calls(path)] == ["nameFilter=&pageNumber=0&pageSize=100"]


def test_one_initiative_reads_the_published_object(live: Live) -> None:
    spec_path = "/conversations/initiative/{initiativeId}"
    example = published(CONVERSATIONS, "GET", spec_path, 200)
    path = server_path(CONVERSATIONS, spec_path.replace("{initiativeId}", "1710"))
    live.serve("GET", path, example)
    with live.client() as client:
        initiative = client.get_initiative("1710")
    assert (initiative.id, initiative.name, initiative.description) == (
        "1710",
        "doc",
        "This is an initiative's description.",
    )
    assert [r["authorization"] for r in live.calls(path)] == [f"Bearer {TOKEN}"]


def test_plan_list_reads_the_published_page(live: Live) -> None:
    spec_path = "/conversations/initiative/{initiativeId}/plan"
    example = published(CONVERSATIONS, "GET", spec_path, 200)
    (item,) = json.loads(example.body)["data"]
    initiative = str(item["campaignId"])
    path = server_path(CONVERSATIONS, spec_path.replace("{initiativeId}", initiative))
    live.serve("GET", path, example)
    with live.client() as client:
        (plan,) = client.list_plans(initiative)
    assert (plan.id, plan.name, plan.color, plan.initiative_id) == (
        item["id"],
        item["name"],
        item["color"],
        "1710",
    )
    assert plan.start == datetime.fromtimestamp(item["startDate"] / 1000, UTC)
    assert plan.end == datetime.fromtimestamp(item["endDate"] / 1000, UTC)
    # The V1-only fields are absent from the published Plan: empty, not invented.
    assert (plan.overview, plan.objective, plan.created, plan.last_modified) == ("", "", None, None)
    assert len(live.calls(path)) == 1


def test_a_malformed_request_is_a_clear_error_sent_once(live: Live) -> None:
    # The spec's one published error: 406, text/plain, the not_acceptable envelope.
    example = published(CONVERSATIONS, "POST", "/conversations/asset", 406)
    assert example.content_type == "text/plain"
    path = server_path(ANALYTICS, "/export/posts")
    live.serve("POST", path, example)
    with live.client() as client, pytest.raises(KhorosRequestError) as caught:
        client.start_export(
            fields=[101],
            start=date(2026, 10, 1),
            stop=date(2026, 11, 1),
            timezone="America/Chicago",
            initiative_ids=["1710"],
            plan_ids=[],
        )
    error = caught.value
    assert (error.status, error.code, error.retryable) == (406, "NOT_ACCEPTABLE", False)
    assert "could not parse the request" in str(error)
    assert "Unable to parse the json you provided." in str(error)
    assert len(live.calls(path)) == 1


# --- Analytics Reporting API -----------------------------------------------------------------


def test_start_export_reads_the_published_export_id(live: Live) -> None:
    path = server_path(ANALYTICS, "/export/posts")
    live.serve("POST", path, published(ANALYTICS, "POST", "/export/posts", 200))
    with live.client() as client:
        export_id = client.start_export(
            fields=[101, 102],
            start=date(2026, 10, 1),
            stop=date(2026, 11, 1),
            timezone="America/Chicago",
            initiative_ids=["1710"],
            plan_ids=["34534cd7-991e-4394-bdb5-88358cd909eb"],
        )
    assert export_id == "1234567"
    assert path == "/v2/analytics/export/posts"
    (call,) = live.calls(path)
    assert call["query"] == "header=true&delimiter=%2C"
    assert json.loads(call["body"])["query"]["fields"] == [101, 102]


def test_export_status_reads_the_published_status_and_link(live: Live) -> None:
    example = published(ANALYTICS, "GET", "/export/{id}/status", 200)
    published_body = json.loads(example.body)
    export_id = str(published_body["export_id"])
    path = server_path(ANALYTICS, f"/export/{export_id}/status")
    live.serve("GET", path, example)
    with live.client() as client:
        status = client.export_status(export_id)
    assert (status.export_id, status.status, status.url) == (
        "1958298",
        "complete",
        published_body["url"],
    )
    # Local wall time as published (no offset): kept naive, an instant only in a zone.
    assert status.expires == datetime(2021, 3, 24, 16, 58, 16, 478000)
    assert status.expires_at(ZoneInfo("America/Chicago")) == datetime(
        2021, 3, 24, 21, 58, 16, 478000, tzinfo=UTC
    )


def test_an_unknown_export_id_is_a_lost_export(live: Live) -> None:
    example = published(ANALYTICS, "GET", "/export/{id}/status", 400)
    assert example.body == b"{}"
    path = server_path(ANALYTICS, "/export/999/status")
    live.serve("GET", path, example)
    with live.client() as client, pytest.raises(KhorosNotFoundError) as caught:
        client.export_status("999")
    assert caught.value.status == 400
    assert "unknown export id" in str(caught.value)
    assert len(live.calls(path)) == 1


def test_the_published_field_catalogue_is_not_a_list_and_does_not_crash(live: Live) -> None:
    example = published(ANALYTICS, "GET", "/export/{export_type}/fields", 200)
    assert (example.content_type, example.body) == ("text/plain", b"Coming Soon")
    path = server_path(ANALYTICS, "/export/posts/fields")
    live.serve("GET", path, example)
    with live.client() as client:
        assert client.export_fields() == []
    assert len(live.calls(path)) == 1  # plain text is an answer, not a glitch worth a retry


def test_the_field_catalogue_refused_with_the_published_400_gives_no_fields(live: Live) -> None:
    path = server_path(ANALYTICS, "/export/posts/fields")
    live.serve("GET", path, published(ANALYTICS, "GET", "/export/{export_type}/fields", 400))
    with live.client() as client:
        assert client.export_fields() == []
    assert len(live.calls(path)) == 1


def test_the_published_download_link_is_fetched_as_is_without_the_token(live: Live) -> None:
    link = json.loads(published(ANALYTICS, "GET", "/export/{id}/status", 200).body)["url"]
    parts = urlsplit(link)
    # The same pre-signed link, on the loopback server: path and query byte for byte.
    local = f"{live.base_url}{parts.path}?{parts.query}"
    csv_body = b"plan_id,published_at,101\r\n"
    live.serve("GET", parts.path, Example(200, "text/csv", csv_body))
    with live.client() as client:
        rows = list(client.download_export(local))
    assert rows == []
    (call,) = live.calls(parts.path)
    # The published link's placeholders ("[TOKEN]") go out percent-encoded: the same values.
    assert parse_qsl(call["query"], strict_parsing=True) == parse_qsl(parts.query)
    assert "X-Amz-Signature" in call["query"]
    assert call["authorization"] is None
