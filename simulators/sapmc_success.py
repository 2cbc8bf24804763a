"""SAP MC's campaign success import (API_MKT_CMPGN_SUCCESS_IMPORT_SRV) for the SAP MC simulator.

What SAP Gateway does with a Success: every property checked against the EDMX (served as
$metadata), a refusal answered with a Gateway error body naming the property, 201 with the created
entity, and $batch with change sets (each atomic, each with its own answer). The pieces here are
pure functions; simulators/sapmc_success_service.py routes, checks the CSRF token and keeps rows.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from simulators.sap_length import utf16_length

SUCCESS_SERVICE_PATH = "/sap/opu/odata/sap/API_MKT_CMPGN_SUCCESS_IMPORT_SRV"
SUCCESS_NAMESPACE = "API_MKT_CMPGN_SUCCESS_IMPORT_SRV"
SUCCESS_ENTITY_SET = "Successes"
SUCCESS_TYPE = f"{SUCCESS_NAMESPACE}.Success"
# A copy of tests/contracts/sapmc/API_MKT_CMPGN_SUCCESS_IMPORT_SRV.xml (SAP API Business Hub).
SUCCESS_METADATA_FILE = Path(__file__).with_name("API_MKT_CMPGN_SUCCESS_IMPORT_SRV.xml")
_EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
_SAP = "{http://www.sap.com/Protocols/SAPData}"

# Error codes in SAP Gateway's style (the message classes /IWBEP/CM_MGW_RT and /IWFND/CM_BEC).
INVALID_VALUE = "/IWBEP/CM_MGW_RT/020"
INVALID_BODY = "/IWBEP/CM_MGW_RT/022"
REFUSED_ROW = "CUAN_CAMPAIGN_SUCCESS/001"

_INT_RANGES: dict[str, tuple[int, int]] = {
    "Edm.Byte": (0, 255),
    "Edm.SByte": (-128, 127),
    "Edm.Int16": (-(2**15), 2**15 - 1),
    "Edm.Int32": (-(2**31), 2**31 - 1),
    "Edm.Int64": (-(2**63), 2**63 - 1),
}
_DATE = re.compile(r"/Date\((-?[0-9]{1,15})\)/")
_INTEGER = re.compile(r"-?[0-9]{1,20}")


@dataclass(frozen=True)
class EdmProperty:
    name: str
    edm: str
    nullable: bool
    max_length: int | None
    precision: int | None
    scale: int | None
    creatable: bool


def success_properties() -> tuple[EdmProperty, ...]:
    """Every property of the Success entity type, in EDMX order, with its facets."""
    root = ET.fromstring(SUCCESS_METADATA_FILE.read_bytes())
    node = next(n for n in root.iter(f"{_EDM}EntityType") if n.get("Name") == "Success")

    def number(value: str | None) -> int | None:
        return int(value) if value else None

    return tuple(
        EdmProperty(
            name=p.get("Name", ""),
            edm=p.get("Type", ""),
            nullable=p.get("Nullable", "true") != "false",
            max_length=number(p.get("MaxLength")),
            precision=number(p.get("Precision")),
            scale=number(p.get("Scale")),
            creatable=p.get(f"{_SAP}creatable", "true") != "false",
        )
        for p in node.findall(f"{_EDM}Property")
    )


SUCCESS_PROPERTIES = success_properties()
SUCCESS_KEY = "CampaignSuccessUUID"


def success_metadata_xml() -> str:
    return SUCCESS_METADATA_FILE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Problem:
    """One refused property (or the body as a whole when prop is "")."""

    prop: str
    message: str
    code: str = INVALID_VALUE


def gateway_error(problems: list[Problem]) -> dict[str, Any]:
    """SAP Gateway's error body: the first message on top, every problem in errordetails."""
    details = [
        {
            "code": p.code,
            "message": p.message,
            "propertyref": f"/{SUCCESS_ENTITY_SET}/{p.prop}" if p.prop else "",
            "severity": "error",
            "target": p.prop,
        }
        for p in problems
    ]
    return {
        "error": {
            "code": problems[0].code,
            "message": {"lang": "en", "value": problems[0].message},
            "innererror": {"transactionid": uuid.uuid4().hex.upper(), "errordetails": details},
        }
    }


def _check_value(prop: EdmProperty, value: Any) -> str | None:
    """Return why value does not fit prop's type and facets, or None when it does."""
    edm, name = prop.edm, prop.name
    if edm == "Edm.String":
        if not isinstance(value, str):
            return f"Property '{name}' expects a string (Edm.String)"
        # SAP's MaxLength counts UTF-16 units (ABAP strings): an emoji is two.
        if prop.max_length is not None and utf16_length(value) > prop.max_length:
            return (
                f"Value of property '{name}' is {utf16_length(value)} UTF-16 code units long "
                f"({len(value)} characters); at most {prop.max_length} are allowed"
            )
        return None
    if edm == "Edm.Guid":
        if not isinstance(value, str) or len(value) != 36:
            return f"Invalid value for property '{name}': a GUID is expected (Edm.Guid)"
        try:
            uuid.UUID(value)
        except ValueError:
            return f"Invalid value for property '{name}': a GUID is expected (Edm.Guid)"
        return None
    if edm == "Edm.DateTime":
        found = _DATE.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            return f"Invalid value for property '{name}': expected /Date(<ms>)/ (Edm.DateTime)"
        if prop.precision == 0 and int(found[1]) % 1000:
            return f"Property '{name}' takes whole seconds (Precision 0)"
        return None
    if edm in _INT_RANGES:
        low, high = _INT_RANGES[edm]
        # OData V2 JSON writes Edm.Int64 as a string; a JSON number is accepted as Gateway does.
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif edm == "Edm.Int64" and isinstance(value, str) and _INTEGER.fullmatch(value):
            number = int(value)
        else:
            return f"Invalid value for property '{name}': an integer is expected ({edm})"
        if not low <= number <= high:
            return f"Value {number} of property '{name}' is out of range for {edm}"
        return None
    if edm == "Edm.Decimal":
        # V2 JSON writes Edm.Decimal as a string ("12.500"); a JSON number is accepted too.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return f"Invalid value for property '{name}': a decimal is expected (Edm.Decimal)"
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or (isinstance(value, str) and value != value.strip()):
            return f"Invalid value for property '{name}': a decimal is expected (Edm.Decimal)"
        sign, digits, exponent = amount.as_tuple()
        assert isinstance(exponent, int)
        scale = max(0, -exponent)
        whole = max(0, len(digits) + exponent)
        if prop.scale is not None and scale > prop.scale:
            return f"Property '{name}' takes at most {prop.scale} decimals (Scale {prop.scale})"
        if prop.precision is not None and whole > prop.precision - (prop.scale or 0):
            return f"Value of property '{name}' exceeds Precision {prop.precision}"
        return None
    return f"Property '{name}' has type {edm}, which the simulator cannot check"


def validate_success(body: Any) -> list[Problem]:
    """Every reason SAP MC would refuse this Success create; empty when it is acceptable."""
    if not isinstance(body, dict):
        return [Problem("", "The request body must be a JSON object (a Success)", INVALID_BODY)]
    by_name = {p.name: p for p in SUCCESS_PROPERTIES}
    problems: list[Problem] = []
    for name in body:
        if name == "__metadata":
            continue
        if name not in by_name:
            message = f"Property '{name}' is invalid: the type {SUCCESS_TYPE} has no such property"
            problems.append(Problem(name, message))
    for prop in SUCCESS_PROPERTIES:
        value = body.get(prop.name)
        if not prop.creatable:
            # The key is assigned by SAP MC; null (what some clients send for it) is ignored.
            if value is not None:
                message = f"Property '{prop.name}' is not creatable: SAP MC assigns it"
                problems.append(Problem(prop.name, message))
            continue
        if value is None:
            if not prop.nullable:
                what = "missing" if prop.name not in body else "null"
                message = f"Property '{prop.name}' is {what}; it must not be null"
                problems.append(Problem(prop.name, message))
            continue
        if (reason := _check_value(prop, value)) is not None:
            problems.append(Problem(prop.name, reason))
    return problems


def created_success(body: dict[str, Any], key: str, service_url: str) -> dict[str, Any]:
    """The entity SAP MC answers for a created Success: every property, V2 JSON."""
    uri = f"{service_url}/{SUCCESS_ENTITY_SET}(guid'{key}')"
    item: dict[str, Any] = {"__metadata": {"id": uri, "uri": uri, "type": SUCCESS_TYPE}}
    for prop in SUCCESS_PROPERTIES:
        value = key if prop.name == SUCCESS_KEY else body.get(prop.name)
        if value is not None and prop.edm in ("Edm.Int64", "Edm.Decimal"):
            value = str(value)  # V2 JSON: 64-bit integers and decimals as strings
        item[prop.name] = value
    return item


# $batch (OData V2 part 2, "Batch processing") --------------------------------------------------


class BatchError(ValueError):
    """A $batch body that cannot be read as multipart/mixed with application/http parts."""


@dataclass
class BatchRequest:
    """One application/http part: its request line, headers and body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class BatchItem:
    """A change set (a list of requests, atomic) or a lone retrieve request."""

    changeset: bool
    requests: list[BatchRequest] = field(default_factory=list)


def _parse_http(text: bytes, content_id: str | None) -> BatchRequest:
    head, _, body = text.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode("utf-8", "replace").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BatchError(f"Invalid request line in batch part: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return BatchRequest(parts[0].upper(), parts[1], headers, body.strip(b"\n"), content_id)


def parse_batch(content_type: str, body: bytes) -> list[BatchItem]:
    """Split a $batch body into change sets and lone requests, in order."""
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise BatchError("A $batch request must be multipart/mixed with a boundary")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise BatchError("The $batch body is not a multipart/mixed document")
    items: list[BatchItem] = []
    for part in message.iter_parts():
        kind = part.get_content_type()
        if kind == "multipart/mixed":
            changeset = BatchItem(changeset=True)
            for inner in part.iter_parts():
                if inner.get_content_type() != "application/http":
                    raise BatchError("A change set part must be application/http")
                payload = cast(bytes | None, inner.get_payload(decode=True)) or b""
                changeset.requests.append(_parse_http(payload, inner.get("Content-ID")))
            items.append(changeset)
        elif kind == "application/http":
            payload = cast(bytes | None, part.get_payload(decode=True)) or b""
            items.append(BatchItem(changeset=False, requests=[_parse_http(payload, None)]))
        else:
            raise BatchError(f"Unexpected part of type {kind} in $batch")
    return items


@dataclass
class PartResponse:
    status: int
    payload: dict[str, Any] | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_id: str | None = None
    row: dict[str, Any] | None = None  # the row to keep once its change set succeeds


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 415: "Unsupported Media Type",
            501: "Not Implemented"}  # fmt: skip


def _http_part(response: PartResponse) -> str:
    reason = _REASONS.get(response.status, "Error")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    body = ""
    if response.payload is not None:
        body = json.dumps(response.payload, ensure_ascii=False)
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body.encode())}")
    lines += [f"{k}: {v}" for k, v in response.headers]
    lines.append("DataServiceVersion: 2.0")
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if response.content_id:
        head += f"Content-ID: {response.content_id}\r\n"
    return head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n" + body + "\r\n"


def batch_answer(
    results: list[tuple[bool, list[PartResponse]]], new_boundary: Callable[[], str]
) -> tuple[str, bytes]:
    """Return (content type, body) of a $batch answer: per item a change set or a part."""
    outer = new_boundary()
    chunks: list[str] = []
    for changeset, responses in results:
        chunks.append(f"--{outer}\r\n")
        if changeset:
            inner = new_boundary()
            chunks.append(f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n")
            for response in responses:
                chunks.append(f"--{inner}\r\n{_http_part(response)}")
            chunks.append(f"--{inner}--\r\n")
        else:
            chunks.append(_http_part(responses[0]))
    chunks.append(f"--{outer}--\r\n")
    return f"multipart/mixed; boundary={outer}", "".join(chunks).encode()


def cut_batch_answer(content_type: str, payload: bytes, parts: int) -> bytes:
    """A $batch answer cut in transit after `parts` answers, a few bytes into the next one."""
    delimiter = b"--" + content_type.split("boundary=", 1)[1].encode()
    starts: list[int] = []
    while (found := payload.find(delimiter + b"\r\n", starts[-1] + 1 if starts else 0)) >= 0:
        starts.append(found)
    if parts >= len(starts):
        return payload[: payload.rindex(delimiter + b"--")]  # only the closing delimiter lost
    # Into the next answer's own headers: what it was (its status line) is lost with it.
    return payload[: starts[parts] + len(delimiter) + 30]
