"""Delivering the outbox: signed webhooks to a real local receiver, retries, leases, replay.

The worker commits, so these tests use a database of their own (`<test db>_outbox`) that is
emptied of events after each test, and a real HTTP server on 127.0.0.1 as the receiver.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text, update
from sqlalchemy.orm import Session

from events.dead_letters import dead_letters, replay
from events.delivery import DeliveryReport, deliver_due, run_worker
from events.exceptions import InvalidReport, NotFound
from events.models import DeliveryAttempt, DeliveryStatus, DepartmentUnit, Outbox
from events.outbox import MAX_ATTEMPTS, NO_WEBHOOK, RETRY_FOR, claim_due, release, retry_delay
from events.reference import load_reference_data
from events.schemas import EventReport
from events.service import report_event
from events.webhooks import verify_signature
from gis import local_pg
from gis.db import session_factory
from people.access import Actor
from people.exceptions import Forbidden
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
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Yichang
SECRET = "test-secret"


# --- a real receiver ------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes

    @property
    def delivery(self) -> str:
        return self.headers["x-gridgov-delivery"]

    @property
    def step(self) -> tuple[str, str]:
        return self.headers["x-gridgov-event"], self.headers["x-gridgov-step"]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records requests, answers scripted statuses."""

    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay_s: float = 0.0
    in_flight: Counter[str] = field(default_factory=Counter)
    overlaps: list[str] = field(default_factory=list)  # deliveries posted twice at once
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/gridgov"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Received({k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.requests.append(request)
                    receiver.in_flight[request.delivery] += 1
                    if receiver.in_flight[request.delivery] > 1:
                        receiver.overlaps.append(request.delivery)
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                try:
                    time.sleep(receiver.delay_s)
                    answer = b"ok" if status < 300 else b"receiver broke"
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                finally:
                    with receiver.lock:
                        receiver.in_flight[request.delivery] -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the worker hung up on a slow answer: expected in the timeout tests

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def deliveries(self) -> Counter[str]:
        return Counter(r.delivery for r in self.requests)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- a committed database with a small city -------------------------------------------------


@dataclass(frozen=True)
class World:
    url: str
    engine: Engine
    worker: Actor
    admin: Actor
    dispatcher: Actor
    police_id: int


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[World]:
    """A database of its own: the worker commits, so it must not share the test database."""
    text_url = fresh_database(database_url, "_outbox")
    engine = create_engine(text_url)
    with Session(engine) as session, session.begin():
        admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
        add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.02))
        load_reference_data(session)
        police = add_unit(
            session,
            "PS-W",
            "police",
            geom=square(111.27, 30.69, 0.05),
            webhook_url="http://127.0.0.1:9/not-yet",
        )
        add_unit(session, "ZJ-1", "housing", geom=square(111.27, 30.69, 0.05))  # no webhook
        created = World(
            url=text_url,
            engine=engine,
            worker=add_staff(session, "worker1", "grid_worker", grid_codes=[COMMUNITY + "001"]),
            admin=add_staff(session, "admin1", "admin"),
            dispatcher=add_staff(session, "disp1", "dispatcher", department_unit_id=police.id),
            police_id=police.id,
        )
    yield created
    engine.dispose()
    local_pg.drop_database(text_url)


@pytest.fixture(autouse=True)
def no_events_left(world: World) -> Iterator[None]:
    yield
    with world.engine.begin() as connection:
        connection.execute(text("TRUNCATE event CASCADE"))


@pytest.fixture
def receiver(world: World) -> Iterator[Receiver]:
    """A running receiver that the police station's webhook points at."""
    server = Receiver(port=free_port())
    server.start()
    point_police_at(world, server.url)
    yield server
    server.stop()


def point_police_at(world: World, url: str | None, secret: str | None = SECRET) -> None:
    with world.engine.begin() as connection:
        connection.execute(
            update(DepartmentUnit)
            .where(DepartmentUnit.id == world.police_id)
            .values(webhook_url=url, webhook_secret=secret)
        )


def file_events(
    world: World, count: int = 1, *, category: str = "0101", now: datetime | None = T0
) -> list[str]:
    """File `count` events (committed); each queues its webhooks. Returns the event codes."""
    codes = []
    with Session(world.engine) as session, session.begin():
        for i in range(count):
            report = EventReport(
                category=category, lon=111.281 + i * 0.0007, lat=30.705, description="可疑人员"
            )
            codes.append(report_event(session, actor=world.worker, report=report, now=now).code)
    return codes


def outbox_rows(world: World) -> list[Outbox]:
    with Session(world.engine) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def attempts_of(world: World, outbox_id: int) -> list[DeliveryAttempt]:
    with Session(world.engine) as session:
        return list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.outbox_id == outbox_id)
                .order_by(DeliveryAttempt.id)
            )
        )


# --- the tests ------------------------------------------------------------------------------


def test_delivery_is_signed_and_names_event_step_and_delivery(world, receiver):
    [code] = file_events(world)
    report = deliver_due(world.engine, now=T0, timeout_s=5)
    assert (report.claimed, report.delivered, report.failed) == (1, 1, 0)

    [request] = receiver.requests
    [row] = outbox_rows(world)
    payload = json.loads(request.body.decode("utf-8"))
    assert payload["event_code"] == code and payload["unit"] == "PS-W"
    assert request.headers["x-gridgov-event"] == code
    assert request.headers["x-gridgov-step"] == str(row.step_id) == str(payload["step_id"])
    assert request.headers["x-gridgov-delivery"] == str(row.id)
    assert request.headers["x-gridgov-kind"] == "dispatch"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    timestamp, signature = (
        request.headers["x-gridgov-timestamp"],
        request.headers["x-gridgov-signature"],
    )
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert not verify_signature(
        SECRET, timestamp, request.body.replace(b"PS-W", b"PS-X"), signature
    )
    assert not verify_signature("another-secret", timestamp, request.body, signature)
    assert not verify_signature(SECRET, int(timestamp) - 3600, request.body, signature)

    assert row.status is DeliveryStatus.DELIVERED and row.delivered_at == T0
    [attempt] = attempts_of(world, row.id)
    assert attempt.status_code == 200 and attempt.error is None and attempt.duration_ms >= 0


def test_receiver_answering_500_is_retried_with_backoff_until_it_answers_200(world, receiver):
    receiver.statuses = [500, 500]
    file_events(world)

    first = deliver_due(world.engine, now=T0, timeout_s=5)
    [row] = outbox_rows(world)
    assert (first.failed, row.status, row.attempts) == (1, DeliveryStatus.PENDING, 1)
    assert "HTTP 500" in (row.last_error or "") and "receiver broke" in (row.last_error or "")
    assert T0 + timedelta(seconds=30) <= row.next_attempt_at <= T0 + timedelta(seconds=33)

    assert deliver_due(world.engine, now=T0 + timedelta(seconds=20)).claimed == 0  # not yet

    second_at = row.next_attempt_at
    assert deliver_due(world.engine, now=second_at, timeout_s=5).failed == 1
    [row] = outbox_rows(world)
    assert row.attempts == 2
    assert second_at + timedelta(seconds=60) <= row.next_attempt_at
    assert row.next_attempt_at <= second_at + timedelta(seconds=66)

    third = deliver_due(world.engine, now=row.next_attempt_at, timeout_s=5)
    [row] = outbox_rows(world)
    assert third.delivered == 1 and row.status is DeliveryStatus.DELIVERED
    assert [a.status_code for a in attempts_of(world, row.id)] == [500, 500, 200]
    assert [r.headers["x-gridgov-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert set(receiver.deliveries()) == {str(row.id)}


def test_receiver_that_times_out_is_retried_and_can_deduplicate(world, receiver):
    receiver.delay_s = 1.5
    file_events(world)

    started = time.monotonic()
    report = deliver_due(world.engine, now=T0, timeout_s=0.3)
    assert time.monotonic() - started < 1.4  # the worker gave up waiting, it did not hang
    [row] = outbox_rows(world)
    assert report.failed == 1 and row.status is DeliveryStatus.PENDING
    assert "timed out after 0.3 s" in (row.last_error or "")
    [attempt] = attempts_of(world, row.id)
    assert attempt.status_code is None and "timed out" in (attempt.error or "")

    receiver.delay_s = 0
    assert deliver_due(world.engine, now=row.next_attempt_at, timeout_s=5).delivered == 1
    # The slow first answer arrived too: the receiver holds it twice, under one delivery id.
    assert receiver.deliveries() == Counter({str(row.id): 2})


def test_one_unreachable_receiver_costs_one_timeout_per_batch_not_one_per_row(world, receiver):
    receiver.delay_s = 1.5
    file_events(world, 3)

    started = time.monotonic()
    report = deliver_due(world.engine, now=T0, timeout_s=0.3)
    assert time.monotonic() - started < 1.4
    assert report.failed == 3 and len(receiver.requests) == 1
    not_sent = [attempts_of(world, row.id)[0].error or "" for row in outbox_rows(world)[1:]]
    assert all(e.startswith("not sent: timed out") for e in not_sent)


def test_receiver_down_for_an_hour_loses_nothing(world):
    down = Receiver(port=free_port())  # nothing listens on its port yet
    point_police_at(world, down.url)
    codes = file_events(world, 3)
    file_events(world, 2, now=T0 + timedelta(minutes=20))  # more arrive while it is down
    expected = {(r.payload["event_code"], str(r.step_id)) for r in outbox_rows(world)}
    assert len(expected) == 5 and {c for c, _ in expected} >= set(codes)

    now = T0
    while now < T0 + timedelta(hours=1):  # a worker polling every minute for an hour
        report = deliver_due(world.engine, now=now, timeout_s=2)
        assert report.delivered == 0
        now += timedelta(minutes=1)
    rows = outbox_rows(world)
    assert all(r.status is DeliveryStatus.PENDING and r.attempts >= 3 for r in rows)
    assert all("could not connect" in (r.last_error or "") for r in rows)

    down.start()  # back up
    try:
        while now < T0 + timedelta(hours=3) and any(
            r.status is DeliveryStatus.PENDING for r in outbox_rows(world)
        ):
            deliver_due(world.engine, now=now, timeout_s=2)
            now += timedelta(minutes=1)
    finally:
        down.stop()
    rows = outbox_rows(world)
    assert all(r.status is DeliveryStatus.DELIVERED for r in rows)
    assert {r.step for r in down.requests} == expected  # none lost
    assert all(n == 1 for n in down.deliveries().values())  # and each arrived once
    for row in rows:
        log = attempts_of(world, row.id)
        assert len(log) == row.attempts and log[-1].status_code == 200
        assert all(a.status_code is None for a in log[:-1])


def test_two_workers_never_post_the_same_row_at_the_same_time(world, receiver):
    receiver.delay_s = 0.1
    file_events(world, 12)
    start = threading.Barrier(2)
    done: dict[str, int] = {}

    def work(name: str) -> None:
        start.wait()
        delivered = 0
        for _ in range(200):  # bounded, so a regression fails instead of hanging
            report = deliver_due(world.engine, now=T0, batch=2, timeout_s=5)
            delivered += report.delivered
            if not report.claimed:
                # Nothing claimed: all done, or the other worker held the rows just then.
                if all(r.status is DeliveryStatus.DELIVERED for r in outbox_rows(world)):
                    break
                time.sleep(0.05)
        done[name] = delivered

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert done["a"] + done["b"] == 12
    assert receiver.overlaps == []
    assert sorted(receiver.deliveries().values()) == [1] * 12
    assert all(r.status is DeliveryStatus.DELIVERED for r in outbox_rows(world))


def test_rows_of_a_worker_that_died_after_claiming_are_posted_after_the_lease(world, receiver):
    file_events(world, 2)
    claims = claim_due(world.engine, now=T0, timeout_s=5)  # ... and the worker dies here
    assert len(claims) == 2

    assert deliver_due(world.engine, now=T0 + timedelta(seconds=30)).claimed == 0
    lease = claims[0].lease_until
    report = deliver_due(world.engine, now=lease, timeout_s=5)
    assert report.delivered == 2 and sorted(receiver.deliveries().values()) == [1, 1]


def test_unit_without_webhook_is_left_for_the_app_and_logged(world, receiver):
    file_events(world, category="0107")  # police lead (webhook), housing assists (none)
    report = deliver_due(world.engine, now=T0, timeout_s=5)
    assert (report.delivered, report.no_webhook) == (1, 1)
    housing = next(r for r in outbox_rows(world) if r.payload["unit"] == "ZJ-1")
    assert housing.status is DeliveryStatus.DELIVERED and housing.last_error == NO_WEBHOOK
    [attempt] = attempts_of(world, housing.id)
    assert attempt.status_code is None and attempt.error == NO_WEBHOOK
    assert [json.loads(r.body)["unit"] for r in receiver.requests] == ["PS-W"]


def test_webhook_without_secret_is_not_sent_unsigned_but_kept_for_later(world, receiver):
    point_police_at(world, receiver.url, secret=None)
    file_events(world)
    report = deliver_due(world.engine, now=T0, timeout_s=5)
    [row] = outbox_rows(world)
    assert report.failed == 1 and receiver.requests == []
    assert "no webhook secret" in (row.last_error or "")

    point_police_at(world, receiver.url)
    assert deliver_due(world.engine, now=row.next_attempt_at, timeout_s=5).delivered == 1


def test_retry_delay_doubles_from_30_seconds_to_at_most_an_hour():
    plain = [retry_delay(n, jitter=False).total_seconds() for n in range(1, 10)]
    assert plain == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    for n in (1, 5, 40):
        nominal = retry_delay(n, jitter=False)
        assert nominal <= retry_delay(n) <= nominal * 1.1
    assert sum((retry_delay(n, jitter=False) for n in range(1, MAX_ATTEMPTS)), timedelta()) >= (
        RETRY_FOR
    )


def test_failures_are_retried_for_48_hours_before_the_row_is_given_up(world):
    point_police_at(world, f"http://127.0.0.1:{free_port()}/gone")
    file_events(world)
    now = T0
    while (row := outbox_rows(world)[0]).status is DeliveryStatus.PENDING:
        assert now - T0 < RETRY_FOR + timedelta(hours=6)
        now = row.next_attempt_at
        deliver_due(world.engine, now=now, timeout_s=1)
    assert row.status is DeliveryStatus.DEAD and row.attempts == MAX_ATTEMPTS
    assert now - T0 >= RETRY_FOR
    assert len(attempts_of(world, row.id)) == MAX_ATTEMPTS


def test_admin_replay_sends_again_and_other_roles_are_refused(world, receiver):
    [code] = file_events(world)
    deliver_due(world.engine, now=T0, timeout_s=5)
    [row] = outbox_rows(world)

    with Session(world.engine) as session, session.begin(), pytest.raises(Forbidden):
        replay(session, actor=world.dispatcher, event_code=code)
    assert outbox_rows(world)[0].status is DeliveryStatus.DELIVERED

    later = T0 + timedelta(days=1)
    with Session(world.engine) as session, session.begin():
        assert replay(session, actor=world.admin, event_code=code, now=later) == [row.id]
    [queued] = outbox_rows(world)
    assert queued.status is DeliveryStatus.PENDING and queued.next_attempt_at == later
    assert "replayed by admin1" in (queued.last_error or "")

    assert deliver_due(world.engine, now=later, timeout_s=5).delivered == 1
    assert receiver.deliveries() == Counter({str(row.id): 2})  # same delivery id: de-dupable
    assert len(attempts_of(world, row.id)) == 2


def test_replay_names_what_is_missing(world, receiver):
    file_events(world)
    with Session(world.engine) as session, session.begin():
        with pytest.raises(InvalidReport, match="either outbox ids, an event code or dead=True"):
            replay(session, actor=world.admin)
        with pytest.raises(NotFound, match="event 420502-x does not exist"):
            replay(session, actor=world.admin, event_code="420502-x")
        with pytest.raises(NotFound, match="outbox rows 999999 do not exist"):
            replay(session, actor=world.admin, outbox_ids=[999999])
        [row] = session.scalars(select(Outbox))
        assert replay(session, actor=world.admin, outbox_ids=[row.id]) == []  # still pending


def test_run_worker_delivers_until_stopped(world, receiver):
    file_events(world, now=None)  # due now on the real clock
    stop = threading.Event()
    batches: list[DeliveryReport] = []
    thread = threading.Thread(
        target=run_worker,
        kwargs={"poll_s": 0.1, "stop": stop, "engine": world.engine, "on_batch": batches.append},
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(receiver.requests) == 1 and [b.delivered for b in batches] == [1]


def worker_process(world: World, *args: str) -> subprocess.Popen[str]:
    """`gridgov worker` as a separate process."""
    return subprocess.Popen(
        [sys.executable, "-c", "from api.cli import app; app()", "worker", *args],
        cwd=PROJECT,
        env=os.environ | {"DATABASE_URL": world.url, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_worker_command_once_prints_the_batch(world, receiver):
    file_events(world, 2, now=None)
    out, err = worker_process(world, "--once").communicate(timeout=60)
    assert "2 due, 2 delivered, 0 failed" in out, err
    assert len(receiver.requests) == 2


def test_worker_command_stops_cleanly_on_sigterm(world, receiver):
    file_events(world, now=None)
    process = worker_process(world, "--poll", "0.2")
    try:
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the worker delivered nothing"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "1 due, 1 delivered" in out and "stopped: 1 due, 1 delivered" in out


def test_worker_command_on_an_unreachable_database_says_so_and_exits(world):
    dead = replace(world, url="postgresql://postgres@127.0.0.1:1/nowhere")
    process = worker_process(dead)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "database is not reachable" in err and "Traceback" not in err


# --- deadlines, fairness, stopping, dead letters ---------------------------------------------


def in_thread(target: Any, **kwargs: Any) -> tuple[threading.Thread, list[Any]]:
    """Run `target(**kwargs)` in a thread; the list gets its result."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(target(**kwargs)), daemon=True)
    thread.start()
    return thread, result


def test_trickling_receiver_is_cut_off_at_the_total_deadline(world):
    trickle = WebhookReceiver("trickle", trickle_every_s=0.2).start()
    try:
        point_police_at(world, trickle.url)
        file_events(world)
        thread, result = in_thread(
            deliver_due, engine_or_session_factory=world.engine, now=T0, timeout_s=1
        )
        thread.join(timeout=15)  # a byte every 0.2 s never trips a per-read timeout
        assert not thread.is_alive(), "the delivery was not cut off at its deadline"
    finally:
        trickle.stop()
    [report] = result
    [row] = outbox_rows(world)
    assert report.failed == 1 and row.status is DeliveryStatus.PENDING and row.attempts == 1
    [attempt] = attempts_of(world, row.id)
    assert "timed out after 1 s" in (attempt.error or "") and attempt.status_code is None
    assert 900 <= attempt.duration_ms < 5_000


def test_huge_error_answer_is_read_only_as_far_as_the_log_needs(world):
    huge = WebhookReceiver("huge").start()  # 500 with a 512 MB body, then 200 with another
    try:
        point_police_at(world, huge.url)
        file_events(world)
        assert deliver_due(world.engine, now=T0, timeout_s=10).failed == 1
        [row] = outbox_rows(world)
        assert (row.last_error or "").startswith("HTTP 500 Internal Server Error: xxx")
        assert len(row.last_error or "") < 250
        assert deliver_due(world.engine, now=row.next_attempt_at, timeout_s=10).delivered == 1
        time.sleep(0.2)  # let the receiver notice the hang-ups
    finally:
        huge.stop()
    assert huge.bytes_sent < HUGE_BODY_BYTES // 8  # the worker hung up, it did not read it all


def test_claims_take_receivers_in_turn_so_a_backlog_cannot_starve_another(world):
    file_events(world, 5)  # the police station has a backlog
    file_events(world, category="0107", now=T0 + timedelta(minutes=1))  # + housing, newer
    police, housing = (
        world.police_id,
        next(r.unit_id for r in outbox_rows(world) if r.payload["unit"] == "ZJ-1"),
    )
    later = T0 + timedelta(minutes=2)

    claims = claim_due(world.engine, now=later, batch=2, timeout_s=1)
    assert sorted(c.unit_id for c in claims) == sorted([police, housing])
    release(session_factory(world.engine), claims)

    claims = claim_due(world.engine, now=later, batch=100, per_receiver=2, timeout_s=1)
    assert [c.unit_id for c in claims].count(police) == 2 and len(claims) == 3
    release(session_factory(world.engine), claims)

    # A worker posting to the police already, or that served it last, takes housing first.
    [claim] = claim_due(world.engine, now=later, receivers=1, skip_units={police}, timeout_s=1)
    assert claim.unit_id == housing
    release(session_factory(world.engine), [claim])
    claims = claim_due(world.engine, now=later, receivers=1, served=[housing, police])
    assert {c.unit_id for c in claims} == {housing}
    claims += claim_due(world.engine, now=later, receivers=1, served=[police, housing])
    assert {c.unit_id for c in claims} == {housing, police}


def test_stopping_cuts_a_delivery_in_flight_and_hands_its_row_back(world):
    trickle = WebhookReceiver("trickle", trickle_every_s=0.2).start()
    stop = threading.Event()
    try:
        point_police_at(world, trickle.url)
        file_events(world, 2)
        thread, result = in_thread(
            deliver_due, engine_or_session_factory=world.engine, now=T0, timeout_s=60, stop=stop
        )
        assert trickle.wait_for(lambda r: r.in_progress == 1, timeout_s=10)
        stop.set()
        thread.join(timeout=10)  # the grace, not the 60 s deadline
        assert not thread.is_alive()
    finally:
        trickle.stop()
    [report] = result
    assert (report.claimed, report.released, report.failed) == (2, 2, 0)
    for row in outbox_rows(world):  # due again at once, no retry used up
        assert row.status is DeliveryStatus.PENDING and row.attempts == 0
        assert row.next_attempt_at == T0
    [first, second] = outbox_rows(world)
    [cut] = attempts_of(world, first.id)
    assert "interrupted" in (cut.error or "") and attempts_of(world, second.id) == []


def test_dead_letters_are_listed_for_admins_and_replayed_by_unit(world, receiver):
    file_events(world, 2)
    with world.engine.begin() as connection:
        connection.execute(
            update(Outbox).values(status=DeliveryStatus.DEAD, last_error="could not connect")
        )
    ids = [r.id for r in outbox_rows(world)]
    with Session(world.engine) as session, session.begin():
        letters = dead_letters(session, actor=world.admin)
        assert [d.outbox_id for d in letters] == ids and letters[0].unit_code == "PS-W"
        assert dead_letters(session, actor=world.admin, unit_code="ZJ-1") == []
        with pytest.raises(Forbidden):
            dead_letters(session, actor=world.dispatcher)
        with pytest.raises(InvalidReport, match="dead letters only"):
            replay(session, actor=world.admin, event_code="x", unit_code="PS-W")
        with pytest.raises(NotFound, match="unit PS-X does not exist"):
            replay(session, actor=world.admin, dead=True, unit_code="PS-X")
        assert replay(session, actor=world.admin, dead=True, unit_code="ZJ-1", now=T0) == []
        assert replay(session, actor=world.admin, dead=True, unit_code="PS-W", now=T0) == ids
    assert deliver_due(world.engine, now=T0, timeout_s=5).delivered == 2
    assert sorted(receiver.deliveries().values()) == [1, 1]
    with Session(world.engine) as session:
        assert dead_letters(session, actor=world.admin) == []
