"""Calls anyone can make without a password are counted per burst, not logged one by one.

A call with no credentials, or none the bridge can read, is refused without counting towards a
lockout (it guesses nothing), and openapi.json needs none: a flood of either must cost one
call-log row and one log line per address, endpoint, method, status and hour, not one per call,
while SAP MC's real calls keep a row each.
"""

from __future__ import annotations

import logging
import threading
from base64 import b64encode
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from sapmc.models import InboundCall, InboundLockout

pytestmark = pytest.mark.django_db

USER = "sap-comm-user"
PASSWORD = "inbound-pw-b7"
BASE = "/sapmc/extcamp/v1/"
CHALLENGE = 'Basic realm="smcbridge", charset="UTF-8"'
# Within one hour of UTC: the burst of every call below, whatever the test's own clock.
T0 = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
# No header, a Basic one that is not base64, one that decodes to no "user:password".
UNUSABLE = (None, "Basic !!!notbase64", "Basic eDp")
ADVERTISERS = '{"ParameterId": "ADVERTISER"}'


@pytest.fixture(autouse=True)
def inbound(settings):
    settings.SAPMC_INBOUND_USER = USER
    settings.SAPMC_INBOUND_PASSWORD = PASSWORD
    settings.SAPMC_INBOUND_FAILURE_LIMIT = 10


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


def post(
    client, endpoint="campaign-success", *, auth=None, ip="203.0.113.9", method="POST", body="{}"
):
    headers = {"Authorization": auth} if auth is not None else {}
    return client.generic(
        method, BASE + endpoint, body, content_type="application/json", headers=headers,
        REMOTE_ADDR=ip,
    )  # fmt: skip


def flood(client, calls: int, **kwargs) -> None:
    """`calls` calls without usable credentials, each answered exactly as documented."""
    for i in range(calls):
        response = post(client, auth=UNUSABLE[i % len(UNUSABLE)], **kwargs)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == CHALLENGE
        assert response.json() == {
            "error": {"code": "UNAUTHORIZED", "message": "HTTP Basic authentication is required."}
        }
        assert response["X-Correlation-ID"]


def log_lines(caplog) -> list[str]:
    """The lines the calls wrote: the bridge's own (sapmc.inbound) and Django's (django.request)."""
    return [r.getMessage() for r in caplog.records if r.name in ("sapmc.inbound", "django.request")]


def test_a_flood_without_usable_credentials_costs_one_row_and_one_log_line(client, caplog):
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.DEBUG):
        flood(client, 300)

    (row,) = InboundCall.objects.all()
    assert row.calls == 300
    assert (row.method, row.endpoint, row.status_code, row.error_code) == (
        "POST", "campaign-success", 401, "UNAUTHORIZED",
    )  # fmt: skip
    assert (row.caller, row.address, row.at, row.last_at) == ("", "203.0.113.9", T0, T0)
    assert row.burst == datetime(2026, 3, 2, 10, tzinfo=UTC)
    (line,) = log_lines(caplog)
    assert "SAP MC call POST campaign-success -> 401 UNAUTHORIZED" in line
    assert "address=203.0.113.9" in line and "until 11:00 UTC" in line
    # By design, none of them counts towards a lockout.
    assert not InboundLockout.objects.exists()


def test_one_row_per_address_and_per_hour(client, caplog):
    with caplog.at_level(logging.DEBUG):
        with time_machine.travel(T0, tick=False):
            flood(client, 100, ip="203.0.113.9")
            flood(client, 100, ip="198.51.100.4")
            # One subscriber's IPv6 addresses are one burst: its /64.
            flood(client, 25, ip="2001:db8:1:2::1")
            flood(client, 25, ip="2001:db8:1:2:ffff::7")
        with time_machine.travel(T0 + timedelta(minutes=54), tick=False):  # 10:59
            flood(client, 10, ip="203.0.113.9")
        with time_machine.travel(T0 + timedelta(minutes=55), tick=False):  # 11:00: a new burst
            flood(client, 40, ip="203.0.113.9")

    rows = list(
        InboundCall.objects.order_by("at", "address").values_list("address", "calls", "last_at")
    )
    assert rows == [
        ("198.51.100.4", 100, T0),
        ("2001:db8:1:2::/64", 50, T0),
        ("203.0.113.9", 110, T0 + timedelta(minutes=54)),
        ("203.0.113.9", 40, T0 + timedelta(minutes=55)),
    ]
    assert sum(calls for _, calls, _ in rows) == 300
    assert len(log_lines(caplog)) == len(rows)


def test_a_real_sap_mc_call_keeps_its_own_row_in_a_flood(client, caplog):
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.INFO):
        flood(client, 150)
        real = post(client, "parameter-values", auth=basic(), body=ADVERTISERS)
        wrong = post(client, auth=basic(password="guess"))
        flood(client, 150)

    assert real.status_code == 200 and wrong.status_code == 401
    single = InboundCall.objects.filter(burst__isnull=True).order_by("id")
    assert list(single.values_list("caller", "endpoint", "status_code", "calls")) == [
        (USER, "parameter-values", 200, 1),
        (USER, "campaign-success", 401, 1),  # a wrong password: a guess, counted and kept
    ]
    assert single[0].correlation_id == real["X-Correlation-ID"]
    (burst,) = InboundCall.objects.filter(burst__isnull=False)
    assert burst.calls == 300
    assert InboundLockout.objects.get().failures == 1
    assert len(log_lines(caplog)) == 1 + 2 + 1  # the burst, the two calls, Django's 401 line


def test_head_probes_and_unknown_paths_without_credentials_are_counted_too(client):
    with time_machine.travel(T0, tick=False):
        for _ in range(20):
            assert post(client, "parameter-values", method="HEAD").status_code == 401
            assert post(client, "nothing-here").status_code == 401
            # A method of the caller's choosing is one more burst, not one more row per name.
            for odd in ("BREW", "WHEN", "PROPFIND"):
                assert post(client, "external-campaigns", method=odd).status_code == 401

    rows = set(InboundCall.objects.values_list("method", "endpoint", "calls"))
    assert rows == {
        ("HEAD", "parameter-values", 20),
        ("POST", "(unknown)", 20),
        ("(other)", "external-campaigns", 60),
    }


def test_openapi_calls_are_counted_per_burst_and_the_document_served_as_kept(client, caplog):
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.DEBUG):
        for _ in range(100):
            got = post(client, "openapi.json", method="GET")
            assert got.status_code == 200 and got.json()["openapi"] == "3.0.3"
            assert post(client, "openapi.json", method="HEAD").content == b""
            assert post(client, "openapi.json", method="PUT").status_code == 405

    rows = set(InboundCall.objects.values_list("method", "status_code", "error_code", "calls"))
    assert rows == {
        ("GET", 200, "", 100),
        ("HEAD", 200, "", 100),
        ("PUT", 405, "METHOD_NOT_ALLOWED", 100),
    }
    assert len(log_lines(caplog)) == 3


def test_a_bridge_error_keeps_a_row_of_its_own(client, monkeypatch):
    def broken() -> bytes:
        raise OSError("disk gone")

    monkeypatch.setattr("sapmc.inbound.views._openapi_bytes", broken)
    for _ in range(3):
        assert post(client, "openapi.json", method="GET").status_code == 500
    assert (
        list(InboundCall.objects.values_list("status_code", "calls", "burst"))
        == [(500, 1, None)] * 3
    )


def test_the_calls_page_says_how_many_calls_a_row_stands_for(client, world):
    with time_machine.travel(T0, tick=False):
        flood(client, 299)
    with time_machine.travel(T0 + timedelta(minutes=7), tick=False):
        flood(client, 1)
        post(client, "parameter-values", auth=basic(), body=ADVERTISERS)
    client.force_login(world.admin)
    with time_machine.travel(T0 + timedelta(minutes=8), tick=False):
        html = client.get(reverse("sapmc-calls")).content.decode()

    assert "300 calls from 203.0.113.9, the last at" in html
    assert "no credentials" in html
    assert html.count("<tr>") == 1 + 2  # the head, the burst, SAP MC's call
    assert html.index(USER) < html.index("300 calls")  # newest first: by their first call


@pytest.mark.django_db(transaction=True)
def test_workers_counting_one_burst_at_once_make_one_row_and_lose_no_count(monkeypatch):
    """Threads, each with its own database connection, record the same burst at once."""
    # here: the other tests run without it
    from sapmc.inbound.http import InboundCallRecord, inbound_burst_log

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    threads, calls = 8, 25
    start = threading.Barrier(threads)
    made: list[int] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait(30)
            for i in range(calls):
                call = InboundCallRecord(
                    at=T0 + timedelta(seconds=i), method="POST", endpoint="campaign-success",
                    caller="", status_code=401, duration_ms=1, correlation_id=f"w{n}-{i}",
                    error_code="UNAUTHORIZED",
                )  # fmt: skip
                counted = inbound_burst_log(call, address="203.0.113.9")
                assert counted >= 1
                if counted == 1:
                    made.append(n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    assert not errors
    (row,) = InboundCall.objects.all()
    assert row.calls == threads * calls
    assert len(made) == 1  # one worker made the row: one log line
    assert (row.at, row.last_at) == (T0, T0 + timedelta(seconds=calls - 1))


def test_a_page_of_calls_made_through_the_client_in_threads_adds_up(transactional_db):
    """The same, through the whole view: concurrent requests, one row, every call counted."""
    threads, calls = 4, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(30)
            flood(Client(), calls)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    with time_machine.travel(T0, tick=False):
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(60)
    assert not errors
    assert list(InboundCall.objects.values_list("calls", flat=True)) == [threads * calls]


def test_calls_refused_while_locked_out_write_no_log_line_each(client, settings, caplog):
    """The lockout counts them (one row, one line when it ends): Django's own line of each
    429 (django.request) would flood the log all the same."""
    settings.SAPMC_INBOUND_FAILURE_LIMIT = 3
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.DEBUG):
        for _ in range(3):
            assert post(client, auth=basic(password="guess")).status_code == 401
        caplog.clear()
        for i in range(100):
            assert post(client, auth=UNUSABLE[i % 3] or basic()).status_code == 429

    assert InboundLockout.objects.get().refused == 100
    assert InboundCall.objects.filter(status_code=429).count() == 1  # the first refusal
    # The first refusal's, ours and Django's, as for any call with a row; none for the others.
    assert len(log_lines(caplog)) == 2
