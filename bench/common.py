"""What every benchmark workload shares: figures with baselines, scratch databases, timing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gis import local_pg
from gis.config import get_settings
from gis.migrate import upgrade
from people.access import Actor

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its in-run baseline."""

    workload: str
    metric: str
    value: float
    unit: str
    baseline: str
    baseline_value: float

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("nan")


@contextmanager
def bench_database(name: str) -> Iterator[Engine]:
    """A freshly created and migrated database for one workload, dropped afterwards."""
    settings = get_settings()
    if settings.uses_local_cluster:
        local_pg.up(settings)
    url = make_url(settings.sqlalchemy_url).set(database=f"gridgov_bench_{name}")
    url_text = url.render_as_string(hide_password=False)
    local_pg.drop_database(url_text)
    local_pg.ensure_database(url_text)
    upgrade(url_text)
    engine = create_engine(url_text)
    try:
        yield engine
    finally:
        engine.dispose()
        local_pg.drop_database(url_text)


def seed_city(engine: Engine, scale: str) -> float:
    """Seed the demo city's grids and buildings at `scale`; returns seconds (ANALYZE included)."""
    from demo.city.seed import seed_demo_city

    started = time.perf_counter()
    with Session(engine) as session:
        seed_demo_city(session, scale=scale)
        session.commit()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of durations in seconds, as milliseconds."""
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def admin_actor(session: Session, username: str = "bench-admin") -> Actor:
    """An admin account for workloads that act as a user."""
    from people.access import load_actor
    from people.models import Staff
    from people.staff import create_staff

    found = session.query(Staff).filter(Staff.username == username).one_or_none()
    if found is not None:
        return load_actor(session, staff_id=found.id)
    return create_staff(
        session, username=username, password="bench-password", full_name="基准测试", role="admin"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def uvicorn_process(
    app: str, env: dict[str, str], ready_path: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `app` with uvicorn on a free loopback port until the block ends; yields its URL and
    the server process (for workloads that read its memory)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=PROJECT_DIR,
        env=os.environ | env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with code {process.returncode} on start")
            try:
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not answer {ready_path} within 60 s")
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def uvicorn_server(app: str, env: dict[str, str], ready_path: str) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port until the block ends; yields its URL."""
    with uvicorn_process(app, env, ready_path) as (base, _):
        yield base
