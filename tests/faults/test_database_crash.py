"""Database crash under load: what got a 201/200 survives; meanwhile 503 + Retry-After.

Clients post events over HTTP to a real server on a durable throwaway cluster; its postmaster
and backends are SIGKILLed mid-run and the cluster restarted, the server is not.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import create_engine, text

from tests.faults.helpers import POINT, wait_for

CLIENTS = 4


@dataclass
class Client:
    """One phone filing events one after another, retrying a key until it is acknowledged."""

    base_url: str
    headers: dict[str, str]
    acknowledged: dict[str, int] = field(default_factory=dict)  # key → 201/200
    answers: list[tuple[float, int, str | None]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30) as http:
            while not stop.is_set():
                key = f"crash-{uuid.uuid4()}"
                while not stop.is_set():
                    try:
                        response = http.post(
                            "/api/events",
                            json={"category": "0101", "description": "楼道里有可疑人员", **POINT},
                            headers={"Idempotency-Key": key},
                        )
                    except httpx.HTTPError as exc:  # the server itself must stay up
                        self.unexpected.append(f"no answer: {exc!r}")
                        time.sleep(0.2)
                        continue
                    retry_after = response.headers.get("Retry-After")
                    self.answers.append((time.monotonic(), response.status_code, retry_after))
                    if response.status_code in (200, 201):
                        self.acknowledged[key] = response.status_code
                        break
                    if response.status_code != 503:
                        self.unexpected.append(f"{response.status_code}: {response.text[:300]}")
                    time.sleep(0.1)


def acknowledged_count(clients: list[Client]) -> int:
    return sum(len(c.acknowledged) for c in clients)


def test_acknowledged_events_survive_a_database_crash_and_the_outage_is_503(
    throwaway_cluster, fault_city, server_process
):
    server = server_process()
    clients = [Client(server.base_url, fault_city["worker"]) for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: acknowledged_count(clients) >= 12, 60, "events before the crash")
        throwaway_cluster.crash()
        crashed_at = time.monotonic()
        # Clients keep posting while the database is down: they must get 503s.
        wait_for(
            lambda: any(t > crashed_at and s == 503 for c in clients for t, s, _ in c.answers),
            30,
            "a 503 during the outage",
        )
        time.sleep(1)
        throwaway_cluster.start()
        restarted_at = time.monotonic()
        # The same server recovers without a restart.
        wait_for(
            lambda: (
                sum(1 for c in clients for t, s, _ in c.answers if t > restarted_at and s == 201)
                >= 4
            ),
            60,
            "events acknowledged after the restart",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=40)

    assert server.process is not None and server.process.poll() is None, "the server died"
    unexpected = [u for c in clients for u in c.unexpected]
    assert unexpected == [], unexpected  # never a 500, never a dropped connection
    outage = [(s, retry) for c in clients for _, s, retry in c.answers if s == 503]
    assert outage and all(retry and int(retry) > 0 for _, retry in outage)

    keys = [k for c in clients for k in c.acknowledged]
    engine = create_engine(throwaway_cluster.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT e.idempotency_key, e.status::text,"
                    " (SELECT count(*) FROM event_step s WHERE s.event_id = e.id),"
                    " (SELECT count(*) FROM outbox o WHERE o.event_id = e.id)"
                    " FROM event e WHERE e.idempotency_key = ANY(:keys)"
                ),
                {"keys": keys},
            ).all()
    finally:
        engine.dispose()
    found = {key: (state, steps, outbox) for key, state, steps, outbox in rows}
    missing = sorted(set(keys) - set(found))
    assert missing == [], f"{len(missing)} of {len(keys)} acknowledged events were lost"
    # Each filed once, dispatched to the police station, with its steps and its webhook row.
    assert len(rows) == len(keys)
    for key, (state, steps, outbox) in found.items():
        assert steps >= 2 and outbox >= 1, (key, state, steps, outbox)
