"""get_FOO_display() from each field's labels gathered once."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import models
from django.utils.choices import CallableChoiceIterator
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


@cache
def _labels(field: models.Field[Any, Any]) -> dict[Any, Any]:
    return dict(make_hashable(field.flatchoices))


class QuickChoiceLabels:
    """Django's get_FOO_display() of a model, from each field's labels gathered once.

    Django gathers a field's choices into a new dict on every call (3-6 us here): the sync
    history called it three times for each of its 50 runs. A field whose choices are a
    callable is read as Django reads it, every time: what it returns may change.
    """

    def _get_FIELD_display(self, field: models.Field[Any, Any]) -> str:
        if isinstance(field.choices, CallableChoiceIterator):
            return super()._get_FIELD_display(field)
        value = getattr(self, field.attname)
        return force_str(_labels(field).get(make_hashable(value), value), strings_only=True)
