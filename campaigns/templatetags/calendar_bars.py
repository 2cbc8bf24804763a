"""The calendar's bars, drawn in Python: a year can hold a thousand of them.

The template engine resolved some twenty variables, filters and a `{% url %}` per bar, which was
most of the time of a quarter or a year (issue 13). These tags write the same markup a lane at a
time from values worked out once per page; the surrounding layout stays in the template.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape as escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from campaigns.calendar import Bar

register = template.Library()

_UNASSIGNED = '<span class="sr-only"> (not assigned: open it to assign it)</span>'


def _links(context: template.Context) -> tuple[str, str]:
    """The panel link's start for htmx and for the address bar, worked out once per render."""
    cache = context.render_context
    links = cache.get("calendar_bar_links")
    if links is None:
        prefix = escape(str(context.get("panel_prefix") or ""))
        links = (
            f"{escape(reverse('calendar-panel'))}?{prefix}panel=",
            f"{escape(str(context.get('calendar_url') or ''))}?{prefix}panel=",
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


def _dates(bar: Bar) -> tuple[str, str]:
    return bar.start.isoformat(), bar.end.isoformat()


@register.simple_tag(takes_context=True)
def month_campaign_bars(context: template.Context, lane: Sequence[Bar]) -> SafeString:
    """A week's lane of campaign bars in the month grid."""
    links = _links(context)
    out = []
    for bar in lane:
        start, end = _dates(bar)
        label = escape(bar.label)
        out.append(
            f'\n        <a class="bar {escape(bar.state)}{_cont(bar)}"\n'
            f'           data-style="grid-column: {bar.col_start} / {bar.col_end};" '
            f'href="{escape(bar.url)}"\n'
            f'           title="{label} ({start} – {end})" data-start="{start}" '
            f'data-end="{end}" {_panel_attrs(bar, links)} data-campaign="{bar.campaign_id}">\n'
            f'          <span class="bar-label">{label}</span>{_marks(bar)}</a>\n        '
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@register.simple_tag(takes_context=True)
def month_plan_bars(context: template.Context, lane: Sequence[Bar]) -> SafeString:
    """A week's lane of Plan bars in the month grid."""
    links = _links(context)
    out = []
    for bar in lane:
        start, end = _dates(bar)
        label = escape(bar.label)
        drag, note = _drag(bar)
        out.append(
            f'\n        <a class="bar plan {escape(bar.state)}{_cont(bar)}"\n'
            f'           data-style="grid-column: {bar.col_start} / {bar.col_end}; '
            f'--c: {escape(bar.color)};" href="{escape(bar.url)}"\n'
            f'           title="{label} ({start} – {end}, {escape(bar.note)})" '
            f'data-start="{start}" data-end="{end}" {_panel_attrs(bar, links)}{drag}>'
            f'<span class="bar-label">{label}</span>{note}</a>\n        '
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@register.simple_tag(takes_context=True)
def timeline_campaign_bar(context: template.Context, bar: Bar) -> SafeString:
    """A campaign's bar on the quarter or year timeline."""
    links = _links(context)
    start, end = _dates(bar)
    label = escape(bar.label)
    return mark_safe(  # noqa: S308 - every value is escaped
        f'<a class="bar {escape(bar.state)}{_cont(bar)}" href="{escape(bar.url)}"\n'
        f'           data-style="grid-column: {bar.col_start} / {bar.col_end}" '
        f'title="{label} ({start} – {end})"\n'
        f'           data-start="{start}" data-end="{end}" {_panel_attrs(bar, links)}>\n'
        f'          <span class="bar-label">{label}</span>{_marks(bar)}</a>'
    )


@register.simple_tag(takes_context=True)
def timeline_plan_bars(context: template.Context, lane: Sequence[Bar]) -> SafeString:
    """A lane of Plan bars on the quarter or year timeline."""
    links = _links(context)
    out = []
    for bar in lane:
        start, end = _dates(bar)
        label = escape(bar.label)
        drag, note = _drag(bar)
        out.append(
            f'<a class="bar plan {escape(bar.state)}" data-style="grid-column: {bar.col_start} / '
            f'{bar.col_end}; --c: {escape(bar.color)}" href="{escape(bar.url)}" '
            f'title="{label} ({start} – {end}, {escape(bar.note)})"\n'
            f'          data-start="{start}" data-end="{end}" {_panel_attrs(bar, links)}{drag}>'
            f'<span class="bar-label">{label}</span>{note}</a>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped
