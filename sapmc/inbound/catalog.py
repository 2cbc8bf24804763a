"""Reads behind SAP MC's value help and campaign list, answered from the mirror, never Khoros."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Q

from khoros import selectors as khoros_selectors
from khoros.models import Company, Initiative, Plan
from khoros.zone import (
    company_zone,  # noqa: F401 - the API reads the zone from here
    stored_company_zone,
)
from sapmc.inbound.http import json_text
from sapmc.sap_length import sap_cut
from smcbridge.db import hot_row

logger = logging.getLogger(__name__)

# SAP MC's field lengths, in UTF-16 units (sapmc.sap_length): values longer than these would not
# round-trip into SAP MC.
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
        Value(id=sap_cut(khoros_id, ID_LENGTH), name=sap_cut(name, NAME_LENGTH))
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
    return [
        Value(id=sap_cut(khoros_id, ID_LENGTH), name=sap_cut(name, NAME_LENGTH))
        for khoros_id, name in rows
    ]


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
    return sap_cut(template.replace("{plan_id}", str(plan_uuid)), URL_LENGTH) if template else ""


def external_campaigns_json(
    *, advertiser: str, managing_party: str, search: str, top: int, skip: int, now: datetime
) -> bytes:
    """The live Plans of one Initiative as SAP MC external campaigns, in a stable order: the
    bytes of `{"ExternalCampaigns": [...]}`.

    SAP MC asks for the same Initiative again and again while nothing changed, and building a
    row from each Plan (ids, dates, zone) is most of an answer's cost: an answer is kept per
    process and sent again while its key holds, that is for the same request and day while the
    company, the Initiative and the fingerprint of its Plans (_Subject) are the same.
    """
    subject = _subject(advertiser=advertiser, managing_party=managing_party)
    if subject is None or top == 0:
        return _json_bytes([])
    zone = stored_company_zone(subject.company_zone)
    key = (
        advertiser, subject.fingerprint, search, top, skip, now.astimezone(zone).date(),
        zone.key, settings.SAPMC_EXTERNAL_CAMPAIGN_URL,
    )  # fmt: skip
    answer = _answers.get(key)
    if answer is None:
        answer = _json_bytes(
            _campaign_rows(
                advertiser=advertiser,
                subject=subject,
                search=search,
                top=top,
                skip=skip,
                now=now,
                zone=zone,
            )
        )
        _answers.put(key, answer)
    return answer


def _json_bytes(campaigns: list[dict[str, Any]]) -> bytes:
    return json_text({"ExternalCampaigns": campaigns}).encode()


@dataclass(frozen=True)
class _Subject:
    """What an external-campaign answer is made of, besides the Plans' rows."""

    company_name: str  # the advertiser's
    company_zone: str | None  # the stored zone of the company the bridge serves
    initiative_pk: int
    initiative_id: str
    initiative_name: str
    # The Initiative's Plans, removed ones included: their count, the latest last_seen and the
    # latest removed_at, as one text. The Plan sync writes last_seen = now on every Plan it
    # creates, changes, moves or brings back (syncs.upsert.mirror_row) and removed_at = now on
    # every Plan that vanished, and nothing else writes Plans: any change of the answer changes
    # these.
    fingerprint: tuple[Any, ...]


@cache
def _subject_sql() -> str:
    # Every answer asks it, so it is SQL written once rather than a queryset built and
    # compiled per call (the ORM's compiling cost more than the query). One row always: the
    # advertiser's name, the served company's zone, the Initiative and its Plans' fingerprint.
    q = connection.ops.quote_name
    company, initiative, plan = (m._meta.db_table for m in (Company, Initiative, Plan))
    # The Plans' fingerprint is one text from a subquery rather than a join grouped by the
    # other columns: the grouping sorted the Initiative's Plans' joined rows on every call
    # (0.38 ms against 0.29 ms per query on PostgreSQL at 100 Plans, issue 13).
    count, seen, removed = (
        f"CAST({aggregate}(p.{q(column)}) AS TEXT)"
        for aggregate, column in (("COUNT", "id"), ("MAX", "last_seen"), ("MAX", "removed_at"))
    )
    return (
        f"SELECT a.{q('name')}, z.{q('timezone')}, i.{q('id')}, i.{q('khoros_id')}, "
        f"i.{q('name')}, (SELECT {count} || ' ' || COALESCE({seen}, '') || ' ' || "
        f"COALESCE({removed}, '') FROM {q(plan)} p WHERE p.{q('initiative_id')} = i.{q('id')}) "
        f"FROM (SELECT 1 AS one) o "
        f"LEFT JOIN {q(company)} a ON a.{q('khoros_id')} = %s "
        f"LEFT JOIN {q(company)} z ON z.{q('khoros_id')} = %s "
        f"LEFT JOIN {q(initiative)} i ON i.{q('khoros_id')} = %s "
        f"AND i.{q('removed_at')} IS NULL"
    )


def _subject(*, advertiser: str, managing_party: str) -> _Subject | None:
    """The advertiser and the live Initiative, in one query; None when either is unknown."""
    row = hot_row(_subject_sql(), [advertiser, settings.KHOROS_COMPANY_ID, managing_party])
    if row is None:  # not seen: the joins hang off one constant row
        return None
    company_name, zone_name, pk, khoros_id, name, *plans = row
    if company_name is None or pk is None:
        return None
    return _Subject(
        company_name=company_name,
        company_zone=zone_name,
        initiative_pk=pk,
        initiative_id=khoros_id,
        initiative_name=name,
        fingerprint=(company_name, pk, khoros_id, name, *plans),
    )


class AnswerCache:
    """Answers kept by this process, at most `limit_bytes` of them (the least recent go)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # gunicorn's threaded workers share one process

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            answer = self._items.get(key)
            if answer is not None:
                self._items.move_to_end(key)
            return answer

    def put(self, key: tuple[Any, ...], answer: bytes) -> None:
        if len(answer) > self.limit_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._size -= len(old) if old is not None else 0
            self._items[key] = answer
            self._size += len(answer)
            while self._size > self.limit_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


# 10,000 rows are about 3 MB: room for a few full answers and many small ones.
_answers = AnswerCache(limit_bytes=32 * 1024 * 1024)


def _campaign_rows(
    *,
    advertiser: str,
    subject: _Subject,
    search: str,
    top: int,
    skip: int,
    now: datetime,
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    # Plain values, not Plan objects: an answer may hold 10,000 rows, and the long texts and
    # Khoros's raw payload stay in the database.
    plans = Plan.objects.filter(initiative_id=subject.initiative_pk, removed_at__isnull=True)
    if search:
        match = Q(name__icontains=search)
        with contextlib.suppress(ValueError):
            match |= Q(khoros_id=uuid.UUID(hex=search))
        plans = plans.filter(match)
    today = now.astimezone(zone).date()
    advertiser_name = sap_cut(subject.company_name, NAME_LENGTH)
    initiative_name = sap_cut(subject.initiative_name, NAME_LENGTH)
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
                "ExternalCampaignName": sap_cut(name, NAME_LENGTH),
                "ExternalCampaignURL": plan_url(khoros_id),
                "Advertiser": advertiser,
                "AdvertiserName": advertiser_name,
                "ExternalCmpgnManagingParty": subject.initiative_id,
                "ExternalCmpgnManagingPartyName": initiative_name,
                "StartDate": first.isoformat(),
                "EndDate": last.isoformat(),
                "Status": plan_status(first, last, today),
            }
        )
    return answer
