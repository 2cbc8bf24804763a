# Before drift per Plan, "keep the bridge's side" was one list per campaign: drift_kept, the
# SAP MC side (Khoros ids of the Plans its references named) it was kept against, holding while
# that side stayed the same. Each Plan that list still hides becomes a DriftDecision recording
# both sides as they are, which is what drift_keep_bridge records today; then the column goes.
#
# It lives in sapmc, the column's owner, so that any later migration of ExternalCampaign (which
# on SQLite rebuilds the table from the model, without this column) runs after it.

import json
from collections import defaultdict
from datetime import datetime

from django.db import migrations, models
from django.utils import timezone

TABLE = "campaigns_externalcampaign"


def _drift_kept_column() -> models.JSONField:
    column = models.JSONField(blank=True, null=True)
    column.set_attributes_from_name("drift_kept")
    return column


def _has_column(schema_editor) -> bool:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, TABLE)
    return any(column.name == "drift_kept" for column in columns)


def _kept_sides(schema_editor) -> dict[int, set[str]]:
    """Each campaign's kept SAP MC side, read from the column the model no longer has."""
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('id')}, {quote('drift_kept')} FROM {quote(TABLE)} "
            f"WHERE {quote('drift_kept')} IS NOT NULL"
        )
        rows = cursor.fetchall()
    # JSON text on SQLite and, as Django reads jsonb, on PostgreSQL too; a list if a driver
    # parsed it already.
    return {pk: set(json.loads(value) if isinstance(value, str) else value) for pk, value in rows}


def _kept_campaigns(apps, kept: dict[int, set[str]]) -> set[int]:
    """Campaigns whose kept side is still SAP MC's side, as the old pages judged it."""
    sap_ids: dict[int, set[str]] = {pk: set() for pk in kept}
    references = apps.get_model("sapmc", "CampaignReference").objects.filter(
        campaign_id__in=list(kept), plan__isnull=False
    )
    for campaign_id, khoros_id in references.values_list("campaign_id", "plan__khoros_id"):
        sap_ids[campaign_id].add(str(khoros_id))
    return {pk for pk, side in kept.items() if side == sap_ids[pk]}


def kept_sides_become_decisions(apps, schema_editor):
    if not _has_column(schema_editor):
        return  # 0003's first form dropped it already: nothing is left to read.
    kept = _kept_sides(schema_editor)
    still_kept = _kept_campaigns(apps, kept)
    if still_kept:
        _decide(apps, still_kept)
    Campaign = apps.get_model("sapmc", "ExternalCampaign")
    schema_editor.remove_field(Campaign, _drift_kept_column())


def _decide(apps, still_kept: set[int]) -> None:
    """A DriftDecision for each Plan that differs only on campaigns whose side was kept."""
    Reference = apps.get_model("sapmc", "CampaignReference")
    Assignment = apps.get_model("campaigns", "Assignment")
    live = Reference.objects.filter(plan__isnull=False, campaign__removed_at__isnull=True)
    involved = set(
        Reference.objects.filter(campaign_id__in=still_kept, plan__isnull=False).values_list(
            "plan_id", flat=True
        )
    ) | set(Assignment.objects.filter(campaign_id__in=still_kept).values_list("plan_id", flat=True))
    sap: dict[int, set[int]] = defaultdict(set)
    for plan_id, campaign_id in live.filter(plan_id__in=involved).values_list(
        "plan_id", "campaign_id"
    ):
        sap[plan_id].add(campaign_id)
    bridge = dict(
        Assignment.objects.filter(plan_id__in=involved).values_list("plan_id", "campaign_id")
    )
    keeps = _latest_keeps(apps, still_kept)
    decisions = []
    for plan_id in sorted(involved):
        sides, assigned = sap[plan_id], bridge.get(plan_id)
        # The campaigns that showed this Plan as a difference to decide (drift_kind's SAP-only
        # and conflict): it was hidden only if every one of them had been kept.
        differing = {pk for pk in sides if pk != assigned}
        if assigned is not None and assigned not in sides and sides:
            differing.add(assigned)
        if not differing or not differing <= still_kept:
            continue
        actor_id, at = max((keeps[pk] for pk in differing), key=lambda keep: keep[1])
        decisions.append(
            apps.get_model("campaigns", "DriftDecision")(
                plan_id=plan_id,
                sap_campaigns=sorted(sides),
                bridge_campaign_id=assigned,
                decided_by_id=actor_id,
                decided_at=at,
            )
        )
    apps.get_model("campaigns", "DriftDecision").objects.bulk_create(decisions)


def _latest_keeps(apps, campaigns: set[int]) -> dict[int, tuple[int | None, datetime]]:
    """Who kept each campaign's side and when, from its latest keep audit row (or unknown, now)."""
    keeps = dict.fromkeys(campaigns, (None, timezone.now()))
    rows = (
        apps.get_model("campaigns", "AuditEvent")
        .objects.filter(action="drift.keep_bridge", campaign_id__in=campaigns)
        .order_by("at", "pk")
        .values_list("campaign_id", "actor_id", "at")
    )
    for campaign_id, actor_id, at in rows:
        keeps[campaign_id] = (actor_id, at)
    return keeps


def column_back(apps, schema_editor):
    """Undone, the column is back (empty): the decisions stay, they are the newer record."""
    if not _has_column(schema_editor):
        Campaign = apps.get_model("sapmc", "ExternalCampaign")
        schema_editor.add_field(Campaign, _drift_kept_column())


class Migration(migrations.Migration):
    dependencies = [
        ("sapmc", "0005_inbound_report_answer_packages"),
        ("campaigns", "0012_drift_per_plan"),
    ]

    operations = [migrations.RunPython(kept_sides_become_decisions, column_back)]
