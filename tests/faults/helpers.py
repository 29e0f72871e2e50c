"""Small helpers shared by the fault scenarios: waiting, holding locks, reading rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.factories import COMMUNITY
from tests.faults.processes import ThrowawayCluster

GRID = COMMUNITY + "001"
# A point in GRID inside the police station's area: reports there are dispatched to it.
POINT = {"lon": 111.285, "lat": 30.705}


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll `condition` until it is truthy (and return it), failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def row_locked(cluster: ThrowawayCluster, table: str, row_id: int) -> Iterator[Any]:
    """Hold `SELECT … FOR UPDATE` on one row from the test's own connection, then roll back.

    A request that writes a row referring to it (a foreign key check takes a share lock)
    waits inside the database, in the middle of its transaction.
    """
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", (row_id,))
        yield conn
    finally:
        conn.rollback()
        conn.close()


def waiting_writers(cluster: ThrowawayCluster) -> list[tuple[int, list[str]]]:
    """Backends waiting for a lock, each with the tables it already holds write locks on."""
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT a.pid, array_remove(array_agg(DISTINCT c.relname::text), NULL)"
                " FROM pg_stat_activity a"
                " LEFT JOIN pg_locks l ON l.pid = a.pid AND l.granted"
                "  AND l.mode = 'RowExclusiveLock'"
                " LEFT JOIN pg_class c ON c.oid = l.relation AND c.relkind = 'r'"
                " WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'"
                " GROUP BY a.pid"
            )
            return [(pid, list(tables)) for pid, tables in cur.fetchall()]
    finally:
        conn.close()


def query(cluster: ThrowawayCluster, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one statement on a fresh connection (so it sees only committed data)."""
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()
