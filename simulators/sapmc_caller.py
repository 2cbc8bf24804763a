"""SAP MC's calls to smcbridge, made once and checked against the OpenAPI document.

A client, not a server: `python -m simulators sapmc-caller --base-url ... --user ... --password
...` drives the inbound endpoints the way SAP MC does (contract: docs/sapmc-api.md,
part 1, and "Caller role"): a HEAD probe of every path, the value help of both parameters, the
campaign list of the first managing party, then the success loop (call 1 without a ReportId, then
with it until COMPLETED, every package; a 503 is asked again after its Retry-After). Each answer
is checked against the OpenAPI document: status documented, body valid against its schema,
X-Correlation-ID echoed. Prints one line per step and a summary; exits 0 only when every check
passed. Standard library plus jsonschema.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import jsonschema

from simulators.sap_length import utf16_length

CLI_HELP = "Call smcbridge's inbound endpoints once as SAP MC does and check every answer"
API_PATH = "/sapmc/extcamp/v1"
JSON_TYPE = "application/json; charset=utf-8"
REQUEST_TIMEOUT = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="smcbridge's URL")
    parser.add_argument(
        "--user", default=os.environ.get("SAPMC_INBOUND_USER", "sapmc-inbound"), help="user"
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("SAPMC_INBOUND_PASSWORD") or "sapmc-inbound-demo",
        help="password (default: $SAPMC_INBOUND_PASSWORD, else the demo password)",
    )
    parser.add_argument(
        "--openapi", default="", help="OpenAPI document: a file or URL (default: the server's)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for a report to complete"
    )
    parser.add_argument(
        "--poll-cap", type=float, default=5.0, help="longest wait between two polls, seconds"
    )
    parser.add_argument("--from-date", default="", help="FromDate (default: earliest start)")
    parser.add_argument("--to-date", default="", help="ToDate (default: latest end)")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: int

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class StopSequence(Exception):
    """A step whose result later steps need failed: the sequence cannot go on."""


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _sap_max_length(
    validator: Any, limit: int, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """maxLength as SAP MC applies it: the fields it stores the values in hold UTF-16 units,
    so an emoji counts two (JSON Schema counts characters, which lets 128 emoji into 255).
    Never fewer units than characters: what fits here fits JSON Schema's count too."""
    if validator.is_type(instance, "string") and utf16_length(instance) > limit:
        yield jsonschema.ValidationError(
            f"{instance[:20]!r} is too long: {utf16_length(instance)} UTF-16 code units "
            f"({len(instance)} characters), SAP MC holds at most {limit}"
        )


# OpenAPI 3.0 schemas are draft 4 style; SAP MC reads their lengths in UTF-16 units.
_SapValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"maxLength": _sap_max_length}
)


class Contract:
    """The OpenAPI document, asked what a request may send and an answer may be."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        # The whole document is the root, so that "#/components/..." references resolve; the
        # schema to check sits under a key of its own (OpenAPI 3.0 schemas are draft 4 style).
        root = {**self.document, "x-checked": schema, "$ref": "#/x-checked"}
        validator = _SapValidator(root, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or 'body'}: {error.message[:200]}"
            for error in validator.iter_errors(instance)
        ]

    def operation(self, path: str, method: str) -> dict[str, Any]:
        try:
            return self.document["paths"][path][method.lower()]
        except KeyError:
            raise StopSequence(f"the document has no {method} {path}") from None

    def request_errors(self, path: str, method: str, body: Any) -> list[str]:
        request = self.operation(path, method).get("requestBody")
        if request is None:
            return []
        schema = self._resolve(request)["content"]["application/json"]["schema"]
        return [f"request {e}" for e in self._errors(schema, body)]

    def answer_errors(self, path: str, method: str, answer: Answer) -> list[str]:
        responses = self.operation(path, method)["responses"]
        documented = responses.get(str(answer.status))
        if documented is None:
            return [f"status {answer.status} is not documented for {method} {path}"]
        response = self._resolve(documented)
        problems = []
        for name, header in response.get("headers", {}).items():
            header = self._resolve(header)
            value = answer.headers.get(name.lower())
            if value is None:
                if header.get("required"):
                    problems.append(f"header {name} missing")
                continue
            problems += [f"header {name}: {e}" for e in self._errors(header["schema"], value)]
        content = response.get("content")
        if method == "HEAD" or content is None:
            if answer.body:
                problems.append(f"expected an empty body, got {len(answer.body)} bytes")
            return problems
        if answer.headers.get("content-type") != JSON_TYPE:
            problems.append(f"Content-Type {answer.headers.get('content-type')!r}, not {JSON_TYPE}")
        try:
            body = answer.json()
        except ValueError as exc:
            return [*problems, f"body is not JSON: {exc}"]
        return problems + self._errors(content["application/json"]["schema"], body)


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    ms: int = 0


@dataclass
class Caller:
    base_url: str
    user: str
    password: str
    out: TextIO
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    steps: list[Step] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    contract: Contract | None = None

    # --- HTTP -----------------------------------------------------------------------------------

    def http(self, method: str, path: str, body: Any, *, query: str, correlation_id: str) -> Answer:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        headers = {
            "Authorization": f"Basic {token}",
            "X-Correlation-ID": correlation_id,
            "Accept": "application/json",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url.rstrip('/')}{API_PATH}{path}{query}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        started = self.clock()
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                status, raw_headers, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, raw_headers, payload = error.code, error.headers, error.read()
        ms = round((self.clock() - started) * 1000)
        return Answer(
            status=status,
            headers={k.lower(): v for k, v in raw_headers.items()},
            body=payload,
            ms=ms,
        )

    # --- Steps ----------------------------------------------------------------------------------

    def record(self, name: str, problems: list[str], detail: str, ms: int = 0) -> bool:
        step = Step(name=name, ok=not problems, detail="; ".join(problems) or detail, ms=ms)
        self.steps.append(step)
        timing = f" ({ms} ms)" if ms else ""
        self.out.write(f"{'PASS' if step.ok else 'FAIL'}  {name}{timing}: {step.detail}\n")
        self.out.flush()
        return step.ok

    def call(
        self,
        name: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: tuple[int, ...],
        query: str = "",
    ) -> Answer:
        """One call, checked: documented status, schema, correlation id; `expect` the statuses."""
        assert self.contract is not None
        problems = self.contract.request_errors(path, method, body) if body is not None else []
        sent_id = f"sapmc-caller-{self.run_id}-{len(self.steps) + 1}"
        try:
            answer = self.http(method, path, body, query=query, correlation_id=sent_id)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            self.record(name, [f"no answer: {exc}"], "")
            raise StopSequence(name) from None
        if answer.status not in expect:
            summary = answer.body[:200].decode("utf-8", "replace")
            problems.append(
                f"HTTP {answer.status}, expected {'/'.join(map(str, expect))}: {summary}"
            )
        problems += self.contract.answer_errors(path, method, answer)
        if answer.headers.get("x-correlation-id") != sent_id:
            problems.append(
                f"X-Correlation-ID {answer.headers.get('x-correlation-id')!r} not echoed"
            )
        ok = self.record(name, problems, f"HTTP {answer.status}", answer.ms)
        if not ok:
            raise StopSequence(name)
        return answer

    def load_contract(self, source: str) -> None:
        started = self.clock()
        location = source or f"{self.base_url.rstrip('/')}{API_PATH}/openapi.json"
        try:
            if location.startswith(("http://", "https://")):
                with urllib.request.urlopen(location, timeout=REQUEST_TIMEOUT) as response:
                    document = json.loads(response.read().decode("utf-8"))
            else:
                with open(location, encoding="utf-8") as file:
                    document = json.load(file)
        except (OSError, ValueError) as exc:
            self.record("OpenAPI document", [f"cannot read {location}: {exc}"], "")
            raise StopSequence("OpenAPI document") from None
        if not isinstance(document, dict):
            document = {}
        problems = []
        if not str(document.get("openapi", "")).startswith("3.0"):
            problems.append(f"not an OpenAPI 3.0 document ({document.get('openapi')!r})")
        self.contract = Contract(document)
        ms = round((self.clock() - started) * 1000)
        count = len(document.get("paths", {}))
        self.record("OpenAPI document", problems, f"{location}, {count} paths", ms)
        if problems:
            raise StopSequence("OpenAPI document")

    def run(self, args: argparse.Namespace) -> None:
        self.load_contract(args.openapi)
        assert self.contract is not None
        for path in self.contract.document["paths"]:
            self.call(f"HEAD {path}", "HEAD", path, expect=(200,))

        advertisers = self.call(
            "value help ADVERTISER", "POST", "/parameter-values",
            {"ParameterId": "ADVERTISER"}, expect=(200,),
        ).json()["Values"]  # fmt: skip
        self.pick("an advertiser", advertisers)
        advertiser = advertisers[0]["Id"]

        parties = self.call(
            f"value help EXT_CAMPAIGN_MANAGING_PARTY of {advertiser}", "POST", "/parameter-values",
            {"ParameterId": "EXT_CAMPAIGN_MANAGING_PARTY", "Filter": {"ADVERTISER": advertiser}},
            expect=(200,),
        ).json()["Values"]  # fmt: skip
        self.pick("a managing party", parties)
        party = parties[0]["Id"]

        campaigns = self.call(
            f"external campaigns of {party}", "POST", "/external-campaigns",
            {"ADVERTISER": advertiser, "EXT_CAMPAIGN_MANAGING_PARTY": party, "Search": ""},
            expect=(200,), query="?$top=10000&$skip=0",
        ).json()["ExternalCampaigns"]  # fmt: skip
        if not self.record(
            "campaigns to report on", [] if campaigns else ["none"], f"{len(campaigns)} found"
        ):
            raise StopSequence("campaigns to report on")

        self.success_loop(args, campaigns)

    def success_loop(self, args: argparse.Namespace, campaigns: list[dict[str, Any]]) -> None:
        request = {
            "ExternalCampaignIDs": [c["ExternalCampaignID"] for c in campaigns],
            "FromDate": args.from_date or min(c["StartDate"] for c in campaigns),
            "ToDate": args.to_date or max(c["EndDate"] for c in campaigns),
        }
        created = self.call(
            "campaign-success call 1 (no ReportId)", "POST", "/campaign-success", request,
            expect=(202,),
        ).json()  # fmt: skip
        report_id = created["ReportId"]

        deadline = self.clock() + args.timeout
        wait, polls = min(0.25, args.poll_cap), 0
        while True:
            polls += 1
            answer = self.call(
                f"campaign-success {report_id} poll {polls}", "POST", "/campaign-success",
                {"ReportId": report_id}, expect=(200, 202, 503),
            )  # fmt: skip
            if answer.status == 200:
                break
            if answer.status == 503:
                # The report's KPI sync failed: retryable, after exactly the wait the server
                # asks for (SAP MC's HTTP adapter honours Retry-After), not our own backoff.
                retry_after = retry_after_seconds(answer.headers.get("retry-after", ""))
                if retry_after is None:
                    self.record(
                        "report completed",
                        [f"HTTP 503 without a usable Retry-After after {polls} polls"], "",
                    )  # fmt: skip
                    raise StopSequence("no Retry-After")
                if self.clock() + retry_after > deadline:
                    message = answer.json().get("error", {}).get("message", "")
                    self.record(
                        "report completed",
                        [
                            f"HTTP 503 after {polls} polls, Retry-After {retry_after:g} s is past "
                            f"the {args.timeout:g} s timeout: {message[:200]}"
                        ],
                        "",
                    )
                    raise StopSequence("timeout")
                self.sleep(retry_after)
                continue
            if self.clock() + wait > deadline:
                self.record(
                    "report completed", [f"still PENDING after {args.timeout:g} s ({polls} polls)"],
                    "",
                )  # fmt: skip
                raise StopSequence("timeout")
            self.sleep(wait)
            wait = min(wait * 2, args.poll_cap)  # short, bounded backoff

        first = answer.json()
        results = list(first["Results"])
        for package in range(2, first["Packages"] + 1):
            part = self.call(
                f"campaign-success {report_id} package {package}/{first['Packages']}", "POST",
                "/campaign-success", {"ReportId": report_id, "Package": package}, expect=(200,),
            ).json()  # fmt: skip
            results += part["Results"]
        self.record(
            "report completed",
            [],
            f"{report_id} COMPLETED after {polls} poll(s): {len(results)} results in "
            f"{first['Packages']} package(s), days in {first['TimeZone']}",
        )
        again = self.call(
            f"campaign-success {report_id} asked again", "POST", "/campaign-success",
            {"ReportId": report_id}, expect=(200,),
        ).json()  # fmt: skip
        same = again == first
        self.record(
            "same ReportId, same answer", [] if same else ["the answer changed"], "identical"
        )

    def pick(self, what: str, values: list[dict[str, str]]) -> None:
        """SAP MC's user picks the first value; without one the sequence cannot go on."""
        detail = f"{values[0]['Id']} ({values[0]['Name']})" if values else ""
        if not self.record(f"pick {what}", [] if values else ["no values to pick"], detail):
            raise StopSequence(f"pick {what}")

    def summary(self) -> tuple[int, int]:
        passed = sum(1 for s in self.steps if s.ok)
        return passed, len(self.steps) - passed


def retry_after_seconds(value: str) -> float | None:
    """Retry-After as seconds: a whole number of them, or an HTTP date; None if neither."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the call sequence once; 0 when every check passed, 1 otherwise."""
    stream = out or sys.stdout
    caller = Caller(base_url=args.base_url, user=args.user, password=args.password, out=stream)
    stream.write(f"SAP MC caller against {args.base_url}{API_PATH}/ as {args.user}\n")
    stopped = ""
    try:
        caller.run(args)
    except StopSequence as stop:
        stopped = str(stop)
    passed, failed = caller.summary()
    verdict = "all checks passed" if not failed and not stopped else f"stopped at: {stopped}"
    stream.write(f"SAP MC caller: {passed} passed, {failed} failed; {verdict}\n")
    stream.flush()
    return 0 if not failed and not stopped else 1
