"""Khoros plan sync: the bridge's bulk upsert against a row-by-row baseline, same data, same run."""

from __future__ import annotations

from django.core.management import call_command
from django.utils import timezone

from bench.__main__ import timed
from khoros import client as khoros_client
from khoros import services
from khoros.models import Initiative, Plan
from simulators.khoros import KhorosData, KhorosSimulator
from simulators.server import start_in_thread
from syncs.models import SyncRun


def baseline_sync(client: khoros_client.KhorosClient) -> int:
    """The obvious implementation: one update_or_create per Initiative and per Plan."""
    now = timezone.now()
    rows = 0
    for item in client.iter_initiatives():
        initiative, _ = Initiative.objects.update_or_create(
            khoros_id=item.id,
            defaults={"name": item.name, "description": item.description, "last_seen": now},
            create_defaults={
                "name": item.name,
                "description": item.description,
                "first_seen": now,
                "last_seen": now,
            },
        )
        for plan in client.list_plans(item.id):
            values = {
                "initiative": initiative,
                "name": plan.name,
                "color": plan.color,
                "start": plan.start,
                "end": plan.end,
                "overview": plan.overview,
                "objective": plan.objective,
                "target_audience": plan.target_audience,
                "raw": plan.raw,
                "last_seen": now,
            }
            Plan.objects.update_or_create(
                khoros_id=plan.id, defaults=values, create_defaults={**values, "first_seen": now}
            )
            rows += 1
    return rows


def _wipe() -> None:
    Plan.objects.all().delete()
    Initiative.objects.all().delete()
    SyncRun.objects.all().delete()


def run_khoros_sync_bench(*, initiatives: int, plans_per_initiative: int) -> None:
    call_command("migrate", verbosity=0)
    data = KhorosData.generate(
        seed=1, initiatives=initiatives, plans_per_initiative=plans_per_initiative, posts_per_plan=1
    )
    sim = KhorosSimulator(data=data, token="bench-token")
    with start_in_thread(sim) as server:

        def client() -> khoros_client.KhorosClient:
            return khoros_client.KhorosClient(
                base_url=f"{server.base_url}/v2", token="bench-token", company_id=data.company_id
            )

        total = initiatives * plans_per_initiative
        size = f"{initiatives} Initiatives x {plans_per_initiative} Plans = {total} Plans"
        print(f"Khoros plan sync: {size}")
        print("(loopback HTTP to the simulator, SQLite unless --database-url)\n")
        figures: dict[str, list[tuple[float, int]]] = {}
        for label, func in (
            ("baseline (update_or_create per row)", baseline_sync),
            ("smcbridge (bulk upsert)", None),
        ):
            _wipe()
            results = []
            for _ in range(2):  # first sync, then a sync on unchanged data
                with client() as c:
                    if func is None:
                        seconds, queries, run = timed(lambda c=c: services.sync_khoros(client=c))
                        assert run.status == "succeeded", run.error
                    else:
                        seconds, queries, _ = timed(lambda c=c, f=func: f(c))
                results.append((seconds, queries))
            figures[label] = results
        header = (
            f"{'implementation':<38}{'first sync':>14}{'queries':>10}"
            f"{'no-change sync':>17}{'queries':>10}"
        )
        print(header)
        print("-" * len(header))
        for label, ((s1, q1), (s2, q2)) in figures.items():
            print(f"{label:<38}{s1:>12.2f} s{q1:>10}{s2:>15.2f} s{q2:>10}")
        (b1, _), (b2, _) = figures["baseline (update_or_create per row)"]
        (o1, _), (o2, _) = figures["smcbridge (bulk upsert)"]
        print(f"\nspeed-up: first sync x{b1 / o1:.1f}, no-change sync x{b2 / o2:.1f}")
