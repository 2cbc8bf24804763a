"""Every setting the code reads is declared in settings.py (from the environment) and documented."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import global_settings

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("campaigns", "khoros", "sapmc", "syncs", "smcbridge")
READ = re.compile(
    r"""settings\.([A-Z][A-Z0-9_]+)|getattr\(\s*settings,\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# client_settings(prefix) reads these for every external system's client.
TRANSPORT = ("TIMEOUT_CONNECT", "TIMEOUT_READ", "MAX_RETRIES", "BACKOFF_BASE", "BACKOFF_CAP")
TRANSPORT += ("RETRY_BUDGET_SECONDS",)


def settings_read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py" or "migrations" in path.parts:
                continue
            for match in READ.finditer(path.read_text()):
                names.add(match[1] or match[2])
    names.update(f"{prefix}_{name}" for prefix in ("KHOROS", "SAPMC") for name in TRANSPORT)
    return names


def declared_from_environment() -> set[str]:
    text = (ROOT / "smcbridge" / "settings.py").read_text()
    return set(re.findall(r"""env_[a-z]+\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))


def test_every_setting_the_code_reads_is_declared_from_the_environment():
    ours = {name for name in settings_read_by_code() if not hasattr(global_settings, name)}
    ours -= {"Q_CLUSTER"}  # django-q2's own structure, built from Q_WORKERS and REDIS_URL
    # django-axes' own settings, built from LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES.
    ours -= {name for name in ours if name.startswith("AXES_")}
    assert sorted(ours - declared_from_environment()) == []


def test_every_environment_setting_has_a_row_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    missing = [name for name in declared_from_environment() if f"`{name}`" not in table]
    assert sorted(missing) == []
