"""Failed logins from one address in several threads at once, through a live server, on
PostgreSQL or SQLite: every one is counted for the address's limit."""

from __future__ import annotations

import re
import threading

import pytest
import requests
from axes.models import AccessAttempt
from django.db import connections

pytestmark = pytest.mark.django_db(transaction=True)

# Liveness guards only: nothing asserts how long anything took.
GUARD_SECONDS = 30
THREADS, EACH = 6, 4


@pytest.fixture(autouse=True)
def _server_threads_close_their_connections(monkeypatch):
    """Let each live-server thread close its connection, so PostgreSQL can drop the database."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def _login_page(base_url: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(f"{base_url}/login/", timeout=GUARD_SECONDS)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session, token


def _fail(base_url: str, session: requests.Session, token: str, username: str) -> int:
    return session.post(
        f"{base_url}/login/",
        {"username": username, "password": "guess", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/login/"},
        timeout=GUARD_SECONDS,
        allow_redirects=False,
    ).status_code


def test_concurrent_failures_from_one_address_all_count(live_server, settings):
    # Three threads on each user name: they race for the same attempt row, too.
    settings.AXES_FAILURE_LIMIT = THREADS * EACH // 2 + 1
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = THREADS * EACH + 3
    base = live_server.url
    start = threading.Barrier(THREADS)
    answers: list[int] = []
    lock = threading.Lock()

    def spray(n: int) -> None:
        session, token = _login_page(base)
        start.wait(GUARD_SECONDS)
        for _ in range(EACH):
            status = _fail(base, session, token, f"user{n % 2}")
            with lock:
                answers.append(status)

    threads = [threading.Thread(target=spray, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD_SECONDS)
    assert answers == [200] * (THREADS * EACH)
    counts = AccessAttempt.objects.values_list("username", "failures_since_start")
    assert sorted(counts) == [("user0", THREADS * EACH // 2), ("user1", THREADS * EACH // 2)]
    # Three more reach the limit: the third is answered with the lockout page.
    session, token = _login_page(base)
    assert [_fail(base, session, token, "someone") for _ in range(3)] == [200, 200, 429]
    assert [_fail(base, session, token, f"user{n}") for n in range(2)] == [429, 429]
