"""The one builder of data at scale (thousands of Plans and campaigns) for tests that count
queries or page sizes against a big mirror.

Plans and campaigns spread over `spread` days from `start` (row i on day i % spread, or with
`even` on day i * spread // count, in order); Plan i belongs to
`initiatives[i % len(initiatives)]` and lasts `plan_days` (or `plan_days(i)`) days; every
`assign_step`-th Plan below `assign_below` is assigned to campaign `assign_to(i)`. Rows are made
with tests.world's make_plan/make_campaign, so they look like the synced ones. The tests and the
pages benchmark (bench/pages.py) build with it.

`built_once` makes such data a fixture that is built once for all the tests and parametrized
cases that use it, in every module that sees it (define it in a conftest.py to share it between
modules), instead of once per test.
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

# The names of the fixtures made by built_once.
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


def built_once(build: Callable[[World], T]) -> Any:
    """Make `build(world)` a fixture (of the same name) whose data is built only once.

    The world and the data are made in a transaction that stays open while the tests that use
    the fixture run, each in a savepoint of its own that is rolled back as usual, so every test
    sees the data as built; the transaction is rolled back after the last of them. The suite
    runs these tests after their module's other tests and together on one xdist worker, one
    after another, whatever their module (tests/conftest.py), and rolls the data back as soon as
    the next test does not use it: a test that does not ask for the data never sees it. They
    also share that world (tests.world).
    """
    SHARED.add(build.__name__)

    # Session scope: the tests of two modules that share a conftest's data run in a row on one
    # worker and find it built (the calendar's 10,000 Plans took 5-8 s of CPU to build, twice).
    @pytest.fixture(scope="session", name=build.__name__)
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
    """Move the tests that share data after their module's other tests and keep those of each
    shared fixture on one xdist worker (--dist loadgroup), so that the data is built once."""
    by_module: dict[object, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(getattr(item, "module", None), []).append(item)
        shared = sorted(SHARED.intersection(getattr(item, "fixturenames", ())))
        if shared:
            item.add_marker(pytest.mark.xdist_group(f"shared-data-{'-'.join(shared)}"))
    items[:] = [item for mod in by_module.values() for item in sorted(mod, key=uses_shared_data)]


def finish_shared_data(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Roll back the data `item` shared when the next test, of any module, does not use it.

    pytest itself ends a session fixture only at the end of the run; a worker may be given other
    tests after those that use the data.
    """
    if nextitem is None:
        return  # pytest ends the session's fixtures itself
    for name in SHARED.intersection(getattr(item, "fixturenames", ())):
        if name not in nextitem.fixturenames:
            for fixturedef in item._fixtureinfo.name2fixturedefs.get(name, ()):
                fixturedef.finish(item._request)
