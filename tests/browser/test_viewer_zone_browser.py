"""The browser tells the server its time zone: times are the viewer's from the next page on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncs.models import SyncRun
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zone_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "smcbridge_tz"), None)


@pytest.mark.parametrize(
    ("before", "now", "shown"),
    [
        # Mexico's Bahía de Banderas (UTC-6) to Brazil's Bahia (UTC-3): the old name starts with
        # the new one, and a cookie that merely contains it is not the browser's zone.
        ("America/Bahia_Banderas", "America/Bahia", "2026-03-08 11:30:00"),
        ("America/Dawson_Creek", "America/Dawson", "2026-03-08 07:30:00"),
        (None, "America/New_York", "2026-03-08 10:30:00"),  # after the clocks moved on
    ],
)
def test_the_browsers_zone_replaces_the_one_remembered(
    live_server, world, chromium, before, now, shown
):
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, status="succeeded",
        requested_by=world.admin,
    )  # fmt: skip
    SyncRun.objects.filter(pk=run.pk).update(queued_at=datetime(2026, 3, 8, 14, 30, tzinfo=UTC))
    context = chromium.new_context(timezone_id=now)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live_server.url, "alex")
        if before is not None:
            context.add_cookies([{"name": "smcbridge_tz", "value": before, "url": live_server.url}])
        page.goto(f"{live_server.url}/syncs/{run.pk}/")
        assert zone_cookie(page) == now
        page.reload()
        queued = page.locator("dt", has_text="Queued").locator("xpath=following-sibling::dd[1]")
        assert queued.inner_text() == shown
    finally:
        context.close()
