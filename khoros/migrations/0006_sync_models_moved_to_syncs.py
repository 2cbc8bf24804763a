# SyncRun and SyncLease now belong to the syncs app (same tables): forget them here, state only,
# after pointing KpiExport.run at syncs.SyncRun (the database's foreign key is unchanged).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("khoros", "0005_company_timezone"),
        ("syncs", "0001_initial"),
        # InboundReport.kpi_run must point at syncs.SyncRun before khoros forgets its SyncRun.
        ("campaigns", "0008_alertstate_moved_to_syncs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="kpiexport",
                    name="run",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="kpi_exports",
                        to="syncs.syncrun",
                    ),
                ),
                migrations.DeleteModel(name="SyncLease"),
                migrations.DeleteModel(name="SyncRun"),
            ],
        ),
    ]
