"""The inbound API's bodies as pydantic models: the one source of the OpenAPI document's schemas.

sapmc.inbound.schema builds openapi.json from these models' JSON schemas (`manage.py
openapi_inbound` writes it; a test fails when the committed file is stale). Shared field types
(`Id`, `Name`, ...) are components of their own: each is an annotated type whose JSON schema is
a `$ref` to `#/components/schemas/<name>`, and `COMPONENT_TYPES` holds the type behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    create_model,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from khoros import kpi_catalog
from sapmc.inbound import reports
from sapmc.inbound.catalog import ID_LENGTH, MAX_ROWS, NAME_LENGTH, PARAMETERS, URL_LENGTH
from sapmc.inbound.http import ApiError, bad_request
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


def _ref(name: str, type_: Any) -> WithJsonSchema:
    """Register `type_` as the shared component `name`; document a field of it as a $ref.

    Used as `X = Annotated[_X, _ref("X", _X)]`: validated as `_X`, a static type for mypy.
    """
    COMPONENT_TYPES[name] = type_
    # A marker, not a "$ref": pydantic resolves the refs it meets against its own $defs.
    # sapmc.inbound.schema turns each marker into the $ref.
    return WithJsonSchema({COMPONENT_MARKER: name})


def _sap_text(limit: int, kind: str) -> Any:
    """An SAP MC text field of at most `limit` UTF-16 code units, described as one."""
    # maxLength counts characters (JSON Schema); SAP MC's field holds UTF-16 units, of which a
    # character beyond U+FFFF takes two: the answers are cut to the units (sapmc.sap_length).
    return Field(
        max_length=limit,
        description=(
            f"An SAP MC {kind} field: at most {limit} UTF-16 code units, as SAP counts them "
            "(an emoji is two)."
        ),
    )


_Id = Annotated[str, _sap_text(ID_LENGTH, "id")]
Id = Annotated[_Id, _ref("Id", _Id)]
_Name = Annotated[str, _sap_text(NAME_LENGTH, "name")]
Name = Annotated[_Name, _ref("Name", _Name)]
_ExternalCampaignID = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{32}$",
        min_length=32,
        max_length=32,
        description="A Khoros Plan UUID without hyphens (32 lower-case hex digits).",
    ),
]
ExternalCampaignID = Annotated[_ExternalCampaignID, _ref("ExternalCampaignID", _ExternalCampaignID)]
_IsoDate = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"}),
]
IsoDate = Annotated[_IsoDate, _ref("IsoDate", _IsoDate)]
_InputDate = Annotated[
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
]
InputDate = Annotated[_InputDate, _ref("InputDate", _InputDate)]
ParameterId = Literal["ADVERTISER", "EXT_CAMPAIGN_MANAGING_PARTY"]
assert get_args(ParameterId) == PARAMETERS  # noqa: S101 - the catalog and the contract agree


# An answer for one kind of wrong value, where the generic "The field ... must be a string." is
# not what SAP MC is told: keyed by the error's location, list indexes as "*".
ErrorAnswer = Callable[[ErrorDetails], ApiError]


class _Strict(BaseModel):
    """Exactly the fields listed, of exactly their JSON types: a misspelt field is an error."""

    model_config = ConfigDict(extra="forbid", strict=True)
    error_answers: ClassVar[Mapping[tuple[str, ...], ErrorAnswer]] = {}


class ErrorDetail(_Strict):
    code: Literal[ERROR_CODES]  # type: ignore[valid-type]
    message: str


class Error(_Strict):
    error: ErrorDetail


class ParameterFilter(_Strict):
    # Optional, not nullable: None is only the default, a null sent is refused (strict). Typed
    # `Id` on purpose (`Id | None` would admit null, and document it): the default is not valid.
    ADVERTISER: Id = None  # type: ignore[assignment]


class ParameterValuesRequest(_Strict):
    error_answers = {
        ("Filter",): lambda error: bad_request(
            'Filter must be an object, such as {"ADVERTISER": "389"}.'
        )
    }

    ParameterId: str = Field(
        max_length=64,
        description=(
            "`ADVERTISER` or `EXT_CAMPAIGN_MANAGING_PARTY`. The bridge also reads them in any "
            "case and with blanks around them, but sends them as listed."
        ),
        json_schema_extra={"example": "ADVERTISER", "enum": list(PARAMETERS)},
    )
    # Optional, not nullable, as ParameterFilter.ADVERTISER.
    Filter: ParameterFilter = Field(  # type: ignore[assignment]
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


def _date_answer(error: ErrorDetails) -> ApiError:
    # The reader of the dates says what is wrong with one (INVALID_DATE), as it does for the
    # dates the pattern admits but the calendar refuses.
    name = str(error["loc"][0])
    try:
        reports.parse_api_date(error["input"], name=name, zone=ZoneInfo("UTC"))
    except ApiError as exc:
        return exc
    return bad_request(f"{name} is not a date.", "INVALID_DATE")


class NewReportRequest(_Strict):
    error_answers = {
        ("ExternalCampaignIDs",): lambda error: bad_request(
            f"ExternalCampaignIDs must be a list of 1 to {MAX_ROWS} ids."
        ),
        ("ExternalCampaignIDs", "*"): lambda error: bad_request(
            f"Each ExternalCampaignID must be a string of 1 to {ID_LENGTH} characters."
        ),
        ("FromDate",): _date_answer,
        ("ToDate",): _date_answer,
    }

    ExternalCampaignIDs: list[
        Annotated[str, StringConstraints(min_length=1, max_length=ID_LENGTH)]
    ] = Field(min_length=1, max_length=MAX_ROWS)
    FromDate: InputDate
    ToDate: InputDate


class ReportRequest(_Strict):
    error_answers = {
        ("Package",): lambda error: bad_request(
            "Package must be a whole number from 1.", "INVALID_PACKAGE"
        )
    }

    ReportId: str = Field(
        max_length=64,
        description="As answered by call 1.",
        json_schema_extra={"example": "Rk3J9xQ2mVbT7pLw0aZ4e"},
    )
    Package: int = Field(
        default=1, ge=1, description="Which package of at most 10,000 results (1-based)."
    )


_ReportId = Annotated[
    str, Field(pattern=r"^R[A-Za-z0-9_-]{20}$", description="R and 20 url-safe characters.")
]
ReportId = Annotated[_ReportId, _ref("ReportId", _ReportId)]


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
    KPIs: KPIs


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
    OtherTimeZoneDays: int = Field(
        default=0,
        ge=0,
        description=(
            "Plan-days of the range the bridge holds only as days of another time zone than "
            "TimeZone: counted before the company's zone changed and not counted again since "
            "(the next KPI sync does). Left out of Results, never answered as days of TimeZone: "
            "ask again in a new report to get them."
        ),
    )
    Package: int = Field(ge=1)
    Packages: int = Field(ge=1)
    Results: list[Result] = Field(max_length=MAX_ROWS)


# --- Query strings -------------------------------------------------------------------------------


class _Query(BaseModel):
    """An operation's query parameters, each field named in the query string by its alias.

    Parameters it does not name are ignored, as the document says: SAP MC's HTTP adapter may add
    its own (such as `sap-client`).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)


def _whole_number(value: Any) -> Any:
    """A query value of digits only (blanks around them allowed, at most 10 of them) as an int.

    Stricter than pydantic's own reading of an integer, which takes `+3`, `1.0` and `1_000` too.
    """
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            raise PydanticCustomError("whole_number", "Input should be a whole number")
        return int(text)
    return value


# A count in a query string: a whole number from 0.
QueryCount = Annotated[int, Field(ge=0), BeforeValidator(_whole_number)]
# $skip beyond a 32-bit integer is refused rather than handed to the database out of range.
MAX_SKIP = 2**31 - 1


class ExternalCampaignsQuery(_Query):
    top: QueryCount = Field(
        default=MAX_ROWS,
        le=MAX_ROWS,
        alias="$top",
        description="Most campaigns in this answer; default and maximum 10,000 (more is a 400).",
    )
    skip: QueryCount = Field(
        default=0,
        le=MAX_SKIP,
        alias="$skip",
        description="Campaigns to skip before the first one answered.",
    )


# The query models of the operations that read a query string (the others read none).
QUERY_MODELS: tuple[type[_Query], ...] = (ExternalCampaignsQuery,)


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


Body = TypeVar("Body", bound=_Strict)


def parse(model: type[Body], data: dict[str, Any]) -> Body:
    """`data` (a JSON object) as `model`; else the 400 ApiError SAP MC gets for its first fault.

    First an unknown field, then a missing one, then the others in the order of the fields, so
    that the answer names the fault a person fixes first.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    rank = {"extra_forbidden": 0, "missing": 1}
    first = min(
        errors, key=lambda error: rank.get(error["type"], 2) if len(error["loc"]) == 1 else 2
    )
    raise _answer(model, first) from None


def _answer(model: type[_Strict], error: ErrorDetails) -> ApiError:
    loc = error["loc"]
    # Echoed as sent, up to a length: a 5,000-character field name made a 5 KB answer.
    name = str(loc[-1])[:64]
    if error["type"] == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        return bad_request(
            f"Unknown field {name!r}; this endpoint takes {', '.join(owner.model_fields)}."
        )
    if error["type"] == "missing":
        return bad_request(f"The field {name!r} is required.")
    key = tuple("*" if isinstance(part, int) else str(part) for part in loc)
    if key in model.error_answers:
        return model.error_answers[key](error)
    if error["type"] == "string_type":
        return bad_request(f"The field {name!r} must be a string.")
    if error["type"] == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return bad_request(f"The field {name!r} is longer than {limit} characters.")
    return bad_request(f"The field {name!r} is not valid: {error['msg']}.")


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model that holds the field at `loc` (a nested model's fields for its unknown ones)."""
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return model


Query = TypeVar("Query", bound=_Query)


def parse_query(model: type[Query], query: Mapping[str, Any]) -> Query:
    """The query string as `model`; else the 400 INVALID_QUERY_OPTION ApiError for its first fault.

    `query` is Django's QueryDict: a parameter sent twice counts with its last value.
    """
    try:
        return model.model_validate(dict(query.items()))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
    name = str(error["loc"][0])
    # The limits as the document states them, which is where the caller reads them.
    limits = model.model_json_schema(by_alias=True)["properties"][name]
    if error["type"] == "less_than_equal":
        # Refused rather than silently cut: a caller that asked for more than it got would
        # take a short page for the end of the list.
        message = f"{name} must be at most {limits['maximum']}."
    else:
        message = f"{name} must be a whole number from {limits['minimum']} to {limits['maximum']}."
    raise bad_request(message, "INVALID_QUERY_OPTION") from None
