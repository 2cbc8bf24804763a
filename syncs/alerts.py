"""Alert the sync admins once per outage of a sync kind, and once when it recovers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from syncs import registry
from syncs.health import KindHealth, Problem, sync_freshness
from syncs.models import AlertState, Notification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertSent:
    kind: str
    recovered: bool
    recipients: tuple[str, ...]


def _recipients() -> list[str]:
    if settings.ALERT_EMAILS:
        return list(settings.ALERT_EMAILS)
    # The app that knows the roles names the admins (campaigns: the sync admins' addresses).
    return sorted({email for source in registry.alert_recipient_sources() for email in source()})


def _failing_reason(kind: KindHealth) -> Problem | None:
    """Why `kind` is failing now, or None when it is fine."""
    if kind.failing:
        n = settings.ALERT_AFTER_FAILURES
        return Problem(f"the last {n} runs failed; the latest said: {kind.failing_error}.")
    if kind.stale:
        if kind.last_success is None:
            return Problem("it has never succeeded.")
        return Problem("it has not succeeded", since=kind.last_success)
    return None


def alerts_check() -> list[AlertSent]:
    """Compare each kind's state with what admins were told; send what they must know now."""
    sent: list[AlertSent] = []
    for kind in sync_freshness():
        reason = _failing_reason(kind)
        with transaction.atomic():
            state, _ = AlertState.objects.select_for_update().get_or_create(kind=kind.kind)
            if (reason is not None) == state.alerting:
                continue  # Nothing new to say: one email per outage, not one per failure.
            if reason is None and (kind.paused or kind.waiting_on_run):
                # Switched off is not "succeeds again", nor is a run under way that may still
                # fail: an outage stays open until a success.
                continue
            recipients = _recipients()
            now = timezone.now()
            since = None
            if reason is not None:
                subject = f"[smcbridge] {kind.label} sync is failing"
                first_line = f"The {kind.label} sync needs attention: {reason.text}"
                since = reason.since
                # The email's time is UTC, said so; the app shows `since` in the viewer's zone.
                body = (
                    f"The {kind.label} sync needs attention: {reason}\n\n"
                    "You will get one more email when it recovers."
                )
                state.alerting, state.since, state.reason = True, now, str(reason)[:500]
            else:
                down_for = now - state.since if state.since else None
                subject = f"[smcbridge] {kind.label} sync recovered"
                body = f"The {kind.label} sync succeeds again" + (
                    f" after {int(down_for.total_seconds() // 60)} minutes." if down_for else "."
                )
                first_line = body
                state.alerting, state.since, state.reason = False, None, ""
            state.last_sent_at = now
            state.save()
            if reason is None:
                # The outage is over: its alert needs no one's dismissal, the recovery says it.
                Notification.objects.filter(
                    kind=kind.kind, event=Notification.Event.OUTAGE, dismissed_at__isnull=True
                ).update(dismissed_at=now, closed_by_recovery=True)
            # In the app too: a sync admin without a mailbox (or a broken mail relay) still sees it.
            Notification.objects.create(
                kind=kind.kind,
                event=Notification.Event.RECOVERY if reason is None else Notification.Event.OUTAGE,
                text=f"{subject.removeprefix('[smcbridge] ')}. {first_line}",
                since=since,
                created_at=now,
            )
            if recipients:
                # Sent inside the transaction: if sending fails, the state is not saved and the
                # next check tries again instead of believing the admins were told.
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
            else:
                logger.warning(
                    "alert for %s not sent: no sync admin has an email address", kind.kind
                )
            sent.append(
                AlertSent(kind.kind, recovered=reason is None, recipients=tuple(recipients))
            )
    return sent
