# The sync kinds' schedules pass the time each firing was due (django-q2's intended_date_kwarg),
# so that a task the broker redelivers finds the run its firing began. setup_schedules would do
# the same at the next start; this covers an upgrade whose schedules run before that.

from django.db import migrations

# The engine's task, and the per-kind tasks that the apps' own migrations point at it (they may
# run after this one; they keep this field).
SYNC_TASKS = [
    "syncs.tasks.sync_task",
    "khoros.tasks.sync_khoros_task",
    "khoros.tasks.sync_khoros_kpis_task",
    "campaigns.tasks.sync_sapmc_task",
]


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(func__in=SYNC_TASKS).update(intended_date_kwarg="fired_for")


def backwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(func__in=SYNC_TASKS).update(intended_date_kwarg=None)


class Migration(migrations.Migration):
    dependencies = [
        ("syncs", "0008_alertstate_pending_email"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
