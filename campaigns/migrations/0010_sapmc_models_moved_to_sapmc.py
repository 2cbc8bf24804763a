# ExternalCampaign, CampaignReference, InboundReport and InboundCall now belong to the sapmc app
# (same tables): point Assignment.campaign and AuditEvent.campaign at sapmc.ExternalCampaign and
# forget the four models here, state only (the database's foreign keys are unchanged).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0009_schedules_run_the_engine_task"),
        ("sapmc", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="assignment",
                    name="campaign",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assignments",
                        to="sapmc.externalcampaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="campaign",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="sapmc.externalcampaign",
                    ),
                ),
                migrations.DeleteModel(name="CampaignReference"),
                migrations.DeleteModel(name="ExternalCampaign"),
                migrations.DeleteModel(name="InboundReport"),
                migrations.DeleteModel(name="InboundCall"),
            ],
        ),
    ]
