"""Filter forms write their selects and inputs in Python (syncs.filtering.FilterFormRenderer):
the same HTML as Django's widget templates, whatever the values, labels and errors."""

from __future__ import annotations

import re

import pytest
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict

from campaigns.forms import (
    AuditFilterForm,
    CalendarFilterForm,
    CampaignFilterForm,
    PlanFilterForm,
)
from sapmc.inbound.calls import InboundCallFilterForm
from syncs.filtering import FilterForm, FilterFormRenderer
from syncs.forms import SyncHistoryFilterForm

HOSTILE = "<script>alert(\"x\")</script> & 'Zoë'"
INITIATIVES = [(1, HOSTILE), (2, "Brand 2026"), (3, "")]
STATUSES = [("RELEASED", "Released"), ('a"b<c', HOSTILE)]
ACTORS = [(5, HOSTILE), (6, "maria")]


def _forms(query: str) -> list[FilterForm]:
    data = QueryDict(query)
    return [
        SyncHistoryFilterForm(data),
        CampaignFilterForm(data, statuses=STATUSES),
        PlanFilterForm(data, initiatives=INITIATIVES),
        AuditFilterForm(data, actors=ACTORS),
        CalendarFilterForm(data, initiatives=INITIATIVES, statuses=STATUSES),
        InboundCallFilterForm(data),
    ]


def _between_tags(html: str) -> str:
    # Django's templates put a line break before each <option>: the one difference.
    return re.sub(r">\s+<", "><", html).strip()


QUERIES = [
    "",
    # Valid choices on every form that has them (prefixed and not), dates, a search.
    "kind=khoros_plans&status=failed&trigger=schedule&date_from=2026-01-01&date_to=2026-02-01"
    "&c-status=RELEASED&p-initiative=1&p-date_from=2026-03-01&actor=5&initiative=2"
    "&assigned=unassigned&endpoint=campaign-success&day=2026-12-01&q=sp%C3%A4t",
    # Invalid values: each field marked aria-invalid and described by the problem.
    "kind=nope&status=%3Cb%3E&date_from=2026-13-01&date_to=x&c-status=x&p-initiative=99"
    "&p-date_from=2026-02-30&actor=abc&initiative=-1&assigned=%22&endpoint=%00&day=31.12.",
    # A range whose start is after its end: the form's error marks both dates.
    "date_from=2026-05-01&date_to=2026-04-01&c-date_from=2026-05-01&c-date_to=2026-04-01",
]


@pytest.mark.parametrize("query", QUERIES)
def test_every_filter_field_is_written_as_djangos_templates_write_it(query):
    compared = 0
    for form in _forms(query):
        form.is_valid()
        assert isinstance(form.renderer, FilterFormRenderer)
        ours = {name: str(form[name]) for name in form.fields}
        form.renderer = DjangoTemplates()
        for name, html in ours.items():
            django = str(form[name])
            assert _between_tags(html) == _between_tags(django), (type(form).__name__, name)
            compared += 1
    assert compared == 26  # every field of the six forms, the two checkboxes by Django itself


def test_labels_and_values_are_escaped_and_errors_described():
    form = PlanFilterForm(QueryDict("p-initiative=99"), initiatives=INITIATIVES)
    assert form.problem
    html = str(form["initiative"])
    assert "<script>" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;Zoë&#x27;"
    assert f'<option value="1">{escaped}</option>' in html
    assert 'aria-invalid="true" aria-describedby="p-filter-problem"' in html
    statuses = str(CampaignFilterForm(QueryDict("c-status=a%22b%3Cc"), statuses=STATUSES)["status"])
    assert '<option value="a&quot;b&lt;c" selected>' in statuses


def test_a_select_with_groups_keeps_them():
    form = SyncHistoryFilterForm(QueryDict("status=b"))
    form.fields["status"].choices = [("", "Any"), ("Group <1>", [("a", "A"), ("b", "B")])]
    ours = str(form["status"])
    form.renderer = DjangoTemplates()
    assert _between_tags(ours) == _between_tags(str(form["status"]))
    assert '<optgroup label="Group &lt;1&gt;"><option value="a">A</option>' in ours
