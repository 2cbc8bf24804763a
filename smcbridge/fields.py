"""Fitting values to their columns: the model's max_length says how long, not the caller."""

from __future__ import annotations

from typing import Any, cast

from django.db import models

# Bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): in a
# name they can make "gpj.exe" read "exe.jpg" or reorder a name to pass for another. A name of
# a Plan or campaign never needs them, so they are removed from every stored value.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def strip_bidi_controls(value: str) -> str:
    return value.translate(BIDI_CONTROLS)


def fit(model: type[models.Model], field: str, value: str) -> str:
    """Cut `value` to the column's max_length; a column without one (a TextField) takes it all.

    Bidi controls are removed first. The full value stays in the row's `raw` payload, and
    `is_shortened` says whether it was cut, for the pages to flag it.
    """
    value = strip_bidi_controls(value)
    # A column of the model, never a reverse relation (which has no max_length).
    limit = cast("models.Field[Any, Any]", model._meta.get_field(field)).max_length
    return value[:limit] if limit is not None else value


def is_shortened(full: object, stored: str) -> bool:
    """Whether `stored` is a cut of `full` (the upstream value kept in `raw`)."""
    return isinstance(full, str) and len(strip_bidi_controls(full)) > len(stored)
