"""Several server processes: idempotency and outbox claiming hold across processes.

`gridgov serve --workers 2` and a second, separate server share one database; the same
Idempotency-Key posted to all of them at once files one event. Two `gridgov worker --once`
started together deliver every outbox row exactly once between them.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from gis.config import PROJECT_DIR
from tests.faults.helpers import POINT, query

KEYS = 4
COPIES = 6  # concurrent posts of each key, spread over the processes
ROWS = 150  # many turns' worth (a turn takes at most 10 rows of one receiver)


def test_the_same_key_posted_at_once_to_several_processes_files_once(
    throwaway_cluster, fault_city, server_process
):
    servers = [server_process(workers=2), server_process()]
    keys = [f"multi-{uuid.uuid4()}" for _ in range(KEYS)]
    jobs = [(key, servers[i % 2].base_url) for key in keys for i in range(COPIES)]
    answers: list[tuple[str, int, str]] = []
    barrier = threading.Barrier(len(jobs))

    def post(key: str, base_url: str) -> None:
        barrier.wait(timeout=30)
        response = httpx.post(
            f"{base_url}/api/events",
            json={"category": "0101", "description": "楼道里有可疑人员", **POINT},
            headers=fault_city["worker"] | {"Idempotency-Key": key},
            timeout=60,
        )
        code = response.json().get("code", "") if response.status_code < 300 else response.text
        answers.append((key, response.status_code, code))

    threads = [threading.Thread(target=post, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert len(answers) == len(jobs)
    for key in keys:
        mine = [(status, code) for k, status, code in answers if k == key]
        statuses = Counter(status for status, _ in mine)
        assert statuses == {201: 1, 200: COPIES - 1}, (key, mine)
        assert len({code for _, code in mine}) == 1  # every answer names the same event
    filed = query(
        throwaway_cluster,
        "SELECT idempotency_key, count(*) FROM event WHERE idempotency_key = ANY(%s)"
        " GROUP BY idempotency_key",
        keys,
    )
    assert sorted(filed) == sorted((key, 1) for key in keys)


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that records each delivery's outbox id and answers 200."""

    deliveries: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.deliveries.append(self.headers["X-Gridgov-Delivery"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_two_workers_at_once_never_deliver_the_same_outbox_row(
    throwaway_cluster, fault_city, server_process
):
    server = server_process()
    filed = httpx.post(
        f"{server.base_url}/api/events",
        json={"category": "0101", "description": "楼道里有可疑人员", **POINT},
        headers=fault_city["worker"] | {"Idempotency-Key": f"outbox-{uuid.uuid4()}"},
        timeout=30,
    )
    assert filed.status_code == 201, filed.text
    deliveries: list[str] = []
    handler = type("Handler", (Receiver,), {"deliveries": deliveries})
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    conn = throwaway_cluster.connect()
    workers: list[subprocess.Popen[str]] = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE department_unit SET webhook_url = %s, webhook_secret = 'fault-secret'"
                " WHERE id = %s",
                (f"http://127.0.0.1:{receiver.server_address[1]}/hook", fault_city["police_id"]),
            )
            # Only this test's rows are due: earlier ones are set aside, then ROWS copies added.
            cur.execute("UPDATE outbox SET status = 'delivered' WHERE status = 'pending'")
            cur.execute(
                "INSERT INTO outbox (event_id, district_code, step_id, unit_id, kind, payload,"
                " status, attempts, next_attempt_at)"
                " SELECT o.event_id, o.district_code, o.step_id, o.unit_id, o.kind, o.payload,"
                " 'pending', 0,"
                " now() - interval '1 minute'"
                " FROM outbox o JOIN event e ON e.id = o.event_id AND e.code = %s,"
                " generate_series(1, %s)",
                (filed.json()["code"], ROWS),
            )
            cur.execute("SELECT id FROM outbox WHERE status = 'pending'")
            pending = {str(row[0]) for row in cur.fetchall()}
        assert len(pending) == ROWS
        env = {
            "PYTHONPATH": str(PROJECT_DIR),
            "DATABASE_URL": throwaway_cluster.plain_url,
            "ENVIRONMENT": "test",
        }
        # Two long-running workers share the rows until none is pending, then are stopped.
        command = [sys.executable, "-m", "api.cli", "worker", "--poll", "0.2"]
        workers = [
            subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                env=env | {"PATH": "/usr/bin:/bin"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and query(
            throwaway_cluster, "SELECT 1 FROM outbox WHERE status = 'pending' LIMIT 1"
        ):
            time.sleep(0.5)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], outputs
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        receiver.shutdown()
        receiver.server_close()
        conn.close()

    # Each row was posted exactly once, and the workers' own counts add up to that.
    assert Counter(deliveries) == Counter(pending)
    stopped = [re.search(r"stopped: \d+ due, (\d+) delivered", output) for output in outputs]
    assert all(stopped), outputs
    assert sum(int(match.group(1)) for match in stopped if match) == ROWS
    rows = query(
        throwaway_cluster,
        "SELECT status::text, attempts FROM outbox WHERE id = ANY(%s)",
        [int(i) for i in pending],
    )
    assert Counter(rows) == {("delivered", 1): ROWS}
