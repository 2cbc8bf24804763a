"""The SAP MC sync kind, its secrets and the alert recipients, registered with the engine."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

import syncs
from syncs.access import SYNC_ADMINS

# Stored in SyncRun.kind and SyncLease.kind: never change this value.
SAPMC_CAMPAIGNS = "sapmc_campaigns"


def sync_admin_emails() -> list[str]:
    """The addresses of the active sync admins (and superusers): who gets alert emails."""
    users = (
        get_user_model()
        .objects.filter(Q(groups__name=SYNC_ADMINS) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
    )
    return sorted({u.email for u in users})


def register() -> None:
    from sapmc import client, sync

    syncs.register(
        value=SAPMC_CAMPAIGNS,
        name="SAPMC_CAMPAIGNS",
        label="SAP MC campaigns",
        service=sync.sync_sapmc_campaigns,
        client_factory=client.client_from_settings,
        system="SAP MC",
        interval_setting="SAPMC_SYNC_MINUTES",
    )
    syncs.register_secrets("SAPMC_PASSWORD", "SAPMC_INBOUND_PASSWORD")
    syncs.register_alert_recipients(sync_admin_emails)
    # The call log grows with every inbound call: keep SAPMC_CALL_LOG_DAYS of it.
    syncs.register_schedule(
        name="SAP MC call log pruning",
        func="sapmc.tasks.prune_inbound_calls_task",
        interval_setting="SAPMC_CALL_LOG_PRUNE_MINUTES",
    )
