"""`make run`'s process runner: the Procfile's processes, one Ctrl-C stops them all cleanly.

Stdlib only, run as `python -m smcbridge.devrun web worker khoros sapmc`. It replaces honcho,
whose fixed 5 s grace SIGKILLed a worker still finishing a sync. Before starting it checks that
every port is free (one line naming the port and the variable to change), prints the banner only
once the web server answers, and on Ctrl-C sends SIGTERM to each process group and waits for
each to exit (the django-q2 cluster finishes its task first) before saying it has stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

# Which variable sets which process's port (the Makefile's names).
PORT_VARIABLES = {
    "web": ("PORT", "WEB_PORT", "web server"),
    "khoros": ("KHOROS_SIM_PORT", "KHOROS_SIM_PORT", "Khoros simulator"),
    "sapmc": ("SAPMC_SIM_PORT", "SAPMC_SIM_PORT", "SAP MC simulator"),
}

# How long a process may take to stop after SIGTERM before it is killed (the worker finishes
# the task in hand first; a Plan sync of the demo takes a few seconds).
DEFAULT_STOP_SECONDS = 60.0


@dataclass(frozen=True)
class PortInUse:
    port: int
    variable: str
    what: str

    suggestion: int = 0

    def message(self) -> str:
        return (
            f"Port {self.port} ({self.what}) is already in use: "
            f"choose another with `make run {self.variable}={self.suggestion or self.port + 1}`."
        )


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on (or holds) host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind (SO_REUSEADDR): a listener makes it fail, a closed connection
        # of the last run still in TIME_WAIT does not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def busy_ports(processes: list[str], env: dict[str, str]) -> list[PortInUse]:
    """The ports of `processes` that are taken, with the variable that changes each."""
    busy = []
    configured = {int(env[v]) for _, v, _ in PORT_VARIABLES.values() if env.get(v, "").isdigit()}
    for name in processes:
        if name not in PORT_VARIABLES:
            continue
        make_variable, env_variable, what = PORT_VARIABLES[name]
        raw = env.get(env_variable, "")
        if not raw.isdigit():
            continue
        if port_in_use(int(raw)):
            # Suggest a port that is free and not another process's: the next one up.
            suggestion = int(raw) + 1
            while suggestion < 65535 and (suggestion in configured or port_in_use(suggestion)):
                suggestion += 1
            configured.add(suggestion)
            busy.append(PortInUse(int(raw), make_variable, what, suggestion))
    return busy


def group_alive(pgid: int) -> bool:
    """Whether any process of the group `pgid` still runs (zombies of ours count as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also succeeds for zombies: ask /proc whether a live member remains (Linux).
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def read_procfile(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        entries[name.strip()] = command.strip()
    return entries


def answers(url: str) -> bool:
    """Whether the web server answers HTTP at `url` (any status counts: it is up)."""
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


class Runner:
    def __init__(
        self, commands: dict[str, str], *, stop_seconds: float, out: TextIO | None = None
    ) -> None:
        self.commands = commands
        self.stop_seconds = stop_seconds
        self.out = out or sys.stdout
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.width = max(len(n) for n in commands)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def say(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{name:<{self.width}} | {text}\n")
            self.out.flush()

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.say(name, raw.decode("utf-8", "replace").rstrip("\n"))

    def start(self) -> None:
        for name, command in self.commands.items():
            proc = subprocess.Popen(  # noqa: S603 - the project's own Procfile
                ["/bin/sh", "-c", command],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own process group: the terminal's Ctrl-C reaches the runner only, which
                # then stops each process in order instead of all at once.
                start_new_session=True,
            )
            self.procs[name] = proc
            self.say("system", f"{name} started (pid {proc.pid})")
            threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()

    def announce_when_up(self, url: str, banner: Path | None) -> None:
        def wait() -> None:
            while not self.stopping.is_set():
                if answers(url):
                    text = banner.read_text() if banner and banner.exists() else f"Up at {url}\n"
                    with self.lock:
                        self.out.write(text)
                        self.out.flush()
                    return
                if self.procs.get("web") is not None and self.procs["web"].poll() is not None:
                    return
                time.sleep(0.3)

        threading.Thread(target=wait, daemon=True).start()

    def wait_for_exit_or_signal(self) -> str | None:
        """Block until a process exits (its name) or a stop signal arrives (None)."""
        while not self.stopping.is_set():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    return name
            time.sleep(0.1)
        return None

    def stop(self) -> int:
        """SIGTERM every live process group, wait for each; kill only after stop_seconds."""
        self.stopping.set()
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.say("system", f"stopping {name} (SIGTERM)")
                # To the process only, not its group: the django-q2 cluster stops its own
                # workers and hangs if they die under it first.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        killed = []
        for name, proc in self.procs.items():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                proc.wait(timeout=remaining)
                # Whatever it left behind (a shell's child) gets SIGTERM next; a process is
                # stopped when its whole group is gone.
                if group_alive(proc.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
                while group_alive(proc.pid):
                    if time.monotonic() > deadline:
                        raise subprocess.TimeoutExpired(proc.args, self.stop_seconds)
                    time.sleep(0.1)
            except subprocess.TimeoutExpired:
                self.say("system", f"{name} did not stop within {self.stop_seconds:.0f} s: killed")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed.append(name)
        for name in self.procs:
            if name not in killed:
                self.say("system", f"{name} stopped")
        return 1 if killed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("processes", nargs="+")
    parser.add_argument("-f", "--procfile", default="Procfile")
    parser.add_argument(
        "--check-ports", action="store_true", help="Only check the ports, start nothing."
    )
    parser.add_argument("--url", default="", help="Print the banner once this URL answers.")
    parser.add_argument("--banner", default="", help="File holding the banner to print.")
    parser.add_argument(
        "--stop-seconds",
        type=float,
        default=float(os.environ.get("DEVRUN_STOP_SECONDS", DEFAULT_STOP_SECONDS)),
    )
    args = parser.parse_args(argv)

    entries = read_procfile(Path(args.procfile))
    unknown = [p for p in args.processes if p not in entries]
    if unknown:
        print(f"{args.procfile} declares no process {', '.join(unknown)}", file=sys.stderr)
        return 2
    busy = busy_ports(args.processes, dict(os.environ))
    if busy:
        for port in busy:
            print(port.message(), file=sys.stderr)
        return 1
    if args.check_ports:
        return 0

    banner = Path(args.banner) if args.banner else None
    if banner is not None and banner.exists():
        banner.unlink()  # a banner of an earlier start must not be shown before this one is up

    runner = Runner({p: entries[p] for p in args.processes}, stop_seconds=args.stop_seconds)

    def on_signal(signum: int, frame: object) -> None:
        runner.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner.start()
    if args.url:
        runner.announce_when_up(args.url, banner)
    ended = runner.wait_for_exit_or_signal()
    if ended is not None:
        code = runner.procs[ended].returncode
        runner.say("system", f"{ended} exited with code {code}: stopping the others")
    status = runner.stop()
    if ended is not None and runner.procs[ended].returncode:
        return runner.procs[ended].returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
