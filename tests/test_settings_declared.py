"""Every setting the code reads is declared in settings.py (from the environment) and documented
in the README with its true default."""

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
    return set(re.findall(r"""env_[a-z_]+\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))


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


# Rows whose default the README gives in words, because settings.py computes it: the checkout's
# own folders, the SQLite file in it, and Django's console mail backend.
DEFAULTS_IN_WORDS = {
    "SMCBRIDGE_VAR_DIR", "STATIC_ROOT", "DATABASE_URL",
    "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS", "DEFAULT_FROM_EMAIL",
}  # fmt: skip


def defaults_in_settings(monkeypatch) -> dict[str, object]:
    """Each environment variable's default, as settings.py passes it to its env_* reader."""
    import inspect
    import runpy

    from smcbridge import env

    seen: dict[str, object] = {}
    readers = ("env_str", "env_code", "env_timezone", "env_bool", "env_int", "env_float")
    for reader in (*readers, "env_url", "env_loglevel"):
        original = getattr(env, reader)

        def record(*args: object, _original=original, **kwargs: object) -> object:
            bound = inspect.signature(_original).bind(*args, **kwargs)
            bound.apply_defaults()
            seen[str(bound.arguments["name"])] = bound.arguments["default"]
            return _original(*args, **kwargs)

        monkeypatch.setattr(env, reader, record)
    for reader in ("env_list", "env_mapping", "env_networks", "env_host_names"):
        original = getattr(env, reader)

        def record_many(name: str, default: object, *args: object, _original=original, **kw):
            seen[name] = default
            return _original(name, default, *args, **kw)

        monkeypatch.setattr(env, reader, record_many)
    # Readers without a default: unset is empty (Redis off, the sync admins, no extra host).
    for reader in ("env_redis_url", "env_emails"):
        original = getattr(env, reader)

        def record_empty(name: str, *args: object, _original=original, **kw: object) -> object:
            seen[name] = ""
            return _original(name, *args, **kw)

        monkeypatch.setattr(env, reader, record_empty)
    runpy.run_path(str(ROOT / "smcbridge" / "settings.py"))
    return seen


def as_readme_writes_it(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def readme_defaults() -> dict[str, str]:
    """The README table's default of each variable: `5` / `15` pairs with `A` / `B`."""
    readme = (ROOT / "README.md").read_text()
    found: dict[str, str] = {}
    for line in readme.splitlines():
        if not line.startswith("| `"):
            continue
        names_cell, default_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", names_cell)
        # What stands in parentheses is a remark ("(`make run`: `true`)"), not the default.
        while re.search(r"\([^()]*\)", default_cell):
            default_cell = re.sub(r"\s*\([^()]*\)", "", default_cell)
        values = re.findall(r"`([^`]*)`|\b(off|on)\b", default_cell)
        values = [code or word for code, word in values]
        if not values and not default_cell:
            values = [""] * len(names)  # "(empty ...)", "(none ...)"
        if len(values) == len(names):
            found.update(zip(names, values, strict=True))
        else:
            found.update((name, default_cell) for name in names)
    return found


def test_every_default_in_the_readme_is_the_one_settings_use(monkeypatch):
    in_settings = defaults_in_settings(monkeypatch)
    in_readme = readme_defaults()
    # Every reader is recorded: a setting read by a new one is checked too, not passed over.
    assert sorted(declared_from_environment() - set(in_settings)) == []
    wrong = {}
    for name, default in in_settings.items():
        if name in DEFAULTS_IN_WORDS:
            continue
        documented = in_readme.get(name)
        if documented in in_settings:  # a default that is another setting's ("`KHOROS_...`")
            documented = as_readme_writes_it(in_settings[documented])
        if documented in ("false", "true"):
            documented = {"false": "off", "true": "on"}[documented]
        if documented != as_readme_writes_it(default):
            wrong[name] = (documented, as_readme_writes_it(default))
    assert wrong == {}


def test_the_readme_gives_make_runs_stop_time_as_devrun_has_it():
    # devrun reads DEVRUN_STOP_SECONDS itself (make run only), not through settings.py.
    from smcbridge.devrun import DEFAULT_STOP_SECONDS

    assert readme_defaults()["DEVRUN_STOP_SECONDS"] == as_readme_writes_it(DEFAULT_STOP_SECONDS)
