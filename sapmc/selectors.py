"""Reads of the SAP MC side for pages: the log of SAP MC's calls, the success push's ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery

from sapmc.models import ExternalCampaign, InboundCall, SuccessSent
from smcbridge.zones import day_span
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
        # The day in the viewer's zone, as a range of instants the index on `at` serves.
        since, until = day_span(filters.day, filters.day)
        if since is not None:
            calls = calls.filter(at__gte=since)
        if until is not None:
            calls = calls.filter(at__lt=until)
    return calls.order_by("-at", "-id")


UNKNOWN = SuccessSent.Status.UNKNOWN


def campaigns_with_pushes_of_unknown_outcome(*, limit: int = 10) -> list[ExternalCampaign]:
    """Campaigns with success-push rows whose outcome is unknown (SAP MC may hold them), most
    first, each with `unknown`: how many. Nothing sends them again until a sync admin settles
    them on the campaign page, so a push run after them succeeds while they wait."""
    # Only the rows of unknown outcome are read (the ledger's partial index on them): the
    # campaigns that have some, and how many each, counted per campaign in the index. Joining
    # those campaigns to all their ledger rows read every day they were ever sent.
    waiting = SuccessSent.objects.filter(status=UNKNOWN).order_by()
    count = (
        waiting.filter(campaign_id=OuterRef("pk"))
        .values("campaign_id")
        .annotate(rows=Count("campaign_id"))
        .values("rows")
    )
    return list(
        ExternalCampaign.objects.filter(pk__in=waiting.values("campaign_id"))
        .annotate(unknown=Subquery(count, output_field=IntegerField()))
        .order_by("-unknown", "name", "pk")[:limit]
    )


def campaign_names(pks: Iterable[int]) -> dict[int, str]:
    """The campaigns' names as the pages show them, by id (one query)."""
    return {
        c.pk: c.display_name
        for c in ExternalCampaign.objects.filter(pk__in=list(pks)).only(
            "pk", "name", "campaign_id", "sap_uuid"
        )
    }
