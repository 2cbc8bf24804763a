"""The `day` filter's own formatting of the pages' formats says what Django's date filter says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html

from smcbridge.template_dates import _FAST_DATETIME, day

DATES = [date(2026, 3, 1), date(5, 1, 9), date(9999, 12, 31), date(1900, 2, 28)]
INSTANTS = [
    datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, 5, 123456, tzinfo=UTC),  # the night Berlin's clocks go back
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
]


def _django(value: date, arg: str) -> str:
    """What the filter wrote before it formatted these itself."""
    machine = date_filter(value, "c" if isinstance(value, datetime) else "Y-m-d")
    return format_html('<time datetime="{}">{}</time>', machine, date_filter(value, arg))


@pytest.mark.parametrize("value", DATES, ids=str)
def test_a_date_reads_as_django_writes_it(value):
    assert day(value) == _django(value, "Y-m-d")
    assert day(value, "Y-m-d") == f'<time datetime="{value.isoformat()}">{value.isoformat()}</time>'


@pytest.mark.parametrize("arg", list(_FAST_DATETIME))
@pytest.mark.parametrize("value", INSTANTS, ids=str)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Kolkata"])
def test_an_instant_reads_in_the_viewers_zone_as_django_writes_it(value, arg, zone):
    with timezone.override(ZoneInfo(zone)):
        rendered = Template("{{ when|day:arg }}").render(Context({"when": value, "arg": arg}))
        assert rendered == _django(timezone.localtime(value), arg)
    assert "+00:00" not in rendered or zone == "UTC"


def test_other_formats_and_values_keep_djangos_formatting():
    when = datetime(2026, 3, 1, 8, 5, tzinfo=UTC)
    assert (
        day(when, "j M Y")
        == _django(when, "j M Y")
        == ('<time datetime="2026-03-01T08:05:00+00:00">1 Mar 2026</time>')
    )
    assert day(date(2026, 3, 1), "D j") == '<time datetime="2026-03-01">Sun 1</time>'
    assert day(None) == day("") == day("2026-03-01") == ""
    # A naive datetime (never stored here, but a template may be handed one) reads as it is.
    naive = datetime(2026, 3, 1, 8, 5) + timedelta(seconds=7)
    assert day(naive, "Y-m-d H:i:s") == _django(naive, "Y-m-d H:i:s")
