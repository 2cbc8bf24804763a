"""The human side of the bridge: who may see which Initiatives."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from khoros.models import Initiative

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
