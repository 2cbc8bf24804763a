"""The SAP MC side of the bridge and the human work on it: access, assignments, audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from khoros.models import Initiative, Plan, SyncRun

SYNC_ADMINS = "Sync admins"
MARKETING_MANAGERS = "Marketing managers"


class InitiativeGrant(models.Model):
    """A marketing manager may see and assign the Plans of this Initiative."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="initiative_grants"
    )
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="grants")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "initiative"], name="one_grant_per_initiative")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.initiative}"


class ExternalCampaign(models.Model):
    """An SAP MC campaign of the Khoros category, mirrored by the SAP MC sync. Never deleted."""

    sap_uuid = models.UUIDField(unique=True)
    campaign_id = models.CharField(max_length=10)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    lifecycle_status = models.CharField(max_length=4, blank=True)
    lifecycle_status_name = models.CharField(max_length=60, blank=True)
    category = models.CharField(max_length=32, blank=True)
    marketing_area = models.CharField(max_length=40, blank=True)
    owner = models.CharField(max_length=80, blank=True)
    sap_changed = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    # The SAP-side Plan set an admin chose to keep the bridge's assignments against; drift on
    # exactly that set is acknowledged, any new change in SAP MC shows as drift again.
    drift_kept = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["start", "name"]
        indexes = [models.Index(fields=["start", "end"]), models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.campaign_id})"


class CampaignReference(models.Model):
    """An external campaign reference as SAP MC holds it (read-only there, mirrored here)."""

    campaign = models.ForeignKey(
        ExternalCampaign, on_delete=models.CASCADE, related_name="sap_references"
    )
    external_campaign_id = models.CharField(max_length=32)
    external_campaign_uuid = models.CharField(max_length=36, blank=True)
    name = models.CharField(max_length=255, blank=True)
    advertiser = models.CharField(max_length=32, blank=True)
    managing_party = models.CharField(max_length=32, blank=True)
    # Resolved from external_campaign_id (a Plan UUID without hyphens) when the Plan is mirrored.
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="sap_references"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_campaign_id"], name="one_reference_per_plan_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.external_campaign_id}"


class Assignment(models.Model):
    """A Plan feeds this campaign: made by a person in the bridge, audited."""

    # One-to-one: a Plan feeds at most one campaign at a time, enforced by the database.
    plan = models.OneToOneField(Plan, on_delete=models.PROTECT, related_name="assignment")
    campaign = models.ForeignKey(
        ExternalCampaign, on_delete=models.PROTECT, related_name="assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-assigned_at"]

    def __str__(self) -> str:
        return f"{self.plan_id} → {self.campaign_id}"


class AuditEvent(models.Model):
    """One human change, written in the same transaction as the change itself."""

    class Action(models.TextChoices):
        ASSIGNMENT_CREATE = "assignment.create", "Plan assigned"
        ASSIGNMENT_DELETE = "assignment.delete", "Plan unassigned"
        ASSIGNMENT_MOVE = "assignment.move", "Plan moved"
        DRIFT_ADOPT_SAP = "drift.adopt_sap", "Drift: adopted SAP MC's side"
        DRIFT_KEEP_BRIDGE = "drift.keep_bridge", "Drift: kept the bridge's side"
        GRANT_CREATE = "grant.create", "Access granted"
        GRANT_DELETE = "grant.delete", "Access revoked"
        SCHEDULE_UPDATE = "schedule.update", "Schedule changed"

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the trail still names a person whose account was deleted.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices)
    campaign = models.ForeignKey(
        ExternalCampaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.CharField(max_length=500)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "-at"]), models.Index(fields=["campaign", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"


class AlertState(models.Model):
    """Whether admins were told a sync kind is failing: one email per outage, one on recovery."""

    kind = models.CharField(max_length=32, primary_key=True)
    alerting = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind}: {'alerting' if self.alerting else 'ok'}"


class InboundReport(models.Model):
    """A success-data request of SAP MC: its range and campaigns, then its results, frozen."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        COMPLETED = "COMPLETED", "Completed"

    # "R" and 20 url-safe characters: unguessable, so one caller cannot read another's report.
    report_id = models.CharField(max_length=32, unique=True)
    from_date = models.DateField()
    to_date = models.DateField()  # inclusive
    external_campaign_ids = models.JSONField(default=list)
    # The KPI structure asked for (SAP MC's KPI names, in answer order).
    kpi_names = models.JSONField(default=list)
    # The zone the daily buckets are counted in: the Khoros company zone.
    timezone = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Written once at completion and never again: SAP MC may ask for the same report many times
    # and must always get the same numbers, whatever later KPI syncs change. One row per Plan
    # and day: [ExternalCampaignID, day, *the values of kpi_names].
    results = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    caller = models.CharField(max_length=150, blank=True)
    # The one KPI sync run this report waits on (queued for it, or already queued or running
    # when it was made); None when the KPIs were fresh enough at call 1. Polls never start
    # another: without this, every poll after a failed run queued a new sync and export.
    kpi_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the last successful KPI sync behind the frozen numbers finished: how old they are.
    data_as_of = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.report_id} ({self.status})"


class InboundCall(models.Model):
    """One call SAP MC (or anyone) made to the inbound endpoints, whatever its outcome."""

    at = models.DateTimeField()
    method = models.CharField(max_length=10)
    endpoint = models.CharField(max_length=64)
    # The user name the caller sent, right or wrong; never its password.
    caller = models.CharField(max_length=150, blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    correlation_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="campaigns_inboundcall_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.endpoint} {self.status_code}"


class SavedView(models.Model):
    """A person's named calendar filter ("my Initiatives, next 90 days"): a query string.

    Not audited: it is a private bookmark that changes no shared data and nobody else sees.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    # The calendar or list query string it applies (filters, zoom, sort), without date or page.
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="one_saved_view_name_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"
