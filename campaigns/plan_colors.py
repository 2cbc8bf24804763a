"""The colour a Plan is drawn in: the same in every table, bar, swatch and chart of the bridge."""

from __future__ import annotations

import re

# The one colour of a Plan without a Khoros colour (Khoros may leave it out).
FALLBACK = "#98a2b3"
# Khoros sends #rrggbb; anything else could not be drawn the same in CSS and in an SVG fill.
# Matched whole (fullmatch): "$" also matches before a final line break.
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def plan_color(color: str | None) -> str:
    """The Plan's Khoros colour, or FALLBACK when it has none (or one that is not #rgb/#rrggbb)."""
    return color if color and _HEX.fullmatch(color) else FALLBACK
