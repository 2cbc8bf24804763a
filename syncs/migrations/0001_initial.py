# SyncRun and SyncLease move from khoros/, AlertState from campaigns/: state only. The tables
# keep their names (Meta.db_table), so no row is copied and nothing is lost.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import syncs.registry

MOVED = [("khoros", "syncrun"), ("khoros", "synclease"), ("campaigns", "alertstate")]


def move_content_types(apps, schema_editor):
    """Point the moved models' content types (and so their permissions) at the syncs app."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, model in MOVED:
        if ContentType.objects.filter(app_label="syncs", model=model).exists():
            continue
        ContentType.objects.filter(app_label=app_label, model=model).update(app_label="syncs")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, model in MOVED:
        ContentType.objects.filter(app_label="syncs", model=model).update(app_label=app_label)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("khoros", "0005_company_timezone"),
        ("campaigns", "0007_report_kpi_run"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="SyncRun",
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
                        (
                            "kind",
                            models.CharField(choices=syncs.registry.kind_choices, max_length=32),
                        ),
                        (
                            "trigger",
                            models.CharField(
                                choices=[
                                    ("schedule", "Schedule"),
                                    ("button", "Button"),
                                    ("command", "Command"),
                                    ("api", "API"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("partial", "Partial"),
                                    ("failed", "Failed"),
                                    ("deferred", "Deferred"),
                                    ("skipped", "Skipped"),
                                ],
                                default="queued",
                                max_length=16,
                            ),
                        ),
                        ("queued_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                        ("progress_done", models.PositiveIntegerField(default=0)),
                        ("progress_total", models.PositiveIntegerField(blank=True, null=True)),
                        ("created_count", models.PositiveIntegerField(default=0)),
                        ("updated_count", models.PositiveIntegerField(default=0)),
                        ("unchanged_count", models.PositiveIntegerField(default=0)),
                        ("removed_count", models.PositiveIntegerField(default=0)),
                        ("failed_count", models.PositiveIntegerField(default=0)),
                        ("http_requests", models.PositiveIntegerField(default=0)),
                        ("http_retries", models.PositiveIntegerField(default=0)),
                        ("error", models.TextField(blank=True)),
                        ("outcomes", models.JSONField(blank=True, default=list)),
                        (
                            "requested_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "khoros_syncrun",
                        "ordering": ["-queued_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["kind", "-queued_at"], name="khoros_sync_kind_befbe3_idx"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SyncLease",
                    fields=[
                        (
                            "kind",
                            models.CharField(
                                choices=syncs.registry.kind_choices,
                                max_length=32,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("expires_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "run",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="syncs.syncrun",
                            ),
                        ),
                    ],
                    options={"db_table": "khoros_synclease"},
                ),
                migrations.CreateModel(
                    name="AlertState",
                    fields=[
                        (
                            "kind",
                            models.CharField(max_length=32, primary_key=True, serialize=False),
                        ),
                        ("alerting", models.BooleanField(default=False)),
                        ("since", models.DateTimeField(blank=True, null=True)),
                        ("reason", models.CharField(blank=True, max_length=500)),
                        ("last_sent_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "campaigns_alertstate"},
                ),
            ],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
