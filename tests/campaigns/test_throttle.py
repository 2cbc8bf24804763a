"""Brakes on guessing: login attempts (django-axes) and SAP MC's Basic auth, per address."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings

from sapmc.models import InboundCall, InboundLockout

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_axes_is_configured_with_the_database_handler_and_reset_on_success():
    assert django_settings.AXES_HANDLER == "campaigns.login_throttle.LoginLockoutHandler"
    assert django_settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == django_settings.AXES_COOLOFF_TIME
    assert django_settings.AXES_RESET_ON_SUCCESS is True
    assert (
        django_settings.AUTHENTICATION_BACKENDS[0]
        == "campaigns.login_throttle.LoginThrottleBackend"
    )
    assert django_settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_a_login_without_a_request_still_works(client, world):
    """The test client's login() passes no request; axes alone would raise an error there."""
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    assert client.login(username="maria", password="right-pw-2026") is True
    assert client.login(username="maria", password="wrong") is False


def _login(client, password: str, username: str = "maria"):
    return client.post("/login/", {"username": username, "password": password})


def test_login_is_locked_after_the_limit_with_a_clear_message(client, world, settings):
    settings.AXES_FAILURE_LIMIT = 3
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    with time_machine.travel(T0, tick=False):
        for _ in range(2):
            response = _login(client, "wrong")
            assert response.status_code == 200
            assert "didn't match" in response.content.decode()
        response = _login(client, "wrong")
        assert response.status_code == 429
        body = response.content.decode()
        assert "Too many failed logins" in body and "15 minutes" in body
        assert response["Retry-After"] == "900"
        # Locked: even the right password is refused, with the same page.
        response = _login(client, "right-pw-2026")
        assert response.status_code == 429 and "Too many failed logins" in response.content.decode()
        assert "_auth_user_id" not in client.session
        # Another user from the same address is not locked out by maria's typos.
        world.tom.set_password("tom-pw-2026")
        world.tom.save()
        assert _login(client, "tom-pw-2026", username="tom").status_code == 302
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        response = _login(client, "right-pw-2026")
        assert response.status_code == 302


def test_a_successful_login_resets_the_failure_count(client, world, settings):
    settings.AXES_FAILURE_LIMIT = 3
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    with time_machine.travel(T0, tick=False):
        for _ in range(2):
            assert _login(client, "wrong").status_code == 200
        assert _login(client, "right-pw-2026").status_code == 302
        client.post("/logout/")
        for _ in range(2):
            assert _login(client, "wrong").status_code == 200
        assert _login(client, "right-pw-2026").status_code == 302


# ---- SAP MC's endpoints ----------------------------------------------------------------------

URL = "/sapmc/extcamp/v1/parameter-values"
BODY = {"ParameterId": "ADVERTISER"}


@pytest.fixture
def inbound(settings):
    settings.SAPMC_INBOUND_USER = "sapmc-inbound"
    settings.SAPMC_INBOUND_PASSWORD = "pw-inbound-2026"
    settings.SAPMC_INBOUND_FAILURE_LIMIT = 3
    settings.SAPMC_INBOUND_LOCKOUT_MINUTES = 10


def _call(client, password: str, ip: str = "10.0.0.7", **extra):
    token = base64.b64encode(f"sapmc-inbound:{password}".encode()).decode()
    return client.post(
        URL, BODY, content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}", REMOTE_ADDR=ip, **extra,
    )  # fmt: skip


def test_failed_basic_auth_locks_the_address_with_429_and_retry_after(client, inbound):
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            assert _call(client, "guess").status_code == 401
        response = _call(client, "pw-inbound-2026")  # even the right one, while locked
        assert response.status_code == 429
        assert response["Retry-After"] == "600"
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.json()["error"]["code"] == "TOO_MANY_FAILURES"
        assert response["X-Correlation-ID"]
        # Other addresses go on working.
        assert _call(client, "pw-inbound-2026", ip="10.0.0.8").status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        response = _call(client, "guess")
        assert response.status_code == 429 and response["Retry-After"] == "360"
    with time_machine.travel(T0 + timedelta(minutes=10, seconds=1), tick=False):
        assert _call(client, "pw-inbound-2026").status_code == 200
        assert not InboundLockout.objects.exists()


def test_refused_calls_while_locked_are_counted_not_logged_one_by_one(client, inbound):
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            _call(client, "guess")
        for _ in range(50):
            assert _call(client, "guess").status_code == 429
        head = client.head(URL, REMOTE_ADDR="10.0.0.7")
        assert head.status_code == 429
    codes = list(InboundCall.objects.order_by("id").values_list("status_code", flat=True))
    assert codes == [401, 401, 401, 429]  # the lockout's first refusal only
    lockout = InboundLockout.objects.get(ip="10.0.0.7")
    assert lockout.refused == 51 and lockout.failures == 3


def test_failures_outside_the_window_do_not_add_up(client, inbound):
    with time_machine.travel(T0, tick=False):
        _call(client, "guess")
        _call(client, "guess")
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        assert _call(client, "guess").status_code == 401
        assert _call(client, "guess").status_code == 401
        assert _call(client, "pw-inbound-2026").status_code == 200


def test_failures_on_both_sides_of_the_first_ones_window_add_up(client, inbound):
    # The count restarted a window after the first failure: one guess, then two just before
    # that moment and three just after it were six in seconds, with a limit of three.
    with time_machine.travel(T0, tick=False):
        assert _call(client, "guess").status_code == 401
    with time_machine.travel(T0 + timedelta(minutes=9, seconds=55), tick=False):
        assert _call(client, "guess").status_code == 401
    with time_machine.travel(T0 + timedelta(minutes=10, seconds=5), tick=False):
        assert _call(client, "guess").status_code == 401
        assert _call(client, "guess").status_code == 429


def test_a_right_password_resets_the_count_and_missing_credentials_do_not_count(client, inbound):
    with time_machine.travel(T0, tick=False):
        _call(client, "guess")
        _call(client, "guess")
        assert _call(client, "pw-inbound-2026").status_code == 200
        assert not InboundLockout.objects.exists()
        _call(client, "guess")
        _call(client, "guess")
        for _ in range(5):  # a client asking for the challenge guesses nothing
            response = client.post(URL, BODY, content_type="application/json")
            assert response.status_code == 401
        assert _call(client, "pw-inbound-2026").status_code == 200


def test_behind_proxies_the_address_the_proxy_saw_counts(client, inbound, settings):
    settings.PROXY_COUNT = 1
    with time_machine.travel(T0, tick=False):
        for i in range(3):
            # The caller's own X-Forwarded-For claims change each time: ignored.
            _call(client, "guess", ip="127.0.0.1", HTTP_X_FORWARDED_FOR=f"1.1.1.{i}, 203.0.113.9")
        assert InboundLockout.objects.get().ip == "203.0.113.9"
        response = _call(
            client, "pw-inbound-2026", ip="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"
        )
        assert response.status_code == 429
        response = _call(
            client, "pw-inbound-2026", ip="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1"
        )
        assert response.status_code == 200


def test_behind_the_documented_proxy_a_strangers_guesses_lock_out_only_the_stranger(
    client, world, inbound, settings, tmp_path
):
    """deploy/production.env.example's setup: every request reaches the app from the proxy
    (REMOTE_ADDR 127.0.0.1), which appends the client's address to X-Forwarded-For. Counted
    as the proxy's address, a stranger's few guesses locked SAP MC out of its endpoints and
    maria out of the login page, for everyone."""
    from tests.test_deploy import production_env

    settings.PROXY_COUNT = int(production_env(tmp_path).get("PROXY_COUNT", "0"))
    settings.AXES_FAILURE_LIMIT = 3
    world.maria.set_password("right-pw-2026")
    world.maria.save()
    proxy = "127.0.0.1"  # REMOTE_ADDR of every request: the proxy's
    stranger, sapmc = "203.0.113.66", "198.51.100.7"

    def login(password: str, address: str):
        return client.post(
            "/login/",
            {"username": "maria", "password": password},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=address,
        )

    with time_machine.travel(T0, tick=False):
        guesses = [
            (
                _call(client, "guess", ip=proxy, HTTP_X_FORWARDED_FOR=stranger).status_code,
                login("guess", stranger).status_code,
            )
            for _ in range(3)
        ]
        assert guesses == [(401, 200), (401, 200), (401, 429)]
        assert _call(client, "guess", ip=proxy, HTTP_X_FORWARDED_FOR=stranger).status_code == 429
        # SAP MC and maria, from their own addresses, are let in.
        response = _call(client, "pw-inbound-2026", ip=proxy, HTTP_X_FORWARDED_FOR=sapmc)
        assert response.status_code == 200
        assert login("right-pw-2026", "192.0.2.10").status_code == 302


def test_a_caller_reaching_the_app_server_directly_cannot_claim_new_addresses(
    client, world, inbound, settings
):
    # Found by a security review: with PROXY_COUNT=1 every X-Forwarded-For was believed, so
    # a caller who reached gunicorn without the proxy sent a new address with each guess and
    # was never locked out, at the login page as at SAP MC's endpoints.
    settings.PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    direct = "10.20.30.40"  # not a proxy's address (PROXY_ADDRESSES: loopback)
    with time_machine.travel(T0, tick=False):
        answers = [
            _call(client, "guess", ip=direct, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
            for i in range(4)
        ]
        assert answers == [401, 401, 401, 429]
        assert list(InboundLockout.objects.values_list("ip", flat=True)) == [direct]
        logins = [
            client.post(
                "/login/",
                {"username": "maria", "password": "guess"},
                REMOTE_ADDR=direct,
                HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
            ).status_code
            for i in range(4)
        ]
        assert logins == [200, 200, 429, 429]
        # Through the proxy (its address, also as a dual-stack socket shows it) the address
        # the proxy appended counts, as before.
        for proxy in ("127.0.0.1", "::ffff:127.0.0.1"):
            response = _call(client, "pw-inbound-2026", ip=proxy, HTTP_X_FORWARDED_FOR="192.0.2.1")
            assert response.status_code == 200, proxy


def test_the_429_answer_follows_the_openapi_document(client, inbound):
    import json

    import jsonschema

    from sapmc.inbound.views import OPENAPI_PATH

    document = json.loads(OPENAPI_PATH.read_text())
    schema = {**document["components"]["schemas"]["Error"], "components": document["components"]}
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            _call(client, "guess")
        response = _call(client, "guess")
    assert response.status_code == 429
    jsonschema.validate(response.json(), schema)
    for path in ("/parameter-values", "/external-campaigns", "/campaign-success"):
        responses = document["paths"][path]["post"]["responses"]
        assert responses["429"]["$ref"] == "#/components/responses/TooManyFailures"


def test_records_of_other_addresses_are_forgotten_once_over(client, inbound, caplog):
    with time_machine.travel(T0, tick=False):
        _call(client, "guess", ip="10.0.0.1")  # one failure, never locked
        for _ in range(4):
            _call(client, "guess", ip="10.0.0.2")  # locked, one refusal counted
    assert InboundLockout.objects.count() == 2
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        _call(client, "guess", ip="10.0.0.3")
    assert list(InboundLockout.objects.values_list("ip", flat=True)) == ["10.0.0.3"]
    assert "SAP MC lockout of 10.0.0.2 ended: 1 calls refused" in caplog.text


def test_an_ipv6_caller_rotating_through_its_64_is_locked_as_one(client, inbound):
    # Found by a security review: the lockout counted per address while the call log grouped
    # a /64: a caller taking a new address of its /64 for each guess was never locked out.
    with time_machine.travel(T0, tick=False):
        answers = [_call(client, "guess", ip=f"2001:db8:5:6::{i}").status_code for i in (1, 2, 3)]
        assert answers == [401, 401, 401]
        assert _call(client, "pw-inbound-2026", ip="2001:db8:5:6:abcd::1").status_code == 429
        assert list(InboundLockout.objects.values_list("ip", flat=True)) == ["2001:db8:5:6::/64"]
        # The next /64 is another caller.
        assert _call(client, "pw-inbound-2026", ip="2001:db8:5:7::1").status_code == 200


def test_an_ipv4_caller_through_a_dual_stack_socket_is_its_ipv4_address(client, inbound):
    with time_machine.travel(T0, tick=False):
        for ip in ("192.0.2.9", "::ffff:192.0.2.9", "192.0.2.9"):
            assert _call(client, "guess", ip=ip).status_code == 401
        assert _call(client, "pw-inbound-2026", ip="::ffff:192.0.2.9").status_code == 429
    assert list(InboundLockout.objects.values_list("ip", flat=True)) == ["192.0.2.9"]
