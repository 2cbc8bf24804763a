"""Data at scale shared by the calendar's modules: built once for the tests of both."""

from __future__ import annotations

import pytest

from campaigns import kpi_views
from tests.scale import build_scale, built_once


@pytest.fixture
def drawn_stacks(monkeypatch) -> list:
    """The layers of every stacked chart the campaign page draws, in the order it draws them."""
    drawn: list = []
    stacked_chart = kpi_views.stacked_chart

    def recording(title, days, layers, **kwargs):
        drawn.append(layers)
        return stacked_chart(title, days, layers, **kwargs)

    monkeypatch.setattr(kpi_views, "stacked_chart", recording)
    return drawn


@built_once
def big(world):
    """10,000 Plans on three Initiatives, 2,000 campaigns, 3,000 assignments."""
    build_scale(
        initiatives=world.initiatives[:3],
        plans=10_000,
        campaigns=2_000,
        first_campaign_id=10_000,
        plan_name="P{}",
        campaign_name="C{}",
        spread=360,
        plan_days=10,
        campaign_days=20,
        assign_step=2,
        assign_below=6000,
        assign_to=lambda i: i % 2000,
    )
