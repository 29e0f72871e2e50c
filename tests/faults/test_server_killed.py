"""Server killed mid-request: no half-written event; the retry files it exactly once.

The request is held inside the database (a row it must reference is locked by the test), so
the server is SIGKILLed while its transaction has written part of the event.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx

from tests.faults.helpers import POINT, query, row_locked, wait_for, waiting_writers

REPORT = {"category": "0101", "description": "楼道里有可疑人员", **POINT}


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    """Run an HTTP call in a thread; its response or exception lands in the returned list."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def event_rows(cluster, key: str) -> list[tuple[Any, ...]]:
    """(status, steps, outbox rows) of each event filed with `key`."""
    return query(
        cluster,
        "SELECT e.status::text,"
        " (SELECT count(*) FROM event_step s WHERE s.event_id = e.id),"
        " (SELECT count(*) FROM outbox o WHERE o.event_id = e.id)"
        " FROM event e WHERE e.idempotency_key = %s",
        key,
    )


def test_killed_while_filing_leaves_nothing_and_the_retry_files_once(
    throwaway_cluster, fault_city, server_process
):
    server = server_process()
    key = f"killed-{uuid.uuid4()}"

    def post() -> httpx.Response:
        return httpx.post(
            f"{server.base_url}/api/events",
            json=REPORT,
            headers=fault_city["worker"] | {"Idempotency-Key": key},
            timeout=30,
        )

    with row_locked(throwaway_cluster, "department_unit", fault_city["police_id"]):
        thread, outcome = in_background(post)
        # The request waits in the database after it has written the event row.
        [(_, written)] = wait_for(
            lambda: waiting_writers(throwaway_cluster), 20, "the request to wait for the lock"
        )
        # The event row: in its month's partition of event (event_pYYYYMM).
        assert any(name.startswith("event_p") for name in written), written
        server.kill()
        thread.join(timeout=20)
        assert isinstance(outcome[0], httpx.HTTPError)  # the client got no answer
    # The killed request's transaction is gone: no event, no steps, no outbox row.
    wait_for(lambda: not waiting_writers(throwaway_cluster), 20, "the killed request to end")
    assert event_rows(throwaway_cluster, key) == []

    server.start()
    retried = post()
    assert retried.status_code == 201, retried.text
    again = post()
    assert again.status_code == 200 and again.json()["code"] == retried.json()["code"]
    [(state, steps, outbox)] = event_rows(throwaway_cluster, key)
    assert state == "dispatched" and steps >= 2 and outbox >= 1


def test_killed_while_signing_leaves_the_event_unsigned_and_the_retry_signs_once(
    throwaway_cluster, fault_city, server_process
):
    server = server_process()
    filed = httpx.post(
        f"{server.base_url}/api/events",
        json=REPORT,
        headers=fault_city["worker"] | {"Idempotency-Key": f"sign-{uuid.uuid4()}"},
        timeout=30,
    )
    assert filed.status_code == 201, filed.text
    code = filed.json()["code"]

    def sign() -> httpx.Response:
        return httpx.post(
            f"{server.base_url}/api/events/{code}/sign",
            json={},
            headers=fault_city["dispatcher"],
            timeout=30,
        )

    def steps() -> list[tuple[Any, ...]]:
        return query(
            throwaway_cluster,
            "SELECT s.action, e.status::text FROM event_step s JOIN event e ON e.id = s.event_id"
            " WHERE e.code = %s ORDER BY s.id",
            code,
        )

    before = steps()
    with row_locked(throwaway_cluster, "department_unit", fault_city["police_id"]):
        thread, outcome = in_background(sign)
        [(_, written)] = wait_for(
            lambda: waiting_writers(throwaway_cluster), 20, "the action to wait for the lock"
        )
        assert written  # it had started writing (the event's new status or its step)
        server.kill()
        thread.join(timeout=20)
        assert isinstance(outcome[0], httpx.HTTPError)
    wait_for(lambda: not waiting_writers(throwaway_cluster), 20, "the killed request to end")
    assert steps() == before  # still dispatched, no sign step, nothing half-done

    server.start()
    signed = sign()
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed"
    assert sign().status_code == 409  # signing again is refused: it happened exactly once
    after = steps()
    assert [action for action, _ in after].count("sign") == 1
    assert after[-1][1] == "signed"
