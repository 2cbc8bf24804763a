"""Template helpers of the workbench: links that keep its state."""

from __future__ import annotations

from django import template
from django.http import QueryDict
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def state_url(context: template.Context, **changes: object) -> str:
    """The workbench URL with its current state, some keys replaced (None drops a key)."""
    state: QueryDict = context["state"].copy()
    # Ticked Plans are not part of a link: htmx sends the boxes ticked now (hx-include), so a
    # box unticked after this page was drawn stays unticked.
    state.pop("plans", None)
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = str(value)
    query = state.urlencode()
    return reverse("workbench") + (f"?{query}" if query else "")


@register.simple_tag(takes_context=True)
def state_url_key(context: template.Context, key: str, value: object) -> str:
    """Like state_url, for a key held in a variable (the pager's cpage or ppage)."""
    return state_url(context, **{key: value})


@register.filter
def get_item(mapping: dict, key: object) -> object:
    """Look a key up in a dict: `flags|get_item:pk`."""
    return mapping.get(key)


@register.filter
def is_list(value: object) -> bool:
    return isinstance(value, list | tuple)


@register.filter
def state_text(value: object) -> str:
    """One entry of an audit state's list: a Plan and its campaign read as a line, else text."""
    if isinstance(value, dict) and "plan_name" in value:
        where = value.get("campaign_name") or (
            ", ".join(value.get("sap_campaigns") or []) or "no campaign"
        )
        return f"{value['plan_name']} → {where}"
    return str(value)
