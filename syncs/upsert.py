"""What every mirror of an external list shares: one row's upsert (and fit, for its columns),
and the bulk upsert of rows of database-ready values.

Used by the Khoros mirrors (Initiatives, Plans) and the SAP MC campaign mirror; imports no
system app: it works on the rows it is given.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from smcbridge.fields import fit

__all__ = [
    "CHANGED",
    "CREATED",
    "LAST_SEEN_REFRESH",
    "TOUCHED",
    "UNCHANGED",
    "fit",
    "mirror_row",
    "mirror_write",
    "upsert_rows",
]

# An unchanged row is not written again; only its last_seen is refreshed, and at most once a
# day, so a sync on unchanged data writes nothing while last_seen stays true to the day.
LAST_SEEN_REFRESH = timedelta(days=1)

CREATED = "created"
CHANGED = "changed"  # its values differ, or it came back after removal: every field written
TOUCHED = "touched"  # unchanged, but last_seen is a day old: only last_seen written
UNCHANGED = "unchanged"


def mirror_row(
    row: Any,
    values: Mapping[str, object],
    *,
    now: datetime,
    extra: Mapping[str, object] | None = None,
    differs: bool = False,
) -> str:
    """Bring one existing mirror row up to date in memory; return what must be written.

    `values` are compared with the row; `extra` (the raw payload, say) is written along with them
    but never makes a row differ; `differs` is a difference the caller found elsewhere (the
    row's references). The row is seen now: a returned row is never "removed", and its last_seen
    is refreshed when it changed or at most once a day when it did not.
    """
    differs = (
        differs
        or row.removed_at is not None
        or any(getattr(row, name) != value for name, value in values.items())
    )
    if differs:
        for name, value in {**values, **(extra or {})}.items():
            setattr(row, name, value)
        row.removed_at, row.last_seen = None, now
        return CHANGED
    if now - row.last_seen >= LAST_SEEN_REFRESH:
        row.last_seen = now
        return TOUCHED
    return UNCHANGED


def mirror_write(
    model: Any,
    fields: Sequence[str],
    *,
    created: list[Any],
    changed: list[Any],
    touched: list[Any],
    vanished: Sequence[Any] = (),
    batch_size: int = 500,
) -> None:
    """Write what mirror_row decided for a mirror's rows (call it inside the caller's transaction).

    New rows are created; changed ones get every field written (with raw, removed_at and
    last_seen); touched ones only last_seen; vanished ones (marked removed) only removed_at.
    """
    model.objects.bulk_create(created, batch_size=batch_size)
    if changed:
        model.objects.bulk_update(
            changed, [*fields, "raw", "removed_at", "last_seen"], batch_size=batch_size
        )
    if touched:
        model.objects.bulk_update(touched, ["last_seen"], batch_size=batch_size)
    if vanished:
        model.objects.bulk_update(vanished, ["removed_at"], batch_size=batch_size)


_temp_tables = itertools.count(1)
# Fewer rows than this go by executemany on PostgreSQL too: the temporary table costs about
# what 200 rows' executemany does (measured with 50 and 10,000 Plans, bench plans).
COPY_AT_LEAST = 500


def upsert_rows(
    connection: BaseDatabaseWrapper,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Insert rows of database-ready values, or update the row with the same `conflict` key.

    Every column but the key and those in `keep` (a first_seen) is written on conflict. On
    SQLite one INSERT ... ON CONFLICT DO UPDATE runs for every row (executemany). On PostgreSQL
    the rows (COPY_AT_LEAST or more) are copied (COPY) into a temporary table dropped at commit
    and upserted from it by one INSERT ... SELECT: a third of the executemany's time for
    10,000 Plans (issue 13). Two rows with one key would make that statement fail, so the last
    of them is kept, as the executemany's order of execution would. COPY goes past Django's
    execute wrappers: a counter of statements sees the CREATE and the INSERT, not it.
    """
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    updates = ", ".join(
        f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in (*conflict, *keep)
    )
    target = f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO UPDATE SET {updates}"
    # Inside the caller's transaction if there is one (no savepoint), else in one of its own.
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(rows) < COPY_AT_LEAST:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders}) {target}", rows
            )
            return
        key = [columns.index(c) for c in conflict]
        latest = {tuple(row[i] for i in key): row for row in rows}
        temp = quote(f"upsert_{table}_{next(_temp_tables)}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS "
            f"SELECT {names} FROM {quote(table)} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {temp} ({names}) FROM STDIN") as copy:
            for row in latest.values():
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {temp} {target}")
