"""Fixtures of the read-replica scenarios: a throwaway primary with a hot standby started by
the project's own `gridgov db replica up`, a committed city in it, and the app reading from both.

Everything lives in a temporary directory on free ports, never touching the shared cluster; the
standby is stopped with `gridgov db replica down` and both are removed at the end, even when a
test fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient
from shapely import box
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

from api.app import create_app
from api.import_jobs import ImportRunner
from events.reference import load_reference_data
from gis.config import get_settings
from gis.migrate import upgrade
from gis.replica import read_router
from tests.api.cli_run import GRIDGOV
from tests.factories import DISTRICT, add_grid, add_staff, add_unit, admin_tree, bearer, square
from tests.faults.helpers import GRID, wait_for
from tests.faults.processes import ThrowawayCluster, free_port

# Long enough for a standby on a busy, shared machine to replay a few commits.
CATCH_UP_S = 30


@dataclass
class ReplicaPair:
    """A throwaway primary and its hot standby, managed through the `gridgov` command."""

    primary: ThrowawayCluster
    replica_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        """The environment in which `gridgov` manages this pair as its local cluster."""
        settings = self.primary.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
        return env | {
            "PG_PORT": str(settings.pg_port),
            "PG_DATA_DIR": str(settings.pg_data_dir),
            "PG_DATABASE": settings.pg_database,
            "PG_DURABILITY": settings.pg_durability,
            "PG_REPLICA_PORT": str(self.replica_port),
            "PG_REPLICA_DATA_DIR": str(self.primary.root / "replica"),
            "COLUMNS": "200",
        }

    def gridgov(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `gridgov` on this pair."""
        return subprocess.run(
            [GRIDGOV, *args], capture_output=True, text=True, env=self.env, timeout=300, check=False
        )

    def replica_up(self) -> None:
        """`gridgov db replica up`, which must succeed."""
        result = self.gridgov("db", "replica", "up")
        assert result.returncode == 0, result.stdout + result.stderr

    def replica_down(self) -> None:
        """`gridgov db replica down`, which must succeed."""
        result = self.gridgov("db", "replica", "down")
        assert result.returncode == 0, result.stdout + result.stderr

    @property
    def replica_url(self) -> str:
        """The standby's database, as DATABASE_REPLICA_URL."""
        return f"postgresql://postgres@127.0.0.1:{self.replica_port}/{self.primary.settings.pg_database}"

    def caught_up(self) -> None:
        """Wait until the standby has replayed every commit the primary has made so far.

        A standby within the lag bound may still miss the last commit; a count taken from it
        as "before" would then be one short.
        """
        conn = psycopg2.connect(self.primary.plain_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_current_wal_lsn()::text")
                lsn = cur.fetchone()[0]
        finally:
            conn.close()
        wait_for(
            lambda: self.on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
            CATCH_UP_S,
            f"the standby to replay up to {lsn}",
        )

    def on_replica(self, statement: str) -> Any:
        """Run one statement on the standby and return its first value."""
        conn = psycopg2.connect(self.replica_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
                return cur.fetchone()[0] if cur.description else None
        finally:
            conn.close()


@pytest.fixture(scope="module")
def replica_pair() -> Iterator[ReplicaPair]:
    """A migrated throwaway primary and a hot standby started by `gridgov db replica up`."""
    pair = ReplicaPair(ThrowawayCluster("fast"))
    try:
        pair.primary.start()
        upgrade(pair.primary.url)
        pair.replica_up()
        yield pair
    finally:
        pair.gridgov("db", "replica", "down")
        pair.primary.stop()


@pytest.fixture(scope="module")
def replica_city(replica_pair: ReplicaPair) -> dict[str, Any]:
    """One grid with a police station, a grid worker, a leader and a dispatcher, committed on
    the primary (and so streamed to the standby); returns their request headers."""
    engine = create_engine(replica_pair.primary.url)
    try:
        with Session(engine) as session:
            admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
            add_grid(session, GRID, square(111.28, 30.70, 0.01))
            load_reference_data(session)
            police = add_unit(
                session,
                "PS-1",
                "police",
                geom=box(111.27, 30.69, 111.31, 30.73),
                location=(111.285, 30.705),
            )
            add_unit(session, "CC", "command_centre", location=(111.29, 30.71))
            worker = add_staff(session, "worker1", "grid_worker", grid_codes=[GRID])
            leader = add_staff(session, "leader", "leader", area_code=DISTRICT + "000000")
            dispatcher = add_staff(session, "police1", "dispatcher", department_unit_id=police.id)
            session.commit()
            return {
                "worker": bearer(worker),
                "leader": bearer(leader),
                "dispatcher": bearer(dispatcher),
            }
    finally:
        engine.dispose()


@pytest.fixture
def replica_settings(
    replica_pair: ReplicaPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., None]:
    """Point the app at the pair (check the replica at every read); call it to change more."""

    def configure(**changes: Any) -> None:
        settings = get_settings()
        values = {
            "database_url": replica_pair.primary.plain_url,
            "database_replica_url": replica_pair.replica_url,
            "replica_max_lag_s": 2.0,
            "replica_check_s": 0.0,
            "upload_dir": tmp_path / "photos",
        } | changes
        for name, value in values.items():
            monkeypatch.setattr(settings, name, value)

    configure()
    return configure


@pytest.fixture
def replica_client(replica_settings: Callable[..., None], tmp_path: Path) -> Iterator[TestClient]:
    """The real app on the pair: sessions of its own, committed, on the primary or the standby."""
    app = create_app()
    app.state.import_runner = ImportRunner(inline=True, upload_dir=tmp_path / "imports")
    with TestClient(app) as client:
        yield client


@dataclass
class Statements:
    """The SQL statements run while recording, each with the port of the server it ran on."""

    seen: list[tuple[int, str]] = field(default_factory=list)

    def on(self, port: int) -> list[str]:
        """The statements that ran on the server at `port`."""
        return [statement for at, statement in self.seen if at == port]


@pytest.fixture
def statements() -> Iterator[Statements]:
    """Record every statement any engine of this process runs, and on which server."""
    recorded = Statements()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        recorded.seen.append((cursor.connection.info.port, statement))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield recorded
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def replica_serving(timeout_s: float = CATCH_UP_S) -> None:
    """Wait until the router sends reads to the replica (it has caught up)."""
    wait_for(lambda: read_router().health().serves_reads, timeout_s, "the replica to catch up")
