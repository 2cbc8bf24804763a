"""A small mirrored world for the human side: Initiatives, Plans, campaigns and three people."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS, InitiativeGrant
from khoros.models import Initiative, KpiExport, Plan
from sapmc.models import ExternalCampaign


@dataclass
class World:
    initiatives: list[Initiative]
    plans: list[Plan]
    campaigns: list[ExternalCampaign]
    admin: object
    maria: object  # manager of initiatives[0]
    tom: object  # manager of initiatives[1]


def make_plan(initiative: Initiative, name: str, first: date, last: date, **extra) -> Plan:
    now = timezone.now()
    return Plan(
        khoros_id=uuid.uuid4(),
        initiative=initiative,
        name=name,
        color="#1a7293",
        start=datetime(first.year, first.month, first.day, 6, tzinfo=UTC),
        end=datetime(last.year, last.month, last.day, 23, 59, tzinfo=UTC),
        start_day=first,
        end_day=last,
        first_seen=now,
        last_seen=now,
        **extra,
    )


def make_campaign(name: str, first: date | None, last: date | None, **extra) -> ExternalCampaign:
    now = timezone.now()
    defaults = {
        "campaign_id": name[:10].upper(),
        "lifecycle_status": "2",
        "lifecycle_status_name": "Released",
    }
    return ExternalCampaign(
        sap_uuid=uuid.uuid4(),
        name=name,
        start=first,
        end=last,
        first_seen=now,
        last_seen=now,
        **{**defaults, **extra},
    )


def kpi_days_counted_in(zone: str, plan: Plan, first: date, days: int, base: int = 100) -> None:
    """Daily KPIs of `plan` from `first` on, written as the KPI sync writes an export it asked
    for in `zone`: the days are that zone's (impressions base, base + 1, ...; 1 of the rest)."""
    from khoros import kpis

    stop = first + timedelta(days=days)
    export = KpiExport.objects.create(
        start=first, stop=stop, timezone=zone, plan_ids=[str(plan.khoros_id)],
        requested_at=timezone.now(), state=KpiExport.State.COMPLETE,
    )  # fmt: skip
    sums = kpis.KpiSums(
        plans={str(plan.khoros_id): plan.pk}, zone=ZoneInfo(zone), start=first, stop=stop,
        field_ids={}, catalogue=dict,
    )  # fmt: skip
    for i in range(days):
        sums.sums[(plan.pk, first + timedelta(days=i))] = [
            base + i if name == "impressions" else 1 for name in kpis.METRICS
        ]
    sums.rows_read, sums.verified = days, True
    kpis.kpis_write(export=export, sums=sums, plan_pks=[plan.pk], now=timezone.now())


# The world of the data that tests.scale builds once, while that data lives: the tests sharing
# it get this one world instead of a new one each.
shared: World | None = None


@pytest.fixture
def world(request: pytest.FixtureRequest, django_user_model) -> World:
    if shared is not None:
        from tests.scale import uses_shared_data

        if not uses_shared_data(request.node):
            raise RuntimeError(f"{request.node.nodeid} runs beside shared data")
        return shared
    return build_world(django_user_model)


def build_world(django_user_model) -> World:
    now = timezone.now()
    initiatives = [
        Initiative.objects.create(
            khoros_id=str(1700 + i), name=f"Brand {i}", first_seen=now, last_seen=now
        )
        for i in range(3)
    ]
    plans = Plan.objects.bulk_create(
        [
            make_plan(initiatives[0], "Spring Sale social", date(2026, 3, 1), date(2026, 3, 31)),
            make_plan(initiatives[0], "Summer teaser", date(2026, 6, 1), date(2026, 6, 15)),
            make_plan(initiatives[1], "Spring Sale video", date(2026, 3, 10), date(2026, 4, 10)),
            make_plan(
                initiatives[1],
                "Autumn <script>alert(1)</script>",
                date(2026, 9, 1),
                date(2026, 9, 30),
            ),
            make_plan(initiatives[2], "Winter launch", date(2026, 12, 1), date(2026, 12, 31)),
            make_plan(
                initiatives[0],
                "Old removed plan",
                date(2026, 3, 1),
                date(2026, 3, 5),
                removed_at=now,
            ),
        ]
    )
    campaigns = ExternalCampaign.objects.bulk_create(
        [
            make_campaign(
                "Spring Sale 2026", date(2026, 3, 1), date(2026, 3, 31), campaign_id="100"
            ),
            make_campaign("Summer 2026", date(2026, 6, 1), date(2026, 8, 31), campaign_id="101"),
            make_campaign(
                "Autumn 2026",
                date(2026, 9, 1),
                date(2026, 11, 30),
                campaign_id="102",
                lifecycle_status="1",
                lifecycle_status_name="In Preparation",
            ),
            make_campaign(
                "Cancelled", date(2026, 3, 1), date(2026, 3, 31), campaign_id="103", removed_at=now
            ),
        ]
    )
    admin = django_user_model.objects.create_user("alex", password="pw-alex-2026")
    admin.groups.add(Group.objects.get(name=SYNC_ADMINS))
    maria = django_user_model.objects.create_user("maria", password="pw-maria-2026")
    maria.groups.add(Group.objects.get(name=MARKETING_MANAGERS))
    InitiativeGrant.objects.create(user=maria, initiative=initiatives[0])
    tom = django_user_model.objects.create_user("tom", password="pw-tom-2026")
    tom.groups.add(Group.objects.get(name=MARKETING_MANAGERS))
    InitiativeGrant.objects.create(user=tom, initiative=initiatives[1])
    return World(initiatives, plans, campaigns, admin, maria, tom)
