"""The audit page: admins only, filters, CSV export, a fixed number of queries."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from campaigns import services
from campaigns.models import AuditEvent
from khoros.models import Plan
from sapmc.models import CampaignReference, ExternalCampaign, SuccessSent
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(world):
    with time_machine.travel("2026-11-02 10:00Z", tick=False):
        services.assignment_create(
            campaign=world.campaigns[0], plan=world.plans[0], acting_user=world.maria
        )
    with time_machine.travel("2026-11-10 10:00Z", tick=False):
        services.assignment_create(
            campaign=world.campaigns[1], plan=world.plans[2], acting_user=world.tom
        )
        services.grant_create(
            user=world.tom, initiative=world.initiatives[2], acting_user=world.admin
        )
    return world


def test_only_sync_admins_see_the_audit(client, history):
    client.force_login(history.maria)
    assert client.get(reverse("audit")).status_code == 403
    assert client.get(reverse("audit"), {"format": "csv"}).status_code == 403
    client.force_login(history.admin)
    response = client.get(reverse("audit"))
    assert response.status_code == 200
    assert [e.action for e in response.context["page"]] == [
        "grant.create",
        "assignment.create",
        "assignment.create",
    ]


def test_filters_by_actor_campaign_and_day(client, history):
    client.force_login(history.admin)

    def actions(**params):
        return [
            (e.actor_name, e.action) for e in client.get(reverse("audit"), params).context["page"]
        ]

    assert actions(actor=history.tom.pk) == [("tom", "assignment.create")]
    assert actions(campaign="100") == [("maria", "assignment.create")]
    assert actions(campaign="summer") == [("tom", "assignment.create")]
    assert actions(date_from="2026-11-01", date_to="2026-11-05") == [("maria", "assignment.create")]
    assert actions(date_from="2026-11-11") == []


def test_csv_export_has_every_matching_event(client, history):
    client.force_login(history.admin)
    response = client.get(reverse("audit"), {"format": "csv", "actor": history.maria.pk})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "time", "actor", "action", "campaign", "plan", "summary", "details", "before", "after",
    ]  # fmt: skip
    assert len(rows) == 2
    assert rows[1][1:4] == ["maria", "assignment.create", "100"]
    assert rows[1][4] == str(history.plans[0].khoros_id)
    assert rows[1][6] == "Plan: Spring Sale social\nCampaign: Spring Sale 2026"
    assert '"campaign_id": "100"' in rows[1][8]


def test_csv_times_are_the_viewers_as_on_the_page(client, history):
    # The page and its date filter count the viewer's days; so does the CSV, with its offset.
    client.force_login(history.admin)
    client.cookies["smcbridge_tz"] = "Asia/Tokyo"
    response = client.get(reverse("audit"), {"format": "csv", "actor": history.maria.pk})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    event = AuditEvent.objects.get(actor=history.maria)
    assert rows[1][0] == event.at.astimezone(ZoneInfo("Asia/Tokyo")).isoformat()
    assert rows[1][0].endswith("+09:00")


def test_bad_filter_input_is_reported_not_crashed(client, history):
    client.force_login(history.admin)
    response = client.get(reverse("audit"), {"date_from": "yesterday", "actor": "x"})
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    assert list(response.context["page"]) == []


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (
            {"date_from": "2026-12-02", "date_to": "2026-12-01"},
            "The start of the date range is after its end.",
        ),
        (
            {"actor": "12345", "date_from": "2026-11-01"},
            "Actor: Select a valid choice. 12345 is not one of the available choices.",
        ),
    ],
)
def test_an_invalid_filter_lists_no_row_and_exports_no_file(client, history, params, problem):
    client.force_login(history.admin)
    response = client.get(reverse("audit"), params)
    assert list(response.context["page"]) == []
    assert f"{problem} Nothing is listed until the filters are corrected." in (
        response.content.decode()
    )
    response = client.get(reverse("audit"), {**params, "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        f"Nothing was exported: {problem} Correct the filters and export again.\n"
    )


def test_audit_page_does_a_fixed_number_of_queries(client, history, django_assert_num_queries):
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            at=now - timedelta(minutes=i),
            actor=history.maria,
            actor_name="maria",
            action="assignment.create",
            campaign=history.campaigns[0],
            plan=history.plans[0],
            summary=f"event {i}",
            after={"n": i},
        )
        for i in range(300)
    )
    client.force_login(history.admin)
    # session, user, roles, actors, count, page
    with django_assert_num_queries(6):
        response = client.get(reverse("audit"))
    assert len(response.context["page"]) == 50
    # Six pages or more: the newest and the oldest are one step away from any page.
    pages = response.context["page"].paginator.num_pages
    body = client.get(reverse("audit"), {"page": "3"}).content.decode()
    assert '<a href="?page=1">« Newest</a>' in body
    assert f'<a href="?page={pages}">Oldest »</a>' in body


def test_the_page_shows_names_and_changes_not_uuids_or_keys(client, history):
    with time_machine.travel("2026-11-12 10:00Z", tick=False):
        services.assignment_move(
            plan=history.plans[0], to_campaign=history.campaigns[1], acting_user=history.admin
        )
    client.force_login(history.admin)

    html = client.get(reverse("audit")).content.decode()

    plan, spring, other = history.plans[0], history.campaigns[0], history.campaigns[1]
    assert f"<li>Campaign: {spring.name} → {other.name}</li>" in html
    assert f"<li>Plan: {plan.name}</li>" in html
    # The grant names the Initiative, not its Khoros key.
    initiative = history.initiatives[2]
    assert f"<li>Initiative: {initiative.name}</li>" in html
    assert f"<li>User: {history.tom.username}</li>" in html
    for key in (str(plan.khoros_id), str(spring.sap_uuid), str(other.sap_uuid)):
        assert key not in html
    assert f">{initiative.khoros_id}<" not in html
    assert "plan_name" not in html and "campaign_name" not in html
    assert "<th>Before</th>" not in html


# --- The Details column, row kind by row kind ---------------------------------------------


def details(client) -> list[list[str]]:
    """The Details lines of every row of the audit page, newest row first, as a person reads
    them."""
    body = client.get(reverse("audit")).content.decode()
    cells = re.findall(r'<td class="audit-changes"[^>]*>(.*?)</td>', body, re.S)
    return [[html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", cell)] for cell in cells]


def _ref(campaign, plan):
    return CampaignReference.objects.create(
        campaign=campaign, external_campaign_id=plan.khoros_id.hex, plan=plan, name=plan.name
    )


def test_assign_move_and_unassign_rows_read_as_the_plans_campaign_changing(client, world):
    spring, summer = world.campaigns[0], world.campaigns[1]
    social, teaser = world.plans[0], world.plans[1]
    services.assignment_create(
        campaign=spring, plan=social, acting_user=world.admin, note="for the launch"
    )
    services.assignment_create(campaign=spring, plan=teaser, acting_user=world.admin)
    services.assignment_move(plan=social, to_campaign=summer, acting_user=world.admin)
    services.assignment_delete(campaign=spring, plan=teaser, acting_user=world.admin)
    client.force_login(world.admin)

    assert details(client) == [
        # Unassigned: what was removed, with no empty note ("Note: – → –").
        ["Plan: Summer teaser", "Campaign: Spring Sale 2026"],
        # Moved: the campaign and the note changed, the Plan is context.
        [
            "Plan: Spring Sale social",
            "Campaign: Spring Sale 2026 → Summer 2026",
            "Note: for the launch → –",
        ],
        ["Plan: Summer teaser", "Campaign: Spring Sale 2026"],
        ["Plan: Spring Sale social", "Campaign: Spring Sale 2026", "Note: for the launch"],
    ]


def test_a_move_between_two_campaigns_of_one_name_shows_their_sap_mc_ids(client, world):
    spring = world.campaigns[0]
    twin = ExternalCampaign.objects.create(
        sap_uuid=uuid.uuid4(), campaign_id="200", name=spring.name,
        first_seen=timezone.now(), last_seen=timezone.now(),
    )  # fmt: skip
    services.assignment_create(campaign=spring, plan=world.plans[0], acting_user=world.admin)
    services.assignment_move(plan=world.plans[0], to_campaign=twin, acting_user=world.admin)
    client.force_login(world.admin)
    assert details(client)[0] == [
        "Plan: Spring Sale social",
        "Campaign: Spring Sale 2026 (100) → Spring Sale 2026 (200)",
    ]


def test_adopt_and_undo_rows_read_one_line_per_plan(client, world):
    spring, summer = world.campaigns[0], world.campaigns[1]
    social, teaser = world.plans[0], world.plans[1]
    _ref(spring, social)
    _ref(spring, teaser)
    services.assignment_create(campaign=summer, plan=social, acting_user=world.admin)
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    services.drift_undo(event=adoption, acting_user=world.admin)
    client.force_login(world.admin)

    undo, adopt, _assign = details(client)
    assert adopt == [
        "Spring Sale social: Summer 2026 → Spring Sale 2026",
        "Summer teaser: no campaign → Spring Sale 2026",
    ]
    assert undo == [
        "Spring Sale social: Spring Sale 2026 → Summer 2026",
        "Summer teaser: Spring Sale 2026 → no campaign",
    ]


def test_keep_rows_name_both_sides_campaigns_not_their_ids(client, world):
    spring, summer, autumn = world.campaigns[:3]
    teaser, video = world.plans[1], world.plans[2]
    _ref(summer, teaser)  # in SAP MC only
    services.assignment_create(campaign=spring, plan=video, acting_user=world.admin)
    _ref(autumn, video)  # a conflict: SAP MC says Autumn, the bridge Spring
    services.drift_keep_bridge(campaign=summer, acting_user=world.admin)
    services.drift_keep_bridge(campaign=autumn, acting_user=world.admin)
    client.force_login(world.admin)

    conflict, sap_only, _assign = details(client)
    assert sap_only == ["Summer teaser: stays unassigned, not under Summer 2026 (101) as in SAP MC"]
    assert conflict == [
        "Spring Sale video: stays under Spring Sale 2026 (100), not under Autumn 2026 (102) "
        "as in SAP MC"
    ]


def test_grant_rows_name_the_user_and_the_initiative(client, world):
    grant = services.grant_create(
        user=world.tom, initiative=world.initiatives[2], acting_user=world.admin
    )
    services.grant_delete(grant=grant, acting_user=world.admin)
    client.force_login(world.admin)
    assert details(client) == [["User: tom", "Initiative: Brand 2"]] * 2


def test_a_schedule_change_shows_what_changed_and_what_stayed(client, world):
    schedule = Schedule.objects.create(
        name="Khoros plans", func="khoros.tasks.sync_khoros_task", minutes=30,
        schedule_type=Schedule.MINUTES, repeats=-1,
    )  # fmt: skip
    services.schedule_update(schedule=schedule, minutes=60, enabled=True, acting_user=world.admin)
    services.schedule_update(schedule=schedule, minutes=60, enabled=False, acting_user=world.admin)
    client.force_login(world.admin)
    assert details(client) == [
        ["Every (min): 60", "On: yes → no"],
        ["Every (min): 30 → 60", "On: yes"],
    ]


def test_settling_a_success_push_row_changes_its_status_only(client, world):
    spring, social = world.campaigns[0], world.plans[0]
    run = SyncRun.objects.create(kind="sapmc_success_push", status="failed", trigger="button")

    def unknown(day):
        return SuccessSent.objects.create(
            plan=social, day=day, campaign=spring, run=run, status=SuccessSent.Status.UNKNOWN,
            sent_at=timezone.now(), numbers_hash="x", message="SAP MC answered 500",
        )  # fmt: skip

    arrived, missing = unknown(date(2026, 3, 1)), unknown(date(2026, 3, 2))
    for entry, resolution in ((arrived, "arrived"), (missing, "resend")):
        services.push_outcome_resolve(
            campaign=spring, entry_id=entry.pk, resolution=resolution, acting_user=world.admin
        )
    client.force_login(world.admin)

    context = ["Plan: Spring Sale social", "Campaign: Spring Sale 2026"]
    assert details(client) == [
        [*context, "Day: 2026-03-02", "Status: Outcome unknown → due again",
         "Message: SAP MC answered 500", f"Run: {run.pk}"],
        [*context, "Day: 2026-03-01", "Status: Outcome unknown → Sent",
         "Message: SAP MC answered 500 → Found in SAP MC by alex", f"Run: {run.pk}"],
    ]  # fmt: skip


def test_the_csv_has_the_pages_details_beside_the_stored_json(client, world):
    summer = world.campaigns[1]
    _ref(summer, world.plans[0])
    services.drift_keep_bridge(campaign=summer, acting_user=world.admin)
    client.force_login(world.admin)
    response = client.get(reverse("audit"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "time", "actor", "action", "campaign", "plan", "summary", "details", "before", "after",
    ]  # fmt: skip
    assert len(rows) == 2
    assert rows[1][2] == "drift.keep_bridge"
    assert rows[1][6] == (
        "Spring Sale social: stays unassigned, not under Summer 2026 (101) as in SAP MC"
    )
    assert json.loads(rows[1][7])["plans"][0]["sap_campaigns"] == ["101"]
    assert json.loads(rows[1][8]) == {"kept": ["Spring Sale social"]}


def test_a_plan_named_like_a_formula_is_not_one_in_the_csv_details(client, world):
    spring, plan = world.campaigns[0], world.plans[0]
    Plan.objects.filter(pk=plan.pk).update(name="=HYPERLINK(1)")
    plan.refresh_from_db()
    _ref(spring, plan)
    services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    client.force_login(world.admin)
    response = client.get(reverse("audit"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][6] == "'=HYPERLINK(1): no campaign → Spring Sale 2026"


def test_an_actor_or_campaign_id_that_reads_as_a_formula_is_not_one_in_the_csv(
    client, world, django_user_model
):
    # Django's user names may start with "-", "+" or "@" (and a spreadsheet computes "-1+1");
    # the campaign's id is SAP MC's text.
    spring, plan = world.campaigns[0], world.plans[0]
    ExternalCampaign.objects.filter(pk=spring.pk).update(campaign_id="+1+1")
    spring.refresh_from_db()
    odd = django_user_model.objects.create_user("-1+1", password="pw-odd-2026")
    services.assignment_create(campaign=spring, plan=plan, acting_user=world.admin)
    AuditEvent.objects.update(actor=odd, actor_name="-1+1")
    client.force_login(world.admin)
    response = client.get(reverse("audit"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [rows[1][1], rows[1][3]] == ["'-1+1", "'+1+1"]


def test_a_user_row_from_the_admin_shows_only_what_changed_with_labels(client, world):
    state = {
        "username": "tom", "first_name": "Tom", "last_name": "Berg", "email": "tom@example.com",
        "is_active": True, "is_staff": False, "is_superuser": False,
        "groups": ["Marketing managers"], "permissions": [],
    }  # fmt: skip
    changed = {**state, "is_active": False, "email": "t.berg@example.com"}
    services.audit_record(
        actor=world.admin, action=AuditEvent.Action.USER_CREATE, summary="Created user “tom”",
        before=None, after=state,
    )  # fmt: skip
    services.audit_record(
        actor=world.admin, action=AuditEvent.Action.USER_UPDATE,
        summary="Changed user “tom” (Email, Active)", before=state, after=changed,
    )  # fmt: skip
    client.force_login(world.admin)
    assert details(client) == [
        ["Username: tom", "Email: tom@example.com → t.berg@example.com", "Active: yes → no"],
        # A new account shows what it was created with, labelled, empty fields left out.
        [
            "Username: tom", "First name: Tom", "Last name: Berg", "Email: tom@example.com",
            "Active: yes", "Staff: no", "Superuser: no", "Groups: Marketing managers",
        ],
    ]  # fmt: skip
