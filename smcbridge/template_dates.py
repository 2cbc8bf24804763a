"""The `day` filter, built into every template (settings.TEMPLATES' "builtins")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter(expects_localtime=True)
def day(value: Any, arg: str = "Y-m-d") -> SafeString | str:
    """A date, or an instant in the viewer's zone, as `<time>`, which never breaks at its
    hyphens (app.css): on a phone "starts 2026-" ended one line and "12-12" began the next.

    Empty for no date, so that `|default:"open"` still reads. Only where the date is text: an
    attribute (a link's `date=`, an aria-label) keeps `|date`.
    """
    text = date_filter(value, arg)
    if not text:
        return ""
    machine = date_filter(value, "c" if isinstance(value, datetime) else "Y-m-d")
    return format_html('<time datetime="{}">{}</time>', machine, text)
