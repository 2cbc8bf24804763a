"""What every mirror of an external list shares: one row's upsert (and fit, for its columns).

Used by the Khoros mirrors (Initiatives, Plans) and the SAP MC campaign mirror; imports no
system app: it works on the rows it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

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
