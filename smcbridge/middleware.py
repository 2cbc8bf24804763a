"""Middleware of the project itself (not of one app): the health probes' answers, and the mark
that tells the page's script an answer is the bridge's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

# The probes' paths (syncs.urls); a monitor or load balancer asks for them with GET or HEAD.
HEALTH_PATHS = frozenset({"/healthz", "/healthz/live"})
PROBE_METHODS = frozenset({"GET", "HEAD"})
# What request.get_host() says for a probe whose Host is not in ALLOWED_HOSTS: a reserved name
# (RFC 2606), so that nothing built from it could ever point anywhere.
UNCHECKED_HOST = "health-probe.invalid"

# The last status each probe answered in this process, to log a change of it once.
_last_status: dict[str, int] = {}


def _unchecked_host() -> str:
    return UNCHECKED_HOST


class HealthProbeMiddleware:
    """Answer /healthz and /healthz/live whatever the Host, and log their 503 once per change.

    First in MIDDLEWARE, before anything that calls request.get_host() (CommonMiddleware does on
    every request). A load balancer or monitor probes the backend by its address
    (Host: 10.0.0.5:8000), which ALLOWED_HOSTS refuses: each probe got a 400 and logged an ERROR
    with a traceback. The probes build no URL and show nothing that depends on the host, so for
    them (and only for GET and HEAD) the Host is not checked; every other path still is.

    A 503 of a probe is its answer, not a fault of the server: django.request logged an ERROR
    for each one, once a minute per monitor. It is logged here instead, at WARNING, when a
    probe's answer turns to 503, and at INFO when it turns back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path not in HEALTH_PATHS or request.method not in PROBE_METHODS:
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost:
            request.get_host = _unchecked_host  # type: ignore[method-assign]
        response = self.get_response(request)
        status = response.status_code
        if status == 503:
            # Django's request logging skips a response marked as logged (django.utils.log).
            response._has_been_logged = True  # type: ignore[attr-defined]
        previous = _last_status.get(path)
        _last_status[path] = status
        if status == 503 and previous != 503:
            logger.warning("%s answers 503: the bridge is not healthy (its JSON says why)", path)
        elif status == 200 and previous == 503:
            logger.info("%s answers 200 again", path)
        return response


# On every answer of the bridge's (static/js/app.js reads it): an answer without it came from
# something in between, a proxy's page or a network's sign-in page.
ANSWER_MARK = "X-Smcbridge-Answer"


class AnswerMarkMiddleware:
    """Mark every answer as the bridge's own.

    A proxy in the way can answer an htmx request with a page of its own and a 200 (a
    network's sign-in or "acceptable use" page): htmx swapped it into the workbench as if the
    bridge had drawn it. The page's script swaps only marked answers, and says what happened
    otherwise. Second in MIDDLEWARE, so that every answer of the project's is marked, its error
    pages and the answers of the middleware after it too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers[ANSWER_MARK] = "1"
        return response
