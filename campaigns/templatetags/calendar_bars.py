"""The calendar's bars, drawn in Python: a year can hold a thousand of them.

The template engine resolved some twenty variables, filters and a `{% url %}` per bar, which was
most of the time of a quarter or a year (issue 13). These tags write the same markup a lane at a
time from values worked out once per page; the surrounding layout stays in the template. A bar's
values are plain text (names, dates, its link), escaped by the standard library's `escape`, as
Django's does, without Django's checks for safe and lazy strings around every one of them: those
were half of the time of drawing a bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from campaigns.calendar import Bar

register = template.Library()

_UNASSIGNED = '<span class="sr-only"> (not assigned: open it to assign it)</span>'
# A month grid's later segment of a bar: out of the Tab order, and read as the same item.
_CONTINUED = '<span class="sr-only"> (continued)</span>'


def _links(context: template.Context) -> tuple[str, str]:
    """The panel link's start for htmx and for the address bar, worked out once per render."""
    cache = context.render_context
    links = cache.get("calendar_bar_links")
    if links is None:
        prefix = conditional_escape(context.get("panel_prefix") or "")
        links = (
            f"{conditional_escape(reverse('calendar-panel'))}?{prefix}panel=",
            f"{conditional_escape(context.get('calendar_url') or '')}?{prefix}panel=",
        )
        cache["calendar_bar_links"] = links
    return links


def _cont(bar: Bar) -> str:
    return (" cont-before" if bar.continues_before else "") + (
        " cont-after" if bar.continues_after else ""
    )


def _marks(bar: Bar) -> str:
    return "".join(
        f'<span class="mark {escape(slugify(mark))}">{escape(mark)}</span>' for mark in bar.marks
    )


def _panel_attrs(bar: Bar, links: tuple[str, str]) -> str:
    panel = escape(bar.panel)
    return (
        f'hx-get="{links[0]}{panel}" hx-target="#cal-panel" hx-swap="innerHTML" '
        f'hx-push-url="{links[1]}{panel}" data-panel="{panel}"'
    )


def _drag(bar: Bar) -> tuple[str, str]:
    """The attributes and the screen reader's note of a Plan that can be dragged, if it can."""
    if not bar.plan_id:
        return "", ""
    return f' draggable="true" data-plan="{bar.plan_id}"', _UNASSIGNED


def _bar(bar: Bar, links: tuple[str, str], *, plan: bool, cont: bool, drop: bool) -> str:
    """One bar: a campaign's carries its marks, a Plan's its colour and, if unassigned, its
    drag handle and the screen reader's note. `drop`: the bar itself is where a dragged Plan
    lands (the month grid; on the timeline the bar's row is)."""
    start, end = bar.start.isoformat(), bar.end.isoformat()
    label = escape(bar.label)
    classes = f"bar{' plan' if plan else ''} {escape(bar.state)}{_cont(bar) if cont else ''}"
    style = f"grid-column: {bar.col_start} / {bar.col_end};"
    if plan:
        drag, after = _drag(bar)
        style += f" --c: {escape(bar.color)}; --ink: {bar.ink};"
        title = f"{label} ({start} – {end}, {escape(bar.note)})"
        extra = drag
    else:
        after = _marks(bar)
        title = f"{label} ({start} – {end})"
        extra = f' data-campaign="{bar.campaign_id}"' if drop else ""
    if bar.continued:
        extra += ' tabindex="-1"'
        after = _CONTINUED + after
    return (
        f'<a class="{classes}" data-style="{style}" href="{escape(bar.url)}" title="{title}" '
        f'data-start="{start}" data-end="{end}" {_panel_attrs(bar, links)}{extra}>'
        f'<span class="bar-label">{label}</span>{after}</a>'
    )


def _lane(
    context: template.Context,
    lane: Sequence[Bar],
    *,
    plan: bool,
    cont: bool = True,
    drop: bool = False,
) -> SafeString:
    links = _links(context)
    html = "\n".join(_bar(bar, links, plan=plan, cont=cont, drop=drop) for bar in lane)
    return mark_safe(html)  # noqa: S308 - every value in a bar is escaped


@register.simple_tag(takes_context=True)
def month_campaign_bars(context: template.Context, lane: Sequence[Bar]) -> SafeString:
    """A week's lane of campaign bars in the month grid."""
    return _lane(context, lane, plan=False, drop=True)


@register.simple_tag(takes_context=True)
def month_plan_bars(context: template.Context, lane: Sequence[Bar]) -> SafeString:
    """A week's lane of Plan bars in the month grid."""
    return _lane(context, lane, plan=True)


@register.simple_tag(takes_context=True)
def timeline_campaign_bar(context: template.Context, bar: Bar) -> SafeString:
    """A campaign's bar on the quarter or year timeline."""
    return _lane(context, [bar], plan=False)


@register.simple_tag(takes_context=True)
def timeline_plan_bars(context: template.Context, lane: Sequence[Bar]) -> SafeString:
    """A lane of Plan bars on the quarter or year timeline (they never show continuation)."""
    return _lane(context, lane, plan=True, cont=False)
