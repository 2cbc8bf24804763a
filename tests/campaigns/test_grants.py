"""Grants, layer by layer: what a manager outside her Initiatives gets from each page (the status
and the message), and the same refusal from the services and selectors called on their own."""

from __future__ import annotations

import ast
import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from campaigns import selectors, services
from campaigns.access import NotAllowedError
from campaigns.models import Assignment, AuditEvent
from khoros.models import Plan, PlanKpi
from sapmc.models import CampaignReference, SuccessSent
from tests.world import make_plan

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "workbench"}
NOT_HERS = "This Plan belongs to an Initiative you have no access to."


def _ref(campaign, plan):
    return CampaignReference.objects.create(
        campaign=campaign, external_campaign_id=plan.khoros_id.hex, plan=plan, name=plan.name
    )


def _forbidden(response, message: str) -> str:
    assert response.status_code == 403
    body = response.content.decode()
    assert message in body
    return body


# ---- The pages: status codes and messages ---------------------------------------------------


def test_workbench_assign_refuses_the_whole_request_for_one_plan_outside_the_grants(client, world):
    client.force_login(world.maria)
    spring, toms = world.campaigns[0], world.plans[2]
    for data in (
        {"campaign": spring.pk, "plan_one": toms.pk},
        {"campaign": spring.pk, "plans": [world.plans[0].pk, toms.pk]},
        {"campaign": spring.pk, "plans": [world.plans[0].pk, 999_999]},  # not mirrored at all
    ):
        body = _forbidden(
            client.post(reverse("workbench-assign"), data, headers=HTMX),
            "Some of these Plans are not yours to assign.",
        )
        assert toms.name not in body
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_workbench_unassign_and_move_do_not_reveal_a_plan_outside_the_grants(client, world):
    spring, toms = world.campaigns[0], world.plans[2]
    Assignment.objects.create(plan=toms, campaign=spring, assigned_at=timezone.now())
    client.force_login(world.maria)
    for name, campaign in (("workbench-unassign", spring), ("workbench-move", world.campaigns[1])):
        response = client.post(
            reverse(name), {"campaign": campaign.pk, "plan": toms.pk}, headers=HTMX
        )
        assert response.status_code == 404
    assert Assignment.objects.get(plan=toms).campaign == spring
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("action", ["keep", "adopt", "confirm-adopt"])
def test_workbench_drift_on_a_plan_outside_the_grants_is_not_found_as_no_plan_is(
    client, world, action
):
    spring, removed, toms = world.campaigns[0], world.campaigns[3], world.plans[2]
    _ref(spring, toms)
    _ref(removed, toms)
    client.force_login(world.maria)
    # Tom's Plan, on a live or a removed campaign, answers as a number that is no Plan: a 403
    # told her that the number was a Plan, of an Initiative she may not see.
    for campaign, plan_pk in ((spring, toms.pk), (removed, toms.pk), (spring, 999_999)):
        data = {"campaign": campaign.pk, "drift": f"{action}:{plan_pk}"}
        response = client.post(reverse("workbench-drift"), data, headers=HTMX)
        assert response.status_code == 404
        body = response.content.decode()
        assert "Page not found" in body and NOT_HERS not in body and toms.name not in body
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
    # Tom decides it.
    client.force_login(world.tom)
    data = {"campaign": spring.pk, "drift": f"keep:{toms.pk}"}
    assert client.post(reverse("workbench-drift"), data, headers=HTMX).status_code == 200


def test_workbench_undo_of_an_adoption_touching_another_initiative_is_403(client, world):
    spring = world.campaigns[0]
    _ref(spring, world.plans[0])
    _ref(spring, world.plans[2])
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    # Tom's alone: the row's number is all she needs to post.
    autumn = world.campaigns[2]
    _ref(autumn, world.plans[3])
    toms_only = services.drift_adopt_sap(campaign=autumn, acting_user=world.admin)
    client.force_login(world.maria)
    for event, plan in ((adoption, world.plans[2]), (toms_only, world.plans[3])):
        body = _forbidden(
            client.post(reverse("workbench-undo"), {"event": event.pk}, headers=HTMX), NOT_HERS
        )
        # The refusal reads out no Plan of an Initiative she has no access to.
        assert plan.name not in body and "Autumn &lt;script" not in body
    assert Assignment.objects.count() == 3
    assert AuditEvent.objects.count() == 2


def test_workbench_undo_says_nothing_of_what_became_of_another_initiatives_adoption(client, world):
    autumn, toms = world.campaigns[2], world.plans[3]
    _ref(autumn, toms)
    adoption = services.drift_adopt_sap(campaign=autumn, acting_user=world.admin)
    services.drift_undo(event=adoption, acting_user=world.tom)
    client.force_login(world.maria)
    # Undone already or not, an adoption of tom's Plans is refused alike: "already undone" told
    # her what had become of Plans she may not see.
    body = _forbidden(
        client.post(reverse("workbench-undo"), {"event": adoption.pk}, headers=HTMX), NOT_HERS
    )
    assert "already undone" not in body
    assert AuditEvent.objects.count() == 2


def test_calendar_assign_refuses_a_plan_outside_the_grants(client, world):
    client.force_login(world.maria)
    for plan_pk in (world.plans[2].pk, 999_999):
        response = client.post(
            reverse("calendar-assign"), {"plan": plan_pk, "campaign": world.campaigns[0].pk}
        )
        _forbidden(response, "This Plan is not yours to assign.")
    # Refused before the campaign is looked at.
    response = client.post(reverse("calendar-assign"), {"plan": world.plans[2].pk, "campaign": 1})
    _forbidden(response, "This Plan is not yours to assign.")
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_calendar_list_assign_refuses_the_batch_with_a_plan_outside_the_grants(client, world):
    client.force_login(world.maria)
    data = {"plans": [world.plans[0].pk, world.plans[2].pk], "campaign": 999_999, "view": "list"}
    _forbidden(
        client.post(reverse("calendar-list-assign"), data),
        "Some of these Plans are not yours to assign.",
    )
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_calendar_panel_of_a_plan_outside_the_grants_says_so(client, world):
    client.force_login(world.maria)
    response = client.get(
        reverse("calendar-panel"), {"panel": f"p{world.plans[2].pk}"}, HTTP_HX_REQUEST="true"
    )
    assert "This Plan is not in the bridge or not yours to see." in response.content.decode()
    response = client.get(
        reverse("calendar-panel"), {"panel": f"p{world.plans[0].pk}"}, HTTP_HX_REQUEST="true"
    )
    assert world.plans[0].name in response.content.decode()


def test_campaign_kpi_csv_holds_only_the_viewers_plans(client, world):
    spring = world.campaigns[0]
    for plan in (world.plans[0], world.plans[2]):
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    for plan in (world.plans[0], world.plans[2]):
        PlanKpi.objects.create(
            plan=plan, day=plan.start_day, impressions=5, updated_at=timezone.now()
        )
    client.force_login(world.maria)
    response = client.get(reverse("campaign-kpis-csv", args=[spring.pk]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert world.plans[0].khoros_id.hex in body and world.plans[2].khoros_id.hex not in body
    client.force_login(world.admin)
    response = client.get(reverse("campaign-kpis-csv", args=[spring.pk]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert world.plans[0].khoros_id.hex in body and world.plans[2].khoros_id.hex in body


# ---- One campaign fed by both Initiatives: what maria learns of tom's Plan -------------------


def _both_feed_spring(world) -> None:
    """maria's "Spring Sale social" and tom's "Spring Sale video" both feed Spring Sale 2026."""
    for plan in (world.plans[0], world.plans[2]):
        Assignment.objects.create(
            plan=plan, campaign=world.campaigns[0], assigned_at=timezone.now()
        )


def _calendar_found(client, view: str, q: str) -> list[str]:
    """The campaigns the calendar, its list or its CSV finds for `q` in the year 2026."""
    params = {"zoom": "year", "date": "2026-01-01", "q": q}
    if view == "calendar":
        return [
            row.campaign.name for row in client.get(reverse("calendar"), params).context["cal"].rows
        ]
    if view == "list":
        return [c.name for c in client.get(reverse("calendar-list"), params).context["campaigns"]]
    response = client.get(reverse("calendar-list"), {**params, "format": "csv"})
    rows = csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    return [row[1] for row in rows if row[0] == "campaign"]


@pytest.mark.parametrize("view", ["calendar", "list", "csv"])
def test_calendar_search_finds_no_campaign_through_a_plan_outside_the_grants(client, world, view):
    _both_feed_spring(world)
    mine, toms = world.plans[0], world.plans[2]
    client.force_login(world.maria)
    # Her own Plan finds the campaign it feeds, by name or Khoros id.
    for q in (mine.name, mine.khoros_id.hex):
        assert _calendar_found(client, view, q) == ["Spring Sale 2026"]
    # Tom's finds what a name nobody has finds: nothing, so neither that it exists nor where.
    for q in (toms.name, toms.khoros_id.hex, str(toms.khoros_id)):
        assert _calendar_found(client, view, q) == _calendar_found(client, view, "no such") == []
    client.force_login(world.tom)
    assert _calendar_found(client, view, toms.khoros_id.hex) == ["Spring Sale 2026"]


def test_workbench_search_boxes_find_nothing_by_a_plan_outside_the_grants(client, world):
    _both_feed_spring(world)
    toms = world.plans[2]
    client.force_login(world.maria)

    def found(q: str) -> tuple[int, int]:
        response = client.get(reverse("workbench"), {"c-q": q, "p-q": q})
        return response.context["campaign_page"].paginator.count, len(
            response.context["plans_shown"]
        )

    for q in (toms.name, toms.khoros_id.hex, str(toms.khoros_id)):
        assert found(q) == found("no such") == (0, 0)
    assert found(world.plans[0].khoros_id.hex) == (0, 1)  # her own Plan, by its id


def test_calendar_marks_missing_kpis_by_the_viewers_own_plans(client, world):
    _both_feed_spring(world)
    spring, mine, toms = world.campaigns[0], world.plans[0], world.plans[2]
    PlanKpi.objects.create(
        plan=toms, day=date(2026, 3, 12), impressions=7, updated_at=timezone.now()
    )

    def marks(user) -> list[str]:
        client.force_login(user)
        with time_machine.travel(datetime(2026, 3, 20, 12, tzinfo=UTC)):
            cal = client.get(
                reverse("calendar"), {"zoom": "quarter", "date": "2026-03-01"}
            ).context["cal"]
        return next(row.bar.marks for row in cal.rows if row.campaign == spring)

    # Her started Plan has no numbers; tom's numbers are not hers and do not take the mark away
    # (they told her that his Plan had numbers).
    assert "no KPIs" in marks(world.maria)
    assert "no KPIs" not in marks(world.tom)
    assert "no KPIs" not in marks(world.admin)  # the campaign has numbers
    PlanKpi.objects.create(
        plan=mine, day=date(2026, 3, 12), impressions=5, updated_at=timezone.now()
    )
    assert "no KPIs" not in marks(world.maria)


def test_calendar_panels_and_list_count_the_viewers_plans_only(client, world):
    _both_feed_spring(world)
    spring, mine, toms = world.campaigns[0], world.plans[0], world.plans[2]
    for plan, impressions in ((mine, 40), (toms, 70_001)):
        PlanKpi.objects.create(
            plan=plan, day=date(2026, 3, 12), impressions=impressions, updated_at=timezone.now()
        )
    client.force_login(world.maria)
    panel = client.get(reverse("calendar-panel"), {"panel": f"c{spring.pk}"}, headers=HTMX)
    cpanel = panel.context["cpanel"]
    assert cpanel.plans == [mine] and cpanel.hidden_plans == 1
    assert cpanel.kpis.totals["Impressions"] == 40
    assert toms.name not in panel.content.decode() and "70,001" not in panel.content.decode()
    params = {"zoom": "month", "date": "2026-03-01"}
    (row,) = client.get(reverse("calendar-list"), params).context["campaigns"]
    assert (row.plan_count, row.impressions) == (1, 40)
    response = client.get(reverse("calendar-list"), {**params, "format": "csv"})
    rows = csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    # Her Plan, tom's counted but not named, her impressions only.
    assert [r[6:] for r in rows if r[0] == "campaign"] == [["1", "1", "40"]]
    client.force_login(world.admin)
    (row,) = client.get(reverse("calendar-list"), params).context["campaigns"]
    assert (row.plan_count, row.impressions) == (2, 70_041)


def _plans_said(html: str, start: str) -> str:
    """The words of the element that starts with `start`, tags left out, spaces collapsed."""
    at = html.index(start)
    tag = start[1 : start.index(" ")]
    element = html[at : html.index(f"</{tag}>", at)]
    return " ".join(re.sub(r"<[^>]+>", " ", element).split())


@pytest.mark.parametrize(
    ("who", "said"),
    [
        ("maria", "1 Plan (and 1 in Initiatives you cannot see)"),
        ("tom", "1 Plan (and 1 in Initiatives you cannot see)"),
        ("admin", "2 Plans"),
    ],
)
def test_the_workbench_and_the_calendar_list_count_a_campaigns_plans_alike(
    client, world, who, said
):
    """One rule on both lists: the Plans of the viewer's Initiatives, and those of others
    counted apart in the same words (a manager's workbench said 2 where the list said 1)."""
    _both_feed_spring(world)
    spring = world.campaigns[0]
    client.force_login(getattr(world, who))
    workbench = client.get(reverse("workbench"), {"c-q": "Spring", "cpage": 1, "ppage": 1})
    listing = client.get(reverse("calendar-list"), {"zoom": "month", "date": "2026-03-01"})
    (on_workbench,) = workbench.context["campaign_page"]
    (on_list,) = listing.context["campaigns"]
    expected = (2, 0) if who == "admin" else (1, 1)
    assert (on_workbench.plan_count, on_workbench.hidden_plan_count) == expected
    assert (on_list.plan_count, on_list.hidden_plan_count) == expected
    anchor = f'<span class="plan-count" id="plan-count-{spring.pk}">'
    assert _plans_said(workbench.content.decode(), anchor) == said
    assert _plans_said(listing.content.decode(), anchor) == said
    # "Without Plans only" still means no Plan at all: hers or another Initiative's.
    workbench = client.get(reverse("workbench"), {"c-unassigned": "on", "cpage": 1, "ppage": 1})
    assert spring not in list(workbench.context["campaign_page"])


@time_machine.travel(datetime(2026, 3, 20, 12, tzinfo=UTC))
def test_campaign_page_counts_and_names_the_viewers_plans_only(client, world):
    """The rule of README "What it does": a manager's figures of a shared campaign are her Plans'
    share of it, and another Initiative's Plan is only counted ("1 Plan of this campaign belongs
    to Initiatives you are not granted"); a sync admin's are the campaign's."""
    spring, summer, toms = world.campaigns[0], world.campaigns[1], world.plans[2]
    Plan.objects.filter(pk=toms.pk).update(color="#abcdef")
    # maria's 12 Plans, one impression a day more each, and tom's 70,001 a day.
    hers = [world.plans[0]] + Plan.objects.bulk_create(
        make_plan(world.initiatives[0], f"Maria {k:02}", date(2026, 3, 1), date(2026, 3, 31))
        for k in range(1, 12)
    )
    now = timezone.now()
    for k, plan in enumerate([*hers, toms]):
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=now)
        for day in (10, 11, 12):
            PlanKpi.objects.create(
                plan=plan,
                day=date(2026, 3, day),
                impressions=70_001 if plan == toms else 100 + k,
                engagements=7_003 if plan == toms else 1,
                updated_at=now,
            )
        SuccessSent.objects.create(
            plan=plan, day=date(2026, 3, 10), campaign=spring, status="created", sent_at=now,
            numbers={}, numbers_hash="",
        )  # fmt: skip
        SuccessSent.objects.create(
            plan=plan, day=date(2026, 3, 11), campaign=spring, status="refused", sent_at=now,
            numbers={}, numbers_hash="", message="refused",
        )  # fmt: skip
    own_day = sum(100 + k for k in range(12))  # 1,266 impressions a day

    def page(user, url: str) -> tuple[Any, str]:
        client.force_login(user)
        response = client.get(url)
        return response.context, response.content.decode()

    spring_url = reverse("campaign", args=[spring.pk])
    ctx, body = page(world.maria, spring_url)
    kpis = ctx["kpis"]
    assert [
        kpis.series["impressions"][kpis.days.index(date(2026, 3, d))] for d in (10, 11, 12)
    ] == [own_day] * 3
    assert [t.text for t in ctx["totals"]][:2] == ["3,798", "36"]  # impressions, engagements
    assert ctx["pacing"].so_far[0][1] == "3,798"
    assert {values[0] for day, values, _ in ctx["daily_rows"] if day.day in (10, 11, 12)} == {
        ("Impressions", "1,266")
    }
    layers = [s.label for s in ctx["stacked_chart"].series]
    assert layers[-1] == "Other 2 Plans" and len(layers) == 11 and toms.name not in layers
    assert {a.plan for a in ctx["plan_page"]} == set(hers) and ctx["hidden_assigned"] == 1
    pushes = ctx["pushes"]
    assert {i.plan for i in pushes.sent} == set(hers)
    assert {f.plan for f in pushes.failed} == set(hers)
    assert {w.plan_id for w in pushes.waiting} == {p.pk for p in hers}
    for trace in (toms.name, toms.khoros_id.hex, "abcdef", "70,001", "71,267", "213,801"):
        assert trace not in body
    assert "1 Plan of this campaign belongs to Initiatives you are not granted" in body
    # Compared from another campaign's page, the shared one counts her Plans too.
    ctx, body = page(world.maria, reverse("campaign", args=[summer.pk]) + f"?compare={spring.pk}")
    assert ctx["compare_totals"][1].total == 3_798 and "213,801" not in body

    # The sync admin's are the campaign's: every Plan, tom's named.
    ctx, body = page(world.admin, spring_url)
    assert [t.text for t in ctx["totals"]][:2] == ["213,801", "21,045"]
    assert [s.label for s in ctx["stacked_chart"].series][-1] == "Other 3 Plans"
    assert toms.name in body and ctx["hidden_assigned"] == 0


# ---- The services on their own: every caller gets the same refusal --------------------------


def test_each_assignment_service_refuses_a_plan_outside_the_grants_without_a_view(world):
    spring, summer, toms = world.campaigns[0], world.campaigns[1], world.plans[2]
    services.assignment_create(campaign=spring, plan=toms, acting_user=world.tom)
    count = AuditEvent.objects.count()
    calls = [
        lambda: services.assignment_create(campaign=summer, plan=toms, acting_user=world.maria),
        lambda: services.assignment_move(plan=toms, to_campaign=summer, acting_user=world.maria),
        lambda: services.assignment_delete(campaign=spring, plan=toms, acting_user=world.maria),
    ]
    for call in calls:
        with pytest.raises(NotAllowedError, match=f"^{NOT_HERS}$"):
            call()
    assert issubclass(NotAllowedError, PermissionDenied)  # a page answers it with a 403
    assert Assignment.objects.get(plan=toms).campaign == spring
    assert AuditEvent.objects.count() == count


def test_a_signed_in_user_without_a_role_assigns_nothing(world, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    with pytest.raises(NotAllowedError):
        services.assignment_create(
            campaign=world.campaigns[0], plan=world.plans[0], acting_user=nobody
        )
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_bulk_assign_refuses_each_plan_outside_the_grants_on_its_own(world):
    spring, own, toms = world.campaigns[0], world.plans[0], world.plans[2]
    result = services.assignments_bulk_create(
        campaign=spring, plans=[own, toms], acting_user=world.maria
    )
    assert [a.plan for a in result.created] == [own]
    assert [(r.plan, r.reason, r.conflict) for r in result.refused] == [(toms, NOT_HERS, False)]
    assert AuditEvent.objects.get().plan == own


def test_drift_services_refuse_a_named_plan_outside_the_grants_before_anything_else(world):
    spring, removed, toms = world.campaigns[0], world.campaigns[3], world.plans[2]
    _ref(spring, toms)
    _ref(removed, toms)
    for campaign in (spring, removed):
        for decide in (
            services.drift_adopt_preview,
            services.drift_adopt_sap,
            services.drift_keep_bridge,
        ):
            with pytest.raises(NotAllowedError, match=f"^{NOT_HERS}$"):
                decide(campaign=campaign, acting_user=world.maria, plans=[toms])
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_drift_and_schedules_refuse_a_user_without_the_role(world, django_user_model):
    from django_q.models import Schedule

    nobody = django_user_model.objects.create_user("nobody", password="x")
    with pytest.raises(NotAllowedError, match="Drift is decided by marketing managers"):
        services.drift_keep_bridge(campaign=world.campaigns[0], acting_user=nobody)
    schedule = Schedule.objects.create(name="probe", func="math.floor", minutes=5)
    with pytest.raises(NotAllowedError, match="Only sync admins change schedules."):
        services.schedule_update(
            schedule=schedule, minutes=10, enabled=True, acting_user=world.maria
        )
    assert not AuditEvent.objects.exists()


# ---- The selectors: reads cut to the viewer's grants -----------------------------------------


def test_plan_lookups_see_only_the_viewers_plans(world, django_assert_num_queries):
    own, teaser, toms = world.plans[0], world.plans[1], world.plans[2]
    plans = selectors.plans_to_assign(user=world.maria, pks=[teaser.pk, own.pk])
    assert set(plans) == {own, teaser}
    with django_assert_num_queries(0):  # the Initiative came with them
        assert {p.initiative.name for p in plans} == {"Brand 0"}
    for pks in ([own.pk, toms.pk], [own.pk, 999_999]):
        with pytest.raises(NotAllowedError, match="^Some of these Plans are not yours"):
            selectors.plans_to_assign(user=world.maria, pks=pks)
    with pytest.raises(NotAllowedError, match="^This Plan is not yours to assign.$"):
        selectors.plan_to_assign(user=world.maria, pk=toms.pk)
    assert selectors.plan_to_assign(user=world.tom, pk=toms.pk) == toms
    assert len(selectors.plans_to_assign(user=world.admin, pks=[own.pk, toms.pk])) == 2
    assert set(selectors.plans_visible(user=world.maria)) == {
        p for p in world.plans if p.initiative_id == world.initiatives[0].pk
    }
    assert not selectors.plans_visible(user=AnonymousUser()).exists()


def test_initiative_reads_see_only_the_viewers_initiatives(world):
    brand0 = world.initiatives[0]
    assert selectors.initiative_choices(user=world.maria) == [(brand0.pk, "Brand 0")]
    assert list(selectors.initiatives_visible(user=world.maria)) == [brand0]
    assert len(selectors.initiative_choices(user=world.admin)) == 3
    assert selectors.initiative_choices(user=AnonymousUser()) == []


def test_campaign_kpi_rows_hold_only_the_viewers_plans(world):
    spring = world.campaigns[0]
    for plan in (world.plans[0], world.plans[2]):
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
        PlanKpi.objects.create(plan=plan, day=plan.start_day, updated_at=timezone.now())
    rows = selectors.campaign_kpi_rows(campaign=spring, user=world.maria)
    assert [r.plan for r in rows] == [world.plans[0]]
    rows = selectors.campaign_kpi_rows(campaign=spring, user=world.admin)
    assert [r.plan for r in rows] == [world.plans[0], world.plans[2]]  # by day, then name


def test_drift_names_a_reference_not_mirrored_yet_only_to_its_initiatives_managers(world):
    """SAP MC's id of a Plan the bridge has not mirrored yet is that Plan's Khoros id: shown to
    the managers of the Initiative SAP MC names as its managing party (and where it names none
    the bridge has), never to another Initiative's."""
    spring = world.campaigns[0]
    for external_id, party in (("a" * 32, "1700"), ("b" * 32, "1701"), ("c" * 32, "")):
        CampaignReference.objects.create(
            campaign=spring, external_campaign_id=external_id, managing_party=party
        )
    seen = {
        who: selectors.campaign_drift(campaign=spring, user=user).unresolved
        for who, user in (("maria", world.maria), ("tom", world.tom), ("admin", world.admin))
    }
    assert seen == {
        "maria": ["a" * 32, "c" * 32],
        "tom": ["b" * 32, "c" * 32],
        "admin": ["a" * 32, "b" * 32, "c" * 32],
    }


# ---- The views: no grant rule of their own ---------------------------------------------------

VIEW_MODULES = [
    "campaigns/views.py",
    "campaigns/workbench.py",
    "campaigns/calendar_views.py",
    "campaigns/schedule_views.py",
    "campaigns/kpi_views.py",
]
# What a view may take from campaigns.access: the role decorators and the role questions that
# choose what a page shows. Grants are the services' (writes) and the selectors' (reads).
VIEW_ACCESS_NAMES = {
    "AnyUser",
    "is_manager_only",
    "is_sync_admin",
    "manager_action",
    "manager_or_admin_required",
    "signed_in_required",
    "sync_admin_required",
}


def _view_module_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "campaigns.access":
            problems += [f"imports {a.name}" for a in node.names if a.name not in VIEW_ACCESS_NAMES]
        if isinstance(node, ast.ImportFrom) and "PermissionDenied" in {a.name for a in node.names}:
            problems.append("imports PermissionDenied")
        if isinstance(node, ast.Name) and node.id == "PermissionDenied":
            problems.append(f"line {node.lineno}: raises PermissionDenied itself")
        if isinstance(node, ast.If | ast.IfExp) and any(
            isinstance(n, ast.Name) and n.id == "is_sync_admin" for n in ast.walk(node.test)
        ):
            problems.append(f"line {node.lineno}: branches on is_sync_admin")
    return problems


def test_views_hold_no_grant_checks_of_their_own() -> None:
    root = Path(__file__).resolve().parents[2]
    problems = {m: _view_module_problems(root / m) for m in VIEW_MODULES}
    assert {m: p for m, p in problems.items() if p} == {}


def test_the_layer_check_notices_a_hand_written_grant_check(tmp_path) -> None:
    view = tmp_path / "view.py"
    view.write_text(
        "from campaigns.access import can_assign_plan, is_sync_admin\n"
        "from django.core.exceptions import PermissionDenied\n"
        "def v(request, plan):\n"
        "    if not is_sync_admin(request.user) and not can_assign_plan(request.user, plan):\n"
        "        raise PermissionDenied('no')\n"
    )
    assert set(_view_module_problems(view)) == {
        "imports can_assign_plan",
        "imports PermissionDenied",
        "line 4: branches on is_sync_admin",
        "line 5: raises PermissionDenied itself",
    }
