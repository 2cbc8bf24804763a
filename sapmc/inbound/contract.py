"""The inbound API's bodies as pydantic models: the one source of the OpenAPI document's schemas.

sapmc.inbound.schema builds openapi.json from these models' JSON schemas (`manage.py
openapi_inbound` writes it; a test fails when the committed file is stale). Shared field types
(`Id`, `Name`, ...) are components of their own: each is an annotated type whose JSON schema is
a `$ref` to `#/components/schemas/<name>`, and `COMPONENT_TYPES` holds the type behind it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, create_model

from khoros import kpi_catalog
from sapmc.inbound.catalog import ID_LENGTH, MAX_ROWS, NAME_LENGTH, PARAMETERS, URL_LENGTH
from sapmc.inbound.reports import INPUT_DATE_PATTERN

# Every error code an answer may carry (the Error schema's enum).
ERROR_CODES = (
    "BAD_REQUEST",
    "UNKNOWN_PARAMETER",
    "INVALID_DATE",
    "INVALID_QUERY_OPTION",
    "INVALID_PACKAGE",
    "UNAUTHORIZED",
    "UNKNOWN_REPORT",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "INTERNAL_ERROR",
    "KPI_SYNC_FAILED",
    "TOO_MANY_FAILURES",
)

# Named field types, in the order the document lists them: name -> (type, its JSON schema extras).
COMPONENT_TYPES: dict[str, Any] = {}
COMPONENT_MARKER = "x-component"


def _component(name: str, type_: Any) -> Any:
    """`type_` as a shared component: validated as itself, documented as a $ref to `name`."""
    COMPONENT_TYPES[name] = type_
    # A marker, not a "$ref": pydantic resolves the refs it meets against its own $defs.
    # sapmc.inbound.schema turns each marker into the $ref.
    return Annotated[type_, WithJsonSchema({COMPONENT_MARKER: name})]


Id = _component(
    "Id",
    Annotated[
        str,
        StringConstraints(max_length=ID_LENGTH),
        WithJsonSchema(
            {
                "type": "string",
                "maxLength": ID_LENGTH,
                "description": f"An SAP MC id field: at most {ID_LENGTH} characters.",
            }
        ),
    ],
)
Name = _component(
    "Name",
    Annotated[
        str,
        StringConstraints(max_length=NAME_LENGTH),
        WithJsonSchema(
            {
                "type": "string",
                "maxLength": NAME_LENGTH,
                "description": f"An SAP MC name field: at most {NAME_LENGTH} characters.",
            }
        ),
    ],
)
ExternalCampaignID = _component(
    "ExternalCampaignID",
    Annotated[
        str,
        Field(
            pattern=r"^[0-9a-f]{32}$",
            min_length=32,
            max_length=32,
            description="A Khoros Plan UUID without hyphens (32 lower-case hex digits).",
        ),
    ],
)
IsoDate = _component(
    "IsoDate",
    Annotated[
        str,
        Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"}),
    ],
)
InputDate = _component(
    "InputDate",
    Annotated[
        str,
        Field(
            max_length=64,
            pattern=INPUT_DATE_PATTERN,
            description=(
                "`YYYY-MM-DD`, an ISO 8601 date-time (`T` or a blank, hours, optional minutes, "
                "seconds and up to 6 decimals, optional `Z` or `+hh:mm`), or OData `/Date(ms)/` "
                "(also `/Date(ms+hhmm)/`); days of the years 1000 to 9998 that exist (February "
                "29th only in leap years)."
            ),
            json_schema_extra={"example": "2026-10-01"},
        ),
    ],
)
# The query options of external-campaigns ($skip beyond a 32-bit integer is refused rather than
# handed to the database as an out-of-range integer).
MAX_SKIP = 2**31 - 1
Top = Annotated[int, Field(ge=0, le=MAX_ROWS)]
Skip = Annotated[int, Field(ge=0, le=MAX_SKIP)]
ParameterId = Literal["ADVERTISER", "EXT_CAMPAIGN_MANAGING_PARTY"]
assert ParameterId.__args__ == PARAMETERS  # noqa: S101 - the catalog and the contract agree


class _Strict(BaseModel):
    """Exactly the fields listed, of exactly their JSON types: a misspelt field is an error."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(_Strict):
    code: Literal[ERROR_CODES]  # type: ignore[valid-type]
    message: str


class Error(_Strict):
    error: ErrorDetail


class ParameterFilter(_Strict):
    # Optional, not nullable: None is only the default, a null sent is refused (strict).
    ADVERTISER: Id = None


class ParameterValuesRequest(_Strict):
    ParameterId: str = Field(
        description=(
            "`ADVERTISER` or `EXT_CAMPAIGN_MANAGING_PARTY`. The bridge also reads them in any "
            "case and with blanks around them, but sends them as listed."
        ),
        json_schema_extra={"example": "ADVERTISER", "enum": list(PARAMETERS)},
    )
    Filter: ParameterFilter = Field(
        default=None,
        description=(
            "For `EXT_CAMPAIGN_MANAGING_PARTY`: the advertiser (required there, ignored for "
            "`ADVERTISER`)."
        ),
    )


class Value(_Strict):
    Id: Id
    Name: Name


class ParameterValuesResponse(_Strict):
    ParameterId: ParameterId
    Values: list[Value]


class ExternalCampaignsRequest(_Strict):
    ADVERTISER: Id
    EXT_CAMPAIGN_MANAGING_PARTY: Id
    Search: str = Field(
        default="",
        max_length=NAME_LENGTH,
        description="Part of a Plan name (any case), or a Plan's id.",
    )


class ExternalCampaign(_Strict):
    ExternalCampaignID: ExternalCampaignID
    ExternalCampaignName: Name
    ExternalCampaignURL: str = Field(
        max_length=URL_LENGTH, description="Link to the Plan in Khoros; empty when not configured."
    )
    Advertiser: Id
    AdvertiserName: Name
    ExternalCmpgnManagingParty: Id
    ExternalCmpgnManagingPartyName: Name
    StartDate: IsoDate
    EndDate: IsoDate
    Status: Literal["PLANNED", "RUNNING", "COMPLETED"] = Field(
        description=(
            "PLANNED before StartDate, COMPLETED after EndDate, RUNNING in between (today in "
            "the company time zone)."
        )
    )


class ExternalCampaignsResponse(_Strict):
    ExternalCampaigns: list[ExternalCampaign] = Field(max_length=MAX_ROWS)


class NewReportRequest(_Strict):
    ExternalCampaignIDs: list[
        Annotated[str, StringConstraints(min_length=1, max_length=ID_LENGTH)]
    ] = Field(min_length=1, max_length=MAX_ROWS)
    FromDate: InputDate
    ToDate: InputDate


class ReportRequest(_Strict):
    ReportId: str = Field(
        max_length=64,
        description="As answered by call 1.",
        json_schema_extra={"example": "Rk3J9xQ2mVbT7pLw0aZ4e"},
    )
    Package: int = Field(
        default=1, ge=1, description="Which package of at most 10,000 results (1-based)."
    )


ReportId = _component(
    "ReportId",
    Annotated[
        str, Field(pattern=r"^R[A-Za-z0-9_-]{20}$", description="R and 20 url-safe characters.")
    ],
)


class ReportPending(_Strict):
    ReportId: ReportId
    Status: Literal["PENDING"]


# One non-negative integer per KPI SAP MC reads, named as kpi_catalog names them for SAP MC.
KPIs = create_model(
    "KPIs",
    __base__=_Strict,
    **{name: (int, Field(ge=0)) for name in kpi_catalog.SAPMC_NAMES},  # type: ignore[call-overload]
)


class Result(_Strict):
    ExternalCampaignID: ExternalCampaignID
    Date: IsoDate
    KPIs: KPIs  # type: ignore[valid-type]


class ReportCompleted(_Strict):
    ReportId: ReportId
    Status: Literal["COMPLETED"]
    TimeZone: str = Field(
        description="IANA zone of the days (the Khoros company's).",
        json_schema_extra={"example": "America/Chicago"},
    )
    FromDate: IsoDate
    ToDate: IsoDate
    DataAsOf: str | None = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        description=(
            "How old the numbers are: when the last successful KPI sync before the report was "
            "frozen finished, in UTC. Usually minutes before the answer; older when the report's "
            "own KPI sync failed and it was completed with the days the bridge already held. "
            "Fixed with the report, like its numbers. Null only for reports completed before the "
            "bridge recorded it."
        ),
        json_schema_extra={"format": "date-time", "example": "2026-10-31T06:12:40Z"},
    )
    Package: int = Field(ge=1)
    Packages: int = Field(ge=1)
    Results: list[Result] = Field(max_length=MAX_ROWS)


# The body models, in the order the document lists them (after the shared field types).
MODELS: tuple[type[BaseModel], ...] = (
    Error,
    ParameterValuesRequest,
    Value,
    ParameterValuesResponse,
    ExternalCampaignsRequest,
    ExternalCampaign,
    ExternalCampaignsResponse,
    NewReportRequest,
    ReportRequest,
    ReportPending,
    KPIs,
    Result,
    ReportCompleted,
)
