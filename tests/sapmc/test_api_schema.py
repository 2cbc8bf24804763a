"""The inbound API's OpenAPI document is generated from the pydantic models that are its bodies."""

from __future__ import annotations

import json
from base64 import b64encode

import pytest
from django.core.management import CommandError, call_command

from khoros import kpi_catalog
from sapmc.inbound import contract, schema
from sapmc.inbound.http import ApiError
from sapmc.inbound.views import OPENAPI_PATH


def test_the_committed_document_is_the_generated_one():
    # Stale when a model or a declared path changed without `manage.py openapi_inbound`.
    assert OPENAPI_PATH.read_text(encoding="utf-8") == schema.document_text()


def test_the_schemas_come_from_the_models():
    schemas = schema.document()["components"]["schemas"]
    assert list(schemas["KPIs"]["properties"]) == list(kpi_catalog.SAPMC_NAMES)
    assert schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"] == list(
        contract.ERROR_CODES
    )
    assert schemas["ReportRequest"]["properties"]["Package"] == {
        "type": "integer",
        "description": "Which package of at most 10,000 results (1-based).",
        "default": 1,
        "minimum": 1,
    }
    # OpenAPI 3.0: a nullable string, not JSON Schema's null type; no generated titles.
    data_as_of = schemas["ReportCompleted"]["properties"]["DataAsOf"]
    assert data_as_of["type"] == "string" and data_as_of["nullable"] is True
    assert "anyOf" not in data_as_of
    assert schemas["ReportPending"]["properties"]["Status"] == {
        "type": "string",
        "enum": ["PENDING"],
    }
    assert '"title"' not in json.dumps(schema.document()["components"])
    # Shared field types are components, referred to where they are used.
    assert schemas["Value"]["properties"]["Id"] == {"$ref": "#/components/schemas/Id"}
    assert schemas["Id"] == {
        "type": "string",
        "description": (
            "An SAP MC id field: at most 32 UTF-16 code units, as SAP counts them "
            "(an emoji is two)."
        ),
        "maxLength": 32,
    }
    # A nested model that is no component is inlined, optional but not nullable.
    assert schemas["ParameterValuesRequest"]["properties"]["Filter"] == {
        "type": "object",
        "additionalProperties": False,
        "description": (
            "For `EXT_CAMPAIGN_MANAGING_PARTY`: the advertiser (required there, ignored for "
            "`ADVERTISER`)."
        ),
        "properties": {"ADVERTISER": {"$ref": "#/components/schemas/Id"}},
    }


def test_the_query_parameters_come_from_the_query_models():
    document = schema.document()
    parameters = document["components"]["parameters"]
    assert parameters["Top"] == {
        "name": "$top",
        "in": "query",
        "required": False,
        "description": "Most campaigns in this answer; default and maximum 10,000 (more is a 400).",
        "schema": {"type": "integer", "default": 10_000, "maximum": 10_000, "minimum": 0},
    }
    assert parameters["Skip"]["schema"]["maximum"] == contract.MAX_SKIP
    for field in contract.ExternalCampaignsQuery.model_fields.values():
        assert parameters[str(field.alias).strip("$").title()]["schema"]["default"] == field.default
    refs = {
        path: [parameter["$ref"].rsplit("/", 1)[1] for parameter in item["post"]["parameters"]]
        for path, item in document["paths"].items()
        if "post" in item
    }
    # Only external-campaigns reads a query string; every operation takes the correlation id.
    assert refs == {
        "/parameter-values": ["CorrelationId"],
        "/external-campaigns": ["Top", "Skip", "CorrelationId"],
        "/campaign-success": ["CorrelationId"],
    }


def test_the_query_model_reads_what_the_view_read_by_hand():
    query = contract.ExternalCampaignsQuery
    assert contract.parse_query(query, {}) == query.model_validate({"$top": "10000", "$skip": "0"})
    assert contract.parse_query(query, {"$top": " 07 ", "sap-client": "100"}).top == 7
    with pytest.raises(ApiError, match="INVALID_QUERY_OPTION: .skip must be at most 2147483647"):
        contract.parse_query(query, {"$skip": "2147483648"})


def test_the_models_refuse_what_the_document_refuses():
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        contract.ReportRequest.model_validate({"ReportId": "R" * 21, "Pakage": 2})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        contract.ReportRequest.model_validate({"ReportId": "R" * 21, "Package": 0})
    with pytest.raises(ValueError, match="valid integer"):
        contract.ReportRequest.model_validate({"ReportId": "R" * 21, "Package": "2"})
    assert contract.ReportRequest.model_validate({"ReportId": "R" * 21}).Package == 1


def test_the_command_writes_the_document_and_check_tells_a_stale_one(tmp_path, monkeypatch):
    target = tmp_path / "openapi.json"
    target.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr("sapmc.management.commands.openapi_inbound.OPENAPI_PATH", target)
    with pytest.raises(CommandError, match="stale"):
        call_command("openapi_inbound", "--check")
    assert target.read_text(encoding="utf-8") == "{}\n"  # --check writes nothing
    call_command("openapi_inbound")
    assert target.read_text(encoding="utf-8") == schema.document_text()
    call_command("openapi_inbound", "--check")


def _refusal(model, data):
    with pytest.raises(ApiError) as caught:
        contract.parse(model, data)
    return caught.value.status, caught.value.code, caught.value.message


def test_parse_answers_the_first_fault_in_the_contract_error_words():
    # An unknown field first, then a missing one, then the others in the order of the fields.
    assert _refusal(contract.NewReportRequest, {"ExternalCampaignIDs": 1, "Extra": 1}) == (
        400,
        "BAD_REQUEST",
        "Unknown field 'Extra'; this endpoint takes ExternalCampaignIDs, FromDate, ToDate.",
    )
    assert _refusal(contract.NewReportRequest, {"ExternalCampaignIDs": 1}) == (
        400,
        "BAD_REQUEST",
        "The field 'FromDate' is required.",
    )
    ids = {"ExternalCampaignIDs": ["a"], "FromDate": 20260302, "ToDate": "2026-13-01"}
    assert _refusal(contract.NewReportRequest, ids) == (
        400,
        "INVALID_DATE",
        "FromDate must be a string with a date.",
    )
    assert _refusal(contract.NewReportRequest, {**ids, "FromDate": "2026-01-01"})[1:] == (
        "INVALID_DATE",
        "ToDate '2026-13-01' is not a date: send YYYY-MM-DD, an ISO date-time or /Date(ms)/.",
    )
    filters = {"ParameterId": "ADVERTISER", "Filter": {"ADVERTISER": "1", "CHANNEL": "x"}}
    assert _refusal(contract.ParameterValuesRequest, filters)[2] == (
        "Unknown field 'CHANNEL'; this endpoint takes ADVERTISER."
    )
    assert _refusal(contract.ParameterValuesRequest, {"ParameterId": "A" * 65})[2] == (
        "The field 'ParameterId' is longer than 64 characters."
    )
    assert _refusal(contract.ReportRequest, {"ReportId": "R", "Package": True})[1] == (
        "INVALID_PACKAGE"
    )


def test_the_view_refuses_what_the_document_refuses(client, settings, db):
    settings.SAPMC_INBOUND_USER, settings.SAPMC_INBOUND_PASSWORD = "u", "p"
    request = schema.document()["components"]["schemas"]["ParameterValuesRequest"]
    limit = request["properties"]["ParameterId"]["maxLength"]
    response = client.post(
        "/sapmc/extcamp/v1/parameter-values",
        data=json.dumps({"ParameterId": "A" * (limit + 1)}),
        content_type="application/json",
        headers={"Authorization": "Basic " + b64encode(b"u:p").decode()},
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST",
        "message": f"The field 'ParameterId' is longer than {limit} characters.",
    }
