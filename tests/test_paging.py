"""Page numbers read alike on every paged page: junk, zero and below are the first page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import AuditEvent
from sapmc.models import ExternalCampaign
from smcbridge.paging import page_number
from syncs.models import SyncRun
from tests.world import make_campaign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "number"),
    [(None, 1), ("", 1), ("3", 3), (" 2 ", 2), ("0", 1), ("-3", 1), ("abc", 1), ("²", 1),
     ("1e3", 1), (7, 7)],
)  # fmt: skip
def test_page_number(value, number):
    assert page_number(value) == number


def test_zero_or_a_negative_page_is_the_first_on_every_paged_page(client, world):
    # Django's get_page() answered "0" and "-3" with the LAST page (its EmptyPage), "abc" with
    # the first: the calendar list, a campaign's Plans, the audit, the history and SAP MC's
    # calls each did so.
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(at=now - timedelta(minutes=i), actor=world.admin, actor_name="admin",
                   action="assignment.create", summary=f"event {i}")
        for i in range(60)
    )  # fmt: skip
    SyncRun.objects.bulk_create(
        SyncRun(kind="khoros_plans", trigger="schedule", status="succeeded",
                finished_at=now - timedelta(minutes=i))
        for i in range(60)
    )  # fmt: skip
    ExternalCampaign.objects.bulk_create(
        make_campaign(f"Many {i:03}", date(2026, 4, 1), date(2026, 4, 30), campaign_id=f"M{i}")
        for i in range(120)
    )
    client.force_login(world.admin)
    pages = [
        (reverse("audit"), "page", "page"),
        (reverse("sync-history"), "page", "page"),
        (reverse("calendar-list") + "?zoom=month&date=2026-04-01", "page", "campaign_page"),
    ]
    for url, param, context_name in pages:
        joiner = "&" if "?" in url else "?"
        for value in ("0", "-3"):
            page = client.get(f"{url}{joiner}{param}={value}").context[context_name]
            assert page.paginator.num_pages > 1, url
            assert page.number == 1, (url, value)
        last = client.get(f"{url}{joiner}{param}=999").context[context_name]
        assert last.number == last.paginator.num_pages, url
