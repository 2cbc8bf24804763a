"""The CSV exports open in a spreadsheet with their names intact: UTF-8 with a byte order mark."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Assignment
from khoros.models import Plan
from sapmc.models import ExternalCampaign
from tests.campaigns.test_campaign_page import _kpis

pytestmark = pytest.mark.django_db

NAME = "Frühjahr “Café” → Zoë"


@pytest.fixture
def named(world):
    plan = world.plans[0]
    Plan.objects.filter(pk=plan.pk).update(name=NAME)
    plan.refresh_from_db()
    return world, plan


def _download(client, url: str, params: dict[str, str] | None = None) -> list[list[str]]:
    response = client.get(url, params or {})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    # Excel reads a CSV without the mark in the legacy code page: "FrÃ¼hjahr".
    assert body.startswith(codecs.BOM_UTF8)
    assert body.count(codecs.BOM_UTF8) == 1
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_audit_csv_starts_with_a_byte_order_mark(client, named):
    world, plan = named
    services.assignment_create(campaign=world.campaigns[0], plan=plan, acting_user=world.admin)
    client.force_login(world.admin)
    rows = _download(client, reverse("audit"), {"format": "csv"})
    assert rows[0][0] == "time"
    assert rows[1][5] == f"Assigned Plan “{NAME}” to campaign “Spring Sale 2026”"


def test_the_campaign_kpi_csv_starts_with_a_byte_order_mark(client, named):
    world, plan = named
    Assignment.objects.create(plan=plan, campaign=world.campaigns[0], assigned_at=timezone.now())

    _kpis(plan, [date(2026, 3, 1)], 7)
    client.force_login(world.maria)
    rows = _download(client, reverse("campaign-kpis-csv", args=[world.campaigns[0].pk]))
    assert rows[0][0] == "date"
    assert rows[1][:3] == ["2026-03-01", plan.khoros_id.hex, NAME]


def test_the_calendar_list_csv_starts_with_a_byte_order_mark(client, named):
    world, _ = named
    client.force_login(world.maria)
    rows = _download(
        client,
        reverse("calendar-list"),
        {"zoom": "year", "date": "2026-01-01", "assigned": "unassigned", "format": "csv"},
    )
    assert rows[0][0] == "kind"
    assert ["unassigned plan", NAME] in [r[:2] for r in rows[1:]]


@pytest.mark.parametrize(
    ("campaign_id", "disposition"),
    [
        # SAP MC's CampaignID is free text of 10 characters: a line break in a header was a 500,
        # a quote ended the file name early.
        ('A"B\r\nC;x', 'attachment; filename="smcbridge-A_B__C_x-kpis.csv"'),
        ("../..\\etc", 'attachment; filename="smcbridge-.._.._etc-kpis.csv"'),
        # Not MIME-encoded ("=?utf-8?b?...?=", which browsers save as it reads) but RFC 6266.
        (
            "Καμπάνια",
            "attachment; filename*=utf-8''smcbridge-%CE%9A%CE%B1%CE%BC%CF%80%CE%AC"
            "%CE%BD%CE%B9%CE%B1-kpis.csv",
        ),
    ],
)
def test_the_campaign_kpi_csv_is_named_safely_after_any_campaign_id(
    client, world, campaign_id, disposition
):
    campaign = world.campaigns[0]
    ExternalCampaign.objects.filter(pk=campaign.pk).update(campaign_id=campaign_id)
    client.force_login(world.maria)
    client.raise_request_exception = False

    response = client.get(reverse("campaign-kpis-csv", args=[campaign.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == disposition
