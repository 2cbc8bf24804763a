"""The calendar as a planning surface: side panel, assigning from it, rolling 90 days, the list
view (sorting, mass assign, CSV), saved filter variants."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.calendar import period_for
from campaigns.models import Assignment, AuditEvent, SavedView
from khoros.models import Plan, PlanKpi
from sapmc.models import CampaignReference, ExternalCampaign
from tests.world import make_campaign, make_plan

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def test_next_90_days_period_and_its_neighbours():
    period = period_for("days90", date(2026, 3, 18))
    assert (period.first, period.last, period.days) == (date(2026, 3, 18), date(2026, 6, 15), 90)
    assert period.shifted(1) == date(2026, 6, 16)
    assert period.shifted(-1) == date(2025, 12, 18)
    assert period.title == "18 Mar 2026 – 15 Jun 2026"
    assert period_for("days90", date(2026, 12, 1)).title == "1 Dec 2026 – 28 Feb 2027"  # no "01"
    # Near the last day the calendar shows, the 90 days still fit.
    assert period_for("days90", date(2199, 12, 30)).last == date(2199, 12, 31)


def test_days90_zoom_shows_campaigns_of_the_next_90_days(client, world):
    client.force_login(world.admin)
    response = client.get(reverse("calendar"), {"zoom": "days90", "date": "2026-05-20"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "20 May 2026 – 17 Aug 2026" in body
    assert "Summer 2026" in body and "Spring Sale 2026" not in body
    assert ">Next 90 days</a>" in body and ">Year</a>" in body


def test_campaign_panel_has_dates_initiative_kpis_drift_and_links(client, world):
    campaign = world.campaigns[0]
    Assignment.objects.create(plan=world.plans[0], campaign=campaign, assigned_at=timezone.now())
    CampaignReference.objects.create(
        campaign=campaign,
        external_campaign_id=world.plans[2].khoros_id.hex,
        managing_party=world.initiatives[0].khoros_id,
        plan=world.plans[2],
    )
    PlanKpi.objects.create(
        plan=world.plans[0],
        day=date(2026, 3, 2),
        impressions=1200,
        clicks=7,
        updated_at=timezone.now(),
    )
    client.force_login(world.maria)
    response = client.get(reverse("calendar-panel"), {"panel": f"c{campaign.pk}"}, **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    assert "Spring Sale 2026" in body
    dates = (
        '<time datetime="2026-03-01">2026-03-01</time> – '
        '<time datetime="2026-03-31">2026-03-31</time>'
    )
    assert f"<dt>Dates</dt><dd>{dates} " in body
    assert "Brand 0" in body  # its Initiative: the managing party SAP MC names
    assert "<dt>Impressions</dt><dd>1,200</dd>" in body and "<dt>Clicks</dt><dd>7</dd>" in body
    # Drift per Plan: one Plan only SAP MC names (tom's: maria is told it is there, not asked
    # to decide it), one assigned here and not yet in SAP MC.
    assert "none you can decide; 1 to add in SAP MC; 1 more in Initiatives you cannot see" in body
    client.force_login(world.admin)
    admin_view = client.get(reverse("calendar-panel"), {"panel": f"c{campaign.pk}"}, **HX)
    assert "1 only in SAP MC; 1 to add in SAP MC</dd>" in admin_view.content.decode()
    client.force_login(world.maria)
    assert f'href="/campaigns/{campaign.pk}/"' in body
    assert f'href="/workbench/?campaign={campaign.pk}"' in body


def test_panel_has_a_real_url_and_a_browser_gets_the_calendar_with_it_open(client, world):
    client.force_login(world.maria)
    key = f"p{world.plans[1].pk}"
    page = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-04-01", "panel": key})
    assert page.status_code == 200
    assert 'id="cal-panel"' in page.content.decode() and "Summer teaser" in page.content.decode()
    assert page.context["panel_key"] == key
    # The panel endpoint asked for by a browser (a bookmark, a new tab) sends it to that page.
    direct = client.get(reverse("calendar-panel"), {"panel": key, "zoom": "quarter"})
    assert direct.status_code == 302
    assert direct["Location"] == f"/calendar/?panel={key}&zoom=quarter"
    # Bars carry the panel's URL for htmx and push the calendar's own URL with it.
    body = page.content.decode()
    assert f'hx-push-url="/calendar/?zoom=quarter&amp;date=2026-04-01&amp;panel={key}"' in body


def test_panel_refuses_other_managers_plans_and_bad_keys_without_500(client, world):
    client.force_login(world.maria)
    hidden = world.plans[2]  # Brand 1: tom's
    response = client.get(reverse("calendar-panel"), {"panel": f"p{hidden.pk}"}, **HX)
    assert response.status_code == 200
    assert "not yours to see" in response.content.decode()
    assert hidden.name not in response.content.decode()
    for bad in ("x1", "c", "c99999999999999999", "p-1", "cabc"):
        response = client.get(reverse("calendar"), {"panel": bad})
        assert response.status_code == 200, bad
        assert "the link names no campaign or Plan" in response.content.decode()


def test_assign_from_the_calendar_uses_the_service_and_audits(client, world):
    plan, campaign = world.plans[1], world.campaigns[1]
    client.force_login(world.maria)
    back = f"zoom=quarter&date=2026-04-01&panel=p{plan.pk}"
    response = client.post(
        reverse("calendar-assign"),
        {"plan": plan.pk, "campaign": campaign.pk, "back": back},
        **HX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert Assignment.objects.get(plan=plan).campaign == campaign
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.plan, event.campaign) == (
        "assignment.create",
        world.maria,
        plan,
        campaign,
    )
    assert "Assigned “Summer teaser” to “Summer 2026”." in body
    assert response["HX-Replace-Url"] == f"/calendar/?{back.replace('&', '&')}"
    # The panel comes back out of band, saying what the Plan now feeds.
    assert 'hx-swap-oob="true"' in body and 'data-testid="panel-feeds"><a href' in body


def test_assign_from_the_calendar_refuses_like_the_workbench(client, world):
    client.force_login(world.maria)
    # Another manager's Plan: forbidden, nothing written.
    response = client.post(
        reverse("calendar-assign"), {"plan": world.plans[2].pk, "campaign": world.campaigns[0].pk}
    )
    assert response.status_code == 403
    # A removed campaign takes no Plan; a Plan feeding another campaign is not moved by a drop.
    removed = world.campaigns[3]
    response = client.post(
        reverse("calendar-assign"), {"plan": world.plans[1].pk, "campaign": removed.pk}, **HX
    )
    assert "was removed in SAP MC and takes no new Plans" in response.content.decode()
    Assignment.objects.create(
        plan=world.plans[0], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    response = client.post(
        reverse("calendar-assign"),
        {"plan": world.plans[0].pk, "campaign": world.campaigns[1].pk},
        **HX,
    )
    assert "already feeds campaign “Spring Sale 2026”" in response.content.decode()
    assert "Moves are made on the workbench." in response.content.decode()
    assert Assignment.objects.get(plan=world.plans[0]).campaign == world.campaigns[0]
    assert AuditEvent.objects.count() == 0
    # Garbage gets a clear message, never a 500; GET is not allowed.
    response = client.post(reverse("calendar-assign"), {"plan": "x", "campaign": ""}, **HX)
    assert "Choose a Plan and a campaign" in response.content.decode()
    assert client.get(reverse("calendar-assign")).status_code == 405
    # Without htmx: back to the calendar with a message.
    response = client.post(
        reverse("calendar-assign"),
        {"plan": world.plans[1].pk, "campaign": world.campaigns[1].pk, "back": "zoom=year"},
    )
    assert response.status_code == 302 and response["Location"] == "/calendar/?zoom=year"


def test_timeline_marks_unassigned_plans_draggable_and_campaign_rows_droppable(client, world):
    client.force_login(world.maria)
    body = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-04-01"}).content
    body = body.decode()
    assert f'draggable="true" data-plan="{world.plans[1].pk}"' in body
    assert f'data-campaign="{world.campaigns[1].pk}"' in body
    assert 'data-assign-url="/calendar/assign/"' in body


def _list_names(response) -> list[str]:
    return [c.name for c in response.context["campaigns"]]


def test_list_view_sorts_by_each_column(client, world):
    spring, summer, autumn = world.campaigns[:3]
    Assignment.objects.create(plan=world.plans[0], campaign=summer, assigned_at=timezone.now())
    Assignment.objects.create(plan=world.plans[1], campaign=summer, assigned_at=timezone.now())
    Assignment.objects.create(plan=world.plans[4], campaign=autumn, assigned_at=timezone.now())
    PlanKpi.objects.create(
        plan=world.plans[4], day=date(2026, 9, 2), impressions=900, updated_at=timezone.now()
    )
    PlanKpi.objects.create(
        plan=world.plans[0], day=date(2026, 3, 2), impressions=50, updated_at=timezone.now()
    )
    PlanKpi.objects.create(
        plan=world.plans[0], day=date(2026, 3, 3), impressions=60, updated_at=timezone.now()
    )
    CampaignReference.objects.create(
        campaign=spring,
        external_campaign_id="a" * 32,
        managing_party=world.initiatives[2].khoros_id,
    )
    CampaignReference.objects.create(
        campaign=autumn,
        external_campaign_id="b" * 32,
        managing_party=world.initiatives[0].khoros_id,
    )
    client.force_login(world.admin)
    url = reverse("calendar-list")
    base = {"zoom": "year", "date": "2026-01-01"}
    assert _list_names(client.get(url, base)) == ["Spring Sale 2026", "Summer 2026", "Autumn 2026"]
    assert _list_names(client.get(url, {**base, "sort": "name"})) == [
        "Autumn 2026",
        "Spring Sale 2026",
        "Summer 2026",
    ]
    assert _list_names(client.get(url, {**base, "sort": "-end"}))[0] == "Autumn 2026"
    response = client.get(url, {**base, "sort": "-plans"})
    assert [(c.name, c.plan_count) for c in response.context["campaigns"]] == [
        ("Summer 2026", 2),
        ("Autumn 2026", 1),
        ("Spring Sale 2026", 0),
    ]
    response = client.get(url, {**base, "sort": "-kpis"})
    assert [(c.name, c.impressions) for c in response.context["campaigns"]] == [
        ("Autumn 2026", 900),
        ("Summer 2026", 110),
        ("Spring Sale 2026", None),  # no Plans, so no numbers: not 0
    ]
    response = client.get(url, {**base, "sort": "initiative"})
    assert [c.initiative_name for c in response.context["campaigns"]] == ["", "Brand 0", "Brand 2"]
    body = response.content.decode()
    flip = "/calendar/list/?zoom=year&amp;date=2026-01-01&amp;sort=-initiative"
    assert f'aria-sort="ascending"><a href="{flip}"' in body
    # An unknown sort is the default, not a 500.
    assert _list_names(client.get(url, {**base, "sort": "drop table"}))[0] == "Spring Sale 2026"


def test_list_view_has_the_calendars_filters_and_a_managers_numbers_only(client, world):
    Assignment.objects.create(
        plan=world.plans[2], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    client.force_login(world.maria)
    response = client.get(
        reverse("calendar-list"), {"zoom": "year", "date": "2026-01-01", "q": "spring"}
    )
    assert _list_names(response) == ["Spring Sale 2026"]
    # tom's Plan feeds it, maria cannot see it: it is not counted for her.
    assert response.context["campaigns"][0].plan_count == 0
    assert [p.name for p in response.context["plans"]] == ["Spring Sale social"]
    response = client.get(
        reverse("calendar-list"), {"zoom": "year", "date": "2026-01-01", "assigned": "unassigned"}
    )
    assert _list_names(response) == []
    assert {p.name for p in response.context["plans"]} == {"Spring Sale social", "Summer teaser"}


def test_list_csv_is_the_current_view(client, world):
    client.force_login(world.maria)
    response = client.get(
        reverse("calendar-list"),
        {"zoom": "quarter", "date": "2026-04-01", "sort": "-name", "format": "csv"},
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "smcbridge-calendar-2026-04-01-2026-06-30.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "kind", "name", "id", "start", "end", "initiative", "plans", "plans_not_yours",
        "impressions",
    ]  # fmt: skip
    assert [r[:2] for r in rows[1:]] == [
        ["campaign", "Summer 2026"],
        ["unassigned plan", "Summer teaser"],
    ]
    assert rows[2][3:6] == ["2026-06-01", "2026-06-15", "Brand 0"]
    assert all(len(row) == len(rows[0]) for row in rows)


def test_list_csv_counts_the_plans_of_initiatives_the_viewer_cannot_see(client, world):
    # The page said "1 Plan (and 1 in Initiatives you cannot see)"; the CSV said 1 and no more.
    summer = world.campaigns[1]
    for plan in (world.plans[1], world.plans[2]):  # maria's Initiative, then tom's
        Assignment.objects.create(plan=plan, campaign=summer, assigned_at=timezone.now())
    client.force_login(world.maria)
    response = client.get(
        reverse("calendar-list"), {"zoom": "quarter", "date": "2026-04-01", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    summer_row = dict(zip(rows[0], next(r for r in rows if r[1] == "Summer 2026"), strict=True))
    assert (summer_row["plans"], summer_row["plans_not_yours"]) == ("1", "1")
    assert not any("Spring Sale video" in cell for row in rows for cell in row)  # tom's Plan


def test_list_csv_defuses_a_campaign_id_that_reads_as_a_formula(client, world):
    # SAP MC's campaign id is its text, as the names are.
    ExternalCampaign.objects.filter(pk=world.campaigns[1].pk).update(campaign_id="@SUM(1)")
    client.force_login(world.maria)
    response = client.get(
        reverse("calendar-list"), {"zoom": "quarter", "date": "2026-04-01", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][:3] == ["campaign", "Summer 2026", "'@SUM(1)"]


def test_an_invalid_filter_empties_the_list_and_refuses_the_csv(client, world):
    client.force_login(world.maria)
    view = {"zoom": "quarter", "date": "2026-04-01", "q": "summer", "status": "nonsense"}
    response = client.get(reverse("calendar-list"), view)
    assert (response.context["campaigns"], response.context["plans"]) == ([], [])
    problem = (
        "Campaign status: Select a valid choice. nonsense is not one of the available choices."
    )
    assert f"{problem} Nothing is listed until the filters are corrected." in (
        response.content.decode()
    )
    response = client.get(reverse("calendar-list"), {**view, "format": "csv"})
    assert response.status_code == 400
    assert response.content.decode() == (
        f"Nothing was exported: {problem} Correct the filters and export again.\n"
    )


def test_list_mass_assigns_selected_plans_each_on_its_own(client, world):
    extra = make_campaign("Summer extra", date(2026, 6, 1), date(2026, 6, 30))
    extra.save()
    client.force_login(world.admin)
    Assignment.objects.create(
        plan=world.plans[2], campaign=world.campaigns[0], assigned_at=timezone.now()
    )
    response = client.post(
        reverse("calendar-list-assign"),
        {
            "plans": [world.plans[1].pk, world.plans[2].pk],
            "campaign": extra.pk,
            "back": "zoom=quarter&date=2026-04-01",
            "view": "list",
        },
        **HX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Assigned 1 Plan to “Summer extra”." in body
    assert "1 refused: Plan “Spring Sale video” already feeds campaign" in body
    assert Assignment.objects.get(plan=world.plans[1]).campaign == extra
    assert AuditEvent.objects.filter(action="assignment.create").count() == 1
    # A manager cannot slip another Initiative's Plan into the batch.
    client.force_login(world.maria)
    response = client.post(
        reverse("calendar-list-assign"),
        {"plans": [world.plans[0].pk, world.plans[3].pk], "campaign": extra.pk, "view": "list"},
    )
    assert response.status_code == 403
    assert not Assignment.objects.filter(plan=world.plans[0]).exists()


# --- The workbench's question before an assignment, on the calendar and the list ----------


def test_a_drop_outside_the_campaigns_dates_asks_first_then_assigns(client, world):
    social, summer = world.plans[0], world.campaigns[1]  # a March Plan, a summer campaign
    client.force_login(world.maria)
    back = "zoom=quarter&date=2026-04-01"
    drop = {"plan": social.pk, "campaign": summer.pk, "back": back}

    response = client.post(reverse("calendar-assign"), drop, **HX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="calendar"')
    assert response["HX-Replace-Url"] == f"/calendar/?{back}"
    # The workbench's words, with "Assign anyway" sending the same drop again, confirmed.
    assert "Assign “Spring Sale social” to “Summer 2026”?" in body
    assert "This Plan runs 1 Mar–31 Mar, outside the campaign&#x27;s 1 Jun–31 Aug." in body
    assert 'id="confirm-yes" name="confirmed" value="confirmed"' in body
    assert ">Assign anyway</button>" in body
    assert f'<input type="hidden" name="plan" value="{social.pk}">' in body
    assert f'<input type="hidden" name="campaign" value="{summer.pk}">' in body
    assert '<input type="hidden" name="back" value="zoom=quarter&amp;date=2026-04-01">' in body
    # Cancel is the calendar as it was: nothing was written.
    assert 'id="confirm-cancel" href="/calendar/?zoom=quarter&amp;date=2026-04-01"' in body
    assert "Assigned “" not in body
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()

    response = client.post(reverse("calendar-assign"), {**drop, "confirmed": "confirmed"}, **HX)

    assert "Assigned “Spring Sale social” to “Summer 2026”." in response.content.decode()
    assert Assignment.objects.get(plan=social).campaign == summer
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [
        ("assignment.create", "maria")
    ]


def test_the_panels_assign_asks_without_javascript_too(client, world):
    social, summer = world.plans[0], world.campaigns[1]
    client.force_login(world.maria)
    back = f"zoom=quarter&date=2026-04-01&panel=p{social.pk}"
    form = {"plan": social.pk, "campaign": summer.pk, "back": back}

    response = client.post(reverse("calendar-assign"), form)

    # A plain post: the whole calendar with the question (it lives in no URL), not a redirect.
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body and 'id="cal-panel"' in body
    assert "Assign “Spring Sale social” to “Summer 2026”?" in body
    assert '<form method="post" action="/calendar/assign/">' in body
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()

    response = client.post(reverse("calendar-assign"), {**form, "confirmed": "confirmed"})

    assert response.status_code == 302 and response["Location"] == f"/calendar/?{back}"
    assert Assignment.objects.get(plan=social).campaign == summer
    assert AuditEvent.objects.count() == 1


def test_a_drop_on_another_initiatives_campaign_asks_first(client, world):
    spring, social = world.campaigns[0], world.plans[0]  # dates meet; Brand 0's Plan
    CampaignReference.objects.create(
        campaign=spring,
        external_campaign_id=world.plans[2].khoros_id.hex,
        managing_party=world.initiatives[1].khoros_id,  # SAP MC says: Brand 1's campaign
    )
    client.force_login(world.maria)
    response = client.post(
        reverse("calendar-assign"), {"plan": social.pk, "campaign": spring.pk}, **HX
    )
    body = response.content.decode()
    assert "Assign “Spring Sale social” to “Spring Sale 2026”?" in body
    assert (
        "This Plan is of Initiative “Brand 0”, not of the campaign&#x27;s own (“Brand 1”)." in body
    )
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_list_mass_assign_asks_first_and_names_the_plans(client, world):
    social, teaser, summer = world.plans[0], world.plans[1], world.campaigns[1]
    client.force_login(world.maria)
    back = "zoom=year&date=2026-01-01"
    ticked = {"plans": [social.pk, teaser.pk], "campaign": summer.pk, "back": back, "view": "list"}

    response = client.post(reverse("calendar-list-assign"), ticked, **HX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="calendar-list"')
    assert response["HX-Replace-Url"] == f"/calendar/list/?{back}"
    assert "Assign “Spring Sale social” to “Summer 2026”?" in body
    assert (
        "<li>“Spring Sale social”: This Plan runs 1 Mar–31 Mar, outside the campaign&#x27;s "
        "1 Jun–31 Aug.</li>" in body
    )
    assert '<form method="post" action="/calendar/list/assign/">' in body
    for plan in (social, teaser):
        assert f'<input type="hidden" name="plans" value="{plan.pk}">' in body
    assert '<input type="hidden" name="view" value="list">' in body
    # Cancel keeps the ticks and the chosen campaign.
    cancel = (
        f"/calendar/list/?zoom=year&amp;date=2026-01-01&amp;plans={social.pk}&amp;plans={teaser.pk}"
        f"&amp;campaign={summer.pk}"
    )
    assert f'id="confirm-cancel" href="{cancel}"' in body
    assert 'hx-target="#calendar-list"' in body
    assert 'id="mass-assign"' in body
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()
    # Without script: the list page with the question.
    response = client.post(reverse("calendar-list-assign"), ticked)
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert "Assign “Spring Sale social” to “Summer 2026”?" in response.content.decode()
    assert not Assignment.objects.exists()

    response = client.post(
        reverse("calendar-list-assign"), {**ticked, "confirmed": "confirmed"}, **HX
    )

    assert "Assigned 2 Plans to “Summer 2026”." in response.content.decode()
    assert set(Assignment.objects.values_list("plan", "campaign")) == {
        (social.pk, summer.pk),
        (teaser.pk, summer.pk),
    }
    assert AuditEvent.objects.filter(action="assignment.create").count() == 2


def test_list_mass_assign_of_a_plan_assigned_meanwhile_says_what_happened(client, world):
    teaser, summer = world.plans[1], world.campaigns[1]
    extra = make_campaign("Summer extra", date(2026, 6, 1), date(2026, 6, 30))
    extra.save()
    # Two windows showed "Summer teaser" unassigned; the first assigned it to Summer 2026.
    client.force_login(world.admin)
    client.post(
        reverse("calendar-list-assign"),
        {"plans": [teaser.pk], "campaign": summer.pk, "view": "list"},
        **HX,
    )
    client.force_login(world.maria)
    ticked = {"plans": [teaser.pk], "campaign": extra.pk, "back": "zoom=year", "view": "list"}

    response = client.post(reverse("calendar-list-assign"), ticked, **HX)

    body = response.content.decode()
    # Nothing was assigned: no success, and no offer of a move the list cannot make.
    assert "Assigned 0" not in body and 'class="notice"' not in body
    assert "Move it to this campaign instead?" not in body
    assert (
        "1 refused: Plan “Summer teaser” already feeds campaign “Summer 2026” (assigned there "
        "meanwhile by alex). Moves are made on the workbench." in body
    )
    workbench = f"/workbench/?campaign={extra.pk}&amp;p-q=Summer+teaser"
    assert (
        f'<a href="{workbench}">Move “Summer teaser” to “Summer extra” on the workbench</a>' in body
    )
    assert Assignment.objects.get(plan=teaser).campaign == summer
    assert AuditEvent.objects.count() == 1
    # The workbench link opens the campaign with the Plan and its "Move here".
    page = client.get(workbench.replace("&amp;", "&")).content.decode()
    assert f'id="move-{teaser.pk}"' in page
    # Assigned by the person herself in another window: said so; without script the link
    # survives the redirect.
    Assignment.objects.filter(plan=teaser).delete()
    client.post(reverse("calendar-list-assign"), {**ticked, "campaign": summer.pk})
    response = client.post(reverse("calendar-list-assign"), ticked, follow=True)
    body = response.content.decode()
    assert response.redirect_chain == [("/calendar/list/?zoom=year", 302)]
    assert "(assigned there meanwhile by you)" in body
    assert f'<a href="{workbench}">Move “Summer teaser” to “Summer extra”' in body
    assert "Assigned 0" not in body


def test_list_query_count_is_fixed(client, world, django_assert_num_queries):
    campaigns = [
        make_campaign(f"Bulk {i}", date(2026, 4, 1), date(2026, 4, 20), campaign_id=str(5000 + i))
        for i in range(60)
    ]
    from sapmc.models import ExternalCampaign

    ExternalCampaign.objects.bulk_create(campaigns)
    client.force_login(world.tom)
    # session, user, roles, the company's zone (its today), initiatives, statuses, saved views,
    # campaigns (counts and sums as subqueries) and how many, unassigned Plans (with their
    # Initiative) and how many, assignment targets; grants joined
    with django_assert_num_queries(12):
        response = client.get(reverse("calendar-list"), {"zoom": "quarter", "date": "2026-04-01"})
    assert len(response.context["campaigns"]) == 61


def test_saved_views_create_apply_and_delete_are_per_user(client, world):
    client.force_login(world.maria)
    mine = world.initiatives[0].pk
    back = f"zoom=days90&date=2026-04-01&initiative={mine}&q=spring&page=3&panel=c1"
    response = client.post(reverse("saved-view-save"), {"name": "  My  spring ", "back": back})
    assert response.status_code == 302
    saved = SavedView.objects.get(user=world.maria)
    assert saved.name == "My spring"
    # Filters and zoom are kept; where it was (date, page, open panel) is not.
    assert saved.query == f"initiative={world.initiatives[0].pk}&q=spring&zoom=days90"
    page = client.get(reverse("calendar"), {"zoom": "month", "date": "2026-03-01"})
    body = page.content.decode()
    assert f'href="/calendar/?{saved.query.replace("&", "&amp;")}&amp;date=' in body
    assert "Saved view “My spring”." in body
    # Saving the same name again (say, from a second window) replaces the filters, no
    # duplicate, and says so.
    response = client.post(
        reverse("saved-view-save"), {"name": "My spring", "back": "zoom=year"}, follow=True
    )
    assert SavedView.objects.get(user=world.maria).query == "zoom=year"
    body = response.content.decode()
    assert "Your saved view “My spring” now keeps these filters" in body
    assert "Saved view “My spring”." not in body
    # An empty name is refused with a message.
    response = client.post(reverse("saved-view-save"), {"name": "  ", "back": ""}, follow=True)
    assert "Give the view a name." in response.content.decode()
    # tom neither sees nor deletes maria's view.
    client.force_login(world.tom)
    assert "My spring" not in client.get(reverse("calendar")).content.decode()
    client.post(reverse("saved-view-delete", args=[saved.pk]))
    assert SavedView.objects.filter(pk=saved.pk).exists()
    client.force_login(world.maria)
    response = client.post(
        reverse("saved-view-delete", args=[saved.pk]), {"back": "zoom=year", "view": "list"}
    )
    assert response["Location"] == "/calendar/list/?zoom=year"
    assert not SavedView.objects.exists()
    # Deleted again from a second window that still showed it: said so, not as an error.
    again = client.post(reverse("saved-view-delete", args=[saved.pk]), follow=True)
    assert "That saved view is already gone" in again.content.decode()
    # Not audited: a private bookmark changes nothing anyone else sees.
    assert AuditEvent.objects.count() == 0


def test_a_saved_view_sent_twice_says_the_second_time_that_it_keeps_these_filters_already(
    client, world
):
    client.force_login(world.maria)
    form = {"name": "My spring", "back": "zoom=year&q=spring", "view": "list"}
    client.post(reverse("saved-view-save"), form)

    # The same form again (a reload that sends it once more, a double click).
    response = client.post(reverse("saved-view-save"), form, follow=True)

    body = response.content.decode()
    assert "Your saved view “My spring” already keeps these filters: nothing changed." in body
    assert "the ones it kept before are gone" not in body
    assert SavedView.objects.get(user=world.maria).query == "q=spring&zoom=year"


def test_not_assigned_counts_only_plans_drawn_in_the_period(client, world):
    # "Spring Sale social" ends on 31 March: the day-wide query finds it for Q2, but it is not
    # drawn there, so it is not counted either (it was: "Not assigned 2" over one bar).
    client.force_login(world.maria)
    response = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-04-01"})
    cal = response.context["cal"]
    assert cal.unassigned_total == 1
    assert [b.label for lane in cal.unassigned_lanes for b in lane] == ["Summer teaser"]


def test_presets_start_today_and_zooms_keep_the_day_shown(client, world):
    with time_machine.travel("2026-05-20 12:00Z", tick=False):
        client.force_login(world.admin)
        response = client.get(reverse("calendar"), {"zoom": "year", "date": "2026-05-01"})
        links = {link["label"]: link for link in response.context["zoom_links"]}
        assert links["Next 90 days"]["date"] == date(2026, 5, 20)
        assert links["Rolling 12 months"]["date"] == date(2026, 5, 1)
        assert links["Rolling 12 months"]["current"] and not links["Year"]["current"]
        assert links["Year"]["date"] == date(2026, 1, 1)  # the calendar year, Jan to Dec
        body = response.content.decode()
        assert 'href="/calendar/?zoom=days90&amp;date=2026-05-20"' in body
        assert "May 2026 – Apr 2027" in body
        other = client.get(reverse("calendar"), {"zoom": "year", "date": "2026-01-01"})
        links = {link["label"]: link for link in other.context["zoom_links"]}
        assert links["Year"]["current"] and not links["Rolling 12 months"]["current"]
        assert links["Month"]["date"] == date(2026, 1, 1)


def test_unassigned_plan_bars_tell_screen_readers_how_to_assign(client, world):
    client.force_login(world.maria)
    body = client.get(reverse("calendar"), {"zoom": "quarter", "date": "2026-04-01"}).content
    assert (
        b'Summer teaser</span><span class="sr-only"> (not assigned: open it to assign it)' in body
    )


def test_campaign_page_leads_back_to_its_bar_on_the_calendar(client, world):
    campaign = world.campaigns[1]
    client.force_login(world.maria)
    body = client.get(reverse("campaign", args=[campaign.pk])).content.decode()
    link = f"/calendar/?zoom=quarter&amp;date=2026-06-01&amp;panel=c{campaign.pk}"
    assert f'href="{link}"' in body
    page = client.get(link.replace("&amp;", "&"))
    assert page.context["panel_key"] == f"c{campaign.pk}"
    assert page.context["cal"].period.title == "Q2 2026"


def test_the_list_is_part_of_the_calendar_in_the_main_menu(client, world):
    client.force_login(world.maria)
    body = client.get(reverse("calendar-list")).content.decode()
    assert '<a href="/calendar/" aria-current="page">Calendar</a>' in body


@pytest.mark.usefixtures("big")
@pytest.mark.parametrize("who", ["admin", "tom"])
def test_list_and_panel_query_counts_at_scale(client, world, who, django_assert_num_queries):
    client.force_login(getattr(world, who))
    # 2,000 campaigns, 10,000 Plans: the list reads the same few queries (see the small test),
    # two of them the counts of its pages.
    with django_assert_num_queries(12):
        response = client.get(reverse("calendar-list"), {"zoom": "year", "date": "2026-01-01"})
    assert len(response.context["campaigns"]) == 100 == len(response.context["plans"])
    live = ExternalCampaign.objects.filter(removed_at__isnull=True, start__lte=date(2026, 12, 31))
    assert response.context["campaign_page"].paginator.count == live.count() > 500
    assert response.context["plan_page"].paginator.count > 500
    busy = Assignment.objects.values_list("campaign_id", flat=True).first()
    # session, user, roles, campaign, its visible Plans, all its Plans (count), Initiative,
    # KPI sums, drift: references and assignments, the company's zone (its today), and a
    # manager's grants (the drift she may decide)
    with django_assert_num_queries(11 if who == "admin" else 12):
        response = client.get(reverse("calendar-panel"), {"panel": f"c{busy}"}, **HX)
    assert response.status_code == 200


@pytest.mark.usefixtures("big")
def test_list_csv_at_scale_keeps_every_row_of_the_view(client, world):
    client.force_login(world.admin)
    response = client.get(
        reverse("calendar-list"), {"zoom": "year", "date": "2026-01-01", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    kinds = [r[0] for r in rows[1:]]
    # The page shows 500 of each; the export has them all.
    live = ExternalCampaign.objects.filter(removed_at__isnull=True, start__lte=date(2026, 12, 31))
    assert kinds.count("campaign") == live.count() > 500
    unassigned = Plan.objects.filter(
        removed_at__isnull=True,
        assignment__isnull=True,
        start__date__lte=date(2026, 12, 31),
        end__date__gte=date(2026, 1, 1),
    ).count()
    assert kinds.count("unassigned plan") == unassigned > 500
    # By start, then name: C0, C1080 and C1440 all start on 1 January.
    assert [r[2] for r in rows[1:4]] == ["10000", "11080", "11440"]


def test_list_shows_again_the_ticks_and_campaign_a_cancelled_question_had(client, world):
    social, teaser, summer = world.plans[0], world.plans[1], world.campaigns[1]
    client.force_login(world.maria)

    response = client.get(
        reverse("calendar-list"),
        {"zoom": "year", "date": "2026-01-01", "plans": [teaser.pk, "x"], "campaign": summer.pk},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="lp-{teaser.pk}" aria-label="Select {teaser.name}" checked>' in body
    assert f'id="lp-{social.pk}" aria-label="Select {social.name}">' in body
    assert f'<option value="{summer.pk}" selected>{summer.name}</option>' in body
    # Not part of the view: no link or form of the list carries them on.
    assert "plans=" not in body and "campaign=" not in body


def test_the_panels_question_is_asked_in_the_panel(client, world):
    social, summer = world.plans[0], world.campaigns[1]  # March Plan, summer campaign
    client.force_login(world.maria)
    back = f"zoom=quarter&date=2026-01-01&panel=p{social.pk}"
    form = {"plan": social.pk, "campaign": summer.pk, "back": back, "from": "panel"}

    response = client.post(reverse("calendar-assign"), form, **HX)

    body = response.content.decode()
    calendar, panel = body.split('<aside id="cal-panel" class="cal-panel" hx-swap-oob="true"')
    # On a phone the panel covers the calendar: the question is in the panel, not under it.
    assert 'role="alertdialog"' not in calendar
    assert 'role="alertdialog"' in panel
    assert "Assign “Spring Sale social” to “Summer 2026”?" in panel
    assert 'id="assign-to"' not in panel
    # Cancel brings back the panel as it was; without script, the calendar with it open.
    assert f'href="/calendar/?{back.replace("&", "&amp;")}"' in panel
    assert f'hx-get="/calendar/panel/?{back.replace("&", "&amp;")}" hx-target="#cal-panel"' in panel
    assert not Assignment.objects.exists() and not AuditEvent.objects.exists()


def test_list_search_finds_a_campaign_by_its_sap_mc_id_and_a_plan_by_its_khoros_id(client, world):
    client.force_login(world.maria)
    url, base = reverse("calendar-list"), {"zoom": "year", "date": "2026-01-01"}
    response = client.get(url, {**base, "q": "102"})
    assert _list_names(response) == ["Autumn 2026"]
    response = client.get(url, {**base, "q": world.plans[1].khoros_id.hex})
    assert _list_names(response) == []
    assert [p.name for p in response.context["plans"]] == ["Summer teaser"]
    export = client.get(url, {**base, "q": world.plans[1].khoros_id.hex, "format": "csv"})
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert [r[1] for r in list(csv.reader(io.StringIO(text)))[1:]] == ["Summer teaser"]


@pytest.mark.usefixtures("big")
def test_list_pages_reach_every_row_of_a_big_view(client, world):
    # A year of 2,000 campaigns and thousands of unassigned Plans: a page of 100 of each, and
    # every row on some page (the page showed the first 500 and no way to the others).
    client.force_login(world.admin)
    url, view = reverse("calendar-list"), {"zoom": "year", "date": "2026-01-01", "sort": "name"}
    export = client.get(url, {**view, "format": "csv", "page": 3})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    campaign_ids = [r[2] for r in rows[1:] if r[0] == "campaign"]
    plan_ids = [r[2] for r in rows[1:] if r[0] == "unassigned plan"]
    assert len(campaign_ids) > 1000
    last = (len(campaign_ids) + 99) // 100
    response = client.get(url, {**view, "page": last, "ppage": 2})
    assert [c.campaign_id for c in response.context["campaigns"]] == campaign_ids[
        (last - 1) * 100 :
    ]
    assert [p.khoros_id.hex for p in response.context["plans"]] == plan_ids[100:200]
    # Only this page's campaigns to assign to, not a select of the whole year.
    targets = [c.pk for c in response.context["targets"]]
    assert sorted(targets) == sorted(c.pk for c in response.context["campaigns"])
    body = response.content.decode()
    # Each pager keeps the view, its sort and the other table's page.
    here = "/calendar/list/?zoom=year&amp;date=2026-01-01&amp;sort=name"
    assert f'href="{here}&amp;ppage=2&amp;page={last - 1}"' in body
    assert f'href="{here}&amp;page={last}&amp;ppage=1"' in body
    assert f'href="{here}&amp;page={last}&amp;ppage=3"' in body
    assert f"Campaigns {(last - 1) * 100 + 1}–{len(campaign_ids)} of {len(campaign_ids)}" in body
    assert f"Plans 101–200 of {len(plan_ids)}" in body
    # A page past the end shows the last one, a page that is no number the first.
    assert client.get(url, {**view, "page": 10**6}).context["campaign_page"].number == last
    assert client.get(url, {**view, "page": "x"}).context["campaign_page"].number == 1


def test_a_plans_assign_to_offers_the_campaigns_with_most_days_in_common(client, world):
    # A Plan of September was offered the 60 earliest-starting campaigns that met it: 60 of
    # July, a few days in common each; those running with it were not in the list.
    plan = make_plan(world.initiatives[0], "September push", date(2026, 9, 2), date(2026, 10, 1))
    plan.save()
    ExternalCampaign.objects.bulk_create(
        [make_campaign(f"July {i:02}", date(2026, 7, 19) + timedelta(days=i % 10),
                       date(2026, 9, 2) + timedelta(days=i % 4), campaign_id=f"J{i}")
         for i in range(70)]
        + [make_campaign(f"Autumn {i}", date(2026, 9, 1), date(2026, 10, 31), campaign_id=f"A{i}")
           for i in range(3)]
        + [make_campaign("Mid September", date(2026, 9, 15), date(2026, 10, 31), campaign_id="M1")]
    )  # fmt: skip
    client.force_login(world.admin)
    response = client.get(reverse("calendar-panel"), {"panel": f"p{plan.pk}"}, **HX)
    panel = response.context["ppanel"]
    names = [c.name for c in panel.candidates]
    assert names[:3] == ["Autumn 0", "Autumn 1", "Autumn 2"]  # all 30 of its days
    july = [i for i, name in enumerate(names) if name.startswith("July")]
    assert names.index("Mid September") < min(july)  # 17 days in common, July's 1 to 4
    assert len(names) == 60
    meeting = ExternalCampaign.objects.filter(
        removed_at__isnull=True, start__lte=date(2026, 10, 1), end__gte=date(2026, 9, 2)
    ).count()
    assert panel.more_candidates == meeting - 60 > 0
    assert f"{meeting - 60} more meet its dates" in response.content.decode()
