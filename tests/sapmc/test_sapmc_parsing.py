"""SAP MC payload parsing: valid OData V2 entities parse, anything else is a bad payload."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sapmc.client import (
    Campaign,
    SapmcBadPayloadError,
    odata_string,
    parse_campaign,
    parse_odata_datetime,
)
from tests.http_helpers import JUNK

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Year 1 to 9999: every instant Python can hold.
MS = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31))
OFFSET_MINUTES = st.integers(min_value=0, max_value=24 * 60 - 1)
GUIDS = st.uuids()
# Text as SAP sends it: anything but NUL and bidi controls (dropped on purpose, tested apart)
# and lone surrogates.
BIDI_CONTROLS = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
TEXT = st.text(
    alphabet=st.characters(
        blacklist_characters="\x00" + BIDI_CONTROLS, blacklist_categories=("Cs",)
    ),
    max_size=60,
)


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(
        alphabet=st.characters(
            blacklist_characters="\x00" + BIDI_CONTROLS, blacklist_categories=("Cs",)
        ),
        max_size=max_size,
    )


def odata_date(ms: int, offset: str = "") -> str:
    return f"/Date({ms}{offset})/"


def midnight_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000


@st.composite
def references(draw: st.DrawFn, campaign_uuid: str) -> dict[str, Any]:
    return {
        "__metadata": {"type": "API_MKT_CAMPAIGN_SRV.ExternalCampaignReference"},
        "ExternalCampaignUUID": str(draw(GUIDS)),
        "ExternalCampaignID": draw(st.uuids().map(lambda u: u.hex) | text(32).filter(str.strip)),
        "CampaignUUID": draw(st.sampled_from([campaign_uuid, campaign_uuid.upper()])),
        "ExternalCampaignName": draw(text(255)),
        "ExternalCampaignURL": draw(text(1000)),
        "Advertiser": draw(text(32)),
        "AdvertiserName": draw(text(255)),
        "ExternalCmpgnManagingParty": draw(text(32)),
        "ExternalCmpgnManagingPartyName": draw(text(255)),
    }


@st.composite
def campaigns(draw: st.DrawFn) -> dict[str, Any]:
    """A Campaigns entity as SAP MC could send it, every optional field maybe null."""
    campaign_uuid = str(draw(GUIDS))

    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    start, end = maybe(DAYS), maybe(DAYS)
    date_suffix = draw(st.sampled_from(["", "+0000"]))
    items = draw(
        st.lists(
            references(campaign_uuid), max_size=3, unique_by=lambda r: r["ExternalCampaignUUID"]
        )
    )
    wrapped: Any = {"results": items} if draw(st.booleans()) else items
    return {
        "__metadata": {"id": "x", "uri": "x", "type": "API_MKT_CAMPAIGN_SRV.Campaign"},
        "CampaignUUID": draw(st.sampled_from([campaign_uuid, campaign_uuid.upper()])),
        "CampaignID": draw(text(10).filter(str.strip)),
        "CampaignName": draw(text(40)),
        "CampaignDescription": maybe(TEXT),
        "CampaignStartDate": None if start is None else odata_date(midnight_ms(start), date_suffix),
        "CampaignEndDate": None if end is None else odata_date(midnight_ms(end), date_suffix),
        "CampaignLifecycleStatus": maybe(text(1)),
        "CampaignLifecycleStatusName": maybe(TEXT),
        "CampaignCategory": draw(TEXT),
        "CampaignCategoryName": maybe(TEXT),
        "MediaType": maybe(TEXT),
        "MarketingArea": maybe(TEXT),
        "CampaignOwner": maybe(TEXT),
        "CreationDateTime": maybe(MS.map(lambda ms: odata_date(ms, "+0000"))),
        "LastChangeDateTime": maybe(MS.map(lambda ms: odata_date(ms, "+0000"))),
        "ExternalCampaignReferences": wrapped,
        **draw(st.dictionaries(st.text(max_size=8).map(lambda k: "YY1_" + k), TEXT, max_size=2)),
    }


def _day(value: str | None) -> date | None:
    return (
        None
        if value is None
        else (EPOCH + timedelta(milliseconds=int(value[6:].split(")")[0].split("+")[0]))).date()
    )


# Dates ------------------------------------------------------------------------------------


@given(ms=MS, offset=st.none() | st.tuples(st.sampled_from("+-"), OFFSET_MINUTES))
@example(ms=1_583_020_800_000, offset=None)
@example(ms=1_583_020_800_000, offset=("+", 0))
@example(ms=1_583_020_800_000, offset=("+", 60))
@example(ms=-86_400_000, offset=("-", 90))
@settings(max_examples=300)
def test_odata_dates_are_epoch_milliseconds_in_utc(ms: int, offset: tuple[str, int] | None) -> None:
    suffix = "" if offset is None else f"{offset[0]}{offset[1]:04d}"
    parsed = parse_odata_datetime(odata_date(ms, suffix))
    # The offset says in which zone the value was entered; the instant stays the milliseconds.
    assert parsed == EPOCH + timedelta(milliseconds=ms)
    assert parsed.tzinfo == UTC


def test_documented_examples() -> None:
    assert parse_odata_datetime("/Date(1583020800000)/") == datetime(2020, 3, 1, tzinfo=UTC)
    assert parse_odata_datetime("/Date(1583020800000+0000)/") == datetime(2020, 3, 1, tzinfo=UTC)
    assert parse_odata_datetime("/Date(253402214400000)/") == datetime(9999, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "/Date()/",
        "/Date(abc)/",
        "Date(1583020800000)",
        "/Date(1583020800000)/ ",
        "\\/Date(1583020800000)\\/",
        "/Date(1583020800000+1440)/",
        "/Date(1583020800000+00000)/",
        "/Date(1583020800000+)/",
        "/Date(1583020800000Z)/",
        "/Date(99999999999999999)/",
        "/Date(999999999999999)/",
        "/Date(-999999999999999)/",
        "2020-03-01T00:00:00",
        "",
        1583020800000,
        None,
        ["/Date(0)/"],
    ],
)
def test_anything_but_an_odata_date_is_a_bad_payload(value: object) -> None:
    with pytest.raises(SapmcBadPayloadError):
        parse_odata_datetime(value)


@given(JUNK | st.text().map(lambda t: f"/Date({t})/"))
@settings(max_examples=300)
def test_junk_dates_raise_only_bad_payload(value: object) -> None:
    try:
        parsed = parse_odata_datetime(value)
    except SapmcBadPayloadError:
        return
    assert parsed.tzinfo == UTC


# Campaigns ----------------------------------------------------------------------------------


@given(campaigns())
@settings(max_examples=100)
def test_valid_campaigns_parse_into_typed_objects(item: dict[str, Any]) -> None:
    campaign = parse_campaign(item)
    assert isinstance(campaign, Campaign)
    assert campaign.uuid == item["CampaignUUID"].lower()
    assert campaign.campaign_id == item["CampaignID"]
    assert campaign.name == item["CampaignName"]
    assert campaign.description == (item["CampaignDescription"] or "")
    assert campaign.start == _day(item["CampaignStartDate"])
    assert campaign.end == _day(item["CampaignEndDate"])
    assert campaign.lifecycle_status == (item["CampaignLifecycleStatus"] or "")
    assert campaign.category == item["CampaignCategory"]
    for key, value in (("created", "CreationDateTime"), ("changed", "LastChangeDateTime")):
        instant = getattr(campaign, key)
        assert (instant is None) == (item[value] is None)
        assert instant is None or instant.tzinfo == UTC
    sent = item["ExternalCampaignReferences"]
    sent = sent["results"] if isinstance(sent, dict) else sent
    assert sorted(r.external_campaign_uuid for r in campaign.references) == sorted(
        r["ExternalCampaignUUID"] for r in sent
    )
    assert all(r.campaign_uuid == campaign.uuid for r in campaign.references)
    ids = [(r.external_campaign_id, r.external_campaign_uuid) for r in campaign.references]
    assert ids == sorted(ids)
    # raw is a storable copy, not the payload itself.
    assert json.loads(json.dumps(campaign.raw)) == campaign.raw
    assert campaign.raw is not item


@given(campaigns(), st.data())
@settings(max_examples=150)
def test_any_field_replaced_by_junk_gives_a_campaign_or_a_bad_payload(
    item: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(item)))
    item[key] = data.draw(JUNK)
    try:
        campaign = parse_campaign(item)
    except SapmcBadPayloadError:
        return
    assert isinstance(campaign, Campaign)


@given(campaigns(), st.data())
@settings(max_examples=100)
def test_junk_inside_a_reference_gives_a_campaign_or_a_bad_payload(
    item: dict[str, Any], data: st.DataObject
) -> None:
    sent = item["ExternalCampaignReferences"]
    sent = sent["results"] if isinstance(sent, dict) else sent
    if sent:
        reference = data.draw(st.sampled_from(sent))
        reference[data.draw(st.sampled_from(sorted(reference)))] = data.draw(JUNK)
    else:
        sent.append(data.draw(JUNK))
    try:
        campaign = parse_campaign(item)
    except SapmcBadPayloadError:
        return
    assert len(campaign.references) == len(sent)


@given(JUNK)
@settings(max_examples=300)
def test_junk_items_raise_only_bad_payload(item: object) -> None:
    with pytest.raises(SapmcBadPayloadError):
        parse_campaign(item)


def _valid() -> dict[str, Any]:
    campaign_uuid = "3a15ada1-e8f3-4c45-9378-6e8f84ce7bf6"
    return {
        "CampaignUUID": campaign_uuid,
        "CampaignID": "1000001",
        "CampaignName": "Brand 2025: Awareness Wave",
        "CampaignStartDate": "/Date(1784246400000)/",
        "CampaignEndDate": None,
        "CampaignLifecycleStatus": "2",
        "CampaignCategory": "Z01",
        "CreationDateTime": "/Date(1781605407188+0000)/",
        "ExternalCampaignReferences": {
            "results": [
                {
                    "ExternalCampaignUUID": "C69C98B3-956F-5ACE-8124-320BA94F63C1",
                    "ExternalCampaignID": "076f3787b9d149e0ac0fd4f5f8130c42",
                    "CampaignUUID": campaign_uuid,
                    "ExternalCampaignName": "Holiday Push 4",
                }
            ]
        },
    }


def test_a_minimal_campaign_parses_with_empty_defaults() -> None:
    campaign = parse_campaign(_valid())
    assert campaign.start == date(2026, 7, 17) and campaign.end is None
    assert campaign.created == datetime(2026, 6, 16, 10, 23, 27, 188000, tzinfo=UTC)
    assert campaign.changed is None and campaign.owner == "" and campaign.media_type == ""
    [reference] = campaign.references
    assert reference.external_campaign_uuid == "c69c98b3-956f-5ace-8124-320ba94f63c1"
    assert (reference.advertiser, reference.url) == ("", "")


def _broken(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    item = _valid()
    target: Any = item
    for step in path[:-1]:
        target = target[step] if not isinstance(target, list) else target[int(step)]
    target[path[-1]] = value
    return item


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("CampaignUUID",), "1000001", "not a GUID"),
        (("CampaignUUID",), None, "GUID"),
        (("CampaignID",), "12345678901", "longer than 10"),
        (("CampaignID",), " ", "empty CampaignID"),
        (("CampaignID",), 1000001, "must be a string"),
        (("CampaignName",), "x" * 41, "longer than 40"),
        (("CampaignName",), None, "missing CampaignName"),
        (("CampaignLifecycleStatus",), "12", "longer than 1"),
        (("CampaignCategory",), None, "missing CampaignCategory"),
        (("CampaignStartDate",), "2026-07-17", "not an OData date"),
        (("CreationDateTime",), 1781605407188, "expected an OData date"),
        (("ExternalCampaignReferences",), {"__deferred": {"uri": "x"}}, "not expanded"),
        (("ExternalCampaignReferences", "results", "0", "ExternalCampaignID"), "x" * 33, "32"),
        (("ExternalCampaignReferences", "results", "0", "ExternalCampaignID"), None, "missing"),
        (("ExternalCampaignReferences", "results", "0", "ExternalCampaignName"), "x" * 256, "255"),
        (("ExternalCampaignReferences", "results", "0", "CampaignUUID"), str(uuid.UUID(int=1)),
         "belongs to campaign"),
        (("ExternalCampaignReferences", "results", "0", "ExternalCampaignUUID"), "", "GUID"),
    ],
)  # fmt: skip
def test_contract_breaches_name_the_field(path: tuple[str, ...], value: Any, message: str) -> None:
    with pytest.raises(SapmcBadPayloadError, match=message):
        parse_campaign(_broken(path, value))


def test_missing_references_and_duplicate_references_are_refused() -> None:
    item = _valid()
    del item["ExternalCampaignReferences"]
    with pytest.raises(SapmcBadPayloadError, match="not expanded"):
        parse_campaign(item)
    item = _valid()
    results = item["ExternalCampaignReferences"]["results"]
    results.append(dict(results[0]))
    with pytest.raises(SapmcBadPayloadError, match="twice"):
        parse_campaign(item)


def test_text_loses_nul_and_lone_surrogates_so_that_it_can_be_stored() -> None:
    item = _valid()
    item["CampaignName"] = "Brand\x00 Wave \ud800"
    item["YY1_Note"] = "a\x00b"
    campaign = parse_campaign(item)
    assert campaign.name == "Brand Wave ?"
    assert campaign.raw["CampaignName"] == "Brand Wave ?" and campaign.raw["YY1_Note"] == "ab"
    json.dumps(campaign.raw).encode("utf-8")


def test_equal_content_compares_equal_whatever_the_reference_order() -> None:
    first = _valid()
    refs = first["ExternalCampaignReferences"]["results"]
    refs.append({"ExternalCampaignUUID": str(uuid.UUID(int=7)), "ExternalCampaignID": "0" * 32})
    second = _valid()
    second["ExternalCampaignReferences"]["results"] = list(reversed(refs))
    second["YY1_Extra"] = "only in raw"
    assert parse_campaign(first) == parse_campaign(second)


def test_odata_string_doubles_single_quotes() -> None:
    assert odata_string("KHOROS") == "'KHOROS'"
    assert odata_string("O'Brien's") == "'O''Brien''s'"
    assert odata_string("") == "''"


BERLIN_MIDNIGHT_1_APRIL = "/Date(1774994400000)/"  # 2026-03-31T22:00:00Z


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/Berlin", date(2026, 4, 1)),
        ("UTC", date(2026, 3, 31)),
        ("America/Chicago", date(2026, 3, 31)),
        ("Asia/Tokyo", date(2026, 4, 1)),
    ],
)
def test_campaign_dates_are_the_day_of_the_instant_in_sap_mc_s_time_zone(zone, day):
    item = {
        "CampaignUUID": "8f2d7c1e-0b3a-4d5e-9f60-1a2b3c4d5e6f",
        "CampaignID": "1000001",
        "CampaignName": "Spring",
        "CampaignCategory": "Z01",
        "CampaignStartDate": BERLIN_MIDNIGHT_1_APRIL,
        "CampaignEndDate": "/Date(1775080799000)/",  # 2026-04-01T21:59:59Z: Berlin 23:59:59
        "ExternalCampaignReferences": {"results": []},
    }
    campaign = parse_campaign(item, ZoneInfo(zone))
    assert campaign.start == day
    assert campaign.end == (date(2026, 4, 1) if zone != "Asia/Tokyo" else date(2026, 4, 2))
    assert parse_campaign(item).start == date(2026, 3, 31)  # UTC unless told otherwise


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("UTC", date(1, 1, 1), date(9999, 12, 31)),
        # 9999-12-31T23:59:59Z is 10000-01-01 in Tokyo, 0001-01-01T00:00Z is year 0 in New
        # York: days no date can hold, kept as the nearest ones instead of failing the sync.
        ("Asia/Tokyo", date(1, 1, 1), date(9999, 12, 31)),
        ("America/New_York", date(1, 1, 1), date(9999, 12, 31)),
    ],
)
def test_campaign_dates_at_the_calendar_s_ends_are_kept_in_every_zone(zone, start, end):
    item = {
        "CampaignUUID": "8f2d7c1e-0b3a-4d5e-9f60-1a2b3c4d5e6f",
        "CampaignID": "1000001",
        "CampaignName": "Unlimited",
        "CampaignCategory": "Z01",
        "CampaignStartDate": "/Date(-62135596800000)/",  # 0001-01-01T00:00:00Z
        "CampaignEndDate": "/Date(253402300799000)/",  # 9999-12-31T23:59:59Z, SAP's "unlimited"
        "ExternalCampaignReferences": {"results": []},
    }
    campaign = parse_campaign(item, ZoneInfo(zone))
    assert (campaign.start, campaign.end) == (start, end)


def test_paged_inline_references_are_refused_rather_than_cut():
    item = {
        "CampaignUUID": "8f2d7c1e-0b3a-4d5e-9f60-1a2b3c4d5e6f",
        "CampaignID": "1000001",
        "CampaignName": "Spring",
        "CampaignCategory": "Z01",
        "ExternalCampaignReferences": {"results": [], "__next": "https://sap.example/next"},
    }
    with pytest.raises(SapmcBadPayloadError, match="came paged"):
        parse_campaign(item)
