"""What SAP Gateway does alike for both OData services of the SAP MC simulator (stdlib only).

Basic auth, the CSRF token and the session it is valid in, $format/Accept negotiation, the error
body, the service document and JSON as the gateway writes it. The campaign service
(simulators/sapmc_campaigns.py) and the success import (simulators/sapmc_success_service.py)
answer through these; simulators/sapmc.py puts them behind one WSGI app.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from simulators.base import Call, Response, html_page

JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
REALM = "SAP NetWeaver Application Server"
# SAP Gateway's session cookie (SAP_SESSIONID_<system>_<client>): a CSRF token is valid only
# together with the session it was fetched in.
SESSION_COOKIE = "SAP_SESSIONID_SIM_100"


@dataclass
class ODataCall(Call):
    pairs: list[tuple[str, str]]  # the query string in order, decoded
    subpath: str  # the path below the service root, e.g. "Campaigns"
    base_url: str  # scheme and host of the links in answers (Host header or public_url)


def odata_error(status: int, code: str, message: str, content_type: str = JSON) -> Response:
    """An OData V2 error answer as SAP Gateway sends it."""
    payload = {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": message},
            "innererror": {"transactionid": uuid.uuid4().hex.upper(), "errordetails": []},
        }
    }
    return Response(status, json.dumps(payload).encode(), content_type)


def html(status: int, title: str, body: str = "") -> Response:
    return html_page(status, title, body, HTML)


def json_body(payload: Any) -> bytes:
    text = json.dumps(payload, ensure_ascii=False)
    # SAP Gateway escapes the slashes of its date literals ("\/Date(...)\/"); JSON decoders
    # read them back unchanged, and the client must not depend on either spelling.
    return text.replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"').encode()


def format_problem(call: ODataCall) -> Response | None:
    """The refusal of a call that asks for anything but JSON, or None."""
    wanted = call.query.get("$format")
    if wanted is not None:
        if wanted.lower() != "json":
            return odata_error(400, "/IWBEP/CM_MGW_RT/022", "The simulator speaks JSON only")
        return None
    if "json" not in call.environ.get("HTTP_ACCEPT", "").lower():
        # A real gateway would answer Atom XML here; the simulator refuses instead, so that
        # a client forgetting both $format and Accept is caught in tests.
        return odata_error(406, "/IWBEP/CM_MGW_RT/023", "Send $format=json or Accept JSON")
    return None


def service_root(call: ODataCall, service_url: str, entity_sets: Iterable[str]) -> Response:
    """The service document: AtomPub XML by default (SAP Gateway's), JSON when asked for."""
    names = list(entity_sets)
    wanted = call.query.get("$format")
    if wanted is None and "json" not in call.environ.get("HTTP_ACCEPT", "").lower():
        collections = "".join(
            f'<app:collection href="{name}"><atom:title>{name}</atom:title></app:collection>'
            for name in names
        )
        document = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<app:service xml:base="{service_url}/" '
            'xmlns:app="http://www.w3.org/2007/app" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<app:workspace><atom:title>Data</atom:title>{collections}</app:workspace>"
            "</app:service>"
        )
        return Response(200, document.encode(), XML)
    if problem := format_problem(call):
        return problem
    return Response(200, json_body({"d": {"EntitySets": names}}), JSON)


def basic_auth(header: str | None, user: str, password: str) -> tuple[str | None, bool]:
    """Return (user name sent, whether the credentials are right) of an Authorization header."""
    if not header:
        return None, False
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, False
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, False
    sent_user, _, sent_password = decoded.partition(":")
    # Both compared in full and in constant time: no early exit that tells which was wrong.
    good_user = hmac.compare_digest(sent_user.encode(), user.encode())
    good_password = hmac.compare_digest(sent_password.encode(), password.encode())
    return sent_user, good_user and good_password


def unauthorized() -> Response:
    response = html(401, "Logon failed", "<p>Logon failed. Check your user and password.</p>")
    response.headers.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
    return response


def fetches_csrf_token(environ: dict[str, Any]) -> bool:
    """Whether the request asks for a CSRF token (X-CSRF-Token: Fetch)."""
    return environ.get("HTTP_X_CSRF_TOKEN", "").strip().lower() == "fetch"


class CsrfGuard:
    """SAP Gateway's CSRF protection: one token, valid only with a session it handed out."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(18)
        self._sessions: set[str] = set()  # the session ids handed out with the token
        self._lock = threading.Lock()

    def hand_out(self, environ: dict[str, Any], response: Response) -> Response:
        """Add the token (and a session, unless the request has one) to a successful fetch."""
        if not fetches_csrf_token(environ) or response.status >= 400:
            return response
        response.headers.append(("X-CSRF-Token", self.token))
        if self.session_of(environ) is None:
            session = secrets.token_hex(16)
            with self._lock:
                self._sessions.add(session)
            cookie = f"{SESSION_COOKIE}={session}; path=/; HttpOnly"
            response.headers.append(("Set-Cookie", cookie))
            response.headers.append(("Set-Cookie", "sap-usercontext=sap-client=100; path=/"))
        return response

    def session_of(self, environ: dict[str, Any]) -> str | None:
        """The live SAP session the request's cookie names, or None."""
        try:
            cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        except CookieError:
            return None
        morsel = cookies.get(SESSION_COOKIE)
        with self._lock:
            return morsel.value if morsel is not None and morsel.value in self._sessions else None

    def refusal(self, environ: dict[str, Any]) -> Response | None:
        """403 unless the request carries the token and the session it was fetched in."""
        sent = environ.get("HTTP_X_CSRF_TOKEN", "")
        good = hmac.compare_digest(sent.encode(), self.token.encode())
        if good and self.session_of(environ) is not None:
            return None
        response = Response(403, b"CSRF token validation failed", TEXT)
        response.headers.append(("X-CSRF-Token", "Required"))
        return response

    def expire(self) -> None:
        """End every session: the next write answers 403 until a token is fetched again."""
        with self._lock:
            self._sessions.clear()
