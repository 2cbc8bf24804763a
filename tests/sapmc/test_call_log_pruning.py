"""The inbound call log keeps SAPMC_CALL_LOG_DAYS of calls; a schedule prunes older rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django_q.models import Schedule

from sapmc.models import InboundCall
from sapmc.tasks import prune_inbound_calls_task
from syncs.schedules import declared_schedules

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 31, 12, 0, tzinfo=UTC)


def _call(at: datetime) -> InboundCall:
    return InboundCall.objects.create(
        at=at, method="GET", endpoint="campaigns", caller="sap", status_code=200
    )


@time_machine.travel(NOW, tick=False)
def test_the_task_deletes_only_calls_older_than_the_retention(settings):
    settings.SAPMC_CALL_LOG_DAYS = 30
    old = _call(NOW - timedelta(days=30, seconds=1))
    older = _call(NOW - timedelta(days=400))
    edge = _call(NOW - timedelta(days=30))
    fresh = _call(NOW - timedelta(hours=1))

    assert prune_inbound_calls_task() == "2 inbound call(s) older than the retention deleted"

    kept = set(InboundCall.objects.values_list("pk", flat=True))
    assert kept == {edge.pk, fresh.pk}
    assert not InboundCall.objects.filter(pk__in=[old.pk, older.pk]).exists()


@time_machine.travel(NOW, tick=False)
def test_the_retention_is_a_setting(settings):
    settings.SAPMC_CALL_LOG_DAYS = 2
    _call(NOW - timedelta(days=3))
    _call(NOW - timedelta(days=1))
    assert prune_inbound_calls_task().startswith("1 ")
    assert InboundCall.objects.count() == 1


def test_setup_schedules_installs_the_pruning_schedule(settings):
    settings.SAPMC_CALL_LOG_PRUNE_MINUTES = 720
    specs = {spec.name: spec for spec in declared_schedules()}
    assert specs["SAP MC call log pruning"].func == "sapmc.tasks.prune_inbound_calls_task"

    call_command("setup_schedules")

    schedule = Schedule.objects.get(name="SAP MC call log pruning")
    assert schedule.func == "sapmc.tasks.prune_inbound_calls_task"
    assert schedule.minutes == 720
    assert schedule.repeats == -1
