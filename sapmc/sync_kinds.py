"""The SAP MC sync kind, its secrets and the alert recipients, registered with the engine."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

import syncs
from sapmc.kinds import SAPMC_CAMPAIGNS, SAPMC_SUCCESS_PUSH
from syncs.access import SYNC_ADMINS

__all__ = ["SAPMC_CAMPAIGNS", "SAPMC_SUCCESS_PUSH", "register"]


def sync_admin_emails() -> list[str]:
    """The addresses of the active sync admins (and superusers): who gets alert emails."""
    users = (
        get_user_model()
        .objects.filter(Q(groups__name=SYNC_ADMINS) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
    )
    return sorted({u.email for u in users})


def push_enabled() -> bool:
    from django.conf import settings

    return settings.SAPMC_SUCCESS_PUSH_ENABLED


def register() -> None:
    from khoros.kinds import KHOROS_KPIS
    from sapmc import client, push, services, sync

    syncs.register(
        value=SAPMC_CAMPAIGNS,
        name="SAPMC_CAMPAIGNS",
        label="SAP MC campaigns",
        service=sync.sync_sapmc_campaigns,
        client_factory=client.client_from_settings,
        system="SAP MC",
        interval_setting="SAPMC_SYNC_MINUTES",
    )
    syncs.register(
        value=SAPMC_SUCCESS_PUSH,
        name="SAPMC_SUCCESS_PUSH",
        label="SAP MC success push",
        service=push.push_successes,
        client_factory=client.client_from_settings,
        system="SAP MC",
        interval_setting="SAPMC_SUCCESS_PUSH_MINUTES",
        enabled=push_enabled,
    )
    # New numbers have just arrived: push what has settled (khoros never imports sapmc).
    syncs.register_follow_up(after=KHOROS_KPIS, kind=SAPMC_SUCCESS_PUSH, when=push_enabled)
    syncs.register_secrets("SAPMC_PASSWORD", "SAPMC_INBOUND_PASSWORD")
    syncs.register_alert_recipients(sync_admin_emails)
    # The call log grows with every inbound call: keep SAPMC_CALL_LOG_DAYS of it.
    syncs.register_schedule(
        name="SAP MC call log pruning",
        func="sapmc.tasks.prune_inbound_calls_task",
        interval_setting="SAPMC_CALL_LOG_PRUNE_MINUTES",
    )
    # Success reports: SAP MC polls one until it completes; keep SAPMC_REPORT_DAYS after that.
    syncs.register_pruner(name="SAP MC success reports", func=services.prune_inbound_reports)
