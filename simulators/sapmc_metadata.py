"""SAP MC campaign service's metadata: the EDMX (served as $metadata), its entity types and
property lists, and the EDMX-true property values of the seeded campaigns and references."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulators.sapmc_data import Campaign, Reference, SapmcData

NAMESPACE = "API_MKT_CAMPAIGN_SRV"

# Entity types: read from SAP's EDMX, which is also served as $metadata ---------------------------

# A copy of tests/contracts/sapmc/API_MKT_CAMPAIGN_SRV.xml (SAP API Business Hub): the simulator
# serves the real service document, and every property, type, length and key comes from it.
METADATA_FILE = Path(__file__).with_name("API_MKT_CAMPAIGN_SRV.xml")
_EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
_SAP = "{http://www.sap.com/Protocols/SAPData}"


@dataclass(frozen=True)
class EdmProperty:
    name: str
    edm: str  # Edm.String, Edm.Guid, Edm.DateTime, Edm.DateTimeOffset
    max_length: int | None = None
    nullable: bool = True
    label: str = ""
    filterable: bool = True


def _entity_type(name: str) -> tuple[tuple[EdmProperty, ...], tuple[str, ...], tuple[str, ...]]:
    """Return (properties, key names, navigation names) of an entity type of the EDMX."""
    root = ET.fromstring(METADATA_FILE.read_bytes())
    for node in root.iter(f"{_EDM}EntityType"):
        if node.get("Name") != name:
            continue
        properties = tuple(
            EdmProperty(
                name=p.get("Name", ""),
                edm=p.get("Type", ""),
                max_length=int(length) if (length := p.get("MaxLength")) else None,
                nullable=p.get("Nullable", "true") != "false",
                label=p.get(f"{_SAP}label", ""),
                filterable=p.get(f"{_SAP}filterable", "true") != "false",
            )
            for p in node.findall(f"{_EDM}Property")
        )
        keys = tuple(ref.get("Name", "") for ref in node.iter(f"{_EDM}PropertyRef"))
        navigation = tuple(n.get("Name", "") for n in node.findall(f"{_EDM}NavigationProperty"))
        return properties, keys, navigation
    raise LookupError(f"entity type {name} is not in {METADATA_FILE.name}")


CAMPAIGN_PROPERTIES, CAMPAIGN_KEYS, CAMPAIGN_NAVIGATION = _entity_type("Campaign")
REFERENCE_PROPERTIES, REFERENCE_KEYS, _ = _entity_type("ExternalCampaignReferenceEntityType")
ENTITY_SETS: tuple[str, ...] = tuple(
    node.get("Name", "")
    for node in ET.fromstring(METADATA_FILE.read_bytes()).iter(f"{_EDM}EntitySet")
)
CAMPAIGN_TYPE = f"{NAMESPACE}.Campaign"
REFERENCE_TYPE = f"{NAMESPACE}.ExternalCampaignReferenceEntityType"
REFERENCES = "ExternalCampaignReferences"


def campaign_values(campaign: Campaign, data: SapmcData) -> dict[str, Any]:
    """Python values of every Campaign property of the EDMX (dates as aware UTC datetimes)."""
    # Properties the tenant does not use carry SAP's empty values: null where the EDMX allows
    # it, "" for the names of what is not set.
    return {
        "CampaignID": campaign.campaign_id,
        "CampaignUUID": campaign.uuid,
        "CampaignName": campaign.name,
        "CampaignDescription": campaign.description,
        "CampaignScheduleDateTime": None,  # only recurring (scheduled) campaigns have one
        "CampaignExecutionFrqcyInterval": "",
        "CampaignExecutionFrqcyUnit": "",
        "MediaType": campaign.media_type,
        "MediaTypeName": data.media_type_name(campaign.media_type),
        "CampaignLifecycleStatus": campaign.lifecycle_status,
        "CampaignLifecycleStatusName": data.lifecycle_status_name(campaign.lifecycle_status),
        "CommunicationCategoryUUID": None,
        "CommunicationCategoryName": "",
        "MarketingProgramUUID": None,
        "MarketingProgramName": "",
        "CampaignPriority": "",
        "CampaignPriorityName": "",
        "MarketingArea": campaign.marketing_area,
        "MarketingAreaName": data.marketing_area_name(campaign.marketing_area),
        "CampaignCategory": campaign.category,
        "CampaignCategoryName": data.category_name(campaign.category),
        "CampaignStartDate": midnight(campaign.start_date, data.timezone),
        "CampaignEndDate": midnight(campaign.end_date, data.timezone),
        "CreationDateTime": campaign.created,
        "LastChangeDateTime": campaign.changed,
        "CampaignOwner": campaign.owner,
        "CampaignOwnerName": data.user_name(campaign.owner),
        "CreatedByUser": campaign.owner,
        "CreatedByUserName": data.user_name(campaign.owner),
        "LastChangeByUser": campaign.owner,
        "LastChangeByUserName": data.user_name(campaign.owner),
    }


def reference_values(reference: Reference) -> dict[str, Any]:
    return {
        "ExternalCampaignUUID": reference.external_campaign_uuid,
        "ExternalCampaignID": reference.external_campaign_id,
        "CampaignUUID": reference.campaign_uuid,
        "ExternalCampaignName": reference.name,
        "ExternalCampaignURL": reference.url,
        "Advertiser": reference.advertiser,
        "AdvertiserName": reference.advertiser_name,
        "ExternalCmpgnManagingParty": reference.managing_party,
        "ExternalCmpgnManagingPartyName": reference.managing_party_name,
    }


def midnight(day: date | None, zone: str = "UTC") -> datetime | None:
    """The instant SAP MC stores for a day: midnight in the tenant's zone, as aware UTC."""
    if day is None:
        return None
    return datetime.combine(day, clock_time(), ZoneInfo(zone)).astimezone(UTC)


def epoch_ms(instant: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (exact, no float rounding)."""
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def metadata_xml() -> str:
    """Return SAP's EDMX document of API_MKT_CAMPAIGN_SRV, as SAP serves it."""
    return METADATA_FILE.read_text(encoding="utf-8")
