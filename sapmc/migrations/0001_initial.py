# ExternalCampaign, CampaignReference, InboundReport and InboundCall move from campaigns/: state
# only. The tables keep their names (Meta.db_table), so no row is copied and nothing is lost;
# campaigns' 0010 then points Assignment and AuditEvent at these and forgets its own.

import django.db.models.deletion
from django.db import migrations, models

MOVED = ["externalcampaign", "campaignreference", "inboundreport", "inboundcall"]


def move_content_types(apps, schema_editor):
    """Point the moved models' content types (and so their permissions) at the sapmc app."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if ContentType.objects.filter(app_label="sapmc", model=model).exists():
            continue
        ContentType.objects.filter(app_label="campaigns", model=model).update(app_label="sapmc")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="sapmc", model__in=MOVED).update(app_label="campaigns")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("khoros", "0007_schedules_run_the_engine_task"),
        ("syncs", "0001_initial"),
        # The tables are made by campaigns' migrations, before this app says it owns them.
        ("campaigns", "0009_schedules_run_the_engine_task"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ExternalCampaign",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("sap_uuid", models.UUIDField(unique=True)),
                        ("campaign_id", models.CharField(max_length=10)),
                        ("name", models.CharField(max_length=255)),
                        ("description", models.TextField(blank=True)),
                        ("start", models.DateField(blank=True, null=True)),
                        ("end", models.DateField(blank=True, null=True)),
                        ("lifecycle_status", models.CharField(blank=True, max_length=4)),
                        ("lifecycle_status_name", models.CharField(blank=True, max_length=60)),
                        ("category", models.CharField(blank=True, max_length=32)),
                        ("marketing_area", models.CharField(blank=True, max_length=40)),
                        ("owner", models.CharField(blank=True, max_length=80)),
                        ("sap_changed", models.DateTimeField(blank=True, null=True)),
                        ("raw", models.JSONField(default=dict)),
                        ("first_seen", models.DateTimeField()),
                        ("last_seen", models.DateTimeField()),
                        ("removed_at", models.DateTimeField(blank=True, null=True)),
                        ("drift_kept", models.JSONField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "campaigns_externalcampaign",
                        "ordering": ["start", "name"],
                        "indexes": [
                            models.Index(
                                fields=["start", "end"], name="campaigns_e_start_8617b0_idx"
                            ),
                            models.Index(fields=["name"], name="campaigns_e_name_33c318_idx"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="InboundCall",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("at", models.DateTimeField()),
                        ("method", models.CharField(max_length=10)),
                        ("endpoint", models.CharField(max_length=64)),
                        ("caller", models.CharField(blank=True, max_length=150)),
                        ("status_code", models.PositiveSmallIntegerField()),
                        ("duration_ms", models.PositiveIntegerField(default=0)),
                        ("correlation_id", models.CharField(blank=True, max_length=100)),
                        ("error_code", models.CharField(blank=True, max_length=32)),
                    ],
                    options={
                        "db_table": "campaigns_inboundcall",
                        "ordering": ["-at", "-id"],
                        "indexes": [models.Index(fields=["at"], name="campaigns_inboundcall_at")],
                    },
                ),
                migrations.CreateModel(
                    name="InboundReport",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("report_id", models.CharField(max_length=32, unique=True)),
                        ("from_date", models.DateField()),
                        ("to_date", models.DateField()),
                        ("external_campaign_ids", models.JSONField(default=list)),
                        ("kpi_names", models.JSONField(default=list)),
                        ("timezone", models.CharField(blank=True, max_length=64)),
                        (
                            "status",
                            models.CharField(
                                choices=[("PENDING", "Pending"), ("COMPLETED", "Completed")],
                                default="PENDING",
                                max_length=16,
                            ),
                        ),
                        ("results", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField()),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                        ("caller", models.CharField(blank=True, max_length=150)),
                        ("data_as_of", models.DateTimeField(blank=True, null=True)),
                        (
                            "kpi_run",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="syncs.syncrun",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "campaigns_inboundreport",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="CampaignReference",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("external_campaign_id", models.CharField(max_length=32)),
                        ("external_campaign_uuid", models.CharField(blank=True, max_length=36)),
                        ("name", models.CharField(blank=True, max_length=255)),
                        ("advertiser", models.CharField(blank=True, max_length=32)),
                        ("managing_party", models.CharField(blank=True, max_length=32)),
                        (
                            "plan",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="sap_references",
                                to="khoros.plan",
                            ),
                        ),
                        (
                            "campaign",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sap_references",
                                to="sapmc.externalcampaign",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "campaigns_campaignreference",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("campaign", "external_campaign_id"),
                                name="one_reference_per_plan_id",
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
