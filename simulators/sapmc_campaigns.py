"""The SAP MC simulator's campaign service, API_MKT_CAMPAIGN_SRV (OData V2, read-only).

Its routes, listings with $count and server-driven paging, entities as SAP Gateway writes them,
and the faults that bend a listing or an entity (next links, counts, dates, GUIDs). The app in
simulators/sapmc.py authenticates, logs and draws the faults, then asks this service to answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from simulators.base import Response, lenient_int
from simulators.sapmc_data import Campaign, Reference, SapmcData
from simulators.sapmc_gateway import (
    JSON,
    XML,
    CsrfGuard,
    ODataCall,
    format_problem,
    html,
    json_body,
    odata_error,
    service_root,
)
from simulators.sapmc_metadata import (
    CAMPAIGN_NAVIGATION,
    CAMPAIGN_PROPERTIES,
    CAMPAIGN_TYPE,
    ENTITY_SETS,
    REFERENCE_PROPERTIES,
    REFERENCE_TYPE,
    REFERENCES,
    EdmProperty,
    campaign_values,
    epoch_ms,
    metadata_xml,
    reference_values,
)
from simulators.sapmc_odata import ODataQueryError, QueryOptions, parse_options, sort_items

SERVICE_PATH = "/sap/opu/odata/sap/API_MKT_CAMPAIGN_SRV"
DEFAULT_PAGE_SIZE = 50
CAMPAIGN_ROUTES: tuple[str, ...] = ("service", "metadata", "campaigns", "campaign", "references")
LIST_ROUTES: tuple[str, ...] = ("campaigns", "references")
ENTITY_ROUTES: tuple[str, ...] = ("campaigns", "campaign", "references")
CAMPAIGN_ENTITY_ROUTES: tuple[str, ...] = ("campaigns", "campaign")

_EXTRA_FIELDS: dict[str, Any] = {"YY1_CampaignPriority_MKT": "HIGH", "CampaignTargetGroup": None}
_GUID_KEY = r"\((?:{key}=)?guid'(?P<{group}>[^']*)'\)"
_COUNT_SEGMENT = "/$count"
_PATH_SAFE = "/()'$,:=@"

Handler = Callable[["CampaignService", ODataCall], Response]


@dataclass(frozen=True)
class CampaignRoute:
    pattern: re.Pattern[str]
    name: str
    handler: Handler


class CampaignService:
    """Answer API_MKT_CAMPAIGN_SRV's reads from the simulator's data; writes only pass CSRF."""

    def __init__(
        self,
        data: Callable[[], SapmcData],
        lock: AbstractContextManager[Any],
        csrf: CsrfGuard,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        """Read data() under lock (the app's: its tests mutate the data under it)."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._data = data
        self._lock = lock
        self._csrf = csrf
        self.page_size = page_size

    # Routing -------------------------------------------------------------------------------

    def match(self, path: str) -> tuple[CampaignRoute | None, dict[str, str], str]:
        """The route of a path, the arguments of its key and the path below the service root."""
        if not (path == SERVICE_PATH or path.startswith(SERVICE_PATH + "/")):
            return None, {}, ""
        subpath = path[len(SERVICE_PATH) :].lstrip("/")
        if subpath.endswith("/"):
            subpath = subpath.rstrip("/")
        counted = subpath.endswith(_COUNT_SEGMENT)
        target = subpath[: -len(_COUNT_SEGMENT)] if counted else subpath
        for route in _ROUTES:
            found = route.pattern.fullmatch(target)
            if found is not None:
                args = found.groupdict()
                if counted:
                    if route.name not in LIST_ROUTES or "reference" in args:
                        break  # $count of a single entity does not exist
                    args["$count"] = "1"
                return route, args, target
        return None, {}, subpath

    def unknown(self, path: str, subpath: str) -> Response:
        """The answer to a path no route matched."""
        entity_set = re.split(r"[(/]", subpath, maxsplit=1)[0]
        if entity_set in ENTITY_SETS:
            # Declared in SAP's $metadata, but nothing the bridge reads: say so plainly.
            message = f"The simulator does not serve the entity set '{entity_set}'"
            return odata_error(501, "/IWBEP/CM_MGW_RT/000", message)
        if path == SERVICE_PATH or path.startswith(SERVICE_PATH + "/"):
            segment = path[len(SERVICE_PATH) + 1 :]
            message = f"Resource not found for segment '{segment}'"
            return odata_error(404, "/IWBEP/CM_MGW_RT/021", message)
        return html(404, "Not Found", "<p>Service cannot be reached</p>")

    def page_number(self, query: dict[str, str]) -> int:
        """Number of the server page a list call asks for, for faults bound to a page."""
        skip = lenient_int(query.get("$skip", "0")) or 0
        token = lenient_int(query.get("$skiptoken", "0")) or 0
        return max(0, skip + token) // self.page_size

    def answer(self, route: CampaignRoute, call: ODataCall) -> Response:
        return route.handler(self, call)

    def write(self, environ: dict[str, Any]) -> Response:
        """The answer to a POST, PUT, PATCH, MERGE or DELETE."""
        if refusal := self._csrf.refusal(environ):
            return refusal
        # The CSRF check passed: that is all a test of the token needs. Writes are not simulated.
        return odata_error(501, "/IWBEP/CM_MGW_RT/000", "The simulator is read-only")

    # Routes --------------------------------------------------------------------------------

    def _service(self, call: ODataCall) -> Response:
        return service_root(call, _service_url(call), ENTITY_SETS)

    def _metadata(self, call: ODataCall) -> Response:
        return Response(200, metadata_xml().encode(), XML)

    def _campaigns(self, call: ODataCall) -> Response:
        with self._lock:
            data = self._data()
            campaigns = data.campaigns
        return self._list(
            call,
            campaigns,
            CAMPAIGN_PROPERTIES,
            lambda c: campaign_values(c, data),
            lambda c, options: _campaign_json(c, data, call, options),
            navigation=CAMPAIGN_NAVIGATION,
        )

    def _campaign(self, call: ODataCall) -> Response:
        try:
            options = parse_options(
                call.query,
                single=True,
                properties=CAMPAIGN_PROPERTIES,
                navigation=CAMPAIGN_NAVIGATION,
            )
        except ODataQueryError as exc:
            return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
        key = _guid(call.args["uuid"])
        if key is None:
            return odata_error(400, "/IWBEP/CM_MGW_RT/020", "Invalid key predicate")
        with self._lock:
            data = self._data()
            campaign = data.campaign(key)
        if campaign is None:
            return _not_found("Campaign", call.args["uuid"])
        if problem := format_problem(call):
            return problem
        return _entity(_campaign_json(campaign, data, call, options))

    def _references(self, call: ODataCall) -> Response:
        with self._lock:
            data = self._data()
            if "campaign" in call.args:
                key = _guid(call.args["campaign"])
                campaign = data.campaign(key) if key else None
                if campaign is None:
                    return _not_found("Campaign", call.args["campaign"])
                references = list(campaign.references)
            else:
                references = data.references
        if "reference" in call.args:
            try:
                options = parse_options(
                    call.query, single=True, properties=REFERENCE_PROPERTIES, navigation=()
                )
            except ODataQueryError as exc:
                return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
            key = _guid(call.args["reference"])
            found = next((r for r in references if r.external_campaign_uuid == key), None)
            if found is None:
                return _not_found("ExternalCampaignReference", call.args["reference"])
            if problem := format_problem(call):
                return problem
            return _entity(_reference_json(found, call, options.select))
        return self._list(
            call,
            references,
            REFERENCE_PROPERTIES,
            reference_values,
            lambda r, options: _reference_json(r, call, options.select),
            navigation=(),
        )

    def _list(
        self,
        call: ODataCall,
        items: list[Any],
        properties: tuple[EdmProperty, ...],
        values: Callable[[Any], Mapping[str, Any]],
        to_json: Callable[[Any, QueryOptions], dict[str, Any]],
        *,
        navigation: tuple[str, ...],
    ) -> Response:
        counting = "$count" in call.args
        try:
            options = parse_options(
                call.query, single=False, properties=properties, navigation=navigation
            )
            if counting and (options.inlinecount or options.expand or options.select):
                raise ODataQueryError("$count takes $filter only (and $top/$skip)")
        except ODataQueryError as exc:
            return odata_error(400, "/IWBEP/CM_MGW_RT/022", str(exc))
        if options.predicate is not None:
            predicate = options.predicate
            items = [i for i in items if predicate(values(i))]
        if options.orderby:
            items = list(items)
            sort_items(items, values, options.orderby)
        if counting:
            # /$count is a plain-text number (no $format) of the matching entities; the
            # simulator applies $skip/$top too when given (the bridge never sends them here).
            counted = items[options.skip :]
            if options.top is not None:
                counted = counted[: options.top]
            return Response(200, str(len(counted)).encode(), "text/plain; charset=utf-8")
        if problem := format_problem(call):
            return problem
        # $skip/$top select a window of the collection; server-driven paging then hands the
        # window out page_size items at a time, $skiptoken being the offset inside the window.
        window = items[options.skip :]
        if options.top is not None:
            window = window[: options.top]
        start = options.token
        page = window[start : start + self.page_size]
        if call.mod("duplicates") and options.skip + start >= 1:
            # The last item of the previous page shows up again, as if inserted while reading.
            previous = items[options.skip + start - 1]
            page = [previous, *page]
        if call.mod("empty_page"):
            page = []  # a glitch mid-listing: the links and the count stay as they were
        feed: dict[str, Any] = {"results": [to_json(item, options) for item in page]}
        if options.inlinecount and not call.mod("missing_count"):
            feed["__count"] = str(len(items))  # V2 JSON carries the count as a string
        full = len(page) == self.page_size and call.mod("next_on_full_page") is not None
        if start + self.page_size < len(window) or full:
            feed["__next"] = _next_url(call, start + self.page_size)
        if call.mod("next_loop"):
            feed["__next"] = _request_url(call)
        if "__next" in feed:
            if fault := call.mod("next_foreign_host"):
                parts = urlsplit(feed["__next"])
                host = str(fault.params.get("host", "sapmc.attacker.example"))
                feed["__next"] = urlunsplit(parts._replace(netloc=host))
            if call.mod("next_relative"):
                parts = urlsplit(feed["__next"])
                relative = parts.path.rsplit("/", 1)[-1]
                feed["__next"] = f"{relative}?{parts.query}"
            if call.mod("next_drops_filter"):
                parts = urlsplit(feed["__next"])
                kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "$filter"]
                query = urlencode(kept, quote_via=quote, safe="$'(),:")
                feed["__next"] = urlunsplit(parts._replace(query=query))
            if call.mod("missing_next"):
                del feed["__next"]
        return Response(200, json_body({"d": feed}), JSON)


# Entities as JSON ------------------------------------------------------------------------------


def _entity(item: dict[str, Any]) -> Response:
    return Response(200, json_body({"d": item}), JSON)


def _campaign_json(
    campaign: Campaign, data: SapmcData, call: ODataCall, options: QueryOptions
) -> dict[str, Any]:
    uri = f"{_service_url(call)}/Campaigns(guid'{campaign.uuid}')"
    item: dict[str, Any] = {"__metadata": {"id": uri, "uri": uri, "type": CAMPAIGN_TYPE}}
    values = campaign_values(campaign, data)
    item.update(_wire(values, CAMPAIGN_PROPERTIES, call, options.select))
    for name in CAMPAIGN_NAVIGATION:
        if options.select is not None and name not in options.select:
            continue
        if name == REFERENCES and options.expand:
            references = [_reference_json(r, call, None) for r in campaign.references]
            item[name] = {"results": references}
        else:
            item[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
    return item


def _reference_json(
    reference: Reference, call: ODataCall, select: frozenset[str] | None
) -> dict[str, Any]:
    key = reference.external_campaign_uuid
    uri = f"{_service_url(call)}/ExternalCampaignReferences(guid'{key}')"
    item: dict[str, Any] = {"__metadata": {"id": uri, "uri": uri, "type": REFERENCE_TYPE}}
    item.update(_wire(reference_values(reference), REFERENCE_PROPERTIES, call, select))
    return item


def _wire(
    values: Mapping[str, Any],
    properties: tuple[EdmProperty, ...],
    call: ODataCall,
    select: frozenset[str] | None,
) -> dict[str, Any]:
    offset_variant = call.mod("date_offset_variant") is not None
    upper = call.mod("guids_upper") is not None
    item: dict[str, Any] = {}
    for prop in properties:
        if select is not None and prop.name not in select:
            continue
        value = values[prop.name]
        if value is None:
            item[prop.name] = None
        elif prop.edm == "Edm.DateTime":
            suffix = "+0000" if offset_variant else ""
            item[prop.name] = f"/Date({epoch_ms(value)}{suffix})/"
        elif prop.edm == "Edm.DateTimeOffset":
            item[prop.name] = f"/Date({epoch_ms(value)}+0000)/"
        elif prop.edm == "Edm.Guid":
            item[prop.name] = value.upper() if upper else value
        else:
            item[prop.name] = value
    if call.mod("extra_fields"):
        item.update(_EXTRA_FIELDS)
    return item


# URLs ------------------------------------------------------------------------------------------


def _service_url(call: ODataCall) -> str:
    return call.base_url + SERVICE_PATH


def _next_url(call: ODataCall, token: int) -> str:
    pairs = [("$skiptoken", str(token))]
    pairs += [(k, v) for k, v in call.pairs if k != "$skiptoken"]
    query = urlencode(pairs, quote_via=quote, safe="$'(),:")
    return f"{_service_url(call)}/{quote(call.subpath, safe=_PATH_SAFE)}?{query}"


def _request_url(call: ODataCall) -> str:
    path = quote(call.environ.get("PATH_INFO", "/"), safe=_PATH_SAFE)
    query = call.environ.get("QUERY_STRING", "")
    return f"{call.base_url}{path}" + (f"?{query}" if query else "")


def _not_found(entity: str, key: str) -> Response:
    message = f"Resource not found for segment '{entity}' with key guid'{key}'"
    return odata_error(404, "/IWBEP/CM_MGW_RT/021", message)


def _guid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


_ROUTES: tuple[CampaignRoute, ...] = (
    CampaignRoute(re.compile(r""), "service", CampaignService._service),
    CampaignRoute(re.compile(r"\$metadata"), "metadata", CampaignService._metadata),
    CampaignRoute(re.compile(r"Campaigns"), "campaigns", CampaignService._campaigns),
    CampaignRoute(re.compile(r"Campaigns" + _GUID_KEY.format(key="CampaignUUID", group="uuid")),
                  "campaign", CampaignService._campaign),
    CampaignRoute(re.compile(r"Campaigns"
                             + _GUID_KEY.format(key="CampaignUUID", group="campaign")
                             + r"/ExternalCampaignReferences"),
                  "references", CampaignService._references),
    CampaignRoute(re.compile(r"ExternalCampaignReferences"), "references",
                  CampaignService._references),
    CampaignRoute(re.compile(r"ExternalCampaignReferences"
                             + _GUID_KEY.format(key="ExternalCampaignUUID", group="reference")),
                  "references", CampaignService._references),
)  # fmt: skip
