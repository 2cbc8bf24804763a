"""Server-rendered SVG bar charts of daily numbers: no JavaScript, readable and accessible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 560, 160
LEFT, BOTTOM, TOP, RIGHT = 48, 22, 10, 8


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
class BarChart:
    title: str
    total: int
    bars: list[ChartBar]
    ticks: list[Tick]
    days: list[DayLabel]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM


def _nice_max(value: int) -> int:
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


def _short(value: float) -> str:
    if value != int(value):
        return f"{value:.1f}"  # only on small axes: a tick at half of 1
    value = int(value)
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            number = value / size
            return (
                f"{number:.0f}{suffix}"
                if number >= 10 or number == int(number)
                else f"{number:.1f}{suffix}"
            )
    return str(value)


def bar_chart(title: str, series: list[tuple[date, int]]) -> BarChart:
    """One bar per day, scaled to a round maximum, with three axis ticks and a few day labels."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_max(max((v for _, v in series), default=0))
    slot = plot_w / max(len(series), 1)
    gap = min(2.0, slot * 0.2)
    bars = []
    for index, (day, value) in enumerate(series):
        h = plot_h * value / top
        bars.append(
            ChartBar(
                x=round(LEFT + index * slot + gap / 2, 2),
                y=round(TOP + plot_h - h, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(h, 2),
                day=day,
                value=value,
            )
        )
    ticks = [Tick(y=round(TOP + plot_h * (1 - f), 2), label=_short(top * f)) for f in (0, 0.5, 1)]
    label_every = max(1, len(series) // 6)
    days = [
        DayLabel(x=round(LEFT + i * slot + slot / 2, 2), label=day.strftime("%b %d"))
        for i, (day, _) in enumerate(series)
        if i % label_every == 0
    ]
    return BarChart(title=title, total=sum(v for _, v in series), bars=bars, ticks=ticks, days=days)
