"""The pages benchmark measures states the app reaches: its sync runs are what the schedules
write (kinds by their stored value, queued when they ran), so the pages show last successes and
numbers, not "never succeeded" above succeeded runs."""

from __future__ import annotations

from itertools import pairwise

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from bench.pages import _populate, pages
from campaigns.models import SYNC_ADMINS
from syncs import registry
from syncs.health import health_check, sync_freshness
from syncs.models import SyncRun
from syncs.schedules import setup_schedules

pytestmark = pytest.mark.django_db


def test_the_bench_runs_are_what_the_app_writes_and_the_pages_show_them(django_user_model):
    setup_schedules()
    user = django_user_model.objects.create_user("bench-admin", is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get_or_create(name=SYNC_ADMINS)[0])
    campaign, today = _populate(campaigns=10, plans=30, runs=40, audits=30, actor=user)

    runs = list(SyncRun.objects.order_by("kind", "queued_at"))
    assert len(runs) == 40
    # Stored by value ("khoros_kpis"), each registered kind that is on among them.
    on = {kind.value for kind in registry.kinds() if kind.is_enabled}
    assert {r.kind for r in runs} == on
    # Queued just before each started, spread over the schedule, never two of a kind at once.
    assert len({r.queued_at for r in runs}) == 40
    for r in runs:
        assert r.queued_at <= r.started_at < r.finished_at
    for a, b in pairwise(runs):
        if a.kind == b.kind:
            assert a.finished_at <= b.queued_at
    # Health sees each kind's last success: none stale, none failing.
    fresh = {k.kind: k for k in sync_freshness() if k.kind in on}
    assert set(fresh) == on
    for kind in fresh.values():
        assert kind.last_success is not None, kind.kind
        assert not kind.stale and kind.failing_error is None, kind.kind
    assert not [p for p in health_check().problems if "sync" in str(p)]

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    paths = dict(pages(campaign, today))
    dashboard = client.get(paths["dashboard"]).content.decode()
    assert "never succeeded" not in dashboard
    campaign_page = client.get(paths["campaign page"]).content.decode()
    assert 'data-testid="kpi-stale"' not in campaign_page
    assert "no numbers yet" not in campaign_page
    history = client.get(paths["sync history"] + "?kind=khoros_plans").content.decode()
    assert 'data-testid="connection-state">Healthy<' in history
