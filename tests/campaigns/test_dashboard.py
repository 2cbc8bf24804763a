"""The dashboard and the Sync now button: login, roles, counts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS, InitiativeGrant
from khoros.models import Initiative, Plan
from syncs.models import SyncRun
from tests.conftest import uses_orm_broker

pytestmark = pytest.mark.django_db


@pytest.fixture
def mirror():
    now = timezone.now()
    initiatives = [
        Initiative.objects.create(khoros_id=str(i), name=f"Ini {i}", first_seen=now, last_seen=now)
        for i in range(3)
    ]
    for n in range(9):
        Plan.objects.create(
            khoros_id=f"00000000-0000-0000-0000-{n:012d}",
            initiative=initiatives[n % 3],
            name=f"Plan <b>{n}</b>",
            start=now,
            end=now,
            first_seen=now,
            last_seen=now,
            removed_at=now if n == 8 else None,
        )
    return initiatives


@pytest.fixture
def manager(django_user_model, mirror):
    user = django_user_model.objects.create_user("maria", password="pw-maria-123")
    user.groups.add(Group.objects.get(name=MARKETING_MANAGERS))
    InitiativeGrant.objects.create(user=user, initiative=mirror[0])
    return user


@pytest.fixture
def sync_admin(django_user_model):
    user = django_user_model.objects.create_user("alex", password="pw-alex-123")
    user.groups.add(Group.objects.get(name=SYNC_ADMINS))
    return user


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.post(reverse("sync-now", args=["khoros_plans"])).status_code == 302
    assert SyncRun.objects.count() == 0


def test_manager_sees_counts_of_granted_initiatives_only_and_no_button(client, manager):
    client.force_login(manager)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.context["counts"].initiatives == 1
    assert response.context["counts"].plans == 3
    assert b"Sync Khoros plans now" not in response.content


def test_manager_cannot_start_a_sync(client, manager):
    client.force_login(manager)
    response = client.post(reverse("sync-now", args=["khoros_plans"]))
    assert response.status_code == 403
    assert SyncRun.objects.count() == 0


def test_admin_sees_everything_and_queues_a_sync(
    client, sync_admin, mirror, django_capture_on_commit_callbacks
):
    client.force_login(sync_admin)
    response = client.get(reverse("dashboard"))
    counts = response.context["counts"]
    assert (counts.initiatives, counts.plans, counts.plans_removed) == (3, 8, 1)
    assert b"Sync Khoros plans now" in response.content

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("sync-now", args=["khoros_plans"]), follow=True)
    assert len(callbacks) == 1
    run = SyncRun.objects.get()
    assert (run.status, run.trigger, run.requested_by) == ("queued", "button", sync_admin)
    assert f"sync #{run.pk} queued" in response.content.decode()
    from django_q.brokers import get_broker

    get_broker().purge_queue()


def test_sync_button_needs_post_and_a_known_kind(client, sync_admin):
    client.force_login(sync_admin)
    assert client.get(reverse("sync-now", args=["khoros_plans"])).status_code == 405
    assert client.post(reverse("sync-now", args=["nonsense"])).status_code == 404


def test_runs_partial_polls_only_while_a_run_is_active(client, sync_admin):
    client.force_login(sync_admin)
    SyncRun.objects.create(kind="khoros_plans", trigger="button", status="running")
    response = client.get(
        reverse("dashboard"), headers={"HX-Request": "true", "HX-Target": "sync-runs"}
    )
    body = response.content.decode()
    assert 'id="sync-runs"' in body and "every 2s" in body
    assert "<h1>" not in body  # a partial, not the page
    SyncRun.objects.update(status="succeeded")
    response = client.get(
        reverse("dashboard"), headers={"HX-Request": "true", "HX-Target": "sync-runs"}
    )
    assert "every 2s" not in response.content.decode()


def test_dashboard_query_count_is_fixed(client, sync_admin, django_assert_num_queries):
    for _ in range(15):
        SyncRun.objects.create(
            kind="khoros_plans", trigger="schedule", status="succeeded", requested_by=sync_admin
        )
    client.force_login(sync_admin)
    # session, user, groups, runs, Initiative and Plan counts, campaign and assignment counts,
    # health: database, broker (a query only when the broker is the ORM), last successes, the
    # schedules (interval, on/off), the last runs of each kind (failing in a row), when a
    # schedule was switched back on, push rows of unknown outcome
    with django_assert_num_queries(15 if uses_orm_broker() else 14):
        client.get(reverse("dashboard"))


def test_push_rows_of_unknown_outcome_are_shown_to_sync_admins_until_settled(client, world):
    from datetime import date

    from sapmc.models import SuccessSent

    spring, summer = world.campaigns[:2]
    for day, campaign, status in (
        (1, spring, SuccessSent.Status.UNKNOWN),
        (2, spring, SuccessSent.Status.UNKNOWN),
        (3, summer, SuccessSent.Status.UNKNOWN),
        (4, summer, SuccessSent.Status.CREATED),
    ):
        SuccessSent.objects.create(
            plan=world.plans[0], day=date(2026, 3, day), campaign=campaign, status=status,
            sent_at=timezone.now(), numbers_hash="x",
        )  # fmt: skip
    client.force_login(world.admin)
    body = client.get(reverse("dashboard")).content.decode()
    assert "Success-push rows of unknown outcome wait for a sync admin" in body
    assert f'<a href="/campaigns/{spring.pk}/#sap-pushes">Spring Sale 2026</a>: 2 rows' in body
    assert f'<a href="/campaigns/{summer.pk}/#sap-pushes">Summer 2026</a>: 1 row<' in body
    SuccessSent.objects.filter(status=SuccessSent.Status.UNKNOWN).update(
        status=SuccessSent.Status.CREATED
    )
    body = client.get(reverse("dashboard")).content.decode()
    assert "unknown outcome" not in body
    # A manager's home does not show it: settling is a sync admin's work.
    SuccessSent.objects.update(status=SuccessSent.Status.UNKNOWN)
    client.force_login(world.maria)
    assert "unknown outcome" not in client.get(reverse("dashboard")).content.decode()


def test_names_from_khoros_are_escaped_in_the_admin(client, django_user_model, mirror):
    root = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(root)
    body = client.get(reverse("admin:khoros_plan_changelist")).content.decode()
    assert "Plan &lt;b&gt;1&lt;/b&gt;" in body
    assert "Plan <b>1</b>" not in body


def test_the_dashboard_is_never_kept_by_the_browser(client, sync_admin, manager):
    # Back after a run started in another window must ask again, not show the old runs.
    for user in (sync_admin, manager):
        client.force_login(user)
        response = client.get(reverse("dashboard"))
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert "max-age=0" in response["Cache-Control"]
