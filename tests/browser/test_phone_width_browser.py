"""Every page at 390 px (a phone): no horizontal scrolling of the page; screenshots to look at."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent, SavedView
from khoros.models import Plan
from sapmc.models import InboundCall
from syncs.models import SyncRun
from tests.browser.conftest import login, screenshot, sign_in
from tests.world import make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390
LONG = "X" * 255  # an unbroken 255-character name, the longest a Plan name column holds


# What sticks out of its card's right edge (a card clips nothing, so it would run over the
# edge or be cut off by the screen). Tables are left out: on a phone a wide one scrolls inside
# its card by design.
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


# Names in table cells split inside a word: more lines than words (a column squeezed to a few
# letters read "Holi / day / Push / 7"). A table wider than the screen scrolls instead.
BROKEN_WORDS = """() => [...document.querySelectorAll('td bdi')].filter(b => {
  const range = document.createRange();
  range.selectNodeContents(b);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  return lines > b.textContent.trim().split(/\\s+/).length;
}).map(b => b.textContent.trim().slice(0, 40))"""


def _fits(page, name: str) -> None:
    screenshot(page, f"phone-{name}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{name}: the page is {width} px wide at {WIDTH} px"
    assert page.evaluate(STICKING_OUT) == [], f"{name}: content runs past its card"
    assert page.evaluate(BROKEN_WORDS) == [], f"{name}: names split inside a word"
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
        unchanged_count=123_456,
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
    # The longest name a saved view takes, without a space: the calendar pages list it.
    SavedView.objects.create(user=world.admin, name="V" * 80, query="zoom=year")
    return world, plan, run


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
            "schedules": "/schedules/",
            "audit": "/audit/",
            "sapmc-calls": "/sapmc-calls/",
            "error-404": "/no-such-page/",
        }
        for name, path in admin_pages.items():
            phone.goto(base + path)
            _fits(phone, name)
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
