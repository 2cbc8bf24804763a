"""Names that do not fit are kept whole and flagged; bidi controls cannot disguise a name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from khoros import services
from khoros.models import Plan
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db

RLO = "\u202e"


def test_a_name_longer_than_the_column_is_kept_whole_in_raw_and_flagged(live_khoros, client):
    data = live_khoros.data
    plan = data.plans[0]
    long_name = "L" * 300
    live_khoros.sim.rename_plan(plan.id, long_name)

    run = services.sync_khoros()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    row = Plan.objects.get(khoros_id=plan.id)
    assert row.name == "L" * 255
    assert row.raw["name"] == long_name
    assert row.name_shortened and row.full_name == long_name
    others = Plan.objects.exclude(pk=row.pk)
    assert not any(p.name_shortened for p in others)


def test_the_workbench_shows_the_flag_with_the_full_name(live_khoros, client, django_user_model):
    from django.contrib.auth.models import Group

    from campaigns.models import SYNC_ADMINS

    data = live_khoros.data
    plan = data.plans[0]
    live_khoros.sim.rename_plan(plan.id, "W" * 300)
    services.sync_khoros()
    admin = django_user_model.objects.create_user("alex", password="pw-alex-2026")
    admin.groups.add(Group.objects.get_or_create(name=SYNC_ADMINS)[0])
    client.force_login(admin)

    html = client.get(reverse("workbench"), {"p-q": "WWW"}).content.decode()

    assert "<bdi>" + "W" * 255 + "</bdi>" in html
    assert "title=\"Khoros' full name: " + "W" * 300 + '">name shortened</span>' in html


def test_right_to_left_overrides_are_removed_from_names_on_ingest(live_khoros):
    data = live_khoros.data
    plan = data.plans[0]
    live_khoros.sim.rename_plan(plan.id, f"Invoice {RLO}fdp.exe\u2066x\u2069 \u202aend\u202c")

    services.sync_khoros()

    row = Plan.objects.get(khoros_id=plan.id)
    assert row.name == "Invoice fdp.exex end"
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in row.name)
    assert not row.name_shortened
