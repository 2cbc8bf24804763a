"""What a newcomer types from the README exists: every manage.py command and each of its flags,
every make target and variable, the benchmarks' and the simulators' flags, and the modules the
architecture paragraph says make up smcbridge/ (a false line costs a newcomer an error, or a
module nobody knows of)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_spans(text: str) -> list[str]:
    """Every inline code span and every command of a fenced block (continuation lines joined),
    with runs of white space made one space: a span wraps over lines in the README."""
    spans: list[str] = []
    fences = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    for block in fences:
        spans += [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    spans += re.findall(r"`([^`]+)`", prose)
    return [" ".join(span.split()) for span in spans]


SPANS = code_spans(README)
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def manage_commands_in_readme() -> dict[str, set[str]]:
    """Each manage.py command the README runs (manage.py X, deploy/manage X, make manage
    ARGS=X, or a span that starts with a command and gives it flags), with the flags given."""
    commands = get_commands()
    found: dict[str, set[str]] = {}
    runner = re.compile(r"""(?:manage\.py|deploy/manage|ARGS=["']?)\s*([a-z_]+)(.*)""")
    for span in SPANS:
        for match in runner.finditer(span):
            rest = re.split(r"[;&|#]", match[2], maxsplit=1)[0]  # up to the next command
            found.setdefault(match[1], set()).update(FLAG.findall(rest))
        first = span.split(" ", 1)[0]
        if first in commands and FLAG.search(span) and "manage" not in span:
            found.setdefault(first, set()).update(FLAG.findall(span))
    return found


def test_the_readme_runs_the_commands_a_deployment_needs():
    named = manage_commands_in_readme()
    # The test reads what it should: the commands of the demo, a deployment and a restore.
    for command in ("sync_khoros", "sync_sapmc", "sync_khoros_kpis", "openapi_inbound"):
        assert command in named, command
    assert named["first_syncs"] >= {"--queue"}
    assert named["success_push_after_restore"] >= {"--dump", "--purge-queue"}
    assert named["check"] >= {"--deploy"}


def test_every_manage_command_and_flag_in_the_readme_exists():
    commands = get_commands()
    unknown = sorted(set(manage_commands_in_readme()) - set(commands))
    assert unknown == []
    wrong = {}
    for name, flags in manage_commands_in_readme().items():
        command = load_command_class(commands[name], name)
        missing = flags - options_of(command.create_parser("manage.py", name))
        if missing:
            wrong[name] = sorted(missing)
    assert wrong == {}


def test_every_make_target_and_variable_in_the_readme_is_the_makefiles():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    variables = set(re.findall(r"\$\(([A-Z_]+)\)", makefile))
    variables |= set(re.findall(r"^([A-Z_]+) \?=", makefile, flags=re.M))
    used_targets: set[str] = set()
    used_variables: set[str] = set()
    for span in SPANS:
        for match in re.finditer(r"(?:^|\s)make((?: [^ ;&|#]+)*)", span):
            for word in match[1].split():
                if "=" in word:
                    used_variables.add(word.split("=", 1)[0])
                elif re.fullmatch(r"[a-z][a-z-]*", word):
                    used_targets.add(word)
    assert {"run", "test", "manage", "bench"} <= used_targets
    assert sorted(used_targets - targets) == []
    assert {"PORT", "ARGS", "PYTHON"} <= used_variables
    assert sorted(used_variables - variables) == []


def test_every_benchmark_command_and_flag_in_the_readme_exists():
    from bench.__main__ import build_parser

    parser = build_parser()
    choices = next(a.choices for a in parser._actions if a.dest == "command")
    section = README.split("## Performance", 1)[1].split("\n## ", 1)[0]
    flags = {flag for span in code_spans(section) for flag in FLAG.findall(span)}
    command = re.compile(r"(?:-m bench|^bench) ([a-z]+)")
    named = {m[1] for span in code_spans(section) for m in command.finditer(span)}
    assert {"--rounds", "--rows", "--seconds", "--instructions"} <= flags
    assert {"all", "plans", "pages"} <= named
    assert sorted(flags - options_of(parser)) == []
    assert sorted(named - set(choices)) == []


def test_the_sapmc_caller_flags_in_the_readme_exist():
    from simulators.__main__ import build_parser

    subparsers = next(a for a in build_parser()._actions if a.dest == "simulator")
    caller = subparsers.choices["sapmc-caller"]
    spans = [span for span in SPANS if "simulators sapmc-caller" in span]
    assert spans
    flags = {flag for span in spans for flag in FLAG.findall(span)}
    assert "--base-url" in flags
    assert sorted(flags - options_of(caller)) == []


def test_the_architecture_paragraph_names_every_module_of_smcbridge():
    section = README.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    # Configuration itself, which the paragraph names as such ("settings ..., urls").
    configuration = {"__init__.py", "settings.py", "urls.py", "wsgi.py", "asgi.py"}
    modules = {path.name for path in (ROOT / "smcbridge").glob("*.py")} - configuration
    assert sorted(name for name in modules if f"`{name}`" not in section) == []
