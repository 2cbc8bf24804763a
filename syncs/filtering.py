"""What every filtered page and export shares: an invalid filter value shows nothing.

A page that dropped an invalid value (or, as these pages once did, every filter with it) listed
more than the person asked for, under the filters the form still showed: "Kind: SAP MC
campaigns" above every kind's runs, or an audit export of the whole trail for one wrong date.
So an invalid value is named in a message, the page lists no rows and an export answers 400
instead of a file: never more rows than were asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django import forms
from django.http import HttpResponse, HttpResponseBadRequest


@dataclass(frozen=True)
class Filters:
    """What a selector's filters share: `invalid` filters match no row."""

    invalid: bool = field(default=False, kw_only=True)


F = TypeVar("F", bound=Filters)


class FilterForm(forms.Form, Generic[F]):
    """A page's filters read from its query string: the values asked for, or, when any of them
    is invalid, filters that match nothing (and `problem` names what is wrong)."""

    filters_class: type[F]

    def filters_from(self, data: dict[str, Any]) -> F:
        """The filters of valid cleaned data."""
        raise NotImplementedError

    def filters(self) -> F:
        if not self.is_valid():
            return self.filters_class(invalid=True)
        return self.filters_from(self.cleaned_data)

    @property
    def problem_id(self) -> str:
        """The id of the paragraph that names the problem (_filter_problem.html); a page with
        two filter forms (the workbench) tells them apart by their prefixes."""
        return f"{self.prefix}-filter-problem" if self.prefix else "filter-problem"

    def invalid_fields(self) -> list[str]:
        """The names of the fields the problem is about."""
        return [name for name in self.errors if name in self.fields]

    def full_clean(self) -> None:
        super().full_clean()
        # Each control the problem is about is marked invalid and described by the paragraph
        # that names it: a screen reader on that control says what is wrong. (Django would
        # point at an "<id>_error" element that these pages do not draw.)
        for name in self.invalid_fields():
            self.fields[name].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": self.problem_id}
            )

    @property
    def problem(self) -> str:
        """Every invalid value named with its field's label; "" when all are valid."""
        if self.is_valid():
            return ""
        problems = [str(e) for e in self.non_field_errors()]
        for bound in self:
            problems += [f"{bound.label}: {e}" for e in bound.errors]
        return " ".join(problems)


def export_refusal(form: FilterForm[Any]) -> HttpResponse | None:
    """The answer to an export whose filters are invalid (a 400 naming them, in plain text), or
    None when they are valid and the file may be written."""
    if not form.problem:
        return None
    return HttpResponseBadRequest(
        f"Nothing was exported: {form.problem} Correct the filters and export again.\n",
        content_type="text/plain; charset=utf-8",
    )
