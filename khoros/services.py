"""Writes of the khoros app: the Khoros plan sync."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from khoros import client as khoros_client
from khoros.kinds import KHOROS_PLANS
from khoros.models import Company, Initiative, Plan
from khoros.zone import company_zone
from syncs import upsert
from syncs.models import SyncRun
from syncs.runs import (
    COUNT_FIELDS,
    error_text,
    redact,
    run_checkpoint,
    run_finish,
    run_step_done,
    run_stopped,
    sync_entry,
)
from syncs.upsert import LAST_SEEN_REFRESH, fit

logger = logging.getLogger(__name__)

# Plans read before they are written in one transaction: bounds memory and the transaction.
PLAN_WRITE_BATCH = 1000

PLAN_FIELDS = (
    "initiative_id",
    "name",
    "color",
    "start",
    "end",
    "start_day",
    "end_day",
    "overview",
    "objective",
    "target_audience",
    "khoros_created",
    "khoros_modified",
)


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    touched_ids: set[int] = field(default_factory=set)


def _plan_values(plan: khoros_client.Plan, initiative_pk: int, zone: ZoneInfo) -> dict[str, object]:
    return {
        "initiative_id": initiative_pk,
        "name": fit(Plan, "name", plan.name),
        "color": fit(Plan, "color", plan.color),
        "start": plan.start,
        "end": plan.end,
        "start_day": plan.start.astimezone(zone).date(),
        "end_day": plan.end.astimezone(zone).date(),
        "overview": plan.overview,
        "objective": plan.objective,
        "target_audience": plan.target_audience,
        "khoros_created": plan.created,
        "khoros_modified": plan.last_modified,
    }


def _initiatives_upsert(
    *, fetched: list[khoros_client.Initiative], now: datetime, complete: bool = True
) -> tuple[dict[str, Initiative], UpsertCounts]:
    """Mirror the list of Initiatives; if it is complete, those no longer listed are removed."""
    counts = UpsertCounts()
    existing = {i.khoros_id: i for i in Initiative.objects.all()}
    created: list[Initiative] = []
    changed: list[Initiative] = []
    for item in fetched:
        row = existing.get(item.id)
        if row is None:
            created.append(
                Initiative(
                    khoros_id=item.id,
                    name=fit(Initiative, "name", item.name),
                    description=item.description,
                    first_seen=now,
                    last_seen=now,
                )
            )
            continue
        values = {"name": fit(Initiative, "name", item.name), "description": item.description}
        outcome = upsert.mirror_row(row, values, now=now)
        if outcome != upsert.UNCHANGED:
            changed.append(row)
        if outcome == upsert.CHANGED:
            counts.updated += 1
        else:
            counts.unchanged += 1
    seen = {item.id for item in fetched}
    # From an incomplete list, "not listed" may only mean "not read": nothing is removed.
    vanished = [
        row
        for key, row in existing.items()
        if complete and key not in seen and row.removed_at is None
    ]
    for row in vanished:
        row.removed_at = now
    if created or changed or vanished:
        counts.removed = _initiatives_write(created, changed, vanished, now)
    counts.created = len(created)
    # bulk_create sets primary keys on PostgreSQL and on SQLite 3.35+, so no re-read is needed.
    by_id = {key: row for key, row in existing.items() if key in seen}
    by_id.update((row.khoros_id, row) for row in created)
    return by_id, counts


def _initiatives_write(
    created: list[Initiative], changed: list[Initiative], vanished: list[Initiative], now: datetime
) -> int:
    with transaction.atomic():
        Initiative.objects.bulk_create(created)
        if changed or vanished:
            Initiative.objects.bulk_update(
                changed + vanished,
                ["name", "description", "removed_at", "last_seen"],
                batch_size=500,
            )
        if vanished:
            # Their Plans vanished with them; mark, never delete (assignments and KPIs stay).
            return Plan.objects.filter(initiative__in=vanished, removed_at__isnull=True).update(
                removed_at=now
            )
    return 0


def company_upsert(*, company: khoros_client.Company, zone: ZoneInfo, now: datetime) -> None:
    """Remember the configured company's name and zone: SAP MC asks for them, not Khoros."""
    name = fit(Company, "name", company.name)
    row = Company.objects.filter(khoros_id=company.id).first()
    if row is None:
        Company.objects.create(khoros_id=company.id, name=name, timezone=zone.key, last_seen=now)
    elif (row.name, row.timezone) != (name, zone.key) or now - row.last_seen >= LAST_SEEN_REFRESH:
        row.name, row.timezone, row.last_seen = name, zone.key, now
        row.save(update_fields=["name", "timezone", "last_seen"])


@dataclass
class PlanWrites:
    """The rows one Initiative's Plan list changes, found before anything is written."""

    created: list[Plan] = field(default_factory=list)
    changed: list[Plan] = field(default_factory=list)
    touched: list[Plan] = field(default_factory=list)
    vanished: list[Plan] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.changed or self.touched or self.vanished)

    def write(self) -> None:
        """Write them (inside the caller's transaction)."""
        upsert.mirror_write(
            Plan,
            PLAN_FIELDS,
            created=self.created,
            changed=self.changed,
            touched=self.touched,
            vanished=self.vanished,
        )


def plans_upsert(
    *,
    initiative: Initiative,
    fetched: Iterable[khoros_client.Plan],
    now: datetime,
    zone: ZoneInfo,
    complete: bool = True,
) -> UpsertCounts:
    """Mirror the Plan list of one Initiative in one transaction; only a complete list removes."""
    counts, writes = plans_diff(
        initiative=initiative, fetched=fetched, now=now, zone=zone, complete=complete
    )
    if writes:
        with transaction.atomic():
            writes.write()
    return counts


def plans_diff(
    *,
    initiative: Initiative,
    fetched: Iterable[khoros_client.Plan],
    now: datetime,
    zone: ZoneInfo,
    complete: bool = True,
    claimed: frozenset[UUID] = frozenset(),
) -> tuple[UpsertCounts, PlanWrites]:
    """Compare one Initiative's Plan list with the mirror; return the counts and rows to write.

    `claimed`: Plans listed under another Initiative of the same batch, not yet written: one
    that moved there is not removed here (it still reads as this Initiative's in the mirror).
    """
    counts = UpsertCounts()
    incoming = {UUID(p.id): p for p in fetched}
    # The stored payload is written along with a change but never compared: not read back, so
    # a sync where little changed decodes no JSON per Plan (setting it loads it for the write).
    existing = {
        row.khoros_id: row
        for row in Plan.objects.filter(
            Q(initiative=initiative) | Q(khoros_id__in=list(incoming))
        ).defer("raw")
    }
    created: list[Plan] = []
    changed: list[Plan] = []
    touched: list[Plan] = []
    for key, item in incoming.items():
        values = _plan_values(item, initiative.pk, zone)
        row = existing.get(key)
        if row is None:
            created.append(
                Plan(khoros_id=key, raw=item.raw, first_seen=now, last_seen=now, **values)
            )
            continue
        outcome = upsert.mirror_row(row, values, now=now, extra={"raw": item.raw})
        if outcome == upsert.CHANGED:
            changed.append(row)
        elif outcome == upsert.TOUCHED:
            touched.append(row)
    vanished = [
        row
        for key, row in existing.items()
        if complete
        and key not in incoming
        and key not in claimed
        and row.initiative_id == initiative.pk
        and row.removed_at is None
    ]
    for row in vanished:
        row.removed_at = now
    counts.created, counts.updated, counts.removed = len(created), len(changed), len(vanished)
    counts.unchanged = len(incoming) - counts.created - counts.updated
    return counts, PlanWrites(created, changed, touched, vanished)


@sync_entry(KHOROS_PLANS)
def sync_khoros(
    run: SyncRun,
    client: khoros_client.KhorosClient,
    on_progress: Callable[[SyncRun], None] | None,
) -> SyncRun:
    """Mirror all Initiatives and Plans from Khoros; never deletes, never runs twice at once."""
    try:
        company = client.check_company()
        zone = company_zone(client)
        fetched, listing_error = _list_initiatives(client)
    except khoros_client.KhorosError as exc:
        return run_stopped(
            run, client.stats, f"Could not list Initiatives: {error_text(exc)}",
            throttled=isinstance(exc, khoros_client.KhorosRateLimitedError),
        )  # fmt: skip

    now = timezone.now()
    company_upsert(company=company, zone=zone, now=now)
    initiatives, counts = _initiatives_upsert(
        fetched=fetched, now=now, complete=listing_error is None
    )
    run.removed_count = counts.removed
    run.progress_total = len(fetched)
    run.outcomes = []
    run_checkpoint(run, client.stats, ["removed_count", "progress_total", "outcomes"])

    first_error = ""
    incomplete = 0
    stop_status: str | None = None
    # The Plan lists of several Initiatives are read first, then written in one transaction (a
    # commit per Initiative cost more than its writes): at most PLAN_WRITE_BATCH Plans are held.
    pending: list[tuple[dict[str, object], Initiative, list[khoros_client.Plan] | None, bool]] = []
    held = 0

    def flush() -> None:
        nonlocal held
        results: dict[int, UpsertCounts] = {}
        writes: list[PlanWrites] = []
        claimed = frozenset(UUID(p.id) for _, _, plans, _ in pending for p in plans or ())
        for index, (_outcome, initiative, plans, complete) in enumerate(pending):
            if plans is not None:
                results[index], found = plans_diff(
                    initiative=initiative,
                    fetched=plans,
                    now=timezone.now(),
                    zone=zone,
                    complete=complete,
                    claimed=claimed,
                )
                if found:
                    writes.append(found)
        if writes:
            with transaction.atomic():
                for found in writes:
                    found.write()
        # Counted and reported only once written: a batch that failed changed nothing.
        for index, (outcome, _initiative, _plans, complete) in enumerate(pending):
            result = results.get(index)
            if result is not None:
                _add_counts(run, result)
                error = outcome.pop("error", None)
                outcome.update(
                    created=result.created,
                    updated=result.updated,
                    removed=result.removed if complete else 0,
                )
                if error is not None:
                    outcome["error"] = error
            _step_done(outcome)
        pending.clear()
        held = 0

    def _step_done(outcome: dict[str, object]) -> None:
        run.outcomes.append(outcome)
        run_step_done(run, client.stats)
        if on_progress is not None:
            on_progress(run)

    for item in fetched:
        initiative = initiatives[item.id]
        name = fit(Initiative, "name", item.name)
        outcome: dict[str, object] = {"initiative": item.id, "name": name}
        if stop_status is not None:
            outcome.update(status="not_run")
            run.outcomes.append(outcome)
            continue
        try:
            plans = client.list_plans(item.id)
        except khoros_client.KhorosIncompleteListingError as exc:
            # What was read is mirrored; the Plans behind the hole are not taken as removed.
            message = error_text(exc)
            first_error = first_error or f"Initiative {item.id}: {message}"
            incomplete += 1
            run.failed_count += 1
            outcome.update(status="incomplete", plans=len(exc.items), error=redact(message)[:1000])
            pending.append((outcome, initiative, list(exc.items), False))
            held += len(exc.items)
        except khoros_client.KhorosError as exc:
            message = error_text(exc)
            first_error = first_error or f"Initiative {item.id}: {message}"
            outcome.update(status="failed", error=redact(message)[:1000])
            run.failed_count += 1
            if isinstance(exc, khoros_client.KhorosAuthError):
                stop_status = SyncRun.Status.FAILED
            elif isinstance(exc, khoros_client.KhorosRateLimitedError):
                # Hammering a throttled API only makes it worse: stop cleanly, resume next run.
                stop_status = SyncRun.Status.DEFERRED
            # Outcomes stay in the Initiatives' order: this one waits for the batch before it.
            pending.append((outcome, initiative, None, False))
            if stop_status is not None:
                flush()  # before the "not_run" outcomes that follow it
            continue
        else:
            outcome.update(status="ok", plans=len(plans))
            pending.append((outcome, initiative, list(plans), True))
            held += len(plans)
        if held >= PLAN_WRITE_BATCH:
            flush()
    if pending:
        flush()

    if not fetched:
        run_checkpoint(run, client.stats, COUNT_FIELDS)
    if listing_error is not None:
        # Listed first: without the whole list, no Initiative and no Plan was marked removed.
        message = (
            f"The Initiative list is incomplete ({error_text(listing_error)}): "
            f"{len(fetched)} Initiatives read, none marked removed."
        )
        first_error = f"{message} {first_error}".strip()
    if stop_status is not None:
        return run_finish(run, stop_status, first_error)
    if run.failed_count:
        # Every Initiative failing outright is a failed run; an incomplete listing mirrored
        # what it read, so the run is partial.
        failed = run.failed_count - incomplete
        status = SyncRun.Status.FAILED if failed == len(fetched) else SyncRun.Status.PARTIAL
        parts = []
        if failed:
            parts.append(f"{failed} of {len(fetched)} Initiatives failed.")
        if incomplete:
            parts.append(
                f"{incomplete} of {len(fetched)} Initiatives listed their Plans incompletely "
                "(none of their Plans marked removed)."
            )
        return run_finish(run, status, " ".join([*parts, first_error]))
    if listing_error is not None:
        return run_finish(run, SyncRun.Status.PARTIAL, first_error)
    return run_finish(run, SyncRun.Status.SUCCEEDED)


def _add_counts(run: SyncRun, result: UpsertCounts) -> None:
    run.created_count += result.created
    run.updated_count += result.updated
    run.unchanged_count += result.unchanged
    run.removed_count += result.removed


def _list_initiatives(
    client: khoros_client.KhorosClient,
) -> tuple[list[khoros_client.Initiative], khoros_client.KhorosIncompleteListingError | None]:
    """Read the Initiatives; an incomplete listing gives what was read and its error."""
    fetched: list[khoros_client.Initiative] = []
    try:
        for initiative in client.iter_initiatives():
            fetched.append(initiative)
    except khoros_client.KhorosIncompleteListingError as exc:
        return fetched, exc
    return fetched, None
