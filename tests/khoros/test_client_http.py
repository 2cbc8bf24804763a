"""The Khoros client against the Khoros simulator over real loopback HTTP, fault by fault."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from khoros.client import (
    KhorosAuthError,
    KhorosBadPayloadError,
    KhorosClient,
    KhorosError,
    KhorosIncompleteListingError,
    KhorosLinkExpiredError,
    KhorosNotFoundError,
    KhorosRateLimitedError,
    KhorosRequestError,
    KhorosUnavailableError,
    Plan,
)
from simulators.khoros import KhorosData, KhorosSimulator
from simulators.server import start_in_thread
from tests.conftest import FakeClock
from tests.http_helpers import Live, serving, unused_port

TOKEN = "tok-3f9c1e7a-SECRET-must-not-leak"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATA = KhorosData.generate(seed=1, initiatives=5, plans_per_initiative=8, posts_per_plan=20)
FIRST = DATA.initiatives[0].id


Khoros = Live[KhorosSimulator, KhorosClient]


@pytest.fixture(scope="module")
def served() -> Iterator[Khoros]:
    sim = KhorosSimulator(data=DATA, token=TOKEN)
    options = {"token": TOKEN, "company_id": DATA.company_id, "timeout": (2.0, 2.0)}
    with serving(sim, KhorosClient, path="/v2", max_retries=3, **options) as live:
        yield live


@pytest.fixture
def khoros(served: Khoros) -> Khoros:
    return served.fresh()


@pytest.fixture
def client(khoros: Khoros) -> Iterator[KhorosClient]:
    with khoros.client() as client:
        yield client


def seeded_plans(initiative_id: str) -> list[tuple[Any, ...]]:
    """Return the seeded Plans of an Initiative as the client must read them."""
    return [
        (
            p.id,
            p.initiative_id,
            p.name,
            p.color or "",
            EPOCH + timedelta(milliseconds=p.start_ms),
            EPOCH + timedelta(milliseconds=p.end_ms),
            p.overview or "",
            p.objective or "",
            p.target_audience or "",
            None if p.created_ms is None else EPOCH + timedelta(milliseconds=p.created_ms),
            None
            if p.last_modified_ms is None
            else EPOCH + timedelta(milliseconds=p.last_modified_ms),
        )
        for p in DATA.plans_for_initiative(initiative_id)
    ]


def as_tuples(plans: list[Plan]) -> list[tuple[Any, ...]]:
    return [
        (
            p.id,
            p.initiative_id,
            p.name,
            p.color,
            p.start,
            p.end,
            p.overview,
            p.objective,
            p.target_audience,
            p.created,
            p.last_modified,
        )
        for p in plans
    ]


def assert_no_token(error: BaseException) -> None:
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)


# --- the happy path --------------------------------------------------------------------------


def test_the_client_reads_companies_user_initiatives_and_plans(
    khoros: Khoros, client: KhorosClient
) -> None:
    assert [(c.id, c.name) for c in client.me()] == [("389", "Acme")]
    assert client.check_company().id == "389"
    assert client.whoami().timezone == "America/Chicago"
    initiatives = list(client.iter_initiatives())
    assert [(i.id, i.name) for i in initiatives] == [(i.id, i.name) for i in DATA.initiatives]
    assert client.get_initiative(FIRST).name == DATA.initiatives[0].name
    for initiative in initiatives:
        assert as_tuples(client.list_plans(initiative.id)) == seeded_plans(initiative.id)
    # Every call sent the bearer token, asked for JSON, and counted once.
    logged = khoros.sim.requests
    assert all(entry["had_auth_header"] for entry in logged)
    # me twice (me, check_company), whoami, one page of Initiatives, one Initiative, 5 plan lists
    assert client.stats.requests == len(logged) == 2 + 1 + 1 + 1 + 5
    assert client.stats.retries == 0


def test_a_company_the_token_cannot_reach_is_an_auth_error(khoros: Khoros) -> None:
    with khoros.client(company_id="999") as client, pytest.raises(KhorosAuthError) as caught:
        client.check_company()
    assert "999" in str(caught.value) and "389" in str(caught.value)
    assert caught.value.retryable is False


def test_the_client_repr_and_logs_never_show_the_token(
    khoros: Khoros, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    khoros.sim.add_fault("me", "http_503", count=1)
    khoros.sim.add_fault("initiatives", "expired_token", count=1)
    with khoros.client() as client:
        assert TOKEN not in repr(client)
        client.me()
        with pytest.raises(KhorosAuthError):
            list(client.iter_initiatives())
    assert "/v2/me" in caplog.text
    assert TOKEN not in caplog.text


def test_the_logs_never_show_a_signed_link_s_secret_path_or_query(
    khoros: Khoros, client: KhorosClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The link's path (the simulator's token) and its query string (S3's X-Amz-Signature) are
    # its credential: not in a retry warning, nor in the HTTP library's debug lines.
    url = complete(client, start(client))
    signed = f"{url}?X-Amz-Security-Token=sts-secret&X-Amz-Signature=sig-secret"
    secret_path = url.split("/", 3)[3]
    caplog.set_level(logging.DEBUG)
    khoros.sim.add_fault("export_download", "http_503", count=1)
    assert len(list(client.download_export(signed))) > 0
    assert [e["status"] for e in khoros.logged("export_download")] == [503, 200]
    assert "127.0.0.1 (signed link) -> 503" in caplog.text
    for secret in (secret_path, "sts-secret", "sig-secret", "X-Amz-Signature"):
        assert secret not in caplog.text


def test_an_unknown_initiative_is_not_found(client: KhorosClient) -> None:
    with pytest.raises(KhorosNotFoundError) as caught:
        client.get_initiative("424242")
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")
    assert caught.value.path == "/v2/conversations/initiative/424242"


# --- retries and backoff ---------------------------------------------------------------------


def test_retry_after_in_seconds_is_honoured(khoros: Khoros, client: KhorosClient) -> None:
    khoros.sim.add_fault("me", "rate_limit", count=2, retry_after=3)
    assert client.me()[0].id == "389"
    assert khoros.sleep.delays == [3.0, 3.0]
    assert (client.stats.requests, client.stats.retries) == (3, 2)
    assert [e["status"] for e in khoros.logged("me")] == [429, 429, 200]


def test_retry_after_as_an_http_date_is_honoured(khoros: Khoros, client: KhorosClient) -> None:
    khoros.sim.add_fault("me", "rate_limit", count=1, retry_after="http-date")
    client.me()
    # The simulator asks for now + 2 s at one-second resolution.
    [delay] = khoros.sleep.delays
    assert 0.5 < delay <= 2.0


def test_a_retry_after_beyond_the_cap_is_capped(khoros: Khoros) -> None:
    khoros.sim.add_fault("whoami", "http_503", count=1, retry_after=600)
    with khoros.client(backoff_cap=7.5) as client:
        client.whoami()
    assert khoros.sleep.delays == [7.5]


def test_without_retry_after_the_backoff_is_exponential_with_full_jitter(khoros: Khoros) -> None:
    khoros.sim.add_fault("me", "rate_limit", count=4, retry_after=None)
    with khoros.client(max_retries=4, backoff_base=0.5, backoff_cap=1.5) as client:
        client.me()
        assert client.stats.retries == 4
    ceilings = [0.5, 1.0, 1.5, 1.5]
    assert all(0 <= d <= c for d, c in zip(khoros.sleep.delays, ceilings, strict=True))


def test_throttling_past_the_retry_budget_is_a_rate_limited_error(khoros: Khoros) -> None:
    khoros.sim.add_fault("initiatives", "rate_limit", count=None, retry_after=4)
    with khoros.client(max_retries=2) as client, pytest.raises(KhorosRateLimitedError) as caught:
        list(client.iter_initiatives())
    error = caught.value
    assert (error.retryable, error.status, error.retry_after) == (True, 429, 4.0)
    assert error.code == "PROXY_RATE_LIMIT_EXCEEDED"
    assert "3 attempts" in str(error)
    assert len(khoros.logged("initiatives")) == 3
    assert khoros.sleep.delays == [4.0, 4.0]
    assert_no_token(error)


def test_the_total_sleep_stays_within_the_retry_budget(khoros: Khoros) -> None:
    khoros.sim.add_fault("me", "rate_limit", count=None, retry_after=50)
    with khoros.client(max_retries=10, backoff_cap=60, retry_budget_seconds=120) as client:
        with pytest.raises(KhorosRateLimitedError):
            client.me()
        assert client.stats.requests == 3
    assert khoros.sleep.delays == [50.0, 50.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("body", ["json", "empty", "html", "text"])
def test_a_server_error_is_retried_whatever_its_body(
    khoros: Khoros, client: KhorosClient, status: int, body: str
) -> None:
    khoros.sim.add_fault("plans", f"http_{status}", count=2, body=body)
    assert len(client.list_plans(FIRST)) == 8
    assert client.stats.retries == 2
    assert [e["status"] for e in khoros.logged("plans")] == [status, status, 200]


@pytest.mark.parametrize("body", ["json", "html", "text"])
def test_a_server_error_past_the_retry_budget_is_unavailable(khoros: Khoros, body: str) -> None:
    khoros.sim.add_fault("whoami", "http_502", count=None, body=body)
    with khoros.client(max_retries=2) as client, pytest.raises(KhorosUnavailableError) as caught:
        client.whoami()
    assert (caught.value.status, caught.value.retryable) == (502, True)
    assert len(khoros.logged("whoami")) == 3
    assert_no_token(caught.value)


def test_slow_headers_within_the_retry_budget_recover(khoros: Khoros) -> None:
    khoros.sim.add_fault("me", "slow_headers", count=1, seconds=2.5)
    # The retry must answer within the read timeout even on a loaded machine.
    with khoros.client(timeout=(1.0, 1.0)) as client:
        assert client.me()[0].id == "389"
        assert (client.stats.requests, client.stats.retries) == (2, 1)


def test_slow_headers_beyond_the_read_timeout_are_unavailable(khoros: Khoros) -> None:
    khoros.sim.add_fault("me", "slow_headers", count=None, seconds=1.0)
    with khoros.client(timeout=(1.0, 0.3), max_retries=2) as client:
        with pytest.raises(KhorosUnavailableError) as caught:
            client.me()
        assert (client.stats.requests, client.stats.retries) == (3, 2)
    assert caught.value.status is None
    assert "ReadTimeout" in str(caught.value)
    assert_no_token(caught.value)


def test_a_body_slower_than_the_read_timeout_is_retried(khoros: Khoros) -> None:
    khoros.sim.add_fault("initiatives", "slow_body", count=1, seconds=4.0, chunks=2)
    with khoros.client(timeout=(1.0, 1.0)) as client:
        assert len(list(client.iter_initiatives())) == 5
        assert client.stats.retries == 1


def test_a_reset_connection_is_retried(khoros: Khoros, client: KhorosClient) -> None:
    khoros.sim.add_fault("initiative", "connection_reset", count=2)
    assert client.get_initiative(FIRST).id == FIRST
    assert client.stats.retries == 2
    assert [e["status"] for e in khoros.logged("initiative")] == [None, None, 200]


def test_connection_resets_past_the_retry_budget_are_unavailable(khoros: Khoros) -> None:
    khoros.sim.add_fault("initiative", "connection_reset", count=None)
    with khoros.client(max_retries=1) as client, pytest.raises(KhorosUnavailableError):
        client.get_initiative(FIRST)
    assert len(khoros.logged("initiative")) == 2


@pytest.mark.parametrize("mode", ["truncated_json", "invalid_json"])
def test_a_body_that_is_not_json_is_read_again_once(
    khoros: Khoros, client: KhorosClient, mode: str
) -> None:
    khoros.sim.add_fault("plans", mode, count=1)
    assert len(client.list_plans(FIRST)) == 8
    assert (client.stats.requests, client.stats.retries) == (2, 1)


@pytest.mark.parametrize("mode", ["truncated_json", "invalid_json"])
def test_a_body_that_is_still_not_json_is_a_bad_payload(
    khoros: Khoros, client: KhorosClient, mode: str
) -> None:
    khoros.sim.add_fault("me", mode, count=2)
    with pytest.raises(KhorosBadPayloadError) as caught:
        client.me()
    assert (caught.value.status, caught.value.retryable) == (200, False)
    assert len(khoros.logged("me")) == 2


# --- authentication and paths ----------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{}, {"lowercase": True}, {"body": "text"}, {"lowercase": True, "body": "text"}],
)
def test_an_expired_token_is_an_auth_error_and_not_retried(
    khoros: Khoros, client: KhorosClient, params: dict[str, Any]
) -> None:
    khoros.sim.add_fault("initiatives", "expired_token", count=1, **params)
    with pytest.raises(KhorosAuthError) as caught:
        list(client.iter_initiatives())
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHENTICATED")
    assert "expired" in str(caught.value)
    assert client.stats.requests == 1
    assert_no_token(caught.value)


def test_a_token_the_server_does_not_know_is_an_auth_error(khoros: Khoros) -> None:
    with khoros.client(token="another-token") as client, pytest.raises(KhorosAuthError):
        client.me()


@pytest.mark.parametrize("status", [200, 401])
def test_the_developer_inactive_page_is_an_auth_error(
    khoros: Khoros, client: KhorosClient, status: int
) -> None:
    khoros.sim.add_fault("whoami", "developer_inactive", count=1, status=status)
    with pytest.raises(KhorosAuthError, match="Developer Inactive") as caught:
        client.whoami()
    assert caught.value.status == status
    assert client.stats.requests == 1


def test_status_586_is_a_wrong_path(khoros: Khoros, client: KhorosClient) -> None:
    khoros.sim.add_fault("initiatives", "status_586", count=1)
    with pytest.raises(KhorosNotFoundError, match="KHOROS_BASE_URL") as caught:
        list(client.iter_initiatives())
    assert caught.value.status == 586
    assert client.stats.requests == 1


def test_a_company_that_refuses_the_application_is_an_auth_error(
    khoros: Khoros, client: KhorosClient
) -> None:
    khoros.sim.add_fault("plans", "forbidden_company", count=1)
    with pytest.raises(KhorosAuthError, match="does not allow the application") as caught:
        client.list_plans(FIRST)
    assert (caught.value.status, caught.value.code) == (403, "UNAUTHORIZED")


def test_a_base_url_without_v2_is_not_found(khoros: Khoros) -> None:
    with (
        khoros.client(base_url=khoros.server.base_url) as client,
        pytest.raises(KhorosNotFoundError),
    ):
        client.me()


# --- paging ----------------------------------------------------------------------------------


PAGING_QUIRKS: list[tuple[str, dict[str, Any]]] = [
    ("missing_total", {}),
    ("missing_total", {"keep_object": True}),
    ("wrong_total", {"value": 2}),  # too small: full pages must still lead to the next one
    ("wrong_total", {"value": 0}),
    ("wrong_total", {}),  # 1000 too large: ends on a short or empty page anyway
    ("empty_page", {}),  # an empty page mid-list while totalItems says there is more
    ("duplicates", {"style": "prepend"}),
    ("duplicates", {"style": "shift"}),
    ("dates_iso_z", {}),
    ("dates_iso_offset", {}),
    ("ids_as_strings", {}),
    ("extra_fields", {}),
]


PAGING_CASES = [
    pytest.param(mode, params, count, id=f"{mode}-{'-'.join(map(str, params.values()))}-{count}")
    for mode, params in PAGING_QUIRKS
    for count in (1, None)
    # Every later page empty, or a totalItems too large on every page: the listing cannot be
    # told complete (see test_a_listing_short_of_its_total_for_good_is_incomplete).
    if (mode, count) != ("empty_page", None) and (mode, params, count) != ("wrong_total", {}, None)
]


@pytest.mark.parametrize("page_size", [3, 4, 8])
@pytest.mark.parametrize(("mode", "params", "count"), PAGING_CASES)
def test_paging_quirks_give_exactly_the_seeded_plans(
    khoros: Khoros,
    mode: str,
    params: dict[str, Any],
    count: int | None,
    page_size: int,
) -> None:
    khoros.sim.add_fault("plans", mode, count=count, **params)
    with khoros.client(page_size=page_size) as client:
        if (mode, params, count, page_size) == ("duplicates", {"style": "shift"}, None, 3):
            # totalItems moves on every page of both readings, and after a full last page
            # the next is empty while it still promises one more: what was read cannot be
            # told to be all (the sync removes nothing), though it is.
            with pytest.raises(KhorosIncompleteListingError, match="promises 1 more") as caught:
                client.list_plans(FIRST)
            plans = caught.value.items
        else:
            plans = client.list_plans(FIRST)
    if (mode, params) == ("duplicates", {"style": "shift"}) and count in (1, None):
        # The records slid back between two pages and one was skipped: the second reading
        # found it, later than its seeded position (the list keeps first-appearance order).
        assert sorted(as_tuples(plans)) == sorted(seeded_plans(FIRST))
    else:
        assert as_tuples(plans) == seeded_plans(FIRST)
    pages = [e["query"] for e in khoros.logged("plans")]
    assert all(q["pageSize"] == str(page_size) for q in pages)
    assert pages[0]["pageNumber"] == "0"


@pytest.mark.parametrize(
    ("page_size", "pages"),
    # 4 and 8: the full page that reaches totalItems (8) is the last; no request for page after.
    [(3, ["0", "1", "2"]), (4, ["0", "1"]), (8, ["0"]), (100, ["0"])],
)
def test_paging_stops_on_a_short_page_or_at_totalitems(
    khoros: Khoros, page_size: int, pages: list[str]
) -> None:
    with khoros.client(page_size=page_size) as client:
        assert len(client.list_plans(FIRST)) == 8
    assert [e["query"]["pageNumber"] for e in khoros.logged("plans")] == pages


@pytest.mark.parametrize(
    ("mode", "params", "pages"),
    [
        # No totalItems, or one below what a full page brought: the next page is still read.
        ("missing_total", {}, ["0", "1", "2"]),
        ("wrong_total", {"value": 2}, ["0", "1", "2"]),
    ],
)
def test_a_full_page_without_a_consistent_total_leads_to_the_next(
    khoros: Khoros, mode: str, params: dict[str, Any], pages: list[str]
) -> None:
    khoros.sim.add_fault("plans", mode, count=None, **params)
    with khoros.client(page_size=4) as client:
        assert as_tuples(client.list_plans(FIRST)) == seeded_plans(FIRST)
    assert [e["query"]["pageNumber"] for e in khoros.logged("plans")] == pages


def test_an_empty_page_is_read_once_more_then_trusted(khoros: Khoros) -> None:
    khoros.sim.add_fault("plans", "empty_page", count=1)
    with khoros.client(page_size=3) as client:
        assert len(client.list_plans(FIRST)) == 8
        assert client.stats.retries == 1
    assert [e["query"]["pageNumber"] for e in khoros.logged("plans")] == ["0", "1", "1", "2"]


@pytest.mark.parametrize(
    ("mode", "params"),
    [("missing_total", {"page": 1}), ("wrong_total", {"page": 1, "value": 0})],
    ids=["no-pagination", "total-0"],
)
def test_an_empty_page_that_promises_nothing_keeps_the_earlier_pages_promise(
    khoros: Khoros, mode: str, params: dict[str, Any]
) -> None:
    # Page 0 says 8; page 1 comes back empty without a totalItems, or with 0: the listing
    # ended there "complete", and the sync marked the 5 Plans after page 0 removed.
    khoros.sim.add_fault("plans", "empty_page", count=None, page=1)
    khoros.sim.add_fault("plans", mode, count=None, **params)
    with (
        khoros.client(page_size=3) as client,
        pytest.raises(KhorosIncompleteListingError, match=r"totalItems \(8\) promises 5 more"),
    ):
        client.list_plans(FIRST)


@pytest.mark.parametrize(
    ("mode", "params", "read"),
    [
        ("empty_page", {"page": 1}, 3),  # a hole mid-list
        ("empty_page", {}, 3),  # every page after the first
        ("wrong_total", {}, 8),  # a totalItems 1000 too large: cannot be told from a lost tail
    ],
)
def test_a_listing_short_of_its_total_for_good_is_incomplete(
    khoros: Khoros, mode: str, params: dict[str, Any], read: int
) -> None:
    # Issue 8: ending the listing there would report the Plans behind the hole as removed.
    khoros.sim.add_fault("plans", mode, count=None, **params)
    with (
        khoros.client(page_size=3) as client,
        pytest.raises(KhorosIncompleteListingError) as caught,
    ):
        client.list_plans(FIRST)
    assert "listing is incomplete" in str(caught.value)
    assert caught.value.path == f"/v2/conversations/initiative/{FIRST}/plan"
    assert caught.value.retryable is True
    # What was read comes with the error: seeded Plans, in order, none invented.
    assert as_tuples(caught.value.items) == seeded_plans(FIRST)[:read]
    # The empty page was read twice, and nothing after it.
    pages = [e["query"]["pageNumber"] for e in khoros.logged("plans")]
    assert pages[-2:] == [pages[-1]] * 2 and pages[:-1] == [str(n) for n in range(len(pages) - 1)]


def test_a_listing_whose_total_changed_midway_is_read_again(khoros: Khoros) -> None:
    khoros.sim.add_fault("plans", "duplicates", count=1, style="shift")
    with khoros.client(page_size=3) as client:
        assert len(client.list_plans(FIRST)) == 8
    # First reading: page 2 is short while totalItems still promises one more Plan, so page 3
    # is read (twice, being empty); then totalItems having moved, a second reading.
    first, second = ["0", "1", "2", "3", "3"], ["0", "1", "2"]
    assert [e["query"]["pageNumber"] for e in khoros.logged("plans")] == first + second


def test_a_page_size_above_the_maximum_is_clamped_so_that_no_page_looks_short(
    khoros: Khoros,
) -> None:
    with khoros.client(page_size=500) as client:
        assert client.page_size == 100
        client.list_plans(FIRST)
    assert khoros.logged("plans")[0]["query"]["pageSize"] == "100"


def test_initiatives_page_and_deduplicate_with_numeric_ids(khoros: Khoros) -> None:
    khoros.sim.add_fault("initiatives", "ids_as_numbers", count=None)
    khoros.sim.add_fault("initiatives", "duplicates", count=None)
    with khoros.client(page_size=2) as client:
        initiatives = list(client.iter_initiatives())
    assert [i.id for i in initiatives] == [i.id for i in DATA.initiatives]
    assert all(isinstance(i.id, str) for i in initiatives)


def _serve_the_same_page(
    client: KhorosClient, monkeypatch: pytest.MonkeyPatch, page: dict[str, Any]
) -> list[dict[str, Any]]:
    """Make `client` get `page` whatever page it asks for (a server ignoring pageNumber)."""
    calls: list[dict[str, Any]] = []

    def same_page(
        path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> dict[str, Any]:
        calls.append(params or {})
        return page

    monkeypatch.setattr(client, "_get_json", same_page)
    return calls


def test_a_server_that_ignores_page_numbers_is_not_read_forever(
    khoros: Khoros, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nor taken for the whole list: ended as complete, it had every Initiative past its first
    # page reported as removed.
    page = {"data": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}]}
    with khoros.client(page_size=2) as client:
        calls = _serve_the_same_page(client, monkeypatch, page)
        read: list[str] = []
        with pytest.raises(KhorosIncompleteListingError, match="no totalItems saying that is all"):
            for initiative in client.iter_initiatives():
                read.append(initiative.id)
    assert read == ["1", "2"]
    assert len(calls) == 3


def test_repeated_pages_while_total_items_promises_more_are_an_incomplete_listing(
    khoros: Khoros, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ended as complete, the listing would have had every Initiative past the first page
    # reported as removed.
    page = {"data": [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}],
            "pagination": {"totalItems": 5}}  # fmt: skip
    with khoros.client(page_size=2) as client:
        calls = _serve_the_same_page(client, monkeypatch, page)
        read: list[str] = []
        with pytest.raises(KhorosIncompleteListingError, match="promises 3 more item"):
            for initiative in client.iter_initiatives():
                read.append(initiative.id)
    assert read == ["1", "2"]
    assert len(calls) == 3


# --- analytics export ------------------------------------------------------------------------


def start(client: KhorosClient, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        # Post ID, Plan, Initiative, Published Date, Impressions, Engagements.
        "fields": [11, 12, 14, 13, 101, 102],
        "start": DATA.today - timedelta(days=120),
        "stop": DATA.today + timedelta(days=1),
        "timezone": "America/Chicago",
        "initiative_ids": [FIRST],
        "plan_ids": [p.id for p in DATA.plans_for_initiative(FIRST)],
    }
    return client.start_export(**(arguments | overrides))


def complete(client: KhorosClient, export_id: str) -> str:
    for _ in range(5):
        status = client.export_status(export_id)
        if status.status == "complete":
            assert status.url is not None and status.expires is not None
            return status.url
    raise AssertionError("the export never completed")


def test_an_export_runs_from_start_to_download(khoros: Khoros, client: KhorosClient) -> None:
    khoros.sim.add_fault("fields", "fields_catalogue")
    assert client.export_fields()[:2] == [(101, "Impressions"), (102, "Engagements")]
    export_id = start(client)
    assert export_id.isdigit()
    query = khoros.logged("export_create")[0]["body"]["query"]
    assert query["intiatives"] == query["initiatives"] == [int(FIRST)]
    assert khoros.logged("export_create")[0]["query"] == {"header": "true", "delimiter": ","}
    states = [client.export_status(export_id).status for _ in range(3)]
    assert states == ["pending", "running", "complete"]
    rows = list(client.download_export(complete(client, export_id)))
    assert len(rows) > 0
    # The spec: the requested fields as columns, in the requested order, under Khoros' names.
    assert list(rows[0]) == ["Post ID", "Plan", "Initiative", "Published Date",
                             "Impressions", "Total Engagements"]  # fmt: skip
    assert {row["Initiative"] for row in rows} == {FIRST}
    assert khoros.logged("export_create")[0]["body"]["query"]["fields"] == [
        11,
        12,
        14,
        13,
        101,
        102,
    ]
    [download] = khoros.logged("export_download")
    assert download["had_auth_header"] is False
    others = [e for e in khoros.sim.requests if e["route"] != "export_download"]
    assert all(e["had_auth_header"] for e in others)


@pytest.mark.parametrize("empty_body", [False, True])
def test_an_unknown_export_is_not_found(
    khoros: Khoros, client: KhorosClient, empty_body: bool
) -> None:
    # 400 with `{}` (the spec, the simulator's default) or with no body at all (seen).
    if empty_body:
        khoros.sim.add_fault("export_status", "unknown_export_empty")
    with pytest.raises(KhorosNotFoundError) as caught:
        client.export_status("777")
    assert caught.value.status == 400
    assert client.stats.requests == 1


def test_whoami_reads_the_bare_answer_and_the_enveloped_variant(
    khoros: Khoros, client: KhorosClient
) -> None:
    assert client.whoami().user_id == "24606"  # bare, integer id: the spec
    khoros.sim.add_fault("whoami", "whoami_enveloped")
    assert client.whoami().user_id == "24606"
    assert client.stats.retries == 0


def test_the_field_catalogue_as_published_gives_no_fields_without_a_retry(
    khoros: Khoros, client: KhorosClient
) -> None:
    assert client.export_fields() == []
    assert (client.stats.requests, client.stats.retries) == (1, 0)


@pytest.mark.parametrize("route", ["plans", "export_create"])
def test_406_not_acceptable_is_a_clear_request_error_sent_once(
    khoros: Khoros, client: KhorosClient, route: str
) -> None:
    khoros.sim.add_fault(route, "not_acceptable", count=None)
    with pytest.raises(KhorosRequestError) as caught:
        if route == "plans":
            client.list_plans(FIRST)
        else:
            start(client)
    error = caught.value
    assert (error.status, error.code, error.retryable) == (406, "NOT_ACCEPTABLE", False)
    assert str(error).startswith("Khoros could not parse the request (HTTP 406 Not Acceptable)")
    assert "Unable to parse the json you provided." in str(error)
    assert len(khoros.logged(route)) == 1
    assert_no_token(error)


def test_a_stuck_export_stays_pending_and_a_failed_one_says_so(
    khoros: Khoros, client: KhorosClient
) -> None:
    export_id = start(client)
    khoros.sim.add_fault("export_status", "export_stuck", count=3)
    assert {client.export_status(export_id).status for _ in range(3)} == {"pending"}
    khoros.sim.add_fault("export_status", "export_failed", count=1)
    failed = client.export_status(export_id)
    assert (failed.status, failed.url) == ("failed", None)


def test_an_invalid_export_query_is_a_request_error(khoros: Khoros, client: KhorosClient) -> None:
    with pytest.raises(KhorosRequestError) as caught:
        start(client, timezone="Mars/Olympus_Mons")
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")
    assert "Mars/Olympus_Mons" in str(caught.value)
    assert client.stats.requests == 1


@pytest.mark.parametrize(
    ("mode", "params"),
    [
        ("http_503", {}),
        ("http_500", {"body": "empty"}),
        ("connection_reset", {}),
        ("slow_headers", {"seconds": 1.0}),
    ],
)
def test_starting_an_export_is_not_sent_twice_once_the_server_may_have_acted(
    khoros: Khoros, mode: str, params: dict[str, Any]
) -> None:
    khoros.sim.add_fault("export_create", mode, count=1, **params)
    with khoros.client(timeout=(1.0, 0.3)) as client, pytest.raises(KhorosUnavailableError):
        start(client)
    assert len(khoros.logged("export_create")) == 1
    assert khoros.sleep.delays == []


def test_starting_an_export_is_retried_when_throttled(khoros: Khoros, client: KhorosClient) -> None:
    khoros.sim.add_fault("export_create", "rate_limit", count=1, retry_after=2)
    assert start(client).isdigit()
    assert [e["status"] for e in khoros.logged("export_create")] == [429, 200]
    assert len(khoros.sim.exports()) == 1
    assert khoros.sleep.delays == [2.0]


def test_starting_an_export_is_retried_when_the_connection_never_opened(khoros: Khoros) -> None:
    client = khoros.client(base_url=f"http://127.0.0.1:{unused_port()}/v2", max_retries=2)
    with client, pytest.raises(KhorosUnavailableError) as caught:
        start(client)
    assert (client.stats.requests, client.stats.retries) == (3, 2)
    assert_no_token(caught.value)


def test_the_download_strips_a_bom(khoros: Khoros, client: KhorosClient) -> None:
    url = complete(client, start(client))
    khoros.sim.add_fault("export_download", "csv_bom", count=1)
    with_bom = list(client.download_export(url))
    assert "Post ID" in with_bom[0]
    assert with_bom == list(client.download_export(url))


def test_the_download_keeps_newlines_inside_quoted_fields(
    khoros: Khoros, client: KhorosClient
) -> None:
    url = complete(client, start(client))
    expected = len(list(client.download_export(url)))
    khoros.sim.add_fault("export_download", "csv_quoted_newlines", count=1)
    rows = list(client.download_export(url))
    assert len(rows) == expected
    assert all(row["text"].endswith('"\nSecond line, with a comma') for row in rows)


def test_an_empty_export_has_no_rows(khoros: Khoros, client: KhorosClient) -> None:
    url = complete(client, start(client))
    khoros.sim.add_fault("export_download", "csv_empty", count=1)
    assert list(client.download_export(url)) == []


def test_a_row_with_a_non_numeric_metric_is_passed_on_as_text(
    khoros: Khoros, client: KhorosClient
) -> None:
    # The client does not know which columns are metrics: the KPI sync judges the values.
    url = complete(client, start(client))
    khoros.sim.add_fault("export_download", "csv_bad_row", count=1)
    rows = list(client.download_export(url))
    assert [row["Impressions"] for row in rows].count("n/a") == 1


def test_an_expired_link_asks_for_a_fresh_one(khoros: Khoros, client: KhorosClient) -> None:
    export_id = start(client)
    url = complete(client, export_id)
    khoros.sim.add_fault("export_download", "link_expired", count=1)
    with pytest.raises(KhorosLinkExpiredError) as caught:
        client.download_export(url)
    assert (caught.value.status, caught.value.retryable) == (403, True)
    assert isinstance(caught.value, KhorosError)
    assert "?" not in (caught.value.path or "")
    assert len(khoros.logged("export_download")) == 1
    assert len(list(client.download_export(complete(client, export_id)))) > 0


def test_the_expiry_is_local_wall_time_and_read_in_the_export_zone(
    khoros: Khoros, client: KhorosClient
) -> None:
    # Issue 8: Chicago is 5 or 6 hours behind UTC. Read as UTC, a link valid for an hour would
    # look expired hours ago; read in the export's zone, it expires an hour from now.
    fixed = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    khoros.sim.clock = lambda: fixed
    try:
        export_id = start(client, timezone="America/Chicago")
        for _ in range(3):
            status = client.export_status(export_id)
    finally:
        khoros.sim.clock = lambda: datetime.now(UTC)
    assert status.status == "complete"
    assert status.expires == datetime(2026, 11, 30, 5, 0)  # naive: 11:00 UTC in Chicago
    assert status.expires_at(ZoneInfo("America/Chicago")) == fixed + khoros.sim.link_ttl


def test_a_link_past_its_expiry_is_expired(khoros: Khoros, client: KhorosClient) -> None:
    url = complete(client, start(client))
    khoros.sim.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    try:
        with pytest.raises(KhorosLinkExpiredError):
            client.download_export(url)
    finally:
        khoros.sim.clock = lambda: datetime.now(UTC)


def test_a_download_failing_with_5xx_is_retried(khoros: Khoros, client: KhorosClient) -> None:
    url = complete(client, start(client))
    khoros.sim.add_fault("export_download", "http_503", count=1)
    assert len(list(client.download_export(url))) > 0
    assert [e["status"] for e in khoros.logged("export_download")] == [503, 200]


def test_a_download_broken_off_mid_body_is_unavailable(khoros: Khoros) -> None:
    with khoros.client(timeout=(1.0, 0.3)) as client:
        url = complete(client, start(client))
        khoros.sim.add_fault("export_download", "slow_body", count=1, seconds=3.0, chunks=3)
        rows = client.download_export(url)  # the headers arrive in time
        with pytest.raises(KhorosUnavailableError):
            list(rows)


def test_export_dates_use_date_objects(khoros: Khoros, client: KhorosClient) -> None:
    start(client, start=date(2026, 10, 1), stop=date(2026, 11, 1))
    query = khoros.logged("export_create")[0]["body"]["query"]
    assert (query["start"], query["stop"]) == ("2026-10-01", "2026-11-01")


# --- answers the simulator does not give: a scripted server ------------------------------------


@dataclass
class Scripted:
    """A WSGI app that answers each request with the next scripted (status, headers, body)."""

    answers: list[tuple[int, dict[str, str], bytes]]
    paths: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.paths.append(environ["PATH_INFO"])
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, b"{}")
        reason = {200: "OK", 400: "Bad Request", 501: "Not Implemented"}.get(status, "Other")
        start_response(f"{status} {reason}", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]


def envelope_failure(code: str, message: str = "") -> bytes:
    return json.dumps(
        {"status": {"succeeded": False, "error": {"code": code, "message": message}}}
    ).encode()


@pytest.fixture
def scripted() -> Iterator[tuple[Scripted, KhorosClient, FakeClock]]:
    app = Scripted(answers=[])
    clock = FakeClock()
    with start_in_thread(app) as server:
        client = KhorosClient(
            base_url=f"{server.base_url}/v2", token=TOKEN, company_id="389", sleep=clock.sleep
        )
        with client:
            yield app, client, clock


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("not_found", KhorosNotFoundError),
        ("RESOURCE_NOT_FOUND", KhorosNotFoundError),
        ("Unauthorized", KhorosAuthError),
        ("VALIDATION_ERROR", KhorosRequestError),
    ],
)
def test_a_failed_envelope_under_200_is_a_typed_error(
    scripted: tuple[Scripted, KhorosClient, FakeClock], code: str, error: type[KhorosError]
) -> None:
    app, client, _ = scripted
    app.answers.append((200, {"Content-Type": "text/plain"}, envelope_failure(code)))
    with pytest.raises(error) as caught:
        client.whoami()
    assert (caught.value.status, caught.value.code) == (200, code.upper())
    assert len(app.paths) == 1


def test_a_gateway_failure_under_200_is_retried(
    scripted: tuple[Scripted, KhorosClient, FakeClock],
) -> None:
    app, client, sleep = scripted
    app.answers.append((200, {}, envelope_failure("PROXY_GATEWAY_TIMEOUT")))
    app.answers.append((200, {}, json.dumps({"data": {"companies": []}}).encode()))
    assert client.me() == []
    assert len(sleep.delays) == 1


def test_a_server_message_that_echoes_the_token_is_redacted(
    scripted: tuple[Scripted, KhorosClient, FakeClock],
) -> None:
    app, client, _ = scripted
    app.answers.append((400, {}, envelope_failure("VALIDATION_ERROR", f"bad token {TOKEN}")))
    with pytest.raises(KhorosRequestError) as caught:
        client.whoami()
    assert "[redacted]" in str(caught.value)
    assert_no_token(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Service temporarily moved</body></html>",
        b'{"data": {"companies": [{"id": NaN}]}}',
        b'{"data": {"companies": [{"id": ' + b"9" * 5000 + b"}]}}",
        b"[]",
        b'{"data": {"companies": "Acme"}}',
    ],
    ids=["html", "nan", "huge-int", "array", "wrong-shape"],
)
def test_a_200_that_is_not_the_documented_json_is_a_bad_payload(
    scripted: tuple[Scripted, KhorosClient, FakeClock], body: bytes
) -> None:
    app, client, _ = scripted
    app.answers.extend([(200, {"Content-Type": "application/json"}, body)] * 2)
    with pytest.raises(KhorosBadPayloadError) as caught:
        client.me()
    assert caught.value.path == "/v2/me"


def s3_error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (403, "AccessDenied", KhorosLinkExpiredError),  # past X-Amz-Expires
        # Signed with temporary credentials that ran out before the link (X-Amz-Security-Token).
        (400, "ExpiredToken", KhorosLinkExpiredError),
        (400, "TokenRefreshRequired", KhorosLinkExpiredError),
        # Any other 400 is a link a fresh one would not mend.
        (400, "InvalidArgument", KhorosRequestError),
    ],
)
def test_an_object_store_refusal_is_told_apart_by_its_code(
    scripted: tuple[Scripted, KhorosClient, FakeClock],
    status: int,
    code: str,
    error: type[KhorosError],
) -> None:
    app, client, _ = scripted
    app.answers.append((status, {"Content-Type": "application/xml"}, s3_error_body(code, "No")))
    link = f"{client.base_url.removesuffix('/v2')}/bucket/export.csv?X-Amz-Signature=abc"
    with pytest.raises(error) as caught:
        client.download_table(link)
    assert caught.value.status == status
    assert caught.value.path == "/bucket/export.csv"
    assert len(app.paths) == 1


def test_a_status_that_retrying_cannot_fix_is_raised_at_once(
    scripted: tuple[Scripted, KhorosClient, FakeClock],
) -> None:
    app, client, sleep = scripted
    app.answers.append((501, {}, b""))
    with pytest.raises(KhorosUnavailableError) as caught:
        client.me()
    assert caught.value.status == 501
    assert (len(app.paths), sleep.delays) == (1, [])


def test_an_unreadable_retry_after_falls_back_to_backoff(
    scripted: tuple[Scripted, KhorosClient, FakeClock],
) -> None:
    app, client, sleep = scripted
    app.answers.append((429, {"Retry-After": "soon"}, b""))
    app.answers.append((200, {}, json.dumps({"data": {"companies": []}}).encode()))
    client.me()
    [delay] = sleep.delays
    assert 0 <= delay <= client.retry_policy.backoff_base


def test_ids_are_quoted_into_the_path(
    scripted: tuple[Scripted, KhorosClient, FakeClock],
) -> None:
    app, client, _ = scripted
    app.answers.append((200, {}, json.dumps({"data": {"id": "1", "name": "A"}}).encode()))
    client.get_initiative("1/../../me")
    # Unquoted, the dot segments would have been resolved on the way and asked for /v2/me.
    assert app.paths == ["/v2/conversations/initiative/1/../../me"]


def test_plan_pages_read_again_unchanged_are_counted_not_parsed(
    khoros: Khoros, client: KhorosClient
) -> None:
    first = client.read_plans(FIRST, salt="plans/1 America/Chicago")
    assert first.plans is not None and first.count == len(first.plans) == 8
    requests = client.stats.requests

    again = client.read_plans(FIRST, salt="plans/1 America/Chicago", unless=first.digest)

    assert (again.digest, again.count, again.plans) == (first.digest, 8, None)
    assert client.stats.requests == 2 * requests  # the pages are still read, every one
    # Another salt (a new company zone, new parsing rules) matches nothing mirrored before.
    other = client.read_plans(FIRST, salt="plans/1 Asia/Tokyo", unless=first.digest)
    assert other.digest != first.digest and other.plans == first.plans


def test_a_changed_plan_page_is_parsed_whole(khoros: Khoros, client: KhorosClient) -> None:
    first = client.read_plans(FIRST)
    plan = DATA.plans_for_initiative(FIRST)[3]
    khoros.sim.rename_plan(plan.id, "Renamed in Khoros")

    listing = client.read_plans(FIRST, unless=first.digest)

    assert listing.digest != first.digest
    assert listing.plans is not None and len(listing.plans) == 8
    assert {p.name for p in listing.plans if p.id == plan.id} == {"Renamed in Khoros"}


def test_a_broken_plan_on_a_changed_page_is_said_and_the_others_are_read(
    khoros: Khoros, client: KhorosClient
) -> None:
    from dataclasses import replace

    first = client.read_plans(FIRST)
    plan = DATA.plans_for_initiative(FIRST)[5]
    khoros.sim._data._plans[plan.id] = replace(plan, end_ms=plan.start_ms - 1)

    listing = client.read_plans(FIRST, unless=first.digest)

    assert [(p.id, "ends before it starts" in p.reason) for p in listing.unreadable] == [
        (plan.id, True)
    ]
    assert listing.plans is not None and plan.id not in {p.id for p in listing.plans}
    assert listing.count == first.count == len(listing.plans) + 1
    assert listing.digest == ""  # read again next time, never skipped as mirrored


def test_a_plan_page_without_plan_ids_is_refused_at_once(khoros: Khoros) -> None:
    from dataclasses import replace

    with khoros.client(page_size=2) as client:
        first = client.read_plans(FIRST)
        plan = DATA.plans_for_initiative(FIRST)[0]
        khoros.sim._data._plans[plan.id] = replace(plan, id="not-a-uuid")
        khoros.sim.clear_requests()

        with pytest.raises(KhorosBadPayloadError, match="not a UUID"):
            client.read_plans(FIRST, unless=first.digest)
    assert len(khoros.sim.requests) == 1  # the first page's error, before the second page
