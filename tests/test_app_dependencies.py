"""Dependencies between the apps run one way (docs/architecture.md), read from their imports.

campaigns -> sapmc, khoros, syncs; sapmc -> khoros, syncs; khoros -> syncs; syncs -> none of
ours. smcbridge/ (configuration and the HTTP client base) may be imported by all and imports
none; the simulators are stand-alone. Every import counts, those inside functions and under
TYPE_CHECKING too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("campaigns", "sapmc", "khoros", "syncs", "smcbridge", "simulators")

# What each package may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "campaigns": frozenset({"sapmc", "khoros", "syncs", "smcbridge"}),
    "sapmc": frozenset({"khoros", "syncs", "smcbridge"}),
    "khoros": frozenset({"syncs", "smcbridge"}),
    "syncs": frozenset({"smcbridge"}),
    "smcbridge": frozenset(),
    "simulators": frozenset(),
}


def imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Absolute module names a module imports, with their line numbers."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def package_imports(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """package -> other package of ours -> where ("path:line") it is imported."""
    graph: dict[str, dict[str, list[str]]] = {name: {} for name in packages}
    for name in packages:
        for path in sorted((root / name).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for module, line in imported_modules(tree):
                target = module.split(".")[0]
                if target in packages and target != name:
                    where = f"{path.relative_to(root)}:{line}"
                    graph[name].setdefault(target, []).append(where)
    return graph


def upward_imports(graph: dict[str, dict[str, list[str]]]) -> list[str]:
    """Every import that runs against ALLOWED, as "from -> to at path:line"."""
    return [
        f"{name} -> {target} at {where}"
        for name, targets in graph.items()
        for target, places in sorted(targets.items())
        if target not in ALLOWED.get(name, frozenset())
        for where in places
    ]


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The import cycles between packages (each as the path that closes it)."""
    found: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the stack, "done" after

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph.get(name, {})):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, list[str]]]:
    """The imports of this repository's packages, parsed once for the tests that read them."""
    return package_imports(ROOT, PACKAGES)


def test_no_app_imports_an_app_above_it(graph):
    assert upward_imports(graph) == []
    # The graph is the one read, not an empty one: the expected arrows are there.
    assert set(graph["campaigns"]) == {"sapmc", "khoros", "syncs", "smcbridge"}
    assert set(graph["sapmc"]) == {"khoros", "syncs", "smcbridge"}
    assert set(graph["khoros"]) == {"syncs", "smcbridge"}
    assert set(graph["syncs"]) == {"smcbridge"}
    assert graph["smcbridge"] == {} and graph["simulators"] == {}


def test_there_is_no_cycle_between_apps(graph):
    assert cycles(graph) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"khoros/kpis.py": "def f():\n    from sapmc.models import ExternalCampaign\n"},
            ["khoros -> sapmc at khoros/kpis.py:2"],
        ),
        (
            {"sapmc/sync.py": "import campaigns.services\n"},
            ["sapmc -> campaigns at sapmc/sync.py:1"],
        ),
        (
            {
                "syncs/views.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from khoros import client\n"
            },
            ["syncs -> khoros at syncs/views.py:3"],
        ),
        (
            {"smcbridge/urls.py": "from campaigns import views\n"},
            ["smcbridge -> campaigns at smcbridge/urls.py:1"],
        ),
    ],
)
def test_an_import_running_back_up_is_reported_where_it_is(tmp_path, files, expected):
    _write(tmp_path, {f"{name}/__init__.py": "" for name in PACKAGES})
    _write(tmp_path, files)
    assert upward_imports(package_imports(tmp_path, PACKAGES)) == expected


def test_a_cycle_between_apps_is_reported(tmp_path):
    _write(tmp_path, {f"{name}/__init__.py": "" for name in PACKAGES})
    _write(
        tmp_path,
        {
            "campaigns/a.py": "from sapmc import b\n",
            "sapmc/b.py": "from khoros import c\n",
            "khoros/c.py": "import campaigns.a\n",
        },
    )
    assert cycles(package_imports(tmp_path, PACKAGES)) == [
        ["campaigns", "sapmc", "khoros", "campaigns"]
    ]
