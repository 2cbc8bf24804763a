"""SAP's field lengths: counted in UTF-16 code units, and the one cut to them.

An OData `MaxLength` of SAP MC (its EDMX, sapmc-api.md) is the length of an ABAP character
field, which holds UTF-16 code units: a character beyond U+FFFF (an emoji, many CJK extension
ideographs) takes two. A name cut to 255 Python characters can be 510 units, and SAP MC refuses
it. Every value the bridge sends to SAP MC or answers it with is cut here, never by slicing.
"""

from __future__ import annotations

import unicodedata

_ZWJ = "\u200d"
_MARKS = frozenset({"Mn", "Mc", "Me"})  # combining marks, variation selectors among them


def sap_length(text: str) -> int:
    """The length SAP counts: UTF-16 code units."""
    # A character above U+FFFF is a surrogate pair: one more unit than characters.
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _joins_previous(text: str, index: int) -> bool:
    """Whether text[index] belongs to the character before it (one visible character)."""
    char, previous = text[index], text[index - 1]
    code = ord(char)
    if unicodedata.category(char) in _MARKS or char == _ZWJ or previous == _ZWJ:
        return True
    if 0xD800 <= ord(previous) <= 0xDBFF:
        return True  # a string holding the halves of a pair as two characters
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
        return True  # an emoji's skin tone, a flag's subdivision tags
    if _is_regional_indicator(char):
        # A flag is a pair of regional indicators: the second of a pair joins the first.
        run = 0
        while index - run - 1 >= 0 and _is_regional_indicator(text[index - run - 1]):
            run += 1
        return run % 2 == 1
    return False


def sap_cut(text: str, limit: int) -> str:
    """The longest start of `text` of at most `limit` UTF-16 units, cut between characters.

    Never inside a surrogate pair (SAP would hold half a character) and, where the text allows,
    never inside a cluster that reads as one (a letter and its accents, emoji joined by ZWJ, a
    skin tone, a flag): the whole cluster goes. A text whose first cluster alone is longer than the
    limit is cut between that cluster's characters rather than emptied.
    """
    if limit <= 0:
        return ""
    if sap_length(text) <= limit:
        return text
    index = used = 0  # text[:index] fits, and is `used` units long
    while used + (2 if ord(text[index]) > 0xFFFF else 1) <= limit:
        used += 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    end = index
    while end > 0 and _joins_previous(text, end):
        end -= 1
    if end == 0:  # the first cluster alone is too long: cut between its characters
        end = index - (index > 0 and 0xD800 <= ord(text[index - 1]) <= 0xDBFF)
    return text[:end]
