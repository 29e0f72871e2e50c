"""The Chromium the browser tests drive, the flags that keep it quiet on a closed network, and
the server they drive it against (uvicorn as a user runs it)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

UVICORN = (sys.executable, "-m", "uvicorn", "api.app:app", "--log-level", "warning")

STARTUP_SECONDS = 120
CHROMIUM = Path("/usr/bin/chromium")
# The flags keep Chromium from calling home, which a closed network refuses noisily.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(
    database_url: str, workdir: Path, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """`uvicorn api.app:app` on a free loopback port and `database_url` (and `settings`, more
    environment), uploads and its log under `workdir`; yields its base URL once it answers,
    stops it afterwards."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url, "UPLOAD_DIR": str(workdir / "uploads")}
    env |= settings or {}
    log = workdir / "uvicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*UVICORN, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    # Importing the app takes a few seconds, and over 20 on a machine busy with other runs;
    # a server that is still starting is waited for, one that exited is reported at once.
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code < 500:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
