"""The one builder of data at scale (thousands of Plans and campaigns) for tests that count
queries or page sizes against a big mirror.

Plans and campaigns spread over `spread` days from `start`; Plan i belongs to
`initiatives[i % len(initiatives)]`; every `assign_step`-th Plan below `assign_below` is
assigned to campaign `assign_to(i)`. Rows are made with tests.world's make_plan/make_campaign,
so they look like the synced ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import Initiative, Plan
from sapmc.models import ExternalCampaign
from tests.world import make_campaign, make_plan

BATCH = 1000


@dataclass
class Scale:
    plans: list[Plan]
    campaigns: list[ExternalCampaign]


def scale_initiatives(count: int, *, first_id: int) -> list[Initiative]:
    now = timezone.now()
    return Initiative.objects.bulk_create(
        Initiative(khoros_id=str(first_id + i), name=f"Scale {i}", first_seen=now, last_seen=now)
        for i in range(count)
    )


def build_scale(
    *,
    initiatives: Sequence[Initiative],
    plans: int,
    campaigns: int,
    first_campaign_id: int,
    plan_name: str = "Plan {}",
    campaign_name: str = "Campaign {}",
    start: date = date(2026, 1, 1),
    spread: int,
    plan_days: int,
    campaign_days: int,
    assign_step: int,
    assign_below: int,
    assign_to: Callable[[int], int],
) -> Scale:
    now = timezone.now()
    plan_rows = Plan.objects.bulk_create(
        [
            make_plan(
                initiatives[i % len(initiatives)],
                plan_name.format(i),
                start + timedelta(days=i % spread),
                start + timedelta(days=i % spread + plan_days),
            )
            for i in range(plans)
        ],
        batch_size=BATCH,
    )
    campaign_rows = ExternalCampaign.objects.bulk_create(
        [
            make_campaign(
                campaign_name.format(i),
                start + timedelta(days=i % spread),
                start + timedelta(days=i % spread + campaign_days),
                campaign_id=str(first_campaign_id + i),
            )
            for i in range(campaigns)
        ],
        batch_size=BATCH,
    )
    Assignment.objects.bulk_create(
        [
            Assignment(plan=plan_rows[i], campaign=campaign_rows[assign_to(i)], assigned_at=now)
            for i in range(0, assign_below, assign_step)
        ],
        batch_size=BATCH,
    )
    return Scale(plans=plan_rows, campaigns=campaign_rows)
