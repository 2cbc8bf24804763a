"""The SAP MC calls page: who called which endpoint, with what outcome, for sync admins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sapmc.models import InboundCall

pytestmark = pytest.mark.django_db


def make_call(**fields) -> InboundCall:
    defaults = {
        "at": timezone.now(),
        "method": "POST",
        "endpoint": "parameter-values",
        "caller": "sap-comm",
        "status_code": 200,
        "duration_ms": 12,
        "correlation_id": "cid-1",
    }
    return InboundCall.objects.create(**{**defaults, **fields})


def test_the_page_is_for_sync_admins(client, world):
    assert client.get(reverse("sapmc-calls")).status_code == 302  # to the login
    client.force_login(world.maria)
    assert client.get(reverse("sapmc-calls")).status_code == 403
    assert b"SAP MC calls" not in client.get(reverse("dashboard")).content


def test_admins_see_each_call_and_the_nav_link(client, world):
    make_call(
        endpoint="campaign-success",
        caller="<b>intruder</b>",
        status_code=401,
        error_code="UNAUTHORIZED",
        duration_ms=3,
        correlation_id="SAP-0042",
    )
    client.force_login(world.admin)
    response = client.get(reverse("sapmc-calls"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("sapmc-calls")}" aria-current="page">SAP MC calls</a>' in html
    for text in ("POST campaign-success", "401", "UNAUTHORIZED", "3 ms", "SAP-0042"):
        assert text in html
    assert "&lt;b&gt;intruder&lt;/b&gt;" in html and "<b>intruder" not in html


def test_filters_by_endpoint_status_and_day(client, world):
    make_call(endpoint="parameter-values", status_code=200, correlation_id="a")
    make_call(endpoint="campaign-success", status_code=202, correlation_id="b")
    make_call(endpoint="campaign-success", status_code=404, correlation_id="c")
    make_call(endpoint="external-campaigns", status_code=401, correlation_id="d")
    make_call(endpoint="external-campaigns", status_code=500, correlation_id="e")
    make_call(at=timezone.now() - timedelta(days=3), correlation_id="old")
    client.force_login(world.admin)

    def ids(**params) -> list[str]:
        page = client.get(reverse("sapmc-calls"), params).context["page"]
        return sorted(c.correlation_id for c in page)

    assert ids(endpoint="campaign-success") == ["b", "c"]
    assert ids(status="ok") == ["a", "b", "old"]
    assert ids(status="refused") == ["c", "d"]
    assert ids(status="unauthorized") == ["d"]
    assert ids(status="failed") == ["e"]
    assert ids(day=(timezone.localdate() - timedelta(days=3)).isoformat()) == ["old"]
    assert ids(endpoint="external-campaigns", status="failed") == ["e"]
    assert ids(status="nonsense") == []  # a bad filter is reported and lists nothing
    assert len(ids()) == 6


def test_an_invalid_filter_is_named_and_lists_no_call(client, world):
    make_call(endpoint="campaign-success", status_code=202)
    client.force_login(world.admin)
    response = client.get(reverse("sapmc-calls"), {"endpoint": "campaign-success", "status": "abc"})
    assert list(response.context["page"]) == []
    assert (
        "Status: Select a valid choice. abc is not one of the available choices. "
        "Nothing is listed until the filters are corrected." in response.content.decode()
    )


def test_the_page_is_paged_newest_first_with_a_fixed_query_count(
    client, world, django_assert_num_queries
):
    now = timezone.now()
    InboundCall.objects.bulk_create(
        InboundCall(
            at=now - timedelta(minutes=n),
            method="POST",
            endpoint="campaign-success",
            status_code=202,
            correlation_id=f"c{n}",
        )
        for n in range(120)
    )
    client.force_login(world.admin)
    with django_assert_num_queries(5):  # session, user, roles, count, page
        response = client.get(reverse("sapmc-calls"))
    page = response.context["page"]
    assert [c.correlation_id for c in page][:2] == ["c0", "c1"] and len(page) == 50
    assert 'rel="next"' in response.content.decode()
    last = client.get(reverse("sapmc-calls"), {"page": 3, "endpoint": "campaign-success"})
    assert len(last.context["page"]) == 20
    assert "endpoint=campaign-success&amp;page=2" in last.content.decode()


def test_an_empty_log_says_where_sap_mc_must_call_and_a_filtered_one_says_no_match(
    client, world, settings
):
    settings.SAPMC_INBOUND_USER = "sap-comm-user"
    settings.SAPMC_INBOUND_PASSWORD = "never-shown-2026"
    client.force_login(world.admin)
    html = client.get(reverse("sapmc-calls")).content.decode()
    assert "No call from SAP MC yet." in html
    assert "<code>http://testserver/sapmc/extcamp/v1/</code>" in html
    assert "<code>sap-comm-user</code>" in html and "never-shown-2026" not in html
    assert "No call matches" not in html
    html = client.get(reverse("sapmc-calls"), {"endpoint": "campaign-success"}).content.decode()
    assert "No call matches these filters." in html and "No call from SAP MC yet" not in html
    make_call(endpoint="parameter-values")
    html = client.get(reverse("sapmc-calls")).content.decode()
    assert "No call from SAP MC yet" not in html and "POST parameter-values" in html
