"""Reads behind SAP MC's value help and campaign list, answered from the mirror, never Khoros."""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Q

from khoros import selectors as khoros_selectors
from khoros.models import Initiative, Plan
from khoros.zone import company_zone

logger = logging.getLogger(__name__)

# SAP MC's field lengths: values longer than these would not round-trip into SAP MC.
ID_LENGTH = 32
NAME_LENGTH = 255
URL_LENGTH = 1000
# The most rows one answer carries (SAP MC's package size).
MAX_ROWS = 10_000

ADVERTISER = "ADVERTISER"
MANAGING_PARTY = "EXT_CAMPAIGN_MANAGING_PARTY"
PARAMETERS = (ADVERTISER, MANAGING_PARTY)


@dataclass(frozen=True)
class Value:
    id: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"Id": self.id, "Name": self.name}


def _company_name(advertiser: str) -> str | None:
    return dict(khoros_selectors.companies()).get(advertiser)


def advertiser_values() -> list[Value]:
    """The Khoros companies the bridge serves, remembered by the plan sync."""
    return [
        Value(id=khoros_id[:ID_LENGTH], name=name[:NAME_LENGTH])
        for khoros_id, name in khoros_selectors.companies()
    ]


def managing_party_values(*, advertiser: str) -> list[Value]:
    """The live Initiatives of a known company; nothing for an unknown one."""
    if _company_name(advertiser) is None:
        return []
    rows = (
        Initiative.objects.filter(removed_at__isnull=True)
        .order_by("name", "khoros_id")
        .values_list("khoros_id", "name")
    )
    return [Value(id=khoros_id[:ID_LENGTH], name=name[:NAME_LENGTH]) for khoros_id, name in rows]


def plan_status(first: date, last: date, today: date) -> str:
    """PLANNED before the Plan's first day, COMPLETED after its last, RUNNING in between."""
    if today < first:
        return "PLANNED"
    if today > last:
        return "COMPLETED"
    return "RUNNING"


def external_campaign_id(plan_uuid: uuid.UUID) -> str:
    """A Plan's id as SAP MC stores it: the UUID's 32 hex digits, without hyphens."""
    return plan_uuid.hex


def plan_url(plan_uuid: uuid.UUID) -> str:
    template = settings.SAPMC_EXTERNAL_CAMPAIGN_URL
    # replace(), not format(): a URL may hold other braces, and format() would choke on them.
    return template.replace("{plan_id}", str(plan_uuid))[:URL_LENGTH] if template else ""


def external_campaigns(
    *, advertiser: str, managing_party: str, search: str, top: int, skip: int, now: datetime
) -> list[dict[str, Any]]:
    """The live Plans of one Initiative as SAP MC external campaigns, in a stable order."""
    company_name = _company_name(advertiser)
    if company_name is None:
        return []
    initiative = Initiative.objects.filter(
        khoros_id=managing_party, removed_at__isnull=True
    ).first()
    if initiative is None or top == 0:
        return []
    # Plain values, not Plan objects: an answer may hold 10,000 rows, and the long texts and
    # Khoros's raw payload stay in the database.
    plans = Plan.objects.filter(initiative=initiative, removed_at__isnull=True)
    if search:
        match = Q(name__icontains=search)
        with contextlib.suppress(ValueError):
            match |= Q(khoros_id=uuid.UUID(hex=search))
        plans = plans.filter(match)
    zone = company_zone()
    today = now.astimezone(zone).date()
    advertiser_name = company_name[:NAME_LENGTH]
    initiative_name = initiative.name[:NAME_LENGTH]
    rows = plans.order_by("start", "name", "khoros_id").values_list(
        "khoros_id", "name", "start", "end", "start_day", "end_day"
    )[skip : skip + top]
    answer = []
    for khoros_id, name, start, end, start_day, end_day in rows:
        # Plans mirrored before the local days existed have none: derive them the same way.
        first = start_day or start.astimezone(zone).date()
        last = end_day or end.astimezone(zone).date()
        answer.append(
            {
                "ExternalCampaignID": external_campaign_id(khoros_id),
                "ExternalCampaignName": name[:NAME_LENGTH],
                "ExternalCampaignURL": plan_url(khoros_id),
                "Advertiser": advertiser,
                "AdvertiserName": advertiser_name,
                "ExternalCmpgnManagingParty": initiative.khoros_id,
                "ExternalCmpgnManagingPartyName": initiative_name,
                "StartDate": first.isoformat(),
                "EndDate": last.isoformat(),
                "Status": plan_status(first, last, today),
            }
        )
    return answer
