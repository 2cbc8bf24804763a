"""`make run`'s process runner, driven as a subprocess: ports, banner, a clean Ctrl-C."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smcbridge import devrun

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def held_port():
    """A port held open whose next one is free, below Linux's ephemeral range (32768 up): the
    runner suggests the next free port, and one picked by the kernel could have its neighbour
    taken by any connection of a test running beside this one (seen once in CI)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            if devrun.port_in_use(port + 1):
                raise OSError("the next port is taken")
        except OSError:
            sock.close()
            continue
        sock.listen(1)
        yield port
        sock.close()
        return
    pytest.fail("no free pair of ports between 20000 and 32000")


def test_a_port_in_use_is_named_with_the_variable_to_change(held_port):
    free = _free_port()
    env = {"WEB_PORT": str(held_port), "KHOROS_SIM_PORT": str(free), "SAPMC_SIM_PORT": "x"}
    busy = devrun.busy_ports(["web", "worker", "khoros", "sapmc"], env)
    assert [b.message() for b in busy] == [
        f"Port {held_port} (web server) is already in use: "
        f"choose another with `make run PORT={held_port + 1}`."
    ]
    env = {"WEB_PORT": str(free), "KHOROS_SIM_PORT": str(free), "SAPMC_SIM_PORT": str(held_port)}
    (only,) = devrun.busy_ports(["web", "khoros", "sapmc"], env)
    assert only.variable == "SAPMC_SIM_PORT" and only.what == "SAP MC simulator"


def test_the_runner_refuses_a_busy_port_in_one_line(held_port, tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("khoros: sleep 30\n")
    result = subprocess.run(
        [sys.executable, "-m", "smcbridge.devrun", "-f", str(procfile), "khoros"],
        cwd=ROOT,
        env={**os.environ, "KHOROS_SIM_PORT": str(held_port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Port {held_port} (Khoros simulator) is already in use: "
        f"choose another with `make run KHOROS_SIM_PORT={held_port + 1}`."
    ]
    assert "started" not in result.stdout


# A worker that needs a moment to finish its task after SIGTERM (as django-q2's cluster does),
# and a web server that answers only once its setup is done.
WORKER = textwrap.dedent(
    """
    import signal, sys, time
    def stop(signum, frame):
        time.sleep(1.5)
        print("worker finished its task and exited", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("worker ready", flush=True)
    while True:
        time.sleep(0.1)
    """
)
WEB = textwrap.dedent(
    """
    import http.server, sys
    handler = http.server.BaseHTTPRequestHandler
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
    print("web listening", flush=True)
    server.serve_forever()
    """
)


def test_banner_after_the_web_answers_and_ctrl_c_stops_everything_cleanly(tmp_path):
    port = _free_port()
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "web.py").write_text(WEB)
    banner = tmp_path / "banner.txt"
    banner.write_text("STALE BANNER\n")
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"web: echo 'BANNER: logins here' > {banner} && exec {sys.executable} -u "
        f"{tmp_path / 'web.py'} $WEB_PORT\n"
        f"worker: exec {sys.executable} -u {tmp_path / 'worker.py'}\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smcbridge.devrun",
            "-f",
            str(procfile),
            "--url",
            f"http://127.0.0.1:{port}/",
            "--banner",
            str(banner),
            "--stop-seconds",
            "30",
            "web",
            "worker",
        ],  # fmt: skip
        cwd=ROOT,
        env={**os.environ, "WEB_PORT": str(port), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("BANNER"):
            break
    assert "STALE BANNER" not in lines
    assert lines.index("BANNER: logins here") > lines.index("web    | web listening")

    proc.send_signal(signal.SIGINT)  # what the terminal's Ctrl-C sends
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "worker | worker finished its task and exited" in rest
    assert "killed" not in rest
    assert "system | worker stopped" in rest and "system | web stopped" in rest
