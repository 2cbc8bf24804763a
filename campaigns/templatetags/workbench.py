"""Template helpers of the workbench: links that keep its state."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.http import QueryDict
from django.urls import reverse
from django.utils.html import format_html

from syncs.filtering import FilterForm

register = template.Library()


@register.simple_tag(takes_context=True)
def state_url(context: template.Context, **changes: object) -> str:
    """The workbench URL with its current state, some keys replaced (None drops a key)."""
    path, pairs = _state_pairs(context)
    # As QueryDict would: a replaced key keeps its place with its one new value, a new key
    # comes last, a dropped key goes.
    replaced = {key: str(value) for key, value in changes.items() if value is not None}
    query: list[tuple[str, str]] = []
    present: set[str] = set()
    for key, value in pairs:
        if key not in changes:
            query.append((key, value))
        elif key in replaced and key not in present:
            query.append((key, replaced[key]))
        present.add(key)
    query += [(key, value) for key, value in replaced.items() if key not in present]
    encoded = urlencode(query)
    return path + (f"?{encoded}" if encoded else "")


def _state_pairs(context: template.Context) -> tuple[str, list[tuple[str, str]]]:
    """The workbench's path and its state as (key, value) pairs, once per template rendered.

    Ticked Plans are not part of a link: htmx sends the boxes ticked now (hx-include), so a box
    unticked after this page was drawn stays unticked. (A QueryDict copied and encoded per link
    was a tenth of the workbench's rendering, issue 13.)
    """
    state: QueryDict = context["state"]
    cached = context.render_context.get(_STATE_PAIRS)
    if cached is None or cached[0] is not state:  # a template may link from another state
        pairs = [
            (key, value) for key, values in state.lists() if key != "plans" for value in values
        ]
        cached = (state, reverse("workbench"), pairs)
        context.render_context[_STATE_PAIRS] = cached
    return cached[1], cached[2]


_STATE_PAIRS = "campaigns.workbench.state_pairs"


@register.simple_tag(takes_context=True)
def state_url_key(context: template.Context, key: str, value: object) -> str:
    """Like state_url, for a key held in a variable (the pager's cpage or ppage)."""
    return state_url(context, **{key: value})


@register.filter
def get_item(mapping: dict, key: object) -> object:
    """Look a key up in a dict: `flags|get_item:pk`."""
    return mapping.get(key)


@register.filter
def invalid_attrs(form: FilterForm[Any], name: str) -> str:
    """aria-invalid and aria-describedby for a control the workbench writes by hand, when its
    form's problem is about it (FilterForm.full_clean does it for controls Django renders)."""
    if name not in form.invalid_fields():
        return ""
    return format_html('aria-invalid="true" aria-describedby="{}"', form.problem_id)
