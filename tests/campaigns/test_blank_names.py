"""A blank name from Khoros or SAP MC is shown by one rule, "(no name) · <id>", on every page:
a link, label or heading with no text is unusable, and invisible to keyboard and screen reader."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import AuditEvent
from khoros.models import Initiative, Plan, PlanKpi
from sapmc.models import ExternalCampaign
from smcbridge.names import NO_NAME, shown_name

pytestmark = pytest.mark.django_db

# Elements a person reads a name in: none may be empty.
NAMED = {"a", "label", "option", "h1", "h2", "h3", "bdi", "button", "title", "strong", "li"}
# Attributes that name a control to a screen reader or say what a bar is.
NAMING_ATTRIBUTES = ("aria-label", "title")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Spring Sale", "Spring Sale"),
        ("  Spring Sale ", "  Spring Sale "),  # a real name is shown as sent
        ("", "(no name) · 100"),
        ("   ", "(no name) · 100"),
        ("\t\n\u00a0\u3000", "(no name) · 100"),  # tabs, a new line, no-break and wide spaces
        ("\u200b\u200d\ufeff", "(no name) · 100"),  # zero-width characters draw nothing either
        (None, "(no name) · 100"),
    ],
)
def test_the_rule_shows_a_blank_name_as_no_name_and_its_id(name, shown):
    assert shown_name(name, "100") == shown


def test_each_mirrored_model_shows_its_own_id_beside_no_name(world):
    plan, campaign, initiative = world.plans[0], world.campaigns[0], world.initiatives[0]
    plan.name, campaign.name, initiative.name = " ", "", "\u200b"

    assert plan.display_name == f"{NO_NAME} · {plan.khoros_id.hex}"
    assert campaign.display_name == f"{NO_NAME} · 100"
    assert initiative.display_name == f"{NO_NAME} · 1700"
    assert (str(plan), str(initiative)) == (plan.display_name, initiative.display_name)
    assert str(campaign) == f"{NO_NAME} · 100 (100)"
    # A named one is shown as it is.
    assert world.plans[1].display_name == "Summer teaser"
    assert world.campaigns[1].display_name == "Summer 2026"


class _Page(HTMLParser):
    """The empty elements and naming attributes of a page, as "tag" or "attr=value"."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, list[str]]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for attr in NAMING_ATTRIBUTES:
            value = found.get(attr) or ""
            if attr in found and (not value.strip() or _blank_in(value)):
                self.problems.append(f"{tag} {attr}={value!r}")
        if tag in ("input", "br", "meta", "link", "img", "source"):
            return
        # An element named by aria-label needs no text of its own.
        self.open.append((tag, [found.get("aria-label") or ""]))

    def handle_data(self, data: str) -> None:
        for _tag, texts in self.open:
            texts.append(data)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            open_tag, texts = self.open.pop()
            if open_tag == tag:
                if tag in NAMED and not "".join(texts).strip():
                    self.problems.append(f"empty <{tag}>")
                return


def _blank_in(text: str) -> bool:
    """A name left out of the words around it: “”, "Assign " or " (2026-03-01 – …)"."""
    return "“”" in text or text != text.rstrip() or text != text.lstrip()


def _problems(html: str) -> list[str]:
    parser = _Page()
    parser.feed(html)
    return parser.problems


@pytest.fixture
def blank(world):
    """Spring's campaign, one of maria's Plans feeding it and her Initiative, all without a name;
    an unassigned Plan of hers without one too."""
    spring, plan, spare = world.campaigns[0], world.plans[0], world.plans[1]
    ExternalCampaign.objects.filter(pk=spring.pk).update(name="")
    Plan.objects.filter(pk=plan.pk).update(name="   ")
    Plan.objects.filter(pk=spare.pk).update(
        name="",
        start=datetime(2026, 3, 10, 6, tzinfo=UTC),
        end=datetime(2026, 3, 25, 23, tzinfo=UTC),
        start_day=date(2026, 3, 10),
        end_day=date(2026, 3, 25),
    )
    Initiative.objects.filter(pk=world.initiatives[0].pk).update(name=" ")
    spring.refresh_from_db()
    plan.refresh_from_db()
    services.assignment_create(campaign=spring, plan=plan, acting_user=world.admin)
    PlanKpi.objects.create(
        plan=plan, day=date(2026, 3, 12), impressions=7, updated_at=timezone.now()
    )
    return spring, plan, Plan.objects.get(pk=spare.pk)


@time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC))
@pytest.mark.parametrize("who", ["admin", "maria"])
def test_no_page_shows_a_blank_name_as_nothing(client, world, blank, who):
    spring, plan, spare = blank
    client.force_login(getattr(world, who))
    month = {"zoom": "month", "date": "2026-03-01"}
    pages = {
        "workbench": (reverse("workbench"), {"campaign": spring.pk, "p-date_to": "2026-04-30"}),
        "calendar month": (reverse("calendar"), month),
        "calendar quarter": (reverse("calendar"), {**month, "zoom": "quarter"}),
        "calendar list": (reverse("calendar-list"), month),
        "campaign panel": (reverse("calendar"), {**month, "panel": f"c{spring.pk}"}),
        "Plan panel": (reverse("calendar"), {**month, "panel": f"p{plan.pk}"}),
        "unassigned Plan panel": (reverse("calendar"), {**month, "panel": f"p{spare.pk}"}),
        "campaign page": (reverse("campaign", args=[spring.pk]), {}),
        "comparison": (reverse("campaign", args=[world.campaigns[1].pk]), {"compare": spring.pk}),
        "dashboard": (reverse("dashboard"), {}),
    }
    if who == "admin":
        pages["audit"] = (reverse("audit"), {})
    plan_shown = f"{NO_NAME} · {plan.khoros_id.hex}"
    spare_shown = f"{NO_NAME} · {spare.khoros_id.hex}"
    # Where the blank campaign is named (a sync admin's home lists no campaign), and where
    # only the blank unassigned Plan is (its panel; maria's Plans ending without KPIs).
    shown = {
        "unassigned Plan panel": spare_shown,
        "dashboard": spare_shown if who == "maria" else "",
    }
    for where, (url, params) in pages.items():
        response = client.get(url, params)
        assert response.status_code == 200, where
        html = response.content.decode()
        assert _problems(html) == [], where
        assert shown.get(where, f"{NO_NAME} · 100") in html, where
    workbench = client.get(*pages["workbench"]).content.decode()
    assert plan_shown in workbench and spare_shown in workbench
    assert f"Assign {spare_shown}" in workbench and f"Unassign {plan_shown}" in workbench
    month_html = client.get(*pages["calendar month"]).content.decode()
    assert f'<span class="bar-label">{plan_shown}</span>' in month_html
    assert f'<span class="bar-label">{NO_NAME} · 100</span>' in month_html
    assert (
        f"<bdi>{spare_shown}</bdi>" in client.get(*pages["unassigned Plan panel"]).content.decode()
    )


def test_the_unassigned_plans_links_find_it_by_its_id_when_it_has_no_name(client, world, blank):
    """A blank search finds every Plan: the bar's and the panel's "Open in the workbench" link
    search for the Khoros id of a Plan with no name."""
    _spring, _plan, spare = blank
    client.force_login(world.admin)
    html = client.get(
        reverse("calendar"), {"zoom": "month", "date": "2026-03-01", "panel": f"p{spare.pk}"}
    ).content.decode()
    assert "p-q=&" not in html and 'p-q="' not in html
    assert f"?p-q={spare.khoros_id.hex}" in html
    found = client.get(reverse("workbench"), {"p-q": spare.khoros_id.hex}).context["plan_page"]
    assert found.paginator.count == 1


def test_messages_and_audit_rows_name_a_blank_name_by_the_rule(client, world, blank):
    spring, plan, spare = blank
    client.force_login(world.admin)
    answer = client.post(
        reverse("workbench-assign"),
        {"campaign": spring.pk, "plan_confirmed": spare.pk},
        headers={"HX-Request": "true"},
    ).content.decode()
    spare_shown = f"{NO_NAME} · {spare.khoros_id.hex}"
    assert f"Assigned “{spare_shown}” to “{NO_NAME} · 100”." in answer
    events = AuditEvent.objects.filter(campaign=spring).order_by("at", "pk")
    summaries = [e.summary for e in events]
    assert summaries == [
        f"Assigned Plan “{NO_NAME} · {plan.khoros_id.hex}” to campaign “{NO_NAME} · 100”",
        f"Assigned Plan “{spare_shown}” to campaign “{NO_NAME} · 100”",
    ]
    # The stored state keeps what upstream sent: nothing invented in the data.
    event = events.first()
    assert (event.after["plan_name"], event.after["campaign_name"]) == ("   ", "")


def test_the_list_csv_keeps_the_blank_name_as_sent(client, world, blank):
    """An export is data: the name column keeps what upstream sent; its id is in the next one."""
    client.force_login(world.admin)
    response = client.get(
        reverse("calendar-list"), {"zoom": "month", "date": "2026-03-01", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][:3] == ["campaign", "", "100"]


def test_the_admins_lists_link_a_blank_name_by_the_rule(client, world, blank, django_user_model):
    spring, plan, _spare = blank
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-26"))
    for name, shown in (
        ("admin:khoros_plan_changelist", f"{NO_NAME} · {plan.khoros_id.hex}"),
        ("admin:khoros_initiative_changelist", f"{NO_NAME} · 1700"),
        ("admin:sapmc_externalcampaign_changelist", f"{NO_NAME} · 100"),
    ):
        html = client.get(reverse(name)).content.decode()
        assert f">{shown}</a>" in html, name
