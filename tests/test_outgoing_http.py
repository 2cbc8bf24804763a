"""The shared HTTP pieces: errors, Retry-After, full-jitter backoff, the budget, JSON, URLs."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from khoros.client import KhorosAuthError, KhorosError, KhorosRateLimitedError
from sapmc.client import SapmcAuthError, SapmcError, SapmcRateLimitedError
from smcbridge.outgoing_http import (
    Attempts,
    AuthError,
    ClientError,
    ClientStats,
    RateLimitedError,
    RetryPolicy,
    clean_text,
    client_settings,
    decode_json,
    full_jitter,
    http_url,
    is_unsent,
    looks_like_markup,
    origin,
    parse_retry_after,
    storable_copy,
)
from tests.http_helpers import unused_port

NOW = datetime(2026, 3, 20, 12, 0, 0, tzinfo=UTC)


class Sleeps(list[float]):
    """Stand in for time.sleep: record the delays, wait for nothing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def attempts(policy: RetryPolicy, seed: int = 1) -> tuple[Attempts, ClientStats, Sleeps]:
    stats, sleeps = ClientStats(), Sleeps()
    return Attempts(policy, stats=stats, sleep=sleeps, rng=random.Random(seed)), stats, sleeps


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Fri, 20 Mar 2026 12:00:10 -0000", 10.0),
        ("Fri, 20 Mar 2026 13:00:10 +0100", 10.0),
        ("Fri, 32 Mar 2026 12:00:10 GMT", None),
    ],
)
def test_retry_after_is_read_in_seconds_or_as_an_http_date(
    header: str | None, expected: float | None
) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_retry_after_dates_default_to_the_current_time() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 < (parse_retry_after(header) or 0) <= 60


def test_full_jitter_stays_between_zero_and_the_capped_exponential_ceiling() -> None:
    rng = random.Random(4)
    for attempt in range(1, 12):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        delays = [full_jitter(attempt, base=0.5, cap=8.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        # Spread over the whole range, not bunched at the ceiling.
        assert min(delays) < ceiling / 4 and max(delays) > ceiling * 3 / 4


def test_full_jitter_survives_huge_attempt_numbers() -> None:
    assert 0 <= full_jitter(10_000, base=1.0, cap=30.0, rng=random.Random(1)) <= 30.0


def test_policy_refuses_negative_or_non_finite_settings() -> None:
    for bad in ({"max_retries": -1}, {"backoff_base": -0.1}, {"budget_seconds": float("nan")}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]


def test_policy_takes_the_servers_delay_but_caps_it() -> None:
    policy = RetryPolicy(backoff_cap=10.0)
    rng = random.Random(1)
    assert policy.delay(1, 3.0, rng) == 3.0
    assert policy.delay(1, 120.0, rng) == 10.0
    assert 0 <= policy.delay(3, None, rng) <= 2.0


def test_attempts_count_requests_and_retries_and_stop_after_max_retries() -> None:
    tries, stats, sleeps = attempts(RetryPolicy(max_retries=2, backoff_base=1.0))
    assert tries.start() == 1
    assert tries.retry() is not None
    assert tries.start() == 2
    assert tries.retry(0.25) == 0.25
    assert tries.start() == 3
    assert tries.retry() is None
    assert (stats.requests, stats.retries) == (3, 2)
    assert len(sleeps) == 2 and sleeps[1] == 0.25 and 0 <= sleeps[0] <= 1.0
    assert tries.slept == sum(sleeps)


def test_attempts_stop_when_the_next_wait_would_overrun_the_budget() -> None:
    tries, stats, sleeps = attempts(RetryPolicy(max_retries=10, budget_seconds=5.0))
    tries.start()
    assert tries.retry(3.0) == 3.0
    tries.start()
    assert tries.retry(3.0) is None  # 6 s in all would exceed 5 s
    assert tries.retry(2.0) == 2.0  # exactly the budget is still allowed
    assert sleeps == [3.0, 2.0] and stats.retries == 2


def test_zero_retries_never_sleeps() -> None:
    tries, stats, sleeps = attempts(RetryPolicy(max_retries=0))
    tries.start()
    assert tries.retry(0.0) is None
    assert sleeps == [] and stats == ClientStats(requests=1, retries=0)


def test_is_unsent_tells_a_refused_connection_from_a_read_timeout() -> None:
    # Nothing listens on the port: the connection is refused before a byte leaves.
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{unused_port()}/", timeout=2)
    assert is_unsent(refused.value)
    assert is_unsent(requests.ConnectTimeout())
    assert not is_unsent(requests.ReadTimeout())
    assert not is_unsent(requests.ConnectionError("Connection reset by peer"))
    assert not is_unsent(requests.HTTPError())


def test_decode_json_drops_a_bom_and_refuses_nan() -> None:
    assert decode_json(b'\xef\xbb\xbf{"a": [1, "\\/Date(0)\\/"]}') == {"a": [1, "/Date(0)/"]}
    for bad in (b'{"a": NaN}', b"[Infinity]", b"", b"\xff"):
        with pytest.raises(ValueError):
            decode_json(bad)


def test_origin_fills_default_ports_and_ignores_case() -> None:
    assert origin("HTTPS://SAP.Example.com/x") == ("https", "sap.example.com", 443)
    assert origin("http://sap.example.com:80/") == origin("http://sap.example.com/a?b")
    assert origin("http://sap.example.com:8080/") != origin("http://sap.example.com/")
    assert origin("http://user:pw@sap.example.com/") == ("http", "sap.example.com", 80)
    assert origin("http://sap.example.com:99999/")[2] == -1
    assert origin("/relative/path") == ("", "", None)


def test_http_url_wants_an_http_scheme_and_a_host() -> None:
    assert http_url("https://api.example.com/v2").hostname == "api.example.com"
    for bad in ("api.example.com/v2", "ftp://api.example.com", "http://", "/v2"):
        with pytest.raises(ValueError, match="http"):
            http_url(bad)


def test_markup_is_told_from_json_by_its_first_character() -> None:
    assert looks_like_markup("  \n<html><body>Logon</body></html>")
    assert looks_like_markup('<?xml version="1.0"?><Error/>')
    assert not looks_like_markup('{"a": "<b>"}') and not looks_like_markup("")


def test_storable_copies_drop_nul_and_lone_surrogates_and_refuse_what_is_not_json() -> None:
    item = {"a\x00": ["x\x00y", "\ud800", 1.5, None], "b": {"c": True}}
    copy = storable_copy(item)
    assert copy == {"a": ["xy", "?", 1.5, None], "b": {"c": True}}
    assert copy["b"] is not item["b"]
    assert clean_text("caf\u00e9\x00") == "caf\u00e9"
    for bad in ({"a": float("nan")}, {"a": object()}, {"a": b"bytes"}):
        with pytest.raises(ValueError):
            storable_copy(bad)


def test_client_settings_read_the_prefixed_settings_with_defaults(settings: Any) -> None:
    settings.SAPMC_TIMEOUT_CONNECT = 3
    settings.SAPMC_MAX_RETRIES = 2
    settings.SAPMC_RETRY_BUDGET_SECONDS = 10
    settings.SAPMC_DEADLINE_SECONDS = 45
    for name in ("SAPMC_TIMEOUT_READ", "SAPMC_BACKOFF_BASE", "SAPMC_BACKOFF_CAP"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert client_settings("SAPMC") == {
        "timeout": (3.0, 30.0),
        "max_retries": 2,
        "backoff_base": 0.5,
        "backoff_cap": 30.0,
        "retry_budget_seconds": 10.0,
        "deadline_seconds": 45.0,
    }


@pytest.mark.parametrize(
    ("error", "base"),
    [
        (RateLimitedError("slow down", status=429, path="/x", retry_after=3.0), ClientError),
        (KhorosRateLimitedError("slow down", status=429, path="/x", retry_after=3.0), KhorosError),
        (SapmcRateLimitedError("slow down", status=429, path="/x", retry_after=3.0), SapmcError),
    ],
)
def test_errors_pickle_with_their_attributes(error: ClientError, base: type) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.status, copy.path, copy.retryable) == (
        type(error),
        "slow down",
        429,
        "/x",
        True,
    )
    assert isinstance(copy, base) and isinstance(copy, RateLimitedError)
    assert copy.retry_after == 3.0  # type: ignore[attr-defined]


def test_each_system_keeps_its_own_errors_with_the_shared_kinds() -> None:
    khoros = KhorosAuthError("refused", status=401, path="/v2/me", code="UNAUTHENTICATED")
    sapmc = SapmcAuthError("refused", status=401, retryable=True)
    assert isinstance(khoros, KhorosError) and not isinstance(khoros, SapmcError)
    assert isinstance(sapmc, SapmcError) and not isinstance(sapmc, KhorosError)
    assert isinstance(khoros, AuthError) and isinstance(sapmc, AuthError)
    assert (khoros.code, khoros.retryable, sapmc.retryable) == ("UNAUTHENTICATED", False, True)
    assert pickle.loads(pickle.dumps(khoros)).code == "UNAUTHENTICATED"


def test_clean_text_removes_bidi_controls_and_keeps_other_text():
    from smcbridge.outgoing_http import clean_text

    assert clean_text("a\u202eb\u2066c\u2069d\u202ae\u202c f") == "abcde f"
    assert clean_text("שלום \u200f مرحبا") == "שלום \u200f مرحبا"  # RLM and RTL letters stay
