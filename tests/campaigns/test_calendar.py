"""The calendar: bars on the right days, inclusive ends, time zones, filters, access, queries."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.access import visible_plans
from campaigns.calendar import Bar, Period, day_begins, pack, period_for
from campaigns.models import Assignment
from khoros.models import Company, Plan
from sapmc.models import ExternalCampaign
from tests.world import make_campaign, make_plan

pytestmark = pytest.mark.django_db


def bars(body: str) -> dict[str, tuple[str, str, str]]:
    """label -> (grid-column, data-start, data-end) of every bar in a rendered page."""
    found = {}
    for match in re.finditer(
        r'style="grid-column: (\d+ / \d+)[^"]*"\s+(?:href="[^"]*"\s+)?title="([^"]+?) \(\d{4}-'
        r'[^"]*"\s+data-start="([\d-]+)" data-end="([\d-]+)"',
        body,
        re.S,
    ):
        label = html.unescape(match.group(2).strip())
        found.setdefault(label, (match.group(1), match.group(3), match.group(4)))
    return found


def test_period_arithmetic():
    assert period_for("month", date(2026, 2, 14)) == Period(
        "month", date(2026, 2, 1), date(2026, 2, 28)
    )
    quarter = period_for("quarter", date(2026, 5, 20))
    assert (quarter.first, quarter.last, quarter.days) == (date(2026, 4, 1), date(2026, 6, 30), 91)
    assert period_for("year", date(2028, 1, 20)).days == 366
    assert quarter.shifted(1) == date(2026, 7, 1) and quarter.shifted(-2) == date(2025, 10, 1)
    assert period_for("month", date(2026, 12, 5)).shifted(1) == date(2027, 1, 1)


def test_bars_are_clipped_and_inclusive():
    q = period_for("quarter", date(2026, 4, 1))
    across = Bar("Across", date(2026, 1, 15), date(2026, 12, 1), q)
    assert (across.col_start, across.col_end, across.continues_before, across.continues_after) == (
        1,
        92,
        True,
        True,
    )
    one_day = Bar("One day", date(2026, 4, 3), date(2026, 4, 3), q)
    assert (one_day.col_start, one_day.col_end) == (3, 4)  # covers its whole (inclusive) day


def test_pack_stacks_overlaps_and_reuses_free_lanes():
    q = period_for("month", date(2026, 4, 1))
    a = Bar("a", date(2026, 4, 1), date(2026, 4, 10), q)
    b = Bar("b", date(2026, 4, 5), date(2026, 4, 12), q)
    c = Bar("c", date(2026, 4, 11), date(2026, 4, 20), q)
    d = Bar("d", date(2026, 4, 10), date(2026, 4, 10), q)
    lanes = pack([a, b, c, d])
    assert [[x.label for x in lane] for lane in lanes] == [["a", "c"], ["b"], ["d"]]


def test_quarter_timeline_places_campaigns_and_plans(client, world):
    client.force_login(world.admin)
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    body = client.get(
        reverse("calendar"), {"zoom": "quarter", "date": "2026-02-10"}
    ).content.decode()
    found = bars(body)
    # Spring Sale 2026: March 1 to 31 → columns 60 to 90 of Jan 1 .. Mar 31 (31 + 28 + 1 = 60).
    assert found["Spring Sale 2026"] == ("60 / 91", "2026-03-01", "2026-03-31")
    # Its Plan is drawn beneath it, inclusive end (Mar 31 covers column 90).
    assert found["Spring Sale social"][0] == "60 / 91"
    assert "Not assigned" in body and "Spring Sale video" in found  # Tom's Plan, unassigned


def test_campaign_crossing_both_ends_fills_the_period(client, world):
    ExternalCampaign.objects.bulk_create(
        [make_campaign("Long haul", date(2025, 12, 1), date(2026, 8, 1), campaign_id="900")]
    )
    client.force_login(world.admin)
    found = bars(
        client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-04-01"}).content.decode()
    )
    assert found["Long haul"] == ("1 / 92", "2025-12-01", "2026-08-01")


def test_plan_days_are_the_company_days_whoever_looks(client, world):
    # A Chicago Plan, March 8 to 14 2026 local (DST starts March 8): instants as Khoros sends them,
    # days as the Plan sync stores them. Its last instant is already the 15th in Berlin: a Berlin
    # viewer saw it end on the 15th here and on the 14th on the workbench and the campaign page.
    plan = make_plan(world.initiatives[0], "DST plan", date(2026, 3, 8), date(2026, 3, 14))
    plan.start = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 00:00 CST
    plan.end = datetime(2026, 3, 15, 4, 59, 59, 999000, tzinfo=UTC)  # 23:59:59.999 CDT on the 14th
    plan.save()
    client.force_login(world.admin)
    for viewer in ("America/Chicago", "Europe/Berlin", "Asia/Tokyo", "Pacific/Honolulu"):
        client.cookies["smcbridge_tz"] = viewer
        for params in ({"zoom": "month", "date": "2026-03-01"}, {"zoom": "quarter"}):
            page = client.get(
                reverse("calendar"), {**params, "date": "2026-03-01", "q": "DST"}
            ).content.decode()
            assert bars(page)["DST plan"][1:] == ("2026-03-08", "2026-03-14"), (viewer, params)
        listed = client.get(
            reverse("calendar-list"), {"zoom": "month", "date": "2026-03-01", "q": "DST"}
        ).content.decode()
        assert "2026-03-08" in listed and "2026-03-14" in listed and "2026-03-15" not in listed
        panel = client.get(reverse("calendar"), {"date": "2026-03-01", "panel": f"p{plan.pk}"})
        assert "2026-03-15" not in panel.content.decode(), viewer


def test_a_plan_mirrored_before_its_days_were_stored_is_drawn_in_the_company_zone(
    client, world, settings
):
    settings.KHOROS_COMPANY_TIMEZONE = "America/Chicago"
    plan = make_plan(world.initiatives[0], "Old plan", date(2026, 3, 8), date(2026, 3, 14))
    plan.start = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    plan.end = datetime(2026, 3, 15, 4, 59, 59, 999000, tzinfo=UTC)
    plan.start_day = plan.end_day = None
    plan.save()
    client.force_login(world.admin)
    client.cookies["smcbridge_tz"] = "Europe/Berlin"
    page = client.get(
        reverse("calendar"), {"zoom": "month", "date": "2026-03-01", "q": "Old"}
    ).content.decode()
    assert bars(page)["Old plan"][1:] == ("2026-03-08", "2026-03-14")
    assert "days of the Khoros company’s zone, America/Chicago" in page


def test_before_any_kpi_sync_the_calendar_counts_today_in_the_companys_zone(
    client, world, settings
):
    # The Plan sync has stored the company's zone; no KPI sync has run yet. At 05:00 UTC on
    # 18 March it is still the 17th in Los Angeles: the calendar, its list and its panels all
    # say so (the calendar read its zone from the last KPI export and fell back to UTC's 18th).
    settings.KHOROS_COMPANY_TIMEZONE = ""
    Company.objects.create(
        khoros_id=settings.KHOROS_COMPANY_ID,
        name="Acme",
        timezone="America/Los_Angeles",
        last_seen=timezone.now(),
    )
    client.force_login(world.admin)
    with time_machine.travel(datetime(2026, 3, 18, 5, tzinfo=UTC)):
        body = client.get(reverse("calendar"), {"zoom": "month"}).content.decode()
    assert 'class="day today" aria-current="date">17<' in body
    assert "days of the Khoros company’s zone, America/Los_Angeles" in body


def test_month_grid_marks_today_and_stacks_overlapping_bars(client, world):
    client.force_login(world.admin)
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC)):
        body = client.get(reverse("calendar"), {"zoom": "month"}).content.decode()
    assert 'class="day today" aria-current="date">18<' in body
    # Spring Sale 2026 and Cancelled both run all of March; removed campaigns are not drawn.
    assert "Cancelled" not in body
    assert body.count('title="Spring Sale 2026') == 6  # one segment per week row of March 2026


def test_month_grid_makes_a_bars_first_week_its_only_tab_stop(client, world):
    """A bar over several week rows is drawn once per row: only the first is a tab stop, the
    others are marked as its continuation (a keyboard tabbed through six "Spring Sale 2026")."""
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    client.force_login(world.admin)
    body = client.get(reverse("calendar"), {"zoom": "month", "date": "2026-03-01"}).content
    segments: dict[str, list[str]] = {}
    for bar in re.findall(r'<a class="bar.*?</a>', body.decode(), re.S):
        segments.setdefault(re.search(r'data-panel="(\w+)"', bar).group(1), []).append(bar)
    spring, social = f"c{world.campaigns[0].pk}", f"p{world.plans[0].pk}"
    video = f"p{world.plans[2].pk}"  # unassigned, 10 March to 10 April: 4 rows of March
    assert [len(segments[key]) for key in (spring, social, video)] == [6, 6, 4]
    for key, drawn in segments.items():
        first, *rest = drawn
        assert 'tabindex="-1"' not in first and "(continued)" not in first, key
        for bar in rest:
            assert 'tabindex="-1"' in bar, key
            assert '<span class="sr-only"> (continued)</span>' in bar, key


def test_filters_by_initiative_status_assigned_and_search(client, world):
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    client.force_login(world.admin)

    def labels(**params):
        return set(
            bars(
                client.get(
                    reverse("calendar"), {"zoom": "year", "date": "2026-01-01", **params}
                ).content.decode()
            )
        )

    assert labels(assigned="assigned") == {
        "Spring Sale 2026",
        "Summer 2026",
        "Autumn 2026",
        "Spring Sale social",
    }
    assert labels(assigned="unassigned") == {
        "Summer teaser",
        "Spring Sale video",
        "Autumn <script>alert(1)</script>",
        "Winter launch",
    }
    assert labels(status="1", assigned="assigned") == {"Autumn 2026"}
    assert labels(initiative=world.initiatives[1].pk) == {
        "Spring Sale video",
        "Autumn <script>alert(1)</script>",
    }
    assert labels(q="winter") == {"Winter launch"}
    # A campaign SAP MC names no Initiative for is under its Plans' Initiatives' filters (it
    # was under none: a manager's Plan was nowhere to be found by its Initiative).
    video = next(p for p in world.plans if p.name == "Spring Sale video")
    Assignment.objects.create(plan=video, campaign=world.campaigns[1], assigned_at=timezone.now())
    assert labels(initiative=video.initiative_id) == {
        "Summer 2026",
        "Spring Sale video",
        "Autumn <script>alert(1)</script>",
    }


def test_managers_see_only_their_initiatives(client, world):
    client.force_login(world.tom)
    found = bars(
        client.get(reverse("calendar"), {"zoom": "year", "date": "2026-01-01"}).content.decode()
    )
    assert (
        "Spring Sale video" in found
        and "Spring Sale social" not in found
        and "Winter launch" not in found
    )
    response = client.get(
        reverse("calendar"), {"zoom": "year", "initiative": world.initiatives[0].pk}
    )
    # Another manager's Initiative is not a choice: the filter is refused and named, never
    # applied, and the page draws nothing rather than Tom's own Initiatives under it.
    assert list(response.context["form"].errors) == ["initiative"]
    assert response.context["filters"].invalid
    assert bars(response.content.decode()) == {}
    assert (
        f"Initiative: Select a valid choice. {world.initiatives[0].pk} is not one of the "
        "available choices. Nothing is listed until the filters are corrected."
        in response.content.decode()
    )


def test_anonymous_and_roleless_users_are_kept_out(client, world, django_user_model):
    assert client.get(reverse("calendar")).status_code == 302
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.get(reverse("calendar")).status_code == 403


def test_htmx_navigation_returns_the_partial_with_real_links(client, world):
    client.force_login(world.admin)
    response = client.get(
        reverse("calendar"),
        {"zoom": "quarter", "date": "2026-04-01", "q": "spring"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="calendar"')
    assert 'href="/calendar/?zoom=quarter&amp;date=2026-07-01&amp;q=spring"' in body
    assert 'href="/calendar/?zoom=year&amp;date=2026-01-01&amp;q=spring"' in body


@pytest.mark.parametrize(("zoom", "day"), [("year", "2026-01-01"), ("month", "2026-09-01")])
def test_names_are_escaped(client, world, zoom, day):
    # A campaign's marks and the quotes of an attribute too.
    ExternalCampaign.objects.filter(pk=world.campaigns[0].pk).update(name='Q&A "<b>sale</b>"')
    client.force_login(world.admin)
    body = client.get(reverse("calendar"), {"zoom": zoom, "date": day}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "<b>sale</b>" not in body
    # Drawn, escaped, as its bar's text and in its title.
    autumn = "Autumn &lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<span class="bar-label">{autumn}</span>' in body
    assert f'title="{autumn} (2026-09-01 – 2026-09-30, not assigned)"' in body
    if zoom == "year":
        assert '<span class="bar-label">Q&amp;A &quot;&lt;b&gt;sale&lt;/b&gt;&quot;</span>' in body


@pytest.mark.parametrize("zoom", ["month", "quarter", "year", "days90"])
@pytest.mark.parametrize("who", ["admin", "tom"])
def test_fixed_number_of_queries_at_scale(client, world, big, zoom, who, django_assert_num_queries):
    client.force_login(getattr(world, who))
    # session, user, roles, initiatives, statuses, campaign count + page, drift x2, assignments,
    # campaigns with KPIs, the company's zone, the last KPI sync's end, unassigned Plans, the
    # user's saved views; a manager's grants are joined into the same queries. With today in
    # the period, one more: where its first campaign not ended is (the page it opens at). More
    # unassigned Plans than the lane draws: one to count them, and in a month one for the
    # weeks' counts.
    queries = 15 + 1 + (zoom == "month")
    with time_machine.travel(datetime(2026, 4, 15, 12, tzinfo=UTC), tick=False):
        with django_assert_num_queries(queries + 1):
            response = client.get(reverse("calendar"), {"zoom": zoom, "date": "2026-04-01"})
        with django_assert_num_queries(queries):
            client.get(reverse("calendar"), {"zoom": zoom, "date": "2026-04-01", "page": "1"})
    cal = response.context["cal"]
    assert len(cal.rows) == 25  # a page of campaigns, however many there are
    assert cal.page.paginator.count > 25
    assert cal.unassigned_drawn == 150
    period = cal.period
    unassigned = visible_plans(getattr(world, who)).filter(
        assignment__isnull=True, removed_at__isnull=True,
        start_day__lte=period.last, end_day__gte=period.first,
    )  # fmt: skip
    assert cal.unassigned_total == unassigned.count() > 150


def test_bars_mark_missing_and_stale_kpis(client, world):
    from khoros.models import PlanKpi
    from syncs.models import SyncRun

    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    Assignment.objects.create(
        plan=world.plans[1], campaign=world.campaigns[1], assigned_at=timezone.now()
    )
    PlanKpi.objects.create(
        plan=world.plans[1], day=date(2026, 6, 2), impressions=5, updated_at=timezone.now()
    )
    client.force_login(world.admin)
    with time_machine.travel(datetime(2026, 6, 10, 12, tzinfo=UTC)):
        SyncRun.objects.create(
            kind="khoros_kpis",
            trigger="schedule",
            status="succeeded",
            finished_at=timezone.now() - timedelta(days=2),
        )
        body = client.get(reverse("calendar"), {"zoom": "year", "date": "2026-01-01"})
        body = body.content.decode()
    spring = re.search(r'title="Spring Sale 2026 \(.*?</a>', body, re.S).group(0)
    summer = re.search(r'title="Summer 2026 \(.*?</a>', body, re.S).group(0)
    assert "no KPIs" in spring and "stale" not in spring  # ended, assigned, never had numbers
    assert "stale" in summer and "no KPIs" not in summer  # running, has numbers, sync too old


def test_no_kpi_mark_waits_until_a_plan_has_started(client, world):
    # A running campaign whose only Plan starts in June owes no numbers in March.
    Assignment.objects.create(
        plan=world.plans[1], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    client.force_login(world.admin)

    def spring_bar(when: datetime) -> str:
        with time_machine.travel(when):
            body = client.get(reverse("calendar"), {"zoom": "year", "date": "2026-01-01"})
        body = body.content.decode()
        return re.search(r'title="Spring Sale 2026 \(.*?</a>', body, re.S).group(0)

    assert "no KPIs" not in spring_bar(datetime(2026, 3, 15, 12, tzinfo=UTC))
    assert "no KPIs" in spring_bar(datetime(2026, 6, 3, 12, tzinfo=UTC))


def test_calendar_queries_use_the_day_index_and_count_kpi_flags_per_campaign(client, world, big):
    # Issue 13: the unassigned Plans were found by converting every Plan's time to a date (no
    # index), and the KPI flags came back as one row per Plan-day.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from khoros.models import Plan, PlanKpi

    plans = list(Plan.objects.filter(assignment__isnull=False)[:3])
    PlanKpi.objects.bulk_create(
        [
            PlanKpi(plan=p, day=date(2026, 1, 1) + timedelta(days=d), updated_at=timezone.now())
            for p in plans
            for d in range(30)
        ]
    )
    client.force_login(world.admin)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("calendar"), {"zoom": "month", "date": "2026-01-01"})
    kpi_sql = [q["sql"] for q in ctx.captured_queries if "khoros_plankpi" in q["sql"]]
    assert len(kpi_sql) == 1 and "EXISTS" in kpi_sql[0].upper()
    with connection.cursor() as cursor:
        cursor.execute(kpi_sql[0])
        assert len(cursor.fetchall()) <= 25  # a row per campaign shown at most
    unassigned = [
        q["sql"]
        for q in ctx.captured_queries
        if '"khoros_plan"' in q["sql"] and "IS NULL" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert unassigned and all('"start_day"' in sql for sql in unassigned)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            plan = " ".join(
                str(row[-1]) for row in cursor.execute(f"EXPLAIN QUERY PLAN {unassigned[0]}")
            )
        assert "start_day" in plan, plan  # the (start_day, end_day) index narrows the Plans


@pytest.mark.parametrize(
    ("zone", "day", "utc"),
    [
        # Midnight skipped by the clock change: the day begins at 01:00 local.
        ("America/Sao_Paulo", date(2018, 11, 4), datetime(2018, 11, 4, 3, tzinfo=UTC)),
        ("Europe/Berlin", date(2026, 3, 29), datetime(2026, 3, 28, 23, tzinfo=UTC)),
        ("Europe/Berlin", date(2026, 10, 25), datetime(2026, 10, 24, 22, tzinfo=UTC)),
        ("Asia/Kolkata", date(2026, 1, 1), datetime(2025, 12, 31, 18, 30, tzinfo=UTC)),
    ],
)
def test_day_begins_at_the_first_instant_whose_local_day_it_is(zone, day, utc):
    # The calendar and the home page compare stored times with it instead of converting every
    # row's time to the viewer's day: both must select the same rows.
    with timezone.override(ZoneInfo(zone)):
        begins = day_begins(day)
        assert begins == utc
        assert timezone.localtime(begins).date() == day
        assert timezone.localtime(begins - timedelta(microseconds=1)).date() == day - timedelta(1)


def test_search_finds_a_campaign_by_its_sap_mc_id_and_a_plan_by_its_khoros_id(client, world):
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    client.force_login(world.maria)

    def found(q: str) -> tuple[list[str], list[str]]:
        params = {"zoom": "year", "date": "2026-01-01", "q": q}
        cal = client.get(reverse("calendar"), params).context["cal"]
        unassigned = [bar.label for lane in cal.unassigned_lanes for bar in lane]
        return [row.campaign.name for row in cal.rows], unassigned

    # The SAP MC campaign ID, as on the workbench.
    assert found("101") == (["Summer 2026"], [])
    # A Plan's Khoros id (SAP MC's ExternalCampaignID): the campaign it feeds, or the Plan
    # itself while it is unassigned; with or without hyphens.
    assert found(world.plans[0].khoros_id.hex) == (["Spring Sale 2026"], [])
    assert found(str(world.plans[1].khoros_id).upper()) == ([], ["Summer teaser"])
    # tom's Plan stays out of maria's sight, by id as by name.
    assert found(world.plans[2].khoros_id.hex) == ([], [])


def test_a_period_or_search_without_campaigns_says_so(client, world):
    client.force_login(world.admin)
    searched = client.get(
        reverse("calendar"), {"zoom": "quarter", "date": "2026-02-10", "q": "no such name"}
    ).content.decode()
    assert "No campaign matches these filters in" in searched
    empty = client.get(reverse("calendar"), {"zoom": "month", "date": "2031-01-01"})
    assert 'data-testid="no-campaigns">No campaign runs in' in empty.content.decode()
    found = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-02-10"})
    assert "no-campaigns" not in found.content.decode()


def test_a_period_holding_today_opens_at_its_first_campaign_not_ended(client, world, settings):
    # Page 1 held the campaigns that ended first: in a December of 460 campaigns, page 1 drew
    # none past 5 Dec. A period with today opens where the running ones begin, as the
    # workbench does; an address with a page, or another period, keeps page 1.
    settings.KHOROS_COMPANY_TIMEZONE = "UTC"
    ExternalCampaign.objects.all().delete()
    ExternalCampaign.objects.bulk_create(
        [make_campaign(f"Early {i:02}", date(2026, 12, 1), date(2026, 12, 2), campaign_id=f"E{i}")
         for i in range(30)]
        + [make_campaign(f"Running {i:02}", date(2026, 12, 1) + timedelta(days=i % 3),
                         date(2026, 12, 31), campaign_id=f"R{i}") for i in range(30)]
        + [make_campaign("Undated", None, None, campaign_id="U1")]
    )  # fmt: skip
    client.force_login(world.admin)

    def opened(**params: str) -> tuple[int, list[str]]:
        with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
            cal = client.get(reverse("calendar"), params).context["cal"]
        return cal.page.number, [row.campaign.name for row in cal.rows]

    # By start then name: the 30 "Early" of 1 Dec come first, then "Running 00" (index 30).
    number, names = opened()
    assert number == 2
    assert names[:6] == ["Early 25", "Early 26", "Early 27", "Early 28", "Early 29", "Running 00"]
    assert opened(zoom="quarter") == (number, names)
    assert opened(page="1")[0] == 1
    assert opened(zoom="month", date="2026-11-01")[0] == 1  # November does not hold today
    # Undated campaigns come last on SQLite as on PostgreSQL.
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        cal = client.get(reverse("calendar"), {"page": "3"}).context["cal"]
    assert [r.campaign.name for r in cal.rows][-1] == "Undated"


def test_beyond_its_limit_the_unassigned_lane_draws_the_plans_not_ended_and_counts_the_rest(
    client, world, settings
):
    # The 150 earliest starts were drawn: a December whose first days' Plans had ended drew
    # none of the running ones, said "150+", and each week's "+ N more" counted only the drawn.
    settings.KHOROS_COMPANY_TIMEZONE = "UTC"
    ExternalCampaign.objects.all().delete()
    Plan.objects.all().delete()
    initiative = world.initiatives[0]
    Plan.objects.bulk_create(
        [make_plan(initiative, f"Ended {i:03}", date(2026, 12, 1), date(2026, 12, 2))
         for i in range(160)]
        + [make_plan(initiative, f"Running {i:02}", date(2026, 12, 3), date(2026, 12, 20))
           for i in range(40)]
    )  # fmt: skip
    client.force_login(world.admin)
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        response = client.get(reverse("calendar"), {"zoom": "month", "date": "2026-12-01"})
    cal = response.context["cal"]
    drawn = [bar.label for lane in cal.unassigned_lanes for bar in lane]
    assert (len(drawn), cal.unassigned_total) == (150, 200)
    assert sum(name.startswith("Running") for name in drawn) == 40
    # Every week counts every Plan it has: drawn, in its hidden lanes or beyond the limit.
    for week in cal.weeks:
        first, last = week.days[0], week.days[-1]
        has = Plan.objects.filter(start_day__lte=last, end_day__gte=first).count()
        shown = sum(len(lane) for lane in week.plan_lanes)
        assert shown + week.more_plans == has, first
    body = response.content.decode()
    assert "see them in the list" in body
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        body = client.get(reverse("calendar"), {"zoom": "quarter"}).content.decode()
    assert "150 drawn, those not ended first" in body
    assert 'href="/calendar/list/?zoom=quarter&amp;date=2026-10-01#unassigned-plans"' in body
