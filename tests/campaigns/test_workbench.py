"""The workbench over HTTP: access matrix, htmx partials, feedback, escaping, query counts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Assignment, AuditEvent
from khoros.models import Plan
from sapmc.models import CampaignReference, ExternalCampaign
from tests.scale import build_scale, built_once, scale_initiatives
from tests.world import make_campaign, make_plan

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "workbench"}


def post(client: Client, name: str, data: dict, htmx: bool = True):
    return client.post(reverse(name), data, headers=HTMX if htmx else {})


def test_anonymous_is_sent_to_login_everywhere(client, world):
    for name in ["workbench", "audit"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    for name in ["workbench-assign", "workbench-unassign", "workbench-move", "workbench-drift"]:
        response = client.post(
            reverse(name), {"campaign": world.campaigns[0].pk, "plan": world.plans[0].pk}
        )
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Assignment.objects.exists()


def test_user_without_a_role_gets_403(client, world, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(nobody)
    assert client.get(reverse("workbench")).status_code == 403
    assert client.get(reverse("audit")).status_code == 403
    data = {"campaign": world.campaigns[0].pk, "plan_one": world.plans[0].pk}
    assert post(client, "workbench-assign", data).status_code == 403
    assert not Assignment.objects.exists()


def test_manager_sees_only_plans_of_granted_initiatives(client, world):
    client.force_login(world.maria)
    response = client.get(reverse("workbench"))
    assert response.status_code == 200
    names = {p.name for p in response.context["plans_shown"]}
    assert names == {"Spring Sale social", "Summer teaser"}
    # Campaigns are SAP MC's, shared by everyone; removed ones are not offered.
    assert {c.name for c in response.context["campaign_page"]} == {
        "Spring Sale 2026",
        "Summer 2026",
        "Autumn 2026",
    }


def test_admin_sees_every_live_plan(client, world):
    client.force_login(world.admin)
    response = client.get(reverse("workbench"))
    assert response.context["plan_page"].paginator.count == 5


def test_manager_assigns_a_plan_in_grant_with_htmx(client, world):
    client.force_login(world.maria)
    spring, plan = world.campaigns[0], world.plans[0]

    response = post(
        client, "workbench-assign", {"campaign": spring.pk, "plan_one": plan.pk, "note": "go"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="workbench"')  # the partial, not the page
    assert "Assigned “Spring Sale social” to “Spring Sale 2026”." in body
    assert Assignment.objects.get(plan=plan).campaign == spring
    assert AuditEvent.objects.get().actor == world.maria


def test_manager_posting_a_plan_outside_the_grant_gets_403_and_nothing_changes(client, world):
    client.force_login(world.maria)
    toms_plan = world.plans[2]
    spring = world.campaigns[0]
    assert (
        post(
            client, "workbench-assign", {"campaign": spring.pk, "plan_one": toms_plan.pk}
        ).status_code
        == 403
    )
    assert (
        post(
            client,
            "workbench-assign",
            {"campaign": spring.pk, "plans": [world.plans[0].pk, toms_plan.pk]},
        ).status_code
        == 403
    )
    assert not Assignment.objects.exists()

    # Tom's assignment cannot be undone or moved by Maria either.
    Assignment.objects.create(plan=toms_plan, campaign=spring, assigned_at=timezone.now())
    assert (
        post(
            client, "workbench-unassign", {"campaign": spring.pk, "plan": toms_plan.pk}
        ).status_code
        == 404
    )
    assert (
        post(
            client, "workbench-move", {"campaign": world.campaigns[1].pk, "plan": toms_plan.pk}
        ).status_code
        == 404
    )
    assert Assignment.objects.get(plan=toms_plan).campaign == spring
    assert not AuditEvent.objects.exists()


def test_bulk_assign_several_plans_at_once(client, world):
    client.force_login(world.admin)
    summer = world.campaigns[1]
    plans = [world.plans[0].pk, world.plans[1].pk, world.plans[2].pk]
    # Two of them run in March and April, outside the summer campaign: asked first (issue 11).
    response = post(client, "workbench-assign", {"campaign": summer.pk, "plans": plans})
    assert "Assign these Plans to “Summer 2026”?" in response.content.decode()
    assert not Assignment.objects.exists()
    response = post(
        client,
        "workbench-assign",
        {"campaign": summer.pk, "plans": plans, "confirmed": "selection"},
    )
    assert "and" in response.content.decode() or "Assigned" in response.content.decode()
    assert Assignment.objects.filter(campaign=summer).count() == 3
    assert AuditEvent.objects.count() == 3


def test_conflict_is_explained_and_offers_a_move(client, world):
    client.force_login(world.maria)
    spring, summer, plan = world.campaigns[0], world.campaigns[1], world.plans[0]
    post(client, "workbench-assign", {"campaign": spring.pk, "plan_one": plan.pk})

    response = post(client, "workbench-assign", {"campaign": summer.pk, "plan_one": plan.pk})

    body = response.content.decode()
    assert "already feeds campaign “Spring Sale 2026”" in body
    assert "Move it to this campaign" in body
    # Issue 11: the March Plan runs outside the summer campaign: the move asks first.
    response = post(client, "workbench-move", {"campaign": summer.pk, "plan": plan.pk})
    assert "Move “Spring Sale social” to “Summer 2026”?" in response.content.decode()
    assert Assignment.objects.get(plan=plan).campaign == spring
    response = post(client, "workbench-move", {"campaign": summer.pk, "move_confirmed": plan.pk})
    assert "Moved “Spring Sale social” to “Summer 2026”." in response.content.decode()
    assert Assignment.objects.get(plan=plan).campaign == summer


def test_wrong_form_input_gets_a_clear_message_and_changes_nothing(client, world):
    client.force_login(world.admin)
    body = post(client, "workbench-assign", {"plan_one": world.plans[0].pk}).content.decode()
    assert "Select a campaign first." in body
    body = post(client, "workbench-assign", {"campaign": world.campaigns[0].pk}).content.decode()
    assert "Choose at least one Plan." in body
    body = post(
        client, "workbench-assign", {"campaign": world.campaigns[0].pk, "plans": ["abc"]}
    ).content.decode()
    assert "That is not a Plan of this list." in body
    response = client.get(
        reverse("workbench"), {"c-date_from": "2026-05-01", "c-date_to": "2026-01-01"}
    )
    assert "The start of the date range is after its end." in response.content.decode()
    response = client.get(reverse("workbench"), {"cpage": "zzz", "campaign": "nope"})
    assert response.status_code == 200
    assert not Assignment.objects.exists()
    # A link to a campaign that is not there says so, rather than "No campaign selected" alone.
    for asked in ("nope", "999999", "9" * 40):
        body = client.get(reverse("workbench"), {"campaign": asked}).content.decode()
        assert "The campaign this link asks for is not in the bridge" in body, asked
    body = client.get(reverse("workbench")).content.decode()
    assert "The campaign this link asks for" not in body


def test_plain_post_without_htmx_redirects_back_with_the_state(client, world):
    client.force_login(world.maria)
    response = post(
        client,
        "workbench-assign",
        {
            "campaign": world.campaigns[0].pk,
            "plan_one": world.plans[0].pk,
            "p-q": "spring",
            "csrfmiddlewaretoken": "x",
        },
        htmx=False,
    )
    assert response.status_code == 302
    assert response["Location"] == f"/workbench/?campaign={world.campaigns[0].pk}&p-q=spring"


def test_csrf_is_enforced_on_workbench_posts(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.admin)
    response = client.post(
        reverse("workbench-assign"),
        {"campaign": world.campaigns[0].pk, "plan_one": world.plans[0].pk},
        headers=HTMX,
    )
    assert response.status_code == 403
    page = client.get(reverse("workbench"))
    token = page.cookies["csrftoken"].value
    response = client.post(
        reverse("workbench-assign"),
        {"campaign": world.campaigns[0].pk, "plan_one": world.plans[0].pk},
        headers={**HTMX, "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert Assignment.objects.count() == 1


def test_names_from_outside_are_escaped(client, world):
    client.force_login(world.admin)
    world.campaigns[2].name = "<img src=x onerror=alert(1)>"
    world.campaigns[2].save()
    body = client.get(reverse("workbench"), {"campaign": world.campaigns[2].pk}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "Autumn &lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x" not in body


def test_filters_narrow_both_lists(client, world):
    client.force_login(world.admin)
    response = client.get(
        reverse("workbench"),
        {"c-q": "summer", "p-initiative": world.initiatives[1].pk, "p-date_from": "2026-09-01"},
    )
    assert [c.name for c in response.context["campaign_page"]] == ["Summer 2026"]
    assert [p.name for p in response.context["plans_shown"]] == ["Autumn <script>alert(1)</script>"]
    response = client.get(reverse("workbench"), {"c-status": "1"})
    assert [c.name for c in response.context["campaign_page"]] == ["Autumn 2026"]


def test_an_invalid_filter_empties_its_own_list_only(client, world):
    client.force_login(world.maria)
    # Tom's Initiative is not one of Maria's choices: her Plans list is empty and says why;
    # the campaigns list keeps its own (valid) filter.
    response = client.get(
        reverse("workbench"), {"c-q": "summer", "p-initiative": world.initiatives[1].pk}
    )
    assert [c.name for c in response.context["campaign_page"]] == ["Summer 2026"]
    assert response.context["plans_shown"] == []
    body = response.content.decode()
    assert (
        f"Initiative: Select a valid choice. {world.initiatives[1].pk} is not one of the "
        "available choices. Nothing is listed until the filters are corrected." in body
    )
    response = client.get(
        reverse("workbench"), {"c-date_from": "2026-05-01", "c-date_to": "2026-01-01"}
    )
    assert list(response.context["campaign_page"]) == []
    assert {p.name for p in response.context["plans_shown"]} == {
        "Spring Sale social",
        "Summer teaser",
    }


def test_unassigned_only_filters(client, world):
    client.force_login(world.admin)
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    response = client.get(reverse("workbench"), {"c-unassigned": "on", "p-unassigned": "on"})
    assert "Spring Sale 2026" not in {c.name for c in response.context["campaign_page"]}
    assert "Spring Sale social" not in {p.name for p in response.context["plans_shown"]}


def test_suggestions_rank_by_overlap_and_name(client, world):
    client.force_login(world.admin)
    response = client.get(reverse("workbench"), {"campaign": world.campaigns[0].pk})
    names = [s.plan.name for s in response.context["suggestions"]]
    # Same dates and a similar name first; the partly overlapping video Plan second.
    assert names == ["Spring Sale social", "Spring Sale video"]
    first = response.context["suggestions"][0]
    assert first.overlap_days == 31


def test_drift_decision_is_for_admins_only(client, world):
    # Issue 11: managers decide drift for their own Initiatives' Plans, sync admins for all.
    spring = world.campaigns[0]
    CampaignReference.objects.create(
        campaign=spring, external_campaign_id=world.plans[2].khoros_id.hex, plan=world.plans[2]
    )
    client.force_login(world.maria)
    data = {"campaign": spring.pk, "drift": f"keep:{world.plans[2].pk}"}
    assert post(client, "workbench-drift", data).status_code == 404  # not hers: not found
    response = post(client, "workbench-drift", {"campaign": spring.pk, "decision": "keep_bridge"})
    assert "Nothing to keep" in response.content.decode()
    assert not AuditEvent.objects.exists()
    client.force_login(world.admin)
    response = post(
        client, "workbench-drift", {"campaign": world.campaigns[0].pk, "decision": "keep_bridge"}
    )
    assert response.status_code == 200
    assert AuditEvent.objects.get().action == "drift.keep_bridge"


@built_once
def at_scale(world):
    """2,000 campaigns and 10,000 Plans, some assigned, some referenced by SAP MC."""
    extra = scale_initiatives(20, first_id=2000)
    built = build_scale(
        initiatives=extra,
        plans=10_000 - len(world.plans),
        campaigns=2_000 - len(world.campaigns),
        first_campaign_id=5000,
        spread=300,
        plan_days=20,
        campaign_days=30,
        assign_step=3,
        assign_below=3000,
        assign_to=lambda i: i % 50,
    )
    for grant_target in extra[:10]:
        world.maria.initiative_grants.create(initiative=grant_target)
    assert Plan.objects.count() == 10_000 and ExternalCampaign.objects.count() == 2_000
    return built.campaigns


@pytest.mark.parametrize("who", ["admin", "maria"])
def test_workbench_does_a_fixed_number_of_queries_at_scale(
    client, world, at_scale, who, django_assert_num_queries
):
    client.force_login(getattr(world, who))
    selected = at_scale[0]
    # session, user, roles, (grants), statuses, initiatives, campaigns count + page, drift flags x2,
    # selected, its assignments, suggestions ranked + their Plans, drift x2, Plans count + page
    # of keys + its Plans
    expected = 18 if who == "admin" else 19
    with django_assert_num_queries(expected):
        response = client.get(
            reverse("workbench"), {"campaign": selected.pk, "ppage": 7, "cpage": 3}
        )
    assert response.status_code == 200
    assert len(response.context["plan_page"]) == 25 and len(response.context["campaign_page"]) == 25
    assert len(response.context["assigned"]) > 0
    # Without pages: where today's campaigns and Plans begin (the company's zone, then one
    # query per list: how many come before its first not ended).
    with django_assert_num_queries(expected + 3):
        client.get(
            reverse("workbench"),
            {"campaign": selected.pk, "p-q": "Plan 1", "c-q": "Campaign"},
            headers=HTMX,
        )


@pytest.mark.parametrize("who", ["admin", "maria"])
def test_only_the_pages_campaigns_are_counted_with_the_same_counts(
    client, world, at_scale, who, django_assert_num_queries
):
    """Each campaign's Plans are counted for the page's 25 campaigns only, not for every one a
    page skips (a year in, today's page was 2,300 campaigns in and PostgreSQL's JIT compiled
    the query for 400 ms); the pages and their counts are those of the one query it was."""
    from django.db.models import F

    from campaigns.selectors import with_plan_counts

    user = getattr(world, who)
    client.force_login(user)
    # Some campaigns with Plans of Initiatives she cannot see, and some without any Plan.
    live = ExternalCampaign.objects.filter(removed_at__isnull=True)
    before = with_plan_counts(live, user=user).order_by(
        F("start").asc(nulls_last=True), "name", "pk"
    )
    counted = [c.plan_count + c.hidden_plan_count > 0 for c in before]
    # The last page with counted campaigns, deep in the list.
    number = (len(counted) - 1 - counted[::-1].index(True)) // 25 + 1
    assert number > 2
    for params, expected in [
        ({"cpage": str(number), "ppage": "1"}, before[(number - 1) * 25 : number * 25]),
        ({"cpage": "2", "ppage": "1", "c-unassigned": "on"},
         before.filter(plan_count=0, hidden_plan_count=0)[25:50]),
    ]:  # fmt: skip
        wanted = [(c.pk, c.plan_count, c.hidden_plan_count) for c in expected]
        assert len(wanted) == 25 and any(c[1] or c[2] for c in wanted) != ("c-unassigned" in params)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("workbench"), params)
        page = response.context["campaign_page"]
        assert [(c.pk, c.plan_count, c.hidden_plan_count) for c in page] == wanted
        assert page.paginator.count == len(
            before.filter(plan_count=0, hidden_plan_count=0) if "c-unassigned" in params else live
        )
        counting = [q["sql"] for q in queries if '"plan_count"' in q["sql"]]
        # One query counts, and its rows are the page: the cut (LIMIT ... OFFSET) is inside it,
        # not around it.
        assert len(counting) == 1
        assert re.search(r"LIMIT \d+ OFFSET \d+\)", counting[0])
        assert not re.search(r"LIMIT \d+( OFFSET \d+)?$", counting[0].strip())
    # As many queries as before (test_workbench_does_a_fixed_number_of_queries_at_scale).
    with django_assert_num_queries(12):
        client.get(reverse("workbench"), {"cpage": str(number), "ppage": "1"})


def test_a_filter_pushes_the_address_of_the_screen_not_of_the_form(client, world):
    client.force_login(world.maria)
    spring = world.campaigns[0]
    response = client.get(
        reverse("workbench"),
        {
            "campaign": spring.pk, "cpage": 1, "ppage": 1, "c-q": "", "c-status": "",
            "p-q": "sale", "note": "=HYPERLINK(\"x\")",
        },
        headers={"HX-Request": "true", "HX-Target": "workbench"},
    )  # fmt: skip
    assert response["HX-Push-Url"] == f"/workbench/?campaign={spring.pk}&cpage=1&ppage=1&p-q=sale"


def test_an_htmx_action_answers_with_the_workbench_url_of_its_state(client, world):
    client.force_login(world.maria)
    spring, plan = world.campaigns[0], world.plans[0]
    response = post(
        client,
        "workbench-assign",
        {
            "campaign": spring.pk, "plan_one": plan.pk, "p-q": "sale", "ppage": 1, "note": "x",
            # The filters the form sends empty are left out of the address.
            "c-q": "", "c-status": "", "p-initiative": "", "p-date_from": "",
        },
    )  # fmt: skip
    assert response["HX-Replace-Url"] == f"/workbench/?campaign={spring.pk}&p-q=sale&ppage=1"
    assert "no-store" in response["Cache-Control"]

    # A bulk assign uses up the ticked Plans; the other actions keep them.
    response = post(
        client,
        "workbench-unassign",
        {"campaign": spring.pk, "plan": plan.pk, "plans": [world.plans[1].pk, "junk"]},
    )
    assert (
        response["HX-Replace-Url"] == f"/workbench/?campaign={spring.pk}&plans={world.plans[1].pk}"
    )
    # (Summer teaser runs in June, outside the spring campaign: confirmed, see issue 11.)
    response = post(
        client,
        "workbench-assign",
        {"campaign": spring.pk, "plans": [world.plans[1].pk], "confirmed": "selection"},
    )
    assert response["HX-Replace-Url"] == f"/workbench/?campaign={spring.pk}"


def test_page_and_partial_are_kept_apart_by_caches(client, world):
    client.force_login(world.maria)
    page = client.get(reverse("workbench"))
    partial = client.get(reverse("workbench"), headers=HTMX)
    for response in (page, partial):
        assert "HX-Request" in response["Vary"]
        assert "no-store" in response["Cache-Control"]
    assert partial.content.decode().lstrip().startswith('<form id="workbench"')
    # htmx restoring history after a cache miss needs the whole page.
    restore = client.get(
        reverse("workbench"), headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert restore.content.decode().lstrip().startswith("<!doctype html>")


def test_status_and_initiative_selects_refresh_the_workbench(client, world):
    client.force_login(world.admin)
    body = client.get(reverse("workbench")).content.decode()
    assert 'name="c-status" class="wb-filter"' in body
    assert 'name="p-initiative" class="wb-filter"' in body
    assert "change from:.wb-filter" in body


def test_drift_and_own_initiative_suggestions_add_no_query_at_scale(
    client, world, at_scale, django_assert_num_queries
):
    """Issue 11: a selected campaign with SAP MC references (pending, SAP-only and conflicting
    Plans, keep decisions) costs the same fixed number of queries as one without."""
    from campaigns.models import DriftDecision
    from sapmc.models import CampaignReference

    selected = at_scale[0]
    assigned = list(Assignment.objects.filter(campaign=selected).select_related("plan")[:5])
    others = list(Plan.objects.filter(assignment__isnull=True, removed_at__isnull=True)[:200])
    refs = [
        CampaignReference(
            campaign=campaign,
            external_campaign_id=plan.khoros_id.hex,
            plan=plan,
            managing_party="2003",  # the "Scale 3" Initiative
        )
        for campaign, plan in [(selected, p) for p in others[:100]]
        + [(at_scale[1], a.plan) for a in assigned]
        + [(at_scale[2 + i % 40], p) for i, p in enumerate(others[100:])]
    ]
    CampaignReference.objects.bulk_create(refs)
    DriftDecision.objects.create(
        plan=others[0], sap_campaigns=[selected.pk], decided_at=timezone.now()
    )
    client.force_login(world.admin)
    with django_assert_num_queries(18):  # as test_workbench_does_a_fixed_number_of_queries_at_scale
        response = client.get(
            reverse("workbench"), {"campaign": selected.pk, "cpage": 1, "ppage": 1}
        )
    drift = response.context["drift"]
    assert len(drift.pending) == len(
        Assignment.objects.filter(campaign=selected).exclude(plan__in=[a.plan for a in assigned])
    )
    assert len(drift.conflicts) == 5 and len(drift.sap_only) == 99 and len(drift.kept) == 1
    assert all(s.own_initiative for s in response.context["suggestions"][:1])


def test_state_links_keep_the_state_as_a_querydict_would():
    import html

    from django.http import QueryDict
    from django.template import Context, Template

    state = QueryDict("c-q=sp%C3%A4t&cpage=2&plans=7&plans=8&p-status=1&p-status=2&campaign=4")
    links = Template(
        "{% load workbench %}"
        "{% state_url cpage=3 %} {% state_url campaign=None %} {% state_url ppage=5 %} "
        "{% state_url_key 'p-status' 9 %}"
    ).render(Context({"state": state}))
    links = html.unescape(links)  # the page escapes each & as &amp;

    def expected(**changes):
        copy = state.copy()
        copy.pop("plans")
        for key, value in changes.items():
            if value is None:
                copy.pop(key, None)
            else:
                copy[key] = str(value)
        return f"{reverse('workbench')}?{copy.urlencode()}"

    assert links.split(" ") == [
        expected(cpage=3),
        expected(campaign=None),
        expected(ppage=5),
        expected(**{"p-status": 9}),
    ]
    assert links.split(" ")[0].endswith("?c-q=sp%C3%A4t&cpage=3&p-status=1&p-status=2&campaign=4")


def test_ticked_plans_that_feed_the_campaign_already_are_no_longer_selected(client, world):
    # Back after "Assign selected" brought the address with the ticks back: "2 Plans selected,
    # 2 of them on other pages", Plans on no page (feeding it, "Unassigned only" hid them).
    summer = world.campaigns[1]
    social, teaser = world.plans[0], world.plans[1]
    Assignment.objects.create(plan=teaser, campaign=summer, assigned_at=timezone.now())
    client.force_login(world.maria)
    query = {"campaign": summer.pk, "plans": [social.pk, teaser.pk], "p-unassigned": "on"}

    page = client.get(reverse("workbench"), query)

    assert page.context["selection_count"] == 1
    body = page.content.decode()
    assert "1 Plan selected" in body
    assert f'name="plans" value="{teaser.pk}"' not in body


def test_the_form_includes_ticked_plans_only_where_there_are_boxes(client, world):
    # htmx logs a console error for an hx-include that matches nothing: boxes exist only
    # once a campaign is selected (or Plans ticked on other pages are carried).
    client.force_login(world.admin)
    assert b"hx-include" not in client.get(reverse("workbench")).content
    selected = client.get(reverse("workbench"), {"campaign": world.campaigns[0].pk})
    assert b"hx-include=\"#workbench [name='plans']\"" in selected.content


def test_a_bulk_question_names_the_plan_it_asks_about(client, world):
    client.force_login(world.maria)
    summer, autumn = world.campaigns[1], world.campaigns[2]
    social, teaser = world.plans[0], world.plans[1]  # March (outside summer), June (inside)
    ticked = {"campaign": summer.pk, "plans": [social.pk, teaser.pk]}

    body = post(client, "workbench-assign", ticked).content.decode()

    # Two ticked, one asked about: the question says which one.
    assert "Assign “Spring Sale social” to “Summer 2026”?" in body
    assert "Assign this Plan" not in body
    assert (
        "“Spring Sale social”: This Plan runs 1 Mar–31 Mar, outside the campaign&#x27;s "
        "1 Jun–31 Aug." in body
    )
    # The other ticked Plan feeds another campaign (it is refused, not asked about): the one
    # left to ask about is still named.
    Assignment.objects.create(plan=teaser, campaign=autumn, assigned_at=timezone.now())
    body = post(client, "workbench-assign", ticked).content.decode()
    assert "Assign “Spring Sale social” to “Summer 2026”?" in body
    assert "“Spring Sale social”: This Plan runs 1 Mar–31 Mar" in body
    # And the one that stays where it is is said too: it was refused only after "Assign
    # anyway", which it was not.
    assert (
        "“Summer teaser”: This Plan feeds “Autumn 2026” already and stays there (a move on the "
        "workbench brings it here)." in body.replace("&#x27;", "'")
    )
    assert not AuditEvent.objects.exists()
    # A row's own Assign button asks about its own Plan: named in the title (names repeat
    # across Initiatives), the reasons say "This Plan".
    body = post(
        client, "workbench-assign", {"campaign": summer.pk, "plan_one": social.pk}
    ).content.decode()
    assert "Assign “Spring Sale social” to “Summer 2026”?" in body
    assert "<li>This Plan runs 1 Mar–31 Mar" in body


def test_assigning_a_plan_sap_mc_puts_under_another_campaign_asks_first(client, world):
    # Assigned without a word, the Plan stood in conflict with SAP MC at once: the drift box
    # said so only afterwards. The references of a removed campaign, or of the campaign itself,
    # are no such reason.
    spring, summer, autumn, cancelled = world.campaigns
    teaser = world.plans[1]  # June: inside summer's dates, of summer's own Initiative
    for campaign in (autumn, cancelled, summer):
        CampaignReference.objects.create(
            campaign=campaign, external_campaign_id=teaser.khoros_id.hex,
            external_campaign_uuid=str(uuid4()), plan=teaser,
        )  # fmt: skip
    client.force_login(world.maria)

    body = post(
        client, "workbench-assign", {"campaign": summer.pk, "plan_one": teaser.pk}
    ).content.decode()

    assert "Assign “Summer teaser” to “Summer 2026”?" in body
    assert (
        "<li>SAP MC puts this Plan under “Autumn 2026” (102): here it would differ from SAP MC "
        "until one side changes.</li>" in body
    )
    assert "Cancelled" not in body
    assert not Assignment.objects.exists()
    post(client, "workbench-assign", {"campaign": summer.pk, "plan_confirmed": teaser.pk})
    assert Assignment.objects.get(plan=teaser).campaign == summer
    # Under the campaign it is assigned to, nothing is asked: SAP MC agrees.
    Assignment.objects.all().delete()
    CampaignReference.objects.filter(campaign=autumn).delete()
    post(client, "workbench-assign", {"campaign": summer.pk, "plan_one": teaser.pk})
    assert Assignment.objects.get(plan=teaser).campaign == summer


def test_move_here_of_a_plan_unassigned_meanwhile_says_it_assigned_it(client, world):
    spring, summer, teaser = world.campaigns[0], world.campaigns[1], world.plans[1]
    client.force_login(world.maria)
    Assignment.objects.create(plan=teaser, campaign=spring, assigned_at=timezone.now())
    # The workbench offered "Move here"; meanwhile another window unassigned the Plan.
    Assignment.objects.filter(plan=teaser).delete()

    body = post(client, "workbench-move", {"campaign": summer.pk, "plan": teaser.pk})
    body = body.content.decode()

    assert "Assigned “Summer teaser” to “Summer 2026”: it had been unassigned meanwhile" in body
    assert "Moved “" not in body
    assert Assignment.objects.get(plan=teaser).campaign == summer
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["assignment.create"]
    # Moved here already (a second window's Move here): nothing changed, and it says so.
    body = post(client, "workbench-move", {"campaign": summer.pk, "plan": teaser.pk})
    assert "“Summer teaser” already feeds “Summer 2026”: nothing changed." in body.content.decode()
    assert AuditEvent.objects.count() == 1


def test_plan_search_finds_a_plan_by_its_khoros_id(client, world):
    # The id SAP MC's reference holds (its ExternalCampaignID), not a word of the Plan's name.
    client.force_login(world.maria)
    for q in (world.plans[1].khoros_id.hex, f" {world.plans[1].khoros_id} "):
        response = client.get(reverse("workbench"), {"p-q": q})
        assert [p.name for p in response.context["plans_shown"]] == ["Summer teaser"]
    # Another manager's Plan is not found by its id either.
    response = client.get(reverse("workbench"), {"p-q": world.plans[2].khoros_id.hex})
    assert response.context["plans_shown"] == []


def test_a_first_visit_opens_at_todays_campaigns_not_the_oldest(client, world, settings):
    # 40 campaigns that ended before 1 June, 20 from then on, one without dates (last): page 1
    # of 25 was the oldest; a first visit opens at the page of the first one not ended.
    settings.KHOROS_COMPANY_TIMEZONE = "UTC"
    ExternalCampaign.objects.all().delete()
    june = date(2026, 6, 1)
    ExternalCampaign.objects.bulk_create(
        [
            make_campaign(f"Old {i:02}", june - timedelta(days=90 - i), june - timedelta(days=1),
                          campaign_id=f"O{i}")
            for i in range(40)
        ]
        + [
            make_campaign(f"Now {i:02}", june - timedelta(days=5) + timedelta(days=i),
                          june + timedelta(days=30), campaign_id=f"N{i}")
            for i in range(20)
        ]
        + [make_campaign("Undated", None, None, campaign_id="U1")]
    )  # fmt: skip
    client.force_login(world.admin)

    def listed(**params: str) -> tuple[int, list[str]]:
        with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False):
            response = client.get(reverse("workbench"), params)
        page = response.context["campaign_page"]
        return page.number, [c.name for c in page]

    number, names = listed()
    assert number == 2 and names[15] == "Now 00"  # index 40 of 61: the 16th of page 2
    # The Plans too: 30 that ended in May, then 5 running in June, after the world's own.
    Plan.objects.bulk_create(
        [make_plan(world.initiatives[0], f"May {i:02}", date(2026, 5, 1), date(2026, 5, 31))
         for i in range(30)]
        + [make_plan(world.initiatives[0], f"Jun {i:02}", date(2026, 5, 20), date(2026, 6, 30))
           for i in range(5)]
    )  # fmt: skip
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False):
        context = client.get(reverse("workbench"), {"cpage": "1"}).context
    shown = [p.name for p in context["plans_shown"]]
    assert context["plan_page"].number > 1 and "Jun 00" in shown
    # An address with a page keeps it; the last page ends with the undated campaign.
    assert listed(cpage="1")[1][0] == "Old 00"
    assert listed(cpage="3")[1] == ["Now 10", "Now 11", "Now 12", "Now 13", "Now 14", "Now 15",
                                    "Now 16", "Now 17", "Now 18", "Now 19", "Undated"]  # fmt: skip
    # Every campaign ended: the last page, the most recent ones.
    ExternalCampaign.objects.filter(name__startswith="Now").update(end=june - timedelta(days=1))
    ExternalCampaign.objects.filter(name="Undated").update(end=june - timedelta(days=1))
    assert listed()[0] == 3


def test_a_new_search_opens_its_list_afresh_not_at_the_old_page_number(client, world, settings):
    # The form sent the old list's page with the new search: clamped to the new list's last
    # page, a search with 111 matches opened on "Page 5 of 5". Links keep their pages.
    settings.KHOROS_COMPANY_TIMEZONE = "UTC"
    june = date(2026, 6, 1)
    ExternalCampaign.objects.bulk_create(
        [make_campaign(f"Spring {i:02}", june - timedelta(days=40), june + timedelta(days=i),
                       campaign_id=f"S{i}") for i in range(60)]
    )  # fmt: skip
    client.force_login(world.admin)

    def shown(params: dict[str, str]) -> tuple[int, int, str]:
        with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False):
            response = client.get(reverse("workbench"), params)
        page = response.context["campaign_page"]
        drawn = response.context.get("campaign_filters_drawn")
        return page.number, page.paginator.num_pages, drawn

    assert shown({"cpage": "3", "ppage": "1"})[:2] == (3, 3)
    # The form, drawn on page 3 of everything, now searching: the matches' first page with a
    # campaign not ended (the first), as a first visit opens, not page 3 of 3.
    number, pages, drawn = shown(
        {"cpage": "3", "cpage-drawn-for": "", "ppage": "1", "ppage-drawn-for": "",
         "c-q": "Spring"}
    )  # fmt: skip
    assert (number, pages) == (1, 3)
    assert drawn == "c-q=Spring"
    # Its own pager (a link: nothing drawn-for) and the same form sent again keep the page.
    assert shown({"cpage": "2", "ppage": "1", "c-q": "Spring"})[0] == 2
    assert shown({"cpage": "2", "cpage-drawn-for": "c-q=Spring", "c-q": "Spring"})[0] == 2
    # The Plans' filters leave the campaigns' page alone, and the reverse.
    assert shown({"cpage": "2", "cpage-drawn-for": "", "ppage": "1", "ppage-drawn-for": "",
                  "p-q": "teaser"})[0] == 2  # fmt: skip


def test_pagers_go_to_the_first_and_last_page_in_one_step(client, world):
    # At page 62 of 80 the first page was 61 clicks of Previous away.
    june = date(2026, 6, 1)
    ExternalCampaign.objects.bulk_create(
        [make_campaign(f"Many {i:03}", june, june + timedelta(days=30), campaign_id=f"M{i}")
         for i in range(130)]
    )  # fmt: skip
    client.force_login(world.admin)
    response = client.get(reverse("workbench"), {"cpage": "3", "ppage": "1"})
    pages = response.context["campaign_page"].paginator.num_pages
    assert pages >= 5
    body = response.content.decode()
    assert re.search(r'id="cpage-first" href="/workbench/\?cpage=1&amp;ppage=1"', body)
    assert re.search(rf'id="cpage-last" href="/workbench/\?cpage={pages}&amp;ppage=1"', body)
    # Beside the first or the last page they would repeat Previous or Next: not drawn.
    body = client.get(reverse("workbench"), {"cpage": "2", "ppage": "1"}).content.decode()
    assert 'id="cpage-first"' not in body and 'id="cpage-last"' in body


def test_the_form_sent_without_javascript_is_answered_with_its_address(world):
    """Without script the workbench's form is a POST (it holds the form token its action
    buttons need): answered with the address of what it asked for, never with the token in it,
    and a changed filter opens its list afresh as htmx's GET does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.maria)
    page = client.get(reverse("workbench"), {"campaign": world.campaigns[0].pk})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    form = {
        "csrfmiddlewaretoken": token[1], "campaign": world.campaigns[0].pk, "note": "x",
        "cpage": "2", "cpage-drawn-for": "", "c-q": "Summer",
        "ppage": "3", "ppage-drawn-for": "", "plans": [world.plans[1].pk],
    }  # fmt: skip
    response = client.post(reverse("workbench"), form)
    assert response.status_code == 302
    assert response["Location"] == (
        f"/workbench/?campaign={world.campaigns[0].pk}&c-q=Summer&ppage=3&plans={world.plans[1].pk}"
    )
    # Without the token it is refused, as any form is.
    del form["csrfmiddlewaretoken"]
    assert client.post(reverse("workbench"), form).status_code == 403
    assert not Assignment.objects.exists()
