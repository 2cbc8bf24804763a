"""Two people (or one person's two windows) doing the same thing at once, or the same form sent
twice: every write action ends in one consistent state, one audit row per real change, and an
answer that says what happened.

The races run through a live server (or the services, for the Django admin's) on PostgreSQL or
SQLite, as in test_concurrent_assignments: the first request is held inside its transaction
after its write; the second starts and, on PostgreSQL, waits for the first one's lock (on SQLite
it waits at BEGIN IMMEDIATE, so the interleaving is the serial one and the test checks that).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from django.contrib.admin.sites import site as admin_site
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import RequestFactory

from campaigns import planning, selectors, services
from campaigns.models import Assignment, AuditEvent, DriftDecision, InitiativeGrant, SavedView
from sapmc.models import CampaignReference
from syncs import runs as sync_runs
from syncs.models import SyncRun
from tests.campaigns.test_concurrent_assignments import (
    GUARD_SECONDS,
    _hold_first,
    _post,
    _session,
)

pytestmark = pytest.mark.django_db(transaction=True)

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _threads_close_their_connections(monkeypatch):
    """Server and worker threads close their database connections when they end, so
    PostgreSQL can drop the test database afterwards."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def _entered(monkeypatch, owner: Any, name: str, after: threading.Event) -> threading.Event:
    """An event set when `owner.name` is called once `after` is set: the first request holds
    then, so the call is the second request's."""
    entered = threading.Event()
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if after.is_set():
            entered.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return entered


def _second_waits_or_ends(entered: threading.Event, second: threading.Thread) -> None:
    """Return once the second request waits for a lock of the first one's, or has ended
    without waiting (the defect some tests look for); on SQLite, once it has begun."""
    assert entered.wait(GUARD_SECONDS), "the second request never began"
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers at BEGIN IMMEDIATE: nothing finer to observe
    for _ in range(GUARD_SECONDS * 20):
        if not second.is_alive():
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    pytest.fail("the second request neither waited for the first one's lock nor ended")


def _race(
    first: Callable[[], Any],
    second: Callable[[], Any],
    holding: threading.Event,
    release: threading.Event,
    entered: threading.Event,
) -> dict[str, Any]:
    """Run `first` until it holds (inside its transaction), then `second`; let go once the
    second waits. Each runs in a thread of its own, on its own connection."""
    answers: dict[str, Any] = {}

    def call(key: str, fn: Callable[[], Any]) -> None:
        try:
            answers[key] = fn()
        except Exception as exc:  # noqa: BLE001 - the test asserts on what each one met
            answers[key] = exc
        finally:
            connections.close_all()

    t1 = threading.Thread(target=call, args=("first", first))
    t1.start()
    assert holding.wait(GUARD_SECONDS), "the first request never reached its hold"
    t2 = threading.Thread(target=call, args=("second", second))
    t2.start()
    try:
        _second_waits_or_ends(entered, t2)
    finally:
        release.set()
        t1.join(GUARD_SECONDS)
        t2.join(GUARD_SECONDS)
    return answers


def _posting(session: requests.Session, url: str, data: dict) -> Callable[[], Any]:
    def post() -> requests.Response:
        answers: dict[str, requests.Response] = {}
        _post(session, url, data, answers, "answer")
        return answers["answer"]

    return post


def _same_form_at_once(
    live_server, world, monkeypatch, held: str, waits_in: tuple[Any, str], path: str, data: dict
) -> dict[str, Any]:
    """maria and alex send the same form at the same moment: the first is held inside its
    transaction once it writes `held` (an audit action), the second let go into the race once
    it reaches `waits_in` (an owner and the name of its function)."""
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    holding, release = _hold_first(monkeypatch, held)
    entered = _entered(monkeypatch, *waits_in, holding)
    url = f"{live_server.url}{path}"
    return _race(_posting(maria, url, data), _posting(alex, url, data), holding, release, entered)


# --- Assignments -------------------------------------------------------------------------


def test_two_assigns_of_one_plan_to_one_campaign_at_once_say_already_assigned(
    live_server, world, monkeypatch
):
    plan, spring = world.plans[0], world.campaigns[0]
    data = {"campaign": spring.pk, "plan_one": plan.pk}

    answers = _same_form_at_once(
        live_server,
        world,
        monkeypatch,
        AuditEvent.Action.ASSIGNMENT_CREATE,
        (services, "assignments_bulk_create"),
        "/workbench/assign/",
        data,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Assigned “Spring Sale social” to “Spring Sale 2026”." in answers["first"].text
    # The second person asked for what is now so: said as such, with no move to offer.
    assert "Already assigned to this campaign: nothing changed." in answers["second"].text
    assert "by someone else" not in answers["second"].text
    assert f'id="move-{plan.pk}"' not in answers["second"].text
    assert Assignment.objects.get(plan=plan).campaign == spring
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [
        (AuditEvent.Action.ASSIGNMENT_CREATE, "maria")
    ]


def test_two_calendar_drops_of_one_plan_on_one_campaign_at_once_say_already_assigned(
    live_server, world, monkeypatch
):
    plan, spring = world.plans[0], world.campaigns[0]
    data = {"plan": plan.pk, "campaign": spring.pk, "back": "zoom=year&date=2026-01-01"}

    answers = _same_form_at_once(
        live_server,
        world,
        monkeypatch,
        AuditEvent.Action.ASSIGNMENT_CREATE,
        (selectors, "plan_to_assign"),
        "/calendar/assign/",
        data,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Assigned “Spring Sale social” to “Spring Sale 2026”." in answers["first"].text
    assert (
        "“Spring Sale social” already feeds “Spring Sale 2026”: nothing changed."
        in answers["second"].text
    )
    assert "Moves are made on the workbench" not in answers["second"].text
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [
        (AuditEvent.Action.ASSIGNMENT_CREATE, "maria")
    ]


def test_a_calendar_drop_sent_twice_says_the_second_time_that_nothing_changed(client, world):
    plan, spring = world.plans[0], world.campaigns[0]
    client.force_login(world.maria)
    data = {"plan": plan.pk, "campaign": spring.pk, "back": "zoom=year&date=2026-01-01"}

    first = client.post("/calendar/assign/", data, headers=HX)
    again = client.post("/calendar/assign/", data, headers=HX)

    assert "Assigned “Spring Sale social” to “Spring Sale 2026”." in first.content.decode()
    body = again.content.decode()
    assert "Assigned “" not in body
    assert "“Spring Sale social” already feeds “Spring Sale 2026”: nothing changed." in body
    assert AuditEvent.objects.count() == 1


def test_two_moves_of_an_unassigned_plan_to_one_campaign_at_once_say_nothing_changed(
    live_server, world, monkeypatch
):
    """Both windows offered the move while the Plan fed another campaign; it was unassigned
    since, and both confirmed at once: one assignment, one row, and the second is told that
    the Plan already feeds the campaign (not that someone else assigned it)."""
    plan, summer = world.plans[0], world.campaigns[1]
    data = {"campaign": summer.pk, "move_confirmed": plan.pk}

    answers = _same_form_at_once(
        live_server,
        world,
        monkeypatch,
        AuditEvent.Action.ASSIGNMENT_CREATE,
        (services, "assignment_move"),
        "/workbench/move/",
        data,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "it had been unassigned meanwhile" in answers["first"].text
    assert "“Spring Sale social” already feeds “Summer 2026”: nothing changed." in (
        answers["second"].text
    )
    assert Assignment.objects.get(plan=plan).campaign == summer
    assert AuditEvent.objects.count() == 1


# --- Drift ---------------------------------------------------------------------------------


def test_a_keep_and_a_confirmed_adoption_at_once_leave_the_keep_standing(
    live_server, world, monkeypatch
):
    """The adoption's question was asked before the keep; the keep was made while the
    adoption was being confirmed. A keep made meanwhile stops a confirmed adoption (as it does
    one confirmed a minute later): it is not overwritten and its decision not deleted."""
    plan, spring = world.plans[0], world.campaigns[0]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=plan.khoros_id.hex, plan=plan
    )
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    holding, release = _hold_first(monkeypatch, AuditEvent.Action.DRIFT_KEEP_BRIDGE)
    entered = _entered(monkeypatch, services, "drift_adopt_sap", holding)
    url = f"{live_server.url}/workbench/drift/"

    answers = _race(
        _posting(maria, url, {"campaign": spring.pk, "drift": f"keep:{plan.pk}"}),
        _posting(alex, url, {"campaign": spring.pk, "drift": f"confirm-adopt:{plan.pk}:1"}),
        holding,
        release,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Nothing adopted" in answers["second"].text
    assert not Assignment.objects.filter(plan=plan).exists()
    assert DriftDecision.objects.filter(plan=plan).exists()
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [
        (AuditEvent.Action.DRIFT_KEEP_BRIDGE, "maria")
    ]


def test_an_adoption_and_an_assign_of_one_plan_at_once_end_in_one_without_a_500(
    live_server, world, monkeypatch
):
    """The adoption locks the Plan, then inserts its assignment; the assign inserted first and
    then checked its Plan, so each waited for the other: a deadlock on PostgreSQL, a 500."""
    plan, spring, summer = world.plans[0], world.campaigns[0], world.campaigns[1]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=plan.khoros_id.hex, plan=plan
    )
    holding, release = threading.Event(), threading.Event()
    first = threading.Lock()
    lock_plans = services._lock_plans

    def held_lock_plans(plans):
        lock_plans(plans)
        if first.acquire(blocking=False):  # the adoption's: held with the Plan locked
            holding.set()
            assert release.wait(GUARD_SECONDS)

    monkeypatch.setattr(services, "_lock_plans", held_lock_plans)
    entered = _entered(monkeypatch, services, "assignment_create_or_found", holding)
    alex = _session(live_server.url, world.admin)
    maria = _session(live_server.url, world.maria)

    answers = _race(
        _posting(alex, f"{live_server.url}/workbench/drift/",
                 {"campaign": spring.pk, "drift": f"confirm-adopt:{plan.pk}:1"}),
        _posting(maria, f"{live_server.url}/workbench/assign/",
                 {"campaign": summer.pk, "plan_confirmed": plan.pk}),
        holding, release, entered,
    )  # fmt: skip

    assert answers["first"].status_code == 200, answers["first"]
    assert answers["second"].status_code == 200, answers["second"]
    assert Assignment.objects.get(plan=plan).campaign == spring
    assert (
        "Plan “Spring Sale social” already feeds campaign “Spring Sale 2026”. Move it to this "
        "campaign instead?" in answers["second"].text
    )
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [
        AuditEvent.Action.DRIFT_ADOPT_SAP
    ]


# --- Grants, users (Django admin) ----------------------------------------------------------


def _admin_request(user: User) -> Any:
    request = RequestFactory().post("/admin/")
    request.user = user
    request._messages = SimpleNamespace(add=lambda *a, **k: None)
    return request


def _staff(world) -> User:
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    return User.objects.get(pk=world.admin.pk)


def test_two_revocations_of_one_grant_at_once_write_one_audit_row(world, monkeypatch):
    staff = _staff(world)
    grant = InitiativeGrant.objects.get(user=world.maria)
    holding, release = _hold_first(monkeypatch, AuditEvent.Action.GRANT_DELETE)
    entered = threading.Event()
    grant_admin = admin_site._registry[InitiativeGrant]

    # Each admin's page read the grant before either revoked it.
    seen_first = InitiativeGrant.objects.get(pk=grant.pk)
    seen_second = InitiativeGrant.objects.get(pk=grant.pk)
    answers = _race(
        lambda: grant_admin.delete_model(_admin_request(staff), seen_first),
        lambda: entered.set() or grant_admin.delete_model(_admin_request(staff), seen_second),
        holding,
        release,
        entered,
    )

    assert answers == {"first": None, "second": None}
    assert not InitiativeGrant.objects.filter(user=world.maria).exists()
    assert list(AuditEvent.objects.values_list("action", "before")) == [
        (AuditEvent.Action.GRANT_DELETE, {"user": "maria", "initiative": "1700"})
    ]


def test_two_deletions_of_one_user_at_once_write_one_row_each_for_the_user_and_grant(
    world, monkeypatch
):
    staff = _staff(world)
    user_admin = admin_site._registry[User]
    holding, release = _hold_first(monkeypatch, "user.delete")
    entered = threading.Event()
    seen_first = User.objects.get(pk=world.maria.pk)
    seen_second = User.objects.get(pk=world.maria.pk)

    answers = _race(
        lambda: user_admin.delete_model(_admin_request(staff), seen_first),
        lambda: entered.set() or user_admin.delete_model(_admin_request(staff), seen_second),
        holding,
        release,
        entered,
    )

    assert answers == {"first": None, "second": None}
    assert not User.objects.filter(username="maria").exists()
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        AuditEvent.Action.GRANT_DELETE,
        "user.delete",
    ]


# --- Syncs -----------------------------------------------------------------------------------


def test_two_sync_buttons_pressed_at_once_queue_one_run(live_server, world, monkeypatch):
    queued: list[tuple] = []
    monkeypatch.setattr(sync_runs, "async_task", lambda *a, **k: queued.append(a))
    holding, release = threading.Event(), threading.Event()
    first = threading.Lock()
    create = SyncRun.objects.create

    def held_create(**kwargs):
        run = create(**kwargs)
        if first.acquire(blocking=False):
            holding.set()
            assert release.wait(GUARD_SECONDS)
        return run

    monkeypatch.setattr(SyncRun.objects, "create", held_create)
    entered = _entered(monkeypatch, sync_runs.registry, "get", holding)
    alex = _session(live_server.url, world.admin)
    other_window = _session(live_server.url, world.admin)
    url = f"{live_server.url}/sync/khoros_plans/"

    answers = _race(_posting(alex, url, {}), _posting(other_window, url, {}), holding, release,
                    entered)  # fmt: skip

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    run = SyncRun.objects.get()
    assert f"Khoros plans sync #{run.pk} queued." in answers["first"].text
    assert f"Khoros plans sync #{run.pk} is already queued." in answers["second"].text
    assert len(queued) == 1


# --- Saved views ---------------------------------------------------------------------------


def _views_saved_in_two_windows(
    live_server, world, monkeypatch, form_1: dict, form_2: dict
) -> dict[str, Any]:
    """maria saves `form_1` in one window, held once its view is created inside the
    transaction, and `form_2` in another at the same moment."""
    holding, release = threading.Event(), threading.Event()
    first = threading.Lock()
    create = SavedView.objects.create

    def held_create(**kwargs):
        saved = create(**kwargs)
        if first.acquire(blocking=False):
            holding.set()
            assert release.wait(GUARD_SECONDS)
        return saved

    monkeypatch.setattr(SavedView.objects, "create", held_create)
    entered = _entered(monkeypatch, planning, "saved_view_create", holding)
    window_1 = _session(live_server.url, world.maria)
    window_2 = _session(live_server.url, world.maria)
    for window in (window_1, window_2):
        del window.headers["HX-Request"]  # a plain form: its messages show on the page
    url = f"{live_server.url}/calendar/views/"
    return _race(_posting(window_1, url, form_1), _posting(window_2, url, form_2), holding,
                 release, entered)  # fmt: skip


def test_one_view_saved_twice_at_the_same_moment_is_saved_once(live_server, world, monkeypatch):
    form = {"name": "My spring", "back": "zoom=year&q=spring"}

    answers = _views_saved_in_two_windows(live_server, world, monkeypatch, form, form)

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Saved view “My spring”." in answers["first"].text
    assert (
        "Your saved view “My spring” already keeps these filters: nothing changed."
        in answers["second"].text
    )
    assert list(SavedView.objects.values_list("name", "query")) == [
        ("My spring", "q=spring&zoom=year")
    ]


def test_two_new_views_at_once_keep_to_the_limit(live_server, world, monkeypatch):
    """Two windows saving two new names with one place left both counted 49 on PostgreSQL."""
    SavedView.objects.bulk_create(
        SavedView(user=world.maria, name=f"View {n}", query=f"q={n}")
        for n in range(planning.SAVED_VIEWS_PER_USER - 1)
    )

    answers = _views_saved_in_two_windows(
        live_server, world, monkeypatch, {"name": "A", "back": "q=a"}, {"name": "B", "back": "q=b"}
    )

    assert "Saved view “A”." in answers["first"].text
    assert "You have 50 saved views: delete one first." in answers["second"].text
    assert SavedView.objects.filter(user=world.maria).count() == planning.SAVED_VIEWS_PER_USER
