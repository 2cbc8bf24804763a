"""The SAP MC simulator's success import (API_MKT_CMPGN_SUCCESS_IMPORT_SRV) over real HTTP."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from simulators.sapmc import SapmcSimulator
from simulators.sapmc_success import SUCCESS_PROPERTIES, SUCCESS_SERVICE_PATH
from simulators.server import RunningServer, start_in_thread

USER, PASSWORD = "SUCCESS_USER", "pw-sim-success-5e1"
CONTRACT = (
    Path(__file__).parents[1] / "contracts" / "sapmc" / "API_MKT_CMPGN_SUCCESS_IMPORT_SRV.xml"
)
CAMPAIGN = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def valid(**changes: Any) -> dict[str, Any]:
    """A Success SAP MC accepts: every non-nullable property with a value of its type."""
    body: dict[str, Any] = {}
    for prop in SUCCESS_PROPERTIES:
        if prop.name == "CampaignSuccessUUID" or prop.nullable:
            continue
        if prop.edm == "Edm.String":
            body[prop.name] = ""
        elif prop.edm == "Edm.Decimal":
            body[prop.name] = "0." + "0" * (prop.scale or 0)
        elif prop.edm == "Edm.Int64":
            body[prop.name] = "0"
        elif prop.edm == "Edm.Guid":
            body[prop.name] = CAMPAIGN
        else:
            body[prop.name] = 0
    body.update(
        CampaignID="1000001",
        CampaignCategoryID="Z01",
        ExternalCampaignID="a" * 32,
        SuccessDataDate="/Date(1772409600000)/",
        SuccessDataDateTimeZone="CET",
        YearWeek="202610",
        YearMonth="202603",
        NumberOfClicks="12",
        NumberOfImpressions=3400,
    )
    body.update(changes)
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()


@dataclass
class Live:
    sim: SapmcSimulator
    server: RunningServer
    session: requests.Session

    @property
    def service(self) -> str:
        return self.server.base_url + SUCCESS_SERVICE_PATH

    def token(self) -> str:
        fetched = self.session.head(self.service + "/", headers={"X-CSRF-Token": "Fetch"})
        assert fetched.status_code == 200 and fetched.content == b""
        token = fetched.headers["X-CSRF-Token"]
        self.session.headers["X-CSRF-Token"] = token
        return token

    def post(self, body: Any) -> requests.Response:
        return self.session.post(self.service + "/Successes", json=body, timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SapmcSimulator, RunningServer]]:
    sim = SapmcSimulator(user=USER, password=PASSWORD)
    with start_in_thread(sim) as running:
        yield sim, running


@pytest.fixture
def live(server: tuple[SapmcSimulator, RunningServer]) -> Iterator[Live]:
    server[0].reset()
    with requests.Session() as session:
        session.auth = (USER, PASSWORD)
        session.headers["Accept"] = "application/json"
        yield Live(server[0], server[1], session)


def test_metadata_is_sap_s_edmx_and_the_service_lists_successes(live: Live) -> None:
    metadata = live.session.get(live.service + "/$metadata", timeout=5)
    assert metadata.status_code == 200
    assert metadata.headers["Content-Type"].startswith("application/xml")
    assert metadata.content == CONTRACT.read_bytes()
    document = live.session.get(live.service + "/?$format=json", timeout=5)
    assert document.json() == {"d": {"EntitySets": ["Successes"]}}
    atom = live.session.get(live.service + "/", headers={"Accept": "application/xml"}, timeout=5)
    assert '<app:collection href="Successes">' in atom.text


def test_a_valid_success_is_created_with_a_server_assigned_key(live: Live) -> None:
    live.token()
    created = live.post(valid())
    assert created.status_code == 201, created.text
    entity = created.json()["d"]
    key = entity["CampaignSuccessUUID"]
    assert created.headers["Location"].endswith(f"/Successes(guid'{key}')")
    assert entity["__metadata"]["type"] == "API_MKT_CMPGN_SUCCESS_IMPORT_SRV.Success"
    assert len(entity) == 1 + len(SUCCESS_PROPERTIES)
    assert entity["NumberOfClicks"] == "12" and entity["NumberOfImpressions"] == "3400"
    assert entity["SuccessDataDate"] == "/Date(1772409600000)/"
    read_back = requests.get(live.server.base_url + "/_sim/successes", timeout=5).json()
    assert read_back == {"successes": [{"CampaignSuccessUUID": key, **valid()}]}
    # SAP does not say what a second create of the same campaign, Plan and day does: the
    # simulator stores another row, which is why the bridge must never send one twice.
    assert live.post(valid()).status_code == 201
    assert len(live.sim.successes) == 2
    assert requests.delete(live.server.base_url + "/_sim/successes", timeout=5).ok
    assert live.sim.successes == []


def test_nullable_properties_may_be_null(live: Live) -> None:
    live.token()
    body = valid(SuccessDataDate=None, SuccessDataDateTimeZone=None, CampaignSuccessUUID=None)
    assert live.post(body).status_code == 201


@pytest.mark.parametrize(
    ("prop", "value", "words"),
    [
        ("ExternalCampaignID", "x" * 33, "at most 32"),  # too long
        # 128 characters, 256 UTF-16 units: SAP counts an emoji as two (a surrogate pair).
        ("ExternalCampaignName", "\U0001f389" * 128, "at most 255"),
        ("CampaignCategoryID", "Z001", "at most 3"),
        ("SuccessDataDateTimeZone", "Europe/Berlin", "at most 6"),
        ("CampaignID", 1000001, "expects a string"),  # wrong type
        ("CampaignUUID", "not-a-guid", "GUID"),
        ("NumberOfClicks", "12a", "an integer"),
        ("NumberOfClicks", 1.5, "an integer"),
        ("NumberOfClicks", True, "an integer"),
        ("NumberOfClicks", str(2**63), "out of range"),
        ("CampaignContent", "5", "an integer"),  # Edm.Int32 is a JSON number
        ("CampaignContent", 2**31, "out of range"),
        ("AgeRangeUpperLimit", 256, "out of range"),  # Edm.Byte
        ("AgeRangeLowerLimit", -1, "out of range"),
        ("AdServingSpendAmount", "1.2345", "at most 3 decimals"),  # Decimal(32,3)
        ("CampaignReachInPercent", "1000.00", "Precision 5"),  # Decimal(5,2)
        ("OrderAmount", "ten", "a decimal"),
        ("SuccessDataDate", "2026-03-02T00:00:00", "/Date(<ms>)/"),  # Edm.DateTime
        ("SuccessDataDate", "/Date(1772409600500)/", "whole seconds"),  # Precision 0
        ("YearWeek", None, "is null"),  # null in a non-nullable property
        ("NumberOfImpressions", _DROP, "is missing"),
        ("YY1_Mood_MKT", "happy", "has no such property"),  # unknown property
        ("CampaignSuccessUUID", CAMPAIGN, "not creatable"),  # server-assigned
    ],
)
def test_each_kind_of_refusal_names_the_property(
    live: Live, prop: str, value: Any, words: str
) -> None:
    live.token()
    refused = live.post(valid(**{prop: value}))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert words in error["message"]["value"] and prop in error["message"]["value"]
    assert error["message"]["lang"] == "en"
    assert error["innererror"]["errordetails"] == [
        {
            "code": error["code"],
            "message": error["message"]["value"],
            "propertyref": f"/Successes/{prop}",
            "severity": "error",
            "target": prop,
        }
    ]
    assert live.sim.successes == []


def test_lengths_are_counted_in_utf_16_units_as_sap_counts_them(live: Live) -> None:
    live.token()
    fits = "\U0001f389" * 127 + "a"  # 255 units
    assert live.post(valid(ExternalCampaignName=fits)).status_code == 201
    refused = live.post(valid(ExternalCampaignName=fits + "a"))
    assert refused.status_code == 400
    assert refused.json()["error"]["message"]["value"] == (
        "Value of property 'ExternalCampaignName' is 256 UTF-16 code units long (129 "
        "characters); at most 255 are allowed"
    )
    assert [s["ExternalCampaignName"] for s in live.sim.successes] == [fits]


def test_every_problem_of_a_row_is_listed(live: Live) -> None:
    live.token()
    refused = live.post(valid(CampaignID="X" * 11, NumberOfClicks=None, Foo=1))
    details = refused.json()["error"]["innererror"]["errordetails"]
    assert [d["target"] for d in details] == ["Foo", "CampaignID", "NumberOfClicks"]


def test_a_body_that_is_not_a_success_is_refused(live: Live) -> None:
    live.token()
    assert live.post([valid()]).status_code == 400
    broken = live.session.post(
        live.service + "/Successes",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert broken.status_code == 400 and "not valid JSON" in broken.text


def test_writes_need_the_csrf_token_and_the_session_it_was_fetched_in(live: Live) -> None:
    missing = live.post(valid())
    assert missing.status_code == 403 and missing.text == "CSRF token validation failed"
    assert missing.headers["X-CSRF-Token"] == "Required"
    token = live.token()
    assert "SAP_SESSIONID_SIM_100" in live.session.cookies
    stranger = requests.post(
        live.service + "/Successes",
        json=valid(),
        auth=(USER, PASSWORD),
        headers={"X-CSRF-Token": token},
        timeout=5,
    )
    assert stranger.status_code == 403  # the right token, but not its session
    live.session.headers["X-CSRF-Token"] = "forged"
    assert live.post(valid()).status_code == 403
    live.session.headers["X-CSRF-Token"] = token
    assert live.post(valid()).status_code == 201
    live.sim.expire_sessions()
    assert live.post(valid()).status_code == 403
    assert len(live.sim.successes) == 1


def test_successes_cannot_be_read(live: Live) -> None:
    answer = live.session.get(live.service + "/Successes?$format=json", timeout=5)
    assert answer.status_code == 501
    assert "not implemented" in answer.json()["error"]["message"]["value"]


def test_basic_auth_and_faults_apply_to_the_new_routes(live: Live) -> None:
    anonymous = requests.get(live.service + "/$metadata", timeout=5)
    assert anonymous.status_code == 401
    live.token()
    live.sim.add_fault("successes", "http_500")
    assert live.post(valid()).status_code == 500
    live.sim.add_fault("success_service", "http_503", retry_after=5)
    busy = live.session.get(live.service + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=5)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert "X-CSRF-Token" not in busy.headers
    assert live.post(valid()).status_code == 201
    assert len(live.sim.successes) == 1


# $batch -------------------------------------------------------------------------------------


def _part(body: dict[str, Any], content_id: int) -> str:
    text = json.dumps(body)
    return (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: {content_id}\r\n\r\n"
        "POST Successes HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(text)}\r\n\r\n{text}\r\n"
    )


def _batch(*changesets: list[dict[str, Any]]) -> tuple[str, bytes]:
    chunks = []
    number = 0
    for index, bodies in enumerate(changesets):
        chunks.append(f"--b\r\nContent-Type: multipart/mixed; boundary=c{index}\r\n\r\n")
        for body in bodies:
            number += 1
            chunks.append(f"--c{index}\r\n{_part(body, number)}")
        chunks.append(f"--c{index}--\r\n")
    chunks.append("--b--\r\n")
    return "multipart/mixed; boundary=b", "".join(chunks).encode()


def _answers(response: requests.Response) -> list[list[tuple[int, Any]]]:
    """Per change set of the answer: (status, JSON) of each of its parts."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode() + response.content
    )
    answers = []
    for part in message.iter_parts():
        inner = list(part.iter_parts()) if part.is_multipart() else [part]
        parsed = []
        for http in inner:
            raw = http.get_payload(decode=True).replace(b"\r\n", b"\n")
            head, _, body = raw.partition(b"\n\n")
            parsed.append((int(head.split(b" ")[1]), json.loads(body) if body.strip() else None))
        answers.append(parsed)
    return answers


def test_batch_change_sets_are_atomic_and_each_answers_for_itself(live: Live) -> None:
    live.token()
    good, bad = valid(), valid(NumberOfClicks="-")
    content_type, body = _batch([good], [bad], [good, valid(YearMonth="2026033")], [good, good])
    answer = live.session.post(
        live.service + "/$batch", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    assert answer.status_code == 202 and answer.headers["Content-Type"].startswith(
        "multipart/mixed; boundary="
    )
    answers = _answers(answer)
    assert [[status for status, _ in parts] for parts in answers] == [
        [201],
        [400],
        [400],
        [201, 201],
    ]
    assert answers[1][0][1]["error"]["innererror"]["errordetails"][0]["propertyref"] == (
        "/Successes/NumberOfClicks"
    )
    assert answers[2][0][1]["error"]["innererror"]["errordetails"][0]["target"] == "YearMonth"
    # The third change set failed as a whole: its good first row was not kept.
    assert len(live.sim.successes) == 3
    created = [parts[0][1]["d"]["CampaignSuccessUUID"] for parts in (answers[0], answers[3])]
    created.append(answers[3][1][1]["d"]["CampaignSuccessUUID"])
    assert [s["CampaignSuccessUUID"] for s in live.sim.successes] == created


def test_batch_cut_keeps_every_row_and_cuts_the_answer_inside_the_next_part(live: Live) -> None:
    live.token()
    live.sim.add_fault("success_batch", "batch_cut", parts=2)
    content_type, body = _batch([valid()], [valid()], [valid()])
    answer = live.session.post(
        live.service + "/$batch", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    assert answer.status_code == 202 and len(live.sim.successes) == 3
    outer = answer.headers["Content-Type"].split("boundary=", 1)[1]
    text = answer.content.decode()
    assert text.count(f"--{outer}\r\n") == 3 and f"--{outer}--" not in text
    assert text.count("HTTP/1.1 201 Created") == 2  # the third answer was cut before its status
    assert "Content-ID: 1" in text and "Content-ID: 2" in text


def test_batch_needs_the_csrf_token_and_refuses_what_is_not_multipart(live: Live) -> None:
    content_type, body = _batch([valid()])
    refused = live.session.post(
        live.service + "/$batch", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    assert refused.status_code == 403 and live.sim.successes == []
    live.token()
    wrong = live.session.post(live.service + "/$batch", json=[valid()], timeout=5)
    assert (
        wrong.status_code == 400 and "multipart/mixed" in wrong.json()["error"]["message"]["value"]
    )


def test_refuse_row_fault_refuses_the_rows_of_one_external_campaign(live: Live) -> None:
    live.token()
    live.sim.add_fault("success_batch", "refuse_row", external_campaign_id="b" * 32)
    content_type, body = _batch([valid()], [valid(ExternalCampaignID="b" * 32)], [valid()])
    answer = live.session.post(
        live.service + "/$batch", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    answers = _answers(answer)
    assert [parts[0][0] for parts in answers] == [201, 400, 201]
    detail = answers[1][0][1]["error"]["innererror"]["errordetails"][0]
    assert detail["propertyref"] == "/Successes/ExternalCampaignID"
    assert "b" * 32 in detail["message"]
    assert len(live.sim.successes) == 2
