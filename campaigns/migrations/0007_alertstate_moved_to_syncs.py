# AlertState now belongs to the syncs app (same table): forget it here, state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0006_inbound_api"),
        ("syncs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="AlertState")],
        ),
    ]
