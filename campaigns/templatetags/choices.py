"""A select's <option>s written in one call: a template loop over hundreds was a page's cost."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

SELECTED = mark_safe(" selected")  # noqa: S308 - a constant attribute, no input in it


@register.simple_tag
def dated_options(choices: Iterable[tuple[int, str, date | None]], chosen: object) -> SafeString:
    """<option>s of (pk, name, start) rows, "Name (2026-03-01)", the one of `chosen` selected.

    The campaign page's comparison offers 300 campaigns: written by the template's loop they
    were a quarter of the page's time (7 ms of 30), escaped here as there.
    """
    chosen_pk = getattr(chosen, "pk", None)
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (
                pk,
                SELECTED if pk == chosen_pk else "",
                f"{name} ({start:%Y-%m-%d})" if start else name,
            )
            for pk, name, start in choices
        ),
    )
