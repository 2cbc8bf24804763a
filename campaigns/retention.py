"""Pruning what signing in leaves: expired sessions and the login log (docs/retention.md).

Registered with the housekeeping (syncs.register_pruner) by the app's ready().
"""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from syncs import register_pruner
from syncs.housekeeping import delete_in_batches


def prune_expired_sessions() -> int:
    """Delete the sessions that have expired (what `manage.py clearsessions` does, in batches):
    their cookies are refused anyway."""
    return delete_in_batches(Session.objects.filter(expire_date__lt=timezone.now()))


def prune_login_log(*, days: int | None = None) -> int:
    """Delete the login log's rows (django-axes' AccessLog: who signed in, from where, when they
    signed out) of sign-ins more than `days` (LOGIN_LOG_DAYS) ago."""
    keep_days = settings.LOGIN_LOG_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    return delete_in_batches(AccessLog.objects.filter(attempt_time__lt=cutoff))


def register() -> None:
    register_pruner(name="expired sessions", func=prune_expired_sessions)
    register_pruner(name="login log", func=prune_login_log)
