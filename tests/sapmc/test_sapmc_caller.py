"""The SAP MC caller (python -m simulators sapmc-caller) against the live app over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from khoros import kpis, services
from khoros.models import Initiative, Plan, PlanKpi
from sapmc.inbound.views import OPENAPI_PATH
from sapmc.models import InboundCall, InboundReport
from syncs.models import SyncRun
from tests.conftest import FakeClock

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
USER = "sap-comm-live"
PASSWORD = "live-pw-51d0-do-not-leak"


@pytest.fixture(autouse=True)
def _empty_task_queue():
    """Leave no queued KPI task behind: on Redis, the broker outlives the test database."""
    yield
    from django_q.brokers import get_broker

    get_broker().purge_queue()


@pytest.fixture
def mirrored(live_khoros, settings):
    """Plans and KPIs mirrored from the Khoros simulator; the KPI sync just succeeded."""
    settings.SAPMC_INBOUND_USER = USER
    settings.SAPMC_INBOUND_PASSWORD = PASSWORD
    settings.SAPMC_REPORT_FRESH_MINUTES = 60
    settings.KHOROS_EXPORT_POLL_BASE = 0.01
    assert services.sync_khoros().status == SyncRun.Status.SUCCEEDED
    run = kpis.sync_khoros_kpis(sleep=lambda seconds: None)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert PlanKpi.objects.exists()
    return live_khoros


def sapmc_caller(live_server, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    """The real command line, in its own process, with the password from the environment."""
    env = {**os.environ, "SAPMC_INBOUND_PASSWORD": password}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "simulators",
            "sapmc-caller",
            "--base-url",
            live_server.url,
            "--user",
            USER,
            "--poll-cap",
            "0.2",
            *args,
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_caller_runs_sap_mcs_sequence_and_every_answer_keeps_the_contract(
    live_server, mirrored
):
    result = sapmc_caller(live_server, "--timeout", "30")

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.splitlines()
    assert lines[0] == f"SAP MC caller against {live_server.url}/sapmc/extcamp/v1/ as {USER}"
    assert not [line for line in lines if line.startswith("FAIL")]
    for path in ("/parameter-values", "/external-campaigns", "/campaign-success", "/openapi.json"):
        assert f"PASS  HEAD {path} (" in out
    data = mirrored.data
    assert f"PASS  pick an advertiser: {data.company_id} (" in out
    report = InboundReport.objects.get()
    assert report.status == InboundReport.Status.COMPLETED
    assert f"PASS  report completed: {report.report_id} COMPLETED after 1 poll(s)" in out
    assert f"{len(report.results)} results in 1 package(s), days in {data.timezone}" in out
    assert "PASS  same ReportId, same answer: identical" in out
    # Nothing had to be synced again: the KPIs were fresh.
    assert SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS).count() == 1
    # The campaigns it asked for: the live Plans of the first Initiative by name.
    first = Initiative.objects.filter(removed_at__isnull=True).order_by("name", "khoros_id")[0]
    assert f"PASS  pick a managing party: {first.khoros_id} ({first.name})" in out
    plans = Plan.objects.filter(initiative=first, removed_at__isnull=True)
    assert sorted(report.external_campaign_ids) == sorted(p.khoros_id.hex for p in plans)
    steps = len([line for line in lines if line.startswith("PASS")])
    assert lines[-1] == f"SAP MC caller: {steps} passed, 0 failed; all checks passed"
    # Every HTTP call is in the call log, each with the caller's correlation id.
    calls = list(InboundCall.objects.order_by("id"))
    assert [c.status_code for c in calls if c.method == "HEAD"] == [200, 200, 200, 200]
    assert all(c.caller == USER and c.correlation_id.startswith("sapmc-caller-") for c in calls[1:])


def test_the_caller_reads_the_document_from_a_file_too(live_server, mirrored):
    result = sapmc_caller(live_server, "--openapi", str(OPENAPI_PATH), "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    # Reading the file may take a millisecond or none: the timing is printed only when it did.
    assert re.search(
        rf"PASS  OpenAPI document( \(\d+ ms\))?: {re.escape(str(OPENAPI_PATH))}, 4 paths",
        result.stdout,
    )


def test_an_answer_off_the_document_fails_the_check(live_server, mirrored, tmp_path):
    document = json.loads(OPENAPI_PATH.read_text())
    document["components"]["schemas"]["Name"]["maxLength"] = 2  # "Acme" is too long now
    stricter = tmp_path / "openapi.json"
    stricter.write_text(json.dumps(document))

    result = sapmc_caller(live_server, "--openapi", str(stricter))

    assert result.returncode == 1
    assert "FAIL  value help ADVERTISER" in result.stdout
    assert "Values/0/Name: 'Acme' is too long" in result.stdout


def test_the_caller_counts_a_max_length_in_utf_16_units_as_sap_mc_does():
    # 128 emoji are 128 characters to JSON Schema and 256 units to SAP MC, whose field holds 255.
    from simulators.sapmc_caller import JSON_TYPE, Answer, Contract

    contract = Contract(json.loads(OPENAPI_PATH.read_text()))

    def problems(name: str) -> list[str]:
        body = {"ParameterId": "ADVERTISER", "Values": [{"Id": "389", "Name": name}]}
        headers = {"content-type": JSON_TYPE, "x-correlation-id": "c1"}
        answer = Answer(200, headers, json.dumps(body).encode(), 1)
        return contract.answer_errors("/parameter-values", "POST", answer)

    assert problems("\U0001f389" * 127 + "a") == []  # 255 units
    party = "\U0001f389"
    assert problems(party * 128) == [
        f"Values/0/Name: {party * 20!r} is too long: 256 UTF-16 code units (128 characters), "
        "SAP MC holds at most 255"
    ]


def test_wrong_credentials_fail_at_the_first_probe(live_server, mirrored):
    result = sapmc_caller(live_server, password="wrong")

    assert result.returncode == 1
    assert "FAIL  HEAD /parameter-values" in result.stdout
    assert "HTTP 401, expected 200" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "SAP MC caller: 1 passed, 1 failed; stopped at: HEAD /parameter-values"
    )
    assert "wrong" not in "".join(InboundCall.objects.values_list("caller", flat=True))


def test_a_report_that_never_completes_gives_up_after_the_timeout(live_server, mirrored):
    SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS).delete()  # no fresh KPIs, no worker

    result = sapmc_caller(live_server, "--timeout", "1")

    assert result.returncode == 1
    assert "FAIL  report completed: still PENDING after 1 s" in result.stdout
    polls = InboundCall.objects.filter(endpoint="campaign-success", status_code=202).count()
    assert 3 <= polls <= 8  # call 1 and a few polls with a growing wait, not a busy loop
    assert result.stdout.splitlines()[-1].endswith("stopped at: timeout")


# --- 503 and Retry-After ----------------------------------------------------------------------


class ScriptedCaller:
    """The caller's success loop against scripted answers, with a fake clock and sleep."""

    def __init__(self, answers: list[tuple[int, dict[str, str], object]]) -> None:
        import io

        from simulators import sapmc_caller

        self.answers = list(answers)
        self.sent: list[object] = []
        self.clock = FakeClock()
        self.out = io.StringIO()
        self.caller = sapmc_caller.Caller(
            base_url="http://sapmc.invalid", user=USER, password=PASSWORD, out=self.out,
            sleep=self.clock.sleep, clock=self.clock.monotonic,
        )  # fmt: skip
        self.caller.contract = sapmc_caller.Contract(json.loads(OPENAPI_PATH.read_text()))
        self.caller.http = self.http  # type: ignore[method-assign]

    def http(self, method, path, body, *, query, correlation_id):
        from simulators.sapmc_caller import JSON_TYPE, Answer

        self.sent.append(body)
        status, headers, payload = self.answers.pop(0)
        return Answer(
            status=status,
            headers={"content-type": JSON_TYPE, "x-correlation-id": correlation_id, **headers},
            body=json.dumps(payload).encode(),
            ms=1,
        )

    def success_loop(self, timeout: float) -> str:
        import argparse

        from simulators.sapmc_caller import StopSequence

        args = argparse.Namespace(timeout=timeout, poll_cap=5.0, from_date="", to_date="")
        campaign = {
            "ExternalCampaignID": "a" * 32,
            "StartDate": "2026-03-01",
            "EndDate": "2026-03-31",
        }
        try:
            self.caller.success_loop(args, [campaign])
        except StopSequence as stop:
            return str(stop)
        return ""


REPORT = "R" + "k" * 20
FAILED_BODY = {
    "error": {"code": "KPI_SYNC_FAILED", "message": "The KPI sync (run #4) ended failed."}
}
COMPLETED = {
    "ReportId": REPORT, "Status": "COMPLETED", "TimeZone": "America/Chicago",
    "FromDate": "2026-03-01", "ToDate": "2026-03-31", "DataAsOf": "2026-03-31T06:00:00Z",
    "Package": 1, "Packages": 1, "Results": [],
}  # fmt: skip


def test_the_caller_waits_retry_after_on_a_503_and_asks_again():
    scripted = ScriptedCaller(
        [
            (202, {}, {"ReportId": REPORT, "Status": "PENDING"}),
            (503, {"retry-after": "7"}, FAILED_BODY),
            (503, {"retry-after": "7"}, FAILED_BODY),
            (200, {}, COMPLETED),
            (200, {}, COMPLETED),
        ]
    )
    assert scripted.success_loop(timeout=30) == ""
    # Exactly the server's wait each time, not the caller's own short backoff.
    assert scripted.clock.delays == [7.0, 7.0]
    assert scripted.sent[1:4] == [{"ReportId": REPORT}] * 3
    out = scripted.out.getvalue()
    assert "FAIL" not in out
    assert f"PASS  campaign-success {REPORT} poll 2 (1 ms): HTTP 503" in out
    assert f"PASS  report completed: {REPORT} COMPLETED after 3 poll(s)" in out


def test_the_caller_gives_up_when_retry_after_is_past_its_timeout():
    scripted = ScriptedCaller(
        [
            (202, {}, {"ReportId": REPORT, "Status": "PENDING"}),
            (503, {"retry-after": "900"}, FAILED_BODY),
        ]
    )
    assert scripted.success_loop(timeout=30) == "timeout"
    assert scripted.clock.delays == []  # it does not sleep 900 s only to give up afterwards
    assert (
        "FAIL  report completed: HTTP 503 after 1 polls, Retry-After 900 s is past the 30 s "
        "timeout: The KPI sync (run #4) ended failed." in scripted.out.getvalue()
    )


def test_a_503_without_retry_after_breaks_the_contract():
    scripted = ScriptedCaller(
        [(202, {}, {"ReportId": REPORT, "Status": "PENDING"}), (503, {}, FAILED_BODY)]
    )
    assert scripted.success_loop(timeout=30).endswith("poll 1")
    assert "header Retry-After missing" in scripted.out.getvalue()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value, seconds):
    from simulators.sapmc_caller import retry_after_seconds

    assert retry_after_seconds(value) == seconds


def test_the_caller_retries_a_failed_report_live_until_a_kpi_sync_succeeds(
    live_server, mirrored, settings
):
    """Against the real app: its report waits on a KPI run that fails, so polls answer 503."""
    import time

    from django.utils import timezone

    settings.SAPMC_REPORT_RETRY_SECONDS = 1
    SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS).delete()  # no fresh KPIs
    dead = SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_KPIS, trigger="schedule", status="running",
        started_at=timezone.now(), lease_expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    # Alive when the report is made (so the report waits on it), failed right after (one whose
    # worker died would be taken over by the poll instead: syncs.runs.sync_request).
    env = {**os.environ, "SAPMC_INBOUND_PASSWORD": PASSWORD}
    command = [
        sys.executable, "-m", "simulators", "sapmc-caller", "--base-url", live_server.url,
        "--user", USER, "--poll-cap", "0.2", "--timeout", "60",
    ]  # fmt: skip
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        for _ in range(600):
            if InboundReport.objects.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        SyncRun.objects.filter(pk=dead.pk).update(
            status="failed", finished_at=timezone.now(), lease_expires_at=None
        )
        # Once the caller has had its first 503, a KPI sync succeeds (the schedule's, say).
        for _ in range(600):
            if InboundCall.objects.filter(status_code=503).exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        SyncRun.objects.create(
            kind=SyncRun.Kind.KHOROS_KPIS, trigger="schedule", status="succeeded",
            finished_at=timezone.now(),
        )  # fmt: skip
        out, err = process.communicate(timeout=90)

    assert process.returncode == 0, out + err
    assert "FAIL" not in out
    report = InboundReport.objects.get()
    assert (report.status, report.kpi_run_id) == ("COMPLETED", dead.pk)
    failed = InboundCall.objects.filter(status_code=503, error_code="KPI_SYNC_FAILED").count()
    assert failed >= 1
    assert f"poll {failed + 1} (" in out and "COMPLETED after" in out
    # Only the dead run and the one that succeeded: the caller's polls started none.
    assert SyncRun.objects.filter(kind=SyncRun.Kind.KHOROS_KPIS).count() == 2
