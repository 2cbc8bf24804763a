"""Fitting values to their columns: the model's max_length says how long, not the caller."""

from __future__ import annotations

from typing import Any, cast

from django.db import models


def fit(model: type[models.Model], field: str, value: str) -> str:
    """Cut `value` to the column's max_length; a column without one (a TextField) takes it all."""
    # A column of the model, never a reverse relation (which has no max_length).
    limit = cast("models.Field[Any, Any]", model._meta.get_field(field)).max_length
    return value[:limit] if limit is not None else value
