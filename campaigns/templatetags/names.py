"""The rule for mirrored names (smcbridge.names) in templates, for names read without their
model: a model's own is its `display_name`."""

from __future__ import annotations

from django import template

from smcbridge.names import shown_name as _shown_name

register = template.Library()


@register.filter
def shown_name(name: str | None, ident: object) -> str:
    """{{ row.initiative_name|shown_name:row.initiative_key }}: "(no name) · 1700" for a blank."""
    return _shown_name(name, ident)
