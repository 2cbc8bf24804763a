"""The inbound API's OpenAPI document is generated from the pydantic models that are its bodies."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from khoros import kpi_catalog
from sapmc.inbound import contract, schema
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
        "description": "An SAP MC id field: at most 32 characters.",
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
