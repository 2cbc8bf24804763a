"""What the data-migration tests share: migrate the test database to a state, and the mirrored
rows every old state has (an Initiative and its Plans, through the historical models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    """Migrate to `targets`; a fresh executor, whose loader sees what is applied now."""
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection)


def migrate_to_latest() -> MigrationExecutor:
    return migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes())


def old_plans(apps: Apps, names: list[str], *, at: datetime, khoros_id: str = "1701") -> list[Any]:
    """An Initiative "Brand" with one Plan per name, as the historical models in `apps` hold
    them (running for no time at `at`)."""
    initiative = apps.get_model("khoros", "Initiative").objects.create(
        khoros_id=khoros_id, name="Brand", first_seen=at, last_seen=at
    )
    Plan = apps.get_model("khoros", "Plan")
    return [
        Plan.objects.create(
            khoros_id=uuid.uuid4(),
            initiative=initiative,
            name=name,
            start=at,
            end=at,
            first_seen=at,
            last_seen=at,
        )  # fmt: skip
        for name in names
    ]
