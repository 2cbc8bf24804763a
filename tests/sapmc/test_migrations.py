"""The SAP MC models moved from campaigns to sapmc state only: rows written before stay readable."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent, DriftDecision
from campaigns.selectors import drift_flags
from sapmc.models import CampaignReference, ExternalCampaign, InboundCall, InboundReport
from tests.migrating import migrate_to, migrate_to_latest, old_plans

BEFORE_THE_MOVE = [("campaigns", "0009_schedules_run_the_engine_task"), ("sapmc", None)]
MOVED = ["externalcampaign", "campaignreference", "inboundreport", "inboundcall"]


@pytest.mark.django_db(transaction=True)
def test_rows_written_by_the_old_models_are_read_by_sapmc_after_migrating():
    executor = migrate_to(BEFORE_THE_MOVE)
    # Every app as migrated now: the others at their latest, campaigns before the move.
    applied = [
        node for node in executor.loader.graph.leaf_nodes() if node[0] not in ("sapmc", "campaigns")
    ]
    old = executor.loader.project_state([*applied, BEFORE_THE_MOVE[0]]).apps
    # Content types as the old code made them (a fresh test database has none for campaigns').
    old_ct = old.get_model("contenttypes", "ContentType")
    for model in MOVED:
        old_ct.objects.get_or_create(app_label="campaigns", model=model)
    now = timezone.now()
    [plan] = old_plans(old, ["Spring"], at=now)
    campaign = old.get_model("campaigns", "ExternalCampaign").objects.create(
        sap_uuid=uuid.uuid4(),
        campaign_id="C1",
        name="Spring Sale",
        start=date(2026, 3, 1),
        first_seen=now,
        last_seen=now,
        drift_kept=["abc"],
    )
    old.get_model("campaigns", "CampaignReference").objects.create(
        campaign=campaign, external_campaign_id=plan.khoros_id.hex, plan=plan
    )
    old.get_model("campaigns", "Assignment").objects.create(
        plan=plan, campaign=campaign, assigned_at=now
    )
    old.get_model("campaigns", "AuditEvent").objects.create(
        at=now, actor_name="maria", action="assignment.create", campaign=campaign, summary="x"
    )
    old.get_model("campaigns", "InboundReport").objects.create(
        report_id="Rabc", from_date=date(2026, 3, 1), to_date=date(2026, 3, 2), created_at=now
    )
    old.get_model("campaigns", "InboundCall").objects.create(
        at=now, method="POST", endpoint="campaign-success", status_code=202
    )
    moved_permissions = Permission.objects.filter(
        content_type__app_label="campaigns", content_type__model__in=MOVED
    ).count()

    migrate_to_latest()

    moved = ExternalCampaign.objects.get()
    # drift_kept itself is gone at the leaf: drift decisions are per Plan now (DriftDecision).
    assert (moved.pk, moved.name) == (campaign.pk, "Spring Sale")
    reference = CampaignReference.objects.select_related("campaign", "plan").get()
    assert (reference.campaign, reference.plan_id) == (moved, plan.pk)
    assert Assignment.objects.get().campaign == moved
    assert AuditEvent.objects.get().campaign == moved
    assert moved.assignments.count() == 1 and moved.sap_references.count() == 1
    assert InboundReport.objects.get().report_id == "Rabc"
    assert InboundCall.objects.get().status_code == 202
    # Content types (and the permissions on them) followed the models; none was duplicated.
    assert sorted(
        ContentType.objects.filter(model__in=MOVED).values_list("app_label", "model")
    ) == sorted(("sapmc", model) for model in MOVED)
    assert (
        Permission.objects.filter(
            content_type__app_label="sapmc", content_type__model__in=MOVED
        ).count()
        == moved_permissions
    )


BEFORE_PER_PLAN_DRIFT = [("sapmc", "0002_inbound_lockout")]


@pytest.mark.django_db(transaction=True)
def test_a_campaign_kept_against_sap_mc_keeps_its_plans_decisions_after_migrating():
    """Before drift per Plan, "keep the bridge's side" was one list on the campaign (drift_kept:
    the SAP MC side it was kept against). A decision still holding becomes one DriftDecision
    per differing Plan; a stale one (SAP MC changed since) or one only half of a conflict made
    stays undecided, as the old pages showed it."""
    executor = migrate_to(BEFORE_PER_PLAN_DRIFT)
    old = executor.loader.project_state(list(executor.loader.applied_migrations)).apps
    now = timezone.now()
    admin = old.get_model("auth", "User").objects.create(username="admin")
    p = dict(enumerate(old_plans(old, [f"P{n}" for n in range(1, 6)], at=now), start=1))
    Campaign = old.get_model("sapmc", "ExternalCampaign")
    c = {
        n: Campaign.objects.create(
            sap_uuid=uuid.uuid4(),
            campaign_id=f"C{n}",
            name=f"C{n}",
            first_seen=now,
            last_seen=now,
        )
        for n in range(1, 6)
    }
    for campaign, plan in [(1, 1), (1, 2), (3, 4), (4, 5)]:
        old.get_model("sapmc", "CampaignReference").objects.create(
            campaign=c[campaign], external_campaign_id=p[plan].khoros_id.hex, plan=p[plan]
        )
    for campaign, plan in [(2, 2), (1, 3), (5, 5)]:
        old.get_model("campaigns", "Assignment").objects.create(
            plan=p[plan], campaign=c[campaign], assigned_at=now
        )
    # C1 kept SAP MC's {P1, P2}: P1 is SAP-only, P2 also differs on C2, which nobody kept.
    # C3 was kept against a side SAP MC has changed since. C4 and C5 were both kept about P5.
    kept = {1: [p[1], p[2]], 3: None, 4: [p[5]], 5: []}
    for n, plans in kept.items():
        c[n].drift_kept = ["gone"] if plans is None else sorted(str(x.khoros_id) for x in plans)
        c[n].save()
        old.get_model("campaigns", "AuditEvent").objects.create(
            at=now, actor=admin, actor_name="admin", action="drift.keep_bridge", campaign=c[n],
            summary="Kept",
        )  # fmt: skip

    migrate_to_latest()

    decisions = {
        d.plan_id: (d.sap_campaigns, d.bridge_campaign_id, d.decided_by_id, d.decided_at)
        for d in DriftDecision.objects.all()
    }
    assert decisions == {
        p[1].pk: ([c[1].pk], None, admin.pk, now),
        p[5].pk: ([c[4].pk], c[5].pk, admin.pk, now),
    }
    flags = drift_flags(campaigns=list(ExternalCampaign.objects.order_by("pk")))
    assert [flags[c[n].pk] for n in range(1, 6)] == [True, True, True, False, False]
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(
            cursor, "campaigns_externalcampaign"
        )
    assert "drift_kept" not in {column.name for column in columns}
