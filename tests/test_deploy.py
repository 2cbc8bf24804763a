"""The documented production setup: `check --deploy` is clean, gunicorn's access log keeps no
credentials."""

from __future__ import annotations

import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]

# Processes that start Django (and gunicorn) take seconds each: the suite hands them to one worker
# early (--dist loadgroup schedules groups first) instead of last, where they held up the run.
pytestmark = pytest.mark.xdist_group("production-processes")
PRODUCTION_ENV = ROOT / "deploy" / "production.env.example"


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The documented production environment, with real secrets and local services."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "SMCBRIDGE_VAR_DIR": str(tmp_path / "var"),
    }
    for line in PRODUCTION_ENV.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    env.update(ACCOUNT_FIELD_IDS)  # the lines the example leaves to be filled in
    env.update(overrides)
    return env


# A Khoros account's analytics field ids, as a deployment fills them in.
ACCOUNT_FIELD_IDS = {
    "KHOROS_KPI_FIELDS": (
        "impressions=7001,engagements=7002,clicks=7003,reach=7004,video_views=7005"
    ),
    "KHOROS_EXPORT_FIELD_POST_ID": "7011",
    "KHOROS_EXPORT_FIELD_PLAN": "7012",
    "KHOROS_EXPORT_FIELD_PUBLISHED": "7013",
}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def copy_of(db: Path, to: Path) -> Path:
    """A copy of the SQLite file `db` at `to`, made by SQLite itself (WAL mode)."""
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(to)) as target:
        source.backup(target)
    return to


def test_check_deploy_with_the_documented_production_settings_reports_nothing(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (1 silenced)." in output


def test_check_deploy_names_each_demo_value_a_deployment_left(tmp_path):
    # The example as shipped leaves the field ids to be filled in: the check says which.
    shipped = production_env(tmp_path, **dict.fromkeys(ACCOUNT_FIELD_IDS, ""))
    for name in ACCOUNT_FIELD_IDS:
        del shipped[name]
    output = manage(shipped, "check", "--deploy").stderr
    assert (
        "(smcbridge.W002) KHOROS_KPI_FIELDS, KHOROS_EXPORT_FIELD_POST_ID, "
        "KHOROS_EXPORT_FIELD_PLAN, KHOROS_EXPORT_FIELD_PUBLISHED are the demo's"
    ) in output
    # A bare DEBUG=0 start talks to the simulators with the demo's credentials: every one named.
    bare = {key: shipped[key] for key in ("PATH", "HOME", "SMCBRIDGE_VAR_DIR", "SECRET_KEY")}
    output = manage({**bare, "DEBUG": "0"}, "check", "--deploy").stderr
    assert "KHOROS_BASE_URL, KHOROS_TOKEN, KHOROS_COMPANY_ID, KHOROS_KPI_FIELDS," in output
    assert "SAPMC_BASE_URL, SAPMC_USER, SAPMC_PASSWORD are the demo's" in output


def test_check_deploy_names_a_missing_inbound_password(tmp_path):
    # Without it every SAP MC call is refused with 401, and nothing said so before SAP MC called.
    env = production_env(tmp_path)
    del env["SAPMC_INBOUND_PASSWORD"]
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "(smcbridge.W003) SAPMC_INBOUND_PASSWORD is not set" in output


def test_check_deploy_without_them_does_warn(tmp_path):
    """The test above proves something: the same check flags a bare DEBUG=0 start."""
    env = production_env(
        tmp_path, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0", PROXY_COUNT="0"
    )
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W004" in output and "security.W008" in output
    # Behind the proxy with no proxy counted, every client is the proxy's address.
    assert "smcbridge.W001" in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("gunicorn did not start listening")


def test_gunicorn_access_log_of_the_documented_setup_keeps_no_credentials(
    tmp_path, migrated_production_db
):
    env = production_env(
        tmp_path, SAPMC_INBOUND_PASSWORD="inbound-pw-s3cret", STATIC_ROOT=str(tmp_path / "static")
    )
    copy_of(migrated_production_db, tmp_path / "prod.sqlite3")  # the migrate step, done once
    done = manage(env, "collectstatic", "--noinput")
    assert done.returncode == 0, done.stderr
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    # The documented command (README "Deployment"), on a free loopback port, one worker.
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "--config", "deploy/gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "smcbridge.wsgi",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
        try:
            _wait_for_port(port, process)
            base = f"http://127.0.0.1:{port}"
            https = {"X-Forwarded-Proto": "https", "Host": "bridge.example.com"}
            right = ("sapmc-inbound", "inbound-pw-s3cret")
            wrong = ("sapmc-inbound", "guessed-pw-s3cret")
            answers = [
                requests.post(
                    f"{base}/sapmc/extcamp/v1/parameter-values?sap-client=100&token=query-s3cret",
                    json={"ParameterId": "ADVERTISER"}, auth=right, headers=https, timeout=30,
                ),
                requests.post(
                    f"{base}/sapmc/extcamp/v1/parameter-values?password=query-s3cret",
                    json={"ParameterId": "ADVERTISER"}, auth=wrong, headers=https, timeout=30,
                ),
                requests.get(
                    f"{base}/login/?next=/audit/%3Fsecret%3Dquery-s3cret",
                    headers={**https, "Referer": "https://elsewhere/?token=referer-s3cret"},
                    timeout=30,
                ),
            ]  # fmt: skip
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert [a.status_code for a in answers] == [200, 401, 200]
    text = log.read_text()
    access = [line for line in text.splitlines() if '"POST /sapmc' in line or '"GET /login' in line]
    assert len(access) == 3, text
    assert '"POST /sapmc/extcamp/v1/parameter-values HTTP/1.1" 200' in access[0]
    assert '"POST /sapmc/extcamp/v1/parameter-values HTTP/1.1" 401' in access[1]
    assert "correlation_id=" + answers[0].headers["X-Correlation-ID"] in access[0]
    for secret in ("s3cret", "Basic ", "c2FwbWMtaW5ib3VuZ"):
        assert secret not in text, f"{secret!r} in the log:\n{text}"
    # The access lines do not even name the Basic-auth user (gunicorn's default format does).
    assert not any("sapmc-inbound" in line for line in access), access


def _unit(name: str) -> dict[str, str]:
    """A systemd unit of deploy/ as its settings (the last of each name)."""
    settings = {}
    for line in (ROOT / "deploy" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def test_the_systemd_units_run_the_documented_processes_with_the_environment_file():
    procfile = dict(
        line.split(": ", 1)
        for line in (ROOT / "deploy" / "Procfile.production").read_text().splitlines()
        if line and not line.startswith("#")
    )
    manage_script = (ROOT / "deploy" / "manage").read_text()
    for process in ("web", "worker"):
        unit = _unit(f"smcbridge-{process}.service")
        # Read by systemd itself: no shell expands a "$" or cuts at a "#" of a secret.
        assert unit["EnvironmentFile"] == "/etc/smcbridge/production.env"
        assert unit["EnvironmentFile"] in manage_script
        assert unit["WorkingDirectory"] == "/srv/smcbridge"
        assert unit["ExecStart"] == f"{unit['WorkingDirectory']}/{procfile[process]}"
        assert unit["User"] == "smcbridge" and unit["Restart"] == "on-failure"


def test_every_command_the_deployment_section_runs_exists():
    from django.core.management import get_commands

    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Deployment", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"(?:manage\.py|deploy/manage) ([a-z_]+)", section))
    # The first syncs, the first admin and the upgrade's steps are among them.
    assert {"first_syncs", "createsuperuser", "migrate", "setup_schedules"} <= named
    assert sorted(named - set(get_commands())) == []
    # And the install, the backup and the safe loading of the secrets.
    for step in ("pip install -r requirements.txt", "pg_dump", "EnvironmentFile="):
        assert step in section, step
