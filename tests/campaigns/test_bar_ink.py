"""A Plan's bar takes Khoros's colour; its text is black or white, whichever reads better."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.calendar import readable_ink


def _luminance(hex6: str) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hex6[i : i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize(
    ("color", "ink"),
    [
        ("#23c1be", "#000"),  # Khoros teal: white on it read 2.1:1
        ("#e55f38", "#000"),  # Khoros orange: white on it read 3.3:1
        ("#14213d", "#fff"),
        ("#98a2b3", "#000"),  # the colour of a Plan without one
        ("#abc", "#000"),
        ("#0B6BCB", "#fff"),
        ("", "#fff"),
        ("teal", "#fff"),  # not a hex colour: the bar's default text
        ("#12345g", "#fff"),
    ],
)
def test_ink_of_known_colours(color, ink):
    assert readable_ink(color) == ink


@given(st.integers(min_value=0, max_value=0xFFFFFF))
def test_the_ink_always_reads_at_wcag_aa(value):
    color = f"{value:06x}"
    ink = "000000" if readable_ink(f"#{color}") == "#000" else "ffffff"
    assert _contrast(color, ink) >= 4.5
    other = "ffffff" if ink == "000000" else "000000"
    assert _contrast(color, ink) >= _contrast(color, other)
