"""Seeded, deterministic SAP MC campaigns linked to a Khoros data set (for the SAP MC simulator)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulators.khoros_data import KhorosData, Plan
from simulators.sap_length import utf16_cut, utf16_length

# Customer configuration in a real tenant (the bridge reads them from settings): these are the
# values of the demo tenant. CampaignCategory is at most 3 characters (SAP's own codes look like
# "A1"); customer-defined ones conventionally start with Y or Z: Z01 files the Khoros external
# campaigns (the default of SAPMC_CAMPAIGN_CATEGORY), Z02 the tenant's email campaigns.
KHOROS_CATEGORY = "Z01"
OTHER_CATEGORY = "Z02"
CATEGORIES: dict[str, str] = {
    KHOROS_CATEGORY: "Khoros External Campaign",
    OTHER_CATEGORY: "Email Campaign",
}
MEDIA_TYPES: dict[str, str] = {"SOCIAL": "Social Media", "EMAIL": "Email"}
MARKETING_AREAS: dict[str, str] = {"CXXGLOBAL": "Global Marketing", "CXXUS": "US Marketing"}
# SAP user names (at most 12 characters) and the full names SAP MC shows for them.
USERS: dict[str, str] = {
    "MKT_MANAGER": "Marketing Manager",
    "JSMITH": "John Smith",
    "AMUELLER": "Anna Mueller",
    "LCHEN": "Li Chen",
    "PDUBOIS": "Pierre Dubois",
}
LIFECYCLE_STATUSES: dict[str, str] = {
    "1": "In Preparation",
    "2": "Released",
    "3": "Stopped",
    "4": "Completed",
}
KHOROS_APP_URL = "https://app.spredfast.com"
FIRST_CAMPAIGN_ID = 1_000_001
# Every fifth finished campaign was stopped rather than run to its end.
STOPPED_EVERY = 5
# Reference UUIDs derive from (campaign, plan): setting the same references twice is a no-op.
_REFERENCE_NAMESPACE = uuid.UUID("5f0c8f2e-4c1b-4f7e-9a53-7d0e9e5b7c11")

# Maximum lengths of sapmc-api.md part 2 (and of the inbound contract for the two names).
CAMPAIGN_MAX_LENGTHS: dict[str, int] = {
    "campaign_id": 10,
    "name": 40,
    "description": 1000,
    "lifecycle_status": 1,
    "category": 3,
    "media_type": 40,
    "marketing_area": 40,
    "owner": 12,
}
REFERENCE_MAX_LENGTHS: dict[str, int] = {
    "external_campaign_id": 32,
    "name": 255,
    "url": 1000,
    "advertiser": 32,
    "advertiser_name": 255,
    "managing_party": 32,
    "managing_party_name": 255,
}

_KHOROS_THEMES = (
    "Awareness Wave", "Launch Burst", "Always On", "Seasonal Push", "Community Boost",
    "Retargeting", "Influencer Sprint", "Customer Voices",
)  # fmt: skip
_OTHER_THEMES = (
    "Newsletter", "Win-back Mailing", "Welcome Series", "Event Invitation", "Survey Follow-up",
)  # fmt: skip
_OWNERS = tuple(USERS)
_AREAS = tuple(MARKETING_AREAS)


@dataclass(frozen=True)
class Reference:
    """One ExternalCampaignReferences entity: a Khoros Plan linked to a campaign."""

    external_campaign_uuid: str
    campaign_uuid: str
    external_campaign_id: str
    name: str
    url: str
    advertiser: str
    advertiser_name: str
    managing_party: str
    managing_party_name: str


@dataclass(frozen=True)
class Campaign:
    """One Campaigns entity; the category and status names come from the tenant's tables."""

    uuid: str  # lower-case canonical
    campaign_id: str
    name: str
    description: str
    start_date: date | None
    end_date: date | None
    lifecycle_status: str
    category: str
    media_type: str
    marketing_area: str
    owner: str
    created: datetime  # aware UTC, millisecond precision
    changed: datetime
    references: tuple[Reference, ...] = ()


CAMPAIGN_FIELDS = frozenset(f.name for f in fields(Campaign))


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def _to_ms_precision(instant: datetime) -> datetime:
    # The wire carries milliseconds: keep the model exactly what a client can read back.
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def plan_reference(
    khoros: KhorosData, campaign_uuid: str, plan: Plan, *, reference_uuid: str | None = None
) -> Reference:
    """Build the reference SAP MC holds for a Khoros Plan assigned to a campaign."""
    initiative = khoros.initiative(plan.initiative_id)
    return Reference(
        external_campaign_uuid=reference_uuid
        or str(uuid.uuid5(_REFERENCE_NAMESPACE, f"{campaign_uuid}:{plan.id}")),
        campaign_uuid=campaign_uuid,
        external_campaign_id=plan.id.replace("-", ""),
        name=utf16_cut(plan.name, 255),
        url=f"{KHOROS_APP_URL}/app/#/conversations/initiative/{plan.initiative_id}/plan/{plan.id}",
        advertiser=khoros.company_id,
        advertiser_name=utf16_cut(khoros.company_name, 255),
        managing_party=plan.initiative_id,
        managing_party_name=utf16_cut(initiative.name if initiative else "", 255),
    )


def check_lengths(campaign: Campaign) -> None:
    """Raise ValueError when a field is longer than the API allows (in UTF-16 units, as SAP)."""
    for name, limit in CAMPAIGN_MAX_LENGTHS.items():
        if utf16_length(getattr(campaign, name)) > limit:
            raise ValueError(f"{name} is longer than {limit} UTF-16 code units")
    for reference in campaign.references:
        for name, limit in REFERENCE_MAX_LENGTHS.items():
            if utf16_length(getattr(reference, name)) > limit:
                raise ValueError(f"reference {name} is longer than {limit} UTF-16 code units")


@dataclass
class SapmcData:
    """The campaigns of one SAP MC tenant, some of them linked to the Plans of `khoros`."""

    seed: int
    khoros: KhorosData
    today: date
    # The tenant's time zone: campaign start and end dates are midnight there (as instants).
    timezone: str = "UTC"
    categories: dict[str, str] = field(default_factory=lambda: dict(CATEGORIES))
    lifecycle_statuses: dict[str, str] = field(default_factory=lambda: dict(LIFECYCLE_STATUSES))
    _campaigns: dict[str, Campaign] = field(default_factory=dict, repr=False)

    @classmethod
    def generate(
        cls,
        khoros: KhorosData | None = None,
        campaigns_per_initiative: int = 3,
        other_category: int = 5,
        seed: int = 1,
        today: date | None = None,
        timezone: str = "UTC",
    ) -> SapmcData:
        """Build a deterministic tenant over the Initiatives and Plans of khoros."""
        # campaigns_per_initiative Khoros campaigns per Initiative, dated over its Plans, every
        # third one referencing some of them; other_category EMAIL campaigns around today.
        if campaigns_per_initiative < 0 or other_category < 0:
            raise ValueError("campaign counts must not be negative")
        khoros = khoros if khoros is not None else KhorosData.generate(seed=seed)
        ZoneInfo(timezone)  # an unknown zone fails here, not on the first request
        data = cls(seed=seed, khoros=khoros, today=today or khoros.today, timezone=timezone)
        rng = random.Random(f"sapmc:{seed}")
        khoros_index = 0
        for initiative in khoros.initiatives:
            plans = sorted(
                khoros.plans_for_initiative(initiative.id), key=lambda p: (p.start_date, p.seq)
            )
            taken: set[str] = set()  # a Plan belongs to at most one campaign
            for k in range(campaigns_per_initiative):
                # Contiguous slices of the Initiative's Plans give each campaign its dates.
                low = k * len(plans) // campaigns_per_initiative
                high = (k + 1) * len(plans) // campaigns_per_initiative
                chunk = plans[low:high]
                linked: list[Plan] = []
                if khoros_index % 3 == 0:
                    # Every third campaign references Plans of its slice, or any free Plan of
                    # the Initiative when there are more campaigns than Plans.
                    free = [p for p in chunk if p.id not in taken]
                    free = free or [p for p in plans if p.id not in taken][:1]
                    linked = rng.sample(free, k=min(len(free), rng.randint(1, 3)))
                    linked.sort(key=lambda p: p.seq)
                    taken.update(p.id for p in linked)
                theme = _KHOROS_THEMES[(khoros_index + k) % len(_KHOROS_THEMES)]
                campaign = data._generated_campaign(
                    rng,
                    name=f"{initiative.name}: {theme}",
                    description=f"{theme} for the {initiative.name} Initiative on social media.",
                    category=KHOROS_CATEGORY,
                    media_type="SOCIAL",
                    plans=chunk + [p for p in linked if p not in chunk],
                    index=khoros_index,
                )
                campaign = replace(
                    campaign,
                    references=tuple(plan_reference(khoros, campaign.uuid, p) for p in linked),
                )
                data._campaigns[campaign.uuid] = campaign
                khoros_index += 1
        for n in range(other_category):
            theme = _OTHER_THEMES[n % len(_OTHER_THEMES)]
            campaign = data._generated_campaign(
                rng,
                name=f"{theme} {n + 1}",
                description=f"{theme} to the newsletter subscribers.",
                category=OTHER_CATEGORY,
                media_type="EMAIL",
                plans=[],
                index=n,
            )
            data._campaigns[campaign.uuid] = campaign
        return data

    def _generated_campaign(
        self,
        rng: random.Random,
        *,
        name: str,
        description: str,
        category: str,
        media_type: str,
        plans: list[Plan],
        index: int,
    ) -> Campaign:
        if plans:
            start = min(p.start_date for p in plans) - timedelta(days=rng.randint(0, 7))
            end = max(p.end_date for p in plans) + timedelta(days=rng.randint(0, 7))
        else:
            start = self.today + timedelta(days=rng.randint(-60, 45))
            end = start + timedelta(days=rng.randint(7, 60))
        created = datetime.combine(start, time(), UTC) - timedelta(
            days=rng.randint(5, 40), milliseconds=rng.randint(0, 86_399_999)
        )
        changed = created + timedelta(days=rng.randint(0, 4), milliseconds=rng.randint(0, 10**7))
        campaign = Campaign(
            uuid=_uuid4(rng),
            campaign_id=str(FIRST_CAMPAIGN_ID + len(self._campaigns)),
            name=utf16_cut(name, 40).rstrip(),
            description=description,
            start_date=start,
            end_date=end,
            lifecycle_status=self._status_for(start, end, index),
            category=category,
            media_type=media_type,
            marketing_area=_AREAS[index % len(_AREAS)],
            owner=rng.choice(_OWNERS),
            created=created,
            changed=changed,
        )
        check_lengths(campaign)
        return campaign

    def _status_for(self, start: date, end: date, index: int) -> str:
        if start > self.today:
            return "1"
        if end < self.today:
            return "3" if index % STOPPED_EVERY == STOPPED_EVERY - 1 else "4"
        return "2"

    # Reads ---------------------------------------------------------------------------------

    @property
    def campaigns(self) -> list[Campaign]:
        return list(self._campaigns.values())

    def campaign(self, campaign_uuid: str) -> Campaign | None:
        return self._campaigns.get(campaign_uuid.lower())

    def campaigns_of_category(self, category: str) -> list[Campaign]:
        return [c for c in self._campaigns.values() if c.category == category]

    @property
    def references(self) -> list[Reference]:
        return [r for c in self._campaigns.values() for r in c.references]

    def category_name(self, code: str) -> str:
        return self.categories.get(code, "")

    def lifecycle_status_name(self, code: str) -> str:
        return self.lifecycle_statuses.get(code, "")

    def media_type_name(self, code: str) -> str:
        return MEDIA_TYPES.get(code, code.title())

    def marketing_area_name(self, code: str) -> str:
        return MARKETING_AREAS.get(code, code)

    def user_name(self, user: str) -> str:
        return USERS.get(user, user)

    # Writes (used by the simulator's mutation helpers) -----------------------------------------

    def clone(self) -> SapmcData:
        """Independent copy: campaigns are immutable and Khoros data is only read."""
        return replace(
            self,
            categories=dict(self.categories),
            lifecycle_statuses=dict(self.lifecycle_statuses),
            _campaigns=dict(self._campaigns),
        )

    def add_campaign(self, *, now: datetime, **values: Any) -> Campaign:
        """Append a campaign; defaults: a Khoros campaign in preparation over the next 30 days."""
        unknown = set(values) - CAMPAIGN_FIELDS
        if unknown:
            raise TypeError(f"unknown campaign field(s) {sorted(unknown)}")
        seq = len(self._campaigns)
        next_id = max((int(c.campaign_id) for c in self.campaigns if c.campaign_id.isdigit()),
                      default=FIRST_CAMPAIGN_ID - 1) + 1  # fmt: skip
        created = _to_ms_precision(now.astimezone(UTC))
        defaults: dict[str, Any] = {
            "uuid": _uuid4(random.Random(f"sapmc:{self.seed}:add:{seq}")),
            "campaign_id": str(next_id),
            "name": f"New campaign {seq + 1}",
            "description": "",
            "start_date": self.today,
            "end_date": self.today + timedelta(days=29),
            "lifecycle_status": "1",
            "category": KHOROS_CATEGORY,
            "media_type": "SOCIAL",
            "marketing_area": _AREAS[0],
            "owner": _OWNERS[0],
            "created": created,
            "changed": created,
            "references": (),
        }
        campaign = Campaign(**{**defaults, **values})
        campaign = replace(campaign, uuid=_canonical_uuid(campaign.uuid).lower())
        if campaign.uuid in self._campaigns:
            raise ValueError(f"campaign {campaign.uuid} already exists")
        check_lengths(campaign)
        self._campaigns[campaign.uuid] = campaign
        return campaign

    def update_campaign(self, campaign_uuid: str, *, now: datetime, **values: Any) -> Campaign:
        """Replace fields of a campaign; LastChangeDateTime moves to now unless given."""
        refused = (set(values) - CAMPAIGN_FIELDS) | ({"uuid"} & set(values))
        if refused:
            raise TypeError(f"cannot set campaign field(s) {sorted(refused)}")
        campaign = self._require(campaign_uuid)
        values.setdefault("changed", _to_ms_precision(now.astimezone(UTC)))
        campaign = replace(campaign, **values)
        check_lengths(campaign)
        self._campaigns[campaign.uuid] = campaign
        return campaign

    def remove_campaign(self, campaign_uuid: str) -> Campaign:
        campaign = self._require(campaign_uuid)
        del self._campaigns[campaign.uuid]
        return campaign

    def set_references(self, campaign_uuid: str, plan_ids: list[str], *, now: datetime) -> Campaign:
        """Link the campaign to exactly these Khoros Plans (ids with or without hyphens)."""
        campaign = self._require(campaign_uuid)
        references = []
        for plan_id in plan_ids:
            plan = self.khoros.plan(_canonical_uuid(plan_id))
            if plan is None:
                raise KeyError(f"unknown Khoros plan {plan_id}")
            references.append(plan_reference(self.khoros, campaign.uuid, plan))
        return self.update_campaign(campaign.uuid, now=now, references=tuple(references))

    def _require(self, campaign_uuid: str) -> Campaign:
        campaign = self._campaigns.get(str(campaign_uuid).lower())
        if campaign is None:
            raise KeyError(f"unknown campaign {campaign_uuid}")
        return campaign
