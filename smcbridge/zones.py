"""Time zones named by text from outside: the viewer's cookie, Khoros's whoami, the settings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
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


def day_span(
    first: date | None, last: date | None, zone: tzinfo | None = None
) -> tuple[datetime | None, datetime | None]:
    """The instants [since, until) in which it is one of the days `first` to `last` in `zone`
    (the current time zone by default: a page's, the viewer's), either end None for no bound.

    The same instants as `field__date__gte=first` and `field__date__lte=last` select (the local
    date in the current zone), as a range an index on the field serves: the date of every row
    was computed, and no index serves it. A midnight skipped by a clock change reads, at fold
    0, with the offset before the change: the instant the day begins. A day beyond what a
    datetime holds (0001-01-01 east of UTC, 9999-12-31) leaves its end open.
    """
    # Imported here: the settings read this module, before Django is set up.
    from django.utils import timezone

    zone = zone or timezone.get_current_timezone()

    def begins(day: date) -> datetime | None:
        try:
            return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
        except OverflowError:
            return None

    since = begins(first) if first is not None else None
    until = None
    if last is not None and last < date.max:
        until = begins(last + timedelta(days=1))
    return since, until
