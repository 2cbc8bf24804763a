"""Alert the sync admins once per outage of a sync kind, and once when it recovers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from syncs import registry
from syncs.health import KindHealth, Problem, sync_freshness
from syncs.models import AlertState, Notification, SyncRun
from syncs.schedules import declared_schedules

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertSent:
    """An alert this check raised (or one whose email the relay refused before and it sent)."""

    kind: str
    recovered: bool
    recipients: tuple[str, ...]
    # False while the mail relay refuses it: the in-app alert stands, the next check retries.
    emailed: bool = True


def _recipients() -> list[str]:
    if settings.ALERT_EMAILS:
        return list(settings.ALERT_EMAILS)
    # The app that knows the roles names the admins (campaigns: the sync admins' addresses).
    return sorted({email for source in registry.alert_recipient_sources() for email in source()})


@dataclass(frozen=True)
class Reason:
    """Why a kind needs attention, and the words its subject says it in."""

    problem: Problem
    # "is failing", or "has not run yet" for a kind whose first scheduled run is still ahead.
    state: str = "is failing"


NOT_RUN_YET = "has not run yet"
# How the reason of a kind that has not run yet begins (AlertState.reason keeps it).
FIRST_RUN_AHEAD = "its first scheduled run is due at"


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _first_run_due(kind: str) -> tuple[bool, datetime | None]:
    """Whether no run of `kind` was ever recorded, and then when its schedule first fires: None
    when it is not installed or has fired already (django-q2 then names its task).
    setup_schedules puts the first firing one interval after it ran."""
    if SyncRun.objects.filter(kind=kind).exists():
        return False, None
    name = next((s.name for s in declared_schedules() if s.kind == kind), None)
    schedule = Schedule.objects.filter(name=name).values_list("next_run", "task").first()
    if schedule is None or schedule[1]:
        return True, None
    return True, schedule[0]


def _links(kind: str, *, failing: bool) -> str:
    """Where to look, as the email's last lines: the latest failed run (of a failing kind) and
    the kind's runs, at SITE_URL. Empty when SITE_URL is not set."""
    if not settings.SITE_URL:
        return ""
    lines = [f"Its runs: {settings.SITE_URL}{reverse('sync-history')}?{urlencode({'kind': kind})}"]
    if failing:
        latest = (
            SyncRun.objects.filter(kind=kind, status=SyncRun.Status.FAILED)
            .order_by("-queued_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if latest is not None:
            url = f"{settings.SITE_URL}{reverse('sync-run', args=[latest])}"
            lines.insert(0, f"The latest failed run: {url}")
    return "\n\n" + "\n".join(lines)


def _failing_reason(kind: KindHealth) -> Reason | None:
    """Why `kind` needs attention now, or None when it is fine."""
    if kind.failing:
        n = settings.ALERT_AFTER_FAILURES
        return Reason(Problem(f"the last {n} runs failed; the latest said: {kind.failing_error}."))
    if kind.stale:
        if kind.last_success is not None:
            return Reason(Problem("it has not succeeded", since=kind.last_success))
        never_ran, due = _first_run_due(kind.kind)
        if not never_ran:
            return Reason(Problem("it has never succeeded."))
        # A fresh deployment whose first syncs were not run: nothing failed, so not "failing"
        # (it read as an outage to every admin 5 minutes after the start) while the first
        # scheduled run is still ahead; once it is past, the worker is not running it.
        if due is not None and due > timezone.now():
            return Reason(
                Problem(f"{FIRST_RUN_AHEAD} {_utc(due)} (`manage.py first_syncs` runs it now)."),
                state=NOT_RUN_YET,
            )
        return Reason(Problem("it has never run: is the worker (`manage.py qcluster`) running?"))
    return None


def alerts_check() -> list[AlertSent]:
    """Compare each kind's state with what admins were told; send what they must know now.

    The state and the in-app alert are saved first; the email is sent after, outside the
    transaction (a slow relay holds no lock), and an email the relay refuses waits in the state
    for the next check: a relay that is down neither stops the check nor loses the alert.
    """
    sent: list[AlertSent] = []
    for kind in sync_freshness():
        change = _record_change(kind)
        email = _claim_pending_email(kind.kind)
        if email is None:
            if change is not None:  # no one to send it to
                sent.append(AlertSent(kind.kind, recovered=change, recipients=()))
            continue
        subject, body, recovered = email
        recipients = _recipients()
        emailed = _send(kind.kind, subject, body, recipients)
        if change is not None or emailed:
            sent.append(
                AlertSent(kind.kind, recovered, recipients=tuple(recipients), emailed=emailed)
            )
    return sent


def _record_change(kind: KindHealth) -> bool | None:
    """Save a change of `kind`'s alert state, its in-app alert and its email to send.

    None when nothing changed, else whether it recovered.
    """
    reason = _failing_reason(kind)
    with transaction.atomic():
        state, _ = AlertState.objects.select_for_update().get_or_create(kind=kind.kind)
        # A kind that had not run yet and now fails, or whose first run came and went without
        # a run: the outage the admins were told of was not one yet, this one is.
        escalated = (
            reason is not None
            and reason.state != NOT_RUN_YET
            and state.alerting
            and state.reason.startswith(FIRST_RUN_AHEAD)
        )
        if (reason is not None) == state.alerting and not escalated:
            return None  # Nothing new to say: one email per outage, not one per failure.
        if reason is None and (kind.paused or kind.waiting_on_run or kind.just_switched_on):
            # Switched off (or back on) is not "succeeds again", nor is a run under way that
            # may still fail: an outage stays open until a success.
            return None
        now = timezone.now()
        since = None
        if reason is not None:
            problem = reason.problem
            subject = f"[smcbridge] {kind.label} sync {reason.state}"
            first_line = f"The {kind.label} sync needs attention: {problem.text}"
            since = problem.since
            # The email's time is UTC, said so; the app shows `since` in the viewer's zone.
            body = (
                f"The {kind.label} sync needs attention: {problem}\n\n"
                "You will get one more email when it "
                + ("first succeeds." if reason.state == NOT_RUN_YET else "recovers.")
                + _links(kind.kind, failing=kind.failing)
            )
            state.alerting, state.since, state.reason = True, now, str(problem)[:500]
        else:
            down_for = now - state.since if state.since else None
            # "Again" only if it succeeded before the alert: a fresh deployment's kind never had.
            before = SyncRun.objects.filter(kind=kind.kind, status=SyncRun.Status.SUCCEEDED)
            if state.since is not None:
                before = before.filter(finished_at__lt=state.since)
            again = before.exists()
            subject = f"[smcbridge] {kind.label} sync " + (
                "recovered" if again else "succeeded for the first time"
            )
            body = (
                f"The {kind.label} sync "
                + ("succeeds again" if again else "succeeded for the first time")
                + (f" after {int(down_for.total_seconds() // 60)} minutes." if down_for else ".")
            )
            first_line = body
            body += _links(kind.kind, failing=False)
            state.alerting, state.since, state.reason = False, None, ""
        # A newer change replaces an email still waiting: admins learn the state as it is.
        state.pending_subject, state.pending_body = subject[:200], body
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
    return reason is None


def _claim_pending_email(kind: str) -> tuple[str, str, bool] | None:
    """Take `kind`'s waiting email, if any, so that no other check sends it too: its subject,
    body and whether it tells of a recovery."""
    waiting = (
        AlertState.objects.filter(kind=kind)
        .exclude(pending_subject="")
        .values_list("pending_subject", "pending_body", "alerting")
        .first()
    )
    if waiting is None:
        return None
    subject, body, alerting = waiting
    # Conditional on what was read: of two checks at once, one sends it.
    taken = AlertState.objects.filter(kind=kind, pending_subject=subject, pending_body=body)
    if not taken.update(pending_subject="", pending_body=""):
        return None
    return subject, body, not alerting


def _send(kind: str, subject: str, body: str, recipients: list[str]) -> bool:
    """Send one alert email; False (and the email waits for the next check) when it failed."""
    if not recipients:
        logger.warning("alert for %s not sent: no sync admin has an email address", kind)
        return False
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception as exc:  # noqa: BLE001 - a relay that is down must not stop the check
        # Its type only: an SMTP answer may quote the relay's login.
        logger.warning(
            "alert email for %s not sent (%s): the next check sends it", kind, type(exc).__name__
        )
        # Back in the state unless a newer change put its own email there meanwhile.
        AlertState.objects.filter(kind=kind, pending_subject="").update(
            pending_subject=subject, pending_body=body
        )
        return False
    AlertState.objects.filter(kind=kind).update(last_sent_at=timezone.now())
    return True
