"""A sync admin sees a failing kind's connection header and dismisses its alert; screenshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from syncs.alerts import alerts_check
from syncs.models import Notification, SyncRun
from syncs.schedules import setup_schedules
from tests.browser.conftest import htmx_settled, screenshot, sign_in
from tests.browser.test_csp_browser import Violations

WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5)
  .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _failing_plans() -> SyncRun:
    setup_schedules()
    now = timezone.now()
    for kind in ("khoros_plans", "sapmc_campaigns", "khoros_kpis"):
        for day in range(6, 0, -1):
            finished = now - timedelta(days=day, hours=kind.count("s"))
            SyncRun.objects.create(
                kind=kind, trigger="schedule", status="succeeded", started_at=finished
                - timedelta(seconds=3 + day), finished_at=finished, unchanged_count=100 * day,
            )  # fmt: skip
    last = None
    for hours in (3, 2, 1):
        last = SyncRun.objects.create(
            kind="khoros_plans", trigger="schedule", status="failed",
            error="KhorosUnavailableError: Khoros answered 503 (/api/v2/plans)",
            started_at=now - timedelta(hours=hours, seconds=4),
            finished_at=now - timedelta(hours=hours),
            progress_done=2, progress_total=2,
        )  # fmt: skip
    for r in SyncRun.objects.all():  # queued when they started, not when the test made them
        SyncRun.objects.filter(pk=r.pk).update(queued_at=r.started_at)
    SyncRun.objects.filter(kind__in=["sapmc_campaigns", "khoros_kpis"]).update(
        finished_at=now - timedelta(minutes=5)
    )
    alerts_check()
    return last


@pytest.mark.parametrize("width", [1440, 390])
def test_connection_header_and_alert_dismissal(live_server, world, page, width):
    failed = _failing_plans()
    page.set_viewport_size({"width": width, "height": 900})
    csp = Violations(page)
    sign_in(page, live_server.url, "alex")
    page.goto(live_server.url + "/")
    assert page.get_by_test_id("alerts-count").inner_text() == "1"
    assert "Khoros plans sync is failing" in page.get_by_test_id("health-banner").inner_text()
    screenshot(page, f"health-dashboard-{width}")

    csp.visit(f"{live_server.url}/syncs/?kind=khoros_plans")
    header = page.get_by_test_id("connection-header")
    assert page.get_by_test_id("connection-state").inner_text() == "Failing"
    assert "KhorosUnavailableError" in header.inner_text()
    assert page.locator("svg.timeline-chart rect.run-bar").count() == 9
    assert page.locator("svg.timeline-chart rect.run-bar.failed").count() == 3
    screenshot(page, f"health-connection-{width}")
    # The page does not scroll sideways, even at phone width.
    wide = page.evaluate(WIDEST)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, wide

    csp.visit(f"{live_server.url}/syncs/{failed.pk}/")
    progress = page.get_by_test_id("run-progress").inner_text()
    assert "Failed: all 2 tried, see the error and outcomes" in progress
    screenshot(page, f"health-failed-run-{width}")

    page.get_by_test_id("alerts-link").click()
    page.get_by_role("heading", name="Alerts").wait_for()
    screenshot(page, f"health-alerts-open-{width}")
    page.get_by_role("button", name="Dismiss").click()
    page.locator("main").get_by_text("Alert dismissed.").wait_for()
    htmx_settled(page)  # the badge's fragment has loaded (and says nothing)
    assert page.get_by_test_id("alerts-count").count() == 0
    history = page.get_by_test_id("alert-history").inner_text()
    assert "by alex at" in history and "Khoros plans" in history
    screenshot(page, f"health-alerts-dismissed-{width}")
    csp.check("alerts")
    n = Notification.objects.get()
    assert n.dismissed_by == world.admin and n.dismissed_at is not None
