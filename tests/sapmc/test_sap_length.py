"""SAP's field lengths count UTF-16 code units: the one cut of every value sent to SAP MC."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sapmc.sap_length import sap_cut, sap_length

# Characters beyond U+FFFF are two UTF-16 units each (a surrogate pair in SAP's ABAP strings).
PARTY = "\U0001f389"  # 🎉
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧: three emoji joined by ZWJ
FLAG = "\U0001f1e9\U0001f1ea"  # 🇩🇪: two regional indicators
E_ACUTE = "e\u0301"  # é as e + combining acute accent


def units(text: str) -> list[int]:
    raw = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]


# Any characters, and often the ones that join or pair: emoji, joiners, accents, flags' halves,
# and the two halves of a surrogate pair as characters of their own.
AWKWARD = [PARTY, "\u200d", "\u0301", "\U0001f1e9", "\U0001f3fd", "\ufe0f", "\ud83c", "\udf89"]
TEXTS = st.text(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(AWKWARD)), max_size=80
)


@given(text=TEXTS, limit=st.integers(min_value=0, max_value=100))
@example(text=PARTY * 3, limit=5)
@example(text="ab" + FAMILY, limit=6)
@example(text="a" + FLAG + FLAG, limit=7)
@example(text=E_ACUTE * 4, limit=3)
@example(text="\u0301" * 10, limit=4)  # nothing but combining marks: still a cut, not ""
@example(text="a\ud83c\udf89", limit=2)  # a pair's halves as two characters
def test_the_cut_fits_the_limit_is_a_prefix_and_never_ends_in_a_lone_surrogate(text, limit):
    cut = sap_cut(text, limit)
    assert sap_length(cut) <= limit
    assert text.startswith(cut)
    assert units(text)[: len(units(cut))] == units(cut)
    if cut and cut != text:
        assert not 0xD800 <= units(cut)[-1] <= 0xDBFF  # a high surrogate without its low half
    if sap_length(text) <= limit:
        assert cut == text  # what fits is never touched


@given(
    text=st.text(alphabet=["a", "\u00e9", "\u4e2d", PARTY], max_size=80), limit=st.integers(0, 100)
)
def test_without_joined_characters_the_cut_gives_up_at_most_half_an_emoji(text, limit):
    cut = sap_cut(text, limit)
    assert sap_length(cut) >= min(limit, sap_length(text)) - 1


def test_length_counts_utf_16_units_not_code_points():
    assert sap_length("Acme") == 4
    assert sap_length(PARTY) == 2
    assert sap_length(PARTY * 128) == 256  # 128 characters, too long for MaxLength 255
    assert sap_length(FAMILY) == 8
    assert sap_length("") == 0


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (PARTY * 128, 255, PARTY * 127),  # never half of the 128th emoji
        ("a" + PARTY, 2, "a"),
        ("Sale " + FAMILY, 10, "Sale "),  # never a family cut to one person and a joiner
        ("Go " + FLAG + FLAG, 7, "Go " + FLAG),  # never one regional indicator of a flag
        ("caf" + E_ACUTE, 4, "caf"),  # never an accent torn from its letter
        ("Acme", 255, "Acme"),
        ("Acme", 0, ""),
    ],
)
def test_the_cut_keeps_characters_whole(text, limit, expected):
    assert sap_cut(text, limit) == expected
