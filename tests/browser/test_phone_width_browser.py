"""Every page at 390 px (a phone): no horizontal scrolling of the page; screenshots to look at."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent, SavedView
from khoros.models import Plan, PlanKpi
from sapmc.models import InboundCall, SuccessSent
from syncs.models import Notification, SyncRun
from tests.browser.conftest import cells_out_of_view, login, screenshot, sign_in
from tests.world import make_campaign, make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390
LONG = "X" * 255  # an unbroken 255-character name, the longest a Plan name column holds


# What sticks out of its card's right edge (a card clips nothing, so it would run over the
# edge or be cut off by the screen). Tables are checked apart, cell by cell (cells_out_of_view).
STICKING_OUT = """() => {
  const scrolled = (el, card) => {
    for (let up = el.parentElement; up && up !== card; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  return [...document.querySelectorAll('.card')].flatMap(card => {
    const edge = card.getBoundingClientRect().right + 1;
    return [...card.querySelectorAll('*')]
        .filter(el => el.getBoundingClientRect().right > edge && !el.closest('table')
                      && !scrolled(el, card))
        .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
             + ': ' + (el.textContent || '').trim().slice(0, 40));
  });
}"""


# Names in table cells split inside a word that fits on a line of its cell (a column squeezed
# to a few letters read "Holi / day / Push / 7"). A word longer than the line (255 letters
# without a space) can only wrap.
BROKEN_WORDS = r"""() => [...document.querySelectorAll('td bdi')].flatMap(b => {
  const cell = b.closest('td');
  const style = getComputedStyle(cell);
  const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
  const split = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.textContent.matchAll(/\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter(r => r.width);
      const lines = new Set(rects.map(r => Math.round(r.top))).size;
      const width = rects.reduce((sum, r) => sum + r.width, 0);
      if (lines > 1 && width <= room) split.push(m[0].slice(0, 40));
    }
  }
  return split;
})"""


# Legend keys on another line than the words they explain (a "drift" badge at the end of one
# line, "differs from SAP MC" on the next, under the next key).
KEYS_APART = r"""() => [...document.querySelectorAll('.legend .mark, .legend .bar-key')]
  .flatMap(key => {
    const walker = document.createTreeWalker(key.closest('.legend'), NodeFilter.SHOW_TEXT);
    walker.currentNode = key;
    let node = walker.nextNode();
    while (node && (key.contains(node) || !node.textContent.trim())) node = walker.nextNode();
    if (!node) return [];
    const at = node.textContent.search(/\S/);
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + 1);
    const word = range.getBoundingClientRect();
    const box = key.getBoundingClientRect();
    const middle = (word.top + word.bottom) / 2;
    return middle >= box.top && middle <= box.bottom ? [] : [node.textContent.trim().slice(0, 30)];
  })"""


# Dates split at their hyphens ("starts 2026-" at the end of one line, "12-12" on the next).
SPLIT_DATES = r"""() => {
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const split = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.textContent.matchAll(/\d{4}-\d{2}-\d{2}/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width)
                            .map(r => Math.round(r.top)));
      if (lines.size > 1) split.push(m[0]);
    }
  }
  return split;
}"""


# Timeline bars of one lane over each other: a Plan of a day is 1 px wide in the year view on a
# phone, and its padding made it 13 px, over the next Plan of its lane.
OVERLAPPING_BARS = """() => [...document.querySelectorAll('.tl-track')].flatMap(track => {
  const bars = [...track.querySelectorAll(':scope > .bar')]
    .map(bar => ({box: bar.getBoundingClientRect(), name: bar.textContent.trim()}))
    .sort((a, b) => a.box.left - b.box.left);
  return bars.slice(1).filter((bar, i) => bars[i].box.right > bar.box.left + 0.5
                                          && Math.abs(bars[i].box.top - bar.box.top) < 2)
    .map(bar => bar.name.slice(0, 30));
})"""


def _fits(page, name: str) -> None:
    # The tables folded away (the campaign's daily numbers) are checked too.
    page.evaluate("document.querySelectorAll('main details').forEach(d => d.open = true)")
    screenshot(page, f"phone-{name}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{name}: the page is {width} px wide at {WIDTH} px"
    assert page.evaluate(STICKING_OUT) == [], f"{name}: content runs past its card"
    # Every table cell on the screen, none at the end of a sideways scroll: the dates and
    # numbers people come for were there, out of sight, and nothing said the table went on.
    assert cells_out_of_view(page) == [], f"{name}: table cells off the screen"
    assert page.evaluate(BROKEN_WORDS) == [], f"{name}: names split inside a word"
    assert page.evaluate(KEYS_APART) == [], f"{name}: legend keys apart from their words"
    assert page.evaluate(SPLIT_DATES) == [], f"{name}: dates split at their hyphens"
    assert page.evaluate(OVERLAPPING_BARS) == [], f"{name}: timeline bars over each other"
    # The timeline's campaign names, cut to "Brand 202…" in a narrow column, could not be told
    # apart.
    cut = "[...document.querySelectorAll('.tl-label')].filter(l => l.scrollWidth > l.clientWidth)"
    assert page.evaluate(f"() => {cut}.map(l => l.textContent.trim())") == [], name


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def busy_world(world):
    plan = make_plan(world.initiatives[0], LONG, datetime(2026, 3, 2).date(),
                     datetime(2026, 3, 20).date(), raw={"name": LONG + "YYYY"})  # fmt: skip
    plan.save()
    Assignment.objects.create(plan=plan, campaign=world.campaigns[0], assigned_at=timezone.now())
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    now = timezone.now()
    run = SyncRun.objects.create(
        kind="khoros_plans", status=SyncRun.Status.FAILED, started_at=now, finished_at=now,
        error="Khoros answered 503 " + "Z" * 200, progress_done=4, progress_total=10,
        unchanged_count=123_456, http_requests=2, http_retries=1,
        http_log=[
            {"method": "GET", "path": "/api/v2/initiatives/1700/plans?page=" + "9" * 80,
             "status": "200", "retries": 0, "ms": 412},
            {"method": "GET", "path": "/api/v2/plans/5", "status": "503", "retries": 1,
             "ms": 30_012},
        ],
        outcomes=[
            {"initiative": "1700", "name": "Brand 0", "status": "ok", "plans": 3, "created": 3},
            {"initiative": "1701", "name": LONG, "status": "failed",
             "error": "HTTP 503 " + "E" * 90},
        ],
    )  # fmt: skip
    Notification.objects.create(
        kind="khoros_plans", event=Notification.Event.OUTAGE, since=now,
        text="The Khoros Plans sync has failed 3 times in a row", dismissed_by=world.admin,
        dismissed_at=now,
    )  # fmt: skip
    # A week of numbers and a Plan-day sent: the campaign page's daily table and push tables.
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=date(2026, 3, 2 + i), impressions=1_234_567, engagements=45_678,
                clicks=9_876, reach=543_210, video_views=12_345, posts=3, updated_at=now)
        for i in range(7)
    )  # fmt: skip
    SuccessSent.objects.create(
        plan=plan, day=date(2026, 3, 2), campaign=world.campaigns[0],
        status=SuccessSent.Status.CREATED, sent_at=now, numbers_hash="x",
    )  # fmt: skip
    InboundCall.objects.create(at=now, method="GET", endpoint="campaigns", caller="c" * 150,
                               status_code=200)  # fmt: skip
    AuditEvent.objects.create(
        at=now,
        actor=world.admin,
        actor_name="alex",
        action="assignment.create",
        summary=f"Assigned “{LONG}”",
        after={"plan_name": LONG, "campaign_name": "Spring Sale 2026"},
    )
    call_command("setup_schedules", stdout=StringIO())  # the schedules page has its rows
    # Two short Plans one after the other, in one lane of the year's timeline.
    for name, first, last in (("Teaser day", 23, 23), ("Teaser week", 24, 26)):
        make_plan(world.initiatives[0], name, date(2026, 3, first), date(2026, 3, last)).save()
    # Starting within the manager home's 14 days with no Plan: its "starts 2026-03-25" ran to
    # the end of a phone's line, where the date broke at a hyphen.
    make_campaign("Brand 2026: Influencer Sprint", date(2026, 3, 25), date(2026, 4, 30)).save()
    # The longest name a saved view takes, without a space: the calendar pages list it.
    SavedView.objects.create(user=world.admin, name="V" * 80, query="zoom=year")
    return world, plan, run


# The bars, the saved views' delete buttons and the list's sort links lower than 24px (WCAG
# 2.5.8's minimum target) that are shown.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main .bar, main .saved-view button, main table.sort-head th a, .topbar nav a, main button, '
    + 'main input[type=checkbox]')].map(el => {
  const box = el.getBoundingClientRect();
  return [el.textContent.trim().slice(0, 30), Math.round(box.height)];
}).filter(([, height]) => height > 0 && height < 24)"""


def test_every_page_fits_a_phone(live_server, busy_world, phone):
    world, plan, run = busy_world
    base = live_server.url
    campaign = world.campaigns[0]
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        phone.goto(f"{base}/login/")
        _fits(phone, "login")
        login(phone, base, "alex", "pw-alex-2026")
        admin_pages = {
            "dashboard-admin": "/",
            "workbench-admin": f"/workbench/?campaign={campaign.pk}",
            "calendar-month": "/calendar/",
            "calendar-quarter": "/calendar/?zoom=quarter",
            "calendar-year": "/calendar/?zoom=year",
            "calendar-list": "/calendar/list/",
            "campaign": f"/campaigns/{campaign.pk}/",
            "syncs": "/syncs/",
            "sync-run": f"/syncs/{run.pk}/",
            "alerts": "/syncs/alerts/",
            "schedules": "/schedules/",
            "audit": "/audit/",
            "sapmc-calls": "/sapmc-calls/",
            "error-404": "/no-such-page/",
        }
        for name, path in admin_pages.items():
            phone.goto(base + path)
            _fits(phone, name)
            # A finger's targets: the bars were 15px high, 16px apart; the top bar's links 18px,
            # a list's buttons 21px, checkboxes 13px.
            low = phone.evaluate(SMALL_TARGETS)
            assert not low, (name, low[:5])
            if name.startswith("calendar"):
                assert phone.locator(".bar, .saved-view button").count() > 0
            if name == "calendar-list":
                # Its rows are blocks there, its header hidden but for the sort links.
                assert phone.locator("#sort-name").is_visible()
                assert phone.locator("#sort-kpis").is_visible()
            if name == "schedules":
                # Each schedule's Save is on the screen, not at the end of a sideways scroll.
                rights = phone.evaluate(
                    "[...document.querySelectorAll('main button')].map("
                    "b => b.getBoundingClientRect().right)"
                )
                assert rights and max(rights) <= WIDTH, rights
        phone.context.clear_cookies()
        sign_in(phone, base, "maria")
        phone.goto(base + "/")
        for name, path in {
            "dashboard-manager": "/",
            "workbench-manager": "/workbench/",
            "calendar-manager": "/calendar/",
            "error-403": "/audit/",
        }.items():
            phone.goto(base + path)
            _fits(phone, name)
    assert Plan.objects.filter(name=LONG).exists()


# The page's own width at a desktop's, and the tables wider than their card that are not in a
# box that scrolls sideways (so the whole page scrolls sideways with them).
WIDE_TABLES_LOOSE = """() => [...document.querySelectorAll('main table')].filter(table => {
  const card = table.closest('.card');
  if (!card || table.getBoundingClientRect().right <= card.getBoundingClientRect().right + 1) {
    return false;
  }
  for (let up = table.parentElement; up && up !== card; up = up.parentElement) {
    if (getComputedStyle(up).overflowX !== 'visible') return false;
  }
  return true;
}).map(table => table.querySelector('th').textContent.trim())"""


def test_a_long_name_scrolls_its_table_on_a_desktop_not_the_page(live_server, busy_world, page):
    """A Plan name, a caller or a user name of one unbroken word makes its table wider than a
    desktop's card. The campaign page's push tables, the SAP MC call log and the audit trail
    pushed the whole page sideways (3,364 and 2,018 px wide at 1,440 px), the header and every
    other card with them: the table scrolls in its own box there, as the Plans table above it
    does, and the keyboard reaches it."""
    world, plan, run = busy_world
    SuccessSent.objects.create(
        plan=plan, day=date(2026, 3, 3), campaign=world.campaigns[0],
        status=SuccessSent.Status.UNKNOWN, sent_at=timezone.now(), numbers_hash="y",
        message="timed out",
    )  # fmt: skip
    # The longest user name Django takes, without a space, in the audit trail's Actor column.
    AuditEvent.objects.create(
        at=timezone.now(), actor=world.admin, actor_name="u" * 150, action="assignment.create",
        summary="Assigned", campaign=world.campaigns[0],
    )  # fmt: skip
    sign_in(page, live_server.url, "alex")
    page.set_viewport_size({"width": 1440, "height": 900})
    campaign = world.campaigns[0]
    for name, path, tables in (
        ("campaign", f"/campaigns/{campaign.pk}/", ["Plans sent to SAP MC", "Plans waiting",
                                                   "Failed rows"]),
        ("sapmc-calls", "/sapmc-calls/", ["SAP MC calls"]),
        ("audit", "/audit/", ["Audit trail"]),
    ):  # fmt: skip
        page.goto(live_server.url + path)
        page.evaluate("document.querySelectorAll('main details').forEach(d => d.open = true)")
        screenshot(page, f"desktop-long-name-{name}")
        assert page.evaluate("document.documentElement.scrollWidth") == 1440, name
        assert page.evaluate(WIDE_TABLES_LOOSE) == [], name
        for label in tables:
            region = page.get_by_role("region", name=label, exact=True)
            assert region.get_attribute("tabindex") == "0", label
            assert region.locator("table").count() == 1, label


# Names as companies write them, without a space: underscores, an address as the user name.
USER_NAME = "maria.gonzalez_rodriguez@marketing.emea.example.com"
INITIATIVE_NAME = "EMEA_Paid_Social_Always_On_Brand_Awareness_Program_FY2026"
CAMPAIGN_NAME = "Q3_2026_DACH_Social_Retargeting_Awarenes"  # SAP MC's longest, 40
STATUS_NAME = "Freigegeben_zur_Ausfuehrung_durch_Kampagnenverantwortliche"  # 60 at most


def test_names_without_spaces_wrap_on_a_phone(live_server, world, phone, django_user_model):
    """Every page's top bar names the person (a user name that is an address: the page was
    450 px wide at 390), and the workbench's lines under each name quote an Initiative and
    a campaign's status, its bulk button the campaign: each pushed the page sideways."""
    from django.contrib.auth.models import Group

    from campaigns.models import MARKETING_MANAGERS, InitiativeGrant
    from khoros.models import Initiative
    from sapmc.models import ExternalCampaign

    user = django_user_model.objects.create_user(USER_NAME, password="pw-long-2026")
    user.groups.add(Group.objects.get(name=MARKETING_MANAGERS))
    InitiativeGrant.objects.create(user=user, initiative=world.initiatives[0])
    Initiative.objects.filter(pk=world.initiatives[0].pk).update(name=INITIATIVE_NAME)
    campaign = world.campaigns[0]
    ExternalCampaign.objects.filter(pk=campaign.pk).update(
        name=CAMPAIGN_NAME, lifecycle_status_name=STATUS_NAME
    )
    Assignment.objects.create(
        plan=world.plans[0], campaign=campaign, assigned_at=timezone.now(), note="x"
    )
    sign_in(phone, live_server.url, USER_NAME)
    for name, path in {
        "long-names-home": "/",
        "long-names-workbench": f"/workbench/?campaign={campaign.pk}",
        "long-names-campaign": f"/campaigns/{campaign.pk}/",
    }.items():
        phone.goto(live_server.url + path)
        _fits(phone, name)
    assert phone.get_by_text(USER_NAME).is_visible()


def test_a_phone_opens_a_linked_campaign_at_its_pane_and_says_no_drag(live_server, world, chromium):
    # A touch screen, as a phone's: the dashboard's "see it on the workbench" opened at the
    # top of the campaign list, the chosen campaign ~2,000px below; the calendar asked for a
    # drag no finger can make.
    context = chromium.new_context(
        viewport={"width": WIDTH, "height": 844}, is_mobile=True, has_touch=True
    )
    for i in range(30):  # a list as long as a company's
        make_campaign(
            f"C {i:02}", date(2026, 3, 1), date(2026, 3, 31), campaign_id=f"77{i:02}"
        ).save()
    last = make_campaign("Zz last", date(2026, 12, 1), date(2026, 12, 31))
    last.save()
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}/workbench/?campaign={last.pk}")
        top = page.evaluate("document.getElementById('selected-title').getBoundingClientRect().top")
        assert 0 <= top < 844
        page.goto(f"{live_server.url}/calendar/?zoom=quarter&date=2026-03-01")
        hint = page.locator("#drag-hint").inner_text()
        assert "Drag" not in hint and "Open the Plan and use “Assign to…”" in hint
    finally:
        context.close()


def test_a_phone_shows_the_calendar_first_with_its_filters_one_tap_away(
    live_server, world, phone, page
):
    # On a phone the month grid began ~700px down, under four rows of navigation, four filters
    # and the saved views: they fold into one line there, and open where a filter is set.
    sign_in(phone, live_server.url, "maria")
    phone.goto(f"{live_server.url}/calendar/?date=2026-03-01")
    fold = phone.locator("details.cal-tools > summary")
    assert fold.inner_text() == "Filters and saved views"
    assert not phone.locator("#id_q").is_visible()
    top = phone.evaluate("document.querySelector('.month').getBoundingClientRect().top")
    assert top < 450, f"the month grid starts {top} px down"
    # Previous and Next keep their words for a screen reader; the arrows are what is seen.
    assert phone.get_by_role("link", name="‹ Previous").bounding_box()["width"] < 60
    assert phone.get_by_role("link", name="Next ›").bounding_box()["width"] < 60

    # Open them with the keyboard, search, clear the search: the box stays open under the caret.
    fold.focus()
    phone.keyboard.press("Enter")
    phone.locator("#id_q").fill("Brand")
    phone.wait_for_url("**q=Brand**")
    assert phone.locator("details.cal-tools > summary").inner_text() == (
        "Filters and saved views · 1 set"
    )
    phone.locator("#id_q").fill("")
    phone.wait_for_url(lambda url: "q=Brand" not in url)
    phone.wait_for_function("!document.querySelector('#calendar.htmx-request')")
    assert phone.locator("#id_q").is_visible()
    assert phone.evaluate("document.activeElement.id") == "id_q"

    # A bookmark of a filtered view opens with its filters shown.
    phone.goto(f"{live_server.url}/calendar/list/?date=2026-03-01&assigned=assigned")
    assert phone.locator("#id_assigned").is_visible()
    phone.goto(f"{live_server.url}/calendar/list/?date=2026-03-01")
    assert not phone.locator("#id_assigned").is_visible()

    # A wide screen shows the filters always and no line to open them.
    sign_in(page, live_server.url, "maria")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/calendar/?date=2026-03-01")
    assert page.locator("#id_q").is_visible()
    assert not page.locator("details.cal-tools > summary").is_visible()
    assert page.get_by_role("link", name="‹ Previous").bounding_box()["width"] > 80
