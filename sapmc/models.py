"""The SAP MC side: its campaign mirror, and what SAP MC asks of the bridge's inbound API.

These models were campaigns'; they moved here state only (sapmc/migrations/0001_initial.py), so
each keeps its table by Meta.db_table and no row was copied.
"""

from __future__ import annotations

from django.db import models

from khoros.models import Plan
from smcbridge.choices import QuickChoiceLabels
from smcbridge.names import shown_name
from syncs.models import SyncRun


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

    class Meta:
        db_table = "campaigns_externalcampaign"
        ordering = ["start", "name"]
        indexes = [models.Index(fields=["start", "end"]), models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.campaign_id})"

    @property
    def display_name(self) -> str:
        """The name as pages show it: a blank one as "(no name) · <SAP MC campaign ID>"."""
        return self.name_shown(self.name, self.campaign_id, self.sap_uuid)

    @staticmethod
    def name_shown(name: str, campaign_id: str, sap_uuid: object) -> str:
        """display_name of a campaign read as values, not as a model."""
        return shown_name(name, campaign_id or sap_uuid)


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
        db_table = "campaigns_campaignreference"
        constraints = [
            # SAP MC's key is the reference's UUID alone: two references of one campaign may
            # name the same Plan (another advertiser, say), and both are mirrored.
            models.UniqueConstraint(
                fields=["campaign", "external_campaign_uuid"],
                condition=~models.Q(external_campaign_uuid=""),
                name="one_reference_per_sap_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.external_campaign_id}"


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
    # Plan-days of the range held only as days of another zone than `timezone` (counted before
    # the company's zone changed, not counted again yet): left out of the results, and said.
    other_zone_days = models.PositiveIntegerField(default=0)
    # The completed answer of each package as the JSON text sent (package 1 first), serialized
    # once at completion: a poll then sends these bytes as they are, without building 10,000
    # row objects again. Empty for reports completed before the bridge stored them.
    answer_packages = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "campaigns_inboundreport"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.report_id} ({self.status})"


class InboundCall(models.Model):
    """One call SAP MC (or anyone) made to the inbound endpoints, whatever its outcome; or a
    burst of calls that need no row each (sapmc.inbound.views): those without usable
    credentials and those of openapi.json, counted on one row per address, endpoint, method,
    status and hour (`burst`), with the first call's caller, duration and correlation id. Calls
    refused while their address is locked out get no row: the lockout counts them.
    """

    at = models.DateTimeField()
    method = models.CharField(max_length=10)
    endpoint = models.CharField(max_length=64)
    # The user name the caller sent, right or wrong; never its password.
    caller = models.CharField(max_length=150, blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    correlation_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    # How many calls the row stands for: 1, or those of its burst so far. Defaults in the
    # database, so that the call log's INSERT of one call (written once, sapmc.inbound.http)
    # names none of these columns, and one written before them still works.
    calls = models.PositiveIntegerField(db_default=1)
    # A burst's row only: the hour (UTC) it counts, the caller's address (an IPv6 address as its
    # /64) and the latest of its calls (`at` is the first).
    burst = models.DateTimeField(null=True, blank=True)
    address = models.CharField(max_length=45, blank=True, db_default="")
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "campaigns_inboundcall"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="campaigns_inboundcall_at")]
        constraints = [
            # Two workers counting the same burst at once add to one row (an upsert on this).
            models.UniqueConstraint(
                fields=["burst", "address", "endpoint", "method", "status_code"],
                condition=models.Q(burst__isnull=False),
                name="sapmc_one_row_per_call_burst",
            )
        ]

    def __str__(self) -> str:
        shown = f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.endpoint} {self.status_code}"
        return f"{shown} ({self.calls} calls)" if self.burst else shown


class InboundLockout(models.Model):
    """Failed Basic-auth calls of one address to SAP MC's endpoints, and its lockout.

    While an address is locked its calls are answered 429 and counted here (`refused`) instead of
    each getting a row in the call log.
    """

    ip = models.CharField(max_length=45, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    refused = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.ip}: {self.failures} failures, locked until {self.locked_until}"


class SuccessSent(QuickChoiceLabels, models.Model):
    """The ledger of the success push: one row per Plan and day, what SAP MC made of it.

    A created row is never sent again (SAP MC stores a second POST as a second row: it would
    count the day twice), whatever happens later to the numbers or the Plan's assignment; the
    campaign it went to stays recorded here. A refused row was not created and is sent again by
    the next run. An unknown outcome (the answer could not say) is not sent again blindly.
    """

    class Status(models.TextChoices):
        CREATED = "created", "Sent"
        REFUSED = "refused", "Refused"
        UNKNOWN = "unknown", "Outcome unknown"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="successes_sent")
    day = models.DateField()
    # The SAP MC campaign the row went to (or was refused for): the assignment at that moment.
    campaign = models.ForeignKey(
        ExternalCampaign, on_delete=models.PROTECT, related_name="successes_sent"
    )
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    sent_at = models.DateTimeField()
    # The numbers sent (ours: impressions, clicks ...) and their hash: a later change in Khoros
    # shows as "changed after sending" without being sent again.
    numbers = models.JSONField(default=dict)
    numbers_hash = models.CharField(max_length=64)
    success_uuid = models.CharField(max_length=36, blank=True)  # SAP MC's CampaignSuccessUUID
    field = models.CharField(max_length=64, blank=True)  # the property SAP MC named
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["plan", "day"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "day"], name="sapmc_one_success_per_plan_day")
        ]
        indexes = [
            models.Index(fields=["campaign", "day"]),
            # The rows waiting for a sync admin (the dashboard lists their campaigns): few
            # among one row per Plan and day sent.
            models.Index(
                fields=["campaign"],
                condition=models.Q(status="unknown"),
                name="sapmc_success_unknown",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.day} → {self.campaign_id} ({self.status})"
