"""Forms of the engine's pages: the sync history filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from syncs.filtering import F, FilterForm
from syncs.models import SyncRun
from syncs.selectors import SyncRunFilters


class DateRangeForm(FilterForm[F]):
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            raise ValidationError("The start of the date range is after its end.")
        return data

    def invalid_fields(self) -> list[str]:
        # The range's error is the form's, not a field's: it is about both dates.
        both = ["date_from", "date_to"] if self.non_field_errors() else []
        return list(dict.fromkeys([*super().invalid_fields(), *both]))


class SyncHistoryFilterForm(DateRangeForm[SyncRunFilters]):
    filters_class = SyncRunFilters

    kind = forms.ChoiceField(
        required=False, choices=lambda: [("", "Any kind"), *SyncRun.Kind.choices]
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *SyncRun.Status.choices]
    )
    trigger = forms.ChoiceField(
        required=False, choices=[("", "Any trigger"), *SyncRun.Trigger.choices]
    )

    def filters_from(self, data: dict[str, Any]) -> SyncRunFilters:
        return SyncRunFilters(
            kind=data["kind"],
            status=data["status"],
            trigger=data["trigger"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
