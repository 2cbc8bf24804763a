"""The Khoros simulator's knobs for the benchmarks: change a share of Plans, stream posts."""

from __future__ import annotations

from datetime import date

from simulators.khoros import KhorosSimulator
from simulators.khoros_data import KhorosData


def test_change_plans_renames_that_share_of_plans_and_reset_restores_them() -> None:
    sim = KhorosSimulator(KhorosData.generate(seed=3, initiatives=4, plans_per_initiative=25))
    before = {plan.id: plan.name for plan in sim.data.plans}

    changed = sim.change_plans(0.05, tag="round 1")

    assert len(changed) == 5
    after = {plan.id: plan.name for plan in sim.data.plans}
    renamed = [plan_id for plan_id in before if after[plan_id] != before[plan_id]]
    assert sorted(renamed) == sorted(plan.id for plan in changed)
    assert all(after[plan_id] == f"{before[plan_id]} (round 1)" for plan_id in renamed)
    sim.reset()
    assert {plan.id: plan.name for plan in sim.data.plans} == before


def test_uncached_posts_are_the_same_posts_and_are_not_kept() -> None:
    cached = KhorosData.generate(
        seed=5, initiatives=2, plans_per_initiative=3, today=date(2026, 5, 1)
    )
    streamed = KhorosData.generate(
        seed=5, initiatives=2, plans_per_initiative=3, today=date(2026, 5, 1)
    )
    streamed.cache_posts = False

    assert streamed.posts == cached.posts
    assert len(streamed.posts) > 0
    assert streamed._posts == {}
    assert streamed.clone().cache_posts is False
