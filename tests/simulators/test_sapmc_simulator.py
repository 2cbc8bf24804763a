"""The SAP MC simulator speaks the OData V2 subset of sapmc-api.md part 2 and injects faults."""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from simulators.__main__ import build_parser, main
from simulators.faults import FaultError
from simulators.khoros import KhorosSimulator
from simulators.khoros_data import KhorosData
from simulators.sapmc import SERVICE_PATH, SapmcSimulator, epoch_ms
from simulators.sapmc_data import (
    KHOROS_CATEGORY,
    LIFECYCLE_STATUSES,
    OTHER_CATEGORY,
    Campaign,
    SapmcData,
)
from simulators.server import RunningServer, start_in_thread
from tests.http_helpers import Check, Served, html_page

USER = "sim-user"
PASSWORD = "sim-pass-7d1e-SECRET"
AUTH = (USER, PASSWORD)
TODAY = date(2026, 3, 20)
KHOROS = KhorosData.generate(
    seed=5, initiatives=12, plans_per_initiative=6, posts_per_plan=0, today=TODAY
)
DATA = SapmcData.generate(khoros=KHOROS, campaigns_per_initiative=10, other_category=7, seed=5)
KHOROS_FILTER = f"CampaignCategory eq '{KHOROS_CATEGORY}'"
CONTRACT = Path(__file__).parents[1] / "contracts" / "sapmc" / "API_MKT_CAMPAIGN_SRV.xml"
EDMX = "{http://schemas.microsoft.com/ado/2008/09/edm}"


@dataclass
class Live:
    sim: SapmcSimulator
    server: RunningServer

    @property
    def service(self) -> str:
        return self.server.base_url + SERVICE_PATH

    def get(
        self,
        subpath: str,
        *,
        auth: tuple[str, str] | None = AUTH,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> requests.Response:
        params = {"$format": "json", **params}
        return requests.get(
            f"{self.service}/{subpath}", params=params, auth=auth, headers=headers, timeout=5
        )

    def results(self, subpath: str = "Campaigns", **params: Any) -> list[dict[str, Any]]:
        response = self.get(subpath, **params)
        assert response.status_code == 200, response.text
        return response.json()["d"]["results"]

    def everything(self, subpath: str = "Campaigns", **params: Any) -> list[dict[str, Any]]:
        """Return the results of every page, following the __next links."""
        pages = self.follow(self.get(subpath, **params))
        return [item for page in pages for item in page.json()["d"]["results"]]

    def follow(self, first: requests.Response) -> list[requests.Response]:
        """Return the first answer and every page its __next links lead to."""
        pages = [first]
        while (next_url := pages[-1].json()["d"].get("__next")) is not None:
            pages.append(requests.get(next_url, auth=AUTH, timeout=5))
            assert pages[-1].status_code == 200
            assert len(pages) < 50
        return pages


@pytest.fixture(scope="module")
def module_live() -> Iterator[Live]:
    sim = SapmcSimulator(DATA, user=USER, password=PASSWORD, page_size=50)
    with start_in_thread(sim) as server:
        yield Live(sim=sim, server=server)


@pytest.fixture
def live(module_live: Live) -> Live:
    module_live.sim.reset()
    return module_live


def khoros_campaigns() -> list[Campaign]:
    return DATA.campaigns_of_category(KHOROS_CATEGORY)


def uuids(items: list[dict[str, Any]]) -> list[str]:
    return [item["CampaignUUID"] for item in items]


def odata_error(response: requests.Response) -> str:
    error = response.json()["error"]
    assert set(error) >= {"code", "message"} and error["message"]["lang"] == "en"
    return error["message"]["value"]


# Paging, filter, expand ---------------------------------------------------------------------


def test_pages_carry_at_most_page_size_and_an_absolute_next_keeping_the_query(live: Live) -> None:
    first = live.get(
        "Campaigns",
        **{
            "$filter": KHOROS_FILTER,
            "$expand": "ExternalCampaignReferences",
            "$inlinecount": "allpages",
        },
    )
    pages = live.follow(first)
    assert [len(p.json()["d"]["results"]) for p in pages] == [50, 50, 20]
    assert {p.json()["d"]["__count"] for p in pages} == {"120"}
    next_url = first.json()["d"]["__next"]
    assert next_url.startswith(f"{live.service}/Campaigns?$skiptoken=50&")
    query = parse_qs(urlsplit(next_url).query)
    assert query["$filter"] == [KHOROS_FILTER]
    assert query["$expand"] == ["ExternalCampaignReferences"]
    assert query["$format"] == ["json"]
    items = [item for page in pages for item in page.json()["d"]["results"]]
    assert uuids(items) == [c.uuid for c in khoros_campaigns()]
    assert all("results" in item["ExternalCampaignReferences"] for item in items)


def test_top_and_skip_pick_a_window_that_paging_hands_out_in_pages(live: Live) -> None:
    pages = live.follow(live.get("Campaigns", **{"$top": 70, "$skip": 10}))
    assert [len(p.json()["d"]["results"]) for p in pages] == [50, 20]
    items = [item for page in pages for item in page.json()["d"]["results"]]
    assert uuids(items) == [c.uuid for c in DATA.campaigns[10:80]]
    assert "__count" not in pages[0].json()["d"]
    assert uuids(live.results(**{"$top": 5, "$skip": 125})) == [
        DATA.campaigns[125].uuid,
        DATA.campaigns[126].uuid,
    ]
    assert live.results(**{"$top": 0}) == []


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


FILTER_CASES: list[tuple[str, Callable[[Campaign], bool]]] = [
    (KHOROS_FILTER, lambda c: c.category == KHOROS_CATEGORY),
    ("CampaignCategory eq 'Z02'", lambda c: c.category == OTHER_CATEGORY),
    ("CampaignCategory ne 'Z01'", lambda c: c.category != KHOROS_CATEGORY),
    ("CampaignLifecycleStatus eq '2' and CampaignCategory eq 'Z01'",
     lambda c: c.lifecycle_status == "2" and c.category == KHOROS_CATEGORY),
    ("(CampaignStartDate ge datetime'2026-03-01T00:00:00') and "
     "(CampaignEndDate lt datetime'2026-05-01T00:00')",
     lambda c: c.start_date is not None and c.end_date is not None
     and c.start_date >= date(2026, 3, 1) and c.end_date < date(2026, 5, 1)),
    ("CampaignStartDate le datetime'2026-03-20T00:00:00' and "
     "CampaignEndDate gt datetime'2026-03-20T00:00:00.0000000'",
     lambda c: c.start_date <= TODAY < c.end_date),  # type: ignore[operator]
    ("CampaignStartDate eq datetime'" + f"{DATA.campaigns[3].start_date}T00:00:00'",
     lambda c: c.start_date == DATA.campaigns[3].start_date),
    ("LastChangeDateTime ge datetimeoffset'2026-02-01T00:00:00Z'",
     lambda c: c.changed >= datetime(2026, 2, 1, tzinfo=UTC)),
    (f"CampaignUUID eq guid'{DATA.campaigns[7].uuid.upper()}'",
     lambda c: c.uuid == DATA.campaigns[7].uuid),
    ("CampaignCategory eq 'O''Brien'", lambda c: False),
    # Since issue 8 (spec-true: OData V2 has them): or, not, string functions, CampaignName.
    ("CampaignCategory eq 'Z02' or CampaignLifecycleStatus eq '1'",
     lambda c: c.category == OTHER_CATEGORY or c.lifecycle_status == "1"),
    ("not CampaignCategory eq 'Z01'", lambda c: c.category != KHOROS_CATEGORY),
    ("not (CampaignCategory eq 'Z01' and CampaignLifecycleStatus eq '2') and "
     "(MediaType eq 'EMAIL' or CampaignLifecycleStatus eq '4')",
     lambda c: not (c.category == KHOROS_CATEGORY and c.lifecycle_status == "2")
     and (c.media_type == "EMAIL" or c.lifecycle_status == "4")),
    ("substringof('Launch', CampaignName) eq true", lambda c: "Launch" in c.name),
    ("substringof('Launch', CampaignName)", lambda c: "Launch" in c.name),
    ("substringof('Launch', CampaignName) eq false", lambda c: "Launch" not in c.name),
    ("startswith(CampaignName, 'Newsletter') eq true", lambda c: c.name.startswith("Newsletter")),
    ("endswith(CampaignName, '1')", lambda c: c.name.endswith("1")),
    ("substringof('launch', tolower(CampaignName))", lambda c: "launch" in c.name.lower()),
    ("length(CampaignID) eq 7 and toupper(MarketingArea) eq 'CXXUS'",
     lambda c: len(c.campaign_id) == 7 and c.marketing_area == "CXXUS"),
    (f"CampaignName eq '{DATA.campaigns[2].name.replace(chr(39), chr(39) * 2)}'",
     lambda c: c.name == DATA.campaigns[2].name),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "expected"), FILTER_CASES)
def test_filter_supports_odata_v2_expressions(
    live: Live, expression: str, expected: Callable[[Campaign], bool]
) -> None:
    wanted = [c.uuid for c in DATA.campaigns if expected(c)]
    assert uuids(live.everything(**{"$filter": expression})) == wanted
    assert 0 < len(wanted) < len(DATA.campaigns) or expression.endswith("'O''Brien'")


@pytest.mark.parametrize(
    "expression",
    [
        "CampaignDescription eq 'Brand'",  # sap:filterable="false" in SAP's EDMX
        "substringof('Brand')",
        "substringof('Brand', CampaignName) lt true",
        "startswith(CampaignStartDate, 'x')",
        "length(CampaignName) eq 'x'",
        "CampaignCategory eq 'Z01' or",
        "not",
        "CampaignName",
        "tolower(CampaignName)",
        "Campaigns eq 'x'",
        "CampaignStartDate ge '2026-01-01'",
        "CampaignStartDate ge datetime'2026-01-01'",
        "CampaignCategory eq",
        "CampaignCategory eq 'Z01')",
        "(CampaignCategory eq 'Z01'",
        "CampaignCategory lt 5",
        "CampaignCategory eq 'Z01",
        "LastChangeDateTime ge datetimeoffset'2026-02-01T00:00:00'",
        "CampaignUUID eq guid'nope'",
        "CampaignCategory ~ 'Z01'",
    ],
)
def test_unsupported_filters_answer_an_odata_400(live: Live, expression: str) -> None:
    response = live.get("Campaigns", **{"$filter": expression})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert odata_error(response)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"$top": "-1"}, 400),
        ({"$skip": "x"}, 400),
        ({"$skiptoken": "1e3"}, 400),
        ({"$orderby": "Owner"}, 400),
        ({"$orderby": "CampaignName upwards"}, 400),
        ({"$select": "CampaignUUID,Owner"}, 400),
        ({"$expand": "CampaignAssignedTeamMembers"}, 400),
        ({"$expand": "Owner"}, 400),
        ({"$inlinecount": "some"}, 400),
        ({"$format": "xml"}, 400),
    ],
)
def test_bad_query_options_answer_an_odata_400(
    live: Live, params: dict[str, str], status: int
) -> None:
    response = live.get("Campaigns", **params)
    assert response.status_code == status and odata_error(response)


def test_json_is_served_for_format_json_or_accept_json_only(live: Live) -> None:
    url = f"{live.service}/Campaigns"
    bare = requests.get(url, auth=AUTH, headers={"Accept": "*/*"}, timeout=5)
    assert bare.status_code == 406
    accepted = requests.get(url, auth=AUTH, headers={"Accept": "application/json"}, timeout=5)
    assert accepted.status_code == 200 and len(accepted.json()["d"]["results"]) == 50


def test_references_are_inline_with_expand_and_deferred_without(live: Live) -> None:
    linked = next(c for c in DATA.campaigns if c.references)
    subpath = f"Campaigns(guid'{linked.uuid}')"
    expanded = live.get(subpath, **{"$expand": "ExternalCampaignReferences"}).json()["d"]
    references = expanded["ExternalCampaignReferences"]["results"]
    assert [r["ExternalCampaignID"] for r in references] == [
        r.external_campaign_id for r in linked.references
    ]
    deferred = live.get(subpath).json()["d"]["ExternalCampaignReferences"]
    assert deferred == {
        "__deferred": {"uri": f"{live.service}/{subpath}/ExternalCampaignReferences"}
    }


def test_every_entity_carries_its_metadata(live: Live) -> None:
    item = live.results(
        **{"$top": 1, "$expand": "ExternalCampaignReferences", "$filter": KHOROS_FILTER}
    )[0]
    uri = f"{live.service}/Campaigns(guid'{item['CampaignUUID']}')"
    assert item["__metadata"] == {"id": uri, "uri": uri, "type": "API_MKT_CAMPAIGN_SRV.Campaign"}
    reference = live.results("ExternalCampaignReferences", **{"$top": 1})[0]
    key = reference["ExternalCampaignUUID"]
    assert reference["__metadata"] == {
        "id": f"{live.service}/ExternalCampaignReferences(guid'{key}')",
        "uri": f"{live.service}/ExternalCampaignReferences(guid'{key}')",
        "type": "API_MKT_CAMPAIGN_SRV.ExternalCampaignReferenceEntityType",
    }


def test_dates_are_utc_midnights_and_instants_with_a_zero_offset(live: Live) -> None:
    response = live.get("Campaigns", **{"$top": 3})
    # SAP escapes the slashes of its date literals.
    assert '"\\/Date(' in response.text
    for item, campaign in zip(response.json()["d"]["results"], DATA.campaigns[:3], strict=True):
        start = _midnight(campaign.start_date)
        assert start is not None
        assert item["CampaignStartDate"] == f"/Date({epoch_ms(start)})/"
        assert item["CreationDateTime"] == f"/Date({epoch_ms(campaign.created)}+0000)/"
        assert item["LastChangeDateTime"] == f"/Date({epoch_ms(campaign.changed)}+0000)/"
        assert epoch_ms(start) % 86_400_000 == 0
        assert item["CampaignLifecycleStatusName"] == LIFECYCLE_STATUSES[campaign.lifecycle_status]


def test_single_campaign_its_references_and_the_reference_set(live: Live) -> None:
    linked = [c for c in DATA.campaigns if c.references]
    campaign = linked[1]
    single = live.get(f"Campaigns(guid'{campaign.uuid.upper()}')").json()["d"]
    assert single["CampaignUUID"] == campaign.uuid and single["CampaignName"] == campaign.name
    keyed = live.get(f"Campaigns(CampaignUUID=guid'{campaign.uuid}')")
    assert keyed.json()["d"]["CampaignID"] == campaign.campaign_id
    navigation = live.results(f"Campaigns(guid'{campaign.uuid}')/ExternalCampaignReferences")
    assert [r["ExternalCampaignUUID"] for r in navigation] == [
        r.external_campaign_uuid for r in campaign.references
    ]
    every = live.results("ExternalCampaignReferences", **{"$inlinecount": "allpages"})
    assert len(every) == len(DATA.references) < 50
    one = every[0]["ExternalCampaignUUID"]
    assert live.get(f"ExternalCampaignReferences(guid'{one}')").json()["d"] == every[0]
    filtered = live.results(
        "ExternalCampaignReferences", **{"$filter": f"CampaignUUID eq guid'{campaign.uuid}'"}
    )
    assert filtered == navigation


def test_unknown_or_malformed_keys_and_paths(live: Live) -> None:
    unknown = uuid.UUID(int=1)
    response = live.get(f"Campaigns(guid'{unknown}')")
    assert response.status_code == 404 and "Campaign" in odata_error(response)
    assert live.get(f"Campaigns(guid'{unknown}')/ExternalCampaignReferences").status_code == 404
    assert live.get(f"ExternalCampaignReferences(guid'{unknown}')").status_code == 404
    assert live.get("Campaigns(guid'not-a-guid')").status_code == 400
    assert live.get(f"Campaigns(guid'{DATA.campaigns[0].uuid}')", **{"$top": 1}).status_code == 400
    assert live.get("Campaignz").status_code == 404
    outside = requests.get(
        f"{live.server.base_url}/sap/opu/odata/sap/OTHER_SRV/", auth=AUTH, timeout=5
    )
    assert outside.status_code == 404 and outside.headers["Content-Type"].startswith("text/html")


def test_service_document_lists_every_entity_set_of_the_edmx(live: Live) -> None:
    sets = [
        e.get("Name") for e in ET.parse(CONTRACT).getroot().iter(f"{EDMX}EntitySet")
    ]  # fmt: skip
    assert len(sets) == 11 and {"Campaigns", "ExternalCampaignReferences"} <= set(sets)
    assert live.get("").json() == {"d": {"EntitySets": sets}}
    atom = requests.get(f"{live.service}/", auth=AUTH, timeout=5)
    assert atom.status_code == 200 and atom.headers["Content-Type"].startswith("application/xml")
    hrefs = [
        c.get("href")
        for c in ET.fromstring(atom.content).iter("{http://www.w3.org/2007/app}collection")
    ]
    assert hrefs == sets
    # Declared but not simulated: an SAP Gateway error, not a made-up empty list.
    refused = live.get("AssignedTargetGroups")
    assert refused.status_code == 501 and "AssignedTargetGroups" in odata_error(refused)


def _edmx_types(root: ET.Element) -> dict[str, dict[str, Any]]:
    """Entity types by name: properties with every facet, keys and navigation names."""
    types: dict[str, dict[str, Any]] = {}
    for node in root.iter(f"{EDMX}EntityType"):
        types[node.get("Name") or ""] = {
            "properties": [
                (
                    p.get("Name"),
                    p.get("Type"),
                    p.get("MaxLength"),
                    p.get("Nullable", "true"),
                    p.get("Precision"),
                )
                for p in node.findall(f"{EDMX}Property")
            ],  # fmt: skip
            "keys": [r.get("Name") for r in node.iter(f"{EDMX}PropertyRef")],
            "navigation": [
                (n.get("Name"), n.get("Relationship"), n.get("FromRole"), n.get("ToRole"))
                for n in node.findall(f"{EDMX}NavigationProperty")
            ],
        }
    return types


def test_metadata_matches_sap_s_edmx_for_every_entity_type(live: Live) -> None:
    response = live.get("$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    served = ET.fromstring(response.content)
    schema = served.find(f".//{EDMX}Schema")
    assert schema is not None and schema.get("Namespace") == "API_MKT_CAMPAIGN_SRV"
    contract = _edmx_types(ET.parse(CONTRACT).getroot())
    types = _edmx_types(served)
    assert types == contract
    campaign = {p[0]: p[1:] for p in types["Campaign"]["properties"]}
    assert campaign["CampaignID"] == ("Edm.String", "10", "false", None)
    assert campaign["CampaignCategory"] == ("Edm.String", "3", "true", None)
    assert campaign["CampaignStartDate"] == ("Edm.DateTime", None, "true", "0")
    assert types["Campaign"]["keys"] == ["CampaignUUID"]
    assert "ExternalCampaignReferences" in [n[0] for n in types["Campaign"]["navigation"]]
    reference = types["ExternalCampaignReferenceEntityType"]
    assert reference["keys"] == ["ExternalCampaignUUID"]
    assert {p[0]: p[2] for p in reference["properties"]} == {
        "ExternalCampaignUUID": None, "ExternalCampaignID": "32", "CampaignUUID": None,
        "ExternalCampaignName": "255", "ExternalCampaignURL": "1000", "Advertiser": "32",
        "AdvertiserName": "255", "ExternalCmpgnManagingParty": "32",
        "ExternalCmpgnManagingPartyName": "255",
    }  # fmt: skip
    # No date-only annotation: a start or end date is an instant, not a calendar day.
    for node in served.iter(f"{EDMX}Property"):
        assert node.get("{http://www.sap.com/Protocols/SAPData}display-format") != "Date"


def _check_wire_value(value: Any, edm: str, max_length: str | None, nullable: str) -> None:
    if value is None:
        assert nullable == "true"
    elif edm == "Edm.String":
        assert isinstance(value, str) and (max_length is None or len(value) <= int(max_length))
    elif edm == "Edm.Guid":
        assert str(uuid.UUID(value)) == value
    elif edm == "Edm.DateTime":
        assert re.fullmatch(r"/Date\(-?\d+\)/", value)
    elif edm == "Edm.DateTimeOffset":
        assert re.fullmatch(r"/Date\(-?\d+\+0000\)/", value)
    else:
        raise AssertionError(f"unexpected type {edm}")


def test_payloads_carry_every_property_of_the_edmx_within_its_facets(live: Live) -> None:
    contract = _edmx_types(ET.parse(CONTRACT).getroot())
    campaign_props = contract["Campaign"]["properties"]
    reference_props = contract["ExternalCampaignReferenceEntityType"]["properties"]
    campaigns = live.everything(**{"$expand": "ExternalCampaignReferences"})
    assert len(campaigns) == len(DATA.campaigns)
    navigation = {n[0] for n in contract["Campaign"]["navigation"]}
    references = 0
    for item in campaigns:
        assert set(item) == {"__metadata"} | {p[0] for p in campaign_props} | navigation
        for name, edm, max_length, nullable, _ in campaign_props:
            _check_wire_value(item[name], edm, max_length, nullable)
        for reference in item["ExternalCampaignReferences"]["results"]:
            references += 1
            assert set(reference) == {"__metadata"} | {p[0] for p in reference_props}
            for name, edm, max_length, nullable, _ in reference_props:
                _check_wire_value(reference[name], edm, max_length, nullable)
        deferred = navigation - {"ExternalCampaignReferences"}
        assert all(set(item[n]) == {"__deferred"} for n in deferred)
    assert references == len(DATA.references) > 0
    assert {c["CampaignCategory"] for c in campaigns} == {KHOROS_CATEGORY, OTHER_CATEGORY}
    assert all(len(c["CampaignCategory"]) <= 3 for c in campaigns)
    first = campaigns[0]
    assert first["CampaignOwnerName"] and first["MarketingAreaName"] and first["MediaTypeName"]


# Auth and CSRF ------------------------------------------------------------------------------


def test_basic_auth_is_required_and_refused_like_sap(live: Live) -> None:
    for auth in (None, (USER, "wrong"), ("someone", PASSWORD)):
        response = live.get("Campaigns", auth=auth)
        assert response.status_code == 401
        assert (
            response.headers["WWW-Authenticate"] == 'Basic realm="SAP NetWeaver Application Server"'
        )
        assert response.headers["Content-Type"].startswith("text/html")
    bearer = live.get("Campaigns", auth=None, headers={"Authorization": "Bearer x"})
    assert bearer.status_code == 401
    garbage = live.get("Campaigns", auth=None, headers={"Authorization": "Basic %%%"})
    assert garbage.status_code == 401
    log = live.sim.requests
    assert [e["user"] for e in log] == [None, USER, "someone", None, None]
    assert PASSWORD not in json.dumps(log)


def test_csrf_fetch_hands_out_the_token_that_writes_need(live: Live) -> None:
    fetched = live.get("", headers={"X-CSRF-Token": "Fetch"})
    token = fetched.headers["X-CSRF-Token"]
    assert token == live.sim.csrf_token
    assert "X-CSRF-Token" not in live.get("").headers
    assert live.get("Campaigns", headers={"X-CSRF-Token": "fetch"}).headers["X-CSRF-Token"] == token
    url = f"{live.service}/Campaigns"
    refused = requests.post(url, auth=AUTH, json={}, timeout=5)
    assert refused.status_code == 403 and refused.headers["X-CSRF-Token"] == "Required"
    # The token is bound to the SAP session its fetch opened (SAP Gateway's behaviour): without
    # that session's cookie it is refused; with it the write passes the check.
    alone = requests.post(url, auth=AUTH, json={}, headers={"X-CSRF-Token": token}, timeout=5)
    assert alone.status_code == 403 and alone.text == "CSRF token validation failed"
    session_cookie = fetched.cookies["SAP_SESSIONID_SIM_100"]
    accepted = requests.post(
        url,
        auth=AUTH,
        json={},
        headers={"X-CSRF-Token": token},
        cookies={"SAP_SESSIONID_SIM_100": session_cookie},
        timeout=5,
    )
    assert accepted.status_code == 501
    assert [e["csrf_fetch"] for e in live.sim.requests] == [True, False, True, False, False, False]


# Faults -------------------------------------------------------------------------------------


def _odata_status(status: int, content_type: str = "application/json") -> Check:
    def check(response: requests.Response) -> None:
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith(content_type)
        assert json.loads(response.text)["error"]["message"]["value"]

    return check


def _unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


# The modes every simulator has, with the same wire effect: tests/simulators/test_base.py.
REPLACING_CASES: list[tuple[str, dict[str, Any], Check]] = [
    ("unauthorized", {}, _unauthorized),
    ("forbidden", {}, _odata_status(403)),
    ("login_page", {}, html_page(200, "SAMLRequest")),
    ("http_500", {}, _odata_status(500)),
    ("http_503", {"body": "html"}, html_page(503, "SAP Web Dispatcher")),
    ("http_504", {"body": "text"}, _odata_status(504, "text/plain")),
]


@pytest.mark.parametrize(("mode", "params", "check"), REPLACING_CASES)
def test_replacing_fault_hits_exactly_n_calls(
    live: Live, mode: str, params: dict[str, Any], check: Check
) -> None:
    live.sim.add_fault("campaigns", mode, count=2, **params)
    responses = [live.get("Campaigns", **{"$top": 3}) for _ in range(3)]
    check(responses[0])
    check(responses[1])
    assert responses[2].status_code == 200 and len(responses[2].json()["d"]["results"]) == 3
    assert [e["fault"] for e in live.sim.requests] == [mode, mode, None]


def test_faults_apply_per_route(live: Live) -> None:
    live.sim.add_fault("campaign", "http_503")
    live.sim.add_fault("metadata", "http_500", body="empty")
    live.sim.add_fault("references", "unauthorized")
    assert live.get("Campaigns", **{"$top": 1}).status_code == 200
    assert live.get(f"Campaigns(guid'{DATA.campaigns[0].uuid}')").status_code == 503
    assert live.get("$metadata").status_code == 500
    assert live.get("ExternalCampaignReferences").status_code == 401
    assert live.sim.faults == []


def _first_and_next(live: Live, **params: Any) -> tuple[requests.Response, dict[str, Any]]:
    response = live.get(
        "Campaigns", **{"$filter": KHOROS_FILTER, "$inlinecount": "allpages"}, **params
    )
    assert response.status_code == 200
    return response, response.json()["d"]


def test_next_loop_points_back_at_the_same_page(live: Live) -> None:
    live.sim.add_fault("campaigns", "next_loop")
    response, feed = _first_and_next(live)
    assert feed["__next"] == response.url
    again = requests.get(feed["__next"], auth=AUTH, timeout=5).json()["d"]
    assert uuids(again["results"]) == uuids(feed["results"])
    assert "$skiptoken=50" in again["__next"]  # the fault was for one call only


def test_next_link_variants(live: Live) -> None:
    live.sim.add_fault("campaigns", "next_foreign_host", host="sapmc.attacker.example:8702")
    foreign = _first_and_next(live)[1]["__next"]
    assert urlsplit(foreign).netloc == "sapmc.attacker.example:8702"
    assert "$skiptoken=50" in foreign
    live.sim.add_fault("campaigns", "next_relative")
    relative = _first_and_next(live)[1]["__next"]
    assert relative.startswith("Campaigns?$skiptoken=50&")
    live.sim.add_fault("campaigns", "missing_next")
    live.sim.add_fault("campaigns", "missing_count")
    feed = _first_and_next(live)[1]
    assert "__next" not in feed and "__count" not in feed and len(feed["results"]) == 50


def test_faults_bound_to_a_page_wait_for_it(live: Live) -> None:
    live.sim.add_fault("campaigns", "missing_next", page=1)
    first = _first_and_next(live)[1]
    assert "__next" in first
    second = requests.get(first["__next"], auth=AUTH, timeout=5).json()["d"]
    assert "__next" not in second and len(second["results"]) == 50
    assert [e["fault"] for e in live.sim.requests] == [None, "missing_next"]


def test_duplicates_repeat_the_last_item_of_the_previous_page(live: Live) -> None:
    live.sim.add_fault("campaigns", "duplicates")
    first = _first_and_next(live)[1]
    second = requests.get(first["__next"], auth=AUTH, timeout=5).json()["d"]["results"]
    assert second[0]["CampaignUUID"] == first["results"][-1]["CampaignUUID"]
    assert len(second) == 51


def test_empty_page_keeps_its_links_and_count(live: Live) -> None:
    live.sim.add_fault("campaigns", "empty_page")
    first = _first_and_next(live)[1]
    second = requests.get(first["__next"], auth=AUTH, timeout=5).json()["d"]
    assert second["results"] == [] and "$skiptoken=100" in second["__next"]
    assert second["__count"] == "120" and len(first["results"]) == 50


def test_next_on_full_page_links_a_full_last_page_to_an_empty_one(live: Live) -> None:
    # 120 Khoros campaigns in windows of 100: the first window's second page (50) is full.
    live.sim.add_fault("campaigns", "next_on_full_page", count=None)
    params = {"$filter": KHOROS_FILTER, "$inlinecount": "allpages", "$top": 100}
    pages = [p.json()["d"] for p in live.follow(live.get("Campaigns", **params))]
    assert [len(p["results"]) for p in pages] == [50, 50, 0]
    assert "$skiptoken=100" in pages[1]["__next"]
    assert "__next" not in pages[2] and pages[2]["__count"] == "120"
    rest = [p.json()["d"] for p in live.follow(live.get("Campaigns", **params, **{"$skip": 100}))]
    assert [len(p["results"]) for p in rest] == [20]  # a page not full ends the window
    assert "__next" not in rest[0]


def test_next_drops_filter_lists_every_category_after_it(live: Live) -> None:
    live.sim.add_fault("campaigns", "next_drops_filter")
    first = _first_and_next(live)[1]
    assert "$skiptoken=50" in first["__next"] and "filter" not in first["__next"]
    second = requests.get(first["__next"], auth=AUTH, timeout=5).json()["d"]
    assert second["__count"] == str(len(DATA.campaigns)) != first["__count"]
    assert uuids(second["results"]) == [c.uuid for c in DATA.campaigns[50:100]]


def test_payload_variants(live: Live) -> None:
    linked = next(c for c in DATA.campaigns if c.references)
    params = {
        "$expand": "ExternalCampaignReferences",
        "$filter": f"CampaignUUID eq guid'{linked.uuid}'",
    }
    [normal] = live.results(**params)
    live.sim.add_fault("campaigns", "date_offset_variant")
    live.sim.add_fault("campaigns", "guids_upper")
    live.sim.add_fault("campaigns", "extra_fields")
    [varied] = live.results(**params)
    assert varied["CampaignStartDate"] == normal["CampaignStartDate"].replace(")/", "+0000)/")
    assert varied["CreationDateTime"] == normal["CreationDateTime"]
    assert varied["CampaignUUID"] == normal["CampaignUUID"].upper()
    reference = varied["ExternalCampaignReferences"]["results"][0]
    assert reference["ExternalCampaignUUID"] == reference["ExternalCampaignUUID"].upper()
    assert reference["ExternalCampaignUUID"].lower() == linked.references[0].external_campaign_uuid
    assert varied["YY1_CampaignPriority_MKT"] == "HIGH"
    assert set(live.sim.requests[-1]["faults"]) == {
        "date_offset_variant",
        "guids_upper",
        "extra_fields",
    }


def test_faults_of_another_simulator_or_route_are_refused(live: Live) -> None:
    for route, mode in (("plans", "http_500"), ("campaigns", "developer_inactive")):
        with pytest.raises(FaultError, match="unknown"):
            live.sim.add_fault(route, mode)
    with pytest.raises(FaultError, match="does not apply"):
        live.sim.add_fault("metadata", "next_loop")
    assert live.sim.faults == []


# Mutations and data -------------------------------------------------------------------------


def test_mutations_show_on_the_wire_and_reset_restores(live: Live) -> None:
    before = live.everything(**{"$filter": KHOROS_FILTER})
    plan = KHOROS.plans[0]
    added = live.sim.add_campaign(name="Spring Launch", start_date=date(2026, 4, 1))
    assert added.category == KHOROS_CATEGORY and added.lifecycle_status == "1"
    live.sim.set_references(added.uuid, [plan.id.replace("-", "")])
    first = khoros_campaigns()[0]
    changed = live.sim.update_campaign(first.uuid, name="Renamed", lifecycle_status="3")
    assert changed.changed > first.changed
    live.sim.remove_campaign(khoros_campaigns()[1].uuid)

    expanded = {"$filter": KHOROS_FILTER, "$expand": "ExternalCampaignReferences"}
    after = {item["CampaignUUID"]: item for item in live.everything(**expanded)}
    assert len(after) == len(before)
    assert after[added.uuid]["CampaignName"] == "Spring Launch"
    assert after[added.uuid]["CampaignStartDate"] == "/Date(1775001600000)/"
    [reference] = after[added.uuid]["ExternalCampaignReferences"]["results"]
    assert reference["ExternalCampaignID"] == plan.id.replace("-", "")
    assert reference["ExternalCmpgnManagingParty"] == plan.initiative_id
    assert after[first.uuid]["CampaignName"] == "Renamed"
    assert after[first.uuid]["CampaignLifecycleStatusName"] == "Stopped"
    assert khoros_campaigns()[1].uuid not in after

    live.sim.reset()
    assert live.everything(**{"$filter": KHOROS_FILTER}) == before
    assert live.sim.data.campaign(added.uuid) is None


def test_mutations_refuse_what_sap_would_refuse(live: Live) -> None:
    with pytest.raises(ValueError, match="name"):
        live.sim.add_campaign(name="x" * 41)
    with pytest.raises(ValueError, match="campaign_id"):
        live.sim.add_campaign(campaign_id="12345678901")
    with pytest.raises(TypeError):
        live.sim.add_campaign(colour="red")
    with pytest.raises(TypeError):
        live.sim.update_campaign(DATA.campaigns[0].uuid, uuid=str(uuid.uuid4()))
    with pytest.raises(KeyError):
        live.sim.set_references(DATA.campaigns[0].uuid, [str(uuid.UUID(int=5))])
    with pytest.raises(KeyError):
        live.sim.remove_campaign(str(uuid.UUID(int=5)))
    assert live.sim.data.campaigns == DATA.campaigns


def test_seed_links_a_third_of_the_khoros_campaigns_to_distinct_plans() -> None:
    ours = khoros_campaigns()
    assert len(ours) == 12 * 10 and len(DATA.campaigns_of_category(OTHER_CATEGORY)) == 7
    linked = [c for c in ours if c.references]
    assert 0.25 <= len(linked) / len(ours) <= 0.4
    plan_ids = [r.external_campaign_id for r in DATA.references]
    assert len(plan_ids) == len(set(plan_ids))  # at most one campaign per Plan
    for campaign in linked:
        for reference in campaign.references:
            plan = KHOROS.plan(str(uuid.UUID(reference.external_campaign_id)))
            assert plan is not None
            initiative = KHOROS.initiative(plan.initiative_id)
            assert initiative is not None
            assert reference.name == plan.name
            assert (reference.advertiser, reference.advertiser_name) == ("389", "Acme")
            assert (reference.managing_party, reference.managing_party_name) == (
                initiative.id,
                initiative.name,
            )
            assert reference.url.startswith("https://") and plan.id in reference.url
            assert reference.campaign_uuid == campaign.uuid
            # The campaign runs over the Plans it references.
            assert campaign.start_date and campaign.end_date
            assert campaign.start_date <= plan.start_date <= plan.end_date <= campaign.end_date
    plan_start = min(p.start_date for p in KHOROS.plans)
    plan_end = max(p.end_date for p in KHOROS.plans)
    assert all(c.start_date <= plan_end and c.end_date >= plan_start for c in ours)  # type: ignore[operator]
    assert {c.lifecycle_status for c in ours} == set(LIFECYCLE_STATUSES)
    assert all(len(c.name) <= 40 and len(c.campaign_id) <= 10 for c in DATA.campaigns)
    assert len({c.uuid for c in DATA.campaigns}) == len(DATA.campaigns)


def test_generation_is_deterministic_at_two_thousand_campaigns() -> None:
    again = SapmcData.generate(khoros=KHOROS, campaigns_per_initiative=10, other_category=7, seed=5)
    assert again.campaigns == DATA.campaigns
    other = SapmcData.generate(khoros=KHOROS, campaigns_per_initiative=10, other_category=7, seed=6)
    assert [c.uuid for c in other.campaigns] != [c.uuid for c in DATA.campaigns]
    khoros = KhorosData.generate(initiatives=100, plans_per_initiative=20, posts_per_plan=0)
    big = SapmcData.generate(khoros=khoros, campaigns_per_initiative=19, other_category=100)
    assert len(big.campaigns) == 2_000


def test_a_big_tenant_pages_to_the_end() -> None:
    khoros = KhorosData.generate(initiatives=100, plans_per_initiative=5, posts_per_plan=0)
    data = SapmcData.generate(khoros=khoros, campaigns_per_initiative=20, other_category=0)
    with start_in_thread(SapmcSimulator(data, page_size=500)) as server:
        url: str | None = (
            f"{server.base_url}{SERVICE_PATH}/Campaigns?$format=json&$filter={KHOROS_FILTER}&$expand=ExternalCampaignReferences"
        )
        count = 0
        while url:
            feed = requests.get(url, auth=("demo-user", "demo-password"), timeout=5).json()["d"]
            count += len(feed["results"])
            url = feed.get("__next")
        assert count == 2_000


# Server and CLI -------------------------------------------------------------------------------


def test_cli_builds_the_sapmc_simulator_and_prints_its_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    served = Served()
    argv = ["sapmc", "--user", "u", "--password", "p", "--initiatives", "2"]
    argv += ["--plans-per-initiative", "3", "--campaigns-per-initiative", "2", "--page-size", "7"]
    assert main(argv, serve=served) == 0
    app = served.app
    assert isinstance(app, SapmcSimulator)
    assert (app.user, app.password, app.page_size) == ("u", "p", 7)
    assert len(app.data.campaigns_of_category(KHOROS_CATEGORY)) == 4
    assert (served.host, served.port) == ("127.0.0.1", 8702)
    assert capsys.readouterr().out.splitlines() == [
        "SAP MC simulator listening on http://127.0.0.1:8702 (SAPMC_BASE_URL=http://127.0.0.1:8702)"
    ]
    defaults = build_parser().parse_args(["sapmc"])
    assert (defaults.user, defaults.password, defaults.seed) == ("demo-user", "demo-password", 1)


def test_cli_data_agrees_with_the_khoros_cli_given_the_same_arguments() -> None:
    apps: dict[str, Any] = {}

    def keep(app: Any, host: str, port: int, announce: Callable[[str], None]) -> None:
        apps[type(app).__name__] = app

    shared = ["--seed", "3", "--initiatives", "6", "--plans-per-initiative", "14"]
    main(["khoros", *shared, "--posts-per-plan", "25"], serve=keep)
    main(["sapmc", *shared, "--campaigns-per-initiative", "3"], serve=keep)
    khoros: KhorosSimulator = apps["KhorosSimulator"]
    sapmc: SapmcSimulator = apps["SapmcSimulator"]
    assert sapmc.data.khoros.initiatives == khoros.data.initiatives
    assert sapmc.data.khoros.plans == khoros.data.plans
    # Every reference names a Plan and an Initiative the Khoros simulator serves.
    references = sapmc.data.references
    assert references
    for reference in references:
        plan = khoros.data.plan(str(uuid.UUID(reference.external_campaign_id)))
        assert plan is not None and plan.initiative_id == reference.managing_party
        assert reference.advertiser == khoros.data.company_id


def test_methods_other_than_get_head_and_the_writes_are_not_allowed(live: Live) -> None:
    # Spec-true since issue 8: HEAD is GET without the body (SAP clients fetch CSRF tokens so).
    head = requests.head(f"{live.service}/Campaigns?$format=json", auth=AUTH, timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) > 0  # the length the GET's body has
    refused = requests.head(f"{live.service}/Campaigns", auth=(USER, "wrong"), timeout=5)
    assert refused.status_code == 401 and refused.content == b""
    missing = requests.head(f"{live.service}/Campaignz", auth=AUTH, timeout=5)
    assert missing.status_code == 404 and missing.content == b""
    options = requests.options(f"{live.service}/Campaigns", auth=AUTH, timeout=5)
    assert options.status_code == 405 and odata_error(options)
