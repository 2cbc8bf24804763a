"""Fake SAP Marketing Cloud (OData V2, WSGI, stdlib only) per sapmc-api.md part 2.

One app in front of two services, as SAP Gateway is: the campaign service API_MKT_CAMPAIGN_SRV
(simulators/sapmc_campaigns.py) and the success import API_MKT_CMPGN_SUCCESS_IMPORT_SRV
(simulators/sapmc_success_service.py). The app checks Basic auth, logs every call, draws the
faults of its route, answers the replacing ones and hands the CSRF token out; the command line
of `python -m simulators sapmc` is at the end.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from simulators.base import Request, Response, SimulatorApp, StartResponse
from simulators.faults import Fault, ModeSpec, mode_spec
from simulators.khoros_data import KhorosData
from simulators.sapmc_campaigns import (
    CAMPAIGN_ENTITY_ROUTES,
    CAMPAIGN_ROUTES,
    DEFAULT_PAGE_SIZE,
    ENTITY_ROUTES,
    LIST_ROUTES,
    SERVICE_PATH,
    CampaignService,
)
from simulators.sapmc_data import Campaign, SapmcData
from simulators.sapmc_gateway import (
    JSON,
    CsrfGuard,
    ODataCall,
    basic_auth,
    fetches_csrf_token,
    html,
    odata_error,
    unauthorized,
)
from simulators.sapmc_metadata import epoch_ms
from simulators.sapmc_success_service import SUCCESS_ROUTES, SuccessImport

# What other modules import from here: the app, the campaign service's path and the values of
# the seeded data as sent (epoch_ms), and the command line `python -m simulators sapmc` runs.
__all__ = [
    "CLI_HELP",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PORT",
    "SAPMC_MODES",
    "SAPMC_ROUTES",
    "SERVICE_PATH",
    "SapmcSimulator",
    "add_arguments",
    "build_app",
    "describe",
    "epoch_ms",
]

SAPMC_ROUTES: tuple[str, ...] = (*CAMPAIGN_ROUTES, *SUCCESS_ROUTES)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})

# The same budgets and queueing as the Khoros simulator (simulators/faults.py), with SAP's modes.
# Every mode takes "page" (the server page number on the list routes, counted over $skip and
# $skiptoken) to hit a listing in the middle; on other routes a page-bound fault never fires.
SAPMC_MODES: dict[str, ModeSpec] = {
    "unauthorized": mode_spec("replace", SAPMC_ROUTES, "page"),
    "forbidden": mode_spec("replace", SAPMC_ROUTES, "page"),
    "login_page": mode_spec("replace", SAPMC_ROUTES, "page"),
    "rate_limit": mode_spec("replace", SAPMC_ROUTES, "page", "retry_after"),
    "http_500": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_502": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_503": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_504": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    # A CDN in front of SAP MC: 520 the origin answered what it could not read, 524 the origin
    # took the request and did not answer in time.
    "http_520": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "http_524": mode_spec("replace", SAPMC_ROUTES, "page", "body", "retry_after"),
    "slow_headers": mode_spec("replace", SAPMC_ROUTES, "page", "seconds"),
    "slow_body": mode_spec("replace", SAPMC_ROUTES, "page", "seconds", "chunks"),
    "connection_reset": mode_spec("replace", SAPMC_ROUTES, "page"),
    "invalid_json": mode_spec("replace", ENTITY_ROUTES, "page"),
    "truncated_json": mode_spec("replace", SAPMC_ROUTES, "page", "fraction"),
    "next_loop": mode_spec("modify", LIST_ROUTES, "page"),
    "next_foreign_host": mode_spec("modify", LIST_ROUTES, "page", "host"),
    "next_relative": mode_spec("modify", LIST_ROUTES, "page"),
    "missing_next": mode_spec("modify", LIST_ROUTES, "page"),
    "missing_count": mode_spec("modify", LIST_ROUTES, "page"),
    "duplicates": mode_spec("modify", LIST_ROUTES, "page"),
    "empty_page": mode_spec("modify", LIST_ROUTES, "page"),
    # A data provider that sets a $skiptoken whenever a page is full (it cannot know whether
    # more follow): the last page of a window that ends on a page boundary links to an empty
    # page, which carries the count and no __next.
    "next_on_full_page": mode_spec("modify", LIST_ROUTES, "page"),
    # A __next link that leaves out $filter: the pages after it list every category.
    "next_drops_filter": mode_spec("modify", LIST_ROUTES, "page"),
    "date_offset_variant": mode_spec("modify", CAMPAIGN_ENTITY_ROUTES),
    "guids_upper": mode_spec("modify", ENTITY_ROUTES),
    "extra_fields": mode_spec("modify", ENTITY_ROUTES),
    # The $batch is processed whole (every row kept) but its answer is cut in transit: after
    # `parts` answers (default 1), a few bytes into the next one, with no closing delimiter.
    "batch_cut": mode_spec("modify", ("success_batch",), "parts"),
    # SAP MC refuses the Success rows of one external campaign (a row-level business check):
    # `property` (default ExternalCampaignID) and `message` shape the Gateway error.
    "refuse_row": mode_spec(
        "modify", ("successes", "success_batch"), "external_campaign_id", "property", "message"
    ),
}


class SapmcSimulator(SimulatorApp[SapmcData]):
    """WSGI app faking SAP MC's campaign and success import services, with fault injection and
    a request log."""

    routes = SAPMC_ROUTES
    modes = SAPMC_MODES
    json_type = JSON

    def __init__(
        self,
        data: SapmcData | None = None,
        *,
        user: str = "demo-user",
        password: str = "demo-password",
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], datetime] | None = None,
        public_url: str | None = None,
    ) -> None:
        """Serve data (default: SapmcData.generate()), at most page_size results per answer."""
        # clock returns aware UTC now (LastChangeDateTime of mutations, Retry-After dates);
        # public_url replaces the Host header in __metadata and __next links.
        data = data if data is not None else SapmcData.generate()
        super().__init__(data, clock=clock, public_url=public_url)
        self.user = user
        self.password = password
        self._csrf = CsrfGuard()
        self._campaigns = CampaignService(lambda: self._data, self._lock, self._csrf, page_size)
        self._success = SuccessImport(self._csrf)

    @property
    def page_size(self) -> int:
        return self._campaigns.page_size

    @property
    def csrf_token(self) -> str:
        return self._csrf.token

    # Python API for tests ------------------------------------------------------------------

    @property
    def successes(self) -> list[dict[str, Any]]:
        """Copy of every Success row created (as received, with its assigned key), oldest first."""
        return self._success.rows

    def clear_successes(self) -> None:
        self._success.clear()

    def expire_sessions(self) -> None:
        """End every session: the next write answers 403 until a token is fetched again."""
        self._csrf.expire()

    def reset(self) -> None:
        super().reset()
        self._success.clear()
        self._csrf.expire()

    def add_campaign(self, **fields: Any) -> Campaign:
        """Add a campaign (fields of simulators.sapmc_data.Campaign; defaults fill the rest)."""
        with self._lock:
            return self._data.add_campaign(now=self.clock(), **fields)

    def update_campaign(self, campaign_uuid: str, **fields: Any) -> Campaign:
        with self._lock:
            return self._data.update_campaign(campaign_uuid, now=self.clock(), **fields)

    def remove_campaign(self, campaign_uuid: str) -> Campaign:
        with self._lock:
            return self._data.remove_campaign(campaign_uuid)

    def set_references(self, campaign_uuid: str, plan_ids: list[str]) -> Campaign:
        """Make the campaign reference exactly these Khoros Plans."""
        with self._lock:
            return self._data.set_references(campaign_uuid, list(plan_ids), now=self.clock())

    def _control(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_sim/successes" and method == "GET":
            return self._control_json({"successes": self.successes})
        if path == "/_sim/successes" and method == "DELETE":
            self.clear_successes()
            return self._control_json({"successes": []})
        return super()._control(method, path, body)

    # WSGI ----------------------------------------------------------------------------------

    def _serve(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        answer = self._route(request, start_response)
        if request.method != "HEAD":
            return answer
        # HEAD: the headers of the GET without its body, whatever the answer (SAP's clients
        # fetch a CSRF token so, on the service root with X-CSRF-Token: Fetch).
        close = getattr(answer, "close", None)
        if close is not None:
            close()
        return []

    def _route(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        environ, method, path = request.environ, request.method, request.path
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query = dict(pairs)
        base_url = self._base_url(environ)  # of the links in the answers
        user, authorised = basic_auth(environ.get("HTTP_AUTHORIZATION"), self.user, self.password)
        route, args, subpath = self._campaigns.match(path)
        success_route = self._success.route_of(path)
        entry = self._log_request(
            request,
            query=query,
            route=route.name if route else success_route,
            user=user,  # the user name only: the password never reaches the log
            csrf_fetch=fetches_csrf_token(environ),
        )

        if not authorised:
            return self._send(unauthorized(), start_response, entry)
        # On either service, a read with X-CSRF-Token: Fetch gets the token (and a session).
        if self._success.serves(path):
            if success_route is None:
                return self._send(self._success.unknown(path), start_response, entry)
            applied = self._take_faults(success_route, None, entry)
            call = ODataCall(environ, query, {}, applied, pairs, success_route, base_url)
            return self._respond(
                call,
                lambda: self._csrf.hand_out(
                    environ, self._success.answer(success_route, method, call, request.body)
                ),
                start_response,
                entry,
            )
        if method in _WRITE_METHODS:
            return self._send(self._campaigns.write(environ), start_response, entry)
        if method not in ("GET", "HEAD"):
            response = odata_error(405, "/IWFND/CM_BEC/026", f"Method {method} is not allowed")
            return self._send(response, start_response, entry)
        if route is None:
            return self._send(self._campaigns.unknown(path, subpath), start_response, entry)
        page = self._campaigns.page_number(query) if route.name in LIST_ROUTES else None
        applied = self._take_faults(route.name, page, entry)
        call = ODataCall(environ, query, args, applied, pairs, subpath, base_url)
        return self._respond(
            call,
            lambda: self._csrf.hand_out(environ, self._campaigns.answer(route, call)),
            start_response,
            entry,
        )

    def _send(
        self, response: Response, start_response: StartResponse, entry: dict[str, Any] | None
    ) -> list[bytes]:
        if response.content_type and response.content_type.startswith("application/json"):
            response.headers.append(("DataServiceVersion", "2.0"))
        return super()._send(response, start_response, entry)

    # Replacing faults ------------------------------------------------------------------------

    def _rate_limited(self) -> Response:
        return odata_error(429, "/IWFND/CM_BEC/429", "Too many requests")

    def _fault_response(self, fault: Fault) -> Response:
        mode = fault.mode
        if mode == "unauthorized":
            return unauthorized()
        if mode == "forbidden":
            message = f"User {self.user.upper()} has no authorization for API_MKT_CAMPAIGN_SRV"
            return odata_error(403, "/IWBEP/CM_MGW_RT/010", message)
        if mode == "login_page":
            # SAP cloud systems answer a browser-style logon (SAML redirect) with a 200 page.
            form = '<form method="post" action="https://accounts.example.com/saml2/idp/sso">'
            return html(200, "Logon", f"{form}<input name='SAMLRequest'/></form>")
        if mode == "invalid_json":
            return Response(200, b'{"d": {"results": [{"CampaignUUID": guid\'0\', "__next', JSON)
        return super()._fault_response(fault)

    def _server_error(self, status: int, body: str) -> Response:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = _CDN_PHRASES.get(status, "Unknown")
        if body == "html":
            # What SAP Web Dispatcher shows when the backend is away.
            return html(status, f"{status} {phrase}", "<p>SAP Web Dispatcher</p>")
        content_type = "text/plain; charset=utf-8" if body == "text" else JSON
        return odata_error(status, "/IWFND/CM_BEC/026", phrase, content_type)


# What a CDN in front of SAP MC calls the statuses it adds (http_520, http_524).
_CDN_PHRASES = {520: "Web Server Returned an Unknown Error", 524: "A Timeout Occurred"}


# Command line (see simulators/__main__.py) -----------------------------------------------------

DEFAULT_PORT = 8702
CLI_HELP = "SAP Marketing Cloud campaign API (OData V2; SAPMC_BASE_URL=<url>)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the sapmc subcommand's options (the Khoros ones match `khoros`'s defaults)."""
    parser.add_argument("--user", default="demo-user", help="Basic-auth user to accept")
    parser.add_argument("--password", default="demo-password", help="Basic-auth password")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--initiatives", type=int, default=5, help="as for the khoros simulator")
    parser.add_argument("--plans-per-initiative", type=int, default=8, help="as for khoros")
    parser.add_argument("--company-id", default="389", help="as for khoros")
    parser.add_argument("--company-name", default="Acme", help="as for khoros")
    parser.add_argument("--timezone", default="America/Chicago", help="as for khoros")
    parser.add_argument("--campaigns-per-initiative", type=int, default=3)
    parser.add_argument("--other-category", type=int, default=5, help="campaigns of category Z02")
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="per answer")
    parser.add_argument(
        "--sap-timezone",
        default="UTC",
        help="the tenant's time zone: campaign dates are midnights there (SAPMC_TIMEZONE)",
    )


def build_app(args: argparse.Namespace) -> SapmcSimulator:
    """Build the simulator from parsed options, over the Khoros data `khoros` would serve."""
    # Same generator and arguments as simulators.khoros.build_app: the demo's two simulators
    # then agree on every Initiative and Plan (posts are drawn separately and not needed here).
    khoros = KhorosData.generate(
        seed=args.seed,
        initiatives=args.initiatives,
        plans_per_initiative=args.plans_per_initiative,
        posts_per_plan=0,
        company_id=args.company_id,
        company_name=args.company_name,
        timezone=args.timezone,
    )
    data = SapmcData.generate(
        khoros=khoros,
        campaigns_per_initiative=args.campaigns_per_initiative,
        other_category=args.other_category,
        seed=args.seed,
        timezone=args.sap_timezone,
    )
    return SapmcSimulator(data, user=args.user, password=args.password, page_size=args.page_size)


def describe(base_url: str) -> str:
    """The one start-up line: where to point the bridge."""
    return f"SAP MC simulator listening on {base_url} (SAPMC_BASE_URL={base_url})"
