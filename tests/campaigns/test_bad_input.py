"""No 500 on bad input: NUL characters and lone surrogates in any inbound string, ids too large
for the database, out-of-range dates. Every page and form of the app, and SAP MC's endpoints.

Runs on whatever DATABASE_URL names (SQLite by default; PostgreSQL refuses NUL in text).
"""

from __future__ import annotations

import base64
import json

import pytest
from django_q.models import Schedule

from campaigns.models import Assignment, AuditEvent
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
HUGE = "9" * 30  # beyond any integer column
BIGINT_PLUS_ONE = str(2**63)
# A digit to str.isdigit() that int() refuses: an id checked with isdigit() alone crashed.
SUPERSCRIPT_TWO = "\u00b2"
BAD_STRINGS = [
    NUL, "\x00", HUGE, BIGINT_PLUS_ONE, "-" + BIGINT_PLUS_ONE, "x" * 5000, SUPERSCRIPT_TWO,
]  # fmt: skip
BAD_DATES = [
    "9999-12-31", "0001-01-01", "10000-01-01", "2026-13-01", "2026-02-30", "0000-00-00",
    "9999-12-31T23:59", "-1", NUL,
]  # fmt: skip

# Every page with the query parameters it reads.
GET_PAGES: dict[str, list[str]] = {
    "/": ["page"],
    "/workbench/": [
        "campaign", "cpage", "ppage", "c-q", "c-status", "c-date_from", "c-date_to",
        "c-unassigned", "p-q", "p-initiative", "p-date_from", "p-date_to", "p-unassigned",
        "plans",
    ],
    "/audit/": ["actor", "campaign", "date_from", "date_to", "page", "format"],
    "/calendar/": ["zoom", "date", "page", "initiative", "status", "assigned", "q", "panel"],
    "/calendar/panel/": ["panel"],
    "/calendar/list/": ["zoom", "date", "sort", "plans", "campaign", "format"],
    "/syncs/": ["kind", "status", "trigger", "date_from", "date_to", "page"],
    "/schedules/": [],
    "/sapmc-calls/": ["endpoint", "status", "day", "page"],
    "/login/": ["next"],
    "/healthz": [],
}  # fmt: skip
DATE_PARAMS = {"c-date_from", "c-date_to", "p-date_from", "p-date_to", "date_from", "date_to",
               "date", "day"}  # fmt: skip
ID_PATHS = [
    "/campaigns/{id}/", "/campaigns/{id}/kpis.csv", "/syncs/{id}/", "/schedules/{id}/",
]  # fmt: skip


@pytest.fixture
def root(django_user_model, world):
    user = django_user_model.objects.create_superuser("root", password="pw-root-2026")
    from django.contrib.auth.models import Group

    from campaigns.models import SYNC_ADMINS

    user.groups.add(Group.objects.get(name=SYNC_ADMINS))
    return user


def _values(param: str) -> list[str]:
    if param == "panel":  # "c<campaign id>" or "p<Plan id>"
        return [f"{kind}{value}" for kind in "cp" for value in BAD_STRINGS]
    return BAD_DATES if param in DATE_PARAMS else BAD_STRINGS


class Failures(list):
    """Every bad answer of a test, reported together rather than only the first."""

    def check(self, response, what: str, *, allowed: tuple[int, ...] = ()) -> None:
        if response.status_code >= 500 and response.status_code not in allowed:
            self.append(f"{what} -> {response.status_code}")


@pytest.fixture
def failures():
    found = Failures()
    yield found
    assert not found, "\n".join(found[:40])


@pytest.mark.parametrize("path", list(GET_PAGES))
def test_pages_answer_bad_query_strings_without_error(client, root, path, failures):
    client.force_login(root)
    client.raise_request_exception = False
    allowed = (503,) if path == "/healthz" else ()  # unhealthy (no sync yet) is its answer
    for param in GET_PAGES[path] or ["anything"]:
        for value in _values(param):
            response = client.get(path, {param: value})
            failures.check(response, f"GET {path}?{param}={value!r}", allowed=allowed)
    for value in BAD_STRINGS:
        response = client.get(path, {value: value})
        failures.check(response, f"GET {path} with key {value!r}", allowed=allowed)


@pytest.mark.parametrize("template", ID_PATHS)
@pytest.mark.parametrize("ident", [HUGE, BIGINT_PLUS_ONE, str(2**31), "0"])
def test_ids_too_large_for_the_database_are_not_found(client, root, template, ident):
    client.force_login(root)
    client.raise_request_exception = False
    path = template.format(id=ident)
    response = client.get(path)
    assert response.status_code in (404, 405), f"GET {path} -> {response.status_code}"
    response = client.post(path)
    assert response.status_code in (302, 403, 404, 405), f"POST {path} -> {response.status_code}"


def test_forms_answer_bad_fields_without_error(client, root, world, failures):
    client.force_login(root)
    client.raise_request_exception = False
    campaign, plan = world.campaigns[0], world.plans[0]
    schedule = Schedule.objects.create(
        name="Khoros plans", func="khoros.tasks.sync_khoros_task", minutes=30,
        schedule_type=Schedule.MINUTES, repeats=-1,
    )  # fmt: skip
    run = SyncRun.objects.create(kind="khoros_plans", status="failed", trigger="button")
    forms: dict[str, dict[str, str]] = {
        "/workbench/assign/": {"campaign": str(campaign.pk), "plans": str(plan.pk), "note": "n",
                               "plan_one": str(plan.pk), "c-q": "x", "cpage": "1"},
        "/workbench/unassign/": {"campaign": str(campaign.pk), "plan": str(plan.pk)},
        "/workbench/move/": {"campaign": str(campaign.pk), "plan": str(plan.pk), "note": "n"},
        "/workbench/drift/": {"campaign": str(campaign.pk), "decision": "keep_bridge"},
        "/calendar/assign/": {"plan": str(plan.pk), "campaign": str(campaign.pk)},
        "/calendar/list/assign/": {"plans": str(plan.pk), "campaign": str(campaign.pk)},
        f"/schedules/{schedule.pk}/": {f"{schedule.pk}-minutes": "30",
                                       f"{schedule.pk}-enabled": "on"},
        f"/syncs/{run.pk}/again/": {},
        "/sync/khoros_plans/": {},
        "/login/": {"username": "root", "password": "pw"},
    }  # fmt: skip
    for path, good in forms.items():
        for field in [*good, "extra"]:
            for value in BAD_STRINGS:
                data = {**good, field: value}
                response = client.post(path, data)
                failures.check(response, f"POST {path} {field}={value!r}")
                if path == "/login/":
                    client.force_login(root)
                response = client.post(path, data, HTTP_HX_REQUEST="true")
                failures.check(response, f"htmx POST {path} {field}={value!r}")
                if path == "/login/":
                    client.force_login(root)


@pytest.mark.parametrize(
    "drift",
    [f"keep:{SUPERSCRIPT_TWO}", f"adopt:{SUPERSCRIPT_TWO}", f"confirm-adopt:all:{SUPERSCRIPT_TWO}"],
)
def test_drift_decisions_naming_no_number_are_refused_not_crashed(client, root, world, drift):
    client.force_login(root)
    response = client.post("/workbench/drift/", {"campaign": world.campaigns[0].pk, "drift": drift})
    assert response.status_code == 302
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("compare", [SUPERSCRIPT_TWO, HUGE, "x"])
def test_a_comparison_with_no_campaign_number_says_so(client, root, world, compare):
    client.force_login(root)
    response = client.get(f"/campaigns/{world.campaigns[0].pk}/", {"compare": compare})
    assert response.status_code == 200
    assert response.context["compare"] is None
    assert "no other campaign with that number" in response.context["compare_error"]


def test_sync_kinds_with_nul_are_refused(client, root):
    client.force_login(root)
    client.raise_request_exception = False
    response = client.post("/sync/a%00b/")
    # Refused before the view: a NUL in the path is bad input, as in a query or a form.
    assert response.status_code == 400
    assert not SyncRun.objects.exists()


# ---- SAP MC's inbound endpoints: JSON bodies ------------------------------------------------


def _auth(settings) -> dict[str, str]:
    settings.SAPMC_INBOUND_USER = "sapmc-inbound"
    settings.SAPMC_INBOUND_PASSWORD = "pw-inbound-2026"
    token = base64.b64encode(b"sapmc-inbound:pw-inbound-2026").decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


API_BODIES: dict[str, dict[str, object]] = {
    "parameter-values": {"ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY",
                         "Filter": {"ADVERTISER": "389"}},
    "external-campaigns": {"ADVERTISER": "389", "EXT_CAMPAIGN_MANAGING_PARTY": "1700",
                           "Search": "x"},
    "campaign-success": {"FromDate": "2026-03-01", "ToDate": "2026-03-31",
                         "ExternalCampaigns": [{"ExternalCampaignID": "a" * 32}]},
}  # fmt: skip
# Raw JSON text: "\u0000" and a lone surrogate "\ud800" are valid JSON escapes.
JSON_BAD = ['"a\\u0000b"', '"\\ud800"', '"\\udfff x"', "1e400", str(2**70), '"9999-12-31"',
            '"0001-01-01"', '"10000-01-01"']  # fmt: skip


def _replace_leaves(body: object, raw: str) -> list[str]:
    """Each variant of `body` (as JSON text) with one string leaf replaced by `raw`."""
    text = json.dumps(body)
    variants = []
    start = 0
    while True:
        i = text.find('"', start)
        if i < 0:
            break
        j = text.find('"', i + 1)
        is_key = text[j + 1 : j + 2] == ":"
        variants.append(text[:i] + raw + text[j + 1 :])
        if is_key and raw.startswith('"'):
            pass  # keys are replaced too
        start = j + 1
    return variants


@pytest.mark.parametrize("endpoint", list(API_BODIES))
def test_inbound_json_with_nul_surrogates_and_huge_values_is_a_clear_400(
    client, settings, world, endpoint, failures
):
    headers = _auth(settings)
    client.raise_request_exception = False
    path = f"/sapmc/extcamp/v1/{endpoint}"
    for raw in JSON_BAD:
        for body in _replace_leaves(API_BODIES[endpoint], raw):
            response = client.post(path, body, content_type="application/json", **headers)
            failures.check(response, f"{endpoint} {body}")
            assert response["Content-Type"].startswith("application/json")
            if ("\\u0000" in raw or "\\ud" in raw) and response.status_code != 400:
                failures.append(f"{endpoint} {body} -> {response.status_code}, not 400")
    for query in ("$top=a%00", "$skip=" + HUGE, "$top=%ED%A0%80"):
        response = client.post(
            f"{path}?{query}", json.dumps(API_BODIES[endpoint]),
            content_type="application/json", **headers,
        )  # fmt: skip
        failures.check(response, f"{endpoint}?{query}")


def test_nul_in_a_page_query_or_form_is_a_clear_400(client, root):
    client.force_login(root)
    response = client.get("/workbench/", {"c-q": NUL})
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()
    response = client.post("/workbench/assign/", {"campaign": "1", "note": NUL})
    assert response.status_code == 400


# More digits than Python reads as a number (int() refuses over 4,300): an id check that read
# it crashed every form and page naming a campaign or Plan by number.
UNREADABLE_NUMBER = "9" * 4301


@pytest.mark.parametrize("role", ["sync admin", "manager"])
def test_an_id_of_more_digits_than_python_reads_is_no_id_not_a_500(
    client, root, world, role, failures
):
    client.force_login(root if role == "sync admin" else world.maria)
    client.raise_request_exception = False
    big, campaign = UNREADABLE_NUMBER, str(world.campaigns[0].pk)
    posts = [
        ("/workbench/assign/", {"campaign": campaign, "plans": big}),
        *((f"/workbench/{action}/", {"campaign": big, "plan": "1"})
          for action in ("assign", "unassign", "move", "drift")),
        ("/calendar/assign/", {"plan": big, "campaign": campaign}),
        ("/calendar/assign/", {"plan": str(world.plans[0].pk), "campaign": big}),
        ("/calendar/list/assign/", {"plans": big, "campaign": campaign}),
        ("/calendar/list/assign/", {"plans": str(world.plans[0].pk), "campaign": big}),
    ]  # fmt: skip
    for path, data in posts:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            failures.check(client.post(path, data, **headers), f"POST {path} {list(data)}")
    gets = [
        ("/workbench/", {"campaign": big}), ("/workbench/", {"plans": big}),
        ("/calendar/list/", {"plans": big}), ("/calendar/list/", {"plans": big, "format": "csv"}),
        ("/calendar/", {"panel": "c" + big}), ("/calendar/", {"panel": "p" + big}),
        (f"/campaigns/{campaign}/", {"compare": big}),
    ]  # fmt: skip
    for path, query in gets:
        failures.check(client.get(path, query), f"GET {path} {list(query)}")
    response = client.get("/calendar/panel/", {"panel": "p" + big}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Nothing to show: the link names no campaign or Plan." in response.content.decode()
    assert not Assignment.objects.exists()


def test_a_content_length_that_is_no_number_is_a_400(client, root, world, settings):
    client.force_login(root)
    client.raise_request_exception = False
    response = client.generic(
        "POST", "/calendar/views/", b"name=x", "application/x-www-form-urlencoded",
        CONTENT_LENGTH="abc",
    )  # fmt: skip
    assert response.status_code == 400
    for endpoint in API_BODIES:
        response = client.generic(
            "POST", f"/sapmc/extcamp/v1/{endpoint}", json.dumps(API_BODIES[endpoint]),
            "application/json", CONTENT_LENGTH="1e3", **_auth(settings),
        )  # fmt: skip
        assert response.status_code == 400, endpoint
        assert response.json()["error"]["message"] == "The Content-Length header is not a number."


def test_inbound_json_errors_say_where_and_echo_little(client, settings, world):
    path, headers = "/sapmc/extcamp/v1/parameter-values", _auth(settings)
    response = client.post(
        path, b"\xef\xbb\xbf" + json.dumps(API_BODIES["parameter-values"]).encode(),
        content_type="application/json", **headers,
    )  # fmt: skip
    assert response.json()["error"]["message"] == ("The body is not valid JSON (line 1, column 1).")
    body = {**API_BODIES["parameter-values"], "x" * 5000: 1}
    response = client.post(path, json.dumps(body), content_type="application/json", **headers)
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and message.startswith(f"Unknown field '{'x' * 64}';")
    assert len(message) < 300


def test_huge_plan_ids_in_forms_are_refused_not_crashed(client, root, world):
    client.force_login(root)
    response = client.post(
        "/workbench/assign/", {"campaign": world.campaigns[0].pk, "plan_one": BIGINT_PLUS_ONE}
    )
    assert response.status_code == 302
    assert not world.campaigns[0].assignments.exists()


@pytest.mark.parametrize("anchor", ["9999-12-31", "0001-01-01"])
def test_calendar_anchor_out_of_range_is_clamped_with_a_note(client, root, anchor):
    # The calendar's own range (campaigns.calendar FIRST_DAY..LAST_DAY) rather than today:
    # the person sees the nearest period the calendar can show, and why.
    client.force_login(root)
    response = client.get("/calendar/", {"date": anchor, "zoom": "year"})
    assert response.status_code == 200
    assert response.context["anchor"][:4] == ("2199" if anchor > "2000" else "1900")
    assert f"instead of {anchor}" in response.context["date_note"]


@pytest.mark.parametrize("back", ["c1", "dashboard", "1.5", "-1", "%ED"])
def test_sync_now_with_a_next_that_is_no_page_of_ours_goes_to_the_dashboard(client, root, back):
    # "next" is the campaign page's path ("Push now"); a word that is no path made redirect()
    # try it as a URL name (a 500, after the sync was queued) or follow it relative to the
    # action's own address (a 404 page instead of the queued sync's message).
    client.force_login(root)
    client.raise_request_exception = False
    response = client.post("/sync/khoros_plans/", {"next": back})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert SyncRun.objects.filter(kind="khoros_plans").count() == 1


# Names that are folders of the zone data, not zones: ZoneInfo() raises IsADirectoryError for
# them, an OSError, where an unknown name raises ZoneInfoNotFoundError.
ZONE_FOLDERS = ["Europe", "America/Argentina", "Etc"]


@pytest.mark.parametrize("name", ZONE_FOLDERS)
def test_a_zone_cookie_naming_a_folder_of_zones_is_no_zone(client, root, name):
    # The cookie is the browser's; one edited by hand (or by an extension) answered every page,
    # the login page included, with a 500 until it was deleted.
    client.cookies["smcbridge_tz"] = name
    client.raise_request_exception = False
    assert client.get("/login/").status_code == 200
    client.force_login(root)
    response = client.get("/syncs/")
    assert response.status_code == 200
    # Shown in the server's zone, as for any name the zone data does not know.
    assert '<meta name="smcbridge-tz" content="UTC"' in response.content.decode()


@pytest.mark.parametrize("sort", ["impressions", "-drop table", "²"])
def test_a_list_sort_that_is_no_column_says_so_and_exports_nothing(client, root, world, sort):
    # The list showed its default order under the link's sort without a word, and the CSV came
    # in that order as if it were the one asked for.
    client.force_login(root)
    view = {"zoom": "year", "date": "2026-01-01", "sort": sort}
    response = client.get("/calendar/list/", view)
    assert response.status_code == 200
    assert response.context["sort"] == "start"
    note = f"“{sort}” is not a column of the list to sort by: sorted by start."
    assert note in response.content.decode()
    export = client.get("/calendar/list/", {**view, "format": "csv"})
    assert export.status_code == 400
    assert export.content.decode() == (
        f"Nothing was exported: {note} Correct the link and export again.\n"
    )


# ---- A crawl of every page and form with hostile values --------------------------------------
#
# Each page gets every parameter it reads at once, each sent twice (the page reads the last),
# with one hostile value after another, and names it does not know; each form gets all its fields
# at once. Values are sent as raw query text: "%ED%A0%80" is a lone surrogate's bytes, which no
# str can hold. As a signed-in sync admin and a manager, plain and as htmx's partial requests.

CRAWL_VALUES = [
    "", "%20%09", "x" * 10_000, "%ED%A0%80", "%D9%A3", "-1", str(10**30), "1.5", "NaN",
    "2026-03-01T00:00:00%2B99:00", "c-1",
]  # fmt: skip
CRAWL_PAGES: dict[str, list[str]] = {
    **GET_PAGES,
    "/audit/?format=csv": ["actor", "campaign", "date_from", "date_to", "page"],
    "/calendar/": [*GET_PAGES["/calendar/"], "ppage", "sort"],
    "/calendar/list/": [*GET_PAGES["/calendar/list/"], "page", "ppage", "initiative", "status",
                        "assigned", "q"],
    "/calendar/list/?format=csv": ["zoom", "date", "sort", "initiative", "status", "assigned",
                                   "q", "page"],
    "/syncs/{run}/": [],
    "/syncs/alerts/": [],
    "/syncs/alerts/count/": ["place"],
    "/campaigns/{campaign}/": ["compare", "compare_id", "ppage", "spage", "wpage", "fpage"],
    "/campaigns/{campaign}/kpis.csv": [],
    "/healthz/live": [],
}  # fmt: skip
# The pages that answer htmx's requests with a part of themselves.
PARTIAL_PAGES = ("/", "/workbench/", "/calendar/", "/calendar/panel/", "/calendar/list/")
# What a manager may open besides her home (the others answer her 403).
MANAGER_PAGES = ("/workbench/", "/calendar/", "/campaigns/", "/login/")


def _crawl_forms(ids: dict[str, int]) -> dict[str, list[str]]:
    s = ids["schedule"]
    return {
        "/workbench/assign/": ["campaign", "plans", "plan_one", "plan_confirmed", "confirmed",
                               "note", "cpage", "ppage", "c-q", "p-q", "c-date_from",
                               "p-initiative"],
        "/workbench/unassign/": ["campaign", "plan", "c-q", "plans"],
        "/workbench/move/": ["campaign", "plan", "move_confirmed", "note"],
        "/workbench/drift/": ["campaign", "drift", "decision"],
        "/workbench/undo/": ["event", "next", "audit_query"],
        "/calendar/assign/": ["plan", "campaign", "confirmed", "back", "view", "from"],
        "/calendar/list/assign/": ["plans", "campaign", "confirmed", "back", "view"],
        "/calendar/views/": ["name", "back", "view"],
        f"/calendar/views/{ids['view']}/delete/": ["back", "view"],
        f"/campaigns/{ids['campaign']}/pushes/{ids['entry']}/settle/": ["resolution"],
        f"/campaigns/{ids['campaign']}/pushes/settle/": ["entry", "resolution"],
        f"/schedules/{s}/": [f"{s}-minutes", f"{s}-enabled", f"{s}-seen_minutes",
                             f"{s}-seen_enabled"],
        f"/syncs/{ids['run']}/again/": [],
        f"/syncs/alerts/{ids['notification']}/dismiss/": [],
        "/sync/khoros_plans/": ["next"],
    }  # fmt: skip


@pytest.fixture
def crawl_ids(world) -> dict[str, int]:
    """A row of each kind a page or form names by its number."""
    from datetime import date

    from django.utils import timezone

    from campaigns.models import SavedView
    from sapmc.models import SuccessSent
    from syncs.models import Notification

    now = timezone.now()
    schedule = Schedule.objects.create(
        name="Khoros plans", func="khoros.tasks.sync_khoros_task", minutes=30,
        schedule_type=Schedule.MINUTES, repeats=-1,
    )  # fmt: skip
    entry = SuccessSent.objects.create(
        plan=world.plans[0], day=date(2026, 3, 2), campaign=world.campaigns[0],
        status=SuccessSent.Status.UNKNOWN, sent_at=now, numbers={}, numbers_hash="x",
    )  # fmt: skip
    event = AuditEvent.objects.create(
        actor=world.admin, actor_name="alex", action=AuditEvent.Action.DRIFT_ADOPT_SAP,
        summary="Adopted", campaign=world.campaigns[0], at=now,
    )  # fmt: skip
    return {
        "campaign": world.campaigns[0].pk,
        "run": SyncRun.objects.create(kind="khoros_plans", status="failed", trigger="button").pk,
        "schedule": schedule.pk,
        "entry": entry.pk,
        "event": event.pk,
        "view": SavedView.objects.create(user=world.maria, name="Mine", query="zoom=year").pk,
        "notification": Notification.objects.create(
            kind="khoros_plans", event=Notification.Event.OUTAGE, text="Khoros plans failing"
        ).pk,
    }


def _hostile_query(params: list[str], index: int, value: str) -> str:
    """Every parameter twice, the hostile value last or first by turns, and unknown names."""
    pairs = [(p, "1", value) if index % 2 else (p, value, "1") for p in params]
    sent = [f"{p}={first}&{p}={last}" for p, first, last in pairs]
    return "&".join([*sent, f"unknown={value}", f"%ED%A0%80={value}"])


@pytest.mark.parametrize("role", ["sync admin", "manager"])
def test_every_page_answers_hostile_query_strings_without_error(
    client, root, world, crawl_ids, role, failures
):
    user = root if role == "sync admin" else world.maria
    client.force_login(user)
    client.raise_request_exception = False
    for template, params in CRAWL_PAGES.items():
        path = template.format(**crawl_ids)
        if role == "manager" and not (path == "/" or path.startswith(MANAGER_PAGES)):
            continue
        allowed = (503,) if path == "/healthz" else ()
        glue = "&" if "?" in path else "?"
        for index, value in enumerate(CRAWL_VALUES):
            url = f"{path}{glue}{_hostile_query(params, index, value)}"
            failures.check(client.get(url), f"GET {url[:120]}", allowed=allowed)
            if path in PARTIAL_PAGES:
                response = client.get(url, HTTP_HX_REQUEST="true")
                failures.check(response, f"htmx GET {url[:120]}", allowed=allowed)


@pytest.mark.parametrize("role", ["sync admin", "manager"])
def test_every_form_answers_hostile_fields_without_error(
    client, root, world, crawl_ids, role, failures
):
    user = root if role == "sync admin" else world.maria
    client.force_login(user)
    client.raise_request_exception = False
    for path, fields in _crawl_forms(crawl_ids).items():
        if role == "manager" and not path.startswith(("/workbench/", "/calendar/")):
            continue
        for index, value in enumerate(CRAWL_VALUES):
            body = _hostile_query(fields, index, value)
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = client.post(
                    path, body, content_type="application/x-www-form-urlencoded", **headers
                )
                failures.check(response, f"{'htmx ' if headers else ''}POST {path} {body[:100]}")


# ---- The Django admin, crawled by a superuser ------------------------------------------------
#
# Every registered ModelAdmin: its change list with hostile lookups (an order by a column that
# is not there, NUL in the search, a filter on any field with a value of another type, a page
# past the last), its add, change, history and delete pages, and hostile POSTs to each (every
# field of the form at once, as the crawl above sends them). Nothing may answer 5xx.

# Beyond CRAWL_VALUES: NUL (PostgreSQL refuses it in text), a number too large for any column.
ADMIN_VALUES = [*CRAWL_VALUES, "a%00b", "%00", HUGE, "9999-12-31", "2026-02-30"]
# For the lookups on each field of a change list (many requests): on every field the values
# that broke a driver or a conversion (a word, a number past 64 bits, a NUL), and one of the
# others in turn, so that each kind still meets fields of every type across a model.
LOOKUP_ALWAYS = ["x", str(10**30), "a%00b"]
LOOKUP_IN_TURN = ["", "%ED%A0%80", "%D9%A3", "-1", "1.5", "2026-02-30"]


def _admin_models() -> list[str]:
    from django.contrib import admin

    return sorted(model._meta.label for model in admin.site._registry)


@pytest.fixture
def admin_rows(world, crawl_ids) -> None:
    """A row of every model the admin lists, so that each change page has one to show."""
    from datetime import date

    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone
    from django_q.models import OrmQ, Task

    from campaigns.models import Assignment
    from khoros.models import Company, KpiExport, PlanKpi
    from sapmc.models import InboundCall, InboundLockout, InboundReport

    now = timezone.now()
    plan, campaign = world.plans[0], world.campaigns[0]
    Assignment.objects.get_or_create(plan=plan, defaults={"campaign": campaign, "assigned_at": now})
    Company.objects.create(khoros_id="389", name="Acme", timezone="Europe/Berlin", last_seen=now)
    PlanKpi.objects.create(plan=plan, day=date(2026, 3, 2), impressions=5, updated_at=now)
    KpiExport.objects.create(
        export_id="e1", start=date(2026, 3, 1), stop=date(2026, 3, 3), timezone="UTC",
        requested_at=now,
    )  # fmt: skip
    InboundReport.objects.create(
        report_id="R" + "a" * 20, from_date=date(2026, 3, 1), to_date=date(2026, 3, 2),
        created_at=now,
    )  # fmt: skip
    InboundCall.objects.create(at=now, method="POST", endpoint="campaign-success", status_code=200)
    InboundLockout.objects.create(ip="192.0.2.1", failures=3, last_failure_at=now)
    for success in (True, False):
        Task.objects.create(
            id=f"task-{success}", name=f"task {success}", func="khoros.tasks.sync_khoros_task",
            started=now, stopped=now, success=success,
        )  # fmt: skip
    OrmQ.objects.create(key="smcbridge", payload="x", lock=now)
    axes = {"user_agent": "ua", "ip_address": "192.0.2.1", "username": "root",
            "http_accept": "*/*", "path_info": "/login/", "attempt_time": now}  # fmt: skip
    AccessAttempt.objects.create(**axes, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**axes)
    AccessFailureLog.objects.create(**axes)


def _one_field_of_each_kind(fields: list) -> list:
    """The first field of each class and column type, relations and fields with choices apart.

    A lookup on a field that is no filter of the change list goes to the queryset as it is:
    what it does with a value depends on the field's class and column, not its name. One field
    of each kind meets every value (the filters are crawled each by name); all of them made
    the crawl the slowest test of the suite.
    """
    kinds: dict[tuple, object] = {}
    for field in fields:
        key = (type(field), field.get_internal_type(), bool(field.choices), field.is_relation)
        kinds.setdefault(key if not field.is_relation else (*key, field.name), field)
    return list(kinds.values())


def _changelist_queries(model_admin) -> list[str]:
    """Hostile query strings for one change list: its own filters and search, and generic ones."""
    from django.db import models as db_models

    fields = [f for f in model_admin.model._meta.get_fields() if f.concrete]
    names = [f.name for f in _one_field_of_each_kind(fields)]
    filters = [f if isinstance(f, str) else "unknown_filter" for f in model_admin.list_filter]
    queries = ["o=999", "o=x", "o=1.-2.999", "p=999999", "p=x", f"p={HUGE}", "all=", "e=1",
               "_to_field=password", "_popup=1&_to_field=id", "unknown__field=x",
               "id__gt=x", f"pk__in=x,{HUGE}"]  # fmt: skip
    queries += [f"{key}={value}" for key in ("q", "o", "p") for value in ADMIN_VALUES]
    foreign_keys = [f.name for f in fields if isinstance(f, db_models.ForeignKey)]
    lookups = [
        *[f"{name}=" for name in [*names, *filters]],
        *[f"{name}__gt=" for name in names],
        *[f"{name}__isnull=" for name in filters],
        *[f"{name}__id__exact=" for name in foreign_keys],
    ]
    for turn, lookup in enumerate(lookups):
        values = [*LOOKUP_ALWAYS, LOOKUP_IN_TURN[turn % len(LOOKUP_IN_TURN)]]
        queries += [f"{lookup}{value}" for value in values]
    if hierarchy := model_admin.date_hierarchy:
        queries += [f"{hierarchy}__year=x", f"{hierarchy}__year=2026&{hierarchy}__month=13",
                    f"{hierarchy}__year=99999&{hierarchy}__month=1&{hierarchy}__day=1",
                    f"{hierarchy}__year=2026&{hierarchy}__month=2&{hierarchy}__day=30"]  # fmt: skip
    return queries


def _form_fields(response) -> list[str]:
    """The names of the fields a 200 add or change page posts back."""
    context = getattr(response, "context", None)
    adminform = context.get("adminform") if context is not None else None
    if adminform is None:
        return []
    return list(adminform.form.fields)


@pytest.mark.parametrize("label", _admin_models())
def test_every_admin_page_answers_hostile_input_without_error(
    client, root, admin_rows, label, failures
):
    from django.apps import apps
    from django.contrib import admin
    from django.urls import reverse

    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    client.force_login(root)
    client.raise_request_exception = False
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    changelist = reverse(f"{name}_changelist")

    failures.check(client.get(changelist), f"GET {changelist}")
    for query in _changelist_queries(model_admin):
        failures.check(client.get(f"{changelist}?{query}"), f"GET {changelist}?{query[:80]}")
    for value in ADMIN_VALUES:
        body = f"action=delete_selected&_selected_action={value}&index=0&select_across={value}"
        response = client.post(changelist, body, content_type="application/x-www-form-urlencoded")
        failures.check(response, f"POST {changelist} {body[:80]}")

    add = reverse(f"{name}_add")
    response = client.get(add)
    failures.check(response, f"GET {add}")
    add_fields = _form_fields(response) or ["name"]
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"no {label} row to open"
    pages = {add: add_fields}
    for action in ("change", "history", "delete"):
        path = reverse(f"{name}_{action}", args=[row.pk])
        response = client.get(path)
        failures.check(response, f"GET {path}")
        if action == "change":
            pages[path] = _form_fields(response) or add_fields
        # The three pages read the id in the path alike: every value on one, the worst on all.
        for value in ADMIN_VALUES if action == "change" else LOOKUP_ALWAYS:
            bad = reverse(f"{name}_{action}", args=["0"]).replace("/0/", f"/{value}/")
            failures.check(client.get(bad), f"GET {bad[:80]}")
    for path, fields in pages.items():
        for index, value in enumerate(ADMIN_VALUES):
            body = _hostile_query([*fields, "_save"], index, value)
            response = client.post(path, body, content_type="application/x-www-form-urlencoded")
            failures.check(response, f"POST {path} {body[:100]}")


def test_an_admin_value_the_database_cannot_take_is_a_400_that_changes_nothing(client, root, world):
    from django.contrib.auth.models import Group
    from django.db import connection

    client.force_login(root)
    # What a driver cannot take differs by engine: SQLite's an integer past 64 bits in a filter
    # on a many-to-many (OverflowError), PostgreSQL's a word where an address is stored.
    if connection.vendor == "sqlite":
        response = client.get(f"/admin/auth/user/?groups={2**70}")
    else:
        response = client.get("/admin/axes/accessattempt/?ip_address=word")
    assert response.status_code == 400
    assert "cannot be looked up or stored" in response.content.decode()
    # An empty id in an action's selection: the admin's own pk__in lookup raised ValueError.
    groups = Group.objects.count()
    response = client.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": ["", "1"], "post": "yes"},
    )
    assert response.status_code == 400
    assert Group.objects.count() == groups
    # A NUL in the id of the address (a text key, which PostgreSQL refuses).
    assert client.get("/admin/django_q/success/a%00b/change/").status_code == 400


@pytest.mark.parametrize("role", ["sync admin", "manager"])
def test_every_page_shows_a_campaign_and_a_plan_at_the_calendar_s_ends(
    client, root, world, crawl_ids, role, failures
):
    # SAP's "unlimited" end is 9999-12-31 (and a campaign may start on 0001-01-01): a day after
    # it or before it is no date, so every page that steps past a campaign's or Plan's last day
    # must stop at the calendar's ends rather than fail.
    from datetime import UTC, date, datetime

    from django.utils import timezone

    from campaigns.models import Assignment
    from campaigns.selectors import campaign_kpis
    from khoros.models import PlanKpi

    first, last = date(1, 1, 1), date(9999, 12, 31)
    campaign, plan = world.campaigns[0], world.plans[0]
    type(campaign).objects.filter(pk=campaign.pk).update(start=first, end=last)
    type(plan).objects.filter(pk=plan.pk).update(
        start_day=first, end_day=last, start=datetime(1, 1, 1, 6, tzinfo=UTC),
        end=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    )  # fmt: skip
    Assignment.objects.update_or_create(
        plan=plan, defaults={"campaign": campaign, "assigned_at": timezone.now()}
    )
    # KPIs are counted for days that have passed: a day of year 1 or 9999 has none.
    PlanKpi.objects.create(
        plan=plan, day=date(2026, 3, 1), impressions=7, updated_at=timezone.now()
    )
    client.force_login(root if role == "sync admin" else world.maria)
    client.raise_request_exception = False
    views = [
        f"{zoom}&date={day}"
        for zoom in ("zoom=month", "zoom=quarter", "zoom=year", "zoom=days90")
        for day in ("0001-01-01", "9999-12-31", "2026-03-01")
    ]
    pages = [
        "/", f"/workbench/?campaign={campaign.pk}", f"/workbench/?plans={plan.pk}",
        f"/campaigns/{campaign.pk}/", f"/campaigns/{campaign.pk}/kpis.csv",
        f"/calendar/panel/?panel=c{campaign.pk}", f"/calendar/panel/?panel=p{plan.pk}",
        *(f"/calendar/?{view}" for view in views),
        *(f"/calendar/list/?{view}" for view in views),
        *(f"/calendar/list/?{view}&format=csv" for view in views),
        *(f"/calendar/?{view}&panel=c{campaign.pk}" for view in views[:3]),
    ]  # fmt: skip
    if role == "sync admin":
        pages += ["/audit/", "/syncs/", f"/admin/sapmc/externalcampaign/{campaign.pk}/change/",
                  "/admin/sapmc/externalcampaign/", "/admin/khoros/plan/"]  # fmt: skip
    # The campaign's page drew every day from its start: 740,000 of them, gigabytes and minutes.
    campaign.refresh_from_db()
    kpis = campaign_kpis(campaign=campaign, user=root, today=date(2026, 12, 3))
    assert (kpis.days[0], kpis.days[-1]) == (date(2025, 2, 28), date(2026, 12, 3))
    assert kpis.totals["impressions"] == 7
    for path in pages:
        failures.check(client.get(path), f"GET {path}")
        if path.startswith(PARTIAL_PAGES[1:]):
            failures.check(client.get(path, HTTP_HX_REQUEST="true"), f"htmx GET {path}")
    shown = client.get(f"/campaigns/{campaign.pk}/")
    assert shown.status_code == 200
    assert "9999-12-31" in shown.content.decode()
