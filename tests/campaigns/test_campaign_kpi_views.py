"""The campaign page's KPI views people read (issue 11) and its fixed cost (issue 13)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import selectors as campaigns_selectors
from campaigns.kpi_views import COMPARE_CHOICES
from campaigns.models import Assignment
from khoros.models import Plan, PlanKpi
from sapmc.models import ExternalCampaign
from tests.world import make_campaign, make_plan


def _fill(plans, days, impressions=1234):
    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=plan,
            day=day,
            impressions=impressions,
            engagements=100,
            clicks=1,
            reach=900,
            video_views=0,
            posts=1,
            updated_at=timezone.now(),
        )
        for plan in plans
        for day in days
    )


def _campaign_with(
    world, n_plans: int, n_days: int, start: date = date(2026, 1, 1)
) -> ExternalCampaign:
    campaign = ExternalCampaign.objects.bulk_create(
        [make_campaign(f"Big {n_plans}", start, start + timedelta(days=n_days - 1))]
    )[0]
    plans = Plan.objects.bulk_create(
        [
            make_plan(world.initiatives[0], f"P{n_plans}-{i}", start, start + timedelta(n_days - 1))
            for i in range(n_plans)
        ]
    )
    Assignment.objects.bulk_create(
        [Assignment(plan=p, campaign=campaign, assigned_at=timezone.now()) for p in plans]
    )
    _fill(plans, [start + timedelta(days=i) for i in range(n_days)])
    return campaign


def _queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_campaign_page_queries_are_fixed_at_90_days_and_50_plans(client, world):
    small = _campaign_with(world, 1, 1)
    big = _campaign_with(world, 50, 90)
    client.force_login(world.maria)
    few, _ = _queries(client, reverse("campaign", args=[small.pk]))
    many, body = _queries(client, reverse("campaign", args=[big.pk]))
    assert many == few
    # One path per series, no <rect>: 6 daily charts + 2 cumulative lines + the 10 Plans with
    # the most impressions stacked and the other 40 as one layer (kpi_views.STACKED_PLANS).
    assert body.count("<path ") == 6 + 2 + 10 + 1
    assert "<rect" not in body
    # And with a comparison, still fixed.
    compared, _ = _queries(client, reverse("campaign", args=[big.pk]) + f"?compare={small.pk}")
    few_compared, _ = _queries(client, reverse("campaign", args=[small.pk]) + f"?compare={big.pk}")
    assert compared == few_compared


def test_the_campaign_page_reads_the_kpi_rows_of_its_own_plans_by_their_index(client, world):
    """The campaign's days (campaign_kpi_days: its Plans' days not sent elsewhere, and days sent
    to it) are found from its few Plans: driven by the admin's visible Plans (all of them), the
    database read every Plan's KPI rows (the campaign page's SQL 5 -> 31 ms at the benchmark's
    10,000 Plans)."""
    campaign = _campaign_with(world, 2, 5)
    client.force_login(world.admin)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("campaign", args=[campaign.pk])).status_code == 200
    kpi_sql = [q["sql"] for q in ctx.captured_queries if '"khoros_plankpi"' in q["sql"]]
    assert kpi_sql
    if connection.vendor != "sqlite":
        return  # PostgreSQL's plan depends on its statistics; SQLite's on the query's shape
    plans = []
    for sql in kpi_sql:
        with connection.cursor() as cursor:
            plans.append([str(row[-1]) for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}")])
    assert not any(line.startswith("SCAN khoros_plankpi") for plan in plans for line in plan)
    # The totals and the days: each branch of the rule from its own Plans' index.
    assert sum("MULTI-INDEX OR" in plan for plan in plans) >= 2, plans


@time_machine.travel("2026-01-11 12:00:00+00:00", tick=False)
def test_thousands_separators_cumulative_and_pacing(client, world):
    campaign = _campaign_with(world, 2, 10)  # Jan 1-10, 1,234 impressions per Plan a day
    campaign.end = date(2026, 1, 20)
    campaign.save()
    client.force_login(world.admin)
    response = client.get(reverse("campaign", args=[campaign.pk]))
    body = response.content.decode()
    totals = {t.name: t.text for t in response.context["totals"]}
    assert totals["impressions"] == "24,680"  # 2 Plans x 10 days x 1,234
    assert totals["reach"] == "900"  # the highest daily reach, not 18,000
    assert 'data-testid="total-0">24,680<' in body
    assert re.search(r'class="tick"[^>]*>5,000<', body)  # axis ticks with separators too
    assert not re.search(r">\d{4,}<", body)  # no bare number of four digits or more anywhere
    pacing = response.context["pacing"]
    assert (pacing.elapsed_days, pacing.total_days, pacing.elapsed_share) == (11, 20, 55)
    assert pacing.so_far[0] == ("Impressions", "24,680", "2,244")
    assert pacing.projection[0] == ("Impressions", "44,873")
    cumulative = response.context["cumulative_chart"]
    assert [s.label for s in cumulative.series] == ["Impressions", "Engagements"]
    assert [m.label for m in cumulative.markers] == ["today"]
    assert [t.label for t in cumulative.ticks] == ["0", "25,000", "50,000"]  # top: 24,680 at day 10
    stacked = response.context["stacked_chart"]
    assert len(stacked.series) == 2 and stacked.total == 24_680


def test_axis_labels_fit_their_margin():
    from campaigns.charts import CHAR_W, bar_chart

    chart = bar_chart("Impressions", [(date(2026, 3, 1), 123_456_789)])
    widest = max(len(t.label) for t in chart.ticks)
    assert chart.ticks[-1].label == "200,000,000"
    assert chart.tick_x - widest * CHAR_W >= 0  # the longest label starts inside the picture


def test_compare_two_campaigns_aligned_by_campaign_day(client, world):
    first = _campaign_with(world, 1, 5)  # from Jan 1
    second = _campaign_with(world, 2, 3, start=date(2025, 5, 1))  # a year earlier, 2 Plans
    client.force_login(world.admin)
    response = client.get(reverse("campaign", args=[first.pk]) + f"?compare={second.pk}")
    assert response.context["compare"] == second
    chart = response.context["compare_chart"]
    assert [s.label for s in chart.series] == [first.name, second.name]
    assert [d.label for d in chart.days][0] == "day 1"
    assert [(t.name, t.summary) for t in response.context["compare_totals"]] == [
        (first.name, "6,170 impressions in its 5 days"),
        (second.name, "7,404 impressions in its 3 days"),
    ]
    assert 'data-testid="compare-chart"' in response.content.decode()


def test_a_campaign_compared_by_link_is_the_one_selected_even_if_removed(client, world):
    first = _campaign_with(world, 1, 5)
    second = _campaign_with(world, 2, 3, start=date(2025, 5, 1))
    second.removed_at = timezone.now()
    second.save()
    client.force_login(world.admin)
    page = client.get(
        reverse("campaign", args=[first.pk]) + f"?compare={second.pk}"
    ).content.decode()
    # Its chart is drawn, and the select says which campaign it is, not "Choose a campaign".
    assert 'data-testid="compare-chart"' in page
    assert (
        f'<option value="{second.pk}" selected>{second.name} (removed in SAP MC) (2025-05-01)'
    ) in page


def test_compare_with_bad_input_says_so(client, world):
    client.force_login(world.admin)
    url = reverse("campaign", args=[world.campaigns[0].pk])
    for bad in ("abc", "999999", str(world.campaigns[0].pk), "-1"):
        response = client.get(url + f"?compare={bad}")
        assert response.status_code == 200
        assert "no other campaign with that number" in response.content.decode()


def _plans_of(world, campaign, first: date, last: date, names: list[str], **extra) -> list[Plan]:
    plans = Plan.objects.bulk_create(
        [make_plan(world.initiatives[0], name, first, last, **extra) for name in names]
    )
    Assignment.objects.bulk_create(
        [Assignment(plan=p, campaign=campaign, assigned_at=timezone.now()) for p in plans]
    )
    return plans


@time_machine.travel("2026-12-01 12:00:00+00:00", tick=False)
def test_upcoming_campaign_with_earlier_plans_says_which_days_each_figure_counts(client, world):
    # A campaign from 23 Dec 2026 (87 days) fed by two Plans that ran 19 Sep-20 Oct (32 days).
    campaign = ExternalCampaign.objects.bulk_create(
        [make_campaign("Winter Launch", date(2026, 12, 23), date(2027, 3, 19))]
    )[0]
    september = [date(2026, 9, 19) + timedelta(days=i) for i in range(32)]
    plans = _plans_of(world, campaign, september[0], september[-1], ["Teaser A", "Teaser B"])
    _fill(plans, september, impressions=2_634)
    client.force_login(world.maria)
    response = client.get(reverse("campaign", args=[campaign.pk]))
    body = response.content.decode()

    # Totals: every day of its Plans (what the success push sends SAP MC), and said so.
    totals = {t.name: t.text for t in response.context["totals"]}
    assert (totals["impressions"], totals["engagements"], totals["reach"]) == (
        "168,576",  # 2 Plans x 32 days x 2,634
        "6,400",
        "900",
    )
    counted = response.context["counted"]
    assert (counted.span, counted.days, counted.outside_days) == ("19 Sep–20 Oct 2026", 32, 32)
    assert counted.outside == [("impressions", "168,576"), ("engagements", "6,400")]
    assert "Days of its Plans with numbers: 19 Sep–20 Oct 2026" in body
    assert (
        "32 of these 32 days are outside the campaign's dates (23 Dec 2026–19 Mar 2027): "
        "168,576 impressions and 6,400 engagements."
    ) in body
    # Pacing: the campaign's own days, none of which has begun.
    pacing = response.context["pacing"]
    assert (pacing.elapsed_days, pacing.total_days, pacing.starts) == (0, 87, "23 Dec 2026")
    assert pacing.so_far == [("Impressions", "0", "0"), ("Engagements", "0", "0")]
    assert pacing.projection == []
    assert "Pacing: the campaign's own days, 23 Dec 2026–19 Mar 2027" in body
    assert ">0 of 87</strong>: it starts 23 Dec 2026." in body
    assert "Impressions on campaign days so far: <strong>0</strong>" in body
    # The charts are the Plans' 32 days (not padded to today), every one of them shaded.
    kpis = response.context["kpis"]
    assert (kpis.days[0], kpis.days[-1], len(kpis.days)) == (september[0], september[-1], 32)
    impressions = response.context["charts"][0]
    assert impressions.shade.label == "days outside the campaign's dates"
    assert impressions.shade.d.count("M") == 1  # one run of days, the whole plot
    assert impressions.aria.endswith("; shaded: days outside the campaign's dates")
    assert response.context["cumulative_chart"].markers == []  # today is no day drawn
    assert response.context["stacked_chart"].shade == impressions.shade
    assert body.count('class="shade"') == 6 + 2  # daily charts, cumulative and stacked
    # The table marks each such day, and the Plans table each such Plan.
    assert body.count('<span class="muted">outside the campaign\'s dates</span></td>') == 32
    assert [a.dates_note for a in response.context["assigned"]] == [
        "outside the campaign's dates"
    ] * 2

    # The calendar's panel and list count the same days as the page's totals.
    panel = client.get(reverse("calendar") + f"?zoom=quarter&date=2026-12-23&panel=c{campaign.pk}")
    assert "<h3>KPIs of its Plans, all their days</h3>" in panel.content.decode()
    assert "<dt>Impressions</dt><dd>168,576</dd>" in panel.content.decode()
    listing = client.get(reverse("calendar-list") + "?zoom=quarter&date=2026-12-23")
    row = re.search(r"Winter Launch.*?</tr>", listing.content.decode(), re.S)
    assert row and '<td class="num" data-label="Impressions">168,576</td>' in row.group(0)


@time_machine.travel("2026-03-10 12:00:00+00:00", tick=False)
def test_running_campaign_counts_its_own_days_in_pacing_and_all_days_in_totals(client, world):
    # Campaign 1-31 March; its Plan began 26 Feb, three days early, 100 impressions a day.
    campaign = ExternalCampaign.objects.bulk_create(
        [make_campaign("March push", date(2026, 3, 1), date(2026, 3, 31))]
    )[0]
    days = [date(2026, 2, 26) + timedelta(days=i) for i in range(13)]  # 26 Feb - 10 Mar
    plans = _plans_of(world, campaign, days[0], date(2026, 3, 31), ["Early bird"])
    _fill(plans, days, impressions=100)
    client.force_login(world.maria)
    response = client.get(reverse("campaign", args=[campaign.pk]))
    body = response.content.decode()

    assert response.context["totals"][0].text == "1,300"  # all 13 days of the Plan
    counted = response.context["counted"]
    assert (counted.span, counted.days, counted.outside_days) == ("26 Feb–10 Mar 2026", 13, 3)
    assert counted.outside == [("impressions", "300"), ("engagements", "300")]
    pacing = response.context["pacing"]
    assert (pacing.elapsed_days, pacing.total_days, pacing.elapsed_share) == (10, 31, 32)
    assert pacing.so_far[0] == ("Impressions", "1,000", "100")  # 1-10 March only
    assert pacing.projection[0] == ("Impressions", "3,100")
    # Only the three February days are shaded, and only they are marked in the table.
    impressions = response.context["charts"][0]
    slot = (400 - impressions.left - 22) / 13
    assert impressions.shade.d == (
        f"M{impressions.left} 10h{round(3 * slot, 2)}v118h{-round(3 * slot, 2)}z"
    )
    assert body.count('<span class="muted">outside the campaign\'s dates</span></td>') == 3
    assert '<time datetime="2026-02-28">2026-02-28</time> <span' in body
    assert '<time datetime="2026-03-01">2026-03-01</time></td>' in body
    assert response.context["assigned"][0].dates_note == "partly outside the campaign's dates"


def test_a_campaign_within_its_dates_shades_nothing(client, world):
    campaign = _campaign_with(world, 1, 5)
    client.force_login(world.admin)
    response = client.get(reverse("campaign", args=[campaign.pk]))
    body = response.content.decode()
    assert response.context["counted"].outside_days == 0
    assert all(chart.shade is None for chart in response.context["charts"])
    assert 'class="shade"' not in body and 'data-testid="outside"' not in body
    assert response.context["assigned"][0].dates_note == ""


@time_machine.travel("2026-12-01 12:00:00+00:00", tick=False)
def test_compare_says_each_campaigns_days_and_when_it_has_no_kpis(client, world):
    # Ended, 83 days, its Plans' numbers not visible to Maria (another Initiative's Plan).
    boost = ExternalCampaign.objects.bulk_create(
        [make_campaign("Community Boost", date(2026, 6, 1), date(2026, 8, 22))]
    )[0]
    hidden = Plan.objects.bulk_create(
        [make_plan(world.initiatives[1], "Boost", date(2026, 6, 1), date(2026, 8, 22))]
    )
    Assignment.objects.create(plan=hidden[0], campaign=boost, assigned_at=timezone.now())
    _fill(hidden, [date(2026, 6, 1)])
    # Running since 22 Nov (10 of its 31 days), numbers on 4 of them and 2 days after today.
    running = ExternalCampaign.objects.bulk_create(
        [make_campaign("Holiday run", date(2026, 11, 22), date(2026, 12, 22))]
    )[0]
    plans = _plans_of(world, running, date(2026, 11, 1), date(2026, 12, 22), ["Holiday posts"])
    _fill(plans, [date(2026, 11, 1)], impressions=5_000)  # before its start: not a campaign day
    _fill(plans, [date(2026, 11, 22) + timedelta(days=i) for i in range(4)], impressions=1_000)
    # Ended, 92 days, numbers on 3 of them; and one that has not begun, with earlier numbers.
    summer = _campaign_with(world, 1, 3, start=date(2026, 6, 1))
    summer.end = date(2026, 8, 31)
    summer.save()
    upcoming = ExternalCampaign.objects.bulk_create(
        [make_campaign("Winter Launch", date(2026, 12, 23), date(2027, 3, 19))]
    )[0]
    early = _plans_of(world, upcoming, date(2026, 9, 19), date(2026, 10, 20), ["Teaser"])
    _fill(early, [date(2026, 9, 19), date(2026, 9, 20)])

    client.force_login(world.maria)
    url = reverse("campaign", args=[running.pk])

    def summaries(other: ExternalCampaign) -> list[tuple[str, str]]:
        response = client.get(url + f"?compare={other.pk}")
        return [(t.name, t.summary) for t in response.context["compare_totals"]]

    assert summaries(boost) == [
        ("Holiday run", "4,000 impressions in 10 of its 31 days so far (4 with numbers)"),
        ("Community Boost", "no KPIs yet in its 83 days"),
    ]
    assert summaries(summer)[1] == (
        summer.name,
        "3,702 impressions in its 92 days (3 with numbers)",
    )
    assert summaries(upcoming)[1] == ("Winter Launch", "no KPIs yet: it starts 23 Dec 2026")
    undated = ExternalCampaign.objects.bulk_create([make_campaign("Undated", None, None)])[0]
    assert summaries(undated)[1] == ("Undated", "no KPIs yet")
    response = client.get(url + f"?compare={upcoming.pk}")
    mine, theirs = response.context["compare_chart"].series
    assert mine.d.count(" L") == 9 and theirs.d == ""  # day 1 = 22 Nov; none for Winter Launch
    body = response.content.decode()
    assert "<strong>Winter Launch</strong>: no KPIs yet: it starts 23 Dec 2026." in body
    compared = re.search(r'data-testid="compare-totals">.*?</p>', body, re.S)
    assert compared and " 0 impressions" not in compared.group(0)


def test_a_plan_without_a_colour_is_the_same_grey_everywhere(client, world, monkeypatch):
    from campaigns import plan_colors

    campaign = _campaign_with(world, 2, 3, start=date(2026, 3, 1))
    Plan.objects.filter(assignment__campaign=campaign).update(color="")
    client.force_login(world.admin)
    page = client.get(reverse("campaign", args=[campaign.pk]))
    # Both Plans grey in the stack, as in the table (not the stack's blue, nor a palette colour).
    assert [s.color for s in page.context["stacked_chart"].series] == ["#98a2b3", "#98a2b3"]
    assert page.content.decode().count('data-style="--swatch: #98a2b3"') == 2
    # One definition: changing it changes the campaign page, the workbench and the calendar.
    monkeypatch.setattr(plan_colors, "FALLBACK", "#123456")
    page = client.get(reverse("campaign", args=[campaign.pk]))
    assert [s.color for s in page.context["stacked_chart"].series] == ["#123456", "#123456"]
    assert page.content.decode().count('data-style="--swatch: #123456"') == 2
    workbench = client.get(reverse("workbench") + f"?campaign={campaign.pk}").content.decode()
    assert workbench.count('data-style="--swatch: #123456"') == 4  # the campaign's and Plans pane
    calendar = client.get(reverse("calendar") + "?zoom=quarter&date=2026-03-01").content.decode()
    assert calendar.count("--c: #123456;") == 2
    assert "#98a2b3" not in page.content.decode() + workbench + calendar


def test_a_colour_with_a_line_break_after_it_is_no_colour(client, world):
    # "$" of the colour check matched before a final line break: Khoros's "#ffee00\n" passed as
    # a colour, whose ink (black or white) could not be read from it, so a yellow bar got white
    # text (1.2:1), and the stack took it for another colour than "#ffee00".
    campaign = _campaign_with(world, 2, 3, start=date(2026, 3, 1))
    Plan.objects.filter(assignment__campaign=campaign).update(color="#ffee00\n")
    client.force_login(world.admin)
    page = client.get(reverse("campaign", args=[campaign.pk]))
    assert [s.color for s in page.context["stacked_chart"].series] == ["#98a2b3", "#98a2b3"]
    calendar = client.get(reverse("calendar") + "?zoom=quarter&date=2026-03-01").content.decode()
    assert calendar.count("--c: #98a2b3; --ink: #000;") == 2
    assert "#ffee00" not in page.content.decode() + calendar


def test_a_plan_keeps_its_khoros_colour_unless_another_of_the_stack_has_it(client, world):
    campaign = _campaign_with(world, 3, 2, start=date(2026, 3, 1))
    plans = list(Plan.objects.filter(assignment__campaign=campaign).order_by("start", "name"))
    Plan.objects.filter(pk=plans[0].pk).update(color="#c0ffee")
    Plan.objects.filter(pk=plans[1].pk).update(color="#C0FFEE")
    Plan.objects.filter(pk=plans[2].pk).update(color="not a colour")
    client.force_login(world.admin)
    stacked = client.get(reverse("campaign", args=[campaign.pk])).context["stacked_chart"]
    assert [s.color for s in stacked.series] == ["#c0ffee", "#1a7f37", "#98a2b3"]


def test_posts_axis_has_whole_numbers_only(client, world):
    from campaigns.charts import bar_chart

    def ticks(top: int) -> list[str]:
        return [t.label for t in bar_chart("Posts", [(date(2026, 3, 1), top)]).ticks]

    assert ticks(1) == ["0", "1"]
    assert ticks(2) == ["0", "1", "2"]
    assert ticks(3) == ["0", "5"]  # was 0, 2.5, 5
    assert ticks(7) == ["0", "5", "10"]
    campaign = _campaign_with(world, 3, 4)  # 3 posts a day
    client.force_login(world.admin)
    response = client.get(reverse("campaign", args=[campaign.pk]))
    posts = response.context["charts"][5]
    assert posts.title == "Posts" and [t.label for t in posts.ticks] == ["0", "5"]
    assert not re.search(r'class="tick"[^>]*>[\d,]*\.\d', response.content.decode())


def test_compare_with_a_campaign_the_select_does_not_offer_by_its_sap_mc_id(client, world):
    first = _campaign_with(world, 1, 5)  # from Jan 1
    second = _campaign_with(world, 2, 3, start=date(2025, 5, 1))  # a year earlier
    second.campaign_id = "4711"
    second.save()
    # Hundreds of campaigns started since: the select offers the latest only.
    ExternalCampaign.objects.bulk_create(
        make_campaign(f"Later {i}", date(2026, 2, 1), date(2026, 3, 1), campaign_id=str(9000 + i))
        for i in range(COMPARE_CHOICES)
    )
    client.force_login(world.admin)
    url = reverse("campaign", args=[first.pk])
    offered = {pk for pk, _, _ in client.get(url).context["compare_choices"]}
    assert second.pk not in offered and len(offered) == COMPARE_CHOICES
    response = client.get(url, {"compare": "", "compare_id": " 4711 "})
    assert response.context["compare"] == second
    assert [(t.name, t.summary) for t in response.context["compare_totals"]][1] == (
        second.name,
        "7,404 impressions in its 3 days",
    )
    # It is selected in the select now, so that the next Compare keeps it.
    assert f'<option value="{second.pk}" selected>' in response.content.decode()
    response = client.get(url, {"compare": str(second.pk), "compare_id": "no-such-id"})
    assert response.context["compare"] is None
    assert "no other campaign with the SAP MC ID “no-such-id”" in response.content.decode()
    # The ID stays in its box, to be corrected there (it was wiped).
    assert (
        'name="compare_id" maxlength="100" size="12" autocomplete="off" value="no-such-id" '
        'aria-invalid="true"' in response.content.decode()
    )
    # Its own ID is no other campaign.
    response = client.get(url, {"compare_id": first.campaign_id})
    assert response.context["compare"] is None


def test_a_kpi_sync_between_the_pages_reads_never_stacks_a_negative_layer(
    client, world, monkeypatch, drawn_stacks
):
    campaign = _campaign_with(world, 13, 3)  # 10 Plans drawn, the other 3 in grey
    read_days = campaigns_selectors.campaign_plans_daily

    def sync_in_between(**kwargs):
        # A KPI sync commits after the page read the day totals, before the drawn Plans' days.
        PlanKpi.objects.filter(plan_id__in=kwargs["plans"]).update(
            impressions=F("impressions") + 1_000_000
        )
        return read_days(**kwargs)

    monkeypatch.setattr(campaigns_selectors, "campaign_plans_daily", sync_in_between)
    drawn = drawn_stacks
    client.force_login(world.admin)
    response = client.get(reverse("campaign", args=[campaign.pk]))
    (layers,) = drawn
    # The drawn Plans' newer numbers, and no negative grey layer that would overflow the axis.
    assert [values for _, _, values in layers[:-1]] == [[1_001_234] * 3] * 10
    assert layers[-1][0] == "Other 3 Plans" and layers[-1][2] == [0, 0, 0]
    assert response.context["stacked_chart"].total == 10 * 3 * 1_001_234


def test_the_comparison_select_names_each_campaign_escaped_with_its_start(client, world):
    first = _campaign_with(world, 1, 5)
    hostile = make_campaign('<b>"Q&A"</b>', date(2026, 2, 1), date(2026, 3, 1), campaign_id="77")
    hostile.save()
    undated = make_campaign("Open-ended", None, None, campaign_id="78")
    undated.save()
    client.force_login(world.admin)
    body = client.get(reverse("campaign", args=[first.pk])).content.decode()
    select = body[body.index('<select id="compare-select"') : body.index("</select>")]
    assert (
        f'<option value="{hostile.pk}">&lt;b&gt;&quot;Q&amp;A&quot;&lt;/b&gt; (2026-02-01)</option>'
        in select
    )
    assert f'<option value="{undated.pk}">Open-ended</option>' in select
    assert "<b>" not in select and " selected" not in select
    body = client.get(reverse("campaign", args=[first.pk]), {"compare": hostile.pk}).content
    assert f'<option value="{hostile.pk}" selected>&lt;b&gt;' in body.decode()


def test_the_compare_select_offers_campaigns_that_have_started_first(client, world):
    # The latest by start were offered: at scale 300 campaigns still to come, with nothing to
    # compare, filled the select.
    first = _campaign_with(world, 1, 5)
    ExternalCampaign.objects.bulk_create(
        make_campaign(f"Future {i}", date(2030, 1, 1), date(2030, 2, 1), campaign_id=str(8000 + i))
        for i in range(COMPARE_CHOICES)
    )
    started = make_campaign("Last spring", date(2026, 3, 1), date(2026, 4, 1), campaign_id="77")
    started.save()
    client.force_login(world.admin)
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False):
        response = client.get(reverse("campaign", args=[first.pk]))
    offered = [pk for pk, _, _ in response.context["compare_choices"]]
    assert started.pk in offered and len(offered) == COMPARE_CHOICES
    names = [name for _, name, _ in response.context["compare_choices"]]
    assert names.index("Last spring") < min(
        i for i, n in enumerate(names) if n.startswith("Future")
    )
