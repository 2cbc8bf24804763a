"""Server-rendered SVG charts of daily numbers: no JavaScript, readable and accessible.

Each series is ONE <path> (all of a chart's bars, or a line), not one element per day: a page of
90 days and 50 Plans renders a few dozen elements instead of thousands. Colours are SVG
presentation attributes or CSS classes, never style="...", so the strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeAlias

# Drawn at about its own size in a column of the page (390 px phone, two columns at 1440 px),
# so 11px text stays readable instead of being scaled down.
WIDTH, HEIGHT = 400, 150
# RIGHT leaves room for half of a last day label centred on the plot's edge.
BOTTOM, TOP, RIGHT = 22, 10, 22
# Tick labels are 11px text: about 6.8px a character, plus a gap to the plot.
CHAR_W, TICK_GAP, MIN_LEFT = 6.8, 10, 30

# Runs of days to shade, as (first, last) indexes into a chart's days, both included.
Spans: TypeAlias = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: int


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Series:
    """One drawn series: a path of bars (filled) or a line (stroked)."""

    label: str
    d: str
    css: str = ""
    color: str = ""  # a presentation attribute (fill= or stroke=); "" leaves it to the CSS class


@dataclass(frozen=True)
class Marker:
    """A vertical rule, such as today within the campaign's dates."""

    x: float
    label: str


@dataclass(frozen=True)
class Shade:
    """Days drawn on a grey ground behind the series (one path), such as those outside the
    campaign's dates, with what they are."""

    d: str
    label: str


@dataclass(frozen=True)
class BarChart:
    title: str
    total: int
    bars: list[ChartBar]
    ticks: list[Tick]
    days: list[DayLabel]
    series: list[Series] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    shade: Shade | None = None
    kind: str = "bars"  # "bars": filled paths; "lines": stroked paths
    total_label: str = ""
    note: str = ""  # said below the legend: what a layer of several Plans holds
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MIN_LEFT
    baseline: float = HEIGHT - BOTTOM

    @property
    def total_text(self) -> str:
        return number(self.total)

    @property
    def aria(self) -> str:
        """The chart's name for screen readers, with what its total is and what is shaded."""
        if self.kind != "bars":
            name = self.title
        elif self.total_label in ("", self.title):
            name = f"{self.title} per day, {self.total_text} in total"
        else:
            name = f"{self.title}; {self.total_label.lower()} {self.total_text}"
        return f"{name}; shaded: {self.shade.label}" if self.shade else name

    @property
    def tick_x(self) -> float:
        return round(self.left - 6, 2)

    @property
    def label_y(self) -> float:
        return self.height - 6


def number(value: float) -> str:
    """A number for people: thousands separators, a decimal only where one is needed."""
    if value != int(value):
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _nice_max(value: float) -> int:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _axis(top_value: float) -> tuple[int, list[tuple[float, str]], float]:
    """The round maximum, its tick fractions with labels, and a left margin that fits them."""
    top = _nice_max(top_value)
    # Every number charted is a count (posts, impressions, people reached): no tick between
    # two whole numbers, so a maximum of 1 or 5 gets no middle tick (0.5, 2.5).
    fractions = (0, 0.5, 1) if top % 2 == 0 else (0, 1)
    labels = [(f, number(top * f)) for f in fractions]
    left = max(MIN_LEFT, TICK_GAP + CHAR_W * max(len(label) for _, label in labels))
    return top, labels, round(left, 2)


def _day_labels(days: list[date], left: float, slot: float, *, centred: bool) -> list[DayLabel]:
    # At most 5 labels: "Mar 01" five times fits a 390 px screen without overlapping.
    every = max(1, -(-len(days) // 5))
    offset = slot / 2 if centred else 0
    return [
        DayLabel(x=round(left + i * slot + offset, 2), label=day.strftime("%b %d"))
        for i, day in enumerate(days)
        if i % every == 0
    ]


def _shade(
    spans: Spans, label: str, x0: Callable[[int], float], x1: Callable[[int], float]
) -> Shade | None:
    """The shaded `spans` as one path of plot-high rectangles from x0(first) to x1(last)."""
    if not spans:
        return None
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for first, last in spans:
        x, width = round(x0(first), 2), round(x1(last) - x0(first), 2)
        parts.append(f"M{x} {TOP}h{width}v{plot_h}h{-width}z")
    return Shade(d=" ".join(parts), label=label)


def _bars_path(bars: list[ChartBar]) -> str:
    """All bars as one path of closed rectangles (zero-height days draw nothing)."""
    return " ".join(f"M{b.x} {b.y}h{b.width}v{b.height}h{-b.width}z" for b in bars if b.height > 0)


def bar_chart(
    title: str,
    series: list[tuple[date, int]],
    *,
    total: int | None = None,
    total_label: str = "",
    shaded: Spans = (),
    shade_label: str = "",
) -> BarChart:
    """One bar per day, scaled to a round maximum, with three axis ticks and a few day labels.

    `total` is the caller's aggregate by the KPI's declaration (kpi_catalog.combine); without
    one the days add up, which is right for counts only. `shaded` days (index spans) are drawn
    on a grey ground, said by `shade_label`.
    """
    top, tick_labels, left = _axis(max((v for _, v in series), default=0))
    plot_w = WIDTH - left - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(series), 1)
    gap = min(2.0, slot * 0.2)
    bars = []
    for index, (day, value) in enumerate(series):
        h = plot_h * value / top
        bars.append(
            ChartBar(
                x=round(left + index * slot + gap / 2, 2),
                y=round(TOP + plot_h - h, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(h, 2),
                day=day,
                value=value,
            )
        )
    ticks = [Tick(y=round(TOP + plot_h * (1 - f), 2), label=label) for f, label in tick_labels]
    return BarChart(
        title=title,
        total=sum(v for _, v in series) if total is None else total,
        total_label=total_label or title,
        bars=bars,
        ticks=ticks,
        days=_day_labels([d for d, _ in series], left, slot, centred=True),
        series=[Series(label=title, d=_bars_path(bars))],
        shade=_shade(
            shaded, shade_label, lambda i: left + i * slot, lambda i: left + (i + 1) * slot
        ),
        left=left,
    )


def stacked_chart(
    title: str,
    days: list[date],
    layers: list[tuple[str, str, list[int]]],
    *,
    shaded: Spans = (),
    shade_label: str = "",
    note: str = "",
) -> BarChart:
    """Daily bars stacked by layer (label, colour, one number per day): one path per layer."""
    heights = [sum(values[i] for _, _, values in layers) for i in range(len(days))]
    top, tick_labels, left = _axis(max(heights, default=0))
    plot_w = WIDTH - left - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    gap = min(2.0, slot * 0.2)
    width = round(max(slot - gap, 0.5), 2)
    base = [0.0] * len(days)
    drawn = []
    for label, color, values in layers:
        parts = []
        for i, value in enumerate(values):
            if value <= 0:
                continue
            h = plot_h * value / top
            y = TOP + plot_h - base[i] - h
            x = round(left + i * slot + gap / 2, 2)
            parts.append(f"M{x} {round(y, 2)}h{width}v{round(h, 2)}h{-width}z")
            base[i] += h
        drawn.append(Series(label=label, d=" ".join(parts), color=color))
    return BarChart(
        title=title,
        total=sum(heights),
        total_label=title,
        bars=[],
        ticks=[Tick(y=round(TOP + plot_h * (1 - f), 2), label=lab) for f, lab in tick_labels],
        days=_day_labels(days, left, slot, centred=True),
        series=drawn,
        shade=_shade(
            shaded, shade_label, lambda i: left + i * slot, lambda i: left + (i + 1) * slot
        ),
        left=left,
        note=note,
    )


def line_chart(
    title: str,
    lines: list[tuple[str, str, list[int]]],
    *,
    day_labels: list[str],
    marker: tuple[int, str] | None = None,
    shaded: Spans = (),
    shade_label: str = "",
) -> BarChart:
    """Lines (label, css class, one number per x) over shared x positions: one path per line.

    `day_labels` name the x positions (dates, or "day 1" for campaigns aligned by their day);
    `marker` draws a rule at one x index (today within the campaign); `shaded` x positions get
    a grey ground half a step either side, within the plot.
    """
    count = max([len(values) for _, _, values in lines] + [len(day_labels), 1])
    top, tick_labels, left = _axis(max((max(v, default=0) for _, _, v in lines), default=0))
    plot_w = WIDTH - left - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(count - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 2)

    drawn = []
    for label, css, values in lines:
        points = [f"{x(i)} {round(TOP + plot_h * (1 - v / top), 2)}" for i, v in enumerate(values)]
        drawn.append(Series(label=label, d=("M" + " L".join(points)) if points else "", css=css))
    every = max(1, -(-len(day_labels) // 5))
    return BarChart(
        title=title,
        total=0,
        bars=[],
        ticks=[Tick(y=round(TOP + plot_h * (1 - f), 2), label=lab) for f, lab in tick_labels],
        days=[DayLabel(x=x(i), label=lab) for i, lab in enumerate(day_labels) if i % every == 0],
        series=drawn,
        markers=[Marker(x=x(marker[0]), label=marker[1])] if marker else [],
        shade=_shade(
            shaded,
            shade_label,
            lambda i: max(x(i) - step / 2, left),
            lambda i: min(x(i) + step / 2, left + plot_w),
        ),
        kind="lines",
        left=left,
    )
