"""SAP MC's inbound endpoints: auth, JSON errors, value help, campaign list, success reports."""

from __future__ import annotations

import json
import logging
from base64 import b64encode
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from khoros.models import Company, Initiative, Plan, PlanKpi
from sapmc.inbound import reports as api_reports
from sapmc.models import InboundCall, InboundReport
from syncs import runs as sync_runs
from syncs.models import SyncRun
from tests.world import kpi_days_counted_in

pytestmark = pytest.mark.django_db

USER = "sap-comm-user"
PASSWORD = "inbound-pw-7c1e-do-not-leak"
BASE = "/sapmc/extcamp/v1/"
POST_ENDPOINTS = ("parameter-values", "external-campaigns", "campaign-success")
ZONE = "America/Chicago"


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(autouse=True)
def inbound(settings):
    settings.SAPMC_INBOUND_USER = USER
    settings.SAPMC_INBOUND_PASSWORD = PASSWORD
    settings.KHOROS_COMPANY_TIMEZONE = ZONE
    settings.SAPMC_REPORT_FRESH_MINUTES = 60
    settings.SAPMC_EXTERNAL_CAMPAIGN_URL = ""


@pytest.fixture
def company():
    return Company.objects.create(khoros_id="389", name="Acme", last_seen=timezone.now())


def call(
    client,
    endpoint: str,
    body: object = None,
    *,
    method: str = "POST",
    auth: str | None = "right",
    query: str = "",
    headers: dict[str, str] | None = None,
    raw: bytes | str | None = None,
    content_type: str = "application/json",
):
    sent = {"Authorization": basic()} if auth == "right" else {}
    if auth not in (None, "right"):
        sent["Authorization"] = auth
    sent.update(headers or {})
    data = raw if raw is not None else ("" if body is None else json.dumps(body))
    return client.generic(
        method, BASE + endpoint + query, data, content_type=content_type, headers=sent
    )


def error_of(response) -> str:
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]["code"]


def kpi_success(finished_at: datetime) -> SyncRun:
    """A successful KPI sync that ended at `finished_at`, a minute long, and knew every Plan
    mirrored so far (a KPI sync's exports are of the Plans mirrored when it starts)."""
    started_at = finished_at - timedelta(minutes=1)
    Plan.objects.filter(first_seen__gt=started_at).update(first_seen=started_at)
    return SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS,
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.SUCCEEDED,
        started_at=started_at,
        finished_at=finished_at,
    )


# --- Auth, probes, correlation ids, the call log -------------------------------------------------


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
@pytest.mark.parametrize("method", ["POST", "HEAD"])
@pytest.mark.parametrize(
    ("auth", "caller"),
    [
        (None, ""),
        (basic(password="wrong"), USER),
        (basic(user="someone", password=PASSWORD), "someone"),
        ("Basic not-base64!", ""),
        ("Bearer " + PASSWORD, ""),
    ],
)
def test_every_endpoint_refuses_missing_or_wrong_credentials(
    client, endpoint, method, auth, caller
):
    response = call(client, endpoint, {"ParameterId": "ADVERTISER"}, method=method, auth=auth)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="smcbridge", charset="UTF-8"'
    if method == "HEAD":
        assert response.content == b""
    else:
        assert error_of(response) == "UNAUTHORIZED"
    (logged,) = InboundCall.objects.all()
    assert (logged.endpoint, logged.method, logged.status_code) == (endpoint, method, 401)
    assert (logged.caller, logged.error_code) == (caller, "UNAUTHORIZED")


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_head_probe_with_credentials_answers_200_and_an_empty_body(client, endpoint):
    response = call(client, endpoint, method="HEAD")

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert InboundCall.objects.get().caller == USER


def test_the_openapi_document_needs_no_credentials(client):
    assert call(client, "openapi.json", method="GET", auth=None).status_code == 200
    head = call(client, "openapi.json", method="HEAD", auth=None)
    assert (head.status_code, head.content) == (200, b"")


def test_right_credentials_pass(client, company):
    response = call(client, "parameter-values", {"ParameterId": "ADVERTISER"})
    assert response.status_code == 200


def test_without_a_configured_password_every_call_is_refused_outside_debug(
    client, settings, company, caplog
):
    settings.SAPMC_INBOUND_PASSWORD = ""
    settings.DEBUG = False
    with caplog.at_level(logging.ERROR, logger="sapmc.inbound"):
        response = call(
            client,
            "parameter-values",
            {"ParameterId": "ADVERTISER"},
            auth=basic(password="sapmc-inbound-demo"),
        )
    assert response.status_code == 401
    assert "SAPMC_INBOUND_PASSWORD is not set and DEBUG is off" in caplog.text


def test_without_a_configured_password_debug_uses_the_demo_password(client, settings, company):
    settings.SAPMC_INBOUND_PASSWORD = ""
    settings.DEBUG = True
    body = {"ParameterId": "ADVERTISER"}
    demo = basic(password="sapmc-inbound-demo")
    assert call(client, "parameter-values", body, auth=demo).status_code == 200
    assert call(client, "parameter-values", body, auth=basic()).status_code == 401


def test_a_correlation_id_is_echoed_or_made_on_every_answer(client, company):
    echoed = call(
        client,
        "parameter-values",
        {"ParameterId": "ADVERTISER"},
        headers={"X-Correlation-ID": "SAP-4711.a:b_c"},
    )
    assert echoed["X-Correlation-ID"] == "SAP-4711.a:b_c"

    made = call(client, "parameter-values", {"ParameterId": "nonsense"})
    assert made.status_code == 400
    assert len(made["X-Correlation-ID"]) == 32 and int(made["X-Correlation-ID"], 16) >= 0

    refused = call(client, "campaign-success", {}, auth=None, headers={"X-Correlation-ID": "x1"})
    assert (refused.status_code, refused["X-Correlation-ID"]) == (401, "x1")

    # Anything that is not a plain token is replaced, never copied into a header or the log.
    odd = call(
        client,
        "parameter-values",
        {"ParameterId": "ADVERTISER"},
        headers={"X-Correlation-ID": "a b <script>"},
    )
    assert odd["X-Correlation-ID"] != "a b <script>" and len(odd["X-Correlation-ID"]) == 32

    logged = list(InboundCall.objects.order_by("id").values_list("correlation_id", flat=True))
    assert logged == [
        "SAP-4711.a:b_c",
        made["X-Correlation-ID"],
        "x1",
        odd["X-Correlation-ID"],
    ]


def test_every_call_is_logged_and_no_password_is_stored_or_logged(client, company, caplog):
    with caplog.at_level(logging.DEBUG):
        call(client, "parameter-values", {"ParameterId": "ADVERTISER"})
        call(client, "parameter-values", {"ParameterId": "ADVERTISER"}, auth=basic("x", "y"))
        call(client, "external-campaigns", {"ADVERTISER": 5})
        call(client, "campaign-success", {"ReportId": "Rnope"})
        call(client, "openapi.json", method="GET", auth=None)
        call(client, "parameter-values", method="GET")
        # Someone typing the password into the user field, then with typos.
        call(client, "parameter-values", method="HEAD", auth=basic(PASSWORD, ""))
        call(client, "parameter-values", method="HEAD", auth=basic(PASSWORD[:-1], ""))
        call(client, "parameter-values", method="HEAD", auth=basic(PASSWORD.upper(), ""))

    rows = list(
        InboundCall.objects.order_by("id").values_list(
            "method", "endpoint", "caller", "status_code", "error_code"
        )
    )
    assert rows == [
        ("POST", "parameter-values", USER, 200, ""),
        ("POST", "parameter-values", "x", 401, "UNAUTHORIZED"),
        ("POST", "external-campaigns", USER, 400, "BAD_REQUEST"),
        ("POST", "campaign-success", USER, 404, "UNKNOWN_REPORT"),
        ("GET", "openapi.json", "", 200, ""),
        ("GET", "parameter-values", USER, 405, "METHOD_NOT_ALLOWED"),
        ("HEAD", "parameter-values", "[redacted]", 401, "UNAUTHORIZED"),
        ("HEAD", "parameter-values", "[redacted]", 401, "UNAUTHORIZED"),
        ("HEAD", "parameter-values", "[redacted]", 401, "UNAUTHORIZED"),
    ]
    for row in InboundCall.objects.values():
        assert PASSWORD[:-1] not in json.dumps(row, default=str).casefold()
    assert PASSWORD[:-1] not in caplog.text.casefold()
    assert "SAP MC call POST parameter-values -> 200" in caplog.text


# --- Never an HTML page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"", "application/json", 400, "BAD_REQUEST"),
        (b"[1, 2]", "application/json", 400, "BAD_REQUEST"),
        (b'"ADVERTISER"', "application/json", 400, "BAD_REQUEST"),
        (b'{"ParameterId": NaN}', "application/json", 400, "BAD_REQUEST"),
        (b"\xff\xfe{}", "application/json", 400, "BAD_REQUEST"),
        (b"[" * 100_000, "application/json", 400, "BAD_REQUEST"),
        (b'{"ParameterId": "ADVERTISER"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"ParameterId": "ADVERTISER"}', "application/x-www-form-urlencoded", 415, None),
        (b'{"ParameterId": "' + b"x" * (1024 * 1024) + b'"}', "application/json", 413, None),
        (b'{"ParameterId": "' + b"x" * (3 * 1024 * 1024) + b'"}', "application/json", 413, None),
    ],
)
def test_malformed_bodies_get_a_json_error(client, raw, content_type, status, code):
    response = call(client, "parameter-values", raw=raw, content_type=content_type)
    assert response.status_code == status
    assert error_of(response) == (code or error_of(response))


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        ("parameter-values", {}, "'ParameterId' is required"),
        ("parameter-values", {"ParameterId": 1}, "'ParameterId' must be a string"),
        ("parameter-values", {"parameterid": "ADVERTISER"}, "Unknown field 'parameterid'"),
        ("parameter-values", {"ParameterId": "ADVERTISER", "Filter": []}, "Filter must be"),
        ("parameter-values", {"ParameterId": "ADVERTISER", "Filter": {"X": "1"}}, "'X'"),
        ("external-campaigns", {"ADVERTISER": "389"}, "'EXT_CAMPAIGN_MANAGING_PARTY' is req"),
        ("external-campaigns", {"ADVERTISER": "3" * 33, "EXT_CAMPAIGN_MANAGING_PARTY": "1"}, "32"),
        ("external-campaigns", {"ADVERTISER": "1", "EXT_CAMPAIGN_MANAGING_PARTY": None}, "string"),
        ("campaign-success", {}, "'ExternalCampaignIDs' is required"),
        (
            "campaign-success",
            {"ExternalCampaignIDs": [], "FromDate": "2026-01-01", "ToDate": "2026-01-02"},
            "1 to 10000",
        ),
        (
            "campaign-success",
            {"ExternalCampaignIDs": "abc", "FromDate": "2026-01-01", "ToDate": "2026-01-02"},
            "list",
        ),
        (
            "campaign-success",
            {"ExternalCampaignIDs": [1], "FromDate": "2026-01-01", "ToDate": "2026-01-02"},
            "string of 1 to 32",
        ),
        (
            "campaign-success",
            {"ExternalCampaignIDs": ["a" * 33], "FromDate": "2026-01-01", "ToDate": "2026-01-02"},
            "string of 1 to 32",
        ),
        ("campaign-success", {"ReportId": 7}, "'ReportId' must be a string"),
        ("campaign-success", {"ReportId": "R", "Extra": 1}, "Unknown field 'Extra'"),
    ],
)
def test_wrong_types_and_missing_or_unknown_fields_are_a_400(client, endpoint, body, message):
    response = call(client, endpoint, body)
    assert response.status_code == 400
    assert error_of(response) == "BAD_REQUEST"
    assert message in response.json()["error"]["message"]


def test_wrong_method_is_a_405_with_allow(client):
    response = call(client, "campaign-success", method="GET")
    assert response.status_code == 405
    assert response["Allow"] == "POST, HEAD"
    assert error_of(response) == "METHOD_NOT_ALLOWED"
    assert call(client, "openapi.json", method="POST", auth=None).status_code == 405


def test_unknown_paths_under_the_base_are_a_json_404(client):
    response = call(client, "reports/123")
    assert (response.status_code, error_of(response)) == (404, "NOT_FOUND")
    head = call(client, "nothing-here", method="HEAD")
    assert (head.status_code, head.content) == (404, b"")


def test_an_unexpected_error_is_a_json_500_naming_the_correlation_id(client, monkeypatch):
    def boom() -> list:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("sapmc.inbound.catalog.advertiser_values", boom)
    response = call(
        client,
        "parameter-values",
        {"ParameterId": "ADVERTISER"},
        headers={"X-Correlation-ID": "c1"},
    )
    assert (response.status_code, error_of(response)) == (500, "INTERNAL_ERROR")
    assert "c1" in response.json()["error"]["message"]
    assert "on fire" not in response.content.decode()
    assert InboundCall.objects.get().error_code == "INTERNAL_ERROR"


# --- parameter-values ----------------------------------------------------------------------------


def test_advertiser_values_are_the_companies_the_bridge_serves(client, company):
    Company.objects.create(khoros_id="390", name="Bolt", last_seen=timezone.now())
    response = call(client, "parameter-values", {"ParameterId": "ADVERTISER"})
    assert response.status_code == 200
    assert response.json() == {
        "ParameterId": "ADVERTISER",
        "Values": [{"Id": "389", "Name": "Acme"}, {"Id": "390", "Name": "Bolt"}],
    }


def test_values_are_cut_to_sap_mcs_field_lengths(client, monkeypatch):
    monkeypatch.setattr("khoros.selectors.companies", lambda: [("1" * 40, "N" * 300)])
    response = call(client, "parameter-values", {"ParameterId": "ADVERTISER"})
    assert response.json()["Values"] == [{"Id": "1" * 32, "Name": "N" * 255}]


def test_emoji_heavy_names_are_cut_to_sap_mcs_lengths_in_utf_16_units(client, world, company):
    # SAP MC's MaxLength counts UTF-16 units: an emoji is two. Cut to 255 characters, a name of
    # emoji was 510 units, too long for the field SAP MC stores it in.
    party, rocket, family = "\U0001f389", "\U0001f680", "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    Company.objects.filter(pk=company.pk).update(name=party * 255)
    Initiative.objects.filter(khoros_id="1700").update(name="a" + rocket * 254)
    Plan.objects.filter(pk=world.plans[0].pk).update(name=party * 200 + family * 11)
    advertisers = call(client, "parameter-values", {"ParameterId": "ADVERTISER"}).json()
    assert advertisers["Values"] == [{"Id": "389", "Name": party * 127}]
    body = {"ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY", "Filter": {"ADVERTISER": "389"}}
    parties = call(client, "parameter-values", body).json()["Values"]
    assert {"Id": "1700", "Name": "a" + rocket * 127} in parties  # 255 units exactly
    with time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=UTC), tick=False):
        row = campaigns_of(client)[0]
    assert row["ExternalCampaignName"] == party * 127  # never half of the 128th emoji
    assert row["AdvertiserName"] == party * 127
    assert row["ExternalCmpgnManagingPartyName"] == "a" + rocket * 127


@pytest.mark.parametrize(
    "parameter",
    ["EXT_CAMPAIGN_MANAGING_PARTY", "ext_campaign_managing_party", " Ext_Campaign_Managing_Party"],
)
def test_managing_parties_are_the_live_initiatives_of_a_known_advertiser(
    client, world, company, parameter
):
    Initiative.objects.filter(pk=world.initiatives[2].pk).update(removed_at=timezone.now())
    body = {"ParameterId": parameter, "Filter": {"ADVERTISER": "389"}}
    response = call(client, "parameter-values", body)
    assert response.json() == {
        "ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY",
        "Values": [{"Id": "1700", "Name": "Brand 0"}, {"Id": "1701", "Name": "Brand 1"}],
    }


def test_an_unknown_advertiser_has_no_managing_parties(client, world, company):
    body = {"ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY", "Filter": {"ADVERTISER": "999"}}
    assert call(client, "parameter-values", body).json()["Values"] == []


def test_managing_parties_need_the_advertiser_filter(client, world, company):
    response = call(client, "parameter-values", {"ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY"})
    assert (response.status_code, error_of(response)) == (400, "BAD_REQUEST")


def test_an_unknown_parameter_is_a_400(client, company):
    response = call(client, "parameter-values", {"ParameterId": "CHANNEL"})
    assert (response.status_code, error_of(response)) == (400, "UNKNOWN_PARAMETER")
    assert "ADVERTISER" in response.json()["error"]["message"]


# --- external-campaigns --------------------------------------------------------------------------


def campaigns_of(client, *, query: str = "", **body):
    payload = {"ADVERTISER": "389", "EXT_CAMPAIGN_MANAGING_PARTY": "1700", **body}
    response = call(client, "external-campaigns", payload, query=query)
    assert response.status_code == 200, response.content
    return response.json()["ExternalCampaigns"]


def test_external_campaigns_are_the_live_plans_of_the_initiative_from_the_database(
    client, world, company, settings
):
    settings.SAPMC_EXTERNAL_CAMPAIGN_URL = "https://app.khoros.example/plans/{plan_id}?x={y}"
    spring, summer = world.plans[0], world.plans[1]
    with time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=UTC), tick=False):
        rows = campaigns_of(client)
    assert rows == [
        {
            "ExternalCampaignID": spring.khoros_id.hex,
            "ExternalCampaignName": "Spring Sale social",
            "ExternalCampaignURL": f"https://app.khoros.example/plans/{spring.khoros_id}?x={{y}}",
            "Advertiser": "389",
            "AdvertiserName": "Acme",
            "ExternalCmpgnManagingParty": "1700",
            "ExternalCmpgnManagingPartyName": "Brand 0",
            "StartDate": "2026-03-01",
            "EndDate": "2026-03-31",
            "Status": "RUNNING",
        },
        {
            "ExternalCampaignID": summer.khoros_id.hex,
            "ExternalCampaignName": "Summer teaser",
            "ExternalCampaignURL": f"https://app.khoros.example/plans/{summer.khoros_id}?x={{y}}",
            "Advertiser": "389",
            "AdvertiserName": "Acme",
            "ExternalCmpgnManagingParty": "1700",
            "ExternalCmpgnManagingPartyName": "Brand 0",
            "StartDate": "2026-06-01",
            "EndDate": "2026-06-15",
            "Status": "PLANNED",
        },
    ]
    assert len(rows[0]["ExternalCampaignID"]) == 32


def test_status_follows_the_days_in_the_company_zone(client, world, company):
    # 2026-04-01 03:00 UTC is still March 31 in Chicago: the last day of the Spring Plan.
    with time_machine.travel(datetime(2026, 4, 1, 3, tzinfo=UTC), tick=False):
        assert campaigns_of(client)[0]["Status"] == "RUNNING"
    with time_machine.travel(datetime(2026, 4, 1, 6, tzinfo=UTC), tick=False):
        assert campaigns_of(client)[0]["Status"] == "COMPLETED"
    with time_machine.travel(datetime(2026, 6, 15, 12, tzinfo=UTC), tick=False):
        assert [r["Status"] for r in campaigns_of(client)] == ["COMPLETED", "RUNNING"]


def test_external_campaigns_are_read_as_values_without_building_plans(
    client, world, company, monkeypatch
):
    expected = campaigns_of(client)
    assert expected  # the Initiative has live Plans

    def no_plan_objects(*args, **kwargs):
        raise AssertionError("a Plan object was built for the campaign list")

    monkeypatch.setattr(Plan, "from_db", classmethod(no_plan_objects))
    assert campaigns_of(client) == expected


def test_external_campaigns_page_with_top_and_skip_in_a_stable_order(client, world, company):
    initiative = world.initiatives[0]
    from tests.world import make_plan

    # Same start for all: the name, then the id decide.
    Plan.objects.bulk_create(
        [
            make_plan(initiative, f"Extra {i % 3}", date(2026, 1, 1), date(2026, 1, 2))
            for i in range(6)
        ]
    )
    everything = campaigns_of(client)
    assert len(everything) == 8
    names = [r["ExternalCampaignName"] for r in everything]
    assert names[:6] == ["Extra 0", "Extra 0", "Extra 1", "Extra 1", "Extra 2", "Extra 2"]
    assert everything[0]["ExternalCampaignID"] < everything[1]["ExternalCampaignID"]
    assert campaigns_of(client, query="?$top=3") == everything[:3]
    assert campaigns_of(client, query="?$top=3&$skip=3") == everything[3:6]
    assert campaigns_of(client, query="?$skip=6&$top=10000") == everything[6:]
    assert campaigns_of(client, query="?$skip=100") == []
    assert campaigns_of(client, query="?$top=0") == []
    # Blanks around the digits and leading zeros are read; a repeated parameter counts with its
    # last value; parameters the endpoint does not read are ignored (SAP MC's adapter adds some).
    assert campaigns_of(client, query="?$top=%203%20&$skip=0003") == everything[3:6]
    assert campaigns_of(client, query="?$top=1&$top=2") == everything[:2]
    assert campaigns_of(client, query="?sap-client=100&top=1&$Top=1") == everything


@pytest.mark.parametrize(
    "query", ["?$top=10001", "?$top=-1", "?$top=abc", "?$skip=1.5", "?$skip=", "?$top=１"]
)
def test_bad_top_or_skip_is_a_400(client, world, company, query):
    body = {"ADVERTISER": "389", "EXT_CAMPAIGN_MANAGING_PARTY": "1700"}
    response = call(client, "external-campaigns", body, query=query)
    assert (response.status_code, error_of(response)) == (400, "INVALID_QUERY_OPTION")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?$top=10001", "$top must be at most 10000."),
        ("?$skip=2147483648", "$skip must be at most 2147483647."),
        # Digits only: what int() or pydantic would also read is refused.
        ("?$top=%2B3", "$top must be a whole number from 0 to 10000."),
        ("?$top=1.0", "$top must be a whole number from 0 to 10000."),
        ("?$top=1_0", "$top must be a whole number from 0 to 10000."),
        ("?$skip=99999999999", "$skip must be a whole number from 0 to 2147483647."),
        # $top is read first, and before the body.
        ("?$skip=x&$top=x", "$top must be a whole number from 0 to 10000."),
    ],
)
def test_a_bad_query_option_is_named_with_its_range(client, world, company, query, message):
    response = call(client, "external-campaigns", {}, query=query)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "INVALID_QUERY_OPTION", "message": message}


def test_search_matches_part_of_the_name_or_the_id(client, world, company):
    assert [r["ExternalCampaignName"] for r in campaigns_of(client, Search="teaSER")] == [
        "Summer teaser"
    ]
    by_id = campaigns_of(client, Search=world.plans[0].khoros_id.hex)
    assert [r["ExternalCampaignName"] for r in by_id] == ["Spring Sale social"]
    assert campaigns_of(client, Search="nothing like it") == []


def test_unknown_advertiser_or_managing_party_gives_an_empty_list(client, world, company):
    assert campaigns_of(client, ADVERTISER="999") == []
    assert campaigns_of(client, EXT_CAMPAIGN_MANAGING_PARTY="4242") == []
    Initiative.objects.filter(khoros_id="1700").update(removed_at=timezone.now())
    assert campaigns_of(client) == []


# --- campaign-success -----------------------------------------------------------------------------


@pytest.fixture
def kpis(world):
    """Daily KPIs of the two Spring Plans around March 2026."""
    now = timezone.now()
    rows = []
    for plan in (world.plans[0], world.plans[2]):
        for day in range(1, 11):
            rows.append(
                PlanKpi(
                    plan=plan,
                    day=date(2026, 3, day),
                    impressions=1000 * day + plan.pk,
                    engagements=10 * day,
                    clicks=day,
                    reach=500 * day,
                    video_views=0,
                    posts=1,
                    updated_at=now,
                )
            )
    PlanKpi.objects.bulk_create(rows)
    return world


def new_report(client, ids, from_date="2026-03-02", to_date="2026-03-04"):
    body = {"ExternalCampaignIDs": ids, "FromDate": from_date, "ToDate": to_date}
    return call(client, "campaign-success", body)


def poll(client, report_id, **extra):
    return call(client, "campaign-success", {"ReportId": report_id, **extra})


def test_a_report_is_pending_until_a_kpi_sync_succeeds_then_completed_and_frozen(client, kpis):
    spring, video = kpis.plans[0], kpis.plans[2]
    ids = [spring.khoros_id.hex, video.khoros_id.hex, "0" * 32, "not-a-plan"]

    first = new_report(client, ids)
    assert first.status_code == 202
    report_id = first.json()["ReportId"]
    assert first.json() == {"ReportId": report_id, "Status": "PENDING"}
    assert report_id.startswith("R") and len(report_id) == 21
    report = InboundReport.objects.get(report_id=report_id)
    assert report.external_campaign_ids == ids
    assert (report.from_date, report.to_date) == (date(2026, 3, 2), date(2026, 3, 4))
    assert report.kpi_names == [
        "Impressions", "Engagements", "Clicks", "Reach", "VideoViews", "Posts"
    ]  # fmt: skip
    assert (report.caller, report.timezone) == (USER, ZONE)
    # No KPI sync ever ran: one is queued for this report, by the API.
    queued = SyncRun.objects.get(kind=SyncRun.Kind.KHOROS_KPIS)
    assert (queued.status, queued.trigger) == ("queued", "api")

    pending = poll(client, report_id)
    assert (pending.status_code, pending.json()) == (
        202,
        {"ReportId": report_id, "Status": "PENDING"},
    )
    assert SyncRun.objects.count() == 1  # the queued run is reused, not doubled

    assert InboundReport.objects.get(report_id=report_id).kpi_run_id == queued.pk

    finished = (timezone.now() + timedelta(seconds=1)).replace(microsecond=0)
    SyncRun.objects.filter(pk=queued.pk).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=finished
    )
    done = poll(client, report_id)
    assert done.status_code == 200
    answer = done.json()
    assert {k: v for k, v in answer.items() if k != "Results"} == {
        "ReportId": report_id,
        "Status": "COMPLETED",
        "TimeZone": ZONE,
        "FromDate": "2026-03-02",
        "ToDate": "2026-03-04",
        # How old the numbers are: when the KPI sync behind them finished, in UTC.
        "DataAsOf": finished.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "OtherTimeZoneDays": 0,  # every day held was counted in ZONE
        "Package": 1,
        "Packages": 1,
    }
    first_id, second_id = sorted([spring.khoros_id.hex, video.khoros_id.hex])
    assert [(r["ExternalCampaignID"], r["Date"]) for r in answer["Results"]] == [
        (first_id, "2026-03-02"),
        (first_id, "2026-03-03"),
        (first_id, "2026-03-04"),
        (second_id, "2026-03-02"),
        (second_id, "2026-03-03"),
        (second_id, "2026-03-04"),
    ]
    spring_day_3 = next(
        r for r in answer["Results"]
        if r["ExternalCampaignID"] == spring.khoros_id.hex and r["Date"] == "2026-03-03"
    )  # fmt: skip
    assert spring_day_3["KPIs"] == {
        "Impressions": 3000 + spring.pk,
        "Engagements": 30,
        "Clicks": 3,
        "Reach": 1500,
        "VideoViews": 0,
        "Posts": 1,
    }

    # Later syncs change the numbers; the report does not.
    PlanKpi.objects.filter(plan=spring).update(impressions=1, clicks=999)
    PlanKpi.objects.filter(plan=video, day=date(2026, 3, 3)).delete()
    kpi_success(timezone.now() + timedelta(minutes=5))
    again = poll(client, report_id)
    assert (again.status_code, again.content) == (200, done.content)


def test_days_counted_in_the_companys_old_zone_are_left_out_and_counted(client, world):
    # The company's zone moved from Tokyo to Chicago: March 1..3 of the Plan were counted in
    # Tokyo before the change (the KPI sync has not pulled them again), March 4..5 in Chicago.
    # A Tokyo day is not the Chicago day of the same date: answered under TimeZone Chicago,
    # SAP MC would book its numbers on the wrong day.
    plan = world.plans[0]
    kpi_days_counted_in("Asia/Tokyo", plan, date(2026, 3, 1), 3)
    kpi_days_counted_in(ZONE, plan, date(2026, 3, 4), 2, base=400)
    kpi_success(timezone.now())
    report_id = new_report(client, [plan.khoros_id.hex], "2026-03-01", "2026-03-05").json()[
        "ReportId"
    ]
    # A KPI sync a minute old is fresh, but it left Tokyo's days: the report waits for one
    # that counts them again in Chicago, rather than answer at once without them.
    queued = SyncRun.objects.get(status=SyncRun.Status.QUEUED)
    assert queued.trigger == SyncRun.Trigger.API
    assert poll(client, report_id).status_code == 202

    # That sync succeeds, but Khoros no longer reports those days: left out, and counted.
    SyncRun.objects.filter(pk=queued.pk).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now()
    )
    answer = poll(client, report_id).json()

    assert answer["Status"] == "COMPLETED" and answer["TimeZone"] == ZONE
    assert [(r["Date"], r["KPIs"]["Impressions"]) for r in answer["Results"]] == [
        ("2026-03-04", 400),
        ("2026-03-05", 401),
    ]
    assert answer["OtherTimeZoneDays"] == 3
    assert InboundReport.objects.get(report_id=report_id).other_zone_days == 3


def test_a_report_made_right_after_a_kpi_sync_needs_no_new_sync(client, kpis):
    kpi_success(timezone.now() - timedelta(minutes=59))
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    assert SyncRun.objects.count() == 1  # nothing queued

    done = poll(client, report_id)
    assert done.status_code == 200
    assert len(done.json()["Results"]) == 3


def test_a_fresh_kpi_sync_that_started_before_a_plan_was_mirrored_does_not_answer_for_it(
    client, kpis
):
    # The Plan was first mirrored after the last KPI sync started: that sync holds none of its
    # days. Completed at once, the report told SAP MC it had no posts, and stayed so.
    last = kpi_success(timezone.now() - timedelta(minutes=5))
    plan = kpis.plans[0]
    Plan.objects.filter(pk=plan.pk).update(first_seen=last.started_at + timedelta(seconds=30))
    report_id = new_report(client, [plan.khoros_id.hex]).json()["ReportId"]

    queued = SyncRun.objects.get(status=SyncRun.Status.QUEUED)
    assert poll(client, report_id).status_code == 202
    SyncRun.objects.filter(pk=queued.pk).update(
        status=SyncRun.Status.SUCCEEDED, started_at=timezone.now(), finished_at=timezone.now()
    )
    done = poll(client, report_id)
    assert done.status_code == 200
    assert len(done.json()["Results"]) == 3


def test_a_stale_kpi_sync_does_not_complete_a_report(client, kpis):
    kpi_success(timezone.now() - timedelta(minutes=61))
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    queued = SyncRun.objects.get(status=SyncRun.Status.QUEUED)
    assert queued.trigger == SyncRun.Trigger.API
    assert poll(client, report_id).status_code == 202


def assert_kpi_sync_failed(response, run: SyncRun) -> None:
    """A 503 with Retry-After and the contract's error body naming the run."""
    assert response.status_code == 503
    assert response["Retry-After"] == "900"
    assert error_of(response) == "KPI_SYNC_FAILED"
    assert f"run #{run.pk}" in response.json()["error"]["message"]


@pytest.mark.parametrize("ended", ["failed", "partial", "deferred", "skipped"])
def test_a_report_whose_kpi_sync_ended_without_success_answers_503_and_starts_no_new_run(
    client, kpis, settings, ended
):
    # Before: every poll queued another KPI sync (and so another export) for ever, answering 202.
    settings.SAPMC_REPORT_RETRY_SECONDS = 900
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    run = SyncRun.objects.get()
    SyncRun.objects.update(status=ended, finished_at=timezone.now())

    for _ in range(60):
        assert_kpi_sync_failed(poll(client, report_id), run)
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [run.pk]
    report = InboundReport.objects.get(report_id=report_id)
    assert (report.status, report.kpi_run_id, report.results) == ("PENDING", run.pk, None)
    assert InboundCall.objects.filter(status_code=503, error_code="KPI_SYNC_FAILED").count() == 60

    # A later KPI sync that succeeds (the schedule's, say) completes the report.
    later = kpi_success(timezone.now() + timedelta(minutes=5))
    done = poll(client, report_id)
    assert done.status_code == 200
    assert done.json()["Status"] == "COMPLETED" and len(done.json()["Results"]) == 3
    assert done.json()["DataAsOf"] == later.finished_at.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert SyncRun.objects.count() == 2  # the report still started only its one run


def test_polls_while_the_run_is_queued_or_running_never_start_another(client, kpis):
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    SyncRun.objects.get()  # the report started exactly one run
    for status in ("queued", "running"):
        SyncRun.objects.update(status=status)
        if status == "running":
            SyncRun.objects.update(lease_expires_at=timezone.now() + timedelta(minutes=5))
        for _ in range(30):
            assert poll(client, report_id).status_code == 202
    assert SyncRun.objects.count() == 1


@pytest.mark.parametrize("lease", ["expired", "taken", "none"])
def test_a_run_whose_worker_died_is_taken_over_by_the_report_s_poll(client, kpis, lease):
    """With Redis a killed worker's task is gone: the poll is whoever asks next for the KPIs.

    Before, every poll answered 503 (Retry-After 900) until someone else asked for a KPI sync.
    """
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    run = SyncRun.objects.get()
    SyncRun.objects.update(status="running", started_at=timezone.now())
    if lease in ("expired", "taken"):
        # Its heartbeats stopped: the lease ran out, and nobody has taken it over yet.
        SyncRun.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    taking_over = None
    if lease == "taken":
        # Another run is queued to take it over; its worker has not started it yet.
        taking_over = SyncRun.objects.create(kind=run.kind, trigger="schedule", status="queued")

    response = poll(client, report_id)
    assert (response.status_code, response.json()["Status"]) == (202, "PENDING")
    report = InboundReport.objects.get(report_id=report_id)
    new = SyncRun.objects.exclude(pk=run.pk).get()  # one run in its place, no more
    assert report.kpi_run_id == new.pk and new.status == SyncRun.Status.QUEUED
    if taking_over is not None:
        assert new.pk == taking_over.pk  # the run already queued: its start takes the lease
    else:
        assert new.trigger == SyncRun.Trigger.API
        run.refresh_from_db()
        assert run.status == SyncRun.Status.FAILED
        assert f"run #{new.pk} took over its lease" in run.error
    # Later polls wait on that run and start nothing more.
    assert poll(client, report_id).status_code == 202
    assert SyncRun.objects.count() == 2


def test_a_report_waits_on_the_run_that_took_over_from_its_own(client, kpis):
    """Taken over by someone else (a button, the takeover schedule): the report follows the run
    carrying the work on instead of answering 503 for a KPI sync that is under way."""
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    run = SyncRun.objects.get()
    SyncRun.objects.update(
        status="running",
        started_at=timezone.now(),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    new, queued = sync_runs.sync_request(kind=run.kind, trigger=SyncRun.Trigger.BUTTON)
    assert queued
    run.refresh_from_db()
    assert run.taken_over

    assert poll(client, report_id).status_code == 202
    assert InboundReport.objects.get(report_id=report_id).kpi_run_id == new.pk
    assert SyncRun.objects.count() == 2

    # That run failed at its work: the report's answer is the usual 503, and no new run starts.
    SyncRun.objects.filter(pk=new.pk).update(status="failed", finished_at=timezone.now())
    assert_kpi_sync_failed(poll(client, report_id), new)
    assert SyncRun.objects.count() == 2


# The report is made at noon in Chicago on 5 March 2026 (18:00 UTC); 4 March is its last
# complete day. The last successful KPI sync is older than the fresh window either way.
MADE = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def test_held_days_do_not_cover_a_plan_mirrored_after_the_last_successful_sync(client, kpis):
    spring, video = kpis.plans[0], kpis.plans[2]
    Plan.objects.update(first_seen=datetime(2026, 1, 1, tzinfo=UTC))
    last = kpi_success(datetime(2026, 3, 5, 10, 0, tzinfo=UTC))  # covers 2-4 March
    Plan.objects.filter(pk=video.pk).update(first_seen=last.started_at + timedelta(seconds=1))
    ids = [spring.khoros_id.hex, video.khoros_id.hex]
    with time_machine.travel(MADE, tick=False):
        report_id = new_report(client, ids).json()["ReportId"]
    run = SyncRun.objects.get(status="queued")
    SyncRun.objects.filter(pk=run.pk).update(status="failed", finished_at=MADE)

    # The video Plan was not in that sync: its days are not held, whatever PlanKpi has.
    assert_kpi_sync_failed(poll(client, report_id), run)


@pytest.mark.parametrize(
    ("last_success", "to_date", "completes"),
    [
        (datetime(2026, 3, 5, 10, 0, tzinfo=UTC), "2026-03-04", True),  # 04:00 on 5 March
        (datetime(2026, 3, 5, 10, 0, tzinfo=UTC), "2026-03-10", True),  # later days: not yet
        (datetime(2026, 3, 5, 3, 0, tzinfo=UTC), "2026-03-04", False),  # 21:00 on 4 March
        (datetime(2026, 3, 5, 3, 0, tzinfo=UTC), "2026-03-03", True),
        (None, "2026-03-03", False),
    ],
)
def test_a_failed_run_completes_with_held_days_only_when_they_cover_the_report(
    client, kpis, last_success, to_date, completes
):
    Plan.objects.update(first_seen=datetime(2026, 1, 1, tzinfo=UTC))
    if last_success is not None:
        kpi_success(last_success)
    with time_machine.travel(MADE, tick=False):
        report_id = new_report(client, [kpis.plans[0].khoros_id.hex], "2026-03-02", to_date)
        report_id = report_id.json()["ReportId"]
    run = SyncRun.objects.get(status="queued")
    with time_machine.travel(MADE + timedelta(minutes=10), tick=False):
        SyncRun.objects.filter(pk=run.pk).update(status="failed", finished_at=timezone.now())
        response = poll(client, report_id)
        again = poll(client, report_id)
    if not completes:
        assert_kpi_sync_failed(response, run)
        return
    assert response.status_code == 200
    answer = response.json()
    assert answer["Status"] == "COMPLETED"
    assert answer["DataAsOf"] == last_success.strftime("%Y-%m-%dT%H:%M:%SZ")
    last_day = min(date.fromisoformat(to_date), date(2026, 3, 10))
    assert [r["Date"] for r in answer["Results"]] == [
        (date(2026, 3, 2) + timedelta(days=n)).isoformat()
        for n in range((last_day - date(2026, 3, 2)).days + 1)
    ]
    assert again.content == response.content  # frozen like any completed report
    assert SyncRun.objects.filter(trigger="api").count() == 1


@pytest.mark.parametrize(
    ("started", "completes"),
    [
        (datetime(2026, 3, 5, 5, 50, tzinfo=UTC), False),  # 23:50 on 4 March in Chicago
        (datetime(2026, 3, 5, 6, 0, tzinfo=UTC), True),  # midnight: 4 March had ended
    ],
)
def test_held_days_are_the_days_that_had_ended_when_the_last_sync_started(
    client, kpis, started, completes
):
    """A KPI sync that started at 23:50 on 4 March (Chicago) and finished at 00:10 on the 5th
    asked Khoros before the day's last ten minutes: it does not hold 4 March, and a report of
    it must not be completed with those numbers and a DataAsOf after the day ended."""
    Plan.objects.update(first_seen=datetime(2026, 1, 1, tzinfo=UTC))
    last = kpi_success(datetime(2026, 3, 5, 6, 10, tzinfo=UTC))
    SyncRun.objects.filter(pk=last.pk).update(started_at=started)
    with time_machine.travel(MADE, tick=False):
        report_id = new_report(client, [kpis.plans[0].khoros_id.hex], "2026-03-02", "2026-03-04")
        report_id = report_id.json()["ReportId"]
    run = SyncRun.objects.get(status="queued")
    with time_machine.travel(MADE + timedelta(minutes=10), tick=False):
        SyncRun.objects.filter(pk=run.pk).update(status="failed", finished_at=timezone.now())
        response = poll(client, report_id)
    if completes:
        assert response.json()["Status"] == "COMPLETED"
    else:
        assert_kpi_sync_failed(response, run)


def test_a_fresh_sync_with_a_queued_one_reuses_the_queued(client, kpis):
    running = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger="schedule", status=SyncRun.Status.RUNNING,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    new_report(client, [kpis.plans[0].khoros_id.hex])
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [running.pk]


def test_unknown_campaign_ids_give_no_rows(client, kpis):
    kpi_success(timezone.now())
    report_id = new_report(client, ["f" * 32, "x"]).json()["ReportId"]
    done = poll(client, report_id).json()
    assert (done["Status"], done["Results"], done["Packages"]) == ("COMPLETED", [], 1)


def test_removed_plans_keep_their_numbers(client, kpis):
    Plan.objects.filter(pk=kpis.plans[0].pk).update(removed_at=timezone.now())
    kpi_success(timezone.now())
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    assert len(poll(client, report_id).json()["Results"]) == 3


def test_an_unknown_report_is_a_404(client, kpis):
    for report_id in ("R" + "a" * 20, "nonsense", ""):
        response = poll(client, report_id)
        assert (response.status_code, error_of(response)) == (404, "UNKNOWN_REPORT")


@pytest.mark.parametrize(
    ("from_date", "to_date", "expected"),
    [
        ("2026-03-02", "2026-03-04", ("2026-03-02", "2026-03-04")),
        # Offsets: the calendar day in the company zone (Chicago, UTC-6 in early March).
        ("2026-03-02T05:59:59Z", "2026-03-04T23:00:00-06:00", ("2026-03-01", "2026-03-04")),
        ("2026-03-02T06:00:00+00:00", "2026-03-05T04:00:00+00:00", ("2026-03-02", "2026-03-04")),
        # No offset: the day as written.
        ("2026-03-02T23:30:00", "2026-03-04 00:00:00", ("2026-03-02", "2026-03-04")),
        # OData: a UTC instant, midnight UTC for a day.
        ("/Date(1772409600000)/", "/Date(1772582400000+0000)/", ("2026-03-02", "2026-03-04")),
    ],
)
def test_dates_are_read_in_every_form_and_answered_as_iso_days(
    client, kpis, from_date, to_date, expected
):
    kpi_success(timezone.now())
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex], from_date, to_date).json()[
        "ReportId"
    ]
    answer = poll(client, report_id).json()
    assert (answer["FromDate"], answer["ToDate"]) == expected
    days = [r["Date"] for r in answer["Results"]]
    assert (days[0], days[-1]) == expected


@pytest.mark.parametrize(
    ("from_date", "to_date"),
    [
        ("2026-02-30", "2026-03-04"),
        ("03/02/2026", "2026-03-04"),
        ("2026-03-02T25:00", "2026-03-04"),
        ("/Date(abc)/", "2026-03-04"),
        ("/Date(99999999999999999)/", "2026-03-04"),
        (20260302, "2026-03-04"),
        ("2026-03-02", ""),
        (" 2026-03-02", "2026-03-04"),
        ("2026-03-05", "2026-03-04"),  # FromDate after ToDate
    ],
)
def test_unreadable_dates_and_reversed_ranges_are_a_400(client, kpis, from_date, to_date):
    response = new_report(client, ["a" * 32], from_date, to_date)
    assert (response.status_code, error_of(response)) == (400, "INVALID_DATE")
    assert InboundReport.objects.count() == 0


def test_parse_api_date_reads_odata_with_and_without_offset():
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ZONE)
    assert api_reports.parse_api_date("/Date(0)/", name="x", zone=zone) == date(1970, 1, 1)
    assert api_reports.parse_api_date("/Date(-86400000)/", name="x", zone=zone) == date(
        1969, 12, 31
    )
    assert api_reports.parse_api_date("/Date(1583020800000+0100)/", name="x", zone=zone) == date(
        2020, 3, 1
    )


def test_more_than_10000_results_are_read_in_packages(client, world):
    now = timezone.now()
    plans = world.plans[:3]
    first_day = date(2020, 1, 1)
    PlanKpi.objects.bulk_create(
        [
            PlanKpi(plan=plan, day=first_day + timedelta(days=n), impressions=n, updated_at=now)
            for plan in plans
            for n in range(3500)
        ],
        batch_size=2000,
    )
    kpi_success(timezone.now())
    ids = [p.khoros_id.hex for p in plans]
    report_id = new_report(client, ids, "2020-01-01", "2029-12-31").json()["ReportId"]

    one = poll(client, report_id).json()
    two = poll(client, report_id, Package=2).json()
    assert (one["Package"], one["Packages"], len(one["Results"])) == (1, 2, 10_000)
    assert (two["Package"], two["Packages"], len(two["Results"])) == (2, 2, 500)
    assert poll(client, report_id, Package=1).json() == one
    together = one["Results"] + two["Results"]
    keys = [(r["ExternalCampaignID"], r["Date"]) for r in together]
    assert keys == sorted(keys) and len(set(keys)) == 10_500

    beyond = poll(client, report_id, Package=3)
    assert (beyond.status_code, error_of(beyond)) == (400, "INVALID_PACKAGE")
    for bad in (0, -1, "2", 1.5, True):
        response = poll(client, report_id, Package=bad)
        assert (response.status_code, error_of(response)) == (400, "INVALID_PACKAGE")


def test_a_completed_answer_is_serialized_once_and_sent_as_stored(client, kpis):
    kpi_success(timezone.now())
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    first = poll(client, report_id)
    report = InboundReport.objects.get(report_id=report_id)
    # Stored at completion, one text per package, exactly the bytes answered.
    assert [text.encode() for text in report.answer_packages] == [first.content]
    assert len(first.json()["Results"]) == 3
    # Later polls send the stored text and build nothing from the rows.
    InboundReport.objects.filter(pk=report.pk).update(
        answer_packages=['{"stored":true}'], results=[]
    )
    again = poll(client, report_id)
    assert (again.status_code, again.content) == (200, b'{"stored":true}')
    assert again["Content-Type"] == "application/json; charset=utf-8"
    beyond = poll(client, report_id, Package=2)
    assert (beyond.status_code, error_of(beyond)) == (400, "INVALID_PACKAGE")


def test_a_report_completed_before_answers_were_stored_is_answered_from_its_rows(client, kpis):
    kpi_success(timezone.now())
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    first = poll(client, report_id)
    InboundReport.objects.filter(report_id=report_id).update(answer_packages=[])
    assert poll(client, report_id).content == first.content


@pytest.mark.django_db(transaction=True)
def test_a_real_kpi_sync_run_by_the_worker_completes_the_report(client, live_khoros, settings):
    from django_q.brokers import get_broker

    from khoros import services
    from tests.conftest import run_queued_tasks

    get_broker().purge_queue()  # on Redis, tasks of earlier tests would be run first
    settings.KHOROS_COMPANY_TIMEZONE = ""  # the simulator's user zone, as in production
    settings.KHOROS_EXPORT_POLL_BASE = 0.01
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    company = Company.objects.get()
    plans = list(Plan.objects.filter(removed_at__isnull=True))
    ids = [p.khoros_id.hex for p in plans]

    body = {"ExternalCampaignIDs": ids, "FromDate": "2000-01-01", "ToDate": "2099-12-31"}
    report_id = call(client, "campaign-success", body).json()["ReportId"]
    assert poll(client, report_id).status_code == 202
    assert run_queued_tasks() == 1
    kpi_run = SyncRun.objects.get(kind=SyncRun.Kind.KHOROS_KPIS)
    assert (kpi_run.status, kpi_run.trigger) == ("succeeded", "api"), kpi_run.error

    answer = poll(client, report_id).json()
    assert answer["Status"] == "COMPLETED"
    assert answer["TimeZone"] == live_khoros.data.timezone
    stored = {
        (row.plan.khoros_id.hex, row.day.isoformat()): row.impressions
        for row in PlanKpi.objects.select_related("plan")
    }
    assert len(stored) > 10
    assert {
        (r["ExternalCampaignID"], r["Date"]): r["KPIs"]["Impressions"] for r in answer["Results"]
    } == stored
    assert company.khoros_id == live_khoros.data.company_id


@pytest.mark.django_db(transaction=True)
def test_sixty_polls_after_a_failed_kpi_sync_start_no_other_run_or_export(
    client, live_khoros, settings
):
    """The worker runs every queued task after each poll, as a live cluster would within a second.

    Before, each poll queued another KPI sync: 60 polls made 60 more runs and 60 more exports.
    """
    from django_q.brokers import get_broker

    from khoros import services
    from tests.conftest import run_queued_tasks

    get_broker().purge_queue()
    settings.KHOROS_COMPANY_TIMEZONE = ""
    settings.KHOROS_EXPORT_POLL_BASE = 0.01
    settings.SAPMC_REPORT_RETRY_SECONDS = 900
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    ids = [p.khoros_id.hex for p in Plan.objects.filter(removed_at__isnull=True)]
    # Khoros accepts every export and then reports it failed.
    live_khoros.sim.add_fault("export_status", "export_failed", count=None)

    def export_requests() -> int:
        return sum(1 for r in live_khoros.sim.requests if r["route"] == "export_create")

    body = {"ExternalCampaignIDs": ids, "FromDate": "2000-01-01", "ToDate": "2099-12-31"}
    report_id = call(client, "campaign-success", body).json()["ReportId"]
    assert run_queued_tasks() == 1
    kpi_run = SyncRun.objects.get(kind=SyncRun.Kind.KHOROS_KPIS)
    assert kpi_run.status == SyncRun.Status.FAILED, kpi_run.error
    exports = export_requests()
    assert exports == 1  # one export request for the 24 Plans, asked once

    for _ in range(60):
        assert_kpi_sync_failed(poll(client, report_id), kpi_run)
        assert run_queued_tasks() == 0
    assert list(SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS)) == [kpi_run]
    assert export_requests() == exports


def test_the_admin_lists_each_reports_kpi_run_and_data_age(admin_client, client, kpis):
    report_id = new_report(client, [kpis.plans[0].khoros_id.hex]).json()["ReportId"]
    run = SyncRun.objects.get()
    page = admin_client.get("/admin/sapmc/inboundreport/")
    assert page.status_code == 200
    text = page.content.decode()
    assert report_id in text and f"Khoros KPIs #{run.pk} (queued)" in text


def test_a_run_that_succeeded_just_after_the_report_was_read_completes_it(client, kpis):
    """The report's run was read as running; by the lease check it had finished and succeeded."""
    today = timezone.localdate()
    report_id = new_report(
        client, [kpis.plans[0].khoros_id.hex], str(today - timedelta(days=3)), str(today)
    ).json()["ReportId"]
    run = SyncRun.objects.get()
    # Started two days ago: held days alone would not cover yesterday (a 503).
    Plan.objects.update(first_seen=timezone.now() - timedelta(days=3))
    SyncRun.objects.update(status="running", started_at=timezone.now() - timedelta(days=2))
    original = api_reports._run_pending

    def finishes_meanwhile(waited_on):
        SyncRun.objects.filter(pk=waited_on.pk).update(
            status="succeeded", finished_at=timezone.now()
        )
        return original(waited_on)  # still "running" in memory, and no lease any more

    from unittest import mock

    with mock.patch.object(api_reports, "_run_pending", finishes_meanwhile):
        response = poll(client, report_id)
    assert response.status_code == 200 and response.json()["Status"] == "COMPLETED"
    assert SyncRun.objects.get().pk == run.pk


def _synchronous_commit() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_call_log_row_is_committed_and_the_connection_keeps_its_commit_setting(client):
    """On PostgreSQL the log row commits asynchronously (SET LOCAL in its own statement's
    transaction): the row is there, and the setting does not outlive it."""
    from django.db import connection

    call(client, "parameter-values", {"ParameterId": "ADVERTISER"})
    call(client, "parameter-values", {"ParameterId": "ADVERTISER"}, auth=basic(password="no"))

    logged = list(InboundCall.objects.order_by("id").values_list("status_code", flat=True))
    assert logged == [200, 401]
    if connection.vendor == "postgresql":
        assert _synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_the_call_log_statement_commits_asynchronously_on_postgresql():
    from django.db import connection

    from sapmc.inbound.http import _CALL_LOG_COLUMNS, _call_log_sql

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    values = [timezone.now(), "GET", "campaigns", USER, 200, 3, "c-9", ""]
    assert len(values) == len(_CALL_LOG_COLUMNS)
    with connection.cursor() as cursor:
        # The setting its commit reads, seen from inside the one statement's transaction.
        cursor.execute(
            _call_log_sql(asynchronous=True) + " RETURNING current_setting('synchronous_commit')",
            values,
        )
        assert cursor.fetchone() == ("off",)
    assert _synchronous_commit() == "on"  # it ended with its statement
    assert InboundCall.objects.get().correlation_id == "c-9"


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_the_call_log_leaves_its_commit_alone(rf):
    from django.db import connection, transaction

    from sapmc.inbound.http import InboundCallRecord, inbound_call_log

    with transaction.atomic():
        inbound_call_log(
            InboundCallRecord(
                at=timezone.now(), method="POST", endpoint="parameter-values", caller=USER,
                status_code=200, duration_ms=1, correlation_id="c-1", error_code="",
            )
        )  # fmt: skip
        if connection.vendor == "postgresql":
            assert _synchronous_commit() == "on"
    assert InboundCall.objects.get().correlation_id == "c-1"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("SAPMC_INBOUND", "SAPMC_INBOUND"),  # the user's own name, however like the password
        ("sapmc-inbound-p", "[redacted]"),  # the password with a letter missing
        ("SAPMC-INBOUND-PW", "[redacted]"),
        ("marketing", "marketing"),
    ],
)
def test_a_user_name_like_the_password_is_not_stored(settings, name, shown):
    from sapmc.inbound.http import BasicCredentials, caller_name

    settings.SAPMC_INBOUND_USER = "SAPMC_INBOUND"
    settings.SAPMC_INBOUND_PASSWORD = "sapmc-inbound-pw"
    assert caller_name(BasicCredentials(user=name, password="")) == shown
