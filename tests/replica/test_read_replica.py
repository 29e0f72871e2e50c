"""Dashboards read from a hot standby; writes, sign-in and reads of one's own writes stay on the
primary; a lagging or stopped standby sends the dashboards back to the primary (issue #17).

Which server ran a statement is read from the connection itself (its port), for every engine
of the process, so the tests see where each request really went.
"""

from __future__ import annotations

import math
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gis.db import get_request_engine, session_scope
from gis.replica import read_router, read_session_scope
from tests.api.cli_run import GRIDGOV
from tests.faults.helpers import GRID, POINT, wait_for
from tests.faults.served_app import free_port, served
from tests.replica.conftest import CATCH_UP_S, ReplicaPair, Statements, replica_serving


def _tile(lon: float, lat: float, z: int) -> str:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{x}/{y}"


# The read-only dashboards, each with an account that may open it.
DASHBOARDS = [
    ("leader", "/maps/leader"),
    ("leader", "/maps/leader/panel"),
    ("dispatcher", "/maps/unit"),
    ("worker", "/maps/grid"),
    ("leader", "/api/stats/kpis?by=grid"),
    ("leader", "/api/stats/population?by=grid"),
    ("leader", f"/tiles/grids/{_tile(POINT['lon'], POINT['lat'], 14)}.mvt"),
    ("worker", "/api/exports/grids?format=csv"),
    ("worker", "/api/exports/residents?format=csv"),
]


def _file_event(client: TestClient, city: dict[str, Any]) -> str:
    filed = client.post(
        "/api/events",
        json={"category": "0101", "description": "楼道里有可疑人员", **POINT},
        headers=city["worker"] | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    return str(filed.json()["code"])


def _reported(client: TestClient, city: dict[str, Any]) -> int:
    answer = client.get("/api/stats/kpis?by=grid", headers=city["leader"])
    assert answer.status_code == 200, answer.text
    return sum(row["reported"] for row in answer.json()["rows"])


def _signing_in_or_lag_check(statement: str) -> bool:
    return "staff" in statement or "pg_current_wal_lsn" in statement


def _lag_check(statement: str) -> bool:
    return "pg_is_in_recovery" in statement


def test_dashboards_read_on_the_replica_and_sign_in_on_the_primary(
    replica_pair: ReplicaPair,
    replica_city: dict[str, Any],
    replica_client: TestClient,
    statements: Statements,
) -> None:
    replica_serving()
    for account, path in DASHBOARDS:
        statements.seen.clear()
        answer = replica_client.get(path, headers=replica_city[account])
        assert answer.status_code == 200, (path, answer.text)
        on_replica = statements.on(replica_pair.replica_port)
        on_primary = statements.on(replica_pair.primary.settings.pg_port)
        assert [s for s in on_replica if not _lag_check(s)], f"{path} read nothing on the replica"
        # The primary only signs the caller in and tells the lag check its WAL position.
        assert [s for s in on_primary if not _signing_in_or_lag_check(s)] == [], path
        # Nothing but reads reach the replica.
        assert all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in on_replica), path


def test_filing_and_acting_on_an_event_run_on_the_primary_only(
    replica_pair: ReplicaPair,
    replica_city: dict[str, Any],
    replica_client: TestClient,
    statements: Statements,
) -> None:
    replica_serving()
    statements.seen.clear()
    code = _file_event(replica_client, replica_city)
    signed = replica_client.post(f"/api/events/{code}/sign", headers=replica_city["dispatcher"])
    assert signed.status_code == 200, signed.text
    queue = replica_client.get("/api/events", headers=replica_city["dispatcher"])
    assert code in {item["code"] for item in queue.json()["items"]}
    assert statements.on(replica_pair.replica_port) == []
    assert any(
        s.lstrip().upper().startswith("INSERT")
        for s in statements.on(replica_pair.primary.settings.pg_port)
    )


def test_my_own_last_write_reads_back_while_the_replica_replays_nothing(
    replica_pair: ReplicaPair,
    replica_city: dict[str, Any],
    replica_client: TestClient,
    replica_settings: Any,
) -> None:
    replica_settings(replica_max_lag_s=600.0)  # paused, but well within the bound
    replica_serving()
    replica_pair.caught_up()
    before = _reported(replica_client, replica_city)
    replica_pair.on_replica("SELECT pg_wal_replay_pause()")
    try:
        code = _file_event(replica_client, replica_city)
        detail = replica_client.get(f"/api/events/{code}", headers=replica_city["worker"])
        assert detail.status_code == 200, detail.text
        assert detail.json()["code"] == code
        queue = replica_client.get("/api/events", headers=replica_city["dispatcher"])
        assert code in {item["code"] for item in queue.json()["items"]}
        # The dashboards read the standby, which has not replayed the report: up to the bound
        # behind, by design.
        assert read_router().health().state == "ok"
        assert _reported(replica_client, replica_city) == before
    finally:
        replica_pair.on_replica("SELECT pg_wal_replay_resume()")
    wait_for(
        lambda: _reported(replica_client, replica_city) == before + 1,
        CATCH_UP_S,
        "the replica to replay the report",
    )


def test_a_lagging_replica_sends_the_dashboards_to_the_primary_until_it_catches_up(
    replica_pair: ReplicaPair,
    replica_city: dict[str, Any],
    replica_client: TestClient,
    replica_settings: Any,
    statements: Statements,
) -> None:
    replica_settings(replica_max_lag_s=1.0)
    replica_serving()
    replica_pair.caught_up()
    before = _reported(replica_client, replica_city)
    replica_pair.on_replica("SELECT pg_wal_replay_pause()")
    try:
        _file_event(replica_client, replica_city)

        def lagging() -> Any:
            replica = replica_client.get("/api/health").json()["replica"]
            return replica if replica["state"] == "lagging" else None

        health = wait_for(lagging, CATCH_UP_S, "the health endpoint to report the lag")
        assert health["reads_from"] == "primary"
        assert health["lag_s"] > 1.0
        statements.seen.clear()
        # From the primary: the new report is counted at once.
        assert _reported(replica_client, replica_city) == before + 1
        for account, path in DASHBOARDS:
            assert replica_client.get(path, headers=replica_city[account]).status_code == 200
        on_replica = statements.on(replica_pair.replica_port)
        assert [s for s in on_replica if not _lag_check(s)] == []
    finally:
        replica_pair.on_replica("SELECT pg_wal_replay_resume()")
    wait_for(
        lambda: replica_client.get("/api/health").json()["replica"]["state"] == "ok",
        CATCH_UP_S,
        "the replica to catch up",
    )
    statements.seen.clear()
    assert _reported(replica_client, replica_city) == before + 1
    assert [s for s in statements.on(replica_pair.replica_port) if not _lag_check(s)]


def test_an_idle_primary_does_not_make_the_replica_look_behind(
    replica_pair: ReplicaPair, replica_client: TestClient, replica_settings: Any
) -> None:
    replica_settings(replica_max_lag_s=1.0)
    replica_serving()
    # No commit for longer than the bound: the last replayed commit's age alone says "lagging".
    wait_for(
        lambda: (
            replica_pair.on_replica(
                "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
            )
            > 2.0
        ),
        CATCH_UP_S,
        "a quiet spell longer than the bound",
    )
    wait_for(
        lambda: (
            replica_client.get("/api/health").json()["replica"]
            == {
                "state": "ok",
                "reads_from": "replica",
                "lag_s": 0.0,
                "max_lag_s": 1.0,
            }
        ),
        10,
        "the replica to be reported caught up",
    )


def test_a_stopped_replica_leaves_every_dashboard_answering_from_the_primary(
    replica_pair: ReplicaPair,
    replica_city: dict[str, Any],
    replica_client: TestClient,
    statements: Statements,
) -> None:
    replica_serving()
    replica_pair.replica_down()
    try:
        statements.seen.clear()
        for account, path in DASHBOARDS:
            answer = replica_client.get(path, headers=replica_city[account])
            assert answer.status_code == 200, (path, answer.text)
        assert statements.on(replica_pair.replica_port) == []
        health = replica_client.get("/api/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["replica"]["state"] == "down"
        assert health.json()["replica"]["reads_from"] == "primary"
    finally:
        replica_pair.replica_up()
    replica_serving()
    statements.seen.clear()
    _reported(replica_client, replica_city)
    assert [s for s in statements.on(replica_pair.replica_port) if not _lag_check(s)]


def test_without_a_replica_the_dashboards_read_from_the_primary(
    replica_pair: ReplicaPair,
    replica_city: dict[str, Any],
    replica_client: TestClient,
    replica_settings: Any,
    statements: Statements,
) -> None:
    replica_settings(database_replica_url=None)
    health = replica_client.get("/api/health").json()["replica"]
    assert health["state"] == "not_configured"
    assert health["reads_from"] == "primary"
    statements.seen.clear()
    _reported(replica_client, replica_city)
    assert statements.on(replica_pair.replica_port) == []


@pytest.mark.parametrize("replica", [True, False], ids=["on the replica", "on the primary"])
def test_a_write_through_a_read_session_fails_on_either_server(
    replica_pair: ReplicaPair, replica_city: dict[str, Any], replica_settings: Any, replica: bool
) -> None:
    if replica:
        replica_serving()
    else:
        replica_settings(database_replica_url=None)
    rename = text("UPDATE grid SET name = name WHERE code = :code").bindparams(code=GRID)
    with pytest.raises(DBAPIError, match="read-only transaction"), read_session_scope() as session:
        assert session.scalar(text("SELECT pg_is_in_recovery()")) is replica
        session.execute(rename)
    # The same pooled connections still write for the primary's request sessions.
    with session_scope(get_request_engine()) as session:
        assert session.execute(rename).rowcount == 1


def test_replica_up_is_idempotent_and_refuses_a_primary_it_does_not_manage(
    replica_pair: ReplicaPair, replica_city: dict[str, Any]
) -> None:
    again = replica_pair.gridgov("db", "replica", "up")
    assert again.returncode == 0, again.stderr
    assert f"127.0.0.1:{replica_pair.replica_port}" in again.stdout
    status = replica_pair.gridgov("db", "replica", "status")
    assert status.returncode == 0, status.stderr
    assert "running" in status.stdout
    assert "state: ok" in status.stdout

    elsewhere = replica_pair.env | {"DATABASE_URL": replica_pair.primary.plain_url}
    refused = subprocess.run(
        [GRIDGOV, "db", "replica", "up"], capture_output=True, text=True, env=elsewhere, check=False
    )
    assert refused.returncode == 1
    assert "DATABASE_URL" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_gridgov_serve_reads_the_dashboards_from_the_running_local_replica(
    replica_pair: ReplicaPair, replica_city: dict[str, Any], tmp_path: Path
) -> None:
    port = free_port()
    command = [GRIDGOV, "serve", "--port", str(port)]
    with served(command, port=port, env=replica_pair.env, log=tmp_path / "serve.log") as server:
        health = httpx.get(f"{server.base}/api/health", timeout=10).json()["replica"]
        assert health["state"] == "ok"
        assert health["reads_from"] == "replica"
        page = httpx.get(f"{server.base}/maps/leader", headers=replica_city["leader"], timeout=60)
        assert page.status_code == 200
        assert f"local replica on 127.0.0.1:{replica_pair.replica_port}" in server.output()
