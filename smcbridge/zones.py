"""Time zones named by text from outside: the viewer's cookie, Khoros's whoami, the settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_named(name: str) -> ZoneInfo | None:
    """The zone `name` names, or None when it names none.

    ZoneInfo() refuses a name that is no zone in three ways: ZoneInfoNotFoundError for an unknown
    name, ValueError for one that is no normalized relative path (or holds a NUL), and
    IsADirectoryError, an OSError, for a folder of the zone data ("Europe", "Etc"). Catching the
    first two alone let a cookie of "Europe" answer every page with a 500.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
