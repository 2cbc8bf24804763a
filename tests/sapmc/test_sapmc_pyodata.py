"""SAP's own OData client, pyodata, as a test peer of the SAP MC simulator over real HTTP.

pyodata builds its model from the simulator's $metadata and sends the queries the bridge makes
plus the common ones; what it reads back must be what the seeded tenant holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyodata
import pytest
import requests
from pyodata.exceptions import HttpError
from pyodata.v2.model import MetadataBuilder

from sapmc.client import SapmcClient, SuccessRow, success_payload
from simulators.khoros_data import KhorosData
from simulators.sapmc import SERVICE_PATH, SapmcSimulator
from simulators.sapmc_data import KHOROS_CATEGORY, OTHER_CATEGORY, SapmcData
from simulators.sapmc_metadata import midnight as _midnight
from simulators.sapmc_success import SUCCESS_SERVICE_PATH
from simulators.server import RunningServer, start_in_thread

USER, PASSWORD = "MKT_COMM_USER", "pw-pyodata-7a1c"
KHOROS = KhorosData.generate(
    seed=4, initiatives=5, plans_per_initiative=6, posts_per_plan=0, today=date(2026, 3, 20)
)
DATA = SapmcData.generate(khoros=KHOROS, campaigns_per_initiative=4, other_category=6, seed=4)
KHOROS_CAMPAIGNS = DATA.campaigns_of_category(KHOROS_CATEGORY)
CONTRACT = Path(__file__).parents[1] / "contracts" / "sapmc" / "API_MKT_CAMPAIGN_SRV.xml"
PAGE = 7  # the simulator's server page: every listing below needs next links


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SapmcSimulator, RunningServer]]:
    sim = SapmcSimulator(DATA, user=USER, password=PASSWORD, page_size=PAGE)
    with start_in_thread(sim) as running:
        yield sim, running


@pytest.fixture
def sim(server: tuple[SapmcSimulator, RunningServer]) -> SapmcSimulator:
    server[0].reset()
    return server[0]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = (USER, PASSWORD)
        yield session


@pytest.fixture
def service(server: tuple[SapmcSimulator, RunningServer], session: requests.Session) -> Any:
    return pyodata.Client(server[1].base_url + SERVICE_PATH + "/", session)


def every_page(request: Any) -> tuple[list[Any], list[Any]]:
    """Execute a pyodata query and follow its __next links; return (entities, pages)."""
    pages = [request.execute()]
    while pages[-1].next_url is not None:
        assert len(pages) < 50
        pages.append(request.next_url(pages[-1].next_url).execute())
    return [entity for page in pages for entity in page], pages


def test_pyodata_builds_the_same_model_from_the_served_metadata_as_from_sap_s_edmx(
    service: Any,
) -> None:
    contract = MetadataBuilder(CONTRACT.read_bytes()).build()
    for name in ("Campaign", "ExternalCampaignReferenceEntityType"):
        served, expected = service.schema.entity_type(name), contract.entity_type(name)

        def shape(entity_type: Any) -> Any:
            return (
                [(p.name, p.typ.name, p.max_length, p.nullable) for p in entity_type.proprties()],
                [k.name for k in entity_type.key_proprties],
                [n.name for n in entity_type.nav_proprties],
            )

        assert shape(served) == shape(expected)
    campaign = service.schema.entity_type("Campaign")
    assert campaign.proprty("CampaignCategory").max_length == 3
    assert campaign.proprty("CampaignStartDate").typ.name == "Edm.DateTime"
    assert [k.name for k in campaign.key_proprties] == ["CampaignUUID"]
    assert len(service.schema.entity_sets) == 11


def _bridge_listing(service: Any) -> Any:
    """The bridge's campaign listing query, written with pyodata's builder."""
    return (
        service.entity_sets.Campaigns.get_entities()
        .filter(f"CampaignCategory eq '{KHOROS_CATEGORY}'")
        .expand("ExternalCampaignReferences")
        .count(inline=True)
        .top(100)
        .skip(0)
    )


def test_the_bridge_s_listing_query_pages_through_next_links(
    service: Any, sim: SapmcSimulator
) -> None:
    request = _bridge_listing(service)
    campaigns, pages = every_page(request)
    assert len(KHOROS_CAMPAIGNS) == 20 and len(pages) == 3
    assert {page.total_count for page in pages} == {20}
    assert [c.CampaignUUID for c in campaigns] == [c.uuid for c in KHOROS_CAMPAIGNS]
    for entity, seeded in zip(campaigns, KHOROS_CAMPAIGNS, strict=True):
        assert entity.CampaignID == seeded.campaign_id and entity.CampaignName == seeded.name
        assert entity.CampaignCategory == KHOROS_CATEGORY
        assert entity.CampaignStartDate == _midnight(seeded.start_date)
        assert entity.LastChangeDateTime == seeded.changed
        assert [r.ExternalCampaignID for r in entity.ExternalCampaignReferences] == [
            r.external_campaign_id for r in seeded.references
        ]
    skiptokens = [e["query"].get("$skiptoken") for e in sim.requests if e["route"] == "campaigns"]
    assert skiptokens == [None, "7", "14"]


def test_the_bridge_follows_the_next_links_pyodata_follows_and_stops_at_a_loop(
    service: Any, sim: SapmcSimulator, server: tuple[SapmcSimulator, RunningServer]
) -> None:
    request = _bridge_listing(service)
    bridge = SapmcClient(base_url=server[1].base_url, user=USER, password=PASSWORD)
    with bridge:
        # Without a fault both read the same campaigns through the same links.
        listed = bridge.list_campaigns(category=KHOROS_CATEGORY)
        campaigns, _ = every_page(request)
        assert listed.complete
        assert [c.uuid for c in listed.campaigns] == [c.CampaignUUID for c in campaigns]
        tokens = [e["query"].get("$skiptoken") for e in sim.requests if e["route"] == "campaigns"]
        assert tokens == [None, "7", "14"] * 2

        # The second page's __next names that page itself: pyodata, which keeps no record of
        # the pages it read, is handed the same link (the same $skiptoken) again and again.
        sim.reset()
        sim.add_fault("campaigns", "next_loop", page=1, count=None)
        try:
            pages = [request.next_url(None).execute()]
            for _ in range(3):
                pages.append(request.next_url(pages[-1].next_url).execute())
        finally:
            sim.reset()  # the tests after this one use the server without resetting it
        assert pages[1].next_url == pages[2].next_url == pages[3].next_url
        assert "$skiptoken=7" in pages[1].next_url
        assert [e.CampaignUUID for e in pages[2]] == [e.CampaignUUID for e in pages[1]]

        # The bridge follows that link no further: the two pages read are kept, the loop named.
        sim.add_fault("campaigns", "next_loop", page=1, count=None)
        try:
            looped = bridge.list_campaigns(category=KHOROS_CATEGORY)
        finally:
            sim.reset()
    read_by_pyodata = [e.CampaignUUID for page in pages[:2] for e in page]
    assert (
        [c.uuid for c in looped.campaigns]
        == read_by_pyodata
        == [c.uuid for c in KHOROS_CAMPAIGNS[:14]]
    )
    assert looped.problems == [
        "a paging loop in the window at $skip=0: SAP MC's __next led back to a page already "
        "read ($skip=0, $skiptoken=7)",
        "read 14 campaigns of the 20 SAP MC counted",
    ]
    assert bridge.stats.requests == 3 + 2  # the clean listing's 3, then 2 before the loop


def test_get_by_key_with_and_without_expand(service: Any) -> None:
    seeded = next(c for c in KHOROS_CAMPAIGNS if c.references)
    campaigns = service.entity_sets.Campaigns
    entity = campaigns.get_entity(seeded.uuid).expand("ExternalCampaignReferences").execute()
    assert (entity.CampaignUUID, entity.CampaignName) == (seeded.uuid, seeded.name)
    assert [r.ExternalCampaignUUID for r in entity.ExternalCampaignReferences] == [
        r.external_campaign_uuid for r in seeded.references
    ]
    assert campaigns.get_entity(CampaignUUID=seeded.uuid).execute().CampaignID == (
        seeded.campaign_id
    )
    reference = seeded.references[0]
    found = (
        service.entity_sets.ExternalCampaignReferences.get_entity(reference.external_campaign_uuid)
        .execute()
    )  # fmt: skip
    assert (found.ExternalCampaignID, found.CampaignUUID) == (
        reference.external_campaign_id,
        seeded.uuid,
    )
    with pytest.raises(HttpError) as missing:
        campaigns.get_entity("00000000-0000-4000-8000-000000000000").execute()
    assert missing.value.response.status_code == 404
    assert missing.value.response.json()["error"]["code"] == "/IWBEP/CM_MGW_RT/021"


def test_count_alone_and_filtered(service: Any) -> None:
    campaigns = service.entity_sets.Campaigns
    assert campaigns.get_entities().count().execute() == len(DATA.campaigns) == 26
    filtered = campaigns.get_entities().filter(f"CampaignCategory eq '{OTHER_CATEGORY}'")
    assert filtered.count().execute() == 6
    references = service.entity_sets.ExternalCampaignReferences.get_entities()
    assert references.count().execute() == len(DATA.references) > 0


def test_select_sends_only_the_properties_asked(service: Any) -> None:
    request = (
        service.entity_sets.Campaigns.get_entities()
        .select("CampaignUUID,CampaignName")
        .filter(f"CampaignCategory eq '{OTHER_CATEGORY}'")
    )
    campaigns, _ = every_page(request)
    expected = DATA.campaigns_of_category(OTHER_CATEGORY)
    assert [(c.CampaignUUID, c.CampaignName) for c in campaigns] == [
        (c.uuid, c.name) for c in expected
    ]
    raw = requests.get(
        service.url + "Campaigns",
        params={"$select": "CampaignUUID,CampaignName", "$top": "1", "$format": "json"},
        auth=(USER, PASSWORD),
        timeout=5,
    ).json()["d"]["results"][0]
    assert set(raw) == {"__metadata", "CampaignUUID", "CampaignName"}


@pytest.mark.parametrize("descending", [False, True])
def test_orderby_sorts_across_pages(service: Any, descending: bool) -> None:
    order = "CampaignName desc" if descending else "CampaignName"
    request = service.entity_sets.Campaigns.get_entities().order_by(order).count(inline=True)
    campaigns, pages = every_page(request)
    names = [c.CampaignName for c in campaigns]
    assert names == sorted((c.name for c in DATA.campaigns), reverse=descending)
    assert len(pages) == 4 and pages[0].total_count == 26


def test_string_functions_and_or_as_pyodata_writes_them(service: Any) -> None:
    campaigns = service.entity_sets.Campaigns
    contains, _ = every_page(campaigns.get_entities().filter(CampaignName__contains="Launch"))
    assert sorted(c.CampaignUUID for c in contains) == sorted(
        c.uuid for c in DATA.campaigns if "Launch" in c.name
    )
    assert contains
    starts, _ = every_page(campaigns.get_entities().filter(CampaignName__startswith="Newsletter"))
    assert [c.CampaignUUID for c in starts] == [
        c.uuid for c in DATA.campaigns if c.name.startswith("Newsletter")
    ]
    assert starts
    either, _ = every_page(campaigns.get_entities().filter(CampaignLifecycleStatus__in=["1", "3"]))
    assert [c.CampaignUUID for c in either] == [
        c.uuid for c in DATA.campaigns if c.lifecycle_status in ("1", "3")
    ]
    assert either
    text = f"CampaignCategory eq '{OTHER_CATEGORY}' or substringof('Wave', CampaignName) eq true"
    mixed, _ = every_page(campaigns.get_entities().filter(text))
    assert [c.CampaignUUID for c in mixed] == [
        c.uuid for c in DATA.campaigns if c.category == OTHER_CATEGORY or "Wave" in c.name
    ]


def test_a_refused_query_is_an_sap_gateway_error(service: Any) -> None:
    with pytest.raises(HttpError) as refused:
        service.entity_sets.Campaigns.get_entities().filter("CampaignDescription eq 'x'").execute()
    response = refused.value.response
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "/IWBEP/CM_MGW_RT/022"
    assert error["message"] == {
        "lang": "en",
        "value": "Property CampaignDescription is not filterable",
    }
    assert error["innererror"]["transactionid"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_csrf_token_fetch_by_get_and_head_lets_a_pyodata_write_through(
    service: Any, session: requests.Session, sim: SapmcSimulator, method: str
) -> None:
    campaigns = service.entity_sets.Campaigns
    with pytest.raises(HttpError) as without:
        campaigns.create_entity().set(CampaignName="New").execute()
    assert without.value.response.status_code == 403
    assert without.value.response.headers["X-CSRF-Token"] == "Required"

    fetched = session.request(method, service.url, headers={"X-CSRF-Token": "Fetch"}, timeout=5)
    assert fetched.status_code == 200
    token = fetched.headers["X-CSRF-Token"]
    assert token == sim.csrf_token
    if method == "HEAD":
        assert fetched.content == b""
    session.headers["X-CSRF-Token"] = token
    with pytest.raises(HttpError) as written:
        campaigns.create_entity().set(CampaignName="New").execute()
    # Past the CSRF check: the simulator is read-only and says so in SAP Gateway's format.
    assert written.value.response.status_code == 501
    assert written.value.response.json()["error"]["message"]["value"] == (
        "The simulator is read-only"
    )
    fetches = [(e["method"], e["csrf_fetch"]) for e in sim.requests if e["route"] == "service"]
    assert fetches == [(method, True)]


# The success import (API_MKT_CMPGN_SUCCESS_IMPORT_SRV) ---------------------------------------

SUCCESS_CONTRACT = CONTRACT.with_name("API_MKT_CMPGN_SUCCESS_IMPORT_SRV.xml")


@pytest.fixture
def success_service(server: tuple[SapmcSimulator, RunningServer], session: requests.Session) -> Any:
    return pyodata.Client(server[1].base_url + SUCCESS_SERVICE_PATH + "/", session)


def test_pyodata_reads_the_same_success_model_as_sap_s_edmx(success_service: Any) -> None:
    contract = MetadataBuilder(SUCCESS_CONTRACT.read_bytes()).build()
    served, expected = (
        success_service.schema.entity_type("Success"),
        contract.entity_type("Success"),
    )

    def shape(entity_type: Any) -> Any:
        return [
            (p.name, p.typ.name, p.max_length, p.nullable, p.precision, p.scale, p.creatable)
            for p in entity_type.proprties()
        ]

    assert shape(served) == shape(expected) and len(shape(served)) == 76
    assert [k.name for k in served.key_proprties] == ["CampaignSuccessUUID"]
    assert [s.name for s in success_service.schema.entity_sets] == ["Successes"]


def test_pyodata_creates_a_success_after_fetching_the_csrf_token(
    success_service: Any, session: requests.Session, sim: SapmcSimulator
) -> None:
    # The bridge's own payload, sent by SAP's client: pyodata converts each value by the
    # served $metadata (the day as /Date(ms)/) and POSTs it to Successes.
    row = SuccessRow(
        campaign_uuid=KHOROS_CAMPAIGNS[0].uuid,
        campaign_id=KHOROS_CAMPAIGNS[0].campaign_id,
        campaign_category=KHOROS_CATEGORY,
        external_campaign_id="c" * 32,
        external_campaign_name="Plan C",
        advertiser="389",
        advertiser_name="Acme",
        managing_party="7",
        managing_party_name="Initiative 7",
        day=date(2026, 3, 2),
        timezone="UTC",
        impressions=5400,
        clicks=87,
        post_engagements=40,
        video_views=12,
        reach=3100,
    )
    values = success_payload(row)
    values["SuccessDataDate"] = datetime(2026, 3, 2, tzinfo=UTC)
    request = success_service.entity_sets.Successes.create_entity().set(**values)
    with pytest.raises(HttpError) as refused:
        request.execute()
    assert refused.value.response.status_code == 403
    assert refused.value.response.text == "CSRF token validation failed"

    # What pyodata's documentation asks of its user: fetch the token on the service root (the
    # session keeps SAP's session cookie) and send it with every write.
    fetched = session.head(success_service.url, headers={"X-CSRF-Token": "Fetch"}, timeout=5)
    session.headers["X-CSRF-Token"] = fetched.headers["X-CSRF-Token"]
    created = success_service.entity_sets.Successes.create_entity().set(**values).execute()
    assert created.NumberOfClicks == 87 and created.CampaignReach == 3100
    assert created.SuccessDataDate == datetime(2026, 3, 2, tzinfo=UTC)
    [stored] = sim.successes
    assert created.CampaignSuccessUUID == stored["CampaignSuccessUUID"]
    assert stored["SuccessDataDate"] == "/Date(1772409600000)/"
    assert stored["ExternalCampaignID"] == "c" * 32 and stored["NumberOfClicks"] == "87"
