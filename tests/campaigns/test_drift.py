"""Issue 11: drift Plan by Plan (pending, SAP-only, conflict), keep decisions that never hide a
later difference, adoption with its question, undo, and the workbench's assignment rules."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from campaigns import selectors, services
from campaigns.models import Assignment, AuditEvent, DriftDecision
from campaigns.selectors import DriftKind, campaign_drift, drift_flags
from sapmc.models import CampaignReference
from tests.world import make_plan

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "workbench"}


def _ref(campaign, plan, party=""):
    return CampaignReference.objects.create(
        campaign=campaign,
        external_campaign_id=plan.khoros_id.hex,
        plan=plan,
        name=plan.name,
        managing_party=party,
    )


def _kinds(drift):
    return {i.plan.name: i.kind for i in drift.items}


def test_three_states_per_plan_seen_from_each_campaign(world):
    spring, summer, autumn = world.campaigns[:3]
    social, teaser, video = world.plans[0], world.plans[1], world.plans[2]
    services.assignment_create(campaign=spring, plan=social, acting_user=world.admin)  # pending
    _ref(summer, teaser)  # SAP-only
    services.assignment_create(campaign=spring, plan=video, acting_user=world.admin)
    _ref(autumn, video)  # conflict: SAP MC says autumn, the bridge spring

    assert _kinds(campaign_drift(campaign=spring)) == {
        "Spring Sale social": DriftKind.PENDING,
        "Spring Sale video": DriftKind.CONFLICT,
    }
    assert _kinds(campaign_drift(campaign=summer)) == {"Summer teaser": DriftKind.SAP_ONLY}
    assert _kinds(campaign_drift(campaign=autumn)) == {"Spring Sale video": DriftKind.CONFLICT}
    spring_drift = campaign_drift(campaign=spring)
    assert [i.plan for i in spring_drift.pending] == [social]
    assert [i.plan for i in spring_drift.open] == [video]
    assert spring_drift.open[0].adopt_target == autumn
    # Pending is calm: no drift flag for it; the conflict flags both campaigns.
    flags = drift_flags(campaigns=list(world.campaigns[:3]))
    assert flags == {spring.pk: True, summer.pk: True, autumn.pk: True}
    services.assignment_delete(campaign=spring, plan=video, acting_user=world.admin)
    Assignment.objects.filter(plan=teaser).delete()
    CampaignReference.objects.filter(plan__in=[teaser, video]).delete()
    assert drift_flags(campaigns=list(world.campaigns[:3])) == {
        spring.pk: False,
        summer.pk: False,
        autumn.pk: False,
    }
    assert campaign_drift(campaign=spring).pending  # still shown, calmly


def test_keep_is_per_plan_and_a_later_difference_shows_again(world):
    spring, summer, autumn = world.campaigns[:3]
    social, video = world.plans[0], world.plans[2]
    _ref(spring, social)
    _ref(spring, video)

    event = services.drift_keep_bridge(campaign=spring, acting_user=world.admin, plans=[social])

    drift = campaign_drift(campaign=spring)
    assert [i.plan for i in drift.open] == [video]
    assert [i.plan for i in drift.kept] == [social]
    decision = DriftDecision.objects.get(plan=social)
    assert (decision.sap_campaigns, decision.bridge_campaign) == ([spring.pk], None)
    assert event.before["plans"] == [
        {
            "plan": str(social.khoros_id),
            "plan_name": "Spring Sale social",
            "kind": "sap_only",
            "sap_campaigns": ["100"],
            "bridge_campaign": None,
        }
    ]
    assert AuditEvent.objects.count() == 1
    # Keeping again changes nothing and writes nothing.
    assert (
        services.drift_keep_bridge(campaign=spring, acting_user=world.admin, plans=[social]) is None
    )
    assert AuditEvent.objects.count() == 1
    # SAP MC now also references it under summer: a new difference, shown again.
    _ref(summer, social)
    assert social in [i.plan for i in campaign_drift(campaign=spring).open]
    CampaignReference.objects.filter(campaign=summer).delete()
    assert social in [i.plan for i in campaign_drift(campaign=spring).kept]
    # The bridge side changes (assigned elsewhere): a conflict now, shown again.
    services.assignment_create(campaign=autumn, plan=social, acting_user=world.admin)
    assert campaign_drift(campaign=spring).open[0].kind == DriftKind.CONFLICT
    assert drift_flags(campaigns=[spring])[spring.pk] is True


def test_adoption_preview_counts_what_it_removes_from_whom(world):
    spring, summer, autumn = world.campaigns[:3]
    social, teaser, video = world.plans[0], world.plans[1], world.plans[2]
    for plan in (social, teaser, video):
        _ref(spring, plan)
    services.assignment_create(campaign=summer, plan=social, acting_user=world.admin)
    services.assignment_create(campaign=summer, plan=teaser, acting_user=world.admin)
    services.assignment_create(campaign=autumn, plan=video, acting_user=world.admin)

    changes = services.drift_adopt_preview(campaign=spring, acting_user=world.admin, plans=None)

    assert sorted((c.plan.name, c.from_campaign.name) for c in changes) == [
        ("Spring Sale social", "Summer 2026"),
        ("Spring Sale video", "Autumn 2026"),
        ("Summer teaser", "Summer 2026"),
    ]
    assert AuditEvent.objects.count() == 3  # the preview changed nothing


def test_undo_restores_the_previous_assignments_once(world):
    spring, summer = world.campaigns[:2]
    social, teaser = world.plans[0], world.plans[1]
    _ref(spring, social)
    _ref(spring, teaser)
    services.assignment_create(campaign=summer, plan=social, acting_user=world.admin)
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    assert Assignment.objects.get(plan=social).campaign == spring
    assert Assignment.objects.get(plan=teaser).campaign == spring
    assert AuditEvent.objects.count() == 2

    undo = services.drift_undo(event=adoption, acting_user=world.maria)

    assert Assignment.objects.get(plan=social).campaign == summer
    assert not Assignment.objects.filter(plan=teaser).exists()
    assert AuditEvent.objects.count() == 3
    assert (undo.action, undo.actor, undo.before["undoes"]) == (
        "drift.undo",
        world.maria,
        adoption.pk,
    )
    assert undo.after == adoption.before
    assert [i.plan for i in campaign_drift(campaign=spring).open] == [social, teaser]
    with pytest.raises(services.AssignmentError, match="already undone"):
        services.drift_undo(event=adoption, acting_user=world.admin)
    assert AuditEvent.objects.count() == 3


def test_undo_refuses_when_a_plan_changed_since_and_changes_nothing(world):
    spring, summer, autumn = world.campaigns[:3]
    social, teaser = world.plans[0], world.plans[1]
    _ref(spring, social)
    _ref(spring, teaser)
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    services.assignment_move(plan=teaser, to_campaign=autumn, acting_user=world.admin)
    count = AuditEvent.objects.count()

    with pytest.raises(services.AssignmentError, match="“Summer teaser” was changed after"):
        services.drift_undo(event=adoption, acting_user=world.admin)

    assert Assignment.objects.get(plan=social).campaign == spring
    assert Assignment.objects.get(plan=teaser).campaign == autumn
    assert AuditEvent.objects.count() == count
    # Tom may not undo what touches Maria's Initiative.
    Assignment.objects.filter(plan=teaser).update(campaign=spring)
    with pytest.raises(PermissionDenied):
        services.drift_undo(event=adoption, acting_user=world.tom)
    with pytest.raises(services.AssignmentError, match="Only an adoption"):
        services.drift_undo(event=AuditEvent.objects.first(), acting_user=world.admin)
    assert summer  # (unused campaign kept for readability of the world)


def test_suggestions_rank_the_campaigns_own_initiative_and_overlap_first(world):
    spring = world.campaigns[0]
    brand0, brand1 = world.initiatives[0], world.initiatives[1]
    # The campaign's own Initiative is SAP MC's managing party of its references: Brand 1.
    _ref(spring, world.plans[2], party=brand1.khoros_id)
    Assignment.objects.create(
        plan=world.plans[2], campaign=spring, assigned_at=world.plans[2].first_seen
    )
    later = make_plan(brand1, "Brand one in May", date(2026, 5, 1), date(2026, 5, 31))
    later.save()

    parties = campaign_drift(campaign=spring).managing_parties
    assert parties == {brand1.khoros_id}
    names = [
        (s.plan.name, s.own_initiative, s.overlap_days)
        for s in selectors.campaign_suggestions(
            campaign=spring, user=world.admin, managing_parties=parties
        )
    ]
    # Own Initiative and overlapping: none left (the video Plan is assigned); then overlapping
    # others, then the own Initiative's Plan outside the dates.
    assert names[0] == ("Spring Sale social", False, 31)
    assert sorted(names[1:]) == [
        ("Autumn <script>alert(1)</script>", True, 0),
        ("Brand one in May", True, 0),
    ]
    assert brand0


def test_assignment_warnings_say_why(world):
    spring = world.campaigns[0]
    spring.start, spring.end = date(2026, 4, 1), date(2026, 6, 30)
    plan = make_plan(world.initiatives[1], "Early", date(2026, 3, 2), date(2026, 4, 30))
    plan.save()
    plan.refresh_from_db()
    warnings = selectors.assignment_warnings(
        campaign=spring, plans=[plan], managing_parties={world.initiatives[0].khoros_id}
    )
    assert warnings == {
        plan.pk: [
            "This Plan runs 2 Mar–30 Apr, partly outside the campaign's 1 Apr–30 Jun.",
            "This Plan is of Initiative “Brand 1”, not of the campaign's own (“Brand 0”).",
        ]
    }
    inside = make_plan(world.initiatives[0], "Inside", date(2026, 4, 2), date(2026, 4, 30))
    inside.save()
    assert (
        selectors.assignment_warnings(
            campaign=spring, plans=[inside], managing_parties={world.initiatives[0].khoros_id}
        )
        == {}
    )


# --- over HTTP -----------------------------------------------------------------------------


def test_assigning_outside_the_dates_asks_first_without_htmx_too(client, world):
    client.force_login(world.maria)
    spring, teaser = world.campaigns[0], world.plans[1]  # a June Plan, a March campaign
    data = {"campaign": spring.pk, "plan_one": teaser.pk, "note": "on purpose"}

    response = client.post(reverse("workbench-assign"), data)

    assert response.status_code == 200
    body = response.content.decode()
    assert "This Plan runs 1 Jun–15 Jun, outside the campaign&#x27;s 1 Mar–31 Mar." in body
    assert f'name="plan_confirmed" value="{teaser.pk}"' in body
    assert 'value="on purpose"' in body  # the note survives the question
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()

    response = client.post(
        reverse("workbench-assign"),
        {"campaign": spring.pk, "plan_confirmed": teaser.pk, "note": "on purpose"},
    )
    assert response.status_code == 302
    assert Assignment.objects.get(plan=teaser).note == "on purpose"
    assert AuditEvent.objects.count() == 1
    # A Plan inside the dates is assigned at once.
    response = client.post(
        reverse("workbench-assign"), {"campaign": spring.pk, "plan_one": world.plans[0].pk}
    )
    assert response.status_code == 302 and AuditEvent.objects.count() == 2


def _two_plans_to_adopt(world):
    """Spring references two Plans: one the bridge has under Summer, one it has not assigned."""
    spring, summer = world.campaigns[:2]
    social, teaser = world.plans[0], world.plans[1]
    _ref(spring, social)
    _ref(spring, teaser)
    Assignment.objects.create(plan=social, campaign=summer, assigned_at=social.first_seen)
    return spring, summer, social, teaser


def test_adopt_asks_says_from_whom_then_undo_right_after(client, world):
    client.force_login(world.maria)
    spring, summer, social, teaser = _two_plans_to_adopt(world)
    url = reverse("workbench-drift")

    page = client.get(reverse("workbench"), {"campaign": spring.pk}).content.decode()
    assert "Differs from SAP MC" in page and "Conflict:" in page
    response = client.post(url, {"campaign": spring.pk, "drift": "adopt:all"}, headers=HTMX)
    body = response.content.decode()
    assert "Adopt SAP MC&#x27;s side for 2 Plans?" in body
    assert "Removes 1 Plan from “Summer 2026”: “Spring Sale social”." in body
    assert "Assigns 1 unassigned Plan: “Summer teaser”." in body
    assert "They will feed “Spring Sale 2026”, as SAP MC says." in body
    assert response["HX-Replace-Url"] == f"/workbench/?campaign={spring.pk}"
    assert Assignment.objects.get(plan=social).campaign == summer  # nothing yet

    response = client.post(url, {"campaign": spring.pk, "drift": "confirm-adopt:all"}, headers=HTMX)
    body = response.content.decode()
    assert (
        "“Spring Sale 2026” now has exactly the Plans SAP MC references. 2 Plans changed." in body
    )
    adoption = AuditEvent.objects.get(action="drift.adopt_sap")
    assert adoption.summary == (
        "Adopted SAP MC's side for 2 Plans of campaign “Spring Sale 2026” (1 moved from "
        "another campaign)"
    )
    assert f'name="event" value="{adoption.pk}"' in body
    assert set(Assignment.objects.values_list("plan", "campaign")) == {
        (social.pk, spring.pk),
        (teaser.pk, spring.pk),
    }

    response = client.post(
        reverse("workbench-undo"), {"event": adoption.pk, "campaign": spring.pk}, headers=HTMX
    )
    assert "Undone: 2 Plans back where they were." in response.content.decode()
    assert set(Assignment.objects.values_list("plan", "campaign")) == {(social.pk, summer.pk)}
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "drift.adopt_sap",
        "drift.undo",
    ]


def test_the_adopt_question_of_one_plan_says_it_not_they(world):
    from types import SimpleNamespace

    from campaigns.workbench import _adopt_question

    spring, summer, social, teaser = _two_plans_to_adopt(world)
    change = SimpleNamespace(plan=teaser, from_campaign=None, to_campaign=spring)
    assert _adopt_question(spring, [change]) == [
        "Assigns 1 unassigned Plan: “Summer teaser”.",
        "It will feed “Spring Sale 2026”, as SAP MC says.",
    ]


def test_a_confirmation_overtaken_by_another_decision_says_so(client, world):
    # maria is asked about 2 Plans; before she confirms, alex keeps the bridge's side for one.
    client.force_login(world.maria)
    spring, summer, social, teaser = _two_plans_to_adopt(world)
    url = reverse("workbench-drift")
    response = client.post(url, {"campaign": spring.pk, "drift": "adopt:all"}, headers=HTMX)
    body = response.content.decode()
    assert "Adopt SAP MC&#x27;s side for 2 Plans?" in body
    assert 'value="confirm-adopt:all:2"' in body
    services.drift_keep_bridge(campaign=spring, acting_user=world.admin, plans=[social])

    response = client.post(
        url, {"campaign": spring.pk, "drift": "confirm-adopt:all:2"}, headers=HTMX
    )
    body = response.content.decode()
    assert "now has exactly the Plans SAP MC references" not in body
    assert (
        "Adopted SAP MC&#x27;s side for 1 Plan of “Spring Sale 2026”. 1 of the 2 Plans the "
        "question named changed; 1 was changed meanwhile (kept, decided or moved by someone "
        "else) and left as they are." in body
    )
    assert Assignment.objects.get(plan=social).campaign == summer  # kept, not moved
    assert Assignment.objects.get(plan=teaser).campaign == spring

    # A second window, still showing the question, confirms it too.
    response = client.post(
        url, {"campaign": spring.pk, "drift": "confirm-adopt:all:2"}, headers=HTMX
    )
    body = response.content.decode()
    assert (
        "Nothing adopted: the 2 Plans the question named changed meanwhile (kept, decided or "
        "moved by someone else): 1 Plan still differs from SAP MC, kept on the bridge&#x27;s "
        "side." in body
    )
    # And asked afresh: nothing to adopt, and not "SAP MC and the bridge agree".
    response = client.post(url, {"campaign": spring.pk, "drift": "adopt:all"}, headers=HTMX)
    body = response.content.decode()
    assert "agree" not in body
    assert (
        "Nothing to adopt: 1 Plan still differs from SAP MC, kept on the bridge&#x27;s side."
        in body
    )
    assert AuditEvent.objects.filter(action="drift.adopt_sap").count() == 1


def test_a_confirmed_adoption_sent_twice_says_it_is_adopted_already(client, world):
    client.force_login(world.maria)
    spring, summer, social, teaser = _two_plans_to_adopt(world)
    confirm = {"campaign": spring.pk, "drift": "confirm-adopt:all:2"}
    first = client.post(reverse("workbench-drift"), confirm, headers=HTMX)
    assert "now has exactly the Plans SAP MC references" in first.content.decode()

    # The same form once more (a reload that sends it again, a double click).
    again = client.post(reverse("workbench-drift"), confirm, headers=HTMX)

    body = again.content.decode()
    assert (
        "Nothing adopted: SAP MC&#x27;s side is adopted already (in another window, or by "
        "someone else): SAP MC and the bridge agree." in body
    )
    assert "changed meanwhile" not in body
    assert set(Assignment.objects.values_list("plan", "campaign")) == {
        (social.pk, spring.pk),
        (teaser.pk, spring.pk),
    }
    assert AuditEvent.objects.filter(action="drift.adopt_sap").count() == 1


def test_pending_plans_show_what_to_enter_in_sap_mc(client, world, settings):
    settings.KHOROS_COMPANY_ID = "389"
    client.force_login(world.maria)
    spring, social = world.campaigns[0], world.plans[0]
    services.assignment_create(campaign=spring, plan=social, acting_user=world.maria)
    body = client.get(reverse("workbench"), {"campaign": spring.pk}).content.decode()
    assert "To add in SAP MC" in body
    assert f"ExternalCampaignID <code>{social.khoros_id.hex}</code>" in body
    assert "managing party <code>1700</code> (Brand 0)" in body
    assert "advertiser <code>389</code>" in body
    assert "Differs from SAP MC" not in body
    assert 'id="drift-pending-box"' not in body  # one reference: shown as it is


def test_many_references_to_add_fold_away_above_the_assigned_plans(client, world):
    # After a bulk assignment 402 references to add stood above the assigned Plans: their
    # Unassign buttons were 25,000 px down the pane. More than five fold into one line.
    spring = world.campaigns[0]
    plans = [make_plan(world.initiatives[0], f"Bulk {i}", date(2026, 4, 1), date(2026, 4, 30))
             for i in range(6)]  # fmt: skip
    for plan in plans:
        plan.save()
        services.assignment_create(campaign=spring, plan=plan, acting_user=world.admin)
    client.force_login(world.admin)
    body = client.get(reverse("workbench"), {"campaign": spring.pk}).content.decode()
    folded = body.index('<details id="drift-pending-box"><summary>Show the 6 references</summary>')
    assert folded < body.index("Assigned Plans")
    assert all(plan.khoros_id.hex in body for plan in plans)  # still all there, to copy


def test_audit_page_offers_undo_of_an_adoption_once(client, world):
    spring = world.campaigns[0]
    _ref(spring, world.plans[0])
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    # An unassigned Plan moved from nowhere: the summary does not count "0 moved".
    assert adoption.summary == f"Adopted SAP MC's side for 1 Plan of campaign “{spring.name}”"
    client.force_login(world.admin)
    body = client.get(reverse("audit")).content.decode()
    assert f'name="event" value="{adoption.pk}"' in body
    # Said with what it undoes: a screen reader lists the page's buttons by their names alone.
    assert f'aria-label="Undo adopting SAP MC\'s side for “{spring.name}”"' in body
    response = client.post(reverse("workbench-undo"), {"event": adoption.pk, "next": "audit"})
    assert response.status_code == 302 and response["Location"] == reverse("audit")
    assert not Assignment.objects.exists()
    body = client.get(reverse("audit")).content.decode()
    assert f'name="event" value="{adoption.pk}"' not in body
    assert "undone" in body


def test_undo_on_a_filtered_audit_page_comes_back_to_that_page(client, world):
    spring = world.campaigns[0]
    _ref(spring, world.plans[0])
    adoption = services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    client.force_login(world.admin)
    filters = {"campaign": spring.campaign_id, "actor": str(world.admin.pk), "page": "1"}
    body = client.get(reverse("audit"), filters).content.decode()
    query = f"campaign={spring.campaign_id}&amp;actor={world.admin.pk}&amp;page=1"
    assert f'name="audit_query" value="{query}"' in body
    response = client.post(
        reverse("workbench-undo"),
        {"event": adoption.pk, "next": "audit", "audit_query": query.replace("&amp;", "&")},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('audit')}?{query.replace('&amp;', '&')}"
    assert not Assignment.objects.exists()
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert messages == ["Undone: 1 Plan back where it was."]
    # Refused (undone already): back to the same filtered page too, saying why.
    response = client.post(
        reverse("workbench-undo"),
        {"event": adoption.pk, "next": "audit", "audit_query": "campaign=x"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"{reverse('audit')}?campaign=x"
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    # What comes back is a query string of the audit page, never another address.
    response = client.post(
        reverse("workbench-undo"),
        {"event": adoption.pk, "next": "audit", "audit_query": "//evil.example/"},
    )
    assert response["Location"].startswith(f"{reverse('audit')}?")


@pytest.mark.parametrize("event", ["", "x", "²", "0", str(2**70)])
def test_undo_of_a_bad_form_on_the_audit_page_comes_back_to_that_page(client, world, event):
    spring = world.campaigns[0]
    _ref(spring, world.plans[0])
    services.drift_adopt_sap(campaign=spring, acting_user=world.admin)
    client.force_login(world.admin)
    query = f"campaign={spring.campaign_id}&page=1"
    response = client.post(
        reverse("workbench-undo"),
        {"event": event, "next": "audit", "audit_query": query},
        follow=True,
    )
    # Back on the filtered audit page, saying why, not on the workbench.
    assert response.redirect_chain == [(f"{reverse('audit')}?{query}", 302)]
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert Assignment.objects.get().campaign == spring  # nothing was undone


def test_assign_question_over_htmx_keeps_the_workbench_url(client, world):
    client.force_login(world.maria)
    spring, teaser = world.campaigns[0], world.plans[1]
    response = client.post(
        reverse("workbench-assign"),
        {"campaign": spring.pk, "plan_one": teaser.pk, "p-q": "summer"},
        headers=HTMX,
    )
    assert response["HX-Replace-Url"] == f"/workbench/?campaign={spring.pk}&p-q=summer"
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="workbench"')
    assert "Assign “Summer teaser” to “Spring Sale 2026”?" in body and 'id="confirm-yes"' in body
    assert not Assignment.objects.exists()


def test_another_initiative_asks_first_too(client, world):
    spring = world.campaigns[0]
    _ref(spring, world.plans[2], party=world.initiatives[1].khoros_id)  # Brand 1's campaign
    client.force_login(world.maria)
    body = client.post(
        reverse("workbench-assign"), {"campaign": spring.pk, "plan_one": world.plans[0].pk}
    ).content.decode()
    assert "This Plan is of Initiative “Brand 0”, not of the campaign&#x27;s own" in body
    assert not Assignment.objects.exists()


def test_calendar_and_campaign_page_mark_only_decidable_drift(client, world):
    from campaigns.calendar import CalendarFilters, calendar_build, period_for

    spring, summer = world.campaigns[:2]
    services.assignment_create(campaign=spring, plan=world.plans[0], acting_user=world.admin)
    _ref(summer, world.plans[1])

    cal = calendar_build(
        user=world.admin,
        period=period_for("year", date(2026, 1, 1)),
        filters=CalendarFilters(),
        page_number=1,
    )
    marks = {row.campaign.name: row.bar.marks for row in cal.rows}
    assert "drift" not in marks["Spring Sale 2026"]  # pending: expected, calm
    assert "drift" in marks["Summer 2026"]
    client.force_login(world.maria)
    body = client.get(reverse("campaign", args=[spring.pk])).content.decode()
    assert "1 Plan assigned here is not in SAP MC yet" in body
    body = client.get(reverse("campaign", args=[summer.pk])).content.decode()
    assert "differ from the references SAP MC holds" in body
    services.drift_keep_bridge(campaign=summer, acting_user=world.maria)
    cal = calendar_build(
        user=world.admin,
        period=period_for("year", date(2026, 1, 1)),
        filters=CalendarFilters(),
        page_number=1,
    )
    assert "drift" not in {r.campaign.name: r.bar.marks for r in cal.rows}["Summer 2026"]


def test_drift_marks_count_only_what_the_viewer_may_decide(client, world):
    # Spring Sale 2026: SAP MC references tom's "Spring Sale video" (Initiative 1), which the
    # bridge has not assigned: drift, which only tom and sync admins may decide. maria's own
    # "Spring Sale social" is assigned here, not yet in SAP MC: pending, not drift.
    spring = world.campaigns[0]
    video, social = world.plans[2], world.plans[0]
    _ref(spring, video)
    services.assignment_create(campaign=spring, plan=social, acting_user=world.maria)
    assert selectors.drift_flags(campaigns=[spring])[spring.pk] is True
    assert selectors.drift_flags(campaigns=[spring], user=world.admin)[spring.pk] is True
    assert selectors.drift_flags(campaigns=[spring], user=world.tom)[spring.pk] is True
    assert selectors.drift_flags(campaigns=[spring], user=world.maria)[spring.pk] is False

    client.force_login(world.maria)
    page = client.get(reverse("workbench"), {"campaign": spring.pk}).content.decode()
    # "more": maria's pending Plan is shown above it.
    assert "1 more difference with SAP MC in Initiatives you cannot see" in page
    calendar = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-03-01"})
    assert calendar.content.decode().count('class="mark drift"') == 1  # the legend's

    panel = client.get(
        reverse("calendar"), {"zoom": "quarter", "date": "2026-03-01", "panel": f"c{spring.pk}"}
    ).content.decode()
    drift_line = panel.split('data-testid="panel-drift">')[1].split("</dd>")[0]
    assert 'class="mark drift"' not in drift_line
    assert "none you can decide" in drift_line
    assert "1 more in Initiatives you cannot see" in drift_line

    # tom: the drift is his to decide; maria's pending Plan is no difference he is told of.
    client.force_login(world.tom)
    page = client.get(reverse("workbench"), {"campaign": spring.pk}).content.decode()
    assert "more difference" not in page
    calendar = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-03-01"})
    assert calendar.content.decode().count('class="mark drift"') == 2  # the legend's, Spring's


def test_differences_only_in_initiatives_not_yours_are_not_more_of_nothing(client, world):
    # Spring Sale 2026 differs from SAP MC only in tom's Plan: maria is told of one difference
    # she cannot see, not of "1 more" below nothing.
    spring = world.campaigns[0]
    _ref(spring, world.plans[2])
    client.force_login(world.maria)
    page = client.get(reverse("workbench"), {"campaign": spring.pk}).content.decode()
    assert "1 difference with SAP MC in Initiatives you cannot see" in page
    assert "more difference" not in page
    panel = client.get(
        reverse("calendar"), {"zoom": "quarter", "date": "2026-03-01", "panel": f"c{spring.pk}"}
    ).content.decode()
    assert "none you can decide; 1 in Initiatives you cannot see" in panel
