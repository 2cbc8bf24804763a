"""The shared retry pieces: Retry-After, full-jitter backoff, the retry budget, JSON, origins."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from smcbridge.outgoing_http import (
    Attempts,
    ClientStats,
    RetryPolicy,
    decode_json,
    full_jitter,
    is_unsent,
    origin,
    parse_retry_after,
)

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
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused before a byte leaves.
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
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
