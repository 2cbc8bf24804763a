"""A marketing manager's home page: what needs her this fortnight, in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent
from campaigns.services import assignment_create
from khoros.models import Plan, PlanKpi
from sapmc.models import CampaignReference, ExternalCampaign
from tests.conftest import uses_orm_broker
from tests.world import make_campaign, make_plan

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 3, 25, 12, tzinfo=UTC)


@pytest.fixture
def fortnight(world):
    """Campaigns starting soon, one hers with drift, Plans ending with and without numbers."""
    brand0, brand1 = world.initiatives[0], world.initiatives[1]
    soon_mine, soon_tom, soon_nobody, soon_fed, later = ExternalCampaign.objects.bulk_create(
        [
            make_campaign("April push", date(2026, 4, 2), date(2026, 4, 30), campaign_id="201"),
            make_campaign("Tom's April", date(2026, 4, 3), date(2026, 4, 30), campaign_id="202"),
            make_campaign("Unclaimed", date(2026, 4, 5), date(2026, 4, 30), campaign_id="203"),
            make_campaign("Already fed", date(2026, 4, 1), date(2026, 4, 30), campaign_id="204"),
            make_campaign("Much later", date(2026, 5, 20), date(2026, 6, 30), campaign_id="205"),
        ]
    )
    CampaignReference.objects.create(
        campaign=soon_mine, external_campaign_id="1" * 32, managing_party=brand0.khoros_id
    )
    CampaignReference.objects.create(
        campaign=soon_tom, external_campaign_id="2" * 32, managing_party=brand1.khoros_id
    )
    fed_plan = make_plan(brand0, "April feed", date(2026, 4, 1), date(2026, 4, 30))
    fed_plan.save()
    Assignment.objects.create(plan=fed_plan, campaign=soon_fed, assigned_at=timezone.now())
    # Spring Sale: maria's Plan assigned here (only pending for SAP MC, no drift on its own), but
    # SAP MC names her unassigned "Summer teaser" under it (SAP-only drift) and puts the assigned
    # Plan under "Already fed" (a conflict there): both campaigns have drift to decide.
    assignment_create(campaign=world.campaigns[0], plan=world.plans[0], acting_user=world.admin)
    for campaign, plan in [(world.campaigns[0], world.plans[1]), (soon_fed, world.plans[0])]:
        CampaignReference.objects.create(
            campaign=campaign,
            external_campaign_id=plan.khoros_id.hex,
            managing_party=brand0.khoros_id,
            plan=plan,
        )
    # Spring Sale video (tom's) ends 10 April without numbers; Spring Sale social (maria's) ends
    # 31 March without numbers; give a number to nothing.
    return {"soon_mine": soon_mine, "soon_tom": soon_tom, "soon_nobody": soon_nobody}


def test_manager_home_lists_her_open_work_with_links(client, world, fortnight):
    with time_machine.travel(TODAY, tick=False):
        AuditEvent.objects.filter(actor=world.admin).update(at=timezone.now() - timedelta(days=1))
        client.force_login(world.maria)
        response = client.get(reverse("dashboard"))
    home = response.context["home"]
    assert [c.name for c in home.starting_empty] == ["April push", "Unclaimed"]
    assert [c.name for c in home.drifting] == ["Spring Sale 2026", "Already fed"]
    assert [p.name for p in home.ending_without_kpis] == ["Spring Sale social"]
    assert [e.summary for e in home.changes_by_others] == [
        "Assigned Plan “Spring Sale social” to campaign “Spring Sale 2026”"
    ]
    body = response.content.decode()
    soon = fortnight["soon_mine"]
    assert f'href="/calendar/?zoom=days90&amp;panel=c{soon.pk}"' in body
    assert f'href="/workbench/?campaign={world.campaigns[0].pk}"' in body
    assert f"panel=p{world.plans[0].pk}" in body
    assert "Sync Khoros plans now" not in body and 'id="sync-runs"' not in body


def test_numbers_and_own_changes_leave_the_home_lists(client, world, fortnight):
    with time_machine.travel(TODAY, tick=False):
        PlanKpi.objects.create(
            plan=world.plans[0], day=date(2026, 3, 20), impressions=5, updated_at=timezone.now()
        )
        # Her own change is not "by others"; an old change by others is out of the fortnight.
        AuditEvent.objects.update(actor=world.maria)
        AuditEvent.objects.create(
            at=timezone.now() - timedelta(days=30),
            actor=world.tom,
            actor_name="tom",
            action="assignment.create",
            plan=world.plans[0],
            summary="old",
        )
        client.force_login(world.maria)
        home = client.get(reverse("dashboard")).context["home"]
    assert home.ending_without_kpis == []
    assert home.changes_by_others == []


def test_admins_keep_the_sync_home(client, world, fortnight):
    client.force_login(world.admin)
    response = client.get(reverse("dashboard"))
    assert response.context["home"] is None
    assert 'id="sync-runs"' in response.content.decode()


def test_manager_home_query_count_is_fixed(client, world, fortnight, django_assert_num_queries):
    brand0 = world.initiatives[0]
    plans = Plan.objects.bulk_create(
        [make_plan(brand0, f"Bulk {i}", date(2026, 3, 1), date(2026, 3, 30)) for i in range(300)]
    )
    campaigns = ExternalCampaign.objects.bulk_create(
        [
            make_campaign(f"Bulk {i}", date(2026, 3, 28), date(2026, 4, 9), campaign_id=str(i))
            for i in range(300)
        ]
    )
    Assignment.objects.bulk_create(
        [
            Assignment(plan=p, campaign=c, assigned_at=timezone.now())
            for p, c in zip(plans, campaigns, strict=True)
        ]
    )
    # SAP MC puts each Plan under the next campaign: every campaign has a conflict to decide.
    CampaignReference.objects.bulk_create(
        [
            CampaignReference(
                campaign=campaigns[(i + 1) % len(plans)],
                external_campaign_id=p.khoros_id.hex,
                managing_party=brand0.khoros_id,
                plan=p,
            )
            for i, p in enumerate(plans)
        ]
    )
    with time_machine.travel(TODAY, tick=False):
        client.force_login(world.maria)
        # session, user, roles, the company's zone (its today), grants, starting soon, drift
        # candidates + 2 drift reads, Plans ending without KPIs, changes by others (of her
        # Plans, and of whole campaigns: their Plans are read only when there are some),
        # Initiative and Plan counts, campaign and assignment counts, health: database, broker
        # (a query only when it is the ORM), last successes, the schedules (interval, on/off),
        # the last runs of each kind (failing in a row), her adoptions (and, when she has
        # some, which of them were undone)
        with django_assert_num_queries(23 if uses_orm_broker() else 22):
            response = client.get(reverse("dashboard"))
    home = response.context["home"]
    assert len(home.ending_without_kpis) == 20 and len(home.drifting) == 20


def test_a_manager_undoes_her_adoption_from_her_home_after_a_reload(client, world):
    # The workbench offers Undo right after "Adopt SAP MC's side" only: after a reload it was
    # gone, and the audit page where a sync admin undoes is not hers (403).
    from campaigns import services

    spring, plan = world.campaigns[0], world.plans[0]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=plan.khoros_id.hex,
        managing_party=plan.initiative.khoros_id, plan=plan,
    )  # fmt: skip
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.maria)
    services.drift_adopt_sap(campaign=spring, acting_user=world.admin)  # not hers: not listed
    assert Assignment.objects.filter(plan=plan, campaign=spring).exists()
    client.force_login(world.maria)
    home = client.get(reverse("dashboard")).context["home"]
    assert [e.pk for e in home.adoptions] == [adoption.pk]

    response = client.post(reverse("workbench-undo"), {"event": adoption.pk, "next": "dashboard"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert not Assignment.objects.filter(plan=plan).exists()
    page = client.get(reverse("dashboard"))
    assert "Undone: 1 Plan back where it was." in page.content.decode()
    assert page.context["home"].adoptions == []  # undone: no second Undo offered
    again = client.post(reverse("workbench-undo"), {"event": adoption.pk, "next": "dashboard"})
    assert again["Location"] == reverse("dashboard")
    assert "already undone" in client.get(reverse("dashboard")).content.decode()


def test_changes_by_others_never_name_a_plan_of_another_initiative(client, world):
    """Tom's Plan assigned to a campaign maria's Plan feeds is not a change to her Initiatives,
    and its summary names a Plan she may not see; a change of a whole campaign names none."""
    spring, mine, toms = world.campaigns[0], world.plans[0], world.plans[3]
    assignment_create(campaign=spring, plan=mine, acting_user=world.admin)
    assignment_create(campaign=spring, plan=toms, acting_user=world.tom)
    AuditEvent.objects.create(
        at=timezone.now(),
        actor=world.admin,
        actor_name="alex",
        action=AuditEvent.Action.DRIFT_KEEP_BRIDGE,
        campaign=spring,
        summary="Kept the bridge's side for 2 Plans of campaign “Spring Sale 2026” against SAP MC",
    )
    client.force_login(world.maria)
    response = client.get(reverse("dashboard"))
    assert [e.summary for e in response.context["home"].changes_by_others] == [
        "Kept the bridge's side for 2 Plans of campaign “Spring Sale 2026” against SAP MC",
        "Assigned Plan “Spring Sale social” to campaign “Spring Sale 2026”",
    ]
    assert "Autumn" not in response.content.decode()


@pytest.mark.parametrize("viewer", ["Europe/Berlin", "America/Los_Angeles", "Pacific/Kiritimati"])
def test_plans_ending_show_the_companys_days_for_every_viewer(client, world, settings, viewer):
    """A Chicago Plan of March as Khoros sends it (local midnight to the last millisecond of
    31 March, across the change to summer time) ends on 31 March and starts on 1 March, for a
    manager in Berlin (whose clock says 1 April 06:59 at its end) as in Los Angeles (28 Feb
    22:00 at its start)."""
    settings.KHOROS_COMPANY_TIMEZONE = "America/Chicago"
    Plan.objects.filter(pk=world.plans[0].pk).update(
        start=datetime(2026, 3, 1, 6, tzinfo=UTC),  # 00:00 CST
        end=datetime(2026, 4, 1, 4, 59, 59, 999000, tzinfo=UTC),  # 23:59:59.999 CDT
    )
    client.force_login(world.maria)
    client.cookies["smcbridge_tz"] = viewer
    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("dashboard"))
    assert [p.name for p in response.context["home"].ending_without_kpis] == ["Spring Sale social"]
    body = response.content.decode()
    assert 'ends <time datetime="2026-03-31">2026-03-31</time>' in body
    assert f"date=2026-03-01&amp;panel=p{world.plans[0].pk}" in body


def test_changes_by_others_leave_out_decisions_on_other_initiatives_plans_only(client, world):
    """tom deciding the drift of his own two Plans on a campaign maria's Plan feeds is no change
    to her Initiatives: listed, it told her that his Plans differed from SAP MC, when and what he
    decided. A decision that takes one of her Plans along is hers to see."""
    from campaigns.services import drift_adopt_sap, drift_keep_bridge, drift_undo

    spring, summer = world.campaigns[0], world.campaigns[1]
    mine, toms, toms_too = world.plans[0], world.plans[2], world.plans[3]
    assignment_create(campaign=spring, plan=mine, acting_user=world.maria)
    for plan in (toms, toms_too):
        assignment_create(campaign=summer, plan=plan, acting_user=world.tom)
        CampaignReference.objects.create(
            campaign=spring, external_campaign_id=plan.khoros_id.hex, plan=plan
        )
    adoption = drift_adopt_sap(campaign=spring, acting_user=world.tom)
    drift_undo(event=adoption, acting_user=world.tom)
    drift_keep_bridge(campaign=spring, acting_user=world.tom)
    assert AuditEvent.objects.filter(plan__isnull=True, campaign=spring).count() == 3
    client.force_login(world.maria)
    home = client.get(reverse("dashboard")).context["home"]
    assert home.changes_by_others == []
    # The sync admin adopts for maria's "Summer teaser" and one of tom's at once: that is hers.
    autumn = world.campaigns[2]
    CampaignReference.objects.filter(plan=toms_too).delete()
    for plan in (world.plans[1], toms_too):
        CampaignReference.objects.create(
            campaign=autumn, external_campaign_id=plan.khoros_id.hex, plan=plan
        )
    both = drift_adopt_sap(campaign=autumn, acting_user=world.admin)
    assert both is not None and len(both.before["plans"]) == 2
    home = client.get(reverse("dashboard")).context["home"]
    assert [e.pk for e in home.changes_by_others] == [both.pk]
