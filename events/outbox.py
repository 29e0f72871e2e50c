"""Delivering the outbox: HMAC-signed webhooks to department units, retried with backoff.

Every dispatch, return, supervision and closure writes `outbox` rows in the transaction that
changes the event (`events.service.notify`). `gridgov worker` delivers them after commit:

1. **claim** — a short transaction picks due rows (`status = 'pending'`,
   `next_attempt_at <= now`) round-robin by receiver: at most `per_receiver` rows of each unit,
   first rows of every unit before second rows, units this worker served least recently first.
   It locks them with `FOR UPDATE SKIP LOCKED`, moves their `next_attempt_at` forward by a
   lease and commits. Concurrent workers skip each other's rows while claiming and do not see
   leased rows afterwards, so no row is posted by two workers at the same time;
2. **post** — with no transaction open, a small thread pool (`WEBHOOK_CONCURRENCY`) posts
   each receiver's rows in turn, one request in flight per receiver in each worker, so a slow
   receiver holds one thread and never the others. Each delivery has a **total deadline**
   (`WEBHOOK_DEADLINE_S`, 10 s: connect, send and the whole answer): a receiver that trickles
   bytes is cut off at the deadline and the attempt counts as failed. Only the status line,
   the headers and at most `RESPONSE_BODY_CAP` bytes of an error answer are read, so a huge
   answer costs nothing;
3. **record** — a new short transaction per row writes a `delivery_attempt` row (status code,
   error, duration: the delivery log) and updates the outbox row, but only if the lease is still
   ours (the leased `next_attempt_at` is the claim token).

Outcomes: any 2xx marks the row `delivered`. Anything else — another status, a timeout, a
refused connection, a unit with a URL but no secret — counts a failed attempt and schedules the
next one after `retry_delay(attempts)`: 30 s · 2^(attempts-1), capped at 1 h, plus up to 10 %
jitter. A row is given up (`dead`) only after `MAX_ATTEMPTS` failures, which by construction
span at least `RETRY_FOR` (48 h); dead rows stay in the table (`dead_letters`,
`gridgov worker dead`) until an admin replays them (`replay`, `gridgov worker replay`). Within
one turn, once a receiver has timed out or refused the connection, its other claimed rows are
not posted again but counted as failed attempts ("not sent"), so one dead receiver costs one
timeout per turn, not one per row.

**Stopping.** SIGINT/SIGTERM (or `stop`) end claiming at once; a request in flight gets
`STOP_GRACE_S` to finish, then its connection is cut and the row is handed back as due (the
interruption is logged as an attempt that does not count towards the retries), and claimed rows
not yet posted are handed back too. A worker killed outright leaves its rows leased: they are
due again when the lease runs out.

A unit without a `webhook_url` reads its events in the app (the dispatcher console): its rows
are marked `delivered` at once with the note `NO_WEBHOOK` in `last_error` and a logged attempt,
so they do not pile up; after a URL is configured, `replay(event_code=…)` sends old ones.

**At-least-once.** A worker that dies between posting and recording leaves the row leased; when
the lease runs out the row is due again and is posted again. A replay also re-sends. Receivers
must therefore de-duplicate, by `X-Gridgov-Delivery` (one outbox row: the same notification to
the same unit) or by `X-Gridgov-Event` + `X-Gridgov-Step` (one transition of one event).

The request each delivery makes, and how a receiver verifies it: `events.webhooks`.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from sqlalchemy import Engine, Integer, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from events.exceptions import InvalidReport, NotFound
from events.models import DeliveryAttempt, DeliveryStatus, DepartmentUnit, Event, Outbox
from events.webhooks import (
    Claim,
    Outcome,
    deadline_s_or_setting,
    encode_payload,
    post,
    sign,
    verify_signature,
)
from gis.config import get_settings
from gis.db import get_engine, session_factory
from people.access import Actor, require_role
from people.models import StaffRole

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
JITTER = 0.10  # up to +10 %, never less, so the schedule below is a lower bound
RETRY_FOR = timedelta(hours=48)
NO_WEBHOOK = "no webhook configured: the unit reads it in the app"
# Rows of one receiver claimed per turn: its share before other receivers get theirs.
PER_RECEIVER = 10
# How many receivers this worker remembers for its round-robin order.
SERVED_MEMORY = 10_000

SessionFactory = sessionmaker[Session]


def retry_delay(attempts: int, *, jitter: bool = True) -> timedelta:
    """Wait after the `attempts`-th failure: 30 s · 2^(attempts-1), at most 1 h, +0–10 % jitter."""
    exponent = min(max(attempts, 1) - 1, 20)  # 2^20 · 30 s is far past the cap already
    delay = min(FIRST_RETRY * 2**exponent, MAX_RETRY)
    if jitter:
        delay += delay * random.uniform(0, JITTER)
    return delay


def _attempts_to_cover(span: timedelta) -> int:
    """How many attempts it takes for the un-jittered waits between them to reach `span`."""
    attempts, waited = 1, timedelta(0)
    while waited < span:
        waited += retry_delay(attempts, jitter=False)
        attempts += 1
    return attempts


# A row becomes dead on its MAX_ATTEMPTS-th failure: at least RETRY_FOR after its first try.
MAX_ATTEMPTS = _attempts_to_cover(RETRY_FOR)


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


def _factory(engine_or_session_factory: Engine | SessionFactory | None) -> SessionFactory:
    if engine_or_session_factory is None:
        return session_factory(get_engine())
    if isinstance(engine_or_session_factory, Engine):
        return session_factory(engine_or_session_factory)
    return engine_or_session_factory


def _aware(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must carry a time zone (e.g. datetime.now(UTC))")
    return moment


def lease_for(rows: int, timeout_s: float) -> timedelta:
    """How long claimed rows stay hidden from other workers: long enough to post them all."""
    return timedelta(seconds=60 + (2 * rows + 3) * timeout_s)


def claim_due(
    engine_or_session_factory: Engine | SessionFactory | None,
    *,
    now: datetime | None = None,
    batch: int = 100,
    per_receiver: int = PER_RECEIVER,
    receivers: int | None = None,
    skip_units: Collection[int] = (),
    served: Sequence[int] = (),
    timeout_s: float | None = None,
) -> list[Claim]:
    """Lease up to `batch` due rows to this worker in one short, committed transaction.

    Fair between receivers: at most `per_receiver` rows of each unit, taken round-robin (every
    unit's first row before any unit's second), units never or least recently `served` (unit
    ids, most recent last) first. `receivers` caps how many units get rows; `skip_units`
    (units this worker is posting to already) get none.
    """
    at = _aware(now)
    deadline_s = deadline_s_or_setting(timeout_s)
    rank = (
        func.row_number()
        .over(partition_by=Outbox.unit_id, order_by=(Outbox.next_attempt_at, Outbox.id))
        .label("rank")
    )
    due = select(Outbox.id, Outbox.unit_id, Outbox.next_attempt_at, rank).where(
        Outbox.status == DeliveryStatus.PENDING, Outbox.next_attempt_at <= at
    )
    if skip_units:
        due = due.where(Outbox.unit_id.not_in(sorted(skip_units)))
    candidates = due.subquery()
    # NULL (never served by this worker) sorts first, then the least recently served.
    turn = func.array_position(literal(list(served), ARRAY(Integer)), candidates.c.unit_id)
    with _factory(engine_or_session_factory).begin() as session:
        chosen = select(candidates.c.id, candidates.c.unit_id).where(
            candidates.c.rank <= per_receiver
        )
        if receivers is not None:
            units = session.scalars(
                select(candidates.c.unit_id)
                .where(candidates.c.rank == 1)
                .order_by(turn.asc().nulls_first(), candidates.c.next_attempt_at)
                .limit(receivers)
            ).all()
            chosen = chosen.where(candidates.c.unit_id.in_(units))
        picked: list[tuple[int, int]] = [
            (outbox_id, unit_id)
            for outbox_id, unit_id in session.execute(
                chosen.order_by(
                    candidates.c.rank,
                    turn.asc().nulls_first(),
                    candidates.c.next_attempt_at,
                    candidates.c.id,
                ).limit(batch)
            )
        ]
        if not picked:
            return []
        order = {outbox_id: position for position, (outbox_id, _) in enumerate(picked)}
        rows = list(
            session.execute(
                select(
                    Outbox,
                    DepartmentUnit.code,
                    DepartmentUnit.webhook_url,
                    DepartmentUnit.webhook_secret,
                )
                .join(DepartmentUnit, DepartmentUnit.id == Outbox.unit_id)
                .where(
                    Outbox.id.in_(list(order)),
                    Outbox.status == DeliveryStatus.PENDING,
                    Outbox.next_attempt_at <= at,
                )
                .with_for_update(of=Outbox, skip_locked=True)
            )
        )
        if not rows:
            return []
        rows.sort(key=lambda row: order[row[0].id])
        # One receiver's rows are posted one after another, and all of them when the caller
        # runs the whole claim at once (`deliver_due` with fewer threads than receivers).
        longest = max(Counter(row[0].unit_id for row in rows).values())
        lease_until = at + lease_for(len(rows) if receivers is None else longest, deadline_s)
        claims = []
        for row, unit_code, url, secret in rows:
            claims.append(
                Claim(
                    outbox_id=row.id,
                    unit_id=row.unit_id,
                    event_code=str(row.payload.get("event_code", "")),
                    step_id=row.step_id,
                    kind=row.kind,
                    payload=row.payload,
                    unit_code=unit_code,
                    url=url.strip() if url and url.strip() else None,
                    secret=secret or None,
                    attempts=row.attempts,
                    due_at=row.next_attempt_at,
                    lease_until=lease_until,
                )
            )
            row.next_attempt_at = lease_until
    return claims


def record(
    factory: SessionFactory, claim: Claim, outcome: Outcome, *, at: datetime
) -> DeliveryStatus | None:
    """Log the attempt and move the row on, in a new transaction; None if the lease was lost."""
    attempts = claim.attempts + 1
    status: DeliveryStatus
    values: dict[str, Any]
    if outcome.ok:
        status, values = DeliveryStatus.DELIVERED, {"delivered_at": at, "last_error": None}
    elif claim.url is None:
        status, values = DeliveryStatus.DELIVERED, {"delivered_at": at, "last_error": NO_WEBHOOK}
    elif attempts >= MAX_ATTEMPTS:
        status, values = DeliveryStatus.DEAD, {"last_error": outcome.error}
    else:
        status, values = (
            DeliveryStatus.PENDING,
            {
                "next_attempt_at": at + retry_delay(attempts),
                "last_error": outcome.error,
            },
        )
    with factory.begin() as session:
        changed = session.execute(
            update(Outbox)
            .where(
                Outbox.id == claim.outbox_id,
                Outbox.status == DeliveryStatus.PENDING,
                Outbox.next_attempt_at == claim.lease_until,
            )
            .values(status=status, attempts=attempts, **values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # a CursorResult
        if changed or session.scalar(select(exists().where(Outbox.id == claim.outbox_id))):
            session.add(
                DeliveryAttempt(
                    outbox_id=claim.outbox_id,
                    at=at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
    if not changed:
        log.warning(
            "outbox %s: attempt logged but not applied; the row changed meanwhile "
            "(lease expired or replayed)",
            claim.outbox_id,
        )
        return None
    return status


def release(
    factory: SessionFactory,
    claims: Iterable[Claim],
    *,
    interrupted: Outcome | None = None,
    at: datetime | None = None,
) -> int:
    """Hand claimed, unsent rows back as due at their old time; returns how many.

    With `interrupted` (a request cut because the worker stops), the cut attempt is logged
    without counting towards the retries: the receiver may have got it.
    """
    released = 0
    with factory.begin() as session:
        for claim in claims:
            handed_back = session.execute(
                update(Outbox)
                .where(
                    Outbox.id == claim.outbox_id,
                    Outbox.status == DeliveryStatus.PENDING,
                    Outbox.next_attempt_at == claim.lease_until,
                )
                .values(next_attempt_at=claim.due_at)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]  # a CursorResult
            released += handed_back
            if interrupted is not None and handed_back:
                session.add(
                    DeliveryAttempt(
                        outbox_id=claim.outbox_id,
                        at=at or datetime.now(UTC),
                        status_code=None,
                        error=interrupted.error,
                        duration_ms=interrupted.duration_ms,
                    )
                )
    return released


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
    return (lambda: _aware(now)) if now else (lambda: datetime.now(UTC))


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
    factory = _factory(engine_or_session_factory)
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


@dataclass(frozen=True)
class DeadLetter:
    """A row given up after `RETRY_FOR` of failures, waiting for an admin to replay it."""

    outbox_id: int
    event_code: str
    unit_code: str
    kind: str
    attempts: int
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None


def dead_letters(
    session: Session, *, actor: Actor, unit_code: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The dead rows, oldest first (of one unit when `unit_code` is given); admins only."""
    require_role(actor, frozenset({StaffRole.ADMIN}), "read the webhook dead letters")
    last_attempt = (
        select(func.max(DeliveryAttempt.at))
        .where(DeliveryAttempt.outbox_id == Outbox.id)
        .scalar_subquery()
    )
    query = (
        select(Outbox, DepartmentUnit.code, last_attempt)
        .join(DepartmentUnit, DepartmentUnit.id == Outbox.unit_id)
        .where(Outbox.status == DeliveryStatus.DEAD)
        .order_by(Outbox.created_at, Outbox.id)
        .limit(limit)
    )
    if unit_code is not None:
        query = query.where(DepartmentUnit.code == unit_code.strip())
    return [
        DeadLetter(
            outbox_id=row.id,
            event_code=str(row.payload.get("event_code", "")),
            unit_code=code,
            kind=row.kind,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            last_attempt_at=tried,
        )
        for row, code, tried in session.execute(query)
    ]


def replay(
    session: Session,
    *,
    actor: Actor,
    outbox_ids: list[int] | None = None,
    event_code: str | None = None,
    dead: bool = False,
    unit_code: str | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Re-queue delivered or dead rows to be sent again; admins only.

    Give exactly one of: `outbox_ids`, `event_code` (all rows of one event), or `dead=True`
    (every dead letter, of one unit when `unit_code` is given). Rows still pending are left
    alone (they are queued already). Returns the re-queued ids. A replay keeps the outbox id,
    so `X-Gridgov-Delivery` repeats: a receiver that already has the delivery may ignore it,
    one that lost it takes it.
    """
    require_role(actor, frozenset({StaffRole.ADMIN}), "replay webhook deliveries")
    if sum((outbox_ids is not None, event_code is not None, dead)) != 1:
        raise InvalidReport(
            "give either outbox ids, an event code or dead=True to replay, exactly one of them"
        )
    if unit_code is not None and not dead:
        raise InvalidReport("a unit code narrows a replay of dead letters only; add dead=True")
    at = _aware(now)
    query = select(Outbox.id, Outbox.status)
    if event_code is not None:
        event_id = session.scalar(select(Event.id).where(Event.code == event_code.strip()))
        if event_id is None:
            raise NotFound(f"event {event_code} does not exist")
        query = query.where(Outbox.event_id == event_id)
    elif dead:
        query = query.where(Outbox.status == DeliveryStatus.DEAD)
        if unit_code is not None:
            unit_id = session.scalar(
                select(DepartmentUnit.id).where(DepartmentUnit.code == unit_code.strip())
            )
            if unit_id is None:
                raise NotFound(f"department unit {unit_code} does not exist")
            query = query.where(Outbox.unit_id == unit_id)
    else:
        wanted = sorted(set(outbox_ids or []))
        query = query.where(Outbox.id.in_(wanted))
    found = {i: status for i, status in session.execute(query.with_for_update())}
    if outbox_ids is not None and (missing := sorted(set(outbox_ids) - set(found))):
        raise NotFound(f"outbox rows {', '.join(map(str, missing))} do not exist")
    requeue = sorted(i for i, status in found.items() if status is not DeliveryStatus.PENDING)
    if requeue:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(requeue))
            .values(
                status=DeliveryStatus.PENDING,
                next_attempt_at=at,
                attempts=0,
                delivered_at=None,
                last_error=f"replayed by {actor.username} at {at.isoformat()}",
            )
            .execution_options(synchronize_session="fetch")
        )
    log.info("%s replayed outbox rows %s", actor.username, requeue)
    return requeue


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


__all__ = [
    "MAX_ATTEMPTS",
    "NO_WEBHOOK",
    "RETRY_FOR",
    "Claim",
    "DeadLetter",
    "DeliveryReport",
    "Outcome",
    "claim_due",
    "dead_letters",
    "deliver_due",
    "encode_payload",
    "post",
    "record",
    "release",
    "replay",
    "retry_delay",
    "run_worker",
    "sign",
    "verify_signature",
]
