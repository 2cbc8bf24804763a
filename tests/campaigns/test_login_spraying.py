"""Password spraying and IPv6 at the login page: one address trying a few passwords against every
user name is locked at LOGIN_ADDRESS_FAILURE_LIMIT, and an IPv6 caller counts per /64."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SPRAYER = "10.9.8.7"
LOCKED = "Too many failed logins from your address. Logging in is blocked for 15 minutes"


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 7


def _login(client, username: str, password: str, ip: str = SPRAYER):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def _error(response) -> str:
    body = response.content.decode()
    start = body.index('<p class="error"')
    return body[start : body.index("</p>", start)]


def test_one_address_guessing_at_every_user_name_is_locked_at_the_address_limit(
    client, world, limits, caplog
):
    # Found by a security review: axes counted per user name and address only, so one address
    # could try LOGIN_FAILURE_LIMIT - 1 passwords against every user name each cool-off time.
    world.tom.set_password("tom-pw-2026")
    world.tom.save()
    caplog.set_level(logging.INFO)
    with time_machine.travel(T0, tick=False):
        answers = [_login(client, f"user{i % 4}", f"Spring2026!{i}").status_code for i in range(6)]
        assert answers == [200] * 6  # two guesses per user name: no pair reached its limit
        seventh = _login(client, "user9", "Spring2026!7")
        assert seventh.status_code == 429 and seventh["Retry-After"] == "900"
        # Locked for every user name from that address, a right password included.
        refused = _login(client, "tom", "tom-pw-2026")
        assert refused.status_code == 429
        assert "_auth_user_id" not in client.session
        # The page says what a pair's lockout says: nothing on which limit was reached.
        assert LOCKED in _error(seventh)
        assert _error(seventh) == _error(refused)
        # The refused login counted too (it keeps the lockout going), as axes counts a pair's.
        assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == 8
        # Another address (a colleague elsewhere) is not locked.
        assert _login(client, "tom", "tom-pw-2026", ip="10.9.8.8").status_code == 302
    lines = [r.getMessage() for r in caplog.records if "from that address" in r.getMessage()]
    assert lines == [
        f"Logins from {SPRAYER} locked for 15 minutes after 7 failed logins from that address"
    ]
    assert "Spring2026!" not in caplog.text and "tom-pw-2026" not in caplog.text
    stored = AccessAttempt.objects.values_list("post_data", "get_data")
    assert not any("Spring2026!" in post or "tom-pw" in post for post, _ in stored)
    client.post("/logout/")
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        assert _login(client, "tom", "tom-pw-2026").status_code == 302


def test_the_pair_lockout_answers_with_the_same_page(client, world, limits):
    with time_machine.travel(T0, tick=False):
        for _ in range(2):
            assert _login(client, "maria", "guess").status_code == 200
        pair = _login(client, "maria", "guess")
    assert pair.status_code == 429
    assert LOCKED in _error(pair)


def test_an_office_behind_one_address_is_not_locked_by_its_typos(client, world, limits):
    """Below the address limit, each person's typos lock out only that person's user name."""
    world.tom.set_password("tom-pw-2026")
    world.tom.save()
    with time_machine.travel(T0, tick=False):
        for name in ("maria", "alex"):
            for _ in range(3):
                _login(client, name, "typo")
        assert address_failures_at(SPRAYER) == 6
        assert _login(client, "tom", "tom-pw-2026").status_code == 302
    assert address_failures_at(SPRAYER) == 6  # tom's success clears only tom's count


def address_failures_at(ip: str) -> int:
    return sum(
        AccessAttempt.objects.filter(ip_address=ip).values_list("failures_since_start", flat=True)
    )


def test_the_admin_lists_the_address_and_deleting_its_rows_lifts_the_lockout(
    client, world, limits, django_user_model
):
    world.tom.set_password("tom-pw-2026")
    world.tom.save()
    superuser = django_user_model.objects.create_superuser("root", password="root-pw-2026")
    with time_machine.travel(T0, tick=False):
        for i in range(7):
            _login(client, f"user{i}", "guess")
        assert _login(client, "tom", "tom-pw-2026").status_code == 429
        admin = client.__class__()
        admin.force_login(superuser)
        listing = admin.get("/admin/axes/accessattempt/", {"q": SPRAYER})
        assert listing.status_code == 200 and SPRAYER in listing.content.decode()
        ids = list(AccessAttempt.objects.filter(ip_address=SPRAYER).values_list("pk", flat=True))
        response = admin.post(
            "/admin/axes/accessattempt/",
            {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        )
        assert response.status_code == 302
        assert not AccessAttempt.objects.filter(ip_address=SPRAYER).exists()
        assert _login(client, "tom", "tom-pw-2026").status_code == 302


# ---- IPv6: per /64 ----------------------------------------------------------------------------


def test_an_ipv6_caller_rotating_through_its_64_is_locked_as_one(client, world, limits):
    # Found by a security review: failures were counted per address, and an IPv6 subscriber
    # holds 2^64 of them: a new one for each guess was never locked out.
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    with time_machine.travel(T0, tick=False):
        answers = [
            _login(client, "maria", "guess", ip=f"2001:db8:1:2::{i:x}").status_code
            for i in range(1, 4)
        ]
        assert answers == [200, 200, 429]
        assert (
            _login(client, "maria", "right-pw-2026", ip="2001:db8:1:2:ffff::9").status_code == 429
        )
        assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [
            "2001:db8:1:2::"
        ]
        # The next /64 is someone else.
        assert _login(client, "maria", "right-pw-2026", ip="2001:db8:1:3::1").status_code == 302
    # The login log keeps the address that signed in, not its /64.
    assert list(AccessLog.objects.values_list("ip_address", flat=True)) == ["2001:db8:1:3::1"]


def test_an_ipv4_caller_through_a_dual_stack_socket_counts_as_its_ipv4_address(
    client, world, limits
):
    with time_machine.travel(T0, tick=False):
        _login(client, "maria", "guess", ip="192.0.2.5")
        _login(client, "maria", "guess", ip="::ffff:192.0.2.5")
        assert _login(client, "maria", "guess", ip="192.0.2.5").status_code == 429
    assert address_failures_at("192.0.2.5") == 3


def test_address_failures_reads_the_counted_address(rf, limits):
    from campaigns.login_throttle import address_failures

    request = rf.post("/login/")
    request.axes_ip_address = "10.1.1.1"
    request.axes_attempt_time = T0
    # attempt_time is set on creation (auto_now_add): each row's is written after.
    for username, ip, failures, minutes_ago in (
        ("a", "10.1.1.1", 4, 14),
        ("b", "10.1.1.1", 2, 16),  # over: its cool-off time has passed
        ("a", "10.1.1.2", 9, 0),  # another address
    ):
        row = AccessAttempt.objects.create(
            username=username, ip_address=ip, user_agent="x", failures_since_start=failures
        )
        AccessAttempt.objects.filter(pk=row.pk).update(
            attempt_time=T0 - timedelta(minutes=minutes_ago)
        )
    assert address_failures(request) == 4
