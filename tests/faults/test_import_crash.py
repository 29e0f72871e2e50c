"""Fault: the server is killed (SIGKILL) in the middle of a large ledger import.

A real server (uvicorn in a subprocess) on a committed throwaway database imports a ledger big
enough to run for seconds; it is killed mid-run and started again. Users must then find the
job failed with a sentence (not `running` forever), no half-imported residents (an import is
one transaction), no upload with clear ID numbers left on disk, and the same file imports
cleanly when they try again.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select

from gis import local_pg
from gis.db import session_scope
from people.ledger import COLUMNS
from people.models import Resident
from tests.factories import (
    add_building,
    add_grid,
    add_house,
    add_staff,
    admin_tree,
    fresh_database,
    id_number,
    square,
)

GRID = "420502001001001"
ROOT = Path(__file__).resolve().parents[2]
# Enough rows for the import to run several seconds on a loaded two-core machine.
ROWS = 120_000


@pytest.fixture(scope="module")
def crash_db(database_url: str) -> Iterator[tuple[str, Engine]]:
    """A committed database with one grid, one building of houses and an admin."""
    url = fresh_database(database_url, "_crash")
    engine = create_engine(url)
    with session_scope(engine) as session:
        admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
        add_grid(session, GRID, square(111.28, 30.70, 0.01))
        building = add_building(session, "BK", square(111.281, 30.701, 0.0002), GRID)
        for room in range(1, 21):
            add_house(session, building, room=f"{room:04d}")
        add_staff(session, "boss", "admin")
    try:
        yield url, engine
    finally:
        engine.dispose()
        local_pg.drop_database(url)


def big_ledger(rows: int) -> bytes:
    """A valid ledger of `rows` distinct residents (UTF-8 CSV with BOM)."""
    headers = [c.header for c in COLUMNS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers)
    writer.writeheader()
    first = date(1950, 1, 1)
    for n in range(rows):
        birth = first + timedelta(days=n // 900)
        writer.writerow(
            {
                "姓名": f"居民{n}",
                "证件号码": id_number(n % 900 + 1, birth=birth),
                "人口类型": "户籍人口",
                "房屋编码": f"BK-1-{n % 20 + 1:04d}",
            }
        )
    return buffer.getvalue().encode("utf-8-sig")


class Server:
    """`uvicorn api.app:app` in its own process group, on a free loopback port."""

    def __init__(self, url: str, upload_dir: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "UPLOAD_DIR": str(upload_dir),
            "ENVIRONMENT": "test",
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: self._answers(), 60, "the server did not start")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base}/api/health", timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory killer or a power cut would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def wait_for(check: Callable[[], Any], seconds: float, failure: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(failure)


@pytest.fixture
def server(crash_db: tuple[str, Engine], tmp_path: Path) -> Iterator[Server]:
    url, _ = crash_db
    running = Server(url, tmp_path / "uploads", tmp_path / "server.log")
    try:
        yield running
    finally:
        running.kill()  # even when the test failed half-way


def sign_in(server: Server) -> dict[str, str]:
    answer = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": "boss", "password": "test-password"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def submit(server: Server, headers: dict[str, str], content: bytes) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.base}/api/imports",
        headers=headers,
        data={"kind": "residents"},
        files={"file": ("全区台账.csv", content, "text/csv")},
        timeout=120,
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def job(server: Server, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{server.base}/api/imports/{job_id}", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def residents(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Resident)) or 0


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_server_killed_mid_import_fails_the_job_keeps_nothing_and_the_retry_imports_all(
    crash_db, server, tmp_path
):
    _, engine = crash_db
    imports = tmp_path / "uploads" / "imports"
    content = big_ledger(ROWS)
    server.start()
    headers = sign_in(server)
    job_id = submit(server, headers, content)["id"]

    # Mid-run: some batches written (in the import's transaction), the rest still to come.
    running = wait_for(
        lambda: (
            (j := job(server, headers, job_id))["status"] == "running"
            and 0 < j["processed"] < ROWS
            and j
        ),
        120,
        "the import never got under way",
    )
    [upload] = files_under(imports)
    assert stat.S_IMODE(upload.stat().st_mode) == 0o600  # clear ID numbers: owner only
    assert stat.S_IMODE(upload.parent.stat().st_mode) == 0o700
    server.kill()
    assert running["status"] == "running"

    server.start()
    after = job(server, headers, job_id)
    assert after["status"] == "failed", after
    assert "中断" in after["message"] and "interrupted" in after["message"]
    assert after["finished_at"] and after["error_report_url"] is None
    assert files_under(imports) == []  # the upload with clear ID numbers is gone
    # The import is one transaction: the killed run left no resident behind.
    assert residents(engine) == 0

    again = submit(server, headers, content)["id"]
    done = wait_for(
        lambda: (j := job(server, headers, again))["status"] in ("done", "failed") and j,
        600,
        "the retried import did not finish",
    )
    assert (done["status"], done["imported"], done["rejected"]) == ("done", ROWS, 0), done
    assert residents(engine) == ROWS
    assert files_under(imports) == []
