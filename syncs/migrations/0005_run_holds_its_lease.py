# The lease moves onto the run (issue 13): a running run holds it until `lease_expires_at`, and
# a partial unique index allows one running run per kind. The lease rows' expiries are copied
# onto the runs that held them before the table goes, so a live run stays live.

from django.db import migrations, models
from django.db.models.functions import Now


def copy_leases(apps, schema_editor):
    SyncLease = apps.get_model("syncs", "SyncLease")
    SyncRun = apps.get_model("syncs", "SyncRun")
    holders = {}
    for lease in SyncLease.objects.exclude(run=None):
        SyncRun.objects.filter(pk=lease.run_id).update(lease_expires_at=lease.expires_at)
        holders[lease.kind] = lease.run_id
    # The index admits one running run per kind: any other could only be one whose worker died
    # without anyone noticing (it did not hold the lease), so it is recorded as such.
    running = SyncRun.objects.filter(status="running").order_by("kind", "-queued_at", "-id")
    kept = dict(holders)
    for run in running:
        if kept.setdefault(run.kind, run.pk) == run.pk:
            continue
        SyncRun.objects.filter(pk=run.pk).update(
            status="failed",
            finished_at=Now(),
            lease_expires_at=None,
            error="The worker stopped sending heartbeats; another run held the lease.",
        )


def copy_back(apps, schema_editor):
    SyncLease = apps.get_model("syncs", "SyncLease")
    SyncRun = apps.get_model("syncs", "SyncRun")
    for run in SyncRun.objects.filter(status="running"):
        SyncLease.objects.update_or_create(
            kind=run.kind, defaults={"run_id": run.pk, "expires_at": run.lease_expires_at}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("syncs", "0004_trigger_follow_up"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(copy_leases, copy_back),
        migrations.AddConstraint(
            model_name="syncrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "running")),
                fields=("kind",),
                name="syncs_one_running_run_per_kind",
            ),
        ),
        migrations.DeleteModel(name="SyncLease"),
    ]
