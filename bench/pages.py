"""Workbench and calendar at scale: time and queries per page, small data set as the baseline."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from bench.__main__ import timed
from campaigns.models import SYNC_ADMINS, Assignment
from khoros.models import Initiative, Plan
from sapmc.models import ExternalCampaign
from syncs.models import SyncRun

PAGES = [
    ("workbench", "/workbench/?campaign={campaign}&ppage=7&cpage=3"),
    ("calendar month", "/calendar/?zoom=month&date=2026-04-01"),
    ("calendar quarter", "/calendar/?zoom=quarter&date=2026-04-01"),
    ("calendar year", "/calendar/?zoom=year&date=2026-04-01"),
    ("dashboard", "/"),
]


def _populate(campaigns: int, plans: int) -> int:
    Assignment.objects.all().delete()
    Plan.objects.all().delete()
    ExternalCampaign.objects.all().delete()
    Initiative.objects.all().delete()
    now = timezone.now()
    initiatives = Initiative.objects.bulk_create(
        Initiative(khoros_id=str(5000 + i), name=f"Initiative {i}", first_seen=now, last_seen=now)
        for i in range(20)
    )
    start = date(2026, 1, 1)
    plan_rows = []
    for i in range(plans):
        first = start + timedelta(days=i % 330)
        last = first + timedelta(days=5 + i % 40)
        plan_rows.append(
            Plan(
                khoros_id=uuid.uuid4(),
                initiative=initiatives[i % 20],
                name=f"Plan {i}",
                color="#1a7293",
                start=datetime(first.year, first.month, first.day, 6, tzinfo=UTC),
                end=datetime(last.year, last.month, last.day, 23, tzinfo=UTC),
                start_day=first,
                end_day=last,
                first_seen=now,
                last_seen=now,
            )  # fmt: skip
        )
    plan_rows = Plan.objects.bulk_create(plan_rows, batch_size=2000)
    campaign_rows = ExternalCampaign.objects.bulk_create(
        (
            ExternalCampaign(
                sap_uuid=uuid.uuid4(),
                campaign_id=str(100000 + i),
                name=f"Campaign {i}",
                start=start + timedelta(days=i % 330),
                end=start + timedelta(days=i % 330 + 45),
                lifecycle_status="2",
                lifecycle_status_name="Released",
                first_seen=now,
                last_seen=now,
            )  # fmt: skip
            for i in range(campaigns)
        ),
        batch_size=2000,
    )
    Assignment.objects.bulk_create(
        (
            Assignment(plan=plan_rows[i], campaign=campaign_rows[i % campaigns], assigned_at=now)
            for i in range(0, plans, 3)
        ),
        batch_size=2000,
    )
    return campaign_rows[len(campaign_rows) // 2].pk


def run_pages_bench(*, repeat: int = 5) -> None:
    call_command("migrate", verbosity=0)
    user, _ = Group.objects.get_or_create(name=SYNC_ADMINS)
    from django.contrib.auth import get_user_model

    admin, _ = get_user_model().objects.get_or_create(username="bench-admin")
    admin.groups.add(user)
    SyncRun.objects.all().delete()
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    sizes = [
        ("baseline 200 campaigns / 1,000 Plans", 200, 1_000),
        ("2,000 campaigns / 10,000 Plans", 2_000, 10_000),
    ]
    results: dict[str, list[tuple[float, int]]] = {}
    for _, campaigns, plans in sizes:
        campaign = _populate(campaigns, plans)
        for name, url in PAGES:
            path = url.format(campaign=campaign)
            client.get(path)  # warm caches and templates
            samples = []
            queries = 0
            for _ in range(repeat):
                started = time.perf_counter()
                seconds, queries, response = timed(lambda path=path: client.get(path))
                assert response.status_code == 200, (path, response.status_code)
                samples.append(time.perf_counter() - started)
            results.setdefault(name, []).append((statistics.median(samples) * 1000, queries))
    print(f"\nPages (median of {repeat} requests through Django's test client)")
    header = f"{'page':<20}" + "".join(f"{label:>40}" for label, _, _ in sizes)
    print(header)
    print("-" * len(header))
    for name, figures in results.items():
        cells = "".join(f"{f'{ms:.1f} ms, {q} queries':>40}" for ms, q in figures)
        print(f"{name:<20}{cells}")
