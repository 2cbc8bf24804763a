"""What the success push plans to send, against the rule it has always followed, and what that
planning reads: the days due, not every day ever sent."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import Company, Plan, PlanKpi
from sapmc import client as sapmc
from sapmc.models import ExternalCampaign, SuccessSent
from sapmc.payloads import EXTERNAL_NAME_LENGTH, PARTY_LENGTH, PARTY_NAME_LENGTH
from sapmc.push import (
    COMMUNICATION_MEDIUM,
    Due,
    PushPlan,
    assigned_plans,
    numbers_hash,
    numbers_of,
    plan_push,
    settled_before,
    unsettled_at_removal,
)
from sapmc.sap_length import sap_cut
from sapmc.selectors import campaigns_with_pushes_of_unknown_outcome
from tests.world import make_campaign, make_plan

pytestmark = pytest.mark.django_db

ZONE, CODE = "Europe/Berlin", "CET"
TODAY = date(2026, 3, 20)
BIG = 2**63 - 1  # PositiveBigIntegerField's largest
# The numbers a Success carries (sapmc.push.numbers_of), PlanKpi's fields of those names.
NUMBER_FIELDS = ("impressions", "clicks", "engagements", "video_views", "reach")


@pytest.fixture
def company(settings):
    settings.SAPMC_SUCCESS_SETTLE_DAYS = 7
    settings.KHOROS_COMPANY_ID = "389"
    settings.SAPMC_CAMPAIGN_CATEGORY = "Z01"
    return Company.objects.create(khoros_id="389", name="Acme", last_seen=timezone.now())


def old_rule(*, today: date, zone: str, timezone_code: str) -> PushPlan:
    """The push's planning as it was written first: every KPI day of the assigned Plans read
    with its Plan, every ledger row of theirs in a dict, each day judged in Python."""
    result = PushPlan()
    assigned = assigned_plans()
    if not assigned:
        return result
    campaigns = ExternalCampaign.objects.in_bulk(set(assigned.values()))
    company = Company.objects.filter(khoros_id=settings.KHOROS_COMPANY_ID).first()
    company_name = sap_cut(company.name, PARTY_NAME_LENGTH) if company else ""
    ledger = {
        (plan_id, day): (status, digest)
        for plan_id, day, status, digest in SuccessSent.objects.filter(
            plan_id__in=assigned
        ).values_list("plan_id", "day", "status", "numbers_hash")
    }
    cutoff = settled_before(today)
    zone_info = ZoneInfo(zone)
    kpis = (
        PlanKpi.objects.filter(plan_id__in=assigned)
        .select_related("plan__initiative")
        .order_by("plan_id", "day")
    )
    for kpi in kpis:
        numbers = numbers_of(kpi)
        status, digest = ledger.get((kpi.plan_id, kpi.day), (None, None))
        if status == SuccessSent.Status.CREATED:
            result.already_sent += 1
            if digest != numbers_hash(numbers):
                result.changed_after_sending += 1
            continue
        if status == SuccessSent.Status.UNKNOWN:
            result.unknown += 1
            continue
        removed_at = kpi.plan.removed_at
        if removed_at is not None and kpi.day >= unsettled_at_removal(removed_at, zone_info):
            result.removed_plan += 1
            continue
        if PlanKpi.counted_elsewhere(kpi.timezone, zone):
            result.other_zone += 1
            continue
        if kpi.day >= cutoff:
            result.waiting += 1
            continue
        campaign = campaigns.get(assigned[kpi.plan_id])
        if campaign is None or campaign.removed_at is not None:
            continue
        plan = kpi.plan
        row = sapmc.SuccessRow(
            campaign_uuid=str(campaign.sap_uuid),
            campaign_id=campaign.campaign_id,
            campaign_category=campaign.category or settings.SAPMC_CAMPAIGN_CATEGORY,
            external_campaign_id=plan.khoros_id.hex,
            external_campaign_name=sap_cut(plan.name, EXTERNAL_NAME_LENGTH),
            advertiser=sap_cut(settings.KHOROS_COMPANY_ID, PARTY_LENGTH),
            advertiser_name=company_name,
            managing_party=sap_cut(plan.initiative.khoros_id, PARTY_LENGTH),
            managing_party_name=sap_cut(plan.initiative.name, PARTY_NAME_LENGTH),
            day=kpi.day,
            timezone=timezone_code,
            impressions=kpi.impressions,
            clicks=kpi.clicks,
            post_engagements=kpi.engagements,
            video_views=kpi.video_views,
            reach=kpi.reach,
            communication_medium=COMMUNICATION_MEDIUM,
        )
        result.due.append(Due(row, kpi.plan_id, campaign.pk, numbers))
    return result


def _summary(plan: PushPlan) -> tuple:
    counts = (
        plan.already_sent, plan.changed_after_sending, plan.waiting, plan.unknown,
        plan.other_zone, plan.removed_plan,
    )  # fmt: skip
    return counts, [(d.plan_id, d.campaign_id, d.row, d.numbers) for d in plan.due]


def _random_numbers(rng: random.Random) -> dict[str, int]:
    return {
        name: rng.choice([0, 1, rng.randrange(10**6), rng.randrange(10**12), BIG])
        for name in NUMBER_FIELDS
    }


def _random_history(rng: random.Random, world) -> None:
    """Plans assigned to listed and removed campaigns (some unassigned, some removed in Khoros
    around midnight in Berlin), their days in the company's zone, none or another one, and a
    ledger of created rows (numbers as sent or changed since), refused and unknown ones."""
    now = timezone.now()
    campaigns = [*world.campaigns]  # the last one SAP MC no longer lists
    plans = [*world.plans]
    for i in range(rng.randrange(4, 9)):
        removed_at = None
        if rng.random() < 0.4:
            # Between 25 days ago and today, near a Berlin midnight or not.
            removed_at = datetime(2026, 3, 20, 22, 30, tzinfo=UTC) - timedelta(
                days=rng.randrange(25), minutes=rng.choice([0, 45, 90, 600])
            )
        plans.append(
            make_plan(world.initiatives[i % 3], f"Plan {i}", date(2026, 1, 1), TODAY,
                      removed_at=removed_at)
        )  # fmt: skip
    Plan.objects.bulk_create(plans[len(world.plans) :])
    kpis, ledger = [], []
    for plan in plans:
        if rng.random() < 0.85:
            Assignment.objects.create(plan=plan, campaign=rng.choice(campaigns), assigned_at=now)
        first = TODAY - timedelta(days=rng.randrange(1, 40))
        for day in (first + timedelta(days=d) for d in range(rng.randrange(1, 45))):
            numbers = _random_numbers(rng)
            zone = rng.choices(["", ZONE, "America/New_York"], weights=[2, 6, 1])[0]
            kpis.append(PlanKpi(plan=plan, day=day, timezone=zone, updated_at=now, **numbers))
            roll = rng.random()
            if roll < 0.45:
                continue  # never sent
            status = rng.choices(
                [SuccessSent.Status.CREATED, SuccessSent.Status.REFUSED,
                 SuccessSent.Status.UNKNOWN],
                weights=[7, 1, 1],
            )[0]  # fmt: skip
            sent = numbers if rng.random() < 0.7 else _random_numbers(rng)
            digest = numbers_hash(sent) if rng.random() < 0.9 else rng.choice(["", "x"])
            ledger.append(
                SuccessSent(plan=plan, day=day, campaign=rng.choice(campaigns), status=status,
                            sent_at=now, numbers=sent, numbers_hash=digest)
            )  # fmt: skip
    PlanKpi.objects.bulk_create(kpis)
    SuccessSent.objects.bulk_create(ledger)


@pytest.mark.parametrize("seed", range(8))
def test_the_days_planned_and_counted_follow_the_old_rule_over_random_histories(
    company, world, seed
):
    rng = random.Random(seed)
    _random_history(rng, world)
    today = TODAY + timedelta(days=rng.randrange(-3, 4))

    planned = plan_push(today=today, zone=ZONE, timezone_code=CODE)

    expected = old_rule(today=today, zone=ZONE, timezone_code=CODE)
    assert _summary(planned) == _summary(expected)
    # The histories hold every case the rule tells apart.
    counts, due = _summary(expected)
    assert due and all(counts[:5]), counts


def test_the_database_hashes_the_numbers_as_the_ledger_does(company, world):
    from sapmc.push import _numbers_hash_sql

    plan = world.plans[0]
    rows = [
        dict.fromkeys(NUMBER_FIELDS, 0),
        dict.fromkeys(NUMBER_FIELDS, BIG),
        {"impressions": 1, "clicks": 22, "engagements": 333, "video_views": 4444, "reach": BIG},
    ]
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=date(2026, 3, 1 + i), updated_at=timezone.now(), **numbers)
        for i, numbers in enumerate(rows)
    )
    hashed = PlanKpi.objects.annotate(digest=_numbers_hash_sql()).order_by("day")
    assert [kpi.digest for kpi in hashed] == [numbers_hash(numbers) for numbers in rows]


@contextmanager
def rows_fetched() -> Iterator[list[int]]:
    """How many rows the database handed over, whatever reads them (ORM, values, iterator)."""
    fetched = [0]

    def counting(name: str):
        def fetch(self, *args):
            rows = getattr(self.cursor, name)(*args)
            if name == "fetchone":
                fetched[0] += rows is not None
            else:
                fetched[0] += len(rows)
            return rows

        return fetch

    with mock.patch.multiple(
        CursorWrapper,
        create=True,
        fetchone=counting("fetchone"),
        fetchmany=counting("fetchmany"),
        fetchall=counting("fetchall"),
    ):
        yield fetched


def _sent_history(plan: Plan, campaign, first: date, days: int) -> None:
    """`days` days from `first` on, each sent and created in SAP MC."""
    now = timezone.now()
    numbers = dict.fromkeys(NUMBER_FIELDS, 5)
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=first + timedelta(days=d), timezone=ZONE, updated_at=now, **numbers)
        for d in range(days)
    )  # fmt: skip
    SuccessSent.objects.bulk_create(
        SuccessSent(plan=plan, day=first + timedelta(days=d), campaign=campaign,
                    status=SuccessSent.Status.CREATED, sent_at=now, numbers=numbers,
                    numbers_hash=numbers_hash(numbers))
        for d in range(days)
    )  # fmt: skip


def test_planning_reads_the_days_due_not_the_history_sent(company, world):
    """A year of days sent costs the planning nothing it reads: the same queries and the same
    rows handed over as with a fortnight, for the same days due."""
    spring = world.campaigns[0]
    plans = [world.plans[0], world.plans[2]]
    for plan in plans:
        Assignment.objects.create(plan=plan, campaign=spring, assigned_at=timezone.now())
    cutoff = settled_before(TODAY)
    # Due: two settled days never sent; waiting: the unsettled days after them.
    for plan in plans:
        PlanKpi.objects.bulk_create(
            PlanKpi(plan=plan, day=cutoff - timedelta(days=2 - d), timezone=ZONE,
                    impressions=d, updated_at=timezone.now())
            for d in range(5)
        )  # fmt: skip
    _sent_history(plans[0], spring, cutoff - timedelta(days=16), 14)

    with rows_fetched() as fortnight, CaptureQueriesContext(connection) as before:
        short = plan_push(today=TODAY, zone=ZONE, timezone_code=CODE)
    _sent_history(plans[0], spring, cutoff - timedelta(days=381), 365)
    _sent_history(plans[1], spring, cutoff - timedelta(days=381), 379)
    with rows_fetched() as year, CaptureQueriesContext(connection) as after:
        long = plan_push(today=TODAY, zone=ZONE, timezone_code=CODE)

    assert (len(short.due), short.already_sent) == (4, 14)
    assert (len(long.due), long.already_sent, long.waiting) == (4, 14 + 365 + 379, 6)
    assert [d.row for d in long.due] == [d.row for d in short.due]
    assert len(after.captured_queries) == len(before.captured_queries)
    assert year[0] == fortnight[0]


@pytest.mark.parametrize("seed", range(4))
def test_the_dashboard_lists_the_campaigns_with_most_rows_of_unknown_outcome(
    world, seed, django_assert_num_queries
):
    """The campaigns counted from the rows of unknown outcome alone: the same list, counts and
    order (most rows, then name, then key) as counting each campaign's ledger."""
    rng = random.Random(seed)
    # Names shared by several campaigns: the same count is ordered by name, then key.
    campaigns = world.campaigns + ExternalCampaign.objects.bulk_create(
        make_campaign(f"Campaign {rng.randrange(8):02d}", None, None, campaign_id=f"C{i}")
        for i in range(14)
    )
    now = timezone.now()
    statuses = [SuccessSent.Status.CREATED, SuccessSent.Status.REFUSED, SuccessSent.Status.UNKNOWN]
    rows = [
        SuccessSent(plan=plan, day=date(2026, 1, 1) + timedelta(days=d),
                    campaign=rng.choice(campaigns),
                    status=rng.choices(statuses, weights=[6, 1, 2])[0], sent_at=now,
                    numbers_hash="x")
        for plan in world.plans
        for d in range(rng.randrange(5, 40))
    ]  # fmt: skip
    SuccessSent.objects.bulk_create(rows)
    unknown = Counter(r.campaign_id for r in rows if r.status == SuccessSent.Status.UNKNOWN)
    by_pk = {c.pk: c for c in campaigns}
    expected = sorted(unknown, key=lambda pk: (-unknown[pk], by_pk[pk].name, pk))

    assert len(set(unknown.values())) < len(unknown)  # ties, ordered by name
    for limit in (3, 10, 100):
        with django_assert_num_queries(1):
            listed = campaigns_with_pushes_of_unknown_outcome(limit=limit)
        assert [(c.pk, c.unknown) for c in listed] == [(pk, unknown[pk]) for pk in expected[:limit]]
