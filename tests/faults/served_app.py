"""Start gridgov as a user does (`gridgov serve`, or uvicorn itself) and always clean it up.

Each server runs in a process group of its own, so its worker processes are stopped with it,
and its output (the access log included) goes to a file the test can read.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

# Long enough for two workers to import the app on a busy, shared machine.
START_TIMEOUT_S = 120


def gridgov_command() -> list[str]:
    """The `gridgov` command of this virtualenv (its console script, else the module)."""
    script = Path(sys.executable).with_name("gridgov")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def uvicorn_command() -> list[str]:
    """`uvicorn api.app:app` with uvicorn's own logging set-up."""
    return [sys.executable, "-m", "uvicorn", "api.app:app"]


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running server: its base URL, the supervising process and its log file."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and every process of its group: politely, then by force."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # Workers left behind by a stuck supervisor.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


@contextmanager
def served(command: list[str], *, port: int, env: dict[str, str], log: Path) -> Iterator[Served]:
    """Run `command` (which must listen on 127.0.0.1:`port`) until /api/health answers."""
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.3)
        yield Served(base, process, log)
    finally:
        stop(process)


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) may hold spaces: the parent pid follows its ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found
