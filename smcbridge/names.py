"""How a mirrored name is shown: Khoros and SAP MC may send one that is blank.

A link, label or heading of a blank name has nothing to read or click, and a keyboard or screen
reader user cannot tell it is there. Every page shows such a name by this one rule, with the id
the person can find it by. The stored name stays as it was sent (exports and audit rows keep it).
"""

from __future__ import annotations

import unicodedata

NO_NAME = "(no name)"


def is_blank(name: str | None) -> bool:
    """Whether `name` draws nothing: empty, spaces, or only invisible format characters
    (zero-width spaces and joiners, a byte order mark), which str.strip() leaves."""
    return not name or all(c.isspace() or unicodedata.category(c) == "Cf" for c in name)


def shown_name(name: str | None, ident: object) -> str:
    """`name` as a page shows it; a blank one as "(no name) · <ident>" ("(no name)" when the
    id is not known either, as in an audit row older than the ids it keeps)."""
    if not is_blank(name):
        return str(name)
    return f"{NO_NAME} · {ident}" if ident not in (None, "") else NO_NAME
