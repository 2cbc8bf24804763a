"""The KPIs the bridge carries from Khoros to SAP MC: the one declaration every other place reads.

Plain Python without Django imports: settings.py reads it for KHOROS_KPI_FIELDS' keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class Aggregation:
    """How a KPI's daily numbers combine over days and Plans."""

    SUM = "sum"  # a count: the numbers of two days (or two Plans) add up
    # Unique people: a person reached on two days, or by two Plans, is one person, so daily
    # numbers never add up to the true figure (Khoros' export reports reach per post).
    MAX_DAILY = "max daily"


@dataclass(frozen=True)
class Kpi:
    name: str  # ours: the PlanKpi column and the key of KHOROS_KPI_FIELDS
    label: str  # for people (pages, CSV header)
    sapmc_name: str  # SAP MC's inbound KPI name (GET_MKT_RESULTS)
    # The property of SAP MC's success import (NumberOf...), "" where it has none.
    sapmc_import_property: str
    aggregation: str
    # False for "posts": counted from the export's rows, not asked for as an export field.
    from_export: bool = True


KPIS: tuple[Kpi, ...] = (
    Kpi("impressions", "Impressions", "Impressions", "NumberOfImpressions", Aggregation.SUM),
    Kpi("engagements", "Engagements", "Engagements", "NumberOfPostEngagements", Aggregation.SUM),
    Kpi("clicks", "Clicks", "Clicks", "NumberOfClicks", Aggregation.SUM),
    Kpi("reach", "Reach", "Reach", "CampaignReach", Aggregation.MAX_DAILY),
    Kpi("video_views", "Video views", "VideoViews", "NumberOfVideoViews", Aggregation.SUM),
    Kpi("posts", "Posts", "Posts", "", Aggregation.SUM, from_export=False),
)
BY_NAME: dict[str, Kpi] = {kpi.name: kpi for kpi in KPIS}

# Every daily number PlanKpi holds, in display order (the order of its columns).
METRICS: tuple[str, ...] = tuple(kpi.name for kpi in KPIS)
# The KPIs asked for as export fields (KHOROS_KPI_FIELDS' keys); "posts" is counted.
EXPORT_KPIS: tuple[str, ...] = tuple(kpi.name for kpi in KPIS if kpi.from_export)
# Display names of the daily numbers.
LABELS: dict[str, str] = {kpi.name: kpi.label for kpi in KPIS}
# SAP MC's inbound KPI names -> PlanKpi's columns, in answer order.
SAPMC_NAMES: dict[str, str] = {kpi.sapmc_name: kpi.name for kpi in KPIS}
# Our names -> SAP MC's success-import properties, for the KPIs that have one.
SAPMC_IMPORT_PROPERTIES: dict[str, str] = {
    kpi.name: kpi.sapmc_import_property for kpi in KPIS if kpi.sapmc_import_property
}


def combine(name: str, values: Iterable[int]) -> int:
    """Combine daily numbers of KPI `name` (over days or Plans) the way its catalog entry says.

    The one place a total is made: a count adds up; reach (unique people) never does, so its
    "total" is the highest daily number, which is what a page must call it (total_label).
    """
    aggregation = BY_NAME[name].aggregation
    if aggregation == Aggregation.SUM:
        return sum(values)
    if aggregation == Aggregation.MAX_DAILY:
        return max(values, default=0)
    raise ValueError(f"KPI {name!r} has an unknown aggregation {aggregation!r}")


def total_label(name: str) -> str:
    """What a total of KPI `name` is, for people: "Impressions", or "Highest daily reach"."""
    kpi = BY_NAME[name]
    if kpi.aggregation == Aggregation.MAX_DAILY:
        return f"Highest daily {kpi.label.lower()}"
    return kpi.label


# Our names -> what their totals are called on pages and in panels.
TOTAL_LABELS: dict[str, str] = {kpi.name: total_label(kpi.name) for kpi in KPIS}
