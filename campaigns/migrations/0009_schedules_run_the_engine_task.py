# Installed schedules named the SAP MC sync's and the alert check's functions (campaigns.tasks),
# which are gone: point them at the engine's one task, with the kind as argument, keeping the
# interval and on/off an admin chose. setup_schedules would do the same at the next start.

from django.db import migrations

RENAMED = {
    "campaigns.tasks.sync_sapmc_task": ("syncs.tasks.sync_task", "('sapmc_campaigns',)"),
    "campaigns.tasks.check_alerts_task": ("syncs.tasks.check_alerts_task", None),
}


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, (func, args) in RENAMED.items():
        Schedule.objects.filter(func=old).update(func=func, args=args)


def backwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, (func, args) in RENAMED.items():
        Schedule.objects.filter(func=func, args=args).update(func=old, args=None)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0008_alertstate_moved_to_syncs"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
