"""The Khoros simulator speaks the wire format of docs/khoros-api.md and injects faults."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from simulators.__main__ import build_parser, main
from simulators.faults import FaultError
from simulators.khoros import KhorosSimulator
from simulators.khoros_data import (
    COLUMN_LABELS,
    FIELD_IDS,
    FIELD_NAMES,
    PLAN_FIELD,
    POST_ID_FIELD,
    PUBLISHED_FIELD,
    KhorosData,
    local_midnight_ms,
)
from simulators.server import RunningServer, start_in_thread
from tests.conftest import FakeClock
from tests.http_helpers import Check, Served, html_page

TOKEN = "sim-test-token"
CHICAGO = ZoneInfo("America/Chicago")
# Just after the 2026 US DST switch, so plan boundaries cross 23-hour days.
TODAY = date(2026, 3, 20)
PLACING = [POST_ID_FIELD, PLAN_FIELD, PUBLISHED_FIELD]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Live:
    sim: KhorosSimulator
    data: KhorosData
    server: RunningServer
    clock: FakeClock

    @property
    def url(self) -> str:
        return self.server.base_url

    def get(self, path: str, *, auth: bool = True, **params: Any) -> requests.Response:
        headers = AUTH if auth else {}
        return requests.get(self.url + path, params=params, headers=headers, timeout=5)

    def all_plans(self, initiative_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for number in range(100):
            page = self.get(self.plans_path(initiative_id), pageSize=100, pageNumber=number)
            items += page.json()["data"]
            if len(page.json()["data"]) < 100:
                return items
        raise AssertionError("too many pages")

    def plans_path(self, initiative_id: str | None = None) -> str:
        return f"/v2/conversations/initiative/{initiative_id or self.data.initiatives[0].id}/plan"

    def create_export(
        self, query: dict[str, Any], *, header: str = "true", delimiter: str = ","
    ) -> str:
        response = requests.post(
            f"{self.url}/v2/analytics/export/posts",
            params={"header": header, "delimiter": delimiter},
            json={"query": query},
            headers=AUTH,
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()["export_id"]

    def status(self, export_id: str) -> requests.Response:
        return self.get(f"/v2/analytics/export/{export_id}/status")

    def completed_export(
        self, query: dict[str, Any] | None = None, **kwargs: str
    ) -> dict[str, Any]:
        export_id = self.create_export(query or self.query_for(self.busiest_plan().id), **kwargs)
        for _ in range(10):
            body = self.status(export_id).json()
            if body["status"] == "complete":
                return body
        raise AssertionError("export never completed")

    def busiest_plan(self) -> Any:
        return max(self.data.plans, key=lambda p: len(self.data.posts_for_plan(p.id)))

    def query_for(self, plan_id: str, timezone: str = "America/Chicago") -> dict[str, Any]:
        return {
            "fields": PLACING + list(FIELD_IDS),
            "start": "2025-01-01",
            "stop": "2027-01-01",
            "timezone": timezone,
            "intiatives": [],
            "initiatives": [],
            "content_filter": {"plans": [plan_id]},
        }


@pytest.fixture(scope="module")
def module_live() -> Iterator[Live]:
    # 130 plans in the first initiative so that pageSize clamping (100) shows.
    data = KhorosData.generate(
        seed=3, initiatives=3, plans_per_initiative=130, posts_per_plan=6, today=TODAY
    )
    clock = FakeClock(datetime.now(UTC))
    sim = KhorosSimulator(data, token=TOKEN, clock=clock)
    with start_in_thread(sim) as server:
        yield Live(sim=sim, data=data, server=server, clock=clock)


@pytest.fixture
def live(module_live: Live) -> Live:
    module_live.sim.reset()
    module_live.clock.now = datetime.now(UTC)
    return module_live


def _envelope_error(response: requests.Response) -> dict[str, Any]:
    # Error bodies may be text/plain: parse on content.
    body = json.loads(response.text)
    assert body["status"]["succeeded"] is False
    return body["status"]["error"]


# Wire format -------------------------------------------------------------------------------------


def test_me_lists_the_company_and_whoami_the_time_zone(live: Live) -> None:
    me = live.get("/v2/me").json()
    assert me["status"] == {"succeeded": True}
    assert me["data"]["sfEntityType"] == "User"
    assert me["data"]["companies"] == [
        {"id": "389", "name": "Acme", "environment": "APP3", "directoryId": "24606"}
    ]
    # The introspection spec: a bare object with integer ids, no envelope (issue 8).
    whoami = live.get("/v2/whoami")
    assert whoami.headers["Content-Type"].startswith("application/json")
    bare = whoami.json()
    assert "data" not in bare and "status" not in bare
    assert (bare["id"], bare["timezone"], bare["email"]) == (
        24606,
        "America/Chicago",
        live.data.user_email,
    )
    assert bare["companies"] == [{"id": 389, "name": "Acme", "products": []}]


def test_whoami_enveloped_is_the_old_variant_as_a_fault(live: Live) -> None:
    live.sim.add_fault("whoami", "whoami_enveloped")
    body = live.get("/v2/whoami").json()
    assert body["status"] == {"succeeded": True}
    assert (body["data"]["id"], body["data"]["timezone"]) == ("24606", "America/Chicago")
    assert "data" not in live.get("/v2/whoami").json()  # one call only


def test_initiative_pages_start_at_zero_and_default_to_20(module_live: Live) -> None:
    data = KhorosData.generate(seed=1, initiatives=45, plans_per_initiative=0, today=TODAY)
    with start_in_thread(KhorosSimulator(data, token=TOKEN)) as server:
        url = f"{server.base_url}/v2/conversations/initiative"
        pages = [
            requests.get(url, params={"pageNumber": n}, headers=AUTH, timeout=5).json()
            for n in range(3)
        ]
    assert [len(page["data"]) for page in pages] == [20, 20, 5]
    assert {page["pagination"]["totalItems"] for page in pages} == {45}
    ids = [item["id"] for page in pages for item in page["data"]]
    assert ids == [i.id for i in data.initiatives]
    assert all(isinstance(i, str) and i.isdigit() for i in ids)
    assert {item["sfEntityType"] for page in pages for item in page["data"]} == {"Initiative"}


def test_plan_page_size_is_clamped_silently_to_100(live: Live) -> None:
    first = live.get(live.plans_path(), pageSize=500, pageNumber=0).json()
    second = live.get(live.plans_path(), pageSize=500, pageNumber=1).json()
    assert len(first["data"]) == 100
    assert len(second["data"]) == 30
    assert first["pagination"]["totalItems"] == 130
    expected = [p.id for p in live.data.plans_for_initiative(live.data.initiatives[0].id)]
    assert [p["id"] for p in first["data"] + second["data"]] == expected


def test_name_filter_is_a_case_insensitive_substring(live: Live) -> None:
    body = live.get(live.plans_path(), nameFilter="SPRING sale", pageSize=100).json()
    plans = live.data.plans_for_initiative(live.data.initiatives[0].id)
    expected = [p.name for p in plans if "spring sale" in p.name.lower()]
    assert expected
    assert [p["name"] for p in body["data"]] == expected
    assert body["pagination"]["totalItems"] == len(expected)
    initiatives = live.get("/v2/conversations/initiative", nameFilter="retail").json()
    # The year of its Plans (they run around TODAY), not the year before.
    assert [i["name"] for i in initiatives["data"]] == ["Retail 2026"]


def test_plans_carry_typed_ids_and_local_day_boundaries(live: Live) -> None:
    plan = live.data.plans[0]
    item = live.get(live.plans_path(plan.initiative_id), pageSize=1).json()["data"][0]
    assert item["sfEntityType"] == "Plan"
    assert item["id"] == plan.id and len(item["id"]) == 36
    assert item["campaignId"] == int(plan.initiative_id)
    assert item["companyId"] == 389
    start = datetime.fromtimestamp(item["startDate"] / 1000, CHICAGO)
    end = datetime.fromtimestamp(item["endDate"] / 1000, CHICAGO)
    assert (start.date(), start.time().isoformat()) == (plan.start_date, "00:00:00")
    assert (end.date(), end.time().isoformat()) == (plan.end_date, "23:59:59.999000")


def test_every_seventh_plan_lacks_the_optional_v1_fields(live: Live) -> None:
    items = live.get(live.plans_path(), pageSize=7).json()["data"]
    optional = {
        "color",
        "overview",
        "objective",
        "targetAudience",
        "createdDate",
        "lastModifiedDate",
    }
    assert optional <= set(items[0])
    assert not optional & set(items[6])


def test_plan_dates_surround_today(live: Live) -> None:
    plans = live.data.plans
    assert any(p.end_date < TODAY for p in plans)
    assert any(p.start_date <= TODAY <= p.end_date for p in plans)
    assert any(p.start_date > TODAY for p in plans)
    posts = live.data.posts
    assert posts and max(p.published_at.astimezone(CHICAGO).date() for p in posts) <= TODAY


def test_missing_or_wrong_token_answers_401_unauthenticated(live: Live) -> None:
    missing = live.get("/v2/me", auth=False)
    wrong = requests.get(f"{live.url}/v2/me", headers={"Authorization": "Bearer nope"}, timeout=5)
    for response in (missing, wrong):
        assert response.status_code == 401
        assert _envelope_error(response)["code"] == "UNAUTHENTICATED"
    assert TOKEN not in wrong.text


def test_unknown_initiative_answers_the_404_envelope(live: Live) -> None:
    for path in ("/v2/conversations/initiative/999", "/v2/conversations/initiative/999/plan"):
        response = live.get(path)
        assert response.status_code == 404
        assert _envelope_error(response)["code"] == "NOT_FOUND"
    one = live.get(f"/v2/conversations/initiative/{live.data.initiatives[0].id}").json()
    assert one["data"]["name"] == live.data.initiatives[0].name


def test_fields_lists_the_catalogue_as_a_fault_mode(live: Live) -> None:
    live.sim.add_fault("fields", "fields_catalogue")
    body = live.get("/v2/analytics/export/posts/fields").json()
    assert body["data"] == [{"id": i, "name": n} for i, n in FIELD_NAMES.items()]
    assert body["status"] == {"succeeded": True}


def test_fields_answers_what_the_spec_shows_by_default(live: Live) -> None:
    response = live.get("/v2/analytics/export/posts/fields")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    assert response.content == b"Coming Soon"


# Data helpers ------------------------------------------------------------------------------------


def test_generation_is_deterministic_and_lazy_for_big_sets() -> None:
    # Lazy by design, not by a stopwatch: no post exists until a Plan's posts are asked for.
    big = KhorosData.generate(initiatives=50, plans_per_initiative=200, posts_per_plan=40)
    assert big._posts == {}
    assert len(big.plans) == 10_000
    again = KhorosData.generate(initiatives=50, plans_per_initiative=200, posts_per_plan=40)
    plan = big.plans[1234]
    assert again.plans[1234] == plan
    assert again.posts_for_plan(plan.id) == big.posts_for_plan(plan.id)
    assert list(big._posts) == [plan.id]


def test_daily_totals_sum_the_posts_per_plan_and_local_day(live: Live) -> None:
    plan = live.busiest_plan()
    posts = live.data.posts_for_plan(plan.id)
    totals = live.data.daily_totals("UTC", plan_ids=[plan.id])
    assert sum(day[101] for day in totals.values()) == sum(p.metrics[101] for p in posts)
    for (plan_id, day), metrics in totals.items():
        same_day = [p for p in posts if p.published_at.date() == day]
        assert plan_id == plan.id
        assert metrics == {f: sum(p.metrics[f] for p in same_day) for f in FIELD_IDS}


def test_mutation_helpers_show_on_the_wire_and_reset_restores(live: Live) -> None:
    initiative = live.data.initiatives[1]
    plans = live.data.plans_for_initiative(initiative.id)
    live.sim.rename_plan(plans[0].id, "Renamed")
    live.sim.remove_plan(plans[1].id)
    added = live.sim.add_plan(initiative.id, name="Fresh", start_date=TODAY, end_date=TODAY)
    assert added.end_ms - added.start_ms == 86_400_000 - 1
    served = live.all_plans(initiative.id)
    names = {p["id"]: p["name"] for p in served}
    assert names[plans[0].id] == "Renamed"
    assert plans[1].id not in names
    assert names[added.id] == "Fresh"
    live.sim.remove_initiative(initiative.id)
    assert live.get(f"/v2/conversations/initiative/{initiative.id}").status_code == 404

    assert requests.post(f"{live.url}/_sim/reset", timeout=5).json() == {"reset": True}
    restored = live.all_plans(initiative.id)
    assert [p["name"] for p in restored] == [p.name for p in plans]
    # The caller's KhorosData is never mutated by the simulator.
    assert live.data.plan(plans[1].id) is not None


# Request log and control endpoints -------------------------------------------------------------


def test_the_request_log_keeps_the_query_and_the_json_body(live: Live) -> None:
    live.get(live.plans_path(), pageNumber=2, pageSize=5)
    export_id = live.create_export(live.query_for(live.busiest_plan().id))
    listing, export = live.sim.requests
    assert (listing["route"], listing["query"]) == ("plans", {"pageNumber": "2", "pageSize": "5"})
    assert (listing["path"], listing["body"]) == (live.plans_path(), None)
    assert export["body"]["query"]["content_filter"] == {"plans": [live.busiest_plan().id]}
    assert export_id.isdigit()


def test_a_fault_its_route_does_not_have_is_refused(live: Live) -> None:
    refused = requests.post(
        f"{live.url}/_sim/faults", json={"route": "me", "mode": "csv_bom"}, timeout=5
    )
    assert refused.status_code == 400
    assert "does not apply" in refused.json()["error"]
    with pytest.raises(FaultError, match="does not apply"):
        live.sim.add_fault("me", "empty_page")


def test_modifying_faults_stack_and_wait_behind_a_replacing_one(live: Live) -> None:
    live.sim.add_fault("plans", "http_500")
    live.sim.add_fault("plans", "ids_as_strings")
    live.sim.add_fault("plans", "dates_iso_z")
    assert live.get(live.plans_path()).status_code == 500
    item = live.get(live.plans_path()).json()["data"][0]
    assert isinstance(item["companyId"], str) and item["startDate"].endswith("Z")
    item = live.get(live.plans_path()).json()["data"][0]
    assert isinstance(item["companyId"], int) and isinstance(item["startDate"], int)
    assert [e["faults"] for e in live.sim.requests] == [
        ["http_500"],
        ["ids_as_strings", "dates_iso_z"],
        [],
    ]


# Fault modes: each has its exact wire effect for exactly N calls ----------------------------------


def _json_error(status: int, code: str, content_type: str = "application/json") -> Check:
    def check(response: requests.Response) -> None:
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith(content_type)
        assert _envelope_error(response)["code"] == code

    return check


# The modes every simulator has, with the same wire effect: tests/simulators/test_base.py.
REPLACING_CASES: list[tuple[str, dict[str, Any], Check]] = [
    ("http_500", {}, _json_error(500, "UNKNOWN_ERROR")),
    ("http_503", {"body": "html"}, html_page(503, "Service Unavailable")),
    ("http_504", {"body": "text"}, _json_error(504, "PROXY_GATEWAY_TIMEOUT", "text/plain")),
    ("expired_token", {}, _json_error(401, "UNAUTHENTICATED")),
    ("expired_token", {"lowercase": True, "body": "text"},
     _json_error(401, "unauthenticated", "text/plain")),
    ("developer_inactive", {}, html_page(200, "Developer Inactive")),
    ("developer_inactive", {"status": 401}, html_page(401, "Developer Inactive")),
    ("status_586", {}, html_page(586)),
    ("forbidden_company", {"application": "smcbridge"},
     _json_error(403, "UNAUTHORIZED")),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "params", "check"), REPLACING_CASES)
def test_replacing_fault_hits_exactly_n_calls(
    live: Live, mode: str, params: dict[str, Any], check: Check
) -> None:
    live.sim.add_fault("plans", mode, count=2, **params)
    responses = [live.get(live.plans_path(), pageSize=3) for _ in range(3)]
    check(responses[0])
    check(responses[1])
    assert responses[2].status_code == 200
    assert len(responses[2].json()["data"]) == 3
    assert [e["fault"] for e in live.sim.requests] == [mode, mode, None]


def test_forbidden_company_names_company_and_application(live: Live) -> None:
    live.sim.add_fault("me", "forbidden_company", application="smcbridge")
    message = _envelope_error(live.get("/v2/me"))["message"]
    assert message == "Company 389 does not allow the application smcbridge"


# Paging quirks and payload variants --------------------------------------------------------------


def test_missing_and_wrong_totals(live: Live) -> None:
    live.sim.add_fault("plans", "missing_total")
    missing = live.get(live.plans_path(), pageSize=5).json()
    live.sim.add_fault("plans", "missing_total", keep_object=True)
    empty_object = live.get(live.plans_path(), pageSize=5).json()
    live.sim.add_fault("plans", "wrong_total", value=3)
    wrong = live.get(live.plans_path(), pageSize=5).json()
    normal = live.get(live.plans_path(), pageSize=5).json()
    assert "pagination" not in missing and len(missing["data"]) == 5
    assert empty_object["pagination"] == {}
    assert wrong["pagination"] == {"totalItems": 3}
    assert normal["pagination"] == {"totalItems": 130}


def test_page_skipped_serves_the_next_page_mid_list(live: Live) -> None:
    live.sim.add_fault("plans", "page_skipped", count=None)
    ids = [p.id for p in live.data.plans_for_initiative(live.data.initiatives[0].id)]
    pages = [
        [p["id"] for p in live.get(live.plans_path(), pageSize=2, pageNumber=n).json()["data"]]
        for n in (0, 1)
    ]
    assert pages == [ids[0:2], ids[4:6]]


def test_empty_page_mid_list_then_normal(live: Live) -> None:
    live.sim.add_fault("initiatives", "empty_page")
    page0 = live.get("/v2/conversations/initiative", pageSize=1, pageNumber=0).json()
    page1 = live.get("/v2/conversations/initiative", pageSize=1, pageNumber=1).json()
    again = live.get("/v2/conversations/initiative", pageSize=1, pageNumber=1).json()
    assert len(page0["data"]) == 1
    assert page1["data"] == [] and page1["pagination"]["totalItems"] == 3
    assert [i["id"] for i in again["data"]] == [live.data.initiatives[1].id]


def test_duplicates_repeat_the_last_item_of_the_previous_page(live: Live) -> None:
    live.sim.add_fault("plans", "duplicates", page=2)
    pages = [
        live.get(live.plans_path(), pageSize=10, pageNumber=n).json()["data"] for n in range(4)
    ]
    assert pages[2][0]["id"] == pages[1][-1]["id"]
    ids = [p["id"] for page in pages for p in page]
    expected = [p.id for p in live.data.plans_for_initiative(live.data.initiatives[0].id)[:40]]
    assert len(ids) == 41 and list(dict.fromkeys(ids)) == expected


def test_duplicates_shift_style_slides_the_page_and_bumps_the_total(live: Live) -> None:
    live.sim.add_fault("plans", "duplicates", style="shift")
    page0 = live.get(live.plans_path(), pageSize=10, pageNumber=0).json()
    page1 = live.get(live.plans_path(), pageSize=10, pageNumber=1).json()
    assert len(page1["data"]) == 10 and page1["pagination"]["totalItems"] == 131
    assert page1["data"][0]["id"] == page0["data"][-1]["id"]


def test_date_variants_are_the_same_instants(live: Live) -> None:
    plan = live.data.plans[0]
    live.sim.add_fault("plans", "dates_iso_z")
    as_z = live.get(live.plans_path(), pageSize=1).json()["data"][0]
    live.sim.add_fault("plans", "dates_iso_offset")
    as_offset = live.get(live.plans_path(), pageSize=1).json()["data"][0]
    assert as_z["startDate"].endswith("Z") and "+" not in as_z["startDate"]
    assert as_offset["endDate"][-5:] in ("-0500", "-0600")
    z_start = datetime.fromisoformat(as_z["startDate"].replace("Z", "+00:00"))
    offset_end = datetime.strptime(as_offset["endDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert int(z_start.timestamp() * 1000) == plan.start_ms
    assert round(offset_end.timestamp() * 1000) == plan.end_ms


def test_id_type_variants_and_extra_fields(live: Live) -> None:
    live.sim.add_fault("initiatives", "ids_as_numbers")
    live.sim.add_fault("initiatives", "extra_fields")
    live.sim.add_fault("plans", "ids_as_strings")
    initiative = live.get("/v2/conversations/initiative", pageSize=1).json()["data"][0]
    plan = live.get(live.plans_path(), pageSize=1).json()["data"][0]
    assert initiative["id"] == int(live.data.initiatives[0].id)
    assert {"sfLegacyId", "tags", "permissions"} <= set(initiative)
    assert plan["campaignId"] == live.data.initiatives[0].id and plan["companyId"] == "389"
    normal = live.get("/v2/conversations/initiative", pageSize=1).json()["data"][0]
    assert normal == {
        "sfEntityType": "Initiative",
        "id": live.data.initiatives[0].id,
        "name": live.data.initiatives[0].name,
        "description": live.data.initiatives[0].description,
    }


# Analytics export --------------------------------------------------------------------------------


def _rows(csv_text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_text), delimiter=delimiter))


def test_export_goes_pending_running_complete(live: Live) -> None:
    export_id = live.create_export(live.query_for(live.busiest_plan().id))
    assert isinstance(export_id, str) and export_id.isdigit()
    bodies = [live.status(export_id).json() for _ in range(3)]
    assert [b["status"] for b in bodies] == ["pending", "running", "complete"]
    assert bodies[0] == {"export_id": int(export_id), "status": "pending"}
    assert bodies[2]["url"].startswith(f"{live.url}/downloads/")
    expires = datetime.strptime(bodies[2]["expires"], "%Y-%m-%dT%H:%M:%S.%f")
    assert len(bodies[2]["expires"]) == len("2026-11-02T16:58:16.478")
    # Local wall time of the export's zone, as in the spec's example (issue 8), not UTC.
    (export,) = live.sim.exports()
    assert export.timezone == "America/Chicago" and export.expires is not None
    local = expires.replace(tzinfo=ZoneInfo(export.timezone))
    assert timedelta(0) <= export.expires - local < timedelta(milliseconds=1)
    assert local > datetime.now(UTC)
    body = live.sim.requests[0]["body"]
    assert body["query"]["intiatives"] == [] and body["query"]["content_filter"]["plans"]


def test_export_csv_sums_to_the_daily_totals_of_the_plan(live: Live) -> None:
    plan = live.busiest_plan()
    for timezone in ("America/Chicago", "Asia/Tokyo"):
        link = live.completed_export(live.query_for(plan.id, timezone))
        response = requests.get(link["url"], timeout=5)
        assert response.status_code == 200
        # The spec: the requested fields as columns, in the requested order.
        reader = csv.reader(io.StringIO(response.text))
        assert next(reader) == [COLUMN_LABELS[f] for f in PLACING + list(FIELD_IDS)]
        rows = list(reader)
        sums: dict[tuple[str, date], dict[int, int]] = {}
        for _post, plan_id, published_text, *metrics in rows:
            published = datetime.fromisoformat(published_text)
            assert published.utcoffset() == published.astimezone(ZoneInfo(timezone)).utcoffset()
            day = sums.setdefault((plan_id, published.date()), dict.fromkeys(FIELD_IDS, 0))
            for field_id, value in zip(FIELD_IDS, metrics, strict=True):
                day[field_id] += int(value)
        assert sums == live.data.daily_totals(timezone, plan_ids=[plan.id])
        assert len(rows) == len(live.data.posts_for_plan(plan.id))


def test_export_filters_by_date_range_initiative_and_delimiter(live: Live) -> None:
    initiative = live.data.initiatives[2]
    query = {
        "fields": [POST_ID_FIELD, 102],
        "start": (TODAY - timedelta(days=10)).isoformat(),
        "stop": TODAY.isoformat(),
        "timezone": "America/Chicago",
        "intiatives": [int(initiative.id)],
    }
    link = live.completed_export(query, header="false", delimiter=";")
    text = requests.get(link["url"], timeout=5).text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    expected = [
        p.post_id
        for p in live.data.posts
        if p.initiative_id == initiative.id
        and TODAY - timedelta(days=10) <= p.published_at.astimezone(CHICAGO).date() < TODAY
    ]
    assert rows and sorted(r[0] for r in rows) == sorted(expected)
    assert {len(r) for r in rows} == {2}


def test_download_needs_no_bearer_and_logs_that_none_was_sent(live: Live) -> None:
    link = live.completed_export()
    assert requests.get(link["url"], timeout=5).status_code == 200
    download = live.sim.requests[-1]
    assert (download["route"], download["had_auth_header"]) == ("export_download", False)


def test_download_link_expires_with_an_s3_xml_403(live: Live) -> None:
    link = live.completed_export()
    live.clock.now += timedelta(hours=1, seconds=1)
    response = requests.get(link["url"], timeout=5)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in response.text and "expired" in response.text


def test_link_expired_fault_then_the_link_works(live: Live) -> None:
    link = live.completed_export()
    live.sim.add_fault("export_download", "link_expired")
    first = requests.get(link["url"], timeout=5)
    assert first.status_code == 403 and first.text.startswith("<?xml")
    assert requests.get(link["url"], timeout=5).status_code == 200


def test_link_token_expired_fault_is_s3s_400_then_the_link_works(live: Live) -> None:
    link = live.completed_export()
    live.sim.add_fault("export_download", "link_token_expired")
    first = requests.get(link["url"], timeout=5)
    assert (first.status_code, first.headers["Content-Type"]) == (400, "application/xml")
    assert "<Code>ExpiredToken</Code>" in first.text
    assert requests.get(link["url"], timeout=5).status_code == 200


def test_gone_fault_is_a_404_not_found_envelope_once(live: Live) -> None:
    live.sim.add_fault("plans", "gone")
    first = live.get(live.plans_path(), pageSize=5, pageNumber=0)
    assert first.status_code == 404
    assert first.json()["status"]["error"]["code"] == "NOT_FOUND"
    assert live.get(live.plans_path(), pageSize=5, pageNumber=0).status_code == 200


def test_unknown_export_id_is_400_with_an_empty_object(live: Live) -> None:
    # The spec's example (issue 8): 400, application/json, `{}`.
    for export_id in ("424242", "abc"):
        response = live.status(export_id)
        assert response.status_code == 400 and response.content == b"{}"
        assert response.headers["Content-Type"].startswith("application/json")


def test_unknown_export_id_with_an_empty_body_is_kept_as_a_fault(live: Live) -> None:
    live.sim.add_fault("export_status", "unknown_export_empty")
    response = live.status("424242")
    assert response.status_code == 400 and response.content == b""
    assert live.status("424242").content == b"{}"


def test_a_body_that_is_not_json_is_406_text_plain_as_published(live: Live) -> None:
    response = requests.post(
        f"{live.url}/v2/analytics/export/posts",
        data=b'{"query": {"fields": [101],',
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 406
    assert response.headers["Content-Type"] == "text/plain"
    assert response.json() == {
        "status": {
            "error": {
                "code": "not_acceptable",
                "message": "Unable to parse the json you provided.",
            },
            "succeeded": False,
        }
    }
    assert live.sim.exports() == []


def test_not_acceptable_fault_answers_the_published_406_on_any_route(live: Live) -> None:
    live.sim.add_fault("plans", "not_acceptable")
    response = live.get(f"/v2/conversations/initiative/{live.data.initiatives[0].id}/plan")
    assert response.status_code == 406
    assert response.headers["Content-Type"] == "text/plain"
    assert _envelope_error(response)["code"] == "not_acceptable"


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-01-01", "stop": "2026-02-01"},
        {"fields": ["101"], "start": "2026-01-01", "stop": "2026-02-01"},
        {"fields": [101], "start": "2026-01-01"},
        {"fields": [101], "start": "2026-01-01", "stop": "2026-02-01", "timezone": "Mars/Base"},
        # A folder of the zone data, which ZoneInfo() refuses with an OSError (it answered 500).
        {"fields": [101], "start": "2026-01-01", "stop": "2026-02-01", "timezone": "Europe"},
    ],
)
def test_export_without_integer_fields_or_dates_is_a_validation_error(
    live: Live, query: dict[str, Any]
) -> None:
    response = requests.post(
        f"{live.url}/v2/analytics/export/posts", json={"query": query}, headers=AUTH, timeout=5
    )
    assert response.status_code == 400
    assert _envelope_error(response)["code"] == "VALIDATION_ERROR"


def test_export_stuck_and_failed_hold_the_status(live: Live) -> None:
    export_id = live.create_export(live.query_for(live.busiest_plan().id))
    live.sim.add_fault("export_status", "export_stuck", count=3)
    live.sim.add_fault("export_status", "export_failed", count=1)
    # export_failed wins over export_stuck on the first call; both budgets are spent.
    states = [live.status(export_id).json()["status"] for _ in range(6)]
    assert states == ["failed", "pending", "pending", "pending", "running", "complete"]


def test_csv_variants(live: Live) -> None:
    link = live.completed_export()
    normal = requests.get(link["url"], timeout=5)
    count = len(_rows(normal.text))
    for mode in ("csv_bom", "csv_quoted_newlines", "csv_empty", "csv_bad_row"):
        live.sim.add_fault("export_download", mode)
    variant = requests.get(link["url"], timeout=5).content
    assert variant.startswith(b"\xef\xbb\xbf")
    rows = _rows(variant.decode("utf-8-sig"))
    assert rows == []  # csv_empty: header only
    live.sim.add_fault("export_download", "csv_quoted_newlines")
    live.sim.add_fault("export_download", "csv_bad_row", value="n/a")
    rows = _rows(requests.get(link["url"], timeout=5).text)
    assert len(rows) == count
    assert all("\n" in row["text"] and '"' in row["text"] for row in rows)
    assert [row["Impressions"] for row in rows].count("n/a") == 1
    assert requests.get(link["url"], timeout=5).content == normal.content


# Server and CLI ----------------------------------------------------------------------------------


def test_start_in_thread_context_manager_releases_the_port() -> None:
    with start_in_thread(KhorosSimulator(token=TOKEN)) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{server.base_url}/v2/me", headers=AUTH, timeout=5).ok
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base_url}/v2/me", headers=AUTH, timeout=1)


def test_cli_builds_the_khoros_simulator_and_prints_its_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    served = Served()
    argv = ["khoros", "--port", "8701", "--token", "t", "--initiatives", "2", "--seed", "9"]
    assert main(argv, serve=served) == 0
    assert isinstance(served.app, KhorosSimulator)
    assert served.app.token == "t" and len(served.app.data.initiatives) == 2
    assert (served.host, served.port) == ("127.0.0.1", 8701)
    assert capsys.readouterr().out.splitlines() == [
        "Khoros simulator listening on http://127.0.0.1:8701 "
        "(KHOROS_BASE_URL=http://127.0.0.1:8701/v2)"
    ]
    assert build_parser().parse_args(["khoros"]).posts_per_plan == 20


def test_local_midnight_follows_dst() -> None:
    # 2026-03-08 is the spring-forward day in Chicago: a 23-hour local day.
    day = date(2026, 3, 8)
    assert (
        local_midnight_ms(day + timedelta(days=1), CHICAGO) - local_midnight_ms(day, CHICAGO)
        == 23 * 3_600_000
    )


def test_download_faults_that_a_200_cannot_show(live: Live) -> None:
    link = live.completed_export()
    normal = requests.get(link["url"], timeout=5)
    assert normal.headers["ETag"] == f'"{hashlib.md5(normal.content).hexdigest()}"'
    live.sim.add_fault("export_download", "csv_truncated", fraction=0.5, boundary=True)
    cut = requests.get(link["url"], timeout=5)
    # Cut between two rows, with a Content-Length that matches: only the ETag gives it away.
    assert cut.status_code == 200 and cut.content.endswith(b"\r\n")
    assert int(cut.headers["Content-Length"]) == len(cut.content) < len(normal.content)
    assert normal.content.startswith(cut.content) and cut.headers["ETag"] == normal.headers["ETag"]
    live.sim.add_fault("export_download", "etag_multipart")
    assert requests.get(link["url"], timeout=5).headers["ETag"].endswith('-2"')
    live.sim.add_fault("export_download", "csv_gzip")
    stored = requests.get(link["url"], timeout=5, stream=True)
    sent = stored.raw.read(decode_content=False)
    # Stored compressed (S3): the ETag is the gzip's MD5, the CSV inside the same as ever.
    assert stored.headers["Content-Encoding"] == "gzip" and gzip.decompress(sent) == normal.content
    assert stored.headers["ETag"] == f'"{hashlib.md5(sent).hexdigest()}"'
    live.sim.add_fault("export_download", "csv_gzip", encoding=False, etag="plain")
    file = requests.get(link["url"], timeout=5)
    assert "Content-Encoding" not in file.headers
    assert file.headers["Content-Type"] == "application/gzip"
    assert gzip.decompress(file.content) == normal.content
    assert file.headers["ETag"] == normal.headers["ETag"]
    live.sim.add_fault("export_download", "not_csv", body="empty")
    empty = requests.get(link["url"], timeout=5)
    assert (empty.status_code, empty.content) == (200, b"")
    live.sim.add_fault("export_download", "csv_ragged_row", width=1)
    widths = {len(r) for r in csv.reader(io.StringIO(requests.get(link["url"], timeout=5).text))}
    assert widths == {len(PLACING) + len(FIELD_IDS), len(PLACING) + len(FIELD_IDS) + 1}
    live.sim.add_fault("export_download", "csv_epoch_ms")
    rows = list(csv.reader(io.StringIO(requests.get(link["url"], timeout=5).text)))
    assert all(row[2].isdigit() and len(row[2]) == 13 for row in rows[1:])
