"""`manage.py first_syncs`, the deployment's step after setup_schedules: every enabled kind syncs
now, so that the first alert check finds them fresh instead of "never succeeded"."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from syncs.health import health_check
from syncs.models import SyncRun
from tests.conftest import run_queued_tasks

pytestmark = pytest.mark.django_db

SCHEDULED = ["khoros_kpis", "khoros_plans", "sapmc_campaigns"]


@pytest.fixture(autouse=True)
def quick_exports(settings):
    settings.KHOROS_EXPORT_POLL_BASE = 0.0


def runs() -> list[tuple[str, str, str]]:
    return sorted(SyncRun.objects.values_list("kind", "status", "trigger"))


def test_every_enabled_kind_syncs_now_and_health_has_nothing_to_say(live_sapmc):
    call_command("setup_schedules", stdout=StringIO())
    out = StringIO()

    call_command("first_syncs", stdout=out, stderr=StringIO())

    assert runs() == [(kind, "succeeded", "command") for kind in SCHEDULED]
    assert "Khoros plans sync #" in out.getvalue() and " succeeded: " in out.getvalue()
    health = health_check()
    assert [str(p) for p in health.problems] == [] and health.ok


def test_the_success_push_is_left_to_the_engine_after_the_kpi_sync(live_sapmc, settings):
    settings.SAPMC_SUCCESS_PUSH_ENABLED = True
    out = StringIO()

    call_command("first_syncs", stdout=out, stderr=StringIO())

    # Run once, not twice: the KPI sync's success requested it (the worker runs it).
    assert SyncRun.objects.filter(kind="sapmc_success_push").count() == 1
    assert SyncRun.objects.get(kind="sapmc_success_push").trigger == "follow_up"
    assert (
        "SAP MC success push: requested by the engine after the Khoros KPIs sync succeeds"
        in out.getvalue()
    )


def test_a_kind_that_fails_does_not_stop_the_others_and_the_command_fails(live_sapmc, settings):
    settings.KHOROS_BASE_URL = "http://127.0.0.1:9/v2"  # Khoros does not answer; SAP MC does
    settings.KHOROS_MAX_RETRIES = 0
    err = StringIO()

    with pytest.raises(CommandError, match="Khoros plans, Khoros KPIs did not succeed"):
        call_command("first_syncs", stdout=StringIO(), stderr=err)

    assert runs() == [
        ("khoros_kpis", "failed", "command"),
        ("khoros_plans", "failed", "command"),
        ("sapmc_campaigns", "succeeded", "command"),
    ]
    assert "Khoros plans sync #" in err.getvalue()


@pytest.mark.django_db(transaction=True)  # the request is queued once committed, for real
def test_queue_hands_the_runs_to_the_worker(live_sapmc):
    out = StringIO()

    call_command("first_syncs", "--queue", stdout=out)

    assert runs() == [(kind, "queued", "command") for kind in SCHEDULED]
    assert "Khoros plans sync #" in out.getvalue() and " queued" in out.getvalue()
    # Asked again before the worker ran them: the same runs, none queued twice.
    call_command("first_syncs", "--queue", stdout=(again := StringIO()))
    assert "already queued" in again.getvalue() and SyncRun.objects.count() == 3
    ran = 0
    for _ in range(5):  # the worker's pass takes what the broker hands it at once
        ran += run_queued_tasks()
    assert ran == 3
    assert {status for _, status, _ in runs()} == {"succeeded"}
