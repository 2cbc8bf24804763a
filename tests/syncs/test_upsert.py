"""The mirror-upsert helper shared by the Khoros and SAP MC mirrors, and its column fitting."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from khoros.models import Initiative, Plan
from sapmc.models import CampaignReference, ExternalCampaign
from sapmc.sync import sync_sapmc_campaigns
from syncs import upsert


def test_fit_reads_the_columns_max_length():
    assert upsert.fit(Plan, "color", "x" * 40) == "x" * 16
    assert upsert.fit(Initiative, "name", "n" * 300) == "n" * 255
    assert upsert.fit(ExternalCampaign, "campaign_id", "1234567890123") == "1234567890"
    assert upsert.fit(Plan, "overview", "o" * 5000) == "o" * 5000  # a TextField: no limit


def test_mirror_row_outcomes():
    now = timezone.now()
    row = SimpleNamespace(name="a", removed_at=None, last_seen=now, raw={})
    assert upsert.mirror_row(row, {"name": "a"}, now=now) == upsert.UNCHANGED
    later = now + upsert.LAST_SEEN_REFRESH
    assert upsert.mirror_row(row, {"name": "a"}, now=later, extra={"raw": {"x": 1}}) == (
        upsert.TOUCHED
    )
    assert (row.last_seen, row.raw) == (later, {})  # extra is written only with a change
    assert upsert.mirror_row(row, {"name": "b"}, now=later, extra={"raw": {"x": 1}}) == (
        upsert.CHANGED
    )
    assert (row.name, row.raw) == ("b", {"x": 1})
    row.removed_at = later
    assert upsert.mirror_row(row, {"name": "b"}, now=later) == upsert.CHANGED
    assert row.removed_at is None
    assert upsert.mirror_row(row, {"name": "b"}, now=later, differs=True) == upsert.CHANGED


@pytest.mark.django_db
def test_campaign_sync_refreshes_last_seen_of_unchanged_campaigns(live_sapmc):
    sync_sapmc_campaigns()
    two_days_ago = timezone.now() - timedelta(days=2)
    ExternalCampaign.objects.update(last_seen=two_days_ago)
    refs_before = sorted(CampaignReference.objects.values_list("pk", flat=True))
    started = timezone.now()

    run = sync_sapmc_campaigns()

    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 0, 12)
    seen = list(ExternalCampaign.objects.values_list("last_seen", flat=True))
    assert len(seen) == 12
    assert all(moment >= started for moment in seen)
    # Only last_seen moved: the references were not rewritten.
    assert sorted(CampaignReference.objects.values_list("pk", flat=True)) == refs_before


@pytest.mark.django_db
@pytest.mark.parametrize("copy_at_least", [1, 10_000], ids=["copied", "row-by-row"])
def test_upsert_rows_inserts_updates_keeps_and_lets_the_last_duplicate_win(
    monkeypatch, copy_at_least
):
    from django.db import connection

    monkeypatch.setattr(upsert, "COPY_AT_LEAST", copy_at_least)  # PostgreSQL's two ways

    day = timezone.now().replace(microsecond=0)
    later = day + timedelta(hours=1)
    Initiative.objects.create(
        khoros_id="1", name="old", description="", first_seen=day, last_seen=day
    )
    stamp = connection.ops.adapt_datetimefield_value
    columns = ["khoros_id", "name", "description", "first_seen", "last_seen"]
    rows = [
        ("1", "renamed", "", stamp(later), stamp(later)),  # exists: updated, first_seen kept
        ("2", "first copy", "", stamp(later), stamp(later)),
        ("2", "second copy", "d", stamp(later), stamp(later)),  # the same key again: it wins
    ]

    upsert.upsert_rows(
        connection, Initiative._meta.db_table, columns, rows, conflict=["khoros_id"],
        keep=["first_seen"],
    )  # fmt: skip

    stored = {
        i.khoros_id: (i.name, i.description, i.first_seen, i.last_seen)
        for i in Initiative.objects.all()
    }
    assert stored == {"1": ("renamed", "", day, later), "2": ("second copy", "d", later, later)}
