"""Numbers for people: thousands separators on every page that shows KPIs."""

from __future__ import annotations

from django import template

from campaigns.charts import number

register = template.Library()


@register.filter
def thousands(value: object) -> object:
    """1234567 -> "1,234,567"; anything that is not a number is shown as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return number(value)
