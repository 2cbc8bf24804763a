"""A Plan's colour on pages: one fallback for Plans without one (campaigns/plan_colors.py)."""

from __future__ import annotations

from django import template

from campaigns import plan_colors

register = template.Library()


@register.filter
def plan_color(color: str | None) -> str:
    """{{ plan.color|plan_color }}: the Khoros colour, or the one grey of Plans without one."""
    return plan_colors.plan_color(color)
