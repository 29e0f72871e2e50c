"""Fault scenario: webhook receivers that are down, trickle, fail, answer huge, or are healthy.

Real processes throughout: the receivers are `http.server`s on loopback ports, and the worker
is the real `gridgov worker` in a subprocess on a committed database of its own. Time is
simulated by moving rows' `next_attempt_at` to now once an attempt is recorded (never by
sleeping through the backoff), so an hour of retries takes seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.orm import Session

from events.models import DeliveryAttempt, DeliveryStatus, DepartmentUnit, Outbox
from events.outbox import MAX_ATTEMPTS, retry_delay
from events.reference import load_reference_data
from events.schemas import EventReport
from events.service import report_event
from events.webhooks import ERROR_BODY_CHARS
from gis import local_pg
from people.access import Actor
from tests.factories import (
    COMMUNITY,
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    fresh_database,
    square,
)
from tests.faults.webhook_receivers import HUGE_BODY_BYTES, WebhookReceiver

PROJECT = Path(__file__).resolve().parents[2]
UNITS = ("PS-DOWN", "PS-SLOW", "PS-500", "PS-HUGE", "PS-OK")
SIDE = 0.004  # each unit's jurisdiction: a square this many degrees wide, side by side


@dataclass(frozen=True)
class World:
    url: str
    engine: Engine
    reporter: Actor
    unit_ids: dict[str, int]


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[World]:
    """A committed database of its own: five police units side by side in one grid."""
    text_url = fresh_database(database_url, "_webhooks")
    engine = create_engine(text_url)
    try:
        with Session(engine) as session, session.begin():
            admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
            add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.02))
            load_reference_data(session)
            unit_ids = {
                code: add_unit(
                    session,
                    code,
                    "police",
                    geom=square(111.28 + i * SIDE, 30.70, SIDE),
                    webhook_url="http://127.0.0.1:9/not-yet",
                ).id
                for i, code in enumerate(UNITS)
            }
            reporter = add_staff(session, "worker1", "grid_worker", grid_codes=[COMMUNITY + "001"])
        yield World(url=text_url, engine=engine, reporter=reporter, unit_ids=unit_ids)
    finally:
        engine.dispose()
        local_pg.drop_database(text_url)


@pytest.fixture(autouse=True)
def no_events_left(world: World) -> Iterator[None]:
    yield
    with world.engine.begin() as connection:
        connection.execute(text("TRUNCATE event CASCADE"))


@pytest.fixture
def receivers() -> Iterator[Callable[..., WebhookReceiver]]:
    """Makes receivers (`start=False` for one that is down) and stops them all afterwards."""
    made: list[WebhookReceiver] = []

    def make(mode: str = "healthy", *, start: bool = True, **options: float) -> WebhookReceiver:
        receiver = WebhookReceiver(mode=mode, **options)  # type: ignore[arg-type]
        made.append(receiver)
        return receiver.start() if start else receiver

    yield make
    for receiver in made:
        receiver.stop()


def point(world: World, unit: str, receiver: WebhookReceiver) -> None:
    """Give `unit` the receiver's URL as its webhook."""
    with world.engine.begin() as connection:
        connection.execute(
            update(DepartmentUnit)
            .where(DepartmentUnit.code == unit)
            .values(webhook_url=receiver.url, webhook_secret="test-secret")
        )


def file_events(world: World, unit: str, count: int) -> None:
    """File `count` events (committed, due now) inside `unit`'s jurisdiction."""
    west = 111.28 + UNITS.index(unit) * SIDE
    with Session(world.engine) as session, session.begin():
        for i in range(count):
            report = EventReport(
                category="0101",
                lon=west + 0.0005 + (i % 5) * 0.0007,
                lat=30.7005 + (i // 5) * 0.0007,
                description="可疑人员",
            )
            event = report_event(session, actor=world.reporter, report=report)
            assert event.unit is not None and event.unit.code == unit


def rows(world: World, unit: str | None = None) -> list[Outbox]:
    with Session(world.engine) as session:
        query = select(Outbox).order_by(Outbox.id)
        if unit is not None:
            query = query.where(Outbox.unit_id == world.unit_ids[unit])
        return list(session.scalars(query))


def attempts_of(world: World, outbox_id: int) -> list[DeliveryAttempt]:
    with Session(world.engine) as session:
        return list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.outbox_id == outbox_id)
                .order_by(DeliveryAttempt.id)
            )
        )


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def pull_forward(world: World, unit: str) -> None:
    """Time passes: the unit's pending rows (recorded, not leased) become due now."""
    with world.engine.begin() as connection:
        connection.execute(
            update(Outbox)
            .where(Outbox.unit_id == world.unit_ids[unit], Outbox.status == DeliveryStatus.PENDING)
            .values(next_attempt_at=func.now())
        )


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def wait_ready(self) -> None:
        wait_until(lambda: "delivering webhooks" in self.output(), 60, "the worker to start")

    def memory_peak_kb(self) -> int:
        """The worker's peak resident memory (VmHWM), in kB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1])


def gridgov(*args: str) -> list[str]:
    """The `gridgov` command line, run by this interpreter from this checkout."""
    return [sys.executable, "-c", "from api.cli import app; app()", *args]


def environment(world: World, **extra: str) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": world.url,
        "PYTHONPATH": str(PROJECT),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        **extra,
    }


@contextmanager
def running_worker(
    world: World, tmp_path: Path, name: str, *, deadline_s: float, concurrency: int = 4
) -> Iterator[Worker]:
    """`gridgov worker` in a subprocess, killed afterwards if it is still running."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            gridgov("worker", "--poll", "0.2"),
            cwd=PROJECT,
            env=environment(
                world,
                WEBHOOK_DEADLINE_S=str(deadline_s),
                WEBHOOK_CONCURRENCY=str(concurrency),
            ),
            stdout=stdout,
            stderr=stderr,
        )
    worker = Worker(process, out, err)
    try:
        yield worker
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def run_cli(world: World, *args: str) -> str:
    done = subprocess.run(
        gridgov(*args),
        cwd=PROJECT,
        env=environment(world),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stop(worker: Worker) -> float:
    """SIGTERM the worker; how many seconds it took to exit (it must exit cleanly)."""
    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    worker.process.wait(timeout=30)
    took = time.monotonic() - started
    assert worker.process.returncode == 0, worker.output()
    return took


# --- the scenarios --------------------------------------------------------------------------


def test_bad_receivers_do_not_hold_up_a_healthy_one_and_nothing_is_lost(world, receivers, tmp_path):
    down = receivers(start=False)  # its port is closed until it comes back
    slow = receivers("trickle", trickle_every_s=0.5)
    failing = receivers("error")
    huge = receivers("huge")
    healthy = receivers("healthy")
    for unit, receiver in zip(UNITS, (down, slow, failing, huge, healthy), strict=True):
        point(world, unit, receiver)
    # The bad receivers' rows are the oldest: a worker that serves them first must still
    # serve the healthy receiver in time.
    for unit in UNITS:
        file_events(world, unit, 3)
    healthy_ids = {str(r.id) for r in rows(world, "PS-OK")}

    with running_worker(world, tmp_path, "first", deadline_s=6) as worker:
        worker.wait_ready()
        started = time.monotonic()
        assert healthy.wait_for(lambda r: set(r.receipts) >= healthy_ids, timeout_s=5), (
            f"the healthy receiver got {healthy.receipts} of {healthy_ids}: "
            + worker.output()[-2000:]
        )
        assert time.monotonic() - started < 5

        # Every bad receiver's rows have a first attempt logged; none was lost.
        wait_until(
            lambda: all(
                r.attempts >= 1 for r in rows(world) if r.unit_id != world.unit_ids["PS-OK"]
            ),
            30,
            "a first attempt at every row",
        )
        by_unit = {unit: rows(world, unit) for unit in UNITS}
        assert all(r.status is DeliveryStatus.DELIVERED for r in by_unit["PS-OK"])
        assert all(n == 1 for n in healthy.deliveries().values())

        # The trickling receiver was cut off at the 6 s deadline, not waited on for ever.
        first_slow = by_unit["PS-SLOW"][0]
        [cut] = attempts_of(world, first_slow.id)
        assert "timed out after 6 s" in (cut.error or "") and cut.status_code is None
        assert 5_500 <= cut.duration_ms <= 9_000
        assert all(r.status is DeliveryStatus.PENDING for r in by_unit["PS-SLOW"])

        # The huge answer was read only as far as the log needs: the worker hung up.
        first_huge = attempts_of(world, by_unit["PS-HUGE"][0].id)[0]
        assert first_huge.status_code == 500
        assert len(first_huge.error or "") <= ERROR_BODY_CHARS + 40
        pull_forward(world, "PS-HUGE")
        assert huge.wait_for(lambda r: len(set(r.receipts)) == 3, timeout_s=15)
        wait_until(
            lambda: all(r.status is DeliveryStatus.DELIVERED for r in rows(world, "PS-HUGE")),
            15,
            "huge answers recorded as delivered",
        )
        assert huge.bytes_sent < HUGE_BODY_BYTES // 8
        assert worker.memory_peak_kb() < 300_000  # a 512 MB answer did not land in memory

        # The failing receiver is retried with waits that double.
        assert_backs_off(world, "PS-500", failures=4)
        assert all("HTTP 500" in (r.last_error or "") for r in rows(world, "PS-500"))

        # The receiver that is down: an hour of simulated time, retried with growing waits.
        waits = assert_backs_off(world, "PS-DOWN", failures=8)
        assert len(waits) == 8 and sum(waits[:-1], timedelta()) >= timedelta(hours=1)
        assert all(r.status is DeliveryStatus.PENDING for r in rows(world, "PS-DOWN"))
        assert all("could not connect" in (r.last_error or "") for r in rows(world, "PS-DOWN"))
        # ... and on for 48 h (the attempts that take), after which its rows are dead letters.
        with world.engine.begin() as connection:
            connection.execute(
                update(Outbox)
                .where(Outbox.unit_id == world.unit_ids["PS-DOWN"])
                .values(attempts=MAX_ATTEMPTS - 1)
            )
        pull_forward(world, "PS-DOWN")
        wait_until(
            lambda: all(r.status is DeliveryStatus.DEAD for r in rows(world, "PS-DOWN")),
            15,
            "the down receiver's rows to be given up",
        )
        dead_ids = [str(r.id) for r in rows(world, "PS-DOWN")]
        listed = run_cli(world, "worker", "dead", "--unit", "PS-DOWN")
        assert all(i in listed for i in dead_ids) and "could not connect" in listed

        # It comes back; the admin replays the dead letters; the running worker sends them.
        down.start()
        assert "queued 3 deliveries again" in run_cli(
            world, "worker", "replay", "--dead", "--unit", "PS-DOWN"
        )
        assert down.wait_for(lambda r: set(r.receipts) == set(dead_ids), timeout_s=15)
        wait_until(
            lambda: all(r.status is DeliveryStatus.DELIVERED for r in rows(world, "PS-DOWN")),
            15,
            "replayed rows recorded as delivered",
        )
        assert "no dead letters" in run_cli(world, "worker", "dead")
        took = stop(worker)
    assert took < 8  # at most the trickling delivery's grace, not its whole deadline

    # Nothing lost: every row is delivered or still pending with each attempt logged.
    for row in rows(world):
        log = attempts_of(world, row.id)
        assert row.status in (DeliveryStatus.DELIVERED, DeliveryStatus.PENDING)
        if row.unit_id == world.unit_ids["PS-DOWN"]:
            assert len(log) == 8 + 1 + 1  # an hour, the 48th hour, the replay
        elif row.unit_id != world.unit_ids["PS-SLOW"]:
            assert len(log) == row.attempts
        if row.status is DeliveryStatus.DELIVERED:
            assert log[-1].status_code == 200
    for receiver in (down, huge, healthy):
        assert all(n == 1 for n in receiver.deliveries().values())


def assert_backs_off(world: World, unit: str, *, failures: int) -> list[timedelta]:
    """Let `unit`'s rows fail `failures` times in all, moving time on after each but the last.

    Returns the waits the worker scheduled after each failure.
    """
    waits: list[timedelta] = []
    first = rows(world, unit)[0].attempts  # failures so far (at least one)
    for n in range(first, failures + 1):
        if n > first:
            pull_forward(world, unit)

        def failed(n: int = n) -> bool:
            return all(r.attempts >= n for r in rows(world, unit))

        wait_until(failed, 15, f"failure {n} at {unit}")
        row = rows(world, unit)[0]
        last = attempts_of(world, row.id)[-1]
        wait = row.next_attempt_at - last.at
        nominal = retry_delay(row.attempts, jitter=False)
        assert nominal <= wait <= nominal * 1.1 + timedelta(seconds=1), (n, wait)
        waits.append(wait)
    assert waits == sorted(waits) and waits[-1] > waits[0]
    return waits


def test_sigterm_mid_trickle_stops_at_once_and_the_row_is_delivered_later(
    world, receivers, tmp_path
):
    slow = receivers("trickle", trickle_every_s=0.5)
    point(world, "PS-SLOW", slow)
    file_events(world, "PS-SLOW", 1)
    [row] = rows(world, "PS-SLOW")

    with running_worker(world, tmp_path, "stopped", deadline_s=30) as worker:
        worker.wait_ready()
        assert slow.wait_for(lambda r: r.in_progress == 1, timeout_s=15), worker.output()
        time.sleep(1)  # well into the trickle
        took = stop(worker)
    assert took < 5, f"took {took:.1f} s to stop; the delivery deadline is 30 s"
    assert "1 released" in worker.output()

    [handed_back] = rows(world, "PS-SLOW")
    assert handed_back.status is DeliveryStatus.PENDING and handed_back.attempts == 0
    assert handed_back.next_attempt_at <= datetime.now(UTC)  # due again at once
    [interrupted] = attempts_of(world, row.id)
    assert "interrupted" in (interrupted.error or "")

    slow.mode = "healthy"
    with running_worker(world, tmp_path, "next", deadline_s=30) as worker:
        worker.wait_ready()
        assert slow.wait_for(lambda r: r.receipts == [str(row.id)], timeout_s=15), worker.output()
        wait_until(
            lambda: rows(world, "PS-SLOW")[0].status is DeliveryStatus.DELIVERED,
            15,
            "the handed-back row recorded as delivered",
        )
        stop(worker)


def test_two_workers_at_once_never_deliver_the_same_row_twice(world, receivers, tmp_path):
    units = UNITS[1:]
    healthy = {unit: receivers("healthy", delay_s=0.1) for unit in units}
    for unit, receiver in healthy.items():
        point(world, unit, receiver)

    with ExitStack() as stack:
        workers = [
            stack.enter_context(running_worker(world, tmp_path, name, deadline_s=10, concurrency=2))
            for name in ("a", "b")
        ]
        for worker in workers:
            worker.wait_ready()
        for unit in units:
            file_events(world, unit, 10)
        expected = {str(r.id) for r in rows(world)}
        assert len(expected) == 40
        wait_until(
            lambda: all(r.status is DeliveryStatus.DELIVERED for r in rows(world)),
            60,
            "every row delivered",
        )
        for worker in workers:
            stop(worker)
    received = sum((r.deliveries() for r in healthy.values()), Counter[str]())
    assert set(received) == expected
    assert all(n == 1 for n in received.values()), received
    delivered_by = [_delivered(worker.output()) for worker in workers]
    assert sum(delivered_by) == 40 and all(n > 0 for n in delivered_by), delivered_by


def _delivered(output: str) -> int:
    """The worker's own total: `stopped: N due, M delivered, …`."""
    line = next(line for line in output.splitlines() if line.startswith("stopped:"))
    return int(line.split(",")[1].split()[0])
