"""The KPI catalogue is the one declaration of each KPI: every other place reads it."""

from django.conf import settings

from campaigns import selectors as campaigns_selectors
from khoros import kpi_catalog, kpis
from khoros import selectors as khoros_selectors
from khoros.models import PlanKpi
from sapmc.inbound import reports as api_reports


def test_each_kpi_is_a_plankpi_column():
    columns = {f.name for f in PlanKpi._meta.get_fields()}
    assert set(kpi_catalog.METRICS) <= columns
    assert kpi_catalog.METRICS == (
        "impressions",
        "engagements",
        "clicks",
        "reach",
        "video_views",
        "posts",
    )


def test_every_place_reads_the_catalogue():
    assert tuple(settings.KHOROS_KPI_FIELDS) == kpi_catalog.EXPORT_KPIS
    assert kpis.KPI_NAMES == kpi_catalog.EXPORT_KPIS
    assert kpis.METRICS == kpi_catalog.METRICS
    assert khoros_selectors.KPI_COLUMNS == kpi_catalog.METRICS
    assert campaigns_selectors.KPI_LABELS == kpi_catalog.LABELS
    assert api_reports.KPI_FIELDS == {
        "Impressions": "impressions",
        "Engagements": "engagements",
        "Clicks": "clicks",
        "Reach": "reach",
        "VideoViews": "video_views",
        "Posts": "posts",
    }


def test_reach_counts_people_and_is_never_summed():
    assert kpi_catalog.BY_NAME["reach"].aggregation != kpi_catalog.Aggregation.SUM
    assert kpi_catalog.SAPMC_IMPORT_PROPERTIES == {
        "impressions": "NumberOfImpressions",
        "engagements": "NumberOfPostEngagements",
        "clicks": "NumberOfClicks",
        "reach": "CampaignReach",
        "video_views": "NumberOfVideoViews",
    }
