"""The one builder of data at scale (thousands of Plans and campaigns) for tests that count
queries or page sizes against a big mirror.

Plans and campaigns spread over `spread` days from `start` (row i on day i % spread, or with
`even` on day i * spread // count, in order); Plan i belongs to
`initiatives[i % len(initiatives)]` and lasts `plan_days` (or `plan_days(i)`) days; every
`assign_step`-th Plan below `assign_below` is assigned to campaign `assign_to(i)`. Rows are made
with tests.world's make_plan/make_campaign, so they look like the synced ones. The tests and the
pages benchmark (bench/pages.py) build with it.

`built_once_per_module` makes such data a fixture that a module builds once for all its tests
and parametrized cases that use it, instead of once per test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

import tests.world
from campaigns.models import MARKETING_MANAGERS, SYNC_ADMINS, Assignment
from khoros.models import Initiative, Plan
from sapmc.models import ExternalCampaign
from tests.world import World, build_world, make_campaign, make_plan

BATCH = 1000
T = TypeVar("T")

# The names of the fixtures made by built_once_per_module.
SHARED: set[str] = set()


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
    even: bool = False,
    plan_days: int | Callable[[int], int],
    campaign_days: int,
    assign_step: int,
    assign_below: int,
    assign_to: Callable[[int], int],
) -> Scale:
    now = timezone.now()

    def day(i: int, count: int) -> date:
        return start + timedelta(days=i * spread // count if even else i % spread)

    def plan_length(i: int) -> int:
        return plan_days if isinstance(plan_days, int) else plan_days(i)

    plan_rows = Plan.objects.bulk_create(
        [
            make_plan(
                initiatives[i % len(initiatives)],
                plan_name.format(i),
                day(i, plans),
                day(i, plans) + timedelta(days=plan_length(i)),
            )
            for i in range(plans)
        ],
        batch_size=BATCH,
    )
    campaign_rows = ExternalCampaign.objects.bulk_create(
        [
            make_campaign(
                campaign_name.format(i),
                day(i, campaigns),
                day(i, campaigns) + timedelta(days=campaign_days),
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


def built_once_per_module(build: Callable[[World], T]) -> Any:
    """Make `build(world)` a fixture (of the same name) whose data a module builds only once.

    The world and the data are made in a transaction that stays open while the module's tests
    that use the fixture run, each in a savepoint of its own that is rolled back as usual, so
    every test sees the data as built; the transaction is rolled back after the last of them.
    The suite runs these tests after the module's other tests and together on one xdist worker
    (tests/conftest.py), and rolls the data back as soon as the next test does not use it: a test
    that does not ask for the data never sees it. They also share that world (tests.world).
    """
    SHARED.add(build.__name__)

    @pytest.fixture(scope="module", name=build.__name__)
    def fixture(django_db_setup: None, django_db_blocker: Any) -> Iterator[T]:
        with django_db_blocker.unblock(), transaction.atomic():
            for name in (SYNC_ADMINS, MARKETING_MANAGERS):  # a transactional test flushes them
                Group.objects.get_or_create(name=name)
            tests.world.shared = build_world(get_user_model())
            try:
                yield build(tests.world.shared)
            finally:
                tests.world.shared = None
                transaction.set_rollback(True)

    fixture.__doc__ = build.__doc__
    return fixture


def uses_shared_data(item: pytest.Item) -> bool:
    return not SHARED.isdisjoint(getattr(item, "fixturenames", ()))


def order_shared_data_tests(items: list[pytest.Item]) -> None:
    """Move the tests that share a module's data after the module's other tests and keep them on
    one xdist worker (--dist loadgroup), so that the data is built once."""
    by_module: dict[object, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(getattr(item, "module", None), []).append(item)
        if uses_shared_data(item):
            item.add_marker(pytest.mark.xdist_group(f"shared-data-{item.module.__name__}"))
    items[:] = [item for mod in by_module.values() for item in sorted(mod, key=uses_shared_data)]


def finish_shared_data(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Roll back the data `item` shared when the next test, of the same module, does not use it.

    pytest itself ends a module fixture only when the next test is in another module; a worker
    may be given a test of this module that does not use the data after those that do.
    """
    if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
        return  # pytest ends the module's fixtures itself
    for name in SHARED.intersection(getattr(item, "fixturenames", ())):
        if name not in nextitem.fixturenames:
            for fixturedef in item._fixtureinfo.name2fixturedefs.get(name, ()):
                fixturedef.finish(item._request)
