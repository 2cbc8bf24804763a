"""Writes of the SAP MC app that are not a sync: housekeeping of the inbound call log."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sapmc.models import InboundCall


def prune_inbound_calls(*, days: int | None = None) -> int:
    """Delete inbound calls older than `days` (SAPMC_CALL_LOG_DAYS); the number deleted."""
    keep_days = settings.SAPMC_CALL_LOG_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = InboundCall.objects.filter(at__lt=cutoff).delete()
    return deleted
