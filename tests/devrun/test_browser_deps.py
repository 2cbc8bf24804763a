"""`make test`'s first step: Chromium for the browser tests, or the one command to run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "browser-deps"


def _path_with(tmp_path: Path, *tools: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return str(bin_dir)


def test_without_chromium_or_apt_it_names_the_one_command(tmp_path):
    bash = shutil.which("bash")
    result = subprocess.run(
        [bash, str(SCRIPT)],
        env={**os.environ, "PATH": _path_with(tmp_path, "id")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "The browser tests need Chromium. Run: sudo apt-get install -y chromium "
        "fonts-dejavu-core (then make test again)"
    )


def test_with_chromium_present_it_does_nothing(tmp_path):
    bin_dir = Path(_path_with(tmp_path, "id"))
    fake = bin_dir / "chromium"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    result = subprocess.run(
        [shutil.which("bash"), str(SCRIPT)],
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_make_test_runs_it_before_pytest():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("bash .ci/browser-deps") < recipe.index("pytest")
