"""The campaign page: its Plans within the viewer's grants, its state, drift notice."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import PlanKpi
from sapmc.models import CampaignReference

pytestmark = pytest.mark.django_db


def test_campaign_page_lists_visible_plans_and_counts_the_others(client, world):
    spring = world.campaigns[0]
    Assignment.objects.create(
        plan=world.plans[0], campaign=spring, assigned_at=timezone.now(), assigned_by=world.maria
    )
    Assignment.objects.create(
        plan=world.plans[2], campaign=spring, assigned_at=timezone.now(), assigned_by=world.tom
    )
    client.force_login(world.maria)
    response = client.get(reverse("campaign", args=[spring.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Spring Sale social" in body and "Spring Sale video" not in body
    assert "and 1 Plan of Initiatives you cannot see." in body


def test_the_address_of_campaigns_without_a_number_leads_to_the_workbench(client, world):
    # What a person reaches by shortening /campaigns/12/: the list of campaigns, not a 404.
    assert client.get("/campaigns/")["Location"] == "/login/?next=/campaigns/"
    client.force_login(world.maria)
    response = client.get("/campaigns/")
    assert (response.status_code, response["Location"]) == (302, "/workbench/")


def test_drift_notice_links_to_the_workbench(client, world):
    spring = world.campaigns[0]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=world.plans[0].khoros_id.hex, plan=world.plans[0]
    )
    client.force_login(world.admin)
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert "differ from the references SAP MC holds" in body
    assert f"/workbench/?campaign={spring.pk}" in body


def test_campaign_page_access(client, world, django_user_model):
    url = reverse("campaign", args=[world.campaigns[0].pk])
    assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.get(url).status_code == 403
    client.force_login(world.admin)
    assert client.get(reverse("campaign", args=[999999])).status_code == 404


def _kpis(plan, days, base):
    from khoros.models import PlanKpi

    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=plan,
            day=day,
            impressions=base + i,
            engagements=10,
            clicks=2,
            reach=base,
            video_views=0,
            posts=1,
            updated_at=timezone.now(),
        )
        for i, day in enumerate(days)
    )


def test_campaign_page_charts_and_totals_cover_only_visible_plans(client, world):
    from datetime import date, timedelta

    from syncs.models import SyncRun

    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    Assignment.objects.create(plan=world.plans[2], campaign=spring, assigned_at=timezone.now())
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(5)]
    _kpis(world.plans[0], days, 100)  # Maria's
    _kpis(world.plans[2], days, 1000)  # Tom's
    SyncRun.objects.create(
        kind="khoros_kpis", trigger="schedule", status="succeeded", finished_at=timezone.now()
    )

    client.force_login(world.maria)
    response = client.get(reverse("campaign", args=[spring.pk]))
    kpis = response.context["kpis"]
    assert kpis.totals["impressions"] == 100 + 101 + 102 + 103 + 104
    assert kpis.totals["posts"] == 5
    assert len(kpis.days) == 31  # the campaign's whole March, days without numbers are zeros
    assert kpis.series["impressions"][:6] == [100, 101, 102, 103, 104, 0]
    body = response.content.decode()
    assert body.count('data-testid="chart"') == 6
    # One <path> per daily chart (not one element per day); the day's number is in the table.
    assert body.count("<path ") == 6 + 2 + 1  # daily charts, cumulative lines, one stacked Plan
    assert "<rect" not in body
    assert (
        '<tr><td class="stack-title"><time datetime="2026-03-03">2026-03-03</time></td>'
        '<td class="num" data-label="Impressions">102</td>'
    ) in body
    assert 'data-testid="kpi-stale"' not in body

    client.force_login(world.admin)
    assert (
        client.get(reverse("campaign", args=[spring.pk])).context["kpis"].totals["reach"]
        == 1000  # reach counts people: the highest daily reach, never 5 * 100 + 5 * 1000
    )


def test_stale_or_missing_kpi_sync_is_warned_about(client, world):
    from datetime import timedelta

    from syncs.models import SyncRun

    client.force_login(world.admin)
    url = reverse("campaign", args=[world.campaigns[0].pk])
    assert "No KPI sync has succeeded yet" in client.get(url).content.decode()
    SyncRun.objects.create(
        kind="khoros_kpis",
        trigger="schedule",
        status="succeeded",
        finished_at=timezone.now() - timedelta(hours=9),
    )
    body = client.get(url).content.decode()
    assert 'data-testid="kpi-stale"' in body and "older than expected" in body


def test_kpi_csv_has_one_row_per_plan_and_day_and_defuses_formulas(client, world, settings):
    from datetime import date

    spring = world.campaigns[0]
    world.plans[0].name = "=HYPERLINK(evil)"
    world.plans[0].save()
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    Assignment.objects.create(plan=world.plans[2], campaign=spring, assigned_at=timezone.now())
    _kpis(world.plans[0], [date(2026, 3, 1), date(2026, 3, 2)], 7)
    _kpis(world.plans[2], [date(2026, 3, 1)], 9)
    client.force_login(world.maria)
    response = client.get(reverse("campaign-kpis-csv", args=[spring.pk]))
    import csv
    import io

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "date",
        "external_campaign_id",
        "plan",
        "impressions",
        "engagements",
        "clicks",
        "reach",
        "video_views",
        "posts",
        "timezone",
    ]
    assert rows[1:] == [
        [
            "2026-03-01",
            world.plans[0].khoros_id.hex,
            "'=HYPERLINK(evil)",
            "7",
            "10",
            "2",
            "7",
            "0",
            "1",
            settings.TIME_ZONE,
        ],
        [
            "2026-03-02",
            world.plans[0].khoros_id.hex,
            "'=HYPERLINK(evil)",
            "8",
            "10",
            "2",
            "7",
            "0",
            "1",
            settings.TIME_ZONE,  # a day stored without its zone: the company's
        ],
    ]  # Tom's Plan is not Maria's to download


def test_chart_axis_is_round_and_bars_scale_to_it():
    from datetime import date

    from campaigns.charts import BOTTOM, HEIGHT, TOP, bar_chart

    chart = bar_chart(
        "Clicks", [(date(2026, 3, 1), 0), (date(2026, 3, 2), 37), (date(2026, 3, 3), 50)]
    )
    assert [t.label for t in chart.ticks] == ["0", "25", "50"]
    assert chart.total == 87
    plot_h = HEIGHT - TOP - BOTTOM
    assert [b.height for b in chart.bars] == [0, round(plot_h * 37 / 50, 2), plot_h]
    # Posts are counted: no tick at half a post.
    assert [t.label for t in bar_chart("Posts", [(date(2026, 3, 1), 1)]).ticks] == ["0", "1"]
    assert [t.label for t in bar_chart("Reach", [(date(2026, 3, 1), 1_234_567)]).ticks] == [
        "0",
        "1,000,000",
        "2,000,000",
    ]


def test_numbers_hidden_by_grants_are_explained_not_called_missing(client, world):
    from datetime import date

    from khoros.models import PlanKpi

    spring = world.campaigns[0]
    # Tom's Plans feed Spring Sale 2026 and have numbers; Maria may not see them.
    for plan in (world.plans[2], world.plans[3]):
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
        PlanKpi.objects.create(
            plan=plan, day=date(2026, 3, 12), impressions=700, updated_at=timezone.now()
        )
    client.force_login(world.maria)
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert "No daily numbers yet" not in body
    assert (
        "2 Plans of this campaign belong to Initiatives you are not granted; their numbers are"
        " hidden." in body
    )
    assert "700" not in body

    # With a Plan of her own that has numbers, the totals say they leave Tom's out.
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    PlanKpi.objects.create(
        plan=world.plans[0], day=date(2026, 3, 12), impressions=40, updated_at=timezone.now()
    )
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert "their numbers are hidden and not in these totals." in body

    # Tom sees his own and is told about none hidden.
    client.force_login(world.tom)
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert "1 Plan of this campaign belongs to Initiatives you are not granted; its numbers" in body


def test_kpi_days_of_the_companys_old_zone_are_said_on_the_page(client, world, settings):
    from datetime import date

    from tests.world import kpi_days_counted_in

    settings.KHOROS_COMPANY_TIMEZONE = "America/Chicago"
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    # Tokyo's March 1..3, before the company's zone became Chicago; March 4..5 Chicago's.
    kpi_days_counted_in("Asia/Tokyo", world.plans[0], date(2026, 3, 1), 3)
    kpi_days_counted_in("America/Chicago", world.plans[0], date(2026, 3, 4), 2)
    client.force_login(world.maria)

    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()

    assert (
        "3 Plan-days of these numbers were counted in the time zone the company had before its "
        "change to America/Chicago"
    ) in body

    # The calendar's panels of the campaign and of the Plan, and the CSV, say it too.
    said = "3 Plan-days of these were counted in the company's time zone before its change to"
    for key in (f"c{spring.pk}", f"p{world.plans[0].pk}"):
        panel = client.get("/calendar/panel/", {"panel": key}, headers={"HX-Request": "true"})
        assert said in panel.content.decode()
    csv_rows = b"".join(client.get(f"/campaigns/{spring.pk}/kpis.csv").streaming_content)
    zones = [line.rsplit(",", 1)[1] for line in csv_rows.decode("utf-8-sig").splitlines()]
    assert zones == ["timezone", *["Asia/Tokyo"] * 3, *["America/Chicago"] * 2]

    kpi_days_counted_in("America/Chicago", world.plans[0], date(2026, 3, 1), 3)  # counted again
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert 'data-testid="other-zone"' not in body
    panel = client.get(
        "/calendar/panel/", {"panel": f"c{spring.pk}"}, headers={"HX-Request": "true"}
    )
    assert "panel-other-zone" not in panel.content.decode()


def test_the_calendar_says_no_numbers_where_there_are_none_not_zeros(client, world):
    spring, summer = world.campaigns[0], world.campaigns[1]
    plan, quiet = world.plans[0], world.plans[1]
    Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    Assignment.objects.create(plan=quiet, campaign=summer, assigned_at=timezone.now())
    PlanKpi.objects.create(plan=plan, day=plan.start.date(), impressions=0, clicks=0,
                           engagements=0, video_views=0, reach=0, posts=1,
                           updated_at=timezone.now())  # fmt: skip
    client.force_login(world.maria)

    def panel(key: str) -> str:
        return client.get(
            "/calendar/panel/", {"panel": key}, headers={"HX-Request": "true"}
        ).content.decode()

    # A day counted with no impressions is a zero; a campaign without any day has no numbers.
    assert "No daily numbers yet." not in panel(f"c{spring.pk}")
    assert "<dd>0</dd>" in panel(f"c{spring.pk}")
    assert "No daily numbers yet." in panel(f"c{summer.pk}")
    assert "<dd>0</dd>" not in panel(f"c{summer.pk}")
    assert "No daily numbers yet." in panel(f"p{quiet.pk}")

    listing = {"zoom": "year", "date": "2026-01-01", "format": "csv"}
    rows = b"".join(client.get("/calendar/list/", listing).streaming_content)
    impressions = {
        r[1]: r[8] for r in csv.reader(io.StringIO(rows.decode("utf-8-sig"))) if r[0] == "campaign"
    }
    assert (impressions[spring.name], impressions[summer.name]) == ("0", "")
    for sort, first_to_last in (("kpis", [summer, spring]), ("-kpis", [spring, summer])):
        page = client.get("/calendar/list/", {**listing, "format": "", "sort": sort})
        names = [c.name for c in page.context["campaigns"] if c.pk in (spring.pk, summer.pk)]
        assert names == [c.name for c in first_to_last]
