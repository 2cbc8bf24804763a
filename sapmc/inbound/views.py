"""SAP MC's inbound endpoints under /sapmc/extcamp/v1/ (contract: sapmc-api.md, part 1).

Machine endpoints: HTTP Basic auth of the communication user instead of a session, so no CSRF.
Every call, refused ones included, gets an X-Correlation-ID and is recorded in InboundCall: a
row of its own, or, for a call anyone can make without a password (none sent or none readable,
or openapi.json, which needs none), a count on the row of its burst (one per address, endpoint,
method, status and hour), so that a flood of them costs one row and one log line, not one per call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache, wraps
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sapmc.inbound import catalog, contract, reports, throttle
from sapmc.inbound.http import (
    BURST,
    JSON_CONTENT_TYPE,
    ApiError,
    InboundCallRecord,
    authenticate,
    bad_request,
    basic_credentials,
    burst_address,
    burst_start,
    caller_name,
    correlation_id,
    error_response,
    inbound_burst_log,
    inbound_call_log,
    inbound_password,
    json_response,
    read_json_object,
)
from sapmc.models import InboundReport
from smcbridge.client_ip import client_ip

logger = logging.getLogger("sapmc.inbound")

OPENAPI_PATH = Path(__file__).with_name("openapi.json")

View = Callable[..., HttpResponse]


def inbound_endpoint(
    name: str, *, methods: tuple[str, ...], auth: bool = True, probe: bool = True
) -> Callable:
    """Wrap a view with SAP MC's rules: auth, HEAD probe, 405, JSON errors, the call log.

    `probe`: HEAD answers 200 without calling the view (off where the view decides, as for 404).
    """
    allowed = ", ".join([*methods, "HEAD"])

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            started, at = time.monotonic(), timezone.now()
            cid = correlation_id(request)
            credentials = basic_credentials(request)
            caller = caller_name(credentials)
            error_code = ""
            logged = True
            try:
                if auth:
                    _authenticate_throttled(request, credentials, at)
                if request.method == "HEAD" and probe:
                    # SAP MC probes each URL before it sends data: 200, nothing more.
                    response = HttpResponse(status=200, content_type=JSON_CONTENT_TYPE)
                elif methods and request.method not in methods:
                    raise ApiError(
                        405,
                        "METHOD_NOT_ALLOWED",
                        f"{request.method} is not allowed here; use {allowed}.",
                        {"Allow": allowed},
                    )
                else:
                    response = view(request, caller, *args, **kwargs)
            except ApiError as exc:
                error_code = exc.code
                response = error_response(exc)
                logged = getattr(exc, "logged", True)
            except Exception:
                # Never Django's HTML page: SAP MC gets JSON it can log, the admin a traceback.
                logger.exception(
                    "SAP MC call %s %s failed (correlation id %s)", request.method, name, cid
                )
                error_code = "INTERNAL_ERROR"
                response = error_response(
                    ApiError(500, error_code, f"Internal error; correlation id {cid}.")
                )
            if request.method == "HEAD":
                response.content = b""
            response["X-Correlation-ID"] = cid
            response["Cache-Control"] = "no-store"
            call = InboundCallRecord(
                at=at,
                method=request.method or "",
                endpoint=name,
                caller=caller,
                status_code=response.status_code,
                duration_ms=round((time.monotonic() - started) * 1000),
                correlation_id=cid,
                error_code=error_code,
            )
            if not logged:
                # Refused while locked out: counted on the lockout, not one row per call, so
                # that a flood of guesses cannot flood the call log; nor Django's line of a
                # 4xx answer (django.request), one per call.
                response._has_been_logged = True  # type: ignore[attr-defined]
                return response
            if response.status_code < 500 and (credentials is None or not auth):
                # Anyone can send these, as fast as they like: counted on their burst's row,
                # logged once per burst. A bridge error (5xx) keeps a row of its own.
                _record_burst(request, call)
                # Nor Django's own line of a 4xx answer (django.request), one per call.
                response._has_been_logged = True  # type: ignore[attr-defined]
                return response
            inbound_call_log(call)
            call.log_line()
            return response

        # Public to Django's login: SAP MC signs in with Basic auth, checked above.
        return login_not_required(wrapper)

    return decorate


def _record_burst(request: HttpRequest, call: InboundCallRecord) -> None:
    """Count a call on its burst's row; its log line only for the burst's first call (or for
    every call when it could not be counted: then it has no row either)."""
    address = burst_address(client_ip(request))
    calls = inbound_burst_log(call, address=address)
    if calls > 1:
        return
    burst = (
        f"; the same calls from this address until {burst_start(call.at) + BURST:%H:%M} UTC "
        "are counted on its call-log row, not logged"
        if calls
        else ""
    )
    call.log_line(f" address={address}{burst}")


class _Refused(ApiError):
    """A call refused while its address is locked out; `logged`: it gets a call-log row."""

    def __init__(self, retry_after: int, *, logged: bool) -> None:
        super().__init__(
            429,
            "TOO_MANY_FAILURES",
            f"Too many calls with wrong credentials from this address; try again in "
            f"{retry_after} seconds.",
            {"Retry-After": str(retry_after)},
        )
        self.logged = logged


def _authenticate_throttled(request: HttpRequest, credentials: Any, at: Any) -> None:
    """Authenticate behind the lockout of the caller's address (sapmc.inbound.throttle): a 401
    ApiError for wrong credentials, a 429 one while the address is locked out."""
    # Counted per block (an IPv6 caller per /64), as the call log groups its bursts: counted per
    # address, a caller rotating through its /64 would never be locked out.
    ip = burst_address(client_ip(request))
    gate = throttle.inbound_gate(ip=ip, now=at)
    if gate.locked:
        # Even a right password is refused while locked: otherwise guessing would go on.
        raise _Refused(gate.retry_after, logged=gate.first_refusal)
    try:
        authenticate(credentials)
    except ApiError:
        # Only a wrong guess counts: a call without credentials (a client asking for the
        # challenge) or a bridge without a configured password guesses nothing.
        if credentials is not None and inbound_password():
            throttle.inbound_failure(ip=ip, now=at)
        raise
    if gate.on_record:
        throttle.inbound_success(ip=ip)


@cache
def _openapi_bytes() -> bytes:
    return OPENAPI_PATH.read_bytes()


@inbound_endpoint("openapi.json", methods=("GET",), auth=False)
def openapi_document(request: HttpRequest, caller: str) -> HttpResponse:
    """The OpenAPI document of these endpoints, exactly as kept in the repository."""
    return HttpResponse(_openapi_bytes(), content_type=JSON_CONTENT_TYPE)


@inbound_endpoint("parameter-values", methods=("POST",))
def parameter_values(request: HttpRequest, caller: str) -> HttpResponse:
    """Value help: the advertisers, or the managing parties (Initiatives) of one advertiser."""
    body = contract.parse(contract.ParameterValuesRequest, read_json_object(request))
    parameter = body.ParameterId.strip().upper()
    advertiser = body.Filter.ADVERTISER if body.Filter is not None else None
    if parameter == catalog.ADVERTISER:
        values = catalog.advertiser_values()
    elif parameter == catalog.MANAGING_PARTY:
        if advertiser is None:
            raise bad_request(f"{parameter} needs Filter.ADVERTISER: the advertiser's id.")
        values = catalog.managing_party_values(advertiser=advertiser)
    else:
        raise bad_request(
            f"Unknown ParameterId {parameter[:64]!r}; known: {', '.join(catalog.PARAMETERS)}.",
            "UNKNOWN_PARAMETER",
        )
    return json_response({"ParameterId": parameter, "Values": [v.as_json() for v in values]})


@inbound_endpoint("external-campaigns", methods=("POST",))
def external_campaigns(request: HttpRequest, caller: str) -> HttpResponse:
    """The live Plans of one Initiative, from the mirror, paged with $top and $skip."""
    query = contract.parse_query(contract.ExternalCampaignsQuery, request.GET)
    body = contract.parse(contract.ExternalCampaignsRequest, read_json_object(request))
    answer = catalog.external_campaigns_json(
        advertiser=body.ADVERTISER,
        managing_party=body.EXT_CAMPAIGN_MANAGING_PARTY,
        search=body.Search.strip(),
        top=query.top,
        skip=query.skip,
        now=timezone.now(),
    )
    return HttpResponse(answer, content_type=JSON_CONTENT_TYPE)


@inbound_endpoint("campaign-success", methods=("POST",))
def campaign_success(request: HttpRequest, caller: str) -> HttpResponse:
    """Call 1 makes a report (202 PENDING); calls with its ReportId answer it when ready."""
    data = read_json_object(request)
    if "ReportId" in data:
        return _report_answer(contract.parse(contract.ReportRequest, data))
    body = contract.parse(contract.NewReportRequest, data)
    ids = body.ExternalCampaignIDs
    zone = catalog.company_zone()
    from_date = reports.parse_api_date(body.FromDate, name="FromDate", zone=zone)
    to_date = reports.parse_api_date(body.ToDate, name="ToDate", zone=zone)
    if from_date > to_date:
        raise bad_request(f"FromDate {from_date} is after ToDate {to_date}.", "INVALID_DATE")
    report = reports.report_create(
        external_campaign_ids=ids, from_date=from_date, to_date=to_date, caller=caller
    )
    return json_response({"ReportId": report.report_id, "Status": report.status}, status=202)


def _report_answer(body: contract.ReportRequest) -> HttpResponse:
    package = body.Package
    report = reports.report_refresh(report=reports.report_get(report_id=body.ReportId))
    if report.status != InboundReport.Status.COMPLETED:
        return json_response({"ReportId": report.report_id, "Status": report.status}, status=202)
    # Serialized once, when the report completed: sent as is.
    return HttpResponse(
        reports.report_answer_bytes(report=report, package=package),
        content_type=JSON_CONTENT_TYPE,
    )


@inbound_endpoint("(unknown)", methods=(), probe=False)
def not_found(request: HttpRequest, caller: str, rest: str = "") -> HttpResponse:
    """Any other path under the base: a JSON 404, not Django's page."""
    raise ApiError(404, "NOT_FOUND", "No such endpoint; see openapi.json for the ones there are.")
