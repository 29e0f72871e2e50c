"""Server killed (SIGKILL) mid-batch of patrol fixes: every batch acknowledged before is kept
whole, the killed batch left no row, and the phone's resend of both adds exactly what is
missing. The batch is held inside the database (the test locks the patrol row the points
refer to) after its INSERT has written rows, then the server is killed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.faults.helpers import query, row_locked, wait_for, waiting_writers
from tests.faults.test_server_killed import in_background

BATCH = 30


def batch(n: int, start: datetime) -> dict:
    return {
        "crs": "gcj02",
        "points": [
            {
                "t": (start + timedelta(seconds=20 * (n * BATCH + k))).isoformat(),
                "lon": 111.285 + 1e-5 * k,
                "lat": 30.705 + 1e-5 * n,
            }
            for k in range(BATCH)
        ],
    }


def points(cluster, key: str) -> int:
    [(count,)] = query(
        cluster,
        "SELECT count(*) FROM patrol_point pp JOIN patrol p ON p.id = pp.patrol_id"
        " WHERE p.key = %s",
        key,
    )
    return int(count)


def test_killed_mid_batch_keeps_every_acknowledged_fix_and_the_resend_adds_the_rest(
    throwaway_cluster, fault_city, server_process
):
    server = server_process()
    key = f"killed-{uuid.uuid4()}"
    start = datetime.now(UTC) - timedelta(hours=2)
    worker = fault_city["worker"]

    def post(path: str, body: dict) -> httpx.Response:
        return httpx.post(f"{server.base_url}{path}", json=body, headers=worker, timeout=30)

    assert post("/api/patrols", {"key": key, "started_at": start.isoformat()}).status_code == 201
    for n in range(3):
        assert post(f"/api/patrols/{key}/points", batch(n, start)).json()["added"] == BATCH
    [(patrol_id,)] = query(throwaway_cluster, "SELECT id FROM patrol WHERE key = %s", key)

    with row_locked(throwaway_cluster, "patrol", patrol_id):
        thread, outcome = in_background(lambda: post(f"/api/patrols/{key}/points", batch(3, start)))
        [(_, written)] = wait_for(
            lambda: waiting_writers(throwaway_cluster), 20, "the batch to wait for the lock"
        )
        assert "patrol_point" in written, written  # rows written, transaction open
        server.kill()
        thread.join(timeout=20)
        assert isinstance(outcome[0], httpx.HTTPError)  # the phone got no answer: it keeps it
    wait_for(lambda: not waiting_writers(throwaway_cluster), 20, "the killed batch to end")
    assert points(throwaway_cluster, key) == 3 * BATCH  # acknowledged kept, killed batch gone

    server.start()
    # The phone sends what it holds: the unanswered batch, and (its answer lost too) the third.
    assert post(f"/api/patrols/{key}/points", batch(3, start)).json()["added"] == BATCH
    assert post(f"/api/patrols/{key}/points", batch(2, start)).json() == {
        "added": 0,
        "already_stored": BATCH,
    }
    assert points(throwaway_cluster, key) == 4 * BATCH
