"""The success push into the SAP MC simulator over loopback HTTP, against a bare HTTP loop.

smcbridge's push (sapmc.push.push_successes, the `sapmc_success_push` sync kind) reads the
settled daily numbers of assigned Plans, sends them in $batch requests and records every answered
row in its ledger (SuccessSent). The limit sends the very same requests with a bare
`requests.Session`: the same CSRF fetch, then the same $batch bodies (built before the clock
starts) one after the other, reading each answer and nothing more. The simulator runs in a
thread of this process for both.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from bench.common import Sample, fmt_int, fmt_seconds, print_table, ratio, summarize, timed
from bench.plans import wipe_mirror
from campaigns.models import Assignment
from khoros.models import Company, Initiative, Plan, PlanKpi
from khoros.zone import company_zone
from sapmc import client as sapmc_client
from sapmc.kinds import SAPMC_SUCCESS_PUSH
from sapmc.models import ExternalCampaign, SuccessSent
from sapmc.push import plan_push, push_successes
from sapmc.timezones import sap_timezone_code
from simulators.sapmc import SapmcSimulator
from simulators.server import start_in_thread
from syncs.models import SyncRun

USER, PASSWORD = "bench-push", "bench-push-secret"
COMPANY = "389"
ZONE = "Europe/Berlin"
PRODUCT, LIMIT = "smcbridge", "limit: requests.Session, same $batch bodies"


def _prepare(plans: int, days: int) -> int:
    """`plans` assigned Plans with `days` settled days of KPIs each; returns the rows due."""
    SuccessSent.objects.all().delete()
    Assignment.objects.all().delete()
    ExternalCampaign.objects.all().delete()
    PlanKpi.objects.all().delete()
    wipe_mirror()
    now = timezone.now()
    Company.objects.create(khoros_id=COMPANY, name="Acme", timezone=ZONE, last_seen=now)
    initiative = Initiative.objects.create(
        khoros_id="1700", name="Brand 0", first_seen=now, last_seen=now
    )
    # Well before the settle window: every day is due.
    first = (now - timedelta(days=days + 30)).date()
    last = first + timedelta(days=days - 1)
    made = Plan.objects.bulk_create(
        Plan(
            khoros_id=uuid.uuid4(),
            initiative=initiative,
            name=f"Plan {i:04d}",
            start=now - timedelta(days=days + 30),
            end=now - timedelta(days=30),
            start_day=first,
            end_day=last,
            first_seen=now,
            last_seen=now,
        )  # fmt: skip
        for i in range(plans)
    )
    campaigns = ExternalCampaign.objects.bulk_create(
        ExternalCampaign(
            sap_uuid=uuid.uuid4(),
            campaign_id=f"CAMP{i:03d}",
            name=f"Campaign {i}",
            start=first,
            end=last,
            lifecycle_status="2",
            lifecycle_status_name="Released",
            first_seen=now,
            last_seen=now,
        )  # fmt: skip
        for i in range(max(1, plans // 10))
    )
    Assignment.objects.bulk_create(
        Assignment(plan=plan, campaign=campaigns[i % len(campaigns)], assigned_at=now)
        for i, plan in enumerate(made)
    )
    PlanKpi.objects.bulk_create(
        (
            PlanKpi(
                plan=plan,
                day=first + timedelta(days=d),
                impressions=1000 + d,
                engagements=40 + d,
                clicks=d,
                reach=800 + d,
                video_views=d // 2,
                posts=1,
                updated_at=now,
            )  # fmt: skip
            for plan in made
            for d in range(days)
        ),
        batch_size=2000,
    )
    return plans * days


def _reset(sim: SapmcSimulator) -> None:
    """Before each measured push: nothing sent yet, on either side."""
    SuccessSent.objects.all().delete()
    SyncRun.objects.filter(kind=SAPMC_SUCCESS_PUSH).delete()
    sim.clear_successes()
    sim.clear_requests()


def _bodies(batch_size: int) -> list[bytes]:
    """The $batch bodies the push sends, built as it builds them, batch by batch."""
    zone = company_zone()
    due = plan_push(
        today=timezone.now().astimezone(zone).date(),
        zone=zone.key,
        timezone_code=sap_timezone_code(zone.key),
    ).due
    rows = [d.row for d in due]
    return [
        sapmc_client.success_batch_body(rows[start : start + batch_size], f"batch_{uuid.uuid4()}")
        for start in range(0, len(rows), batch_size)
    ]


def _limit(base_url: str, bodies: list[bytes]) -> int:
    """The same requests with a bare session: CSRF fetch, then each $batch; rows created."""
    service = base_url + sapmc_client.SUCCESS_SERVICE_PATH
    created = 0
    with requests.Session() as session:
        session.auth = (USER, PASSWORD)
        fetched = session.get(
            f"{service}/?$format=json", headers={"X-CSRF-Token": "Fetch"}, timeout=30
        )
        fetched.raise_for_status()
        token = fetched.headers["X-CSRF-Token"]
        for body in bodies:
            boundary = body[2 : body.index(b"\r\n")].decode()
            response = session.post(
                f"{service}/$batch",
                data=body,
                headers={
                    "Content-Type": f"multipart/mixed; boundary={boundary}",
                    "Accept": "multipart/mixed",
                    "X-CSRF-Token": token,
                },
                timeout=60,
            )
            if response.status_code != 202:
                raise RuntimeError(f"the limit's $batch answered {response.status_code}")
            created += response.content.count(b"HTTP/1.1 201")
    return created


def run_push_bench(args: argparse.Namespace) -> None:
    due = _prepare(args.push_plans, args.push_days)
    sim = SapmcSimulator(user=USER, password=PASSWORD)
    results: dict[str, list[Sample]] = {PRODUCT: [], LIMIT: []}
    with start_in_thread(sim) as server:
        overrides: dict[str, Any] = {
            "SAPMC_BASE_URL": server.base_url,
            "SAPMC_USER": USER,
            "SAPMC_PASSWORD": PASSWORD,
            "SAPMC_SUCCESS_PUSH_ENABLED": True,
            "SAPMC_SUCCESS_TIMEZONE_CODE": "",
            "KHOROS_COMPANY_ID": COMPANY,
            "KHOROS_COMPANY_TIMEZONE": ZONE,
        }
        with override_settings(**overrides):
            batch_size = settings.SAPMC_SUCCESS_BATCH_SIZE
            bodies = _bodies(batch_size)
            for _ in range(args.rounds):
                _reset(sim)
                sample, run = timed(push_successes)
                if run.status != SyncRun.Status.SUCCEEDED or run.created_count != due:
                    raise RuntimeError(
                        f"the push ended {run.status} with {run.created_count} of {due} rows "
                        f"created: {run.error}"
                    )
                sample.http = len(sim.requests)
                sample.extra["rows"] = run.created_count
                results[PRODUCT].append(sample)

                _reset(sim)
                sample, created = timed(lambda: _limit(server.base_url, bodies))
                if created != due:
                    raise RuntimeError(f"the limit created {created} of {due} rows")
                sample.http = len(sim.requests)
                sample.extra["rows"] = created
                results[LIMIT].append(sample)
        _reset(sim)

    header = [
        "scenario", "implementation", "min", "median", "min ratio", "median ratio",
        "rows/s (min)", "HTTP", "SQL", "rows written",
    ]  # fmt: skip
    base_min, base_median = summarize(results[LIMIT])
    rows = []
    for name in (PRODUCT, LIMIT):
        low, median = summarize(results[name])
        last = results[name][-1]
        rows.append(
            [
                "first push", name, fmt_seconds(low), fmt_seconds(median),
                ratio(low, base_min), ratio(median, base_median),
                f"{last.extra['rows'] / low:,.0f}" if low else "n/a",
                fmt_int(last.http), fmt_int(last.sql), fmt_int(last.rows),
            ]
        )  # fmt: skip
    title = (
        f"5. Success push: {args.push_plans:,} assigned Plans x {args.push_days} settled days = "
        f"{due:,} rows, {batch_size} rows per $batch; loopback HTTP to the SAP MC simulator; "
        f"{connection.vendor}; {args.rounds} rounds; ratios to the limit"
    )
    print_table(title, header, rows)
    print(
        "rows written: the push's ledger (one SuccessSent row per row sent) and its run's "
        "bookkeeping; the limit writes nothing\n"
    )
