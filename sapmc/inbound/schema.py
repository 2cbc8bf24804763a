"""The inbound API's OpenAPI 3.0.3 document, built from the pydantic models that are its bodies.

One source: the request and response bodies are sapmc.inbound.contract's models; this module
declares what JSON schema cannot say (paths, operations, responses, headers, parameters) and
turns the models' JSON schemas (JSON Schema 2020-12, as pydantic writes them) into OpenAPI
3.0.3 schemas: shared components as `$ref`s, `nullable` instead of a null type, `enum` instead
of `const`, no generated titles. `manage.py openapi_inbound` writes the result to openapi.json,
which the app serves as is; a test fails when the committed file differs from `document()`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, TypeAdapter

from sapmc.inbound import contract

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.1.0"
SCHEMAS = "#/components/schemas/"
_NULL = {"type": "null"}

DESCRIPTION = """\
What SAP Marketing Cloud calls on smcbridge for its Khoros external campaigns: the value help of \
advertisers and managing parties, the campaign list and the campaign success data.

- **Auth**: HTTP Basic with SAP MC's communication user (settings `SAPMC_INBOUND_USER`, \
`SAPMC_INBOUND_PASSWORD`) on every operation except this document.
- **JSON** in and out, `application/json; charset=utf-8`; a request body of another media type \
is refused (415), one over 1 MiB too (413). Request objects take exactly the fields listed: an \
unknown or misspelt field is a 400, not silently ignored. Query parameters other than the \
documented ones are ignored (SAP MC's HTTP adapter may add its own, such as `sap-client`).
- **Errors** always have the body `{"error": {"code": "...", "message": "..."}}`, never an HTML \
page: 400 bad input, 401 auth, 404 unknown report or path, 405 method, 413 too large, 415 media \
type, 500 internal (retryable), 503 a success report whose KPI sync failed (retryable, with \
`Retry-After`). Khoros is never called while SAP MC waits, so no 502/504 is ever answered.
- **HEAD** on every path answers 200 with an empty body (with auth, except on this document).
- **X-Correlation-ID**: echoed when the request sends 1 to 100 characters of letters, digits and \
`._:-`; otherwise a new one (32 hex digits) is made. Every answer carries it, and every call, \
refused ones included, is logged with it for the admins; calls without usable credentials, and \
those of this document, are counted per address, endpoint, method, status and hour, with the \
first one's id.
- **Days** are calendar days in the Khoros company time zone; answers use ISO dates \
(`YYYY-MM-DD`); a date range's end is inclusive.
- **10,000**: no answer carries more than 10,000 rows; `external-campaigns` pages with \
`$top`/`$skip`, `campaign-success` reports with `Package`/`Packages`."""

CAMPAIGN_SUCCESS_DESCRIPTION = """\
**Call 1** (no `ReportId`): `ExternalCampaignIDs`, `FromDate`, `ToDate` (inclusive) → 202 \
`PENDING` with a new `ReportId`. The report records the range, the campaigns and the KPI \
structure, and the one Khoros KPI sync it waits on: a new one, or the one already queued or \
running; none when the last one succeeded less than `SAPMC_REPORT_FRESH_MINUTES` ago. Dates: \
`YYYY-MM-DD`; an ISO date-time (with an offset or `Z`: its calendar day in the company time \
zone; without: the day it names); OData `/Date(ms)/` (a UTC instant: its UTC day). `FromDate` \
after `ToDate` is a 400 `INVALID_DATE`.

**Later calls** (`ReportId`, optional `Package`): 202 `PENDING` while the report's KPI sync is \
queued or running (polls never start another sync while it works); 200 `COMPLETED` once a KPI \
sync has succeeded after the report was made (or at most `SAPMC_REPORT_FRESH_MINUTES` before \
it). **When the report's KPI sync ends without success** (failed, partial, deferred, skipped): \
if the last successful KPI sync started after every requested day that was complete when the \
report was made had ended (days in the company zone; today and later days cannot be held) and \
every requested Plan was already mirrored when that sync started, the report completes with the \
numbers the bridge holds and `DataAsOf` says how old they are; otherwise the answer is 503 \
`KPI_SYNC_FAILED` with `Retry-After`, until a later KPI sync succeeds. A report never starts a \
second KPI sync after one that did its work; a poll takes over one nobody works on any more (its \
worker died) or that never started, and waits on that. `DataAsOf` (UTC) is in every completed \
answer. The results \
are then frozen: the same `ReportId` always answers the same numbers. One row per campaign and \
day that has data, days in `TimeZone`, sorted by campaign id and day; ids that name no Khoros \
Plan give no rows. At most 10,000 rows per answer: `Packages` says how many packages there are, \
ask for the others with `Package` (1-based, default 1; beyond `Packages` is a 400 \
`INVALID_PACKAGE`). An unknown `ReportId` is a 404 `UNKNOWN_REPORT`."""


# --- From JSON Schema 2020-12 (pydantic) to OpenAPI 3.0.3 ---------------------------------------


def _openapi_schema(node: Any, defs: dict[str, Any]) -> Any:
    """One pydantic JSON schema node as OpenAPI 3.0.3; `defs`: its $defs, for inlining."""
    if isinstance(node, list):
        return [_openapi_schema(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if contract.COMPONENT_MARKER in node:
        # A shared field type: only the $ref (OpenAPI 3.0 ignores a $ref's siblings).
        return {"$ref": SCHEMAS + node[contract.COMPONENT_MARKER]}
    node = dict(node)
    ref = node.get("$ref", "")
    if ref.startswith(SCHEMAS) and ref.removeprefix(SCHEMAS) not in _component_models():
        # A nested model that is not a component of its own: inlined where it is used.
        inlined = defs[ref.removeprefix(SCHEMAS)]
        node = {**inlined, **{k: v for k, v in node.items() if k != "$ref"}}
    if "anyOf" in node and _NULL in node["anyOf"]:
        # `X | None`: OpenAPI 3.0 has no null type; it says `nullable`.
        others = [option for option in node.pop("anyOf") if option != _NULL]
        (single,) = others
        node = {**single, **node, "nullable": True}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default", "") is None:
        # An optional field that may not be null: absent, not null, is its default.
        del node["default"]
    node.pop("title", None)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _openapi_schema(prop, defs) for name, prop in value.items()}
        else:
            out[key] = _openapi_schema(value, defs)
    return _ordered(out)


def _component_models() -> dict[str, type[BaseModel]]:
    return {model.__name__: model for model in contract.MODELS}


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(ref_template=SCHEMAS + "{model}", mode="validation")
    defs = raw.pop("$defs", {})
    return _openapi_schema(raw, defs)


def _type_schema(type_: Any) -> dict[str, Any]:
    raw = TypeAdapter(type_).json_schema(ref_template=SCHEMAS + "{model}")
    return _openapi_schema(raw, raw.pop("$defs", {}))


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order a reader looks for them: type, additionalProperties, required, ..."""
    first = ("type", "additionalProperties", "required", "description")
    return {
        **{key: schema[key] for key in first if key in schema},
        **{key: value for key, value in schema.items() if key not in first},
    }


def component_schemas() -> dict[str, Any]:
    """components.schemas: the shared field types, then the body models, then the union."""
    schemas: dict[str, Any] = {"Error": _model_schema(contract.Error)}
    for name, type_ in contract.COMPONENT_TYPES.items():
        schemas[name] = _type_schema(type_)
    for model in contract.MODELS:
        if model is contract.Error:
            continue
        schemas[model.__name__] = _model_schema(model)
    # Call 1 or a later call: the view tells them apart by ReportId, so exactly one matches.
    schemas["CampaignSuccessRequest"] = {
        "oneOf": [{"$ref": SCHEMAS + "NewReportRequest"}, {"$ref": SCHEMAS + "ReportRequest"}]
    }
    return schemas


# --- Declared: operations, responses, headers, parameters ---------------------------------------


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


CORRELATION_HEADER = {"X-Correlation-ID": _ref("headers", "CorrelationId")}
CORRELATION_PARAMETER = _ref("parameters", "CorrelationId")
PROBE = "SAP MC probes the URL before it sends data: 200 and an empty body."
# The error answers every POST operation may give.
POST_ERRORS = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "413": "PayloadTooLarge",
    "415": "UnsupportedMediaType",
    "500": "InternalError",
}


def _json(schema_name: str, **extra: Any) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": SCHEMAS + schema_name}, **extra}}


def _answer(description: str, schema_name: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": CORRELATION_HEADER,
        "content": _json(schema_name),
    }


def _error_response(description: str, *headers: tuple[str, str], **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "headers": {**CORRELATION_HEADER, **{name: _ref("headers", ref) for name, ref in headers}},
    }
    response["content"] = _json("Error", **extra)
    return response


def _post(
    *,
    tag: str,
    operation_id: str,
    summary: str,
    description: str,
    request: str,
    examples: dict[str, Any],
    answers: dict[str, dict[str, Any]],
    errors: dict[str, str] | None = None,
    query: type[BaseModel] | None = None,
) -> dict[str, Any]:
    parameters = [_ref("parameters", name) for name in query_parameters(query)] if query else []
    return {
        "tags": [tag],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "parameters": [*parameters, CORRELATION_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": SCHEMAS + request},
                    "examples": {name: {"value": value} for name, value in examples.items()},
                }
            },
        },
        "responses": {
            **answers,
            **{status: _ref("responses", name) for status, name in POST_ERRORS.items()},
            **{status: _ref("responses", name) for status, name in (errors or {}).items()},
            "429": _ref("responses", "TooManyFailures"),
        },
    }


def _head(tag: str, path: str, operation_id: str, *, auth: bool = True) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": [tag],
        "summary": f"Probe {path}",
        "description": PROBE,
        "operationId": operation_id,
        "parameters": [CORRELATION_PARAMETER],
        "responses": {"200": _ref("responses", "Probe")},
    }
    if auth:
        operation["responses"]["401"] = _ref("responses", "UnauthorizedProbe")
        operation["responses"]["429"] = _ref("responses", "TooManyFailuresProbe")
    else:
        operation["security"] = []
    return operation


def _endpoint(name: str, operation_id: str, **post: Any) -> dict[str, Any]:
    """The path item of one of SAP MC's POST endpoints: the operation and its HEAD probe."""
    probe = "probe" + operation_id[0].upper() + operation_id[1:]
    return {
        "post": _post(tag=name, operation_id=operation_id, **post),
        "head": _head(name, name, probe),
    }


EXAMPLE_PLAN_ID = "34534cd7991e4394bdb588358cd909eb"


def paths() -> dict[str, Any]:
    return {
        "/parameter-values": _endpoint(
            "parameter-values",
            "parameterValues",
            summary="Value help for ADVERTISER or EXT_CAMPAIGN_MANAGING_PARTY",
            description=(
                "`ADVERTISER`: the Khoros companies the bridge serves. "
                "`EXT_CAMPAIGN_MANAGING_PARTY` (needs `Filter.ADVERTISER`): the live Khoros "
                "Initiatives of that company; an empty list for an advertiser the bridge does "
                "not know. `ParameterId` is case-insensitive and is answered in capitals; an "
                "unknown one is a 400 `UNKNOWN_PARAMETER`. Ids have at most 32 characters, "
                "names at most 255 (longer names are cut)."
            ),
            request="ParameterValuesRequest",
            examples={
                "advertisers": {"ParameterId": "ADVERTISER"},
                "managingParties": {
                    "ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY",
                    "Filter": {"ADVERTISER": "389"},
                },
            },
            answers={"200": _answer("The values, sorted by name.", "ParameterValuesResponse")},
        ),
        "/external-campaigns": _endpoint(
            "external-campaigns",
            "externalCampaigns",
            summary="The live Khoros Plans of one Initiative, as external campaigns",
            description=(
                "Served from the bridge's mirror (as fresh as the last plan sync), sorted by "
                "start, name and id. `Search` (optional) keeps the Plans whose name contains "
                "it (any case) or whose id it is. An unknown advertiser or managing party "
                "gives an empty list. `StartDate`/`EndDate` are the Plan's first and last "
                "(inclusive) day in the company time zone; `Status` compares them with today "
                "there. `ExternalCampaignURL` is empty unless `SAPMC_EXTERNAL_CAMPAIGN_URL` is "
                "configured. Paged with `$top` (default and maximum 10,000; more is a 400 "
                "`INVALID_QUERY_OPTION`, not cut silently) and `$skip`: a page shorter than "
                "`$top` is the last."
            ),
            query=contract.ExternalCampaignsQuery,
            request="ExternalCampaignsRequest",
            examples={
                "plans": {
                    "ADVERTISER": "389",
                    "EXT_CAMPAIGN_MANAGING_PARTY": "1710",
                    "Search": "",
                }
            },
            answers={
                "200": _answer("One page of external campaigns.", "ExternalCampaignsResponse")
            },
        ),
        "/campaign-success": _endpoint(
            "campaign-success",
            "campaignSuccess",
            summary="Ask for success data (a Report ID), then fetch it with that Report ID",
            description=CAMPAIGN_SUCCESS_DESCRIPTION,
            request="CampaignSuccessRequest",
            examples={
                "newReport": {
                    "ExternalCampaignIDs": [EXAMPLE_PLAN_ID],
                    "FromDate": "2026-10-01",
                    "ToDate": "2026-10-31",
                },
                "odataDates": {
                    "ExternalCampaignIDs": [EXAMPLE_PLAN_ID],
                    "FromDate": "/Date(1790812800000)/",
                    "ToDate": "/Date(1793404800000)/",
                },
                "reportPackage": {"ReportId": "Rk3J9xQ2mVbT7pLw0aZ4e", "Package": 1},
            },
            answers={
                "200": _answer("The report's results (one package of them).", "ReportCompleted"),
                "202": _answer(
                    "The report exists; its data is not there yet. Ask again later with the "
                    "ReportId.",
                    "ReportPending",
                ),
            },
            errors={"503": "KpiSyncFailed", "404": "UnknownReport"},
        ),
        "/openapi.json": {
            "get": {
                "tags": ["openapi"],
                "operationId": "openapiDocument",
                "summary": "This OpenAPI document (no auth needed)",
                "security": [],
                "parameters": [CORRELATION_PARAMETER],
                "responses": {
                    "200": {
                        "description": "The document.",
                        "headers": CORRELATION_HEADER,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            },
            "head": _head("openapi", "openapi.json", "probeOpenapi", auth=False),
        },
    }


def query_parameters(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """The query parameters of `model` (a contract query model), by component name (`Top`)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    required = set(raw.get("required", ()))
    parameters = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        schema = _openapi_schema(raw["properties"][alias], {})
        parameters[name.title()] = {
            "name": alias,
            "in": "query",
            "required": alias in required,
            "description": schema.pop("description"),
            "schema": schema,
        }
    return parameters


def components() -> dict[str, Any]:
    retry_after = ("Retry-After", "RetryAfter")
    return {
        "securitySchemes": {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "SAP MC's communication user.",
            }
        },
        "headers": {
            "CorrelationId": {
                "description": (
                    "The request's X-Correlation-ID when it was 1 to 100 characters of letters, "
                    "digits and `._:-`, else a new one."
                ),
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$"},
            },
            "WWWAuthenticate": {
                "description": 'The Basic challenge, `Basic realm="smcbridge", charset="UTF-8"`.',
                "required": True,
                "schema": {"type": "string"},
            },
            "RetryAfter": {
                "description": (
                    "Seconds to wait before asking again: after a failed KPI sync, "
                    "`SAPMC_REPORT_RETRY_SECONDS` (default 900); after a lockout, until the "
                    "address may call again."
                ),
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"},
            },
        },
        "parameters": {
            "CorrelationId": {
                "name": "X-Correlation-ID",
                "in": "header",
                "required": False,
                "description": (
                    "Echoed in the answer and kept in the call log when it is 1 to 100 "
                    "characters of letters, digits and `._:-`; anything else is replaced by a "
                    "new id."
                ),
                "schema": {"type": "string"},
            },
            **{
                name: parameter
                for model in contract.QUERY_MODELS
                for name, parameter in query_parameters(model).items()
            },
        },
        "responses": {
            "Probe": {
                "description": "The endpoint is there; empty body.",
                "headers": CORRELATION_HEADER,
            },
            "UnauthorizedProbe": {
                "description": "No or wrong credentials; empty body (HEAD).",
                "headers": {
                    **CORRELATION_HEADER,
                    "WWW-Authenticate": _ref("headers", "WWWAuthenticate"),
                },
            },
            "BadRequest": _error_response(
                "Bad input: malformed JSON, a wrong type, a missing or unknown field "
                "(`BAD_REQUEST`), an unknown ParameterId (`UNKNOWN_PARAMETER`), a date that "
                "cannot be read or FromDate after ToDate (`INVALID_DATE`), a bad `$top`/`$skip` "
                "(`INVALID_QUERY_OPTION`), a package that does not exist (`INVALID_PACKAGE`)."
            ),
            "Unauthorized": _error_response(
                "No or wrong credentials (`UNAUTHORIZED`).",
                ("WWW-Authenticate", "WWWAuthenticate"),
            ),
            "UnknownReport": _error_response("No report with this ReportId (`UNKNOWN_REPORT`)."),
            "PayloadTooLarge": _error_response("The body is over 1 MiB (`PAYLOAD_TOO_LARGE`)."),
            "UnsupportedMediaType": _error_response(
                "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)."
            ),
            "InternalError": _error_response(
                "An error of the bridge (`INTERNAL_ERROR`); retryable. The message names the "
                "correlation id."
            ),
            "KpiSyncFailed": _error_response(
                "The KPI sync this report waits on ended without success (failed, partial, "
                "deferred, skipped), or could not be handed to the task queue, and the bridge "
                "does not hold every requested day (`KPI_SYNC_FAILED`). Retryable: ask again with "
                "the same `ReportId` after `Retry-After` seconds. The report completes as soon as "
                "a later KPI sync succeeds (the schedule's, an admin's, or one started by a new "
                "report); the report itself never starts a second sync after one that did its "
                "work.",
                retry_after,
                example={
                    "error": {
                        "code": "KPI_SYNC_FAILED",
                        "message": (
                            "The KPI sync this report waits on (run #12) ended failed, and the "
                            "bridge does not hold every requested day. The report completes once "
                            "a KPI sync succeeds; retry in 900 seconds."
                        ),
                    }
                },
            ),
            "TooManyFailures": _error_response(
                "Too many calls with wrong credentials from this address within "
                "SAPMC_INBOUND_LOCKOUT_MINUTES (`TOO_MANY_FAILURES`); every call from it is "
                "refused until Retry-After has passed.",
                retry_after,
            ),
            "TooManyFailuresProbe": {
                "description": (
                    "Too many calls with wrong credentials from this address; empty body (HEAD)."
                ),
                "headers": {**CORRELATION_HEADER, "Retry-After": _ref("headers", "RetryAfter")},
            },
        },
        "schemas": component_schemas(),
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.0.3 document of the inbound endpoints."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "smcbridge: SAP Marketing Cloud external-campaign endpoints",
            "version": API_VERSION,
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/sapmc/extcamp/v1"}],
        "security": [{"basicAuth": []}],
        "tags": [
            {"name": "parameter-values", "description": "iFlow 1: value help"},
            {"name": "external-campaigns", "description": "iFlow 2: the Plans of an Initiative"},
            {"name": "campaign-success", "description": "iFlow 3: success data with a Report ID"},
            {"name": "openapi", "description": "This document"},
        ],
        "paths": paths(),
        "components": components(),
    }


def document_text() -> str:
    """openapi.json's exact text: what the command writes and the app serves."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
