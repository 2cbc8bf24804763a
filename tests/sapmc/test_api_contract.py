"""The inbound endpoints against their OpenAPI document: the document itself, then schemathesis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from base64 import b64encode
from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisWarning
from schemathesis.specs.openapi.checks import positive_data_acceptance

from khoros.models import Company, Initiative, PlanKpi
from sapmc.inbound import catalog, reports
from sapmc.inbound.reports import KPI_FIELDS
from sapmc.inbound.views import OPENAPI_PATH
from sapmc.models import InboundCall, InboundReport
from syncs.models import SyncRun
from tests.world import make_plan

USER = "contract-user"
PASSWORD = "contract-pw-3b9d-do-not-leak"
AUTH = {"Authorization": "Basic " + b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
# The ids the document's examples use, so that the examples phase reaches real data.
EXAMPLE_PLAN = uuid.UUID("34534cd7991e4394bdb588358cd909eb")
EXAMPLE_REPORT = "Rk3J9xQ2mVbT7pLw0aZ4e"

schema = schemathesis.openapi.from_path(OPENAPI_PATH)
schema.app = get_wsgi_application()
# Unknown query parameters are ignored on purpose (SAP MC's HTTP adapter may add its own, such as
# sap-client); the document says so, and schemathesis must not expect them refused.
schema.config.generation.update(allow_extra_parameters=False)


@pytest.fixture(autouse=True)
def inbound(settings):
    settings.SAPMC_INBOUND_USER = USER
    settings.SAPMC_INBOUND_PASSWORD = PASSWORD
    settings.KHOROS_COMPANY_TIMEZONE = "Europe/Berlin"


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    """Keep the test's database connection open across requests, as Django's test client does.

    Schemathesis calls the real WSGI handler, whose request_started/finished signals close
    "old" connections: that would close the connection holding the test's transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def mirror(world, wsgi_in_test_transaction):
    """The world, its company, an Initiative and Plan of the document's examples, KPIs, a report."""
    now = timezone.now()
    Company.objects.create(khoros_id="389", name="Acme", last_seen=now)
    example = Initiative.objects.create(
        khoros_id="1710", name="Brand 2021", first_seen=now, last_seen=now
    )
    plan = make_plan(example, "Grow the Following", date(2026, 3, 17), date(2026, 5, 1))
    plan.khoros_id = EXAMPLE_PLAN
    plan.save()
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=plan, day=date(2026, 3, 17) + timedelta(days=n), impressions=n, updated_at=now)
        for n in range(20)
    )
    SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger="schedule", status="succeeded", finished_at=now
    )
    InboundReport.objects.create(
        report_id=EXAMPLE_REPORT,
        from_date=date(2026, 3, 1),
        to_date=date(2026, 3, 31),
        external_campaign_ids=[EXAMPLE_PLAN.hex],
        kpi_names=list(KPI_FIELDS),
        created_at=now,
    )
    return world


# --- The document --------------------------------------------------------------------------------


def test_the_served_document_is_the_file_and_a_valid_openapi_3_0_document(client, db):
    response = client.get("/sapmc/extcamp/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.content == OPENAPI_PATH.read_bytes()
    document = json.loads(response.content)
    assert document["openapi"] == "3.0.3"
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.0 meta-schema


def test_the_meta_schema_check_does_refuse_a_broken_document():
    broken = json.loads(OPENAPI_PATH.read_text())
    broken["paths"]["/parameter-values"]["post"]["responses"] = "none"
    with pytest.raises(Exception, match="none"):
        schemathesis.openapi.from_dict(broken).validate()


def test_the_document_states_the_contract_limits():
    document = json.loads(OPENAPI_PATH.read_text())
    schemas = document["components"]["schemas"]
    assert schemas["Id"]["maxLength"] == 32 and schemas["Name"]["maxLength"] == 255
    assert schemas["ExternalCampaignID"]["pattern"] == "^[0-9a-f]{32}$"
    campaign = schemas["ExternalCampaign"]["properties"]
    assert campaign["Status"]["enum"] == ["PLANNED", "RUNNING", "COMPLETED"]
    assert campaign["ExternalCampaignURL"]["maxLength"] == 1000
    assert schemas["ReportCompleted"]["properties"]["Results"]["maxItems"] == 10_000
    assert document["components"]["parameters"]["Top"]["schema"]["maximum"] == 10_000
    assert document["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http",
        "scheme": "basic",
        "description": "SAP MC's communication user.",
    }
    for path, item in document["paths"].items():
        assert "head" in item, path
        for operation in item.values():
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[1]
                    response = document["components"]["responses"][name]
                assert "X-Correlation-ID" in response["headers"], (path, status)


def test_the_document_admits_only_the_parameter_ids_there_are():
    document = json.loads(OPENAPI_PATH.read_text())
    request = document["components"]["schemas"]["ParameterValuesRequest"]
    assert request["properties"]["ParameterId"]["enum"] == list(catalog.PARAMETERS)


def test_the_documented_date_pattern_is_the_one_the_code_reads():
    document = json.loads(OPENAPI_PATH.read_text())
    pattern = document["components"]["schemas"]["InputDate"]["pattern"]
    assert pattern == reports.INPUT_DATE_PATTERN
    # Values the old pattern admitted and the code refused: now refused by the document too.
    for text in (
        "2026-03-02Tnoon",
        "2026-02-30",
        "2025-02-29",
        "0000-01-01",
        "/Date(9999999999999999)/",
    ):
        assert re.search(pattern, text) is None, text


@given(text=st.from_regex(reports.INPUT_DATE_PATTERN, fullmatch=True))
@hypothesis_settings(max_examples=500, deadline=None, derandomize=True, database=None)
def test_every_date_the_document_admits_is_read(text):
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"):
        reports.parse_api_date(text, name="ToDate", zone=ZoneInfo(zone))


# --- Property-based: every operation, generated inputs, every answer checked ---------------------


@schema.parametrize()
@hypothesis_settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_app_keeps_its_openapi_contract(case, mirror):
    # Schema-valid input may still be refused on meaning (February 30th, a ReportId that does not
    # exist), so a 4xx for generated valid data is no failure; every other check applies.
    case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])


def test_a_report_whose_kpi_sync_failed_keeps_the_contract(mirror):
    # Schemathesis does not reach this answer on its own (the mirror's KPIs are fresh): the
    # 503 with Retry-After, and the completed answer with DataAsOf, checked against the document.
    # Started and finished a day ago: it holds none of the days since.
    day_ago = timezone.now() - timedelta(days=1)
    SyncRun.objects.update(started_at=day_ago - timedelta(minutes=1), finished_at=day_ago)
    failed = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger="api", status="failed", finished_at=timezone.now()
    )
    report = InboundReport.objects.create(
        report_id="R" + "f" * 20,
        from_date=date(2026, 3, 1),
        to_date=timezone.localdate() + timedelta(days=1),
        external_campaign_ids=[EXAMPLE_PLAN.hex],
        kpi_names=list(KPI_FIELDS),
        created_at=timezone.now(),
        timezone="Europe/Berlin",
        kpi_run=failed,
    )
    operation = schema["/campaign-success"]["POST"]
    case = operation.Case(body={"ReportId": report.report_id}, media_type="application/json")
    # A documented, retryable 503 is the answer here, not a server fault.
    response = case.call_and_validate(headers=AUTH, excluded_checks=[not_a_server_error])
    assert response.status_code == 503
    assert response.headers["retry-after"] == ["900"]
    assert response.json()["error"]["code"] == "KPI_SYNC_FAILED"

    SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger="schedule", status="succeeded",
        finished_at=timezone.now(),
    )  # fmt: skip
    response = case.call_and_validate(headers=AUTH)
    assert response.status_code == 200 and response.json()["DataAsOf"].endswith("Z")


# Committed data: the live server answers from threads of its own. The marker, not the
# transactional_db fixture, so that conftest recreates the role groups a flush removes.
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_to_warn_about(live_server, mirror, tmp_path):
    # Schemathesis judges a whole run too (every valid case refused, a parameter the document
    # admits and the code refuses, missing test data, ...), but only its command line says so:
    # the run above cannot see those warnings. So the command runs here against the live app,
    # with every warning it knows shown and failing the run. The document, not the code, is
    # what gets fixed when one appears.
    every_warning = json.dumps([warning.value for warning in SchemathesisWarning])
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        # Warnings judge the document and the run, not the number of cases: a few per operation.
        "[generation]\nmax-examples = 5\ndeterministic = true\n"
        # Unknown query parameters are ignored on purpose, as above.
        "allow-extra-parameters = false\n"
        # As above: schema-valid input may still be refused on meaning.
        "[checks]\npositive_data_acceptance.enabled = false\n"
        f"[warnings]\ndisplay = {every_warning}\nfail-on = true\n"
    )
    base = f"{live_server.url}/sapmc/extcamp/v1"
    run = subprocess.run(  # noqa: S603 - the test's own interpreter and arguments
        [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color"),
            *("run", f"{base}/openapi.json", "--url", base, "--auth", f"{USER}:{PASSWORD}"),
        ],
        cwd=tmp_path,  # where the command keeps its cache
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "WARNINGS" not in output and "Warnings:" not in output, output
    assert "No issues found" in output, output


def test_the_contract_run_logged_its_calls_without_the_password(client, mirror):
    client.post(
        "/sapmc/extcamp/v1/parameter-values",
        {"ParameterId": "ADVERTISER"},
        content_type="application/json",
        headers=AUTH,
    )
    rows = list(InboundCall.objects.values())
    assert rows and all(PASSWORD not in json.dumps(row, default=str) for row in rows)
