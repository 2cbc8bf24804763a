"""The human work on SAP MC's campaigns: access grants, assignments, audit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from khoros.models import Initiative, Plan
from sapmc.models import ExternalCampaign
from smcbridge.choices import QuickChoiceLabels
from syncs.access import SYNC_ADMINS as SYNC_ADMINS  # the two role names, side by side

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


class DriftDecision(models.Model):
    """Someone kept the bridge's assignment of one Plan against what SAP MC said at that moment.

    The decision holds only while both sides are as recorded: the live campaigns SAP MC
    referenced the Plan under and the campaign the bridge assigned it to. Any later change on
    either side is a new difference and shows again; nothing is hidden for good.
    """

    plan = models.OneToOneField(Plan, on_delete=models.CASCADE, related_name="drift_decision")
    # Primary keys of the live campaigns whose SAP MC references named the Plan, sorted.
    sap_campaigns = models.JSONField(default=list)
    bridge_campaign = models.ForeignKey(
        ExternalCampaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.plan_id}: keep {self.bridge_campaign_id} against {self.sap_campaigns}"


class AuditEvent(QuickChoiceLabels, models.Model):
    """One human change, written in the same transaction as the change itself."""

    class Action(models.TextChoices):
        ASSIGNMENT_CREATE = "assignment.create", "Plan assigned"
        ASSIGNMENT_DELETE = "assignment.delete", "Plan unassigned"
        ASSIGNMENT_MOVE = "assignment.move", "Plan moved"
        DRIFT_ADOPT_SAP = "drift.adopt_sap", "Drift: adopted SAP MC's side"
        DRIFT_KEEP_BRIDGE = "drift.keep_bridge", "Drift: kept the bridge's side"
        DRIFT_UNDO = "drift.undo", "Drift: adoption undone"
        GRANT_CREATE = "grant.create", "Access granted"
        GRANT_DELETE = "grant.delete", "Access revoked"
        PUSH_RESOLVE = "push.resolve", "Success push outcome settled"
        SCHEDULE_UPDATE = "schedule.update", "Schedule changed"
        USER_CREATE = "user.create", "User created"
        USER_UPDATE = "user.update", "User changed"
        USER_PASSWORD = "user.password", "User's password changed"
        USER_DELETE = "user.delete", "User deleted"
        GROUP_CREATE = "group.create", "Group created"
        GROUP_UPDATE = "group.update", "Group changed"
        GROUP_DELETE = "group.delete", "Group deleted"

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
    # Any JSON value (null included); what each action stores is set where it is recorded.
    before: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)
    after: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "-at"]), models.Index(fields=["campaign", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"


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
