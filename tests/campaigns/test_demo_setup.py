"""`make run`'s bootstrap: schedules, a first real sync, users and grants, the banner."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_q.models import Schedule

from campaigns.access import is_sync_admin, visible_initiatives
from campaigns.models import Assignment, AuditEvent
from khoros.models import Plan, PlanKpi
from sapmc.models import ExternalCampaign
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


def test_demo_setup_syncs_and_creates_users_with_disjoint_grants(live_khoros, live_sapmc, settings):
    settings.KHOROS_EXPORT_POLL_BASE = 0.05  # the KPI sync polls its export for real
    out = StringIO()
    call_command("demo_setup", "--url", "http://127.0.0.1:8000/", "--wait", "2", stdout=out)

    assert SyncRun.objects.get(kind="khoros_plans").status == SyncRun.Status.SUCCEEDED
    assert SyncRun.objects.get(kind="sapmc_campaigns").status == SyncRun.Status.SUCCEEDED
    assert Plan.objects.count() == 24
    assert ExternalCampaign.objects.count() == 12
    assert SyncRun.objects.get(kind="khoros_kpis").status == SyncRun.Status.SUCCEEDED
    assert PlanKpi.objects.exists()
    # Half of the campaigns SAP MC links to Plans got those Plans assigned, audited.
    assert Assignment.objects.exists()
    assert AuditEvent.objects.filter(action="drift.adopt_sap").count() >= 1
    assert Schedule.objects.filter(name="Khoros plans").exists()
    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) == {"admin", "maria", "tom"}
    assert is_sync_admin(users["admin"])
    # Every demo user has an address: the alert emails reach the sync admin (console backend).
    assert users["admin"].email == "alex.admin@example.com"
    assert all(u.email for u in users.values())
    maria = set(visible_initiatives(users["maria"]).values_list("khoros_id", flat=True))
    tom = set(visible_initiatives(users["tom"]).values_list("khoros_id", flat=True))
    assert len(maria) == len(tom) == 2 and not maria & tom
    text = out.getvalue()
    assert "http://127.0.0.1:8000/" in text and "maria" in text and "bridge-admin-2026" in text
    assert "(campaign category Z01, time zone UTC)" in text
    assert "holds no campaign of category" not in text
    assert {c.category for c in ExternalCampaign.objects.all()} == {"Z01"}

    # Running it again (a second `make run`) changes nothing but adds a run.
    call_command("demo_setup", "--wait", "2", stdout=StringIO())
    assert get_user_model().objects.count() == 3
    assert len(set(visible_initiatives(users["maria"]).values_list("pk", flat=True))) == 2


def test_demo_setup_says_clearly_when_khoros_does_not_answer(settings):
    from django.core.management.base import CommandError

    settings.KHOROS_BASE_URL = "http://127.0.0.1:9/v2"
    settings.KHOROS_MAX_RETRIES = 0
    with pytest.raises(CommandError, match="did not answer within 1 s"):
        call_command("demo_setup", "--wait", "1", stdout=StringIO())


def test_against_real_systems_no_demo_users_are_created(live_khoros, live_sapmc, settings):
    settings.KHOROS_EXPORT_POLL_BASE = 0.05
    out = StringIO()
    call_command("demo_setup", "--no-demo-users", "--wait", "2", stdout=out)
    assert get_user_model().objects.count() == 0
    assert "createsuperuser" in out.getvalue()


def test_a_category_that_lists_nothing_is_pointed_out(live_khoros, live_sapmc, settings):
    settings.KHOROS_EXPORT_POLL_BASE = 0.05
    settings.SAPMC_CAMPAIGN_CATEGORY = "A1"  # an SAP standard code the demo tenant does not use
    out = StringIO()
    call_command("demo_setup", "--no-demo-users", "--wait", "2", stdout=out)
    assert SyncRun.objects.get(kind="sapmc_campaigns").status == SyncRun.Status.SUCCEEDED
    assert "SAP MC holds no campaign of category 'A1': check SAPMC_CAMPAIGN_CATEGORY" in (
        out.getvalue()
    )


def test_demo_setup_pushes_success_rows_and_the_campaign_page_shows_them(
    live_khoros, live_sapmc, settings, client
):
    from django.urls import reverse

    from sapmc.models import SuccessSent

    settings.KHOROS_EXPORT_POLL_BASE = 0.05
    settings.SAPMC_SUCCESS_PUSH_ENABLED = True
    settings.KHOROS_COMPANY_TIMEZONE = "UTC"
    out = StringIO()
    call_command("demo_setup", "--wait", "2", stdout=out)

    push = SyncRun.objects.filter(kind="sapmc_success_push", trigger="command").get()
    assert push.status == SyncRun.Status.SUCCEEDED, push.error
    assert push.created_count > 0
    assert f"First SAP MC success push sync #{push.pk} succeeded" in out.getvalue()
    assert len(live_sapmc.sim.successes) == push.created_count == SuccessSent.objects.count()
    sent = SuccessSent.objects.select_related("campaign").first()
    client.force_login(get_user_model().objects.get(username="admin"))
    body = client.get(reverse("campaign", args=[sent.campaign_id])).content.decode()
    assert "Sent to SAP MC" in body and f'href="/syncs/{push.pk}/"' in body


def test_a_restart_does_not_call_its_syncs_first(live_khoros, live_sapmc, settings, tmp_path):
    settings.KHOROS_EXPORT_POLL_BASE = 0.05
    first = StringIO()
    call_command("demo_setup", "--no-demo-users", "--wait", "2", stdout=first)
    plans_run = SyncRun.objects.get(kind="khoros_plans")
    assert f"First Khoros plans sync #{plans_run.pk} succeeded: 24 created" in first.getvalue()

    again = StringIO()
    call_command("demo_setup", "--no-demo-users", "--wait", "2", stdout=again)
    text = again.getvalue()
    second = SyncRun.objects.filter(kind="khoros_plans").latest("pk")
    assert "First " not in text
    assert (
        f"Khoros plans sync #{second.pk} succeeded: 0 created, 0 updated, 24 unchanged; "
        "already mirrored"
    ) in text


def test_the_banner_goes_to_a_file_when_asked(live_khoros, live_sapmc, settings, tmp_path):
    settings.KHOROS_EXPORT_POLL_BASE = 0.05
    banner = tmp_path / "banner.txt"
    out = StringIO()
    call_command(
        "demo_setup",
        "--url",
        "http://127.0.0.1:8300/",
        "--wait",
        "2",
        "--banner-file",
        str(banner),
        stdout=out,
    )
    assert "bridge-admin-2026" not in out.getvalue()
    text = banner.read_text()
    assert "smcbridge is up at http://127.0.0.1:8300/" in text and "bridge-admin-2026" in text
