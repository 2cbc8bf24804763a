"""The SAP MC caller (python -m simulators sapmc-caller) against the live app over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from campaigns.api import OPENAPI_PATH
from campaigns.models import InboundCall, InboundReport
from khoros import kpis, services
from khoros.models import Initiative, Plan, PlanKpi
from syncs.models import SyncRun

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
