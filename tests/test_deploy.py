"""The documented production setup: `check --deploy` is clean, gunicorn's access log keeps no
credentials."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_with_the_documented_production_settings_reports_nothing(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (1 silenced)." in output


def test_check_deploy_without_them_does_warn(tmp_path):
    """The test above proves something: the same check flags a bare DEBUG=0 start."""
    env = production_env(tmp_path, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W004" in output and "security.W008" in output
