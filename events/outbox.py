"""The outbox: webhooks to department units queued with each transition, claimed by workers.

Modules by the path of a notification: `notify` (here) queues it in the event's transaction;
`claim_due`, `record` and `release` (here) lease rows to a worker and settle them;
`events.delivery` posts the claimed rows (the worker loop, `gridgov worker`);
`events.dead_letters` lists given-up rows and replays them; `events.webhooks` makes the request.

Delivering: HMAC-signed webhooks, retried with backoff.

Every dispatch, return, supervision and closure writes `outbox` rows in the transaction that
changes the event (`notify`). `gridgov worker` delivers them after commit:

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
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from events.models import DeliveryAttempt, DeliveryStatus, DepartmentUnit, Event, EventStep, Outbox
from events.webhooks import Claim, Outcome, deadline_s_or_setting
from gis.db import get_engine, session_factory

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
JITTER = 0.10  # up to +10 %, never less, so the schedule below is a lower bound
RETRY_FOR = timedelta(hours=48)
NO_WEBHOOK = "no webhook configured: the unit reads it in the app"
# Rows of one receiver claimed per turn: its share before other receivers get theirs.
PER_RECEIVER = 10

SessionFactory = sessionmaker[Session]


def notify(
    session: Session, *, event: Event, step: EventStep, unit_ids: list[int], kind: str, at: datetime
) -> list[Outbox]:
    """Queue one webhook per unit, delivered after commit by `gridgov worker`."""
    units = session.scalars(select(DepartmentUnit).where(DepartmentUnit.id.in_(unit_ids)))
    rows = []
    for unit in units:
        payload = {
            "event_code": event.code,
            "step_id": step.id,
            "kind": kind,
            "status": step.to_status.value,
            "category": event.category_code,
            "priority": event.priority.value,
            "unit": unit.code,
            "deadline": event.stage_deadline.isoformat() if event.stage_deadline else None,
            "at": at.isoformat(),
        }
        rows.append(
            Outbox(
                event_id=event.id,
                district_code=event.district_code,
                step_id=step.id,
                unit_id=unit.id,
                kind=kind,
                payload=payload,
                next_attempt_at=at,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def retry_delay(attempts: int, *, jitter: bool = True) -> timedelta:
    """Wait after the `attempts`-th failure: 30 s · 2^(attempts-1), at most 1 h, +0–10 % jitter."""
    exponent = min(max(attempts, 1) - 1, 20)  # 2^20 · 30 s is far past the cap already
    factor: int = 2**exponent
    delay = min(FIRST_RETRY * factor, MAX_RETRY)
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


def factory_of(engine_or_session_factory: Engine | SessionFactory | None) -> SessionFactory:
    """A session factory: the given one, one on the given engine, or one on the app's engine."""
    if engine_or_session_factory is None:
        return session_factory(get_engine())
    if isinstance(engine_or_session_factory, Engine):
        return session_factory(engine_or_session_factory)
    return engine_or_session_factory


def aware(now: datetime | None) -> datetime:
    """`now`, or the current time when None; a naive time is refused."""
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
    at = aware(now)
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
    with factory_of(engine_or_session_factory).begin() as session:
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
                    district_code=row.district_code,
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
                    district_code=claim.district_code,
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
                        district_code=claim.district_code,
                        at=at or datetime.now(UTC),
                        status_code=None,
                        error=interrupted.error,
                        duration_ms=interrupted.duration_ms,
                    )
                )
    return released


__all__ = [
    "MAX_ATTEMPTS",
    "NO_WEBHOOK",
    "RETRY_FOR",
    "aware",
    "claim_due",
    "factory_of",
    "lease_for",
    "notify",
    "record",
    "release",
    "retry_delay",
]
