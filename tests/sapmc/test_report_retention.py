"""SAP MC's success reports are kept SAPMC_REPORT_DAYS after they completed (or were made, when
never completed); older ones are pruned by the housekeeping and answer UNKNOWN_REPORT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from sapmc.models import InboundReport
from sapmc.services import prune_inbound_reports
from tests.sapmc import test_api

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 31, 12, 0, tzinfo=UTC)


def report(name: str, *, made: timedelta, completed: timedelta | None) -> InboundReport:
    return InboundReport.objects.create(
        report_id=f"R{name}",
        from_date=datetime(2026, 1, 1).date(),
        to_date=datetime(2026, 1, 31).date(),
        created_at=NOW - made,
        completed_at=None if completed is None else NOW - completed,
        status=InboundReport.Status.PENDING
        if completed is None
        else InboundReport.Status.COMPLETED,
        results=None if completed is None else [],
    )


def kept() -> set[str]:
    return set(InboundReport.objects.values_list("report_id", flat=True))


@time_machine.travel(NOW, tick=False)
def test_reports_older_than_the_retention_go(settings):
    settings.SAPMC_REPORT_DAYS = 90
    report("old", made=timedelta(days=120), completed=timedelta(days=91))
    report("edge", made=timedelta(days=120), completed=timedelta(days=90))
    # Made long ago, completed lately: SAP MC may still be fetching its answer.
    report("late", made=timedelta(days=200), completed=timedelta(days=10))
    report("new", made=timedelta(days=1), completed=timedelta(hours=20))
    report("abandoned", made=timedelta(days=91), completed=None)
    report("waiting", made=timedelta(days=2), completed=None)

    assert prune_inbound_reports() == 2

    assert kept() == {"Redge", "Rlate", "Rnew", "Rwaiting"}


@time_machine.travel(NOW, tick=False)
def test_the_retention_is_a_setting(settings):
    settings.SAPMC_REPORT_DAYS = 5
    report("a", made=timedelta(days=7), completed=timedelta(days=6))
    report("b", made=timedelta(days=7), completed=timedelta(days=4))
    assert prune_inbound_reports() == 1
    assert kept() == {"Rb"}


@time_machine.travel(NOW, tick=False)
def test_a_pruned_report_answers_unknown_report(settings, client):
    settings.SAPMC_INBOUND_USER = test_api.USER
    settings.SAPMC_INBOUND_PASSWORD = test_api.PASSWORD
    settings.SAPMC_REPORT_DAYS = 90
    report("gone", made=timedelta(days=100), completed=timedelta(days=95))
    prune_inbound_reports()

    answer = test_api.poll(client, "Rgone")

    assert answer.status_code == 404
    assert "UNKNOWN_REPORT" in answer.content.decode()


def test_a_report_completed_between_the_prunings_select_and_its_delete_is_kept(monkeypatch):
    # Found by a review: the delete named only the ids it had selected, so an old report a poll
    # in another worker completed in between was deleted moments before SAP MC read its answer.
    import builtins

    from syncs import housekeeping

    with time_machine.travel(NOW, tick=False):
        old = report("pending91", made=timedelta(days=91), completed=None)

        def select_then_a_poll_completes(rows):
            pks = builtins.list(rows)
            InboundReport.objects.filter(pk=old.pk).update(
                status=InboundReport.Status.COMPLETED, completed_at=NOW, results=[]
            )
            return pks

        monkeypatch.setattr(housekeeping, "list", select_then_a_poll_completes, raising=False)
        assert prune_inbound_reports(days=90) == 0
    assert InboundReport.objects.filter(pk=old.pk).exists()


def test_a_report_pruned_while_a_poll_completes_it_is_unknown_not_a_500():
    from sapmc.inbound.http import ApiError
    from sapmc.inbound.reports import report_complete

    with time_machine.travel(NOW, tick=False):
        gone = report("gone", made=timedelta(days=91), completed=None)
        InboundReport.objects.filter(pk=gone.pk).delete()
        with pytest.raises(ApiError) as refused:
            report_complete(report=gone)
    assert (refused.value.status, refused.value.code) == (404, "UNKNOWN_REPORT")
