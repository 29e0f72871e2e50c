"""Slow database: a statement past STATEMENT_TIMEOUT_S is answered 503 and frees the worker.

The test holds a lock the request needs, so the request's statement waits in the database
until the statement timeout cancels it.
"""

from __future__ import annotations

import time
import uuid

import httpx

from tests.faults.helpers import POINT, query, row_locked

TIMEOUT_S = 1
# Generous: the point is that the answer comes at the timeout, not after the lock is freed.
LOCK_HELD_S = 60


def test_a_statement_past_the_timeout_gets_503_and_the_retry_files_once(
    throwaway_cluster, fault_city, server_process
):
    server = server_process(STATEMENT_TIMEOUT_S=str(TIMEOUT_S))
    key = f"slow-{uuid.uuid4()}"
    with httpx.Client(base_url=server.base_url, timeout=LOCK_HELD_S) as http:

        def post() -> httpx.Response:
            return http.post(
                "/api/events",
                json={"category": "0101", "description": "楼道里有可疑人员", **POINT},
                headers=fault_city["worker"] | {"Idempotency-Key": key},
            )

        with row_locked(throwaway_cluster, "department_unit", fault_city["police_id"]):
            started = time.monotonic()
            slow = post()
            waited = time.monotonic() - started
            assert slow.status_code == 503, slow.text
            assert int(slow.headers["Retry-After"]) > 0
            error = slow.json()["error"]
            assert error["code"] == "unavailable"
            assert "数据库繁忙" in error["message"] and "took too long" in error["message"]
            # Answered at the timeout, long before the lock went away.
            assert waited < LOCK_HELD_S / 2
            # Nothing of it was saved, and the server still answers other requests.
            assert (
                query(throwaway_cluster, "SELECT id FROM event WHERE idempotency_key = %s", key)
                == []
            )
            assert http.get("/api/health").status_code == 200

        retried = post()
        assert retried.status_code == 201, retried.text
        assert post().status_code == 200
        assert (
            len(query(throwaway_cluster, "SELECT id FROM event WHERE idempotency_key = %s", key))
            == 1
        )
