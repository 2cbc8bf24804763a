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
from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.html import conditional_escape

_SELECT = "django/forms/widgets/select.html"
# Each of these is Django's input.html included as it is.
_INPUTS = frozenset(f"django/forms/widgets/{kind}.html" for kind in ("text", "date", "search"))


def _attrs(attrs: dict[str, Any]) -> str:
    """Django's widgets/attrs.html: False left out, True as a bare name, the rest name="value"."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class FilterFormRenderer(DjangoTemplates):
    """Django's form renderer, with the <select>s and text and date inputs of filter forms
    written in Python.

    Django writes a <select> with a template, and each of its <option>s with two more (the
    option's and its attributes'); an <input> with three. The sync history's filters (three
    selects of 5-7 options, two dates) cost about 1 ms that way, a tenth of the page. The HTML is
    Django's own but for the line breaks between options (`tests/syncs/test_filter_html.py`
    compares them); every other template goes to Django.
    """

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        widget = context["widget"]
        if template_name == _SELECT:
            options = []
            for group_name, group, _index in widget["optgroups"]:
                if group_name:
                    options.append(f'<optgroup label="{conditional_escape(group_name)}">')
                options += [
                    f'<option value="{conditional_escape(str(option["value"]))}"'
                    f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>"
                    for option in group
                ]
                if group_name:
                    options.append("</optgroup>")
            return (
                f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>'
                f"{''.join(options)}</select>"
            )
        if template_name in _INPUTS:
            value = widget["value"]
            shown = "" if value is None else f' value="{conditional_escape(str(value))}"'
            return (
                f'<input type="{conditional_escape(widget["type"])}" '
                f'name="{conditional_escape(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
            )
        return super().render(template_name, context, request)


@dataclass(frozen=True)
class Filters:
    """What a selector's filters share: `invalid` filters match no row."""

    invalid: bool = field(default=False, kw_only=True)


F = TypeVar("F", bound=Filters)


class FilterForm(forms.Form, Generic[F]):
    """A page's filters read from its query string: the values asked for, or, when any of them
    is invalid, filters that match nothing (and `problem` names what is wrong)."""

    filters_class: type[F]
    # One renderer for every filter form: a class here would build a template engine per form.
    default_renderer = FilterFormRenderer()

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
