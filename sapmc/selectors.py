"""Reads of the SAP MC side for pages: the log of SAP MC's calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from sapmc.models import InboundCall
from syncs.filtering import Filters

# Status filter -> (lowest, highest) status code it keeps.
STATUS_RANGES: dict[str, tuple[int, int]] = {
    "ok": (200, 299),
    "refused": (400, 499),
    "unauthorized": (401, 401),
    "failed": (500, 599),
}


@dataclass(frozen=True)
class InboundCallFilters(Filters):
    endpoint: str = ""
    status: str = ""
    day: date | None = None


def inbound_calls(*, filters: InboundCallFilters) -> QuerySet[InboundCall]:
    """Calls, newest first, by endpoint, status class and day (in the viewer's time zone)."""
    if filters.invalid:
        return InboundCall.objects.none()
    calls = InboundCall.objects.all()
    if filters.endpoint:
        calls = calls.filter(endpoint=filters.endpoint)
    if filters.status in STATUS_RANGES:
        low, high = STATUS_RANGES[filters.status]
        calls = calls.filter(status_code__gte=low, status_code__lte=high)
    if filters.day:
        calls = calls.filter(at__date=filters.day)
    return calls.order_by("-at", "-id")
