"""The campaign page in a real browser: daily KPI charts, totals and the CSV link."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import PlanKpi
from syncs.models import SyncRun
from tests.browser.conftest import ARTIFACTS, cells_out_of_view, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_the_kpi_charts_of_a_campaign(live_server, world, page):
    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    PlanKpi.objects.bulk_create(
        PlanKpi(
            plan=world.plans[0],
            day=date(2026, 3, 1) + timedelta(days=i),
            impressions=1000 + 100 * i,
            engagements=50 + i,
            clicks=10,
            reach=800,
            video_views=i,
            posts=1,
            updated_at=timezone.now(),
        )
        for i in range(20)
    )
    SyncRun.objects.create(
        kind="khoros_kpis", trigger="schedule", status="succeeded", finished_at=timezone.now()
    )

    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/")
    page.get_by_role("heading", name="Daily KPIs").wait_for()

    charts = page.get_by_test_id("chart")
    assert charts.count() == 6
    # Thousands separators (issue 11); one <path> for all bars of a chart (issue 13).
    impressions = page.get_by_role("img", name="Impressions per day, 39,000 in total")
    assert impressions.is_visible()
    assert impressions.locator("rect").count() == 0
    assert impressions.locator("path").count() == 1
    bars = impressions.locator("path").get_attribute("d")
    assert bars.count("M") == 20  # the 20 days with numbers; the other 11 of March draw nothing
    reach = page.get_by_role("img", name="Reach (highest Plan's, per day); highest daily reach 800")
    assert reach.is_visible()
    assert page.get_by_test_id("total-0").inner_text() == "39,000"
    assert page.get_by_test_id("total-3").inner_text() == "800"
    assert page.get_by_test_id("kpi-stale").count() == 0
    assert page.get_by_role("link", name="Download CSV").get_attribute("href").endswith("/kpis.csv")
    screenshot(page, "campaign-kpis")


@pytest.mark.parametrize("width", [390, 1440])
def test_campaign_kpi_views_fit_the_screen_and_the_csp(live_server, world, fresh_page, width):
    """Cumulative, pacing, Plans stacked and a comparison at a phone's and a desktop's width."""
    page = fresh_page  # it adds a handler, an init script or a route
    spring, summer = world.campaigns[0], world.campaigns[1]
    for plan, campaign in ((world.plans[0], spring), (world.plans[2], spring)):
        Assignment.objects.create(plan=plan, campaign=campaign, assigned_at=timezone.now())
    Assignment.objects.create(plan=world.plans[1], campaign=summer, assigned_at=timezone.now())
    rows = []
    for k, (plan, first) in enumerate(
        (
            (world.plans[0], date(2026, 3, 1)),
            (world.plans[2], date(2026, 3, 10)),
            (world.plans[1], date(2026, 6, 1)),
        )
    ):
        for i in range(20):
            rows.append(
                PlanKpi(
                    plan=plan,
                    day=first + timedelta(days=i),
                    impressions=120_000 + 9_000 * i + 40_000 * k,
                    engagements=3_000 + 50 * i,
                    clicks=700,
                    reach=90_000 + k,
                    video_views=1_500,
                    posts=2,
                    updated_at=timezone.now(),
                )
            )
    PlanKpi.objects.bulk_create(rows)
    SyncRun.objects.create(
        kind="khoros_kpis", trigger="schedule", status="succeeded", finished_at=timezone.now()
    )
    page.set_viewport_size({"width": width, "height": 900})
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/")
    page.get_by_label("Campaign", exact=True).select_option(str(summer.pk))
    page.get_by_role("button", name="Compare").click()
    page.get_by_test_id("compare-chart").wait_for()
    assert page.get_by_test_id("pacing").is_visible()
    assert page.get_by_test_id("stacked-chart").locator("path").count() == 2
    assert page.get_by_test_id("cumulative-chart").locator("path").count() == 2
    # Nothing wider than the screen, and every axis label inside its chart.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('svg text')].filter(t => {
            const b = t.getBBox(), v = t.ownerSVGElement.viewBox.baseVal;
            return b.x < 0 || b.x + b.width > v.width + 0.5;
        }).map(t => t.textContent)"""
    )
    assert clipped == []
    assert page.locator("[style]").count() == 0 or all(
        page.locator("[style]").nth(i).get_attribute("data-style") is not None
        for i in range(page.locator("[style]").count())
    )
    assert violations == []
    screenshot(page, f"campaign-kpis-{width}")
    # What one screen of charts looks like (the full page is scaled down to view it).
    page.get_by_test_id("pacing").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, document.querySelector('.pacing').offsetHeight)")
    page.screenshot(path=str(ARTIFACTS / f"campaign-kpis-{width}-charts.png"))


def test_admin_settles_a_push_of_unknown_outcome_with_the_keyboard(live_server, world, page):
    from sapmc.models import SuccessSent

    spring = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=spring, assigned_at=timezone.now())
    entry = SuccessSent.objects.create(
        plan=world.plans[0], day=date(2026, 3, 1), campaign=spring,
        status=SuccessSent.Status.UNKNOWN, sent_at=timezone.now(), numbers_hash="x",
        message="SAP MC answered 500 to the batch",
    )  # fmt: skip

    sign_in(page, live_server.url, "alex")
    # On a phone the row's Settle buttons are on the screen, beside its Plan and day, not at
    # the end of a sideways scroll.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/")
    for name in ("is in SAP MC", "is not in SAP MC"):
        box = page.get_by_role("button", name=f"2026-03-01 of Spring Sale social {name}")
        assert box.bounding_box()["x"] + box.bounding_box()["width"] <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/")
    resend = page.get_by_role("button", name="2026-03-01 of Spring Sale social is not in SAP MC")
    resend.focus()
    page.keyboard.press("Enter")
    page.locator("main").get_by_text("as missing in SAP MC (sent next push)").wait_for()
    assert page.url.endswith(f"/campaigns/{spring.pk}/#sap-pushes")
    # The page opens at the pushes section: the message is there, in view, not at the top.
    in_view = (
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight }"
    )
    assert page.locator("#sap-pushes .messages li").evaluate(in_view)
    assert page.locator("main > .messages").is_hidden()
    assert not SuccessSent.objects.filter(pk=entry.pk).exists()
    assert page.get_by_role("button", name="Send again").count() == 0

    # Reloading shows the page as it is now and settles nothing twice.
    page.reload()
    page.get_by_role("heading", name="Sent to SAP MC").wait_for()
    assert page.get_by_role("button", name="Send again").count() == 0
    assert page.get_by_text("as missing in SAP MC").count() == 0  # the message was shown once
    screenshot(page, "campaign-push-settled")


def test_push_tables_on_a_phone_read_as_labelled_lines(live_server, world, page):
    from sapmc.models import SuccessSent

    spring = world.campaigns[0]
    plan = world.plans[0]
    Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=date(2026, 3, 1) + timedelta(days=i), impressions=100,
                updated_at=timezone.now())
        for i in range(20)
    )  # fmt: skip
    SuccessSent.objects.create(
        plan=plan, day=date(2026, 3, 1), campaign=spring, status=SuccessSent.Status.CREATED,
        sent_at=timezone.now(), numbers_hash="x",
    )  # fmt: skip

    sign_in(page, live_server.url, "alex")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/#sap-pushes")
    section = page.locator("#sap-pushes")
    section.get_by_role("heading", name="Waiting").wait_for()
    # Each date range (the second column) on one line (they broke inside the dates,
    # "2026-03-" / "02"), and nothing of the section past the screen's edge (a note ran past it).
    lines = page.evaluate(
        """() => [...document.querySelectorAll('#sap-pushes tbody td:nth-child(2)')].map(td => {
            const range = document.createRange();
            range.selectNodeContents(td);
            const tops = [...range.getClientRects()].map(r => Math.round(r.top));
            return [td.textContent.trim(), new Set(tops).size];
        })"""
    )
    assert ["2026-03-01 – 2026-03-01", 1] in lines  # sent
    assert ["2026-03-02 – 2026-03-20", 1] in lines  # waiting
    assert all(count == 1 for _, count in lines), lines
    assert section.evaluate("s => s.scrollWidth <= s.clientWidth")
    # A template comment over two lines is shown as text: none on the page.
    assert page.get_by_text("#}").count() == 0
    screenshot(page, "campaign-pushes-390")


# Every date and time the push tables print: "2026-03-01" and "2026-03-01 14:05".
DATES_ON_ONE_LINE = r"""() => {
    const found = [];
    const walker = document.createTreeWalker(
        document.querySelector('#sap-pushes'), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.textContent.matchAll(/\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?/g)) {
            const range = document.createRange();
            range.setStart(node, m.index);
            range.setEnd(node, m.index + m[0].length);
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            found.push([m[0], tops.size]);
        }
    }
    return found;
}"""


@pytest.mark.parametrize("width", [390, 1440])
def test_a_changed_after_sending_badge_never_breaks_a_date(live_server, world, page, width):
    """The badge's dates broke at their hyphens on a phone ("2026-03-" / "01"); the badge may
    take a line of its own, a date may not."""
    from sapmc.models import SuccessSent

    spring = world.campaigns[0]
    plan = world.plans[0]
    Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(12)]
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=day, impressions=100, updated_at=timezone.now()) for day in days
    )
    # Sent with other numbers than Khoros has now: every day shows as changed after sending.
    SuccessSent.objects.bulk_create(
        SuccessSent(plan=plan, day=day, campaign=spring, status=SuccessSent.Status.CREATED,
                    sent_at=timezone.now(), numbers_hash="x")
        for day in days
    )  # fmt: skip

    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/#sap-pushes")
    section = page.locator("#sap-pushes")
    badge = section.locator(".badge", has_text="changed after sending")
    badge.wait_for()
    section.scroll_into_view_if_needed()
    screenshot(page, f"campaign-pushes-changed-{width}")
    assert badge.inner_text().endswith("and 7 more days")
    dates = page.evaluate(DATES_ON_ONE_LINE)
    assert len([d for d, _ in dates if d.startswith("2026-03-0")]) >= 5  # the badge's five
    assert [d for d in dates if d[1] != 1] == []
    # The badge stays inside the screen, wrapping between its dates.
    assert section.evaluate("s => s.scrollWidth <= s.clientWidth")
    box = badge.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width


# Each cell of a table row: its label on a phone (the ::before of data-label), its text, and on
# how many lines its text is.
ROWS = r"""(table) => [...document.querySelectorAll(table + ' tbody tr')].map(tr =>
    [...tr.children].filter(td => td.getClientRects().length).map(td => {
        const tops = new Set();
        const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const range = document.createRange();
            range.selectNodeContents(node);
            for (const r of range.getClientRects()) if (r.width) tops.add(Math.round(r.bottom));
        }
        const label = getComputedStyle(td, '::before').content;
        return [label === 'none' ? '' : label.replace(/^"|"$/g, ''),
                td.textContent.trim().replace(/\s+/g, ' '), tops.size];
    }))"""


@pytest.mark.parametrize("width", [390, 1440])
def test_plans_and_daily_numbers_are_read_whole_on_a_phone(live_server, world, page, width):
    """On a phone the Plans table ran past the screen: its Days read "2026-03-01 – 2026-03" at
    the edge, its numbers were at the end of a sideways scroll nobody sees the start of. Each
    Plan (and each day of the daily table) is a block of labelled lines there, as the push
    tables are; wider, both stay tables."""
    spring = world.campaigns[0]
    social, video = world.plans[0], world.plans[2]  # video runs past the campaign's end
    for plan in (social, video):
        Assignment.objects.create(
            plan=plan, campaign=spring, assigned_at=timezone.now(), assigned_by=world.admin
        )
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=date(2026, 3, 10) + timedelta(days=i), impressions=1_234_567,
                engagements=3_000, clicks=700, reach=90_000, video_views=1_500, posts=2,
                updated_at=timezone.now())
        for plan in (social, video)
        for i in range(5)
    )  # fmt: skip
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url, "alex")
    page.goto(f"{live_server.url}/campaigns/{spring.pk}/#plans")
    page.get_by_text("The daily numbers as a table").click()
    assert cells_out_of_view(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    plans = page.evaluate(ROWS, "#plans")
    days = {row[0][1]: row for row in page.evaluate(ROWS, ".daily-table")}
    if width == 390:
        # One block per Plan: its name, then a labelled line for each column, on the screen.
        first = plans[0]
        assert first[0] == ["", "Spring Sale social", 1]
        assert first[2] == ["Days: ", "2026-03-01 – 2026-03-31", 1]
        assert first[3][0] == "Assigned by: " and first[3][1].startswith("alex, 20")
        assert first[4:] == [
            ["Impressions: ", "6,172,835", 1], ["Engagements: ", "15,000", 1],
            ["Clicks: ", "3,500", 1], ["Highest daily reach: ", "90,000", 1],
            ["Video views: ", "7,500", 1], ["Posts: ", "10", 1],
        ]  # fmt: skip
        # The note of dates outside the campaign's on a line of its own, the dates whole.
        assert plans[1][2] == [
            "Days: ", "2026-03-10 – 2026-04-10 partly outside the campaign's dates", 2
        ]  # fmt: skip
        day = days["2026-03-12"]
        assert day[0] == ["", "2026-03-12", 1]  # the date broke: "2026-" / "03-12"
        assert day[1:] == [
            ["Impressions: ", "2,469,134", 1], ["Engagements: ", "6,000", 1],
            ["Clicks: ", "1,400", 1], ["Reach (highest Plan's): ", "90,000", 1],
            ["Video views: ", "3,000", 1], ["Posts: ", "4", 1],
        ]  # fmt: skip
        assert page.locator("#plans thead").is_hidden()
    else:
        # Wide, a table as before: its header shown, a row's cells side by side, unlabelled.
        assert page.locator("#plans thead").is_visible()
        assert [cell[0] for cell in plans[0]] == [""] * 10
        assert plans[0][2] == ["", "2026-03-01 – 2026-03-31", 1]
        tops = page.evaluate(
            "[...document.querySelector('#plans tbody tr').children]"
            ".map(td => Math.round(td.getBoundingClientRect().top))"
        )
        assert len(set(tops)) == 1, tops
        assert days["2026-03-12"][1] == ["", "2,469,134", 1]
    page.locator("#plans").scroll_into_view_if_needed()
    screenshot(page, f"campaign-plans-{width}")
