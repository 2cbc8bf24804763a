"""The SAP MC client's success import against the simulator over real loopback HTTP."""

from __future__ import annotations

import dataclasses
import http.cookiejar
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from sapmc import client as sapmc
from sapmc.client import (
    SUCCESS_PROPERTIES,
    SapmcAuthError,
    SapmcClient,
    SapmcUnavailableError,
    SuccessRow,
    client_from_settings,
    success_batch_body,
    success_payload,
)
from simulators.sapmc import SapmcSimulator
from simulators.sapmc_success import SUCCESS_SERVICE_PATH, parse_batch, validate_success
from simulators.server import start_in_thread
from tests.http_helpers import Live, serving, unused_port

USER = "MKT_SUCCESS_USER"
PASSWORD = "pw-success-41ab-SECRET"
CONTRACT = (
    Path(__file__).parents[1] / "contracts" / "sapmc" / "API_MKT_CMPGN_SUCCESS_IMPORT_SRV.xml"
)

Sapmc = Live[SapmcSimulator, SapmcClient]


def row(plan: int, day: date = date(2026, 3, 2), **changes: object) -> SuccessRow:
    base = SuccessRow(
        campaign_uuid="6f1d2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
        campaign_id="1000001",
        campaign_category="Z01",
        external_campaign_id=f"{plan:032x}",
        external_campaign_name=f"Plan {plan} – Frühling",
        advertiser="389",
        advertiser_name="Acme",
        managing_party="17",
        managing_party_name="Spring Initiative",
        day=day,
        timezone="CET",
        impressions=1000 + plan,
        clicks=10 + plan,
        post_engagements=5,
        video_views=3,
        reach=700 + plan,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def served() -> Iterator[Sapmc]:
    sim = SapmcSimulator(user=USER, password=PASSWORD)
    options = {"user": USER, "password": PASSWORD, "timeout": (2.0, 2.0), "max_retries": 2}
    with serving(sim, SapmcClient, **options) as live:
        yield live


@pytest.fixture
def env(served: Sapmc) -> Sapmc:
    return served.fresh()


def test_the_app_ships_sap_s_edmx_of_the_success_import() -> None:
    assert sapmc.SUCCESS_EDMX.read_bytes() == CONTRACT.read_bytes()
    assert len(SUCCESS_PROPERTIES) == 76


def test_payload_fills_every_creatable_property_from_the_edmx_with_neutral_values() -> None:
    payload = success_payload(row(1, day=date(2026, 1, 1)))
    assert list(payload) == [p.name for p in SUCCESS_PROPERTIES if p.creatable]
    assert "CampaignSuccessUUID" not in payload and len(payload) == 75
    assert payload["SuccessDataDate"] == "/Date(1767225600000)/"  # 2026-01-01T00:00Z
    assert payload["YearWeek"] == "202601" and payload["YearMonth"] == "202601"
    assert payload["NumberOfClicks"] == "11" and payload["CampaignReach"] == "701"
    # What the bridge does not know: SAP's initial values, typed per the EDMX.
    assert payload["NumberOfPageLikes"] == "0"  # Edm.Int64: a string in V2 JSON
    assert payload["CampaignContent"] == 0  # Edm.Int32
    assert payload["AgeRangeLowerLimit"] == 0  # Edm.Byte
    assert payload["AdServingSpendAmount"] == "0.000"  # Decimal(32,3)
    assert payload["CampaignReachInPercent"] == "0.00"  # Decimal(5,2)
    assert payload["NrOfMultiTchAttrCnvrsns"] == "0.000000000"  # Decimal(19,9)
    assert payload["GenderFreeText"] == "" and payload["AdServingSpendAmtCrcyISOCode"] == ""
    # ... and what the simulator (SAP's rules from the same EDMX) accepts.
    assert validate_success(payload) == []
    # 2025-12-29 belongs to ISO week 1 of 2026.
    assert success_payload(row(1, day=date(2025, 12, 29)))["YearWeek"] == "202601"


def test_batch_body_puts_every_row_in_a_change_set_of_its_own() -> None:
    body = success_batch_body([row(1), row(2), row(3)], "batch_x")
    items = parse_batch("multipart/mixed; boundary=batch_x", body)
    assert [(i.changeset, len(i.requests)) for i in items] == [(True, 1)] * 3
    assert {(r.method, r.target) for i in items for r in i.requests} == {("POST", "Successes")}


def test_a_batch_of_rows_is_created_and_read_back_exactly(env: Sapmc) -> None:
    rows = [row(n, day=date(2026, 3, d)) for n in (1, 2) for d in (1, 2, 3)]
    with env.client(success_batch_size=4) as client:
        result = client.import_successes(rows)
    assert result.batches == 2
    assert [o.created for o in result.outcomes] == [True] * 6
    assert [o.row for o in result.outcomes] == rows
    stored = env.sim.successes
    assert [s["CampaignSuccessUUID"] for s in stored] == [o.success_uuid for o in result.outcomes]
    assert [{k: v for k, v in s.items() if k != "CampaignSuccessUUID"} for s in stored] == [
        success_payload(r) for r in rows
    ]
    # Over HTTP too, through the simulator's read-back endpoint.
    read_back = requests.get(env.server.base_url + "/_sim/successes", timeout=5).json()
    assert read_back["successes"] == stored
    routes = [e["route"] for e in env.sim.requests]
    assert routes == ["success_service", "success_batch", "success_batch"]
    assert env.sim.requests[0]["csrf_fetch"] is True


def test_one_refused_row_fails_alone_and_names_the_field(env: Sapmc) -> None:
    rows = [row(1), row(2), row(3)]
    env.sim.add_fault(
        "success_batch",
        "refuse_row",
        external_campaign_id=rows[1].external_campaign_id,
        property="NumberOfClicks",
        message="Clicks exceed impressions",
    )
    with env.client() as client:
        outcomes = client.send_success_batch(rows)
    assert [o.created for o in outcomes] == [True, False, True]
    refused = outcomes[1]
    assert refused.row == rows[1] and refused.status == 400
    assert refused.field == "NumberOfClicks" and refused.message == "Clicks exceed impressions"
    assert refused.code == "CUAN_CAMPAIGN_SUCCESS/001"
    assert refused.details == (("NumberOfClicks", "Clicks exceed impressions"),)
    stored = [s["ExternalCampaignID"] for s in env.sim.successes]
    assert stored == [rows[0].external_campaign_id, rows[2].external_campaign_id]


def test_a_row_sap_refuses_by_the_edmx_names_the_property(env: Sapmc) -> None:
    too_long = row(2, external_campaign_name="N" * 256, timezone="Europe/Berlin")
    with env.client() as client:
        outcomes = client.send_success_batch([row(1), too_long])
    assert [o.created for o in outcomes] == [True, False]
    assert outcomes[1].field == "ExternalCampaignName"
    assert "at most 255" in outcomes[1].message
    assert [name for name, _ in outcomes[1].details] == [
        "ExternalCampaignName",
        "SuccessDataDateTimeZone",
    ]
    assert len(env.sim.successes) == 1


def test_sap_unreachable_raises_the_typed_unavailable_error(env: Sapmc) -> None:
    unreachable = env.client(base_url=f"http://127.0.0.1:{unused_port()}", max_retries=1)
    with unreachable as client, pytest.raises(SapmcUnavailableError) as failed:
        client.import_successes([row(1)])
    assert failed.value.retryable and "did not answer" in str(failed.value)
    assert PASSWORD not in str(failed.value)


def test_connection_refused_on_the_post_is_retried_as_nothing_was_sent(env: Sapmc) -> None:
    # The token comes from a live server; the batch then meets a closed port: the POST never
    # left, so trying again is safe, and it is tried as often as the policy allows.
    port = unused_port()
    with env.client(max_retries=2) as client:
        client.fetch_success_csrf_token()
        client.success_service_url = f"http://127.0.0.1:{port}{SUCCESS_SERVICE_PATH}"
        with pytest.raises(SapmcUnavailableError) as failed:
            client.send_success_batch([row(1)])
        assert client.stats.retries == 2
    assert "gave up after 3 attempts" in str(failed.value) and failed.value.method == "POST"


def test_a_503_with_nothing_created_is_retried_after_retry_after(env: Sapmc) -> None:
    env.sim.add_fault("success_batch", "http_503", retry_after=3)
    with env.client() as client:
        outcomes = client.send_success_batch([row(1), row(2)])
    assert [o.created for o in outcomes] == [True, True]
    assert env.sleep.delays == [3.0]
    assert len(env.sim.successes) == 2
    assert [e["status"] for e in env.logged("success_batch")] == [503, 202]


@pytest.mark.parametrize("mode", ["http_500", "http_502", "http_504", "connection_reset"])
def test_a_failure_after_the_post_may_have_acted_is_not_retried(env: Sapmc, mode: str) -> None:
    env.sim.add_fault("success_batch", mode)
    with env.client() as client, pytest.raises(SapmcUnavailableError):
        client.send_success_batch([row(1)])
    assert len(env.logged("success_batch")) == 1 and env.sleep.delays == []


def test_a_read_timeout_on_the_post_is_not_retried(env: Sapmc) -> None:
    env.sim.add_fault("success_batch", "slow_headers", seconds=1.5)
    with env.client(timeout=(2.0, 0.5)) as client, pytest.raises(SapmcUnavailableError):
        client.send_success_batch([row(1)])
    assert len(env.logged("success_batch")) == 1


def test_a_429_is_retried(env: Sapmc) -> None:
    env.sim.add_fault("success_batch", "rate_limit", retry_after=2)
    with env.client() as client:
        assert [o.created for o in client.send_success_batch([row(1)])] == [True]
    assert env.sleep.delays == [2.0] and len(env.sim.successes) == 1


def test_the_csrf_token_is_fetched_again_once_on_403(env: Sapmc) -> None:
    with env.client() as client:
        first = client.fetch_success_csrf_token()
        env.sim.expire_sessions()  # SAP's session timed out: the token is no longer valid
        outcomes = client.send_success_batch([row(1)])
        assert client._success_token == first  # the simulator's token, from a new session
    assert [o.created for o in outcomes] == [True]
    log = [(e["route"], e["status"]) for e in env.sim.requests]
    assert log == [
        ("success_service", 200),
        ("success_batch", 403),
        ("success_service", 200),
        ("success_batch", 202),
    ]
    assert len(env.sim.successes) == 1


def test_a_second_csrf_refusal_is_an_auth_error(env: Sapmc) -> None:
    with env.client() as client:
        # A session that keeps no cookie: every token fetched is refused with the write.
        client._session.cookies.set_policy(_NoCookies())
        with pytest.raises(SapmcAuthError) as failed:
            client.send_success_batch([row(1)])
    assert "freshly fetched CSRF token" in str(failed.value) and failed.value.status == 403
    routes = [e["route"] for e in env.sim.requests]
    assert routes == ["success_service", "success_batch", "success_service", "success_batch"]
    assert env.sim.successes == []


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Refuse every cookie: the session a token belongs to never comes back."""

    def set_ok(self, cookie: object, request: object) -> bool:
        return False


def test_batch_size_comes_from_settings(settings: object) -> None:
    settings.SAPMC_SUCCESS_BATCH_SIZE = 7  # type: ignore[attr-defined]
    with client_from_settings() as client:
        assert client.success_batch_size == 7


def test_success_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="success_batch_size"):
        SapmcClient(base_url="http://sap.example", user="u", password="p", success_batch_size=0)


def test_rows_are_created_over_a_live_server_started_here() -> None:
    # A second simulator instance: rows are kept per server, and reset() forgets them.
    sim = SapmcSimulator(user=USER, password=PASSWORD)
    with start_in_thread(sim) as server:
        client = SapmcClient(base_url=server.base_url, user=USER, password=PASSWORD)
        with client:
            client.import_successes([row(9)])
        assert len(sim.successes) == 1
        sim.reset()
        assert sim.successes == []


# --- Answers written as XML -----------------------------------------------------------------
# SAP Gateway writes an error as XML where the request did not ask for JSON (the $batch asks
# for multipart/mixed); shaped after its OData V2 error document.

XML_ERROR = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
    '<code>{code}</code><message xml:lang="en">{message}</message>'
    "<innererror><transactionid>0A1B2C</transactionid><errordetails>{details}</errordetails>"
    "</innererror></error>"
)
XML_DETAIL = (
    "<errordetail><code>{code}</code><message>{message}</message>"
    "<propertyref>/Successes/{prop}</propertyref><severity>error</severity><target/>"
    "</errordetail>"
)


def answer(status: int, body: bytes, content_type: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    response.url = "http://127.0.0.1:9" + SUCCESS_SERVICE_PATH + "/$batch"
    return response


def offline() -> SapmcClient:
    return SapmcClient(base_url="http://127.0.0.1:9", user=USER, password=PASSWORD)


def test_a_row_refused_with_an_xml_error_keeps_sap_s_field_and_message() -> None:
    refusal = XML_ERROR.format(
        code="CUAN_CAMPAIGN_SUCCESS/001",
        message="Clicks exceed impressions",
        details=XML_DETAIL.format(
            code="CUAN_CAMPAIGN_SUCCESS/001", message="Clicks exceed impressions",
            prop="NumberOfClicks",
        ),
    )  # fmt: skip
    created = '{"d": {"CampaignSuccessUUID": "0A0B0C0D-0000-4000-8000-000000000001"}}'
    body = (
        "--b\r\nContent-Type: multipart/mixed; boundary=c1\r\n\r\n"
        "--c1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{created}\r\n"
        "--c1--\r\n"
        "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\n\r\n{refusal}\r\n"
        "--b--\r\n"
    )
    rows = [row(1), row(2)]
    with offline() as client:
        outcomes = client._accept_success_batch(
            answer(202, body.encode(), "multipart/mixed; boundary=b"), rows, "/x"
        )
    assert [o.created for o in outcomes] == [True, False]
    assert outcomes[0].success_uuid == "0a0b0c0d-0000-4000-8000-000000000001"
    refused = outcomes[1]
    assert (refused.status, refused.field, refused.code) == (
        400, "NumberOfClicks", "CUAN_CAMPAIGN_SUCCESS/001",
    )  # fmt: skip
    assert refused.message == "Clicks exceed impressions"
    assert refused.details == (("NumberOfClicks", "Clicks exceed impressions"),)


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (400, sapmc.SapmcRequestError, "(HTTP 400): Invalid batch request: boundary missing"),
        (403, SapmcAuthError, "access (HTTP 403): Invalid batch request: boundary missing"),
    ],
)
def test_a_whole_batch_refused_with_an_xml_error_says_sap_s_message(
    status: int, error: type[Exception], says: str
) -> None:
    body = XML_ERROR.format(
        code="/IWBEP/CM_MGW_RT/022", message="Invalid batch request: boundary missing", details=""
    )
    with offline() as client, pytest.raises(error) as refused:
        client._accept_success_batch(
            answer(status, body.encode(), "application/xml"), [row(1)], "/x"
        )
    assert says in str(refused.value)


def test_an_xml_answer_to_a_batch_is_an_unknown_outcome_but_a_logon_page_is_not() -> None:
    # XML data under 2xx came from the service, which may have created the rows: never resent
    # blindly. A logon page means the request never reached it.
    atom = b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>'
    with offline() as client:
        with pytest.raises(sapmc.SapmcSuccessOutcomeUnknownError):
            client._accept_success_batch(answer(200, atom, "application/atom+xml"), [row(1)], "/x")
        page = b"<!DOCTYPE html><html><body><form action='/saml2/idp/sso'></form></body></html>"
        with pytest.raises(SapmcAuthError, match="logon"):
            client._accept_success_batch(answer(200, page, "text/html"), [row(1)], "/x")


def test_an_xml_error_with_a_dtd_is_not_read() -> None:
    # Nothing but plain elements is parsed from upstream: no DTD, no entity expansion.
    body = (
        '<?xml version="1.0"?><!DOCTYPE error [<!ENTITY x "boom">]>'
        "<error><code>X</code><message>&x;</message></error>"
    )
    with offline() as client, pytest.raises(sapmc.SapmcRequestError) as refused:
        client._accept_success_batch(answer(400, body.encode(), "application/xml"), [row(1)], "/x")
    assert str(refused.value).endswith("(HTTP 400)")


def test_an_atom_answer_to_a_read_is_bad_data_not_a_logon_problem() -> None:
    atom = b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>'
    with offline() as client:
        with pytest.raises(sapmc.SapmcBadPayloadError, match="XML where JSON was asked for") as bad:
            client._accept_json(answer(200, atom, "application/atom+xml"), "/x")
        assert not isinstance(bad.value, SapmcAuthError)
        forbidden = XML_ERROR.format(
            code="/IWBEP/CM_MGW_RT/010", message="No authorization for Campaigns", details=""
        )
        with pytest.raises(SapmcAuthError, match="403\\): No authorization for Campaigns"):
            client._accept_json(answer(403, forbidden.encode(), "application/xml"), "/x")


# --- Which row an answer is for ---------------------------------------------------------------
# SAP Gateway echoes each request's Content-ID on its answer: that, not the position, says
# which row an answer is for.


def _changeset(number: int, status: str, body: str, content_id: str | None) -> str:
    cid = f"Content-ID: {content_id}\r\n" if content_id is not None else ""
    return (
        f"--b\r\nContent-Type: multipart/mixed; boundary=c{number}\r\n\r\n"
        f"--c{number}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"{cid}\r\nHTTP/1.1 {status}\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
        f"--c{number}--\r\n"
    )


def _created(number: int) -> str:
    return f'{{"d": {{"CampaignSuccessUUID": "0A0B0C0D-0000-4000-8000-00000000000{number}"}}}}'


REFUSAL = (
    '{"error": {"code": "CUAN/001", "message": {"value": "Campaign is closed"}, '
    '"innererror": {"errordetails": [{"propertyref": "/Successes/CampaignUUID", '
    '"message": "Campaign is closed"}]}}}'
)


def test_answers_in_another_order_are_read_by_their_content_id() -> None:
    body = (
        _changeset(1, "400 Bad Request", REFUSAL, "3")
        + _changeset(2, "201 Created", _created(1), "1")
        + _changeset(3, "201 Created", _created(2), "2")
        + "--b--\r\n"
    )
    rows = [row(1), row(2), row(3)]
    with offline() as client:
        outcomes = client._accept_success_batch(
            answer(202, body.encode(), "multipart/mixed; boundary=b"), rows, "/x"
        )
    assert [(o.row, o.created, o.success_uuid) for o in outcomes] == [
        (rows[0], True, "0a0b0c0d-0000-4000-8000-000000000001"),
        (rows[1], True, "0a0b0c0d-0000-4000-8000-000000000002"),
        (rows[2], False, None),
    ]
    assert outcomes[2].message == "Campaign is closed"


def test_an_answer_cut_short_tells_the_rows_it_answered_and_only_the_rest_are_unknown() -> None:
    body = (
        _changeset(1, "201 Created", _created(1), "1")
        + _changeset(2, "400 Bad Request", REFUSAL, "2")
        + "--b\r\nContent-Type: multipart/mixed; bou"
    )
    rows = [row(1), row(2), row(3), row(4)]
    with offline() as client, pytest.raises(sapmc.SapmcSuccessOutcomeUnknownError) as cut:
        client._accept_success_batch(
            answer(202, body.encode(), "multipart/mixed; boundary=b"), rows, "/x"
        )
    assert cut.value.rows == (rows[2], rows[3])
    assert [(o.row, o.created) for o in cut.value.answered] == [(rows[0], True), (rows[1], False)]
    assert "answered 2 of 4 change sets (its answer was cut short)" in str(cut.value)


@pytest.mark.parametrize(
    "ids",
    [
        ("1", "7"),  # a request never sent
        ("1", "1"),  # one request answered twice: another went unanswered
        ("2", None),  # a position that names another row
    ],
)
def test_content_ids_that_do_not_match_the_rows_sent_leave_every_row_unknown(ids) -> None:
    body = "".join(_changeset(n, "201 Created", _created(n), cid) for n, cid in enumerate(ids, 1))
    rows = [row(1), row(2)]
    with offline() as client, pytest.raises(sapmc.SapmcSuccessOutcomeUnknownError) as unknown:
        client._accept_success_batch(
            answer(202, (body + "--b--\r\n").encode(), "multipart/mixed; boundary=b"), rows, "/x"
        )
    assert unknown.value.rows == tuple(rows) and unknown.value.answered == ()


def test_an_answer_cut_short_without_content_ids_leaves_every_row_unknown() -> None:
    body = _changeset(1, "201 Created", _created(1), None) + "--b\r\nContent-Type: multi"
    rows = [row(1), row(2)]
    with offline() as client, pytest.raises(sapmc.SapmcSuccessOutcomeUnknownError) as unknown:
        client._accept_success_batch(
            answer(202, body.encode(), "multipart/mixed; boundary=b"), rows, "/x"
        )
    assert unknown.value.rows == tuple(rows) and unknown.value.answered == ()
