"""Writes of the khoros app: the Khoros plan sync."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import connections, models, router, transaction
from django.db.models import Q
from django.utils import timezone

from khoros import client as khoros_client
from khoros.kinds import KHOROS_PLANS
from khoros.models import Company, Initiative, Plan
from khoros.zone import company_zone
from syncs import runs, upsert
from syncs.models import SyncRun
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


def _plan_values(
    plan: khoros_client.Plan, initiative_pk: int, zone: ZoneInfo
) -> tuple[object, ...]:
    """A Plan's values as the mirror stores them, in the order of PLAN_FIELDS."""
    return (
        initiative_pk,
        fit(Plan, "name", plan.name),
        fit(Plan, "color", plan.color),
        plan.start,
        plan.end,
        plan.start.astimezone(zone).date(),
        plan.end.astimezone(zone).date(),
        plan.overview,
        plan.objective,
        plan.target_audience,
        plan.created,
        plan.last_modified,
    )


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
        # Their Plans are marked removed below: the pages last mirrored no longer describe them.
        row.removed_at, row.plans_digest = now, ""
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
                ["name", "description", "removed_at", "last_seen", "plans_digest"],
                batch_size=500,
            )
        if vanished:
            # Their Plans vanished with them; mark, never delete (assignments and KPIs stay).
            return Plan.objects.filter(initiative__in=vanished, removed_at__isnull=True).update(
                removed_at=now
            )
    return 0


def company_upsert(
    *, company: khoros_client.Company, zone: ZoneInfo, now: datetime
) -> frozenset[int]:
    """Remember the configured company's name and zone: SAP MC asks for them, not Khoros.

    Returns the Plans whose days a new zone moved (company_zone_change).
    """
    name = fit(Company, "name", company.name)
    row = Company.objects.filter(khoros_id=company.id).first()
    if row is None or row.timezone != zone.key:
        return company_zone_change(company=company, name=name, zone=zone, now=now)
    if row.name != name or now - row.last_seen >= LAST_SEEN_REFRESH:
        row.name, row.last_seen = name, now
        row.save(update_fields=["name", "last_seen"])
    return frozenset()


@transaction.atomic
def company_zone_change(
    *, company: khoros_client.Company, name: str, zone: ZoneInfo, now: datetime
) -> frozenset[int]:
    """Store the company's new zone and move every Plan's days to it, in one transaction.

    The stored zone is the one "today", the KPI sync's days, pages and SAP MC's answers use:
    it never names another zone than the Plans' days are in, not even while the Plan lists
    are read, nor when they cannot be (a Plan's days come from its stored instants, nothing
    Khoros has to be asked for again). Returns the Plans whose days moved.
    """
    row = Company.objects.select_for_update().filter(khoros_id=company.id).first()
    moved = plans_days_recompute(zone=zone)
    if row is None:
        Company.objects.create(khoros_id=company.id, name=name, timezone=zone.key, last_seen=now)
    else:
        row.name, row.timezone, row.last_seen = name, zone.key, now
        row.save(update_fields=["name", "timezone", "last_seen"])
    return moved


def plans_days_recompute(*, zone: ZoneInfo) -> frozenset[int]:
    """Set every Plan's start_day and end_day to the days of its instants in `zone`.

    The same arithmetic as _plan_values (Python's zone data, not the database's, so that the
    next compare finds the same days); only Plans whose days change are written. Returns them.
    """
    changed = [
        Plan(pk=pk, start_day=first, end_day=last)
        for pk, start, end, start_day, end_day in Plan.objects.order_by().values_list(
            "pk", "start", "end", "start_day", "end_day"
        )
        if (first := start.astimezone(zone).date(), last := end.astimezone(zone).date())
        != (start_day, end_day)
    ]
    Plan.objects.bulk_update(changed, ["start_day", "end_day"], batch_size=500)
    return frozenset(plan.pk for plan in changed)


# What a sync reads of a stored Plan to compare it: its values (PLAN_FIELDS, in that order), when
# it was last seen and whether it was removed. Plain tuples, not model instances (issue 13); the
# stored payload is written along with a change but never compared, so it is not read back.
_STORED = ("khoros_id", "id", *PLAN_FIELDS, "last_seen", "removed_at")
_VALUES = slice(2, 2 + len(PLAN_FIELDS))
# The columns one upsert writes: a new Plan gets them all, a changed one all but first_seen.
_UPSERT_COLUMNS = ("khoros_id", *PLAN_FIELDS, "raw", "first_seen", "last_seen", "removed_at")


@dataclass
class PlanWrites:
    """The rows a batch of Plan lists changes, found before anything is written."""

    # (khoros_id, *PLAN_FIELDS values, raw), new or changed: every field written
    upserts: list[tuple[object, ...]] = field(default_factory=list)
    touched: list[int] = field(default_factory=list)  # unchanged, last_seen a day old
    vanished: list[int] = field(default_factory=list)  # no longer listed: marked removed
    # Initiative pk -> (plans_digest, plans_checked), where either changes
    digests: dict[int, tuple[str, datetime | None]] = field(default_factory=dict)
    now: datetime = field(default_factory=timezone.now)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.touched or self.vanished or self.digests)

    def write(self) -> None:
        """Write them (inside the caller's transaction): a statement per kind of write."""
        if self.upserts:
            _plans_upsert(self.upserts, self.now)
        if self.touched:
            Plan.objects.filter(pk__in=self.touched).update(last_seen=self.now)
        if self.vanished:
            Plan.objects.filter(pk__in=self.vanished).update(removed_at=self.now)
        if self.digests:
            Initiative.objects.bulk_update(
                [
                    Initiative(pk=pk, plans_digest=digest, plans_checked=checked)
                    for pk, (digest, checked) in self.digests.items()
                ],
                ["plans_digest", "plans_checked"],
                batch_size=500,
            )


def _plans_upsert(rows: list[tuple[object, ...]], now: datetime) -> None:
    """Insert or update the given Plans by khoros_id, seen `now`, in one bulk upsert.

    One INSERT ... ON CONFLICT DO UPDATE for all rows, as the KPI ingest writes its days:
    bulk_create and bulk_update built a model object per Plan and a CASE per field and row,
    which cost more than reading the Plans over HTTP (issue 13). A Plan that comes back after
    removal is restored (removed_at cleared); first_seen is only written with a new row.
    """
    connection = connections[router.db_for_write(Plan)]
    if connection.vendor not in ("sqlite", "postgresql"):
        Plan.objects.bulk_create(
            [
                Plan(
                    **dict(zip(_UPSERT_COLUMNS, (*row, now, now, None), strict=True)),
                )
                for row in rows
            ],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["khoros_id"],
            update_fields=[c for c in _UPSERT_COLUMNS if c not in ("khoros_id", "first_seen")],
        )
        return
    # Concrete columns of the model (get_field also names reverse relations, hence the cast).
    fields = [cast("models.Field[Any, Any]", Plan._meta.get_field(n)) for n in _UPSERT_COLUMNS]
    columns = [str(f.column) for f in fields]
    # Each column adapted for this database as its field would (the KPI ingest does the same):
    # instants and days by the backend's own adapters, called directly; text and the
    # Initiative's key go as they are.
    ops = connection.ops
    adapters: list[Callable[[Any], Any] | None] = []
    for f in fields[: len(rows[0])]:
        if isinstance(f, models.DateTimeField):
            adapters.append(ops.adapt_datetimefield_value)
        elif isinstance(f, models.DateField):
            adapters.append(ops.adapt_datefield_value)
        elif isinstance(f, models.CharField | models.TextField | models.ForeignKey):
            adapters.append(None)
        else:  # the UUID and the raw payload
            adapters.append(functools.partial(f.get_db_prep_save, connection=connection))
    stamp = ops.adapt_datetimefield_value(now)
    params: list[tuple[Any, ...]] = [
        (
            *[
                value if adapt is None else adapt(value)
                for adapt, value in zip(adapters, row, strict=True)
            ],
            stamp,
            stamp,
            None,
        )
        for row in rows
    ]
    upsert.upsert_rows(
        connection,
        Plan._meta.db_table,
        columns,
        params,
        conflict=[columns[0]],
        keep=[str(Plan._meta.get_field("first_seen").column)],
    )


def plans_diff(
    batch: Sequence[tuple[Initiative, list[khoros_client.Plan], bool, str]],
    *,
    now: datetime,
    zone: ZoneInfo,
    moved: frozenset[int] = frozenset(),
    unreadable: frozenset[UUID] = frozenset(),
) -> tuple[list[UpsertCounts], PlanWrites]:
    """Compare the Plan lists of a batch of Initiatives with the mirror, in one read.

    `batch`: (Initiative, its Plans as listed, whether the list is complete, the digest of the
    pages it came in); only a complete list marks Plans removed and keeps its digest. Returns
    the counts per Initiative and the rows to write. A Plan listed under another Initiative of
    the batch is not removed here: it moved (it still reads as this Initiative's in the mirror
    until the batch is written). `moved`: Plans whose days this run's zone change already
    rewrote (company_zone_change); one listed with nothing else changed counts as updated.
    `unreadable`: Plans listed in the batch whose items did not parse: kept as mirrored, not
    removed.
    """
    keyed = [[(UUID(plan.id), plan) for plan in plans] for _, plans, _, _ in batch]
    listed = {key for plans in keyed for key, _ in plans} | unreadable
    stored: dict[UUID, tuple[Any, ...]] = {
        row[0]: row
        for row in Plan.objects.filter(
            Q(initiative__in=[initiative.pk for initiative, _, _, _ in batch])
            | Q(khoros_id__in=list(listed))
        )
        .order_by()
        .values_list(*_STORED)
    }
    writes = PlanWrites(now=now)
    results: list[UpsertCounts] = []
    # The stored Plans of each Initiative of the batch, as read, for those no longer listed.
    by_initiative: dict[int, list[tuple[Any, ...]]] = {}
    for found in stored.values():
        by_initiative.setdefault(found[2], []).append(found)
    # (Initiative, Plan) for each Plan that moved away from an Initiative: its mirror changed.
    left: list[tuple[int, UUID]] = []
    listed_under: dict[int, dict[UUID, khoros_client.Plan]] = {}
    digests: dict[int, tuple[str, datetime | None]] = {}
    for (initiative, _, complete, digest), plans in zip(batch, keyed, strict=True):
        counts = UpsertCounts()
        incoming = dict(plans)
        initiative_pk = initiative.pk
        listed_under[initiative_pk] = incoming
        oldest_seen = now  # of this Initiative's Plans once the batch is written
        for key, item in incoming.items():
            values = _plan_values(item, initiative_pk, zone)
            row = stored.get(key)
            if row is None:
                counts.created += 1
            elif row[-1] is not None or row[_VALUES] != values:
                counts.updated += 1  # changed, or back after removal: every field written
                if row[2] != initiative_pk:
                    left.append((row[2], key))
            else:
                if row[1] in moved:
                    counts.updated += 1  # its days were rewritten by the zone change
                if now - row[-2] >= LAST_SEEN_REFRESH:
                    # Unchanged: only last_seen, and at most once a day, so that a sync on
                    # unchanged data writes nothing while last_seen stays true to the day.
                    writes.touched.append(row[1])
                else:
                    oldest_seen = min(oldest_seen, row[-2])
                continue
            writes.upserts.append((key, *values, item.raw))
            # A Plan listed twice in the batch is compared with what this write leaves.
            stored[key] = (key, row[1] if row else None, *values, now, None)
        if complete:
            # Stored under this Initiative, not removed, and listed nowhere in the batch.
            for found in by_initiative.get(initiative_pk, ()):
                if found[-1] is None and found[0] not in listed:
                    writes.vanished.append(found[1])
                    counts.removed += 1
        counts.unchanged = len(incoming) - counts.created - counts.updated
        results.append(counts)
        # The mirror now holds exactly what these pages say: a later sync that reads the same
        # pages before a last_seen refresh is due has nothing to do. An incomplete list does not.
        digests[initiative_pk] = (digest, oldest_seen) if complete else ("", None)
    for initiative_pk, key in left:
        # Unless its own pages of this batch, already compared, no longer list that Plan.
        if key in listed_under.get(initiative_pk, (key,)):
            digests[initiative_pk] = ("", None)
    before = {i.pk: (i.plans_digest, i.plans_checked) for i, _, _, _ in batch}
    writes.digests = {
        pk: value
        for pk, value in digests.items()
        # Written only where it changes; a cleared digest needs no time.
        if pk not in before or (before[pk] != value and (before[pk][0] or value[0]))
    }
    return results, writes


# Bump when parsing a Plan or mapping it to the mirror changes: the digests of pages mirrored
# under the old rules then match nothing, and the next sync compares every Plan again.
PLANS_DIGEST_VERSION = "plans/1"


@dataclass
class _Listing:
    """One Initiative's Plan list as read, waiting for its batch to be written."""

    outcome: dict[str, object]
    initiative: Initiative
    plans: list[khoros_client.Plan] | None  # None: not read, or the same pages as mirrored
    complete: bool = False
    digest: str = ""
    same: int | None = None  # the Plans of pages identical to those last mirrored
    unreadable: list[khoros_client.UnreadablePlan] = field(default_factory=list)


@runs.sync_entry(KHOROS_PLANS)
def sync_khoros(
    run: SyncRun,
    client: khoros_client.KhorosClient,
    on_progress: Callable[[SyncRun], None] | None,
) -> SyncRun:
    """Mirror all Initiatives and Plans from Khoros; never deletes, never runs twice at once."""
    # What the run was doing when Khoros failed: its error names that, not always the listing
    # (a refused token failed /v2/me, and the run said it "could not list Initiatives").
    doing = "check the company the token belongs to"
    try:
        company = client.check_company()
        doing = "read the company's time zone"
        zone = company_zone(client)
        doing = "list Initiatives"
        fetched, listing_error = _list_initiatives(client)
    except khoros_client.KhorosError as exc:
        return runs.run_stopped(
            run, client.stats, f"Could not {doing}: {runs.error_text(exc)}",
            throttled=isinstance(exc, khoros_client.KhorosRateLimitedError),
        )  # fmt: skip

    now = timezone.now()
    moved = company_upsert(company=company, zone=zone, now=now)
    initiatives, counts = _initiatives_upsert(
        fetched=fetched, now=now, complete=listing_error is None
    )
    by_pk = {initiative.pk: initiative for initiative in initiatives.values()}
    salt = f"{PLANS_DIGEST_VERSION} {zone.key}"
    run.removed_count = counts.removed
    run.progress_total = len(fetched)
    run.outcomes = []
    runs.run_checkpoint(run, client.stats, ["removed_count", "progress_total", "outcomes"])

    first_error = ""
    incomplete = 0
    unreadable = 0  # Plans listed whose items did not parse
    stop_status: str | None = None
    # The Plan lists of several Initiatives are read first, then written in one transaction (a
    # commit per Initiative cost more than its writes): at most PLAN_WRITE_BATCH Plans are held.
    pending: list[_Listing] = []
    held = 0

    def flush() -> None:
        nonlocal held
        listed = [
            (read.initiative, read.plans, read.complete, read.digest)
            for read in pending
            if read.plans is not None
        ]
        results: list[UpsertCounts] = []
        if listed:
            results, writes = plans_diff(
                listed, now=timezone.now(), zone=zone, moved=moved,
                unreadable=frozenset(UUID(p.id) for read in pending for p in read.unreadable),
            )  # fmt: skip
            if writes:
                with run.leased_write():
                    writes.write()
                for pk, (digest, checked) in writes.digests.items():
                    if pk in by_pk:  # what the Initiatives read later in this run compare with
                        by_pk[pk].plans_digest, by_pk[pk].plans_checked = digest, checked
        # Counted and reported only once written: a batch that failed changed nothing.
        found = iter(results)
        for read in pending:
            if read.plans is not None:
                result = next(found)
            elif read.same is not None:
                result = UpsertCounts(unchanged=read.same)
            else:
                _step_done(read.outcome)
                continue
            _add_counts(run, result)
            error = read.outcome.pop("error", None)
            read.outcome.update(
                created=result.created,
                updated=result.updated,
                removed=result.removed if read.complete else 0,
            )
            if error is not None:
                read.outcome["error"] = error
            _step_done(read.outcome)
        pending.clear()
        held = 0

    def _step_done(outcome: dict[str, object]) -> None:
        run.outcomes.append(outcome)
        runs.run_step_done(run, client.stats)
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
        # The pages last mirrored, while no Plan's last_seen is due for its daily refresh.
        checked = initiative.plans_checked
        mirrored = (
            initiative.plans_digest
            if checked is not None and timezone.now() - checked < LAST_SEEN_REFRESH
            else ""
        )
        try:
            listing = client.read_plans(item.id, salt=salt, unless=mirrored)
        except khoros_client.KhorosIncompleteListingError as exc:
            # What was read is mirrored; the Plans behind the hole are not taken as removed.
            message = runs.error_text(exc)
            first_error = first_error or f"Initiative {item.id}: {message}"
            incomplete += 1
            run.failed_count += 1
            outcome.update(
                status="incomplete", plans=len(exc.items), error=runs.redact(message)[:1000]
            )
            pending.append(_Listing(outcome, initiative, list(exc.items)))
            held += len(exc.items)
        except khoros_client.KhorosError as exc:
            message = runs.error_text(exc)
            first_error = first_error or f"Initiative {item.id}: {message}"
            outcome.update(status="failed", error=runs.redact(message)[:1000])
            run.failed_count += 1
            if isinstance(exc, khoros_client.KhorosAuthError):
                stop_status = SyncRun.Status.FAILED
            elif isinstance(exc, khoros_client.KhorosRateLimitedError):
                # Hammering a throttled API only makes it worse: stop cleanly, resume next run.
                stop_status = SyncRun.Status.DEFERRED
            # Outcomes stay in the Initiatives' order: this one waits for the batch before it.
            pending.append(_Listing(outcome, initiative, None))
            if stop_status is not None:
                flush()  # before the "not_run" outcomes that follow it
            continue
        else:
            outcome.update(status="ok", plans=listing.count)
            if listing.unreadable:
                # Each such Plan stays as mirrored (or absent) and is said; the others go on.
                bad = listing.unreadable
                unreadable += len(bad)
                run.failed_count += len(bad)
                message = bad[0].reason  # names the Plan
                if len(bad) > 1:
                    message += f" (and {len(bad) - 1} more Plans of this Initiative)"
                first_error = first_error or f"Initiative {item.id}: {message}"
                outcome.update(
                    status="partial", unreadable=len(bad), error=runs.redact(message)[:1000]
                )
            if listing.plans is None:
                # The very pages mirrored last time: nothing to compare, nothing to write.
                pending.append(_Listing(outcome, initiative, None, True, same=listing.count))
            else:
                pending.append(
                    _Listing(outcome, initiative, listing.plans, True, listing.digest,
                             unreadable=listing.unreadable)
                )  # fmt: skip
                held += listing.count
        if held >= PLAN_WRITE_BATCH:
            flush()
        else:
            # Between writes too the lease is renewed when a save is due: a thousand Plans
            # spread over many Initiatives could take longer to read than the lease lasts.
            run.checkpoint(client.stats)
    if pending:
        flush()

    if not fetched:
        runs.run_checkpoint(run, client.stats, runs.COUNT_FIELDS)
    if listing_error is not None:
        # Listed first: without the whole list, no Initiative and no Plan was marked removed.
        message = (
            f"The Initiative list is incomplete ({runs.error_text(listing_error)}): "
            f"{len(fetched)} Initiatives read, none marked removed."
        )
        first_error = f"{message} {first_error}".strip()
    if stop_status is not None:
        return runs.run_finish(run, stop_status, first_error)
    if run.failed_count:
        # Every Initiative failing outright is a failed run; an incomplete listing mirrored
        # what it read, so the run is partial.
        failed = run.failed_count - incomplete - unreadable
        status = SyncRun.Status.FAILED if failed == len(fetched) else SyncRun.Status.PARTIAL
        parts = []
        if failed:
            parts.append(f"{failed} of {len(fetched)} Initiatives failed.")
        if incomplete:
            parts.append(
                f"{incomplete} of {len(fetched)} Initiatives listed their Plans incompletely "
                "(none of their Plans marked removed)."
            )
        if unreadable:
            parts.append(
                f"{unreadable} Plan{'s' if unreadable != 1 else ''} could not be read (kept as "
                "mirrored, not marked removed; the other Plans of their Initiatives are up to "
                "date)."
            )
        return runs.run_finish(run, status, " ".join([*parts, first_error]))
    if listing_error is not None:
        return runs.run_finish(run, SyncRun.Status.PARTIAL, first_error)
    return runs.run_finish(run, SyncRun.Status.SUCCEEDED)


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
