"""Writes of the SAP MC app that are not a sync: housekeeping of the call log and the reports."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from sapmc.models import InboundCall, InboundReport
from syncs.housekeeping import delete_in_batches


def prune_inbound_calls(*, days: int | None = None) -> int:
    """Delete inbound calls older than `days` (SAPMC_CALL_LOG_DAYS); the number deleted."""
    keep_days = settings.SAPMC_CALL_LOG_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = InboundCall.objects.filter(at__lt=cutoff).delete()
    return deleted


def prune_inbound_reports(*, days: int | None = None) -> int:
    """Delete SAP MC's success reports completed more than `days` (SAPMC_REPORT_DAYS) ago, and
    those never completed that were made that long ago; the number deleted.

    SAP MC asks for a report until it completes (a 202 says PENDING) and starts a new one on
    its next round (every 4 hours for running campaigns): a completed report is asked for again
    only while its answer is on its way. One deleted answers 404 UNKNOWN_REPORT, after which
    SAP MC's next call without a ReportId makes a new report.
    """
    keep_days = settings.SAPMC_REPORT_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    old = InboundReport.objects.filter(
        Q(completed_at__lt=cutoff) | Q(completed_at__isnull=True, created_at__lt=cutoff)
    )
    return delete_in_batches(old)
