"""SAP MC's repeated calls answered from what this process kept: never an answer out of date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from khoros.models import Company, Initiative, Plan, PlanKpi
from sapmc.inbound import reports as api_reports
from tests.sapmc import test_api
from tests.sapmc.test_api import call, campaigns_of, kpi_success, new_report, poll
from tests.world import make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inbound(settings):
    settings.SAPMC_INBOUND_USER = test_api.USER
    settings.SAPMC_INBOUND_PASSWORD = test_api.PASSWORD
    settings.KHOROS_COMPANY_TIMEZONE = test_api.ZONE
    settings.SAPMC_REPORT_FRESH_MINUTES = 60
    settings.SAPMC_EXTERNAL_CAMPAIGN_URL = ""


@pytest.fixture
def company():
    return Company.objects.create(khoros_id="389", name="Acme", last_seen=timezone.now())


@pytest.fixture
def kpis(world):
    """Three days of KPIs of the Spring Plan, in the range new_report asks for."""
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=world.plans[0], day=date(2026, 3, day), impressions=day, engagements=1,
                clicks=1, reach=1, video_views=0, posts=1, updated_at=timezone.now())
        for day in (2, 3, 4)
    )  # fmt: skip
    return world


def names(client) -> list[str]:
    return [row["ExternalCampaignName"] for row in campaigns_of(client)]


def test_a_kept_campaign_list_follows_every_change_of_the_plan_sync(client, world, company):
    initiative = world.initiatives[0]
    assert names(client) == ["Spring Sale social", "Summer teaser"]
    assert names(client) == ["Spring Sale social", "Summer teaser"]  # kept, the same

    # The Plan sync writes last_seen = now on a Plan it changes (syncs.upsert.mirror_row).
    spring, summer = world.plans[0], world.plans[1]
    later = timezone.now() + timedelta(seconds=1)
    Plan.objects.filter(pk=spring.pk).update(name="Spring renamed", last_seen=later)
    assert names(client) == ["Spring renamed", "Summer teaser"]

    # ... and removed_at = now on a Plan that vanished.
    Plan.objects.filter(pk=summer.pk).update(removed_at=later + timedelta(seconds=1))
    assert names(client) == ["Spring renamed"]

    Plan.objects.bulk_create([make_plan(initiative, "Autumn", spring.start_day, spring.end_day)])
    assert names(client) == ["Autumn", "Spring renamed"]

    Initiative.objects.filter(pk=initiative.pk).update(name="Brand renamed")
    assert {r["ExternalCmpgnManagingPartyName"] for r in campaigns_of(client)} == {"Brand renamed"}
    Company.objects.filter(pk=company.pk).update(name="Acme renamed")
    assert {r["AdvertiserName"] for r in campaigns_of(client)} == {"Acme renamed"}


def test_a_moved_plan_leaves_the_kept_list_of_its_old_initiative(client, world, company):
    assert names(client) == ["Spring Sale social", "Summer teaser"]
    Plan.objects.filter(pk=world.plans[1].pk).update(
        initiative=world.initiatives[1], last_seen=timezone.now() + timedelta(seconds=1)
    )
    assert names(client) == ["Spring Sale social"]


def test_a_kept_list_costs_the_same_few_queries(client, world, company):
    campaigns_of(client)
    with CaptureQueriesContext(connection) as queries:
        campaigns_of(client)
    # The lockout, one read of the company, Initiative and Plans' fingerprint, the call log.
    assert len(queries) == 3


def test_a_completed_report_is_polled_with_few_queries_and_kept(client, kpis):
    kpi_success(timezone.now())
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    first = poll(client, report_id)
    assert poll(client, report_id).content == first.content
    with CaptureQueriesContext(connection) as queries:
        again = poll(client, report_id)
    assert again.content == first.content
    # The lockout, the report's status, the call log: the answer itself was kept.
    assert len(queries) == 3
    assert api_reports.report_get(report_id=report_id).status == "COMPLETED"


def test_an_unknown_report_is_a_404_whatever_was_kept(client, kpis):
    response = call(client, "campaign-success", {"ReportId": "R" + "x" * 20})
    assert response.status_code == 404
