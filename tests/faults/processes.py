"""Real processes for the fault scenarios: a throwaway PostGIS cluster and gridgov servers.

Each lives in its own temporary directory and on its own free port, never touching the shared
cluster; `stop()` (called by the fixtures even when a test fails) ends exactly the processes
started here, by their ids, and removes their files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from gis import local_pg
from gis.config import PROJECT_DIR, Settings

DATABASE = "gridgov_fault"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class ThrowawayCluster:
    """A PostGIS cluster of its own, started with gis.local_pg as `gridgov db up` would."""

    def __init__(self, durability: str = "durable") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gridgov-fault-"))
        self.root.chmod(0o755)  # the `postgres` user must reach the data directory
        self.settings = Settings(
            database_url=None,
            pg_port=free_port(),
            pg_data_dir=self.root / "pgdata",
            pg_database=DATABASE,
            pg_durability=durability,  # type: ignore[arg-type]
            environment="test",
        )

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's database."""
        return self.settings.local_database_url

    @property
    def plain_url(self) -> str:
        """The same URL for processes that read DATABASE_URL."""
        return self.url.replace("postgresql+psycopg2://", "postgresql://")

    def start(self, durability: str | None = None) -> None:
        """Start (or restart) the cluster, optionally in another durability mode."""
        if durability:
            self.settings = self.settings.model_copy(update={"pg_durability": durability})
        local_pg.up(self.settings)

    def postmaster_pid(self) -> int:
        """The postmaster's process id, from its pid file."""
        directory = local_pg.data_dir(self.settings)
        return int((directory / "postmaster.pid").read_text().splitlines()[0])

    def crash(self) -> None:
        """SIGKILL the postmaster and its backends at once, as a power cut would end them."""
        pid = self.postmaster_pid()
        for process in [*_children(pid), pid]:
            # A backend may end by itself between listing and killing.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)

    def connect(self) -> Any:
        """A psycopg2 connection to the cluster's database."""
        return psycopg2.connect(
            host="127.0.0.1", port=self.settings.pg_port, user="postgres", dbname=DATABASE
        )

    def show(self, name: str) -> str:
        """The server's value of a setting (SHOW name)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SHOW {name}")
                return str(cur.fetchone()[0])
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the cluster immediately and delete its files."""
        directory = local_pg.data_dir(self.settings)
        if (directory / "PG_VERSION").exists():
            pg_ctl = str(local_pg._bin_dir() / "pg_ctl")
            # The module's own runner: as `postgres` when we are root.
            local_pg._run([pg_ctl, "stop", "-m", "immediate", "-D", str(directory)], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        if directory != self.settings.pg_data_dir.resolve():
            shutil.rmtree(directory, ignore_errors=True)


class ServerProcess:
    """`gridgov serve` in a subprocess, on a free port, with DATABASE_URL set to `database_url`."""

    def __init__(self, database_url: str, log_dir: Path, *, workers: int = 1, **env: str) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.workers = workers
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.starts = 0

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and wait until /api/health answers 200."""
        self.starts += 1
        env = (
            os.environ
            | {
                "PYTHONPATH": str(PROJECT_DIR),
                "DATABASE_URL": self.database_url,
                "ENVIRONMENT": "test",
            }
            | self.env
        )
        log = (self.log_dir / f"server-{self.port}-{self.starts}.log").open("wb")
        command = [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        # Its own session (process group): stop() ends the server and its worker processes.
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"the server exited with {code}: {self.log()}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout_s} s: {self.log()}")

    def log(self) -> str:
        """The latest server log, for failure messages."""
        path = self.log_dir / f"server-{self.port}-{self.starts}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and its worker processes (its own process group) and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """End the server if it still runs."""
        self.kill()
