"""Expired sessions and the login log older than LOGIN_LOG_DAYS are pruned by the housekeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessLog
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session

from campaigns.retention import prune_expired_sessions, prune_login_log

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 31, 12, 0, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_expired_sessions_go_and_live_ones_stay():
    for key, expires in [("expired1", -timedelta(days=30)), ("expired2", -timedelta(seconds=1))]:
        Session.objects.create(session_key=key, session_data="", expire_date=NOW + expires)
    live = SessionStore()
    live["_auth_user_id"] = "1"
    live.create()

    assert prune_expired_sessions() == 2

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert SessionStore(session_key=live.session_key).load()["_auth_user_id"] == "1"


@time_machine.travel(NOW, tick=False)
def test_the_login_log_keeps_login_log_days(settings):
    settings.LOGIN_LOG_DAYS = 180
    for days in (181, 400, 179, 0):
        row = AccessLog.objects.create(username=f"u{days}", ip_address="10.0.0.1", user_agent="x")
        AccessLog.objects.filter(pk=row.pk).update(attempt_time=NOW - timedelta(days=days))

    assert prune_login_log() == 2

    assert set(AccessLog.objects.values_list("username", flat=True)) == {"u179", "u0"}
