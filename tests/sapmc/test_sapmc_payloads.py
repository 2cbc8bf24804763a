"""sapmc.payloads: the declared wire models read SAP MC's names only, and nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sapmc import client
from sapmc.payloads import (
    CampaignPayload,
    ReferencePayload,
    SapmcBadPayloadError,
    parse_campaign,
    parse_feed,
)

CAMPAIGN_UUID = "3a15ada1-e8f3-4c45-9378-6e8f84ce7bf6"
PLAN_ID = "076f3787b9d149e0ac0fd4f5f8130c42"


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "CampaignUUID": CAMPAIGN_UUID,
        "CampaignID": "1000001",
        "CampaignName": "Spring",
        "CampaignCategory": "Z01",
        "ExternalCampaignReferences": {
            "results": [
                {
                    "ExternalCampaignUUID": "c69c98b3-956f-5ace-8124-320ba94f63c1",
                    "ExternalCampaignID": PLAN_ID,
                    "ExternalCampaignName": "Holiday Push 4",
                }
            ]
        },
    }
    item.update(changes)
    return item


def test_extra_fields_spelled_like_attributes_are_ignored_not_read() -> None:
    item = _item(
        campaign_id="9999999",
        name="Not the name",
        category="Z99",
        start="/Date(0)/",
        references=[],
        raw={"forged": True},
    )
    item["ExternalCampaignReferences"]["results"][0].update(
        external_campaign_id="f" * 32, name="Not the Plan", campaign_uuid="x"
    )
    campaign = parse_campaign(item)
    assert (campaign.campaign_id, campaign.name, campaign.category) == ("1000001", "Spring", "Z01")
    assert campaign.start is None
    [reference] = campaign.references
    assert (reference.external_campaign_id, reference.name) == (PLAN_ID, "Holiday Push 4")
    assert reference.campaign_uuid == CAMPAIGN_UUID
    # raw is the payload as received, whatever field it carries.
    assert campaign.raw["raw"] == {"forged": True} and campaign.raw["CampaignID"] == "1000001"


def test_an_attribute_name_never_stands_in_for_a_missing_wire_field() -> None:
    item = _item(campaign_id="1000001")
    del item["CampaignID"]
    with pytest.raises(SapmcBadPayloadError, match=f"campaign {CAMPAIGN_UUID}: missing CampaignID"):
        parse_campaign(item)
    with pytest.raises(ValidationError):
        ReferencePayload.model_validate(
            {"external_campaign_uuid": CAMPAIGN_UUID, "external_campaign_id": PLAN_ID}
        )


def test_the_wire_models_are_frozen_and_strict() -> None:
    wire = CampaignPayload.model_validate(_item())
    with pytest.raises(ValidationError):
        wire.name = "changed"  # type: ignore[misc]
    with pytest.raises(SapmcBadPayloadError, match="CampaignName must be a string, got int"):
        parse_campaign(_item(CampaignName=2026))


def test_a_broken_reference_names_the_campaign_the_reference_and_the_field() -> None:
    item = _item()
    item["ExternalCampaignReferences"]["results"].insert(0, {"ExternalCampaignUUID": "nope"})
    with pytest.raises(SapmcBadPayloadError) as bad:
        parse_campaign(item)
    assert str(bad.value) == (
        f"campaign {CAMPAIGN_UUID}: ExternalCampaignReferences: reference 0: "
        "ExternalCampaignUUID is not a GUID: 'nope'"
    )


@pytest.mark.parametrize(
    ("value", "instant", "day"),
    [
        # Edm.DateTime: 2026-03-31T22:00Z, midnight of 1 April in Berlin
        ("/Date(1774994400000)/", datetime(2026, 3, 31, 22, tzinfo=UTC), date(2026, 4, 1)),
        # Edm.DateTimeOffset: the same instant
        ("/Date(1774994400000+0000)/", datetime(2026, 3, 31, 22, tzinfo=UTC), date(2026, 4, 1)),
        # a time of day: 21:59:59Z is 23:59:59 in Berlin, still 31 March
        ("/Date(1774994399000)/", datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC), date(2026, 3, 31)),
    ],
)
def test_both_documented_date_forms_become_the_day_in_sap_mc_s_zone(
    value: str, instant: datetime, day: date
) -> None:
    campaign = parse_campaign(
        _item(CampaignStartDate=value, CreationDateTime=value), ZoneInfo("Europe/Berlin")
    )
    assert campaign.start == day
    assert campaign.created == instant and campaign.created.tzinfo is UTC


def test_the_feed_splits_results_next_and_count() -> None:
    feed = parse_feed({"d": {"results": [{}], "__next": " https://x/n ", "__count": "12"}})
    assert (feed.results, feed.next_url, feed.count) == ([{}], "https://x/n", 12)
    assert parse_feed({"d": [{}, {}]}).count is None
    with pytest.raises(SapmcBadPayloadError, match="d.results must be a list"):
        parse_feed({"d": {"results": "no"}})


def test_the_client_re_exports_the_payload_types_and_errors() -> None:
    assert client.parse_campaign is parse_campaign
    assert client.SapmcBadPayloadError is SapmcBadPayloadError
