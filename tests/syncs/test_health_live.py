"""A live server whose SQLite file is corrupted under it answers /healthz with 503 and JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.test_deploy import ROOT, _free_port, _wait_for_port, copy_of, production_env

pytestmark = pytest.mark.xdist_group("production-processes")  # see tests/test_deploy.py


def test_a_live_process_on_a_corrupted_sqlite_file_is_not_ok(tmp_path, migrated_production_db):
    db = copy_of(migrated_production_db, tmp_path / "prod.sqlite3")
    env = production_env(tmp_path, DATABASE_URL=f"sqlite:///{db}", STATIC_ROOT=str(tmp_path / "s"))
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "--config", "deploy/gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "smcbridge.wsgi",
    ]  # fmt: skip
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
        try:
            _wait_for_port(port, process)
            url = f"http://127.0.0.1:{port}/healthz"
            https = {"X-Forwarded-Proto": "https", "Host": "bridge.example.com"}
            before = requests.get(url, headers=https, timeout=30)
            # The file goes bad under the running process (a disk fault, a bad copy).
            db.write_bytes(b"\x00not a database" * 4096)
            after = requests.get(url, headers=https, timeout=30)
            again = requests.get(url, headers=https, timeout=30)
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert before.json()["database"] == "ok", (before.status_code, log.read_text())
    for answer in (after, again):
        assert answer.status_code == 503, log.read_text()
        body = answer.json()
        assert body["status"] == "failing" and body["database"] == "down"
        assert body["problems"][0] == "The database does not answer (DatabaseError)."
