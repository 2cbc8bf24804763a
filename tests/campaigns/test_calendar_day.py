"""The calendar as managers use it all day: odd dates, the Initiative filter, the rolling year,
every Plan in the month grid, and Plan bars that lead somewhere."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment
from sapmc.models import CampaignReference, ExternalCampaign
from tests.campaigns.test_calendar import bars
from tests.world import make_campaign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("zoom", ["month", "quarter", "year"])
@pytest.mark.parametrize(
    ("asked", "shown", "note"),
    [
        ("9999-12-15", "2199-12-31", "showing 2199-12-31 instead of 9999-12-15"),
        ("0001-01-01", "1900-01-01", "showing 1900-01-01 instead of 0001-01-01"),
        ("2026-02-30", None, "is not a date (YYYY-MM-DD): showing today"),
    ],
)
def test_dates_out_of_range_or_wrong_give_a_clear_page(client, world, zoom, asked, shown, note):
    client.force_login(world.maria)
    response = client.get(reverse("calendar"), {"zoom": zoom, "date": asked})
    assert response.status_code == 200
    body = response.content.decode()
    assert note in body
    if shown:
        period = response.context["cal"].period
        assert period.first <= date.fromisoformat(shown) <= period.last
    # Previous and Next lead to pages that work too.
    for link in re.findall(r'rel="(?:prev|next)" href="([^"]+)"', body):
        assert client.get(link.replace("&amp;", "&")).status_code == 200


@pytest.mark.parametrize("view", ["calendar", "calendar-list"])
def test_an_unknown_zoom_says_what_is_shown_instead(client, world, view):
    client.force_login(world.maria)
    response = client.get(reverse(view), {"zoom": "decade", "date": "2026-03-05"})
    assert response.status_code == 200
    assert "“decade” is not a view of the calendar: showing the month." in (
        response.content.decode()
    )
    assert response.context["zoom"] == "month"
    assert response.context["period"].first == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"zoom": "decade"}, "“decade” is not a view of the calendar"),
        ({"date": "2026-02-30"}, "“2026-02-30” is not a date"),
        ({"date": "9999-01-01"}, "showing 2199-12-31 instead of 9999-01-01"),
    ],
)
def test_an_export_of_a_period_not_shown_as_asked_is_refused(client, world, params, said):
    client.force_login(world.maria)
    response = client.get(reverse("calendar-list"), {"format": "csv", **params})
    assert response.status_code == 400
    text = response.content.decode()
    assert text.startswith("Nothing was exported: ") and said in text
    assert client.get(reverse("calendar-list"), {"format": "csv"}).status_code == 200


def _reference(campaign: ExternalCampaign, initiative, plan=None) -> None:
    CampaignReference.objects.create(
        campaign=campaign,
        external_campaign_id=(plan.khoros_id.hex if plan else f"x{campaign.pk}"),
        plan=plan,
        managing_party=initiative.khoros_id,
    )


def test_initiative_filter_matches_a_campaign_by_its_own_initiative(client, world):
    brand, loyalty = world.initiatives[0], world.initiatives[1]
    spring, summer = world.campaigns[0], world.campaigns[1]
    # Spring Sale 2026 is a Loyalty campaign that happens to be fed by a Brand Plan;
    # Summer 2026 is a Brand campaign no Plan feeds yet.
    _reference(spring, loyalty)
    _reference(summer, brand)
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    client.force_login(world.admin)

    def campaigns(initiative) -> set[str]:
        response = client.get(
            reverse("calendar"),
            {
                "zoom": "year",
                "date": "2026-01-01",
                "initiative": initiative.pk,
                "assigned": "assigned",
            },
        )
        return {row.campaign.name for row in response.context["cal"].rows}

    assert campaigns(brand) == {"Summer 2026"}
    assert campaigns(loyalty) == {"Spring Sale 2026"}
    # Its Plans are drawn with it, whatever their Initiative.
    found = bars(
        client.get(
            reverse("calendar"),
            {
                "zoom": "year",
                "date": "2026-01-01",
                "initiative": loyalty.pk,
                "assigned": "assigned",
            },
        ).content.decode()
    )
    assert "Spring Sale social" in found


def test_year_view_is_the_twelve_months_from_the_month_of_the_date(client, world):
    ExternalCampaign.objects.bulk_create(
        [make_campaign("New Year 2027", date(2027, 1, 5), date(2027, 2, 10), campaign_id="2027")]
    )
    client.force_login(world.admin)
    response = client.get(reverse("calendar"), {"zoom": "year", "date": "2026-12-15"})
    period = response.context["cal"].period
    assert (period.first, period.last) == (date(2026, 12, 1), date(2027, 11, 30))
    body = response.content.decode()
    assert "<h1>Dec 2026 – Nov 2027</h1>" in body
    labels = re.findall(r'class="tl-month"[^>]*>([^<]+)<', body)
    assert labels[:3] == ["Dec 2026", "Jan 2027", "Feb"] and len(labels) == 12
    found = bars(body)
    assert found["New Year 2027"][1:] == ("2027-01-05", "2027-02-10")
    assert "Spring Sale 2026" not in found  # March 2026 is behind this year
    assert "Winter launch" in found  # a December 2026 Plan
    # Previous and Next move by twelve months.
    assert "date=2025-12-01" in body and "date=2027-12-01" in body


def test_month_grid_shows_assigned_plans_and_every_plan_bar_is_a_link(client, world):
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    client.force_login(world.admin)
    body = client.get(reverse("calendar"), {"zoom": "month", "date": "2026-03-01"}).content.decode()
    plan_links = {
        label: href
        for href, label in re.findall(
            r'<a class="bar plan[^"]*"\s+data-style="[^"]*" href="([^"]+)"\s+title="([^"(]+?) \(',
            body,
        )
    }
    assert plan_links["Spring Sale social"] == reverse("campaign", args=[spring.pk])
    assert plan_links["Spring Sale video"] == "/workbench/?p-q=Spring+Sale+video"
    assert "feeds Spring Sale 2026" in body
    # The timeline's Plan bars are links too.
    body = client.get(
        reverse("calendar"), {"zoom": "quarter", "date": "2026-03-01"}
    ).content.decode()
    assert re.search(
        rf'<a class="bar plan[^"]*" data-style="[^"]*" '
        rf'href="{reverse("campaign", args=[spring.pk])}"'
        r' title="Spring Sale social',
        body,
    )
    assert '<span class="bar plan' not in body
