"""Fault injection for the simulators: which modes exist, where they apply, and their budget."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["replace", "modify"]

KHOROS_ROUTES: tuple[str, ...] = (
    "me",
    "whoami",
    "initiatives",
    "initiative",
    "plans",
    "export_create",
    "export_status",
    "export_download",
    "fields",
)
LIST_ROUTES = ("initiatives", "plans")
ERROR_BODIES = ("json", "empty", "html", "text")


class FaultError(ValueError):
    """A fault request names an unknown route or mode, or carries bad params."""


@dataclass(frozen=True)
class ModeSpec:
    """How a mode behaves.

    "replace" modes take over the whole response (errors, delays, resets): only the oldest one
    of a route applies per call, so several queue up in order. "modify" modes alter a normal
    response and stack with each other; they are not consumed by a call that a "replace"
    fault answered.
    """

    kind: Kind
    routes: tuple[str, ...]
    params: frozenset[str] = frozenset()


def mode_spec(kind: Kind, routes: tuple[str, ...], *params: str) -> ModeSpec:
    """Declare a mode: its kind, the routes it applies to and the params it takes."""
    return ModeSpec(kind=kind, routes=routes, params=frozenset(params))


MODES: dict[str, ModeSpec] = {
    "rate_limit": mode_spec("replace", KHOROS_ROUTES, "retry_after"),
    "http_500": mode_spec("replace", KHOROS_ROUTES, "body", "retry_after"),
    "http_502": mode_spec("replace", KHOROS_ROUTES, "body", "retry_after"),
    "http_503": mode_spec("replace", KHOROS_ROUTES, "body", "retry_after"),
    "http_504": mode_spec("replace", KHOROS_ROUTES, "body", "retry_after"),
    "slow_headers": mode_spec("replace", KHOROS_ROUTES, "seconds"),
    "slow_body": mode_spec("replace", KHOROS_ROUTES, "seconds", "chunks"),
    "connection_reset": mode_spec("replace", KHOROS_ROUTES),
    "truncated_json": mode_spec("replace", KHOROS_ROUTES, "fraction"),
    "invalid_json": mode_spec("replace", KHOROS_ROUTES),
    "expired_token": mode_spec("replace", KHOROS_ROUTES, "lowercase", "body"),
    "developer_inactive": mode_spec("replace", KHOROS_ROUTES, "status"),
    "status_586": mode_spec("replace", KHOROS_ROUTES),
    "forbidden_company": mode_spec("replace", KHOROS_ROUTES, "company_id", "application"),
    # What was listed a moment ago is gone (an Initiative deleted between the Initiative list and
    # its Plan list, an export Khoros forgot while it was polled): 404 and the NOT_FOUND envelope.
    "gone": mode_spec("replace", ("initiative", "plans", "export_status")),
    # The spec's one published error: 406 text/plain {"code": "not_acceptable"}.
    "not_acceptable": mode_spec("replace", KHOROS_ROUTES),
    "missing_total": mode_spec("modify", LIST_ROUTES, "page", "keep_object"),
    "wrong_total": mode_spec("modify", LIST_ROUTES, "page", "value"),
    "empty_page": mode_spec("modify", LIST_ROUTES, "page"),
    # A page lost mid-list: page N serves what page N+1 holds.
    "page_skipped": mode_spec("modify", LIST_ROUTES, "page"),
    "duplicates": mode_spec("modify", LIST_ROUTES, "page", "style"),
    # A page answered again: page N serves what page 0 holds (a cache or a gateway that drops
    # pageNumber); every page from the first it applies to when count is unlimited.
    "page_repeated": mode_spec("modify", LIST_ROUTES, "page"),
    "dates_iso_z": mode_spec("modify", ("plans",)),
    "dates_iso_offset": mode_spec("modify", ("plans",)),
    "ids_as_numbers": mode_spec("modify", ("initiatives", "initiative")),
    "ids_as_strings": mode_spec("modify", ("plans",)),
    "extra_fields": mode_spec("modify", ("initiatives", "initiative", "plans")),
    # One Plan served without some properties (the spec requires none): `plan` its id (default
    # every Plan), `fields` comma-separated (default "startDate,endDate").
    "plan_fields_missing": mode_spec("modify", ("plans",), "plan", "fields"),
    # Variants of what the public spec shows (the spec's answer is the default):
    "whoami_enveloped": mode_spec("modify", ("whoami",)),  # {"data": {...}}, string id
    "unknown_export_empty": mode_spec("modify", ("export_status",)),  # 400 with no body, not {}
    # The one exception, see docs/khoros-api.md: the field catalogue is a JSON list by default,
    # and this mode answers what the spec shows (200 text/plain "Coming Soon").
    "fields_catalogue": mode_spec("modify", ("fields",)),
    "export_stuck": mode_spec("modify", ("export_status",)),
    "export_failed": mode_spec("modify", ("export_status",)),
    "link_expired": mode_spec("replace", ("export_download",)),
    # A link signed with temporary credentials (the spec's carries X-Amz-Security-Token) whose
    # session ran out before the link did: S3 answers 400 ExpiredToken, not 403.
    "link_token_expired": mode_spec("replace", ("export_download",)),
    "csv_bom": mode_spec("modify", ("export_download",)),
    "csv_quoted_newlines": mode_spec("modify", ("export_download",)),
    "csv_empty": mode_spec("modify", ("export_download",)),
    "csv_bad_row": mode_spec("modify", ("export_download",), "value"),
    # Today's layout before the spec was followed: named columns of our own plus initiative_id.
    "csv_named_header": mode_spec("modify", ("export_download",)),
    "csv_epoch_ms": mode_spec("modify", ("export_download",)),
    # One row's publication time replaced (default: the post's epoch seconds, not milliseconds).
    "csv_bad_time": mode_spec("modify", ("export_download",), "value"),
    # One row one field short (width -1) or long (width 1).
    "csv_ragged_row": mode_spec("modify", ("export_download",), "width"),
    # The body cut at `fraction` of its length (back to a line break with `boundary`), served
    # with a Content-Length that matches the cut body and the ETag of the whole file.
    "csv_truncated": mode_spec("modify", ("export_download",), "fraction", "boundary"),
    # One post's row (the middle one) written again at the end of the file, as a page of the
    # export served twice; `numbers` "changed" gives the repeat one more of its first metric.
    "csv_row_repeated": mode_spec("modify", ("export_download",), "numbers"),
    # The first and third metric columns (Impressions and Link Clicks as the bridge asks) swapped,
    # their header labels with them; a "Shares" column (7 on every row) after the first metric.
    "csv_columns_swapped": mode_spec("modify", ("export_download",)),
    "csv_column_inserted": mode_spec("modify", ("export_download",)),
    # An ETag S3 gives a file uploaded in parts: not an MD5 of the body, so it proves nothing.
    "etag_multipart": mode_spec("modify", ("export_download",)),
    # The CSV sent as gzip: an object stored compressed under Content-Encoding: gzip, its ETag
    # the MD5 of the gzip (S3); `etag` "plain" for a CDN that compressed it on the way (ETag of
    # the CSV); `encoding` false for a .csv.gz file served as application/gzip.
    "csv_gzip": mode_spec("modify", ("export_download",), "encoding", "etag"),
    # Status 200 with a body that is no CSV at all.
    "not_csv": mode_spec("replace", ("export_download",), "body"),
}

# Paging quirks that only make sense after a first page: by default they wait for pageNumber >= 1.
_MID_LIST_MODES = frozenset({"empty_page", "duplicates", "page_skipped", "page_repeated"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_params(mode: str, params: dict[str, Any], spec: ModeSpec | None = None) -> None:
    unknown = set(params) - (spec or MODES[mode]).params
    if unknown:
        raise FaultError(f"{mode} takes no param(s) {sorted(unknown)}")
    checks: dict[str, tuple[bool, str]] = {}
    if "retry_after" in params:
        value = params["retry_after"]
        ok = value is None or value == "http-date" or (_is_int(value) and value >= 0)
        checks["retry_after"] = (ok, 'an int >= 0, "http-date" or null')
    if "body" in params:
        allowed = ("json", "text") if mode == "expired_token" else ERROR_BODIES
        checks["body"] = (params["body"] in allowed, " | ".join(allowed))
    if "seconds" in params:
        value = params["seconds"]
        checks["seconds"] = (_is_number(value) and value >= 0, "a number >= 0")
    if "chunks" in params:
        value = params["chunks"]
        checks["chunks"] = (_is_int(value) and value >= 1, "an int >= 1")
    if "fraction" in params:
        value = params["fraction"]
        checks["fraction"] = (_is_number(value) and 0 <= value < 1, "a number in [0, 1)")
    if "status" in params:
        checks["status"] = (params["status"] in (200, 401), "200 or 401")
    if "boundary" in params:
        checks["boundary"] = (isinstance(params["boundary"], bool), "true or false")
    if "width" in params:
        checks["width"] = (params["width"] in (-1, 1), "-1 or 1")
    if "page" in params:
        value = params["page"]
        checks["page"] = (value is None or (_is_int(value) and value >= 0), "an int >= 0")
    if "value" in params and mode == "wrong_total":
        value = params["value"]
        # A number, 4.0 too: a JSON encoder that writes every number as a float.
        checks["value"] = (value is None or _is_number(value), "a number or null")
    if "numbers" in params:
        checks["numbers"] = (params["numbers"] in ("same", "changed"), "same | changed")
    if "encoding" in params:
        checks["encoding"] = (isinstance(params["encoding"], bool), "true or false")
    if "etag" in params:
        checks["etag"] = (params["etag"] in ("gzip", "plain"), "gzip | plain")
    if "parts" in params:
        checks["parts"] = (_is_int(params["parts"]) and params["parts"] >= 0, "an int >= 0")
    if "plan" in params:
        checks["plan"] = (isinstance(params["plan"], str), "a Plan id")
    if "fields" in params:
        checks["fields"] = (isinstance(params["fields"], str), "comma-separated property names")
    if "style" in params:
        checks["style"] = (params["style"] in ("prepend", "shift"), "prepend | shift")
    for name, (ok, expected) in checks.items():
        if not ok:
            raise FaultError(f"{mode}: param {name} must be {expected}, got {params[name]!r}")


@dataclass
class Fault:
    """One injected fault: mode on route for the next `remaining` matching calls (None: forever)."""

    id: int
    route: str
    mode: str
    remaining: int | None
    params: dict[str, Any] = field(default_factory=dict)
    # Set by a board with its own mode table (another simulator); None means MODES.
    spec: ModeSpec | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> Kind:
        return (self.spec or MODES[self.mode]).kind

    def matches(self, page: int | None) -> bool:
        """Whether a call for this page number (None off list routes) is affected."""
        wanted = self.params.get("page")
        if wanted is not None:
            return page == wanted
        if self.mode in _MID_LIST_MODES:
            return page is not None and page >= 1
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "mode": self.mode,
            "remaining": self.remaining,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class AppliedFaults:
    """What one call gets: at most one replacing fault, or any number of modifying ones."""

    replace: Fault | None = None
    modify: dict[str, Fault] = field(default_factory=dict)

    @property
    def modes(self) -> list[str]:
        if self.replace is not None:
            return [self.replace.mode]
        return list(self.modify)


class FaultBoard:
    """Thread-safe queue of faults per route with per-call budgets."""

    def __init__(
        self, routes: tuple[str, ...] = KHOROS_ROUTES, modes: Mapping[str, ModeSpec] | None = None
    ) -> None:
        """Serve routes with the modes of a simulator (default: the Khoros MODES)."""
        self._routes = routes
        self._modes = MODES if modes is None else modes
        self._faults: list[Fault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(
        self, route: str, mode: str, count: int | None = 1, params: dict[str, Any] | None = None
    ) -> Fault:
        """Queue mode on route for the next count calls (count=None: until cleared)."""
        params = dict(params or {})
        if route not in self._routes:
            raise FaultError(f"unknown route {route!r}; expected one of {list(self._routes)}")
        spec = self._modes.get(mode)
        if spec is None:
            raise FaultError(f"unknown mode {mode!r}; expected one of {sorted(self._modes)}")
        if route not in spec.routes:
            raise FaultError(f"mode {mode} does not apply to route {route}; use {spec.routes}")
        if count is not None and (not _is_int(count) or count < 1):
            raise FaultError("count must be an int >= 1 or null")
        _check_params(mode, params, spec)
        with self._lock:
            fault = Fault(
                id=self._next_id, route=route, mode=mode, remaining=count, params=params, spec=spec
            )
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def take(self, route: str, page: int | None = None) -> AppliedFaults:
        """Pick the faults for one call and charge their budgets."""
        with self._lock:
            candidates = [f for f in self._faults if f.route == route and f.matches(page)]
            replacing = next((f for f in candidates if f.kind == "replace"), None)
            if replacing is not None:
                chosen = [replacing]
                applied = AppliedFaults(replace=replacing)
            else:
                modify: dict[str, Fault] = {}
                for fault in candidates:
                    # Two faults of the same mode: the older one serves this call.
                    modify.setdefault(fault.mode, fault)
                chosen = list(modify.values())
                applied = AppliedFaults(modify=modify)
            for fault in chosen:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
            return applied

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]
