# AlertState now belongs to the syncs app (same table): forget it here, state only, and point
# InboundReport.kpi_run at syncs.SyncRun (same table: the database's foreign key is unchanged).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0007_report_kpi_run"),
        ("syncs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="inboundreport",
                    name="kpi_run",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="syncs.syncrun",
                    ),
                ),
                migrations.DeleteModel(name="AlertState"),
            ],
        ),
    ]
