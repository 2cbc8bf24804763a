"""Two managers change the same Plan at once, through a live server, on PostgreSQL or SQLite.

The first request is held inside its transaction (after its write, before its commit) while the
second one starts; only then is the first let go. That is the interleaving that lost a move and
wrote an audit row for a change that never happened.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import date

import pytest
import requests
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from campaigns import services
from campaigns.models import Assignment, AuditEvent
from sapmc.models import CampaignReference, SuccessSent

pytestmark = pytest.mark.django_db(transaction=True)

# Liveness guards only: nothing asserts how long anything took.
GUARD_SECONDS = 30


@pytest.fixture(autouse=True)
def _server_threads_close_their_connections(monkeypatch):
    """Each request of the live server runs in a thread of its own: let it close its database
    connection when it ends, so PostgreSQL can drop the test database afterwards."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def _session(base_url: str, user) -> requests.Session:
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    page = session.get(f"{base_url}/workbench/", timeout=GUARD_SECONDS)
    assert page.status_code == 200
    token = session.cookies.get("csrftoken") or re.search(
        r'"X-CSRFToken": "([^"]+)"', page.text
    ).group(1)
    session.headers.update({"X-CSRFToken": token, "HX-Request": "true", "Referer": base_url})
    return session


def _second_request_is_waiting(entered: threading.Event) -> None:
    """Return once the second request waits for the first one's lock (or, on SQLite, has begun)."""
    assert entered.wait(GUARD_SECONDS)
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers at BEGIN IMMEDIATE: nothing finer to observe
    for _ in range(GUARD_SECONDS * 20):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    pytest.fail("the second request never waited for the first one's lock")


def _hold_first(monkeypatch, action: str) -> tuple[threading.Event, threading.Event]:
    """Hold the first `action` inside its transaction until released."""
    holding, release = threading.Event(), threading.Event()
    original = services.audit_record
    first = threading.Lock()

    def held_audit_record(**kwargs):
        event = original(**kwargs)
        if kwargs["action"] == action and first.acquire(blocking=False):
            holding.set()
            assert release.wait(GUARD_SECONDS)
        return event

    monkeypatch.setattr(services, "audit_record", held_audit_record)
    return holding, release


def _entered(monkeypatch, name: str) -> threading.Event:
    entered = threading.Event()
    original = getattr(services, name)

    def wrapper(**kwargs):
        entered.set()
        return original(**kwargs)

    monkeypatch.setattr(services, name, wrapper)
    return entered


def _post(session, url, data, answers, key):
    answers[key] = session.post(url, data=data, timeout=GUARD_SECONDS)


def _run_both(live_server, first, second, hold, entered):
    answers: dict[str, requests.Response] = {}
    holding, release = hold
    t1 = threading.Thread(target=_post, args=(*first, answers, "first"))
    t1.start()
    assert holding.wait(GUARD_SECONDS), "the first request never reached its audit row"
    t2 = threading.Thread(target=_post, args=(*second, answers, "second"))
    t2.start()
    try:
        _second_request_is_waiting(entered)
    finally:
        release.set()
        t1.join(GUARD_SECONDS)
        t2.join(GUARD_SECONDS)
    return answers


def test_move_and_unassign_at_once_keep_the_move_and_audit_only_it(live_server, world, monkeypatch):
    plan, spring, summer = world.plans[0], world.campaigns[0], world.campaigns[1]
    # A March Plan moved to the summer campaign: the move is confirmed (issue 11).
    moved = {"move_confirmed": plan.pk}
    Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    hold = _hold_first(monkeypatch, AuditEvent.Action.ASSIGNMENT_MOVE)
    entered = _entered(monkeypatch, "assignment_delete")

    answers = _run_both(
        live_server,
        (maria, f"{live_server.url}/workbench/move/", {"campaign": summer.pk, **moved}),
        (alex, f"{live_server.url}/workbench/unassign/", {"campaign": spring.pk, "plan": plan.pk}),
        hold,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Moved “Spring Sale social” to “Summer 2026”." in answers["first"].text
    # The unassign found the Plan moved under it and says so instead of deleting the move.
    assert "Summer 2026" in answers["second"].text
    assert "Unassigned “" not in answers["second"].text
    assert "it now feeds “Summer 2026”" in answers["second"].text
    assignment = Assignment.objects.get(plan=plan)
    assert assignment.campaign == summer
    events = list(AuditEvent.objects.order_by("pk"))
    assert [(e.action, e.campaign_id, e.actor_name) for e in events] == [
        (AuditEvent.Action.ASSIGNMENT_MOVE, summer.pk, "maria")
    ]
    assert events[0].before["campaign_name"] == "Spring Sale 2026"


def test_two_unassigns_at_once_write_one_audit_row(live_server, world, monkeypatch):
    plan, spring = world.plans[0], world.campaigns[0]
    Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    hold = _hold_first(monkeypatch, AuditEvent.Action.ASSIGNMENT_DELETE)
    entered = _entered(monkeypatch, "assignment_delete")
    data = {"campaign": spring.pk, "plan": plan.pk}

    answers = _run_both(
        live_server,
        (maria, f"{live_server.url}/workbench/unassign/", data),
        (alex, f"{live_server.url}/workbench/unassign/", data),
        hold,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Unassigned “Spring Sale social” from “Spring Sale 2026”." in answers["first"].text
    assert "is unassigned already, nothing changed." in answers["second"].text
    assert not Assignment.objects.filter(plan=plan).exists()
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [
        (AuditEvent.Action.ASSIGNMENT_DELETE, "maria")
    ]


def test_unassign_then_move_at_once_end_assigned_with_both_changes_audited(
    live_server, world, monkeypatch
):
    plan, spring, summer = world.plans[0], world.campaigns[0], world.campaigns[1]
    # A March Plan moved to the summer campaign: the move is confirmed (issue 11).
    moved = {"move_confirmed": plan.pk}
    Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    hold = _hold_first(monkeypatch, AuditEvent.Action.ASSIGNMENT_DELETE)
    entered = _entered(monkeypatch, "assignment_move")

    answers = _run_both(
        live_server,
        (alex, f"{live_server.url}/workbench/unassign/", {"campaign": spring.pk, "plan": plan.pk}),
        (maria, f"{live_server.url}/workbench/move/", {"campaign": summer.pk, **moved}),
        hold,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Unassigned “Spring Sale social” from “Spring Sale 2026”." in answers["first"].text
    # The move found the Plan unassigned and assigned it: it says so, as its audit row does.
    assert (
        "Assigned “Spring Sale social” to “Summer 2026”: it had been unassigned meanwhile"
        in answers["second"].text
    )
    assert "Moved “" not in answers["second"].text
    assert Assignment.objects.get(plan=plan).campaign == summer
    # Two real changes, two rows, each naming the campaign it changed.
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "campaign_id")) == [
        (AuditEvent.Action.ASSIGNMENT_DELETE, spring.pk),
        (AuditEvent.Action.ASSIGNMENT_CREATE, summer.pk),
    ]


def test_two_undos_of_one_adoption_at_once_write_one_undo_row(live_server, world, monkeypatch):
    """Issue 11: the adoption's audit row is locked while it is undone, so a second undo at the
    same moment finds it undone and changes nothing."""
    plan, spring, summer = world.plans[0], world.campaigns[0], world.campaigns[1]
    Assignment.objects.create(plan=plan, campaign=summer, assigned_at=timezone.now())
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=plan.khoros_id.hex, plan=plan
    )
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    hold = _hold_first(monkeypatch, AuditEvent.Action.DRIFT_UNDO)
    entered = _entered(monkeypatch, "drift_undo")
    data = {"event": adoption.pk, "campaign": spring.pk}

    answers = _run_both(
        live_server,
        (maria, f"{live_server.url}/workbench/undo/", data),
        (alex, f"{live_server.url}/workbench/undo/", data),
        hold,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Undone: 1 Plan back where it was." in answers["first"].text
    assert "already undone" in answers["second"].text
    assert Assignment.objects.get(plan=plan).campaign == summer
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor_name")) == [
        (AuditEvent.Action.DRIFT_ADOPT_SAP, "alex"),
        (AuditEvent.Action.DRIFT_UNDO, "maria"),
    ]


def test_two_keeps_at_once_write_one_audit_row(live_server, world, monkeypatch):
    """Issue 11: a keep locks its Plans and judges again, so the same keep twice at once is
    recorded once; the second one finds nothing open."""
    plan, spring = world.plans[0], world.campaigns[0]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=plan.khoros_id.hex, plan=plan
    )
    maria = _session(live_server.url, world.maria)
    alex = _session(live_server.url, world.admin)
    hold = _hold_first(monkeypatch, AuditEvent.Action.DRIFT_KEEP_BRIDGE)
    entered = _entered(monkeypatch, "drift_keep_bridge")
    data = {"campaign": spring.pk, "drift": f"keep:{plan.pk}"}

    answers = _run_both(
        live_server,
        (maria, f"{live_server.url}/workbench/drift/", data),
        (alex, f"{live_server.url}/workbench/drift/", data),
        hold,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "Kept the bridge’s side" in answers["first"].text.replace("&#x27;", "’").replace(
        "'", "’"
    )
    assert "Nothing to keep" in answers["second"].text
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [
        (AuditEvent.Action.DRIFT_KEEP_BRIDGE, "maria")
    ]


def test_two_windows_settling_one_push_row_at_once_change_it_once(live_server, world, monkeypatch):
    spring = world.campaigns[0]
    entry = SuccessSent.objects.create(
        plan=world.plans[0], day=date(2026, 3, 1), campaign=spring,
        status=SuccessSent.Status.UNKNOWN, sent_at=timezone.now(), numbers_hash="x",
    )  # fmt: skip
    url = f"{live_server.url}/campaigns/{spring.pk}/pushes/{entry.pk}/settle/"
    first_window = _session(live_server.url, world.admin)
    second_window = _session(live_server.url, world.admin)
    hold = _hold_first(monkeypatch, AuditEvent.Action.PUSH_RESOLVE)
    entered = _entered(monkeypatch, "push_outcome_resolve")

    answers = _run_both(
        live_server,
        (first_window, url, {"resolution": "arrived"}),
        (second_window, url, {"resolution": "resend"}),
        hold,
        entered,
    )

    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert "as in SAP MC (never sent again)" in answers["first"].text
    assert "settled meanwhile" in answers["second"].text
    entry.refresh_from_db()
    assert entry.status == SuccessSent.Status.CREATED  # kept, not deleted by the second
    assert list(AuditEvent.objects.values_list("action", "after")) == [
        (
            AuditEvent.Action.PUSH_RESOLVE,
            {"status": "created", "message": "Found in SAP MC by alex"},
        )
    ]
