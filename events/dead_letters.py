"""Dead letters: outbox rows given up after `RETRY_FOR` of failures, and replaying rows (dead or
delivered) so that they are sent again (`gridgov worker dead`, `gridgov worker replay`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from events.exceptions import InvalidReport, NotFound
from events.models import DeliveryAttempt, DeliveryStatus, DepartmentUnit, Event, Outbox
from events.outbox import aware
from people.access import Actor, require_role
from people.models import StaffRole

log = logging.getLogger(__name__)


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
    at = aware(now)
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


__all__ = ["DeadLetter", "dead_letters", "replay"]
