"""Delivering claimed outbox rows: each receiver's rows in turn, receivers in parallel, and the
worker loop (`gridgov worker`) that keeps every thread busy until it is stopped.

How rows are claimed, retried and given up, and the guarantees a receiver gets: `events.outbox`.

**Stopping.** SIGINT/SIGTERM (or `stop`) end claiming at once; a request in flight gets
`STOP_GRACE_S` to finish, then its connection is cut and the row is handed back as due.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from events.models import DeliveryStatus
from events.outbox import (
    NO_WEBHOOK,
    PER_RECEIVER,
    SessionFactory,
    aware,
    claim_due,
    factory_of,
    lease_for,
    record,
    release,
)
from events.webhooks import Claim, Outcome, deadline_s_or_setting, post
from gis.config import get_settings
from gis.db import get_engine, session_factory

log = logging.getLogger(__name__)

# How many receivers this worker remembers for its round-robin order.
SERVED_MEMORY = 10_000


@dataclass
class DeliveryReport:
    """What one `deliver_due` call (or a whole worker run) did."""

    claimed: int = 0
    delivered: int = 0
    failed: int = 0  # will be retried
    dead: int = 0  # given up after RETRY_FOR of failures
    no_webhook: int = 0  # unit has no URL: left for the app, marked delivered
    released: int = 0  # claimed but handed back unsent (worker stopping, lease running out)
    lost: int = 0  # result not recorded: the row changed under us (lease expired, replay)

    def add(self, other: DeliveryReport) -> None:
        """Add `other`'s counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> str:
        """One line for logs and the CLI."""
        parts = [f"{self.claimed} due", f"{self.delivered} delivered", f"{self.failed} failed"]
        for name in ("dead", "no_webhook", "released", "lost"):
            if value := getattr(self, name):
                parts.append(f"{value} {name.replace('_', ' ')}")
        return ", ".join(parts)


def _count(
    report: DeliveryReport, claim: Claim, outcome: Outcome, status: DeliveryStatus | None
) -> None:
    """Add one recorded attempt to `report` and log what needs a reader."""
    if status is None:
        report.lost += 1
    elif claim.url is None:
        report.no_webhook += 1
        log.info("outbox %s: %s (unit %s)", claim.outbox_id, NO_WEBHOOK, claim.unit_code)
    elif status is DeliveryStatus.DELIVERED:
        report.delivered += 1
    elif status is DeliveryStatus.DEAD:
        report.dead += 1
        log.error(
            "outbox %s to %s given up after %s attempts: %s",
            claim.outbox_id,
            claim.unit_code,
            claim.attempts + 1,
            outcome.error,
        )
    else:
        report.failed += 1
        log.warning("outbox %s to %s failed: %s", claim.outbox_id, claim.unit_code, outcome.error)


def _deliver_turn(
    factory: SessionFactory,
    claims: Sequence[Claim],
    *,
    clock: Callable[[], datetime],
    deadline_s: float,
    post_until: float,
    stop: threading.Event | None,
) -> DeliveryReport:
    """Post one receiver's claimed rows one after another and record each; hand back the rest.

    Stops early (handing the unsent rows back) when `stop` is set or the monotonic clock
    passes `post_until`, well before the lease runs out.
    """
    report = DeliveryReport(claimed=len(claims))
    unreachable: str | None = None
    for index, claim in enumerate(claims):
        if (stop is not None and stop.is_set()) or time.monotonic() > post_until:
            report.released += release(factory, claims[index:])
            break
        at = clock()
        if claim.url is None:
            outcome = Outcome(None, NO_WEBHOOK, 0)
        elif unreachable is not None:
            outcome = Outcome(None, f"not sent: {unreachable} (earlier in this turn)", 0)
        else:
            outcome = post(claim, timeout_s=deadline_s, stop=stop)
            if outcome.interrupted:
                report.released += release(factory, [claim], interrupted=outcome, at=at)
                continue  # the loop hands back the rest: `stop` is set
            if outcome.unreachable and outcome.error:
                unreachable = outcome.error
        _count(report, claim, outcome, record(factory, claim, outcome, at=at))
    return report


def _by_receiver(claims: Iterable[Claim]) -> list[list[Claim]]:
    """Claims grouped by unit, in the order the claim put them."""
    groups: dict[int, list[Claim]] = {}
    for claim in claims:
        groups.setdefault(claim.unit_id, []).append(claim)
    return list(groups.values())


def _clock(now: datetime | None) -> Callable[[], datetime]:
    return (lambda: aware(now)) if now else (lambda: datetime.now(UTC))


def deliver_due(
    engine_or_session_factory: Engine | SessionFactory | None,
    *,
    now: datetime | None = None,
    batch: int = 100,
    per_receiver: int = PER_RECEIVER,
    timeout_s: float | None = None,
    concurrency: int | None = None,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Claim due rows fairly, post them (receivers in parallel), record each result; one turn.

    `now` (time-zone aware) fixes the clock for due-ness, backoff and the log; default: the
    real clock at each step. `timeout_s` is the total deadline of one delivery (default
    `WEBHOOK_DEADLINE_S`), `concurrency` the number of receivers posted to at once (default
    `WEBHOOK_CONCURRENCY`). `stop`, when set, hands the rows not yet posted back at once.
    """
    factory = factory_of(engine_or_session_factory)
    clock = _clock(now)
    deadline_s = deadline_s_or_setting(timeout_s)
    claims = claim_due(
        factory, now=clock(), batch=batch, per_receiver=per_receiver, timeout_s=deadline_s
    )
    report = DeliveryReport()
    if not claims:
        return report
    # Stop posting well before the lease runs out, so no other worker can take a row mid-post.
    post_until = time.monotonic() + lease_for(len(claims), deadline_s).total_seconds()
    post_until -= 3 * deadline_s + 5
    turns = _by_receiver(claims)
    threads = min(concurrency or get_settings().webhook_concurrency, len(turns))
    with ThreadPoolExecutor(threads, thread_name_prefix="webhook") as pool:
        futures = [
            pool.submit(
                _deliver_turn,
                factory,
                turn,
                clock=clock,
                deadline_s=deadline_s,
                post_until=post_until,
                stop=stop,
            )
            for turn in turns
        ]
        for future in futures:
            report.add(future.result())
    return report


def run_worker(
    *,
    poll_s: float = 2.0,
    once: bool = False,
    stop: threading.Event | None = None,
    engine: Engine | None = None,
    batch: int = 100,
    timeout_s: float | None = None,
    concurrency: int | None = None,
    on_batch: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Deliver due rows until stopped (SIGINT/SIGTERM or `stop`); `once`: one turn, then return.

    Up to `concurrency` receivers (default `WEBHOOK_CONCURRENCY`) are posted to at once, each
    by its own thread, one request at a time; a thread that finishes a receiver's turn frees its
    place for the next receiver in round-robin order, so a slow receiver never holds up the
    others. `on_batch` gets each finished turn. When nothing is due the loop waits `poll_s`.
    On stop, claiming ends at once and requests in flight get `STOP_GRACE_S` before they are
    cut and handed back. If the database goes away later the loop logs it and keeps trying;
    unreachable on the first claim, it raises. Returns the totals.
    """
    stop = stop or threading.Event()
    factory = session_factory(engine or get_engine())
    deadline_s = deadline_s_or_setting(timeout_s)
    threads = concurrency or get_settings().webhook_concurrency
    totals = DeliveryReport()
    restore = _stop_on_signals(stop)
    try:
        if once:
            report = deliver_due(
                factory, batch=batch, timeout_s=deadline_s, concurrency=threads, stop=stop
            )
            totals.add(report)
            if on_batch is not None:
                on_batch(report)
            return totals
        _serve(
            factory,
            stop=stop,
            poll_s=poll_s,
            batch=batch,
            deadline_s=deadline_s,
            threads=threads,
            totals=totals,
            on_batch=on_batch,
        )
    finally:
        restore()
    return totals


def _serve(
    factory: SessionFactory,
    *,
    stop: threading.Event,
    poll_s: float,
    batch: int,
    deadline_s: float,
    threads: int,
    totals: DeliveryReport,
    on_batch: Callable[[DeliveryReport], None] | None,
) -> None:
    """The worker loop: keep every thread busy with a different receiver's turn until stopped."""
    running: dict[Future[DeliveryReport], int] = {}  # a turn in progress → its unit
    served: list[int] = []  # units in the order this worker last gave them a turn
    reached_database = False

    def collect(done: Iterable[Future[DeliveryReport]]) -> None:
        for future in done:
            running.pop(future)
            try:
                report = future.result()
            except OperationalError as exc:  # its rows stay leased and are retried later
                log.error("database unreachable while recording: %s", str(exc.orig or exc).strip())
                continue
            except Exception:  # one turn's failure must not stop the others' deliveries
                log.exception("a delivery turn failed; its rows are retried when the lease ends")
                continue
            totals.add(report)
            if on_batch is not None:
                on_batch(report)

    with ThreadPoolExecutor(threads, thread_name_prefix="webhook") as pool:
        try:
            while not stop.is_set():
                if free := threads - len(running):
                    try:
                        claims = claim_due(
                            factory,
                            now=datetime.now(UTC),
                            batch=batch,
                            receivers=free,
                            skip_units=set(running.values()),
                            served=served,
                            timeout_s=deadline_s,
                        )
                    except OperationalError as exc:
                        if not reached_database:
                            raise
                        log.error(
                            "database unreachable, retrying: %s", str(exc.orig or exc).strip()
                        )
                        stop.wait(max(poll_s, 5.0))
                        continue
                    reached_database = True
                    turns = _by_receiver(claims)
                    lease_s = lease_for(max((len(t) for t in turns), default=0), deadline_s)
                    post_until = time.monotonic() + lease_s.total_seconds() - 3 * deadline_s - 5
                    for turn in turns:
                        unit_id = turn[0].unit_id
                        future = pool.submit(
                            _deliver_turn,
                            factory,
                            turn,
                            clock=_clock(None),
                            deadline_s=deadline_s,
                            post_until=post_until,
                            stop=stop,
                        )
                        running[future] = unit_id
                        if unit_id in served:
                            served.remove(unit_id)
                        served.append(unit_id)
                    del served[:-SERVED_MEMORY]
                # Every thread busy, or nothing else due: wait for a turn to end or for poll_s.
                if running:
                    done, _ = wait(running, timeout=poll_s, return_when=FIRST_COMPLETED)
                    collect(done)
                else:
                    stop.wait(poll_s)
        finally:
            # Stopping: the turns in flight hand their rows back within STOP_GRACE_S.
            collect(wait(running).done)


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set `stop` (a second SIGINT interrupts at once); returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers can only be installed from the main thread
    previous: dict[int, Any] = {
        sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info(
            "signal %s: claiming no more; deliveries in flight finish or are handed back", signum
        )
        stop.set()
        signal.signal(signum, previous[signum] or signal.SIG_DFL)

    for sig in previous:
        signal.signal(sig, handle)

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler or signal.SIG_DFL)

    return undo


__all__ = ["DeliveryReport", "deliver_due", "run_worker"]
