"""/healthz and the dashboard banner: database, broker, stale syncs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from syncs.health import health_check
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


@contextmanager
def database_settings(**changes: str) -> Iterator[None]:
    """Reconnect the default database with `changes` to its settings, then as it was."""
    connection.close()
    saved = dict(connection.settings_dict)
    try:
        connection.settings_dict.update(changes)
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def succeed(kind: str, ago: timedelta) -> None:
    SyncRun.objects.create(
        kind=kind, trigger="schedule", status="succeeded", finished_at=timezone.now() - ago
    )


def fresh_everything() -> None:
    for kind in ("khoros_plans", "sapmc_campaigns", "khoros_kpis"):
        succeed(kind, timedelta(minutes=5))


def test_healthy_bridge_answers_200_with_details(client):
    fresh_everything()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["broker"] == "ok"
    assert body["queued_tasks"] == 0
    assert body["syncs"]["khoros_plans"]["status"] == "ok"
    assert body["syncs"]["khoros_plans"]["max_age_seconds"] == 3 * 30 * 60
    assert 290 <= body["syncs"]["khoros_plans"]["age_seconds"] <= 310


def test_stale_or_never_run_kind_answers_503(client):
    fresh_everything()
    succeed("sapmc_campaigns", timedelta(days=2))
    SyncRun.objects.filter(
        kind="sapmc_campaigns", finished_at__gt=timezone.now() - timedelta(hours=1)
    ).delete()
    SyncRun.objects.filter(kind="khoros_plans").delete()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["syncs"]["sapmc_campaigns"]["status"] == "stale"
    assert body["syncs"]["khoros_plans"]["last_success"] is None
    assert "Khoros plans sync has never succeeded." in body["problems"]


def test_unreachable_broker_answers_503():
    import redis
    from django_q.brokers.redis_broker import Redis

    fresh_everything()
    broker = Redis.__new__(Redis)
    # Made as django-q2 makes it from REDIS_URL (redis.Redis() with its own defaults retried
    # a refused connection for 3 s before the check saw it).
    broker.connection = redis.from_url("redis://127.0.0.1:9/0")
    broker.list_key = "smcbridge-health-test"
    health = health_check(broker=broker)
    assert not health.ok and health.database and not health.broker
    assert "The task broker does not answer" in str(health.problems[0])


@pytest.mark.django_db(transaction=True)
def _unreachable() -> dict[str, str]:
    """Database settings that reach no database, on either engine."""
    if connection.vendor == "sqlite":
        return {"NAME": "/nonexistent/dir/db.sqlite3"}
    return {"PORT": "9"}


def test_unreachable_database_answers_503(client):
    with database_settings(**_unreachable()):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_the_load_balancers_probe_follows_the_database_not_the_syncs(client):
    # Nothing has ever synced (and a kind could be failing): /healthz says 503 to a monitor,
    # while the pages can be served, which is all a load balancer must know.
    assert client.get("/healthz").status_code == 503
    response = client.get("/healthz/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    with database_settings(**_unreachable()):
        response = client.get("/healthz/live")
    assert (response.status_code, response.json()) == (503, {"status": "down"})


def test_dashboard_shows_a_banner_only_when_something_is_wrong(client, world):
    client.force_login(world.maria)
    body = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="health-banner"' in body and "has never succeeded" in body
    fresh_everything()
    body = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="health-banner"' not in body


def fail(kind: str, error: str) -> None:
    SyncRun.objects.create(
        kind=kind, trigger="schedule", status="failed", error=error, finished_at=timezone.now()
    )


def test_three_failed_plan_syncs_in_a_row_are_failing_not_ok(client, world):
    fresh_everything()
    fail("khoros_plans", "KhorosUnavailableError: 503")
    fail("khoros_plans", "KhorosUnavailableError: 503")
    # Two failures after a fresh success: still fresh, not yet an outage.
    assert client.get("/healthz").status_code == 200
    fail("khoros_plans", "KhorosUnavailableError: 503 on /api/v1/plans")

    client.force_login(world.admin)  # a sync admin reads the error texts
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["syncs"]["khoros_plans"]["status"] == "failing"
    assert body["syncs"]["khoros_plans"]["last_error"] == (
        "KhorosUnavailableError: 503 on /api/v1/plans"
    )
    assert body["syncs"]["sapmc_campaigns"] == {**body["syncs"]["sapmc_campaigns"], "status": "ok"}
    assert body["problems"] == [
        "Khoros plans sync is failing: its last 3 runs failed; the latest said: "
        "KhorosUnavailableError: 503 on /api/v1/plans"
    ]
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="health-banner"' in page
    assert (
        "<li>Khoros plans sync is failing: its last 3 runs failed; the latest said: "
        "KhorosUnavailableError: 503 on /api/v1/plans</li>"
    ) in page
    # A success ends the outage.
    succeed("khoros_plans", timedelta(0))
    assert client.get("/healthz").status_code == 200


def test_skipped_runs_do_not_break_a_failure_streak(client):
    fresh_everything()
    for _ in range(3):
        fail("khoros_plans", "boom")
        SyncRun.objects.create(kind="khoros_plans", trigger="schedule", status="skipped")
    assert client.get("/healthz").json()["syncs"]["khoros_plans"]["status"] == "failing"


def test_a_database_check_that_raises_answers_503_with_json(client, world, monkeypatch):
    from django.db import DatabaseError

    from syncs import health

    def broken() -> None:
        raise DatabaseError("database disk image is malformed")

    monkeypatch.setattr(health, "_check_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and body["database"] == "down"
    assert body["problems"][0] == "The database does not answer (DatabaseError)."
    # The dashboard's banner says it in the same words.
    client.force_login(world.admin)
    page = client.get(reverse("dashboard")).content.decode()
    assert "<li>The database does not answer (DatabaseError).</li>" in page


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_sqlite_file_is_not_ok(client, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("a database file is SQLite's")
    corrupted = tmp_path / "db.sqlite3"
    # Not a database: "SELECT 1" alone would still answer from it.
    corrupted.write_bytes(b"\x00garbage" * 4096)
    with database_settings(NAME=str(corrupted)):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and body["database"] == "down"
    assert body["problems"][0] == "The database does not answer (DatabaseError)."


# ---- Freshness follows the schedules as the Schedules page left them ---------------------------


def installed_schedules() -> None:
    from syncs.schedules import setup_schedules

    setup_schedules()


def set_schedule(name: str, *, minutes: int | None = None, on: bool = True) -> None:
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name=name)
    schedule.minutes = minutes or schedule.minutes
    schedule.repeats = -1 if on else 0
    schedule.save()


def test_a_longer_interval_on_the_schedules_page_gives_a_kind_longer(client):
    installed_schedules()
    fresh_everything()
    set_schedule("SAP MC campaigns", minutes=1440)  # settings say 60
    SyncRun.objects.filter(kind="sapmc_campaigns").delete()
    succeed("sapmc_campaigns", timedelta(hours=4))

    response = client.get("/healthz")

    assert response.status_code == 200
    sapmc = response.json()["syncs"]["sapmc_campaigns"]
    assert (sapmc["status"], sapmc["max_age_seconds"]) == ("ok", 3 * 1440 * 60)


def test_a_shorter_interval_goes_stale_sooner(client):
    installed_schedules()
    fresh_everything()
    set_schedule("Khoros plans", minutes=5)  # settings say 30: stale after 90 min
    SyncRun.objects.filter(kind="khoros_plans").delete()
    succeed("khoros_plans", timedelta(minutes=20))

    response = client.get("/healthz")

    assert response.status_code == 503
    plans = response.json()["syncs"]["khoros_plans"]
    assert (plans["status"], plans["max_age_seconds"]) == ("stale", 15 * 60)


def test_a_switched_off_kind_is_paused_never_stale(client, world):
    installed_schedules()
    fresh_everything()
    set_schedule("SAP MC campaigns", on=False)
    SyncRun.objects.filter(kind="sapmc_campaigns").delete()
    succeed("sapmc_campaigns", timedelta(days=3))

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["syncs"]["sapmc_campaigns"]["status"] == "paused"
    assert body["status"] == "ok" and body["problems"] == []
    client.force_login(world.admin)
    assert 'data-testid="health-banner"' not in client.get(reverse("dashboard")).content.decode()
    # Paused does not hide failures: runs started by hand that fail in a row still say so.
    for _ in range(3):
        fail("sapmc_campaigns", "SapmcUnavailableError: 503")
    assert client.get("/healthz").json()["syncs"]["sapmc_campaigns"]["status"] == "failing"


def test_freshness_reads_the_schedules_in_one_query(django_assert_num_queries):
    from syncs.health import sync_freshness

    installed_schedules()
    fresh_everything()
    # One run under a live lease, one whose lease expired: read with the last successes.
    SyncRun.begin(kind="khoros_plans", trigger="schedule")
    expired, _ = SyncRun.begin(kind="sapmc_campaigns", trigger="schedule")
    SyncRun.objects.filter(pk=expired.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    # last successes and live runs, the schedules, the last runs of each kind, when a schedule
    # was switched back on
    with django_assert_num_queries(4):
        kinds = sync_freshness()
    assert len(kinds) >= 3
    running = {k.kind: k.running for k in kinds}
    assert running["khoros_plans"] and not running["sapmc_campaigns"]
    assert not running["khoros_kpis"]
    assert all(k.last_success is not None for k in kinds)


def test_a_stale_kind_is_said_in_plain_words_and_in_the_viewers_zone(client, world):
    from datetime import UTC, datetime

    import time_machine

    with time_machine.travel(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), tick=False):
        fresh_everything()
        SyncRun.objects.filter(kind="sapmc_campaigns").update(
            finished_at=datetime(2026, 11, 30, 20, 51, tzinfo=UTC)
        )
        SyncRun.objects.filter(kind="khoros_plans").delete()

        problems = client.get("/healthz").json()["problems"]
        client.force_login(world.admin)
        client.cookies["smcbridge_tz"] = "Europe/Berlin"
        page = client.get(reverse("dashboard")).content.decode()

    assert problems == [
        "Khoros plans sync has never succeeded.",
        "SAP MC campaigns sync has not succeeded since 2026-11-30 20:51 UTC.",
    ]
    start = page.index('data-testid="health-banner"')
    banner = page[start : page.index("</div>", start)]
    assert "<li>Khoros plans sync has never succeeded.</li>" in banner
    assert (
        "<li>SAP MC campaigns sync has not succeeded since "
        '<time datetime="2026-11-30T21:51:00+01:00">2026-11-30 21:51</time>.</li>'
    ) in banner
    assert "UTC" not in banner


# ---- Error texts: for sync admins and the monitor's token, not for anyone who reaches the host --

# An upstream error as the clients record it: host, path and status line, with a marker.
LEAKY = "KhorosUnavailableError: 503 from khoros.internal.example/v2/plans LEAK-7f3a"


def failing_plans() -> None:
    fresh_everything()
    for _ in range(3):
        fail("khoros_plans", LEAKY)


def test_the_public_answer_says_what_is_down_without_any_error_text(client):
    failing_plans()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert "LEAK-7f3a" not in response.content.decode()
    assert "khoros.internal.example" not in response.content.decode()
    body = response.json()
    plans = body["syncs"]["khoros_plans"]
    assert (body["status"], plans["status"]) == ("failing", "failing")
    assert plans["last_error"] == "see the sync history"
    assert plans["age_seconds"] is not None and plans["last_success"] is not None
    assert body["syncs"]["sapmc_campaigns"]["last_error"] is None
    assert body["problems"] == [
        "Khoros plans sync is failing: its last 3 runs failed; "
        "the latest error is in the sync history."
    ]
    # The answer depends on who asks: no cache may keep it.
    assert "no-store" in response["Cache-Control"]


def test_a_signed_in_manager_gets_the_public_answer_and_banner(client, world):
    failing_plans()
    client.force_login(world.maria)

    body = client.get("/healthz").content.decode()
    page = client.get(reverse("dashboard")).content.decode()

    assert "LEAK-7f3a" not in body and "LEAK-7f3a" not in page
    assert (
        "<li>Khoros plans sync is failing: its last 3 runs failed; "
        "the latest error is in the sync history.</li>"
    ) in page


def test_a_sync_admin_gets_the_error_texts(client, world):
    failing_plans()
    client.force_login(world.admin)

    body = client.get("/healthz").json()

    assert body["syncs"]["khoros_plans"]["last_error"] == LEAKY
    assert body["problems"] == [
        f"Khoros plans sync is failing: its last 3 runs failed; the latest said: {LEAKY}"
    ]


def test_the_monitors_token_gets_the_error_texts(client, settings):
    settings.HEALTHZ_TOKEN = "monitor-token-2026"
    failing_plans()

    response = client.get("/healthz", headers={"Authorization": "Bearer monitor-token-2026"})

    assert response.status_code == 503
    assert response.json()["syncs"]["khoros_plans"]["last_error"] == LEAKY
    assert LEAKY in response.json()["problems"][0]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer monitor-token-2027", "Bearer monitor-token-202", "Basic monitor-token-2026", ""],
)
def test_a_wrong_token_gets_the_public_answer_not_a_401(client, settings, authorization):
    settings.HEALTHZ_TOKEN = "monitor-token-2026"
    failing_plans()

    response = client.get("/healthz", headers={"Authorization": authorization})

    # The monitor keeps working: it still learns ok/failing, only the texts are left out.
    assert response.status_code == 503
    assert "LEAK-7f3a" not in response.content.decode()
    assert response.json()["syncs"]["khoros_plans"]["last_error"] == "see the sync history"


def test_without_a_configured_token_no_bearer_reads_the_error_texts(client, settings):
    settings.HEALTHZ_TOKEN = ""
    failing_plans()

    response = client.get("/healthz", headers={"Authorization": "Bearer "})

    assert "LEAK-7f3a" not in response.content.decode()


def test_the_token_is_compared_in_constant_time(client, settings, monkeypatch):
    import hmac

    from syncs import access

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", compare_digest)
    settings.HEALTHZ_TOKEN = "monitor-token-2026"
    failing_plans()

    client.get("/healthz", headers={"Authorization": "Bearer monitor-token-2027"})
    client.get("/healthz", headers={"Authorization": "Bearer monitor-token-2026"})

    assert compared == [
        (b"monitor-token-2027", b"monitor-token-2026"),
        (b"monitor-token-2026", b"monitor-token-2026"),
    ]


# ---- A run under way: a shortened schedule's first run is not an outage yet -------------------


def shortened_sapmc_schedule() -> None:
    """Daily SAP MC campaigns shortened to hourly, its last success 10 hours ago."""
    installed_schedules()
    fresh_everything()
    set_schedule("SAP MC campaigns", minutes=60)
    SyncRun.objects.filter(kind="sapmc_campaigns").delete()
    succeed("sapmc_campaigns", timedelta(hours=10))


def test_an_overdue_kind_with_a_run_under_a_live_lease_is_not_stale(client, mailoutbox):
    from syncs.alerts import alerts_check

    shortened_sapmc_schedule()
    run, started = SyncRun.begin(kind="sapmc_campaigns", trigger="schedule")
    assert started and run.lease_is_live()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["syncs"]["sapmc_campaigns"]["status"] == "ok"
    assert alerts_check() == [] and mailoutbox == []


def test_an_overdue_kind_whose_run_lease_expired_is_stale(client, mailoutbox):
    from syncs.alerts import alerts_check

    shortened_sapmc_schedule()
    run, _ = SyncRun.begin(kind="sapmc_campaigns", trigger="schedule")
    # The worker died: no heartbeat renewed the lease.
    SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["syncs"]["sapmc_campaigns"]["status"] == "stale"
    assert [(s.kind, s.recovered) for s in alerts_check()] == [("sapmc_campaigns", False)]


def test_the_dashboard_s_poll_redraws_the_health_banner_with_the_runs(client, world):
    # The runs poll while one is active; the banner above them stayed "failing" after the run
    # that recovered, until the page was loaded again.
    client.force_login(world.admin)
    poll = {"HX-Request": "true", "HX-Target": "sync-runs"}
    body = client.get(reverse("dashboard"), headers=poll).content.decode()
    assert '<div id="health" hx-swap-oob="true">' in body
    assert 'data-testid="health-banner"' in body
    fresh_everything()
    body = client.get(reverse("dashboard"), headers=poll).content.decode()
    assert '<div id="health" hx-swap-oob="true">' in body
    assert 'data-testid="health-banner"' not in body
    # The page itself draws it in place, not out of band.
    page = client.get(reverse("dashboard")).content.decode()
    assert '<div id="health">' in page and "hx-swap-oob" not in page


def test_failing_in_a_row_reads_each_kinds_newest_telling_runs_whatever_came_before(settings):
    # Each kind's newest ALERT_AFTER_FAILURES runs, skipped, queued and running ones passed over,
    # chosen by the (kind, queued_at) index instead of a window numbering every run recorded.
    import random

    from syncs.health import NEUTRAL, failing_errors

    settings.ALERT_AFTER_FAILURES = 3
    rng = random.Random(13)
    kinds = ["khoros_plans", "khoros_kpis", "sapmc_campaigns"]
    # (A kind has one queued or running run at most: skipped is the neutral one here.)
    statuses = ["succeeded", "failed", "failed", "skipped", "skipped", "partial"]
    start = timezone.now() - timedelta(days=30)
    seen_failing = 0
    for case in range(12):
        SyncRun.objects.all().delete()
        runs = []
        for i in range(60):
            kind = rng.choice(kinds)
            runs.append(
                SyncRun(kind=kind, status=rng.choice(statuses), error=f"case {case} run {i}")
            )
        SyncRun.objects.bulk_create(runs)
        # Queued in the order made, some at the same instant (the id then decides).
        for i, run in enumerate(SyncRun.objects.order_by("pk")):
            SyncRun.objects.filter(pk=run.pk).update(queued_at=start + timedelta(minutes=i // 2))
        expected = {}
        for kind in kinds:
            telling = [
                r
                for r in SyncRun.objects.filter(kind=kind).order_by("-queued_at", "-pk")
                if r.status not in NEUTRAL
            ][:3]
            if len(telling) == 3 and all(r.status == "failed" for r in telling):
                expected[kind] = telling[0].error
        assert failing_errors(kinds) == expected, case
        seen_failing += len(expected)
    assert 0 < seen_failing < 36  # both answers were checked, not only one


def test_last_success_is_each_kinds_latest_finish_read_by_its_index():
    # The newest success of each kind by the (kind, status, finished_at) index, not a MAX over
    # every success ever recorded: the same answer as the MAX, whatever order runs finished in.
    import random

    from django.db.models import Max

    from syncs.health import sync_freshness

    installed_schedules()
    rng = random.Random(14)
    kinds = ["khoros_plans", "khoros_kpis", "sapmc_campaigns"]
    start = timezone.now() - timedelta(days=30)
    compared = 0
    for case in range(10):
        SyncRun.objects.all().delete()
        runs = [
            SyncRun(
                kind=rng.choice(kinds),
                status=rng.choice(["succeeded", "succeeded", "failed", "partial", "skipped"]),
                # An earlier-queued run may finish later than one queued after it.
                finished_at=start + timedelta(minutes=rng.randrange(0, 40_000)),
            )
            for _ in range(rng.randrange(0, 40))
        ]
        SyncRun.objects.bulk_create(runs)
        expected = dict(
            SyncRun.objects.filter(status="succeeded")
            .values("kind")
            .annotate(last=Max("finished_at"))
            .values_list("kind", "last")
        )
        got = {k.kind: k.last_success for k in sync_freshness() if k.kind in kinds}
        assert got == {kind: expected.get(kind) for kind in kinds}, case
        compared += sum(1 for kind in kinds if expected.get(kind) is not None)
    assert compared > 10  # kinds with a success were compared, not only empty histories
