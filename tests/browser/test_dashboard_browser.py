"""The dashboard in a real browser: log in, press Sync now, watch the run finish without reload."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from campaigns.models import SYNC_ADMINS
from khoros import services
from syncs.models import SyncRun
from tests.browser.conftest import screenshot
from tests.conftest import run_queued_tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_syncs_from_the_dashboard_and_sees_the_run_finish(
    live_server, live_khoros, page, django_user_model
):
    services.sync_khoros()
    admin = django_user_model.objects.create_user("alex", password="alex-pass-2026")
    admin.groups.add(Group.objects.get(name=SYNC_ADMINS))

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill("alex-pass-2026")
    page.get_by_role("button", name="Log in").click()

    assert page.get_by_test_id("plan-count").inner_text() == "24"
    assert page.get_by_test_id("initiative-count").inner_text() == "4"
    page.get_by_role("button", name="Sync Khoros plans now").click()
    page.locator("main").get_by_text("queued.").wait_for()
    queued = SyncRun.objects.latest("queued_at")
    assert page.locator("main").get_by_text(f"Khoros plans sync #{queued.pk} queued.").is_visible()
    first_row = page.locator("#sync-runs tbody tr").first
    assert "Queued" in first_row.inner_text()

    # A real django-q2 worker runs the queued task; htmx polling shows the result in place.
    page.evaluate("window.__notReloaded = true")
    assert run_queued_tasks() == 1
    page.locator("#sync-runs tbody tr").first.get_by_text("Succeeded").wait_for(timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED
    row = page.locator("#sync-runs tbody tr").first.inner_text()
    assert "by alex" in row and "Button" in row
    # The run finished: its "queued" message no longer stands above it.
    assert page.locator("main .messages li").count() == 0
    screenshot(page, "dashboard")


def test_run_again_drops_its_queued_message_once_the_run_has_finished(
    live_server, live_khoros, page, django_user_model
):
    services.sync_khoros()
    done = SyncRun.objects.get()
    admin = django_user_model.objects.create_user("alex", password="alex-pass-2026")
    admin.groups.add(Group.objects.get(name=SYNC_ADMINS))
    page.goto(f"{live_server.url}/login/?next=/syncs/{done.pk}/")
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill("alex-pass-2026")
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("button", name="Run again").click()
    again = SyncRun.objects.latest("queued_at")
    assert again.pk != done.pk
    said = page.locator("main .messages li")
    said.get_by_text(f"Khoros plans sync #{again.pk} queued.").wait_for()
    assert page.get_by_test_id("run-status").inner_text() == "Queued"

    assert run_queued_tasks() == 1
    page.get_by_test_id("run-status").get_by_text("Succeeded").wait_for(timeout=15_000)
    said.first.wait_for(state="detached")
    assert said.count() == 0
