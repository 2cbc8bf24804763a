"""The Khoros company's time zone: one function, one order of sources, for every caller."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from khoros.models import Company
from smcbridge.zones import zone_named

if TYPE_CHECKING:
    from khoros.client import KhorosClient

logger = logging.getLogger(__name__)


def company_zone(client: KhorosClient | None = None) -> ZoneInfo:
    """The zone the company's days (Plans' days, KPI days) are counted in.

    KHOROS_COMPANY_TIMEZONE when configured. Else, with a client (the Plan sync, the one that
    learns the zone), the API user's zone from /v2/whoami: the API exposes no company zone.
    Else (the KPI sync, pages, SAP MC's calls: never from Khoros) the zone the last Plan sync
    stored with the Plans' days, or the server's TIME_ZONE.
    An unknown name is a bad payload for a sync (it stops before a day is counted wrong) and a
    logged fallback to TIME_ZONE for a read.
    """
    from khoros import client as khoros_client

    if client is not None:
        name = settings.KHOROS_COMPANY_TIMEZONE or client.whoami().timezone
        zone = zone_named(name)
        if zone is None:
            raise khoros_client.KhorosBadPayloadError(f"Unknown time zone {name!r}")
        return zone
    stored = settings.KHOROS_COMPANY_TIMEZONE or (
        Company.objects.filter(khoros_id=settings.KHOROS_COMPANY_ID)
        .values_list("timezone", flat=True)
        .first()
    )
    return stored_company_zone(stored)


def stored_company_zone(stored: str | None) -> ZoneInfo:
    """company_zone() for a caller that read the company's stored zone itself (in a query of
    its own): KHOROS_COMPANY_TIMEZONE first, then `stored`, then TIME_ZONE."""
    stored = settings.KHOROS_COMPANY_TIMEZONE or stored
    zone = zone_named(stored or settings.TIME_ZONE)
    if zone is None:
        logger.warning("unknown company time zone %r; using %s", stored, settings.TIME_ZONE)
        return ZoneInfo(settings.TIME_ZONE)
    return zone


def company_today(zone: ZoneInfo | None = None) -> date:
    """The day it is now in the company's zone: the one "today" of every day-based figure.

    Plans' and KPIs' days are the company's, so whether a Plan or campaign is running, the days
    of a campaign so far and the calendar's today are counted against the company's today, not
    the viewer's (at 01:50 UTC on 1 Dec it is still 30 Nov in Chicago: a Plan starting on the
    1st has not started, in Tokyo as in Los Angeles). `zone` when the caller has already read
    it (stored_company_zone() of a row it read), else company_zone() (a query unless
    KHOROS_COMPANY_TIMEZONE is set). Times of day stay in the viewer's zone.
    """
    return timezone.now().astimezone(zone or company_zone()).date()
