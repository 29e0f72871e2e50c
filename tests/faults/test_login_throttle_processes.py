"""Several server processes (`gridgov serve --workers 2`) apply one login throttle.

Before, each process counted logins in its own memory: a second process, or the same one after
a restart, let a guesser start over, and successes counted too. The count now lives in
PostgreSQL, so it holds whichever process answers and survives replacing every process.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gis import local_pg
from gis.config import get_settings
from tests.factories import add_staff, fresh_database
from tests.faults.served_app import Served, children, free_port, gridgov_command, served

PASSWORD = "test-password"
# uvicorn trusts X-Forwarded-For from 127.0.0.1 (a reverse proxy on the same machine), so the
# test can speak from several client addresses while only ever connecting to loopback.
ATTACKER, OFFICE, NAT = "203.0.113.66", "198.51.100.7", "198.51.100.200"


@pytest.fixture(scope="module")
def throttle_database(database_url: str) -> Iterator[str]:
    """A database of its own with one account: the servers commit, so it is not the test one."""
    url = fresh_database(database_url, "_throttle")
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            add_staff(session, "duty.admin", "admin")
            add_staff(session, "desk.clerk", "admin")
            session.commit()
        yield url
    finally:
        engine.dispose()
        local_pg.drop_database(url)


@pytest.fixture(scope="module")
def two_workers(
    throttle_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`gridgov serve --workers 2` on a free loopback port."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": throttle_database, "ENVIRONMENT": "test"}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [*gridgov_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with served([*command, "--workers", "2"], port=port, env=env, log=log) as server:
        yield server


def _login(
    server: Served, address: str, password: str = PASSWORD, username: str = "duty.admin"
) -> httpx.Response:
    # A new connection each time, so the two processes share the attempts between them.
    return httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=30,
    )


def _workers(server: Served) -> set[int]:
    workers = set()
    for pid in children(server.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            workers.add(pid)
    return workers


def _kill_every_worker(server: Served) -> None:
    """SIGKILL both worker processes; uvicorn's supervisor starts fresh ones in their place."""
    old = _workers(server)
    assert len(old) == 2, server.output()
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while True:
        now = _workers(server)
        if len(now) == 2 and not now & old and _healthy(server):
            break
        assert time.monotonic() < deadline, f"no new workers started:\n{server.output()}"
        time.sleep(0.5)


def _healthy(server: Served) -> bool:
    try:
        return httpx.get(f"{server.base}/api/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_forty_successful_logins_from_one_address_all_succeed(two_workers):
    statuses = [_login(two_workers, NAT).status_code for _ in range(40)]
    assert statuses == [200] * 40


def test_the_limit_holds_across_processes_and_when_every_process_is_replaced(two_workers):
    limit = get_settings().login_failures_per_user
    for _ in range(limit):
        assert _login(two_workers, ATTACKER, "wrong-password").status_code == 401
    # Whichever process answers, the attacker's address waits, even with the right password.
    for _ in range(6):
        refused = _login(two_workers, ATTACKER)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
    # The account's holder, elsewhere, is not locked out.
    assert _login(two_workers, OFFICE).status_code == 200

    _kill_every_worker(two_workers)  # no process that saw the failures is left

    assert _login(two_workers, ATTACKER).status_code == 429
    assert _login(two_workers, OFFICE).status_code == 200


def test_wrong_passwords_on_the_login_page_are_counted_by_every_process(two_workers):
    page_guesser = "203.0.113.99"
    for _ in range(get_settings().login_failures_per_user):
        response = httpx.post(
            f"{two_workers.base}/login",
            data={"username": "desk.clerk", "password": "wrong-password"},
            headers={"X-Forwarded-For": page_guesser},
            timeout=30,
        )
        assert response.status_code == 401
    held = _login(two_workers, page_guesser, username="desk.clerk")
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
