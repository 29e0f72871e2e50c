"""The ledger's history (台账变更记录) and the once-only POST.

Every write to the house, organisation and resident ledgers leaves a `ledger_change` row: who, when,
which record, the fields before and after (masked values, as the ledger shows them). A POST
sent with an idempotency key (a phone resending a form it kept offline) keeps the key on that
row, so the resent POST finds the record it made the first time instead of making a second.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis import errors
from people.access import Actor
from people.exceptions import Duplicate, InvalidRecord
from people.models import LedgerChange, Staff
from people.schemas import ChangeRead

T = TypeVar("T")
MAX_KEY_CHARS = 100


class LedgerEntity(enum.StrEnum):
    """Which ledger a change was made to."""

    HOUSE = "house"  # 实有房屋
    ORGANISATION = "organisation"  # 实有单位
    RESIDENT = "resident"  # 实有人口: registering, corrections, moving in and out
    RENTAL = "rental"  # 出租屋


@dataclass(frozen=True)
class Written(Generic[T]):
    """What a once-only POST answers: the record, and whether this request made it (False
    when the idempotency key had made it before)."""

    read: T
    created: bool


def record_change(
    session: Session,
    *,
    actor: Actor,
    entity: LedgerEntity,
    entity_id: int,
    district_code: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    idempotency_key: str | None = None,
) -> bool:
    """Write the history row of one write: a creation whole (`before` None), a change as the
    fields it changed. A change that changed nothing leaves no row (returns False)."""
    action = "create" if before is None else "update"
    if before is not None:
        changed = sorted(k for k in after if before.get(k) != after[k])
        if not changed:
            return False
        before, after = {k: before.get(k) for k in changed}, {k: after[k] for k in changed}
    session.add(
        LedgerChange(
            district_code=district_code,
            entity=entity.value,
            entity_id=entity_id,
            action=action,
            staff_id=actor.staff_id,
            before=before,
            after=after,
            idempotency_key=idempotency_key,
        )
    )
    session.flush()
    return True


def _check_key(key: str) -> str:
    cleaned = key.strip()
    if not 1 <= len(cleaned) <= MAX_KEY_CHARS:
        raise InvalidRecord(
            f"the Idempotency-Key must be 1–{MAX_KEY_CHARS} characters (a UUID is usual)"
        )
    return cleaned


def earlier_write(
    session: Session,
    *,
    actor: Actor,
    entity: LedgerEntity,
    idempotency_key: str,
    action: str = "create",
) -> int | None:
    """The id of the record an earlier POST with this key made, None when the key is new.

    A key is the client's own: one used by another account, or for another ledger, is a
    Duplicate (409) telling the client to make a new key. `action` is what the key's request
    does: "create" (a POST adding a record) or "update" (a move in or out of a resident).
    """
    row = session.execute(
        select(
            LedgerChange.entity,
            LedgerChange.entity_id,
            LedgerChange.staff_id,
            LedgerChange.action,
        )
        .where(LedgerChange.idempotency_key == idempotency_key)
        .order_by(LedgerChange.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    if row.staff_id != actor.staff_id:
        raise Duplicate(
            f"the Idempotency-Key {idempotency_key!r} was already used by another account; "
            "generate a new key for this form and send it again"
        )
    if row.entity != entity.value:
        raise Duplicate(
            f"the Idempotency-Key {idempotency_key!r} was already used to add a {row.entity}; "
            "generate a new key for each form"
        )
    if row.action != action:
        done = "add" if row.action == "create" else "change"
        raise Duplicate(
            f"the Idempotency-Key {idempotency_key!r} was already used to {done} a "
            f"{row.entity}; generate a new key for each form"
        )
    return int(row.entity_id)


def create_once(
    session: Session,
    *,
    actor: Actor,
    entity: LedgerEntity,
    idempotency_key: str | None,
    create: Callable[[str | None], int],
    action: str = "create",
) -> tuple[int, bool]:
    """Run `create(key)` (which writes the record and its history row with the key) unless
    the key made a record before; returns the record's id and whether this call made it.

    Two requests with one key racing: the loser's insert of the key fails, its savepoint is
    rolled back and it answers with the winner's record.
    """
    key = _check_key(idempotency_key) if idempotency_key is not None else None
    if key is not None:
        earlier = earlier_write(
            session, actor=actor, entity=entity, idempotency_key=key, action=action
        )
        if earlier is not None:
            return earlier, False
    try:
        with session.begin_nested():
            return create(key), True
    except (IntegrityError, errors.Conflict):
        if key is not None:
            earlier = earlier_write(
                session, actor=actor, entity=entity, idempotency_key=key, action=action
            )
            if earlier is not None:
                return earlier, False
        raise


def history(session: Session, *, entity: LedgerEntity, entity_id: int) -> list[ChangeRead]:
    """Every write to one record, oldest first. The caller checks who may read it."""
    rows = session.execute(
        select(LedgerChange, Staff.username)
        .join(Staff, Staff.id == LedgerChange.staff_id)
        .where(LedgerChange.entity == entity.value, LedgerChange.entity_id == entity_id)
        .order_by(LedgerChange.at, LedgerChange.id)
    ).all()
    return [
        ChangeRead(
            id=change.id,
            action=change.action,
            at=change.at,
            staff_id=change.staff_id,
            username=username,
            before=change.before,
            after=change.after,
        )
        for change, username in rows
    ]
