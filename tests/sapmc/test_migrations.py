"""The SAP MC models moved from campaigns to sapmc state only: rows written before stay readable."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent
from sapmc.models import CampaignReference, ExternalCampaign, InboundCall, InboundReport

BEFORE_THE_MOVE = [("campaigns", "0009_schedules_run_the_engine_task"), ("sapmc", None)]
MOVED = ["externalcampaign", "campaignreference", "inboundreport", "inboundcall"]


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader sees what is applied now


@pytest.mark.django_db(transaction=True)
def test_rows_written_by_the_old_models_are_read_by_sapmc_after_migrating():
    executor = _migrate(BEFORE_THE_MOVE)
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
    initiative = old.get_model("khoros", "Initiative").objects.create(
        khoros_id="1701", name="Brand", first_seen=now, last_seen=now
    )
    plan = old.get_model("khoros", "Plan").objects.create(
        khoros_id=uuid.uuid4(),
        initiative=initiative,
        name="Spring",
        start=now,
        end=now,
        first_seen=now,
        last_seen=now,
    )
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

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

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
