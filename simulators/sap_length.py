"""Lengths as SAP counts them: an EDMX MaxLength is UTF-16 code units (an ABAP string's).

The simulators are stand-alone (they import nothing of the bridge, whose own cut is
sapmc/sap_length.py): a character beyond U+FFFF, such as an emoji, counts two here too.
"""

from __future__ import annotations


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_cut(text: str, limit: int) -> str:
    """The longest start of `text` of at most `limit` UTF-16 units, never half an emoji."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text
