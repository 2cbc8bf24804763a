# Installed schedules named one task function per Khoros kind (khoros.tasks.*),
# which are gone: point them at the engine's one task, with the kind as argument, keeping the
# interval and on/off an admin chose. setup_schedules would do the same at the next start.

from django.db import migrations

RENAMED = {
    "khoros.tasks.sync_khoros_task": ("syncs.tasks.sync_task", "('khoros_plans',)"),
    "khoros.tasks.sync_khoros_kpis_task": ("syncs.tasks.sync_task", "('khoros_kpis',)"),
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
        ("khoros", "0006_sync_models_moved_to_syncs"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
