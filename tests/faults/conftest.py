"""Fixtures of the fault scenarios: a throwaway cluster, a seeded city in it, servers.

Names are specific (`throwaway_cluster`, `fault_city`, `server_process`) because other
scenarios in this folder bring their own helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from shapely import box
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from events.reference import load_reference_data
from gis.migrate import upgrade
from tests.factories import (
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    bearer,
    square,
)
from tests.faults.helpers import GRID
from tests.faults.processes import ServerProcess, ThrowawayCluster


@pytest.fixture(scope="module")
def throwaway_cluster() -> Iterator[ThrowawayCluster]:
    """A durable cluster of this module's own, with a migrated database; removed afterwards."""
    cluster = ThrowawayCluster("durable")
    try:
        cluster.start()
        upgrade(cluster.url)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def fault_city(throwaway_cluster: ThrowawayCluster) -> dict[str, Any]:
    """One grid, the reference data, a police station with a webhook, a worker and a dispatcher.

    Committed (servers in other processes read it); returns the accounts' request headers.
    """
    engine = create_engine(throwaway_cluster.url)
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
                webhook_url="http://127.0.0.1:9/unreachable",
            )
            add_unit(session, "CC", "command_centre", location=(111.29, 30.71))
            worker = add_staff(session, "worker1", "grid_worker", grid_codes=[GRID])
            dispatcher = add_staff(session, "police1", "dispatcher", department_unit_id=police.id)
            session.commit()
            return {
                "worker": bearer(worker),
                "dispatcher": bearer(dispatcher),
                "police_id": police.id,
            }
    finally:
        engine.dispose()


@pytest.fixture
def server_process(
    throwaway_cluster: ThrowawayCluster, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start `gridgov serve` processes on the throwaway cluster; all are killed afterwards."""
    started: list[ServerProcess] = []

    def start(*, workers: int = 1, **env: str) -> ServerProcess:
        server = ServerProcess(throwaway_cluster.plain_url, tmp_path, workers=workers, **env)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
