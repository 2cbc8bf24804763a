"""The demo's data reads true: Initiative names carry their Plans' year, posts fit the calendar."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from simulators.khoros_data import KhorosData
from simulators.sapmc_data import SapmcData

# The Procfile's demo: 6 Initiatives of 14 Plans, 25 posts per Plan, pro rata.
DEMO = {
    "initiatives": 6,
    "plans_per_initiative": 14,
    "posts_per_plan": 25,
    "posts_pro_rata": True,
}


@pytest.mark.parametrize("today", [date(2026, 11, 30), date(2027, 1, 5), date(2026, 6, 15)])
def test_initiative_names_carry_the_year_most_of_their_plans_start_in(today):
    data = KhorosData.generate(today=today, **DEMO)
    for initiative in data.initiatives:
        years = Counter(p.start_date.year for p in data.plans_for_initiative(initiative.id))
        (year, _), *_ = sorted(years.items(), key=lambda item: (-item[1], item[0]))
        assert initiative.name.endswith(f" {year}"), (initiative.name, dict(years))
    assert len({i.name for i in data.initiatives}) == 6


def test_a_theme_used_again_is_numbered_not_given_another_year():
    data = KhorosData.generate(today=date(2026, 11, 30), initiatives=12, plans_per_initiative=2)
    names = [i.name for i in data.initiatives]
    assert len(set(names)) == 12
    assert names[10].startswith("Brand ") and names[10].endswith(" (2)")


def test_a_plan_starting_today_has_a_days_share_of_posts_not_a_months():
    today = date(2026, 11, 30)
    data = KhorosData.generate(today=today, **DEMO)
    running = [p for p in data.plans if p.start_date <= today <= p.end_date]
    assert running
    for plan in running:
        posts = data.posts_for_plan(plan.id)
        days_run = (today - plan.start_date).days + 1
        duration = (plan.end_date - plan.start_date).days + 1
        assert len(posts) == max(1, -(-25 * days_run // duration))
        assert all(
            plan.start_date <= p.published_at.astimezone(data.tz).date() <= today for p in posts
        )
    # Pinned: a Plan that starts today, as the demo may have.
    plan = data.plans[1]
    data._plans[plan.id] = type(plan)(**{**plan.__dict__, "start_date": today,
                                         "end_date": today + timedelta(days=29)})  # fmt: skip
    data._posts.pop(plan.id, None)
    assert len(data.posts_for_plan(plan.id)) == 1
    # Ended Plans keep every post; upcoming ones have none.
    ended = [p for p in data.plans if p.end_date < today]
    assert all(len(data.posts_for_plan(p.id)) == 25 for p in ended)
    upcoming = [p for p in data.plans if p.start_date > today]
    assert all(data.posts_for_plan(p.id) == [] for p in upcoming)


def test_sap_mc_campaigns_name_the_same_initiatives_and_years():
    today = date(2026, 11, 30)
    khoros = KhorosData.generate(today=today, **DEMO)
    sapmc = SapmcData.generate(khoros=khoros, campaigns_per_initiative=4)
    names = {i.name for i in khoros.initiatives}
    z01 = [c for c in sapmc.campaigns if c.category == "Z01"]
    assert len(z01) == 24
    for campaign in z01:
        initiative = campaign.name.split(":", 1)[0]
        assert any(n.startswith(initiative) for n in names), campaign.name
