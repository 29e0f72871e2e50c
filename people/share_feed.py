"""The change feed of shared data (共享变更) and its webhook subscriptions (共享订阅).

Triggers on the ledger tables (migration 0030) write a `share_change` row for every record of a
shared dataset a statement touches, in the writer's transaction. The first reader after commit
numbers the unnumbered rows (`number_changes`), one reader at a time under an advisory lock: a
change committed late gets a number above every one already served, so a cursor (`after=N`)
never skips it. A department reads the changes of its grant's area after any number (replay
from 0 or any later number); a webhook subscription keeps its own cursor (`delivered_seq`),
moved past a batch only when the receiver answered 2xx (events.share_delivery posts them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from grid.service import area_prefix
from people.access import Actor, require_role
from people.exceptions import InvalidRecord, NotFound
from people.models import ShareChange, ShareGrant, ShareSubscription
from people.service import MAX_PAGE_SIZE
from people.sharing import (
    ADMINS,
    DATASETS,
    category_filter,
    grant_district,
    granted_fields,
    in_grant,
    log_read,
    rendered,
    require_grant,
)

# --- the change feed ----------------------------------------------------------------------

# The advisory lock serialising the numbering of changes (any constant the app uses once).
_NUMBERING_LOCK = 7_303_001


class ChangeRead(BaseModel):
    """One change: its number, the record, and the record as granted now (None once it has
    left the dataset or the grant's area: `removed`)."""

    seq: int
    id: int
    op: Literal["upsert", "removed"]
    record: dict[str, Any] | None


class ChangePage(BaseModel):
    """Changes after a number, in order; ask again with `after=next_after` for the rest."""

    dataset: str
    grant_id: int
    after: int
    next_after: int
    items: list[ChangeRead]


# At most this many changes are numbered per call, so a reader after a bulk import (a city's
# residents) does not hold the numbering lock for one huge update; the rest are numbered by the
# next calls, above every number served before, which keeps cursors safe.
NUMBER_AT_ONCE = 20_000


def number_changes(session: Session) -> int:
    """Number committed changes not numbered yet (oldest first, up to NUMBER_AT_ONCE), one
    numbering at a time; how many."""
    session.execute(select(func.pg_advisory_xact_lock(_NUMBERING_LOCK)))
    pending = (
        select(ShareChange.id)
        .where(ShareChange.seq.is_(None))
        .order_by(ShareChange.id)
        .limit(NUMBER_AT_ONCE)
        .scalar_subquery()
    )
    result = session.execute(
        update(ShareChange)
        .where(ShareChange.id.in_(pending))
        .values(seq=func.nextval("share_change_seq"))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def read_changes(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None,
    dataset: str,
    after: int = 0,
    limit: int = 100,
) -> ChangePage:
    """The changes to `dataset` in the grant's area numbered above `after`, each with the
    record's granted fields as they are now; replay from any number. The read is logged."""
    found = require_grant(session, actor=actor, department_id=department_id, dataset=dataset)
    if after < 0 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"after must be ≥ 0 and limit 1..{MAX_PAGE_SIZE}")
    return changes_under(session, grant=found, after=after, limit=limit, actor=actor)


def changes_under(
    session: Session,
    *,
    grant: ShareGrant,
    after: int,
    limit: int,
    actor: Actor | None = None,
    subscription_id: int | None = None,
    log_empty: bool = True,
) -> ChangePage:
    """The changes under a live grant after `after` (for its department's reader or its
    webhook subscription), logged for whichever of the two reads them."""
    found = grant
    dataset = grant.dataset
    number_changes(session)
    spec = DATASETS[dataset]
    prefix = area_prefix(found.area_code)
    wanted = select(ShareChange.seq, ShareChange.record_id).where(
        ShareChange.dataset == dataset,
        ShareChange.seq > after,
        ShareChange.grid_code.startswith(prefix),
    )
    if spec.category is not None:
        # A change is the grant's when the record was of its categories before or after it.
        wanted = wanted.where(category_filter(ShareChange.tag, found))
    changes = session.execute(wanted.order_by(ShareChange.seq).limit(limit)).all()
    ids = sorted({c.record_id for c in changes})
    granted = granted_fields(found, spec)
    rows = session.execute(in_grant(spec, found).where(spec.order.in_(ids))).all()
    current = {item["id"]: item for item in rendered(session, spec, granted, rows)}
    items = [
        ChangeRead(
            seq=int(c.seq),
            id=c.record_id,
            op="upsert" if c.record_id in current else "removed",
            record=current.get(c.record_id),
        )
        for c in changes
    ]
    if items or log_empty:
        log_read(
            session,
            actor=actor,
            grant=found,
            granted=granted,
            page=0,
            items=[current[i] for i in ids if i in current],
            subscription_id=subscription_id,
        )
    return ChangePage(
        dataset=dataset,
        grant_id=found.id,
        after=after,
        next_after=items[-1].seq if items else after,
        items=items,
    )


def prune_changes(session: Session, *, before: datetime) -> int:
    """Delete numbered changes made before `before` that every live webhook subscription of
    their dataset has delivered; how many. Unnumbered changes are never deleted."""
    delivered_by_all = (
        select(func.min(ShareSubscription.delivered_seq))
        .join(ShareGrant, ShareGrant.id == ShareSubscription.grant_id)
        .where(ShareGrant.revoked_at.is_(None), ShareGrant.dataset == ShareChange.dataset)
        .correlate(ShareChange)
        .scalar_subquery()
    )
    result = session.execute(
        delete(ShareChange)
        .where(
            ShareChange.seq.is_not(None),
            ShareChange.at < before,
            # A dataset with no live subscription: only the retention period keeps its changes.
            ShareChange.seq <= func.coalesce(delivered_by_all, ShareChange.seq),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- webhook subscriptions ----------------------------------------------------------------


class SubscriptionCreate(BaseModel):
    """A webhook for a grant's changes: where to post them."""

    url: str = Field(max_length=500, pattern=r"^https?://\S+$", description="http(s) URL")


class SubscriptionRead(BaseModel):
    """A webhook subscription and how far its delivery got (the secret only when created)."""

    id: int
    grant_id: int
    dataset: str
    url: str
    delivered_seq: int = Field(description="number of the last change delivered")
    attempts: int = Field(description="failed attempts since the last delivery")
    next_attempt_at: datetime
    last_error: str | None
    secret: str | None = Field(
        default=None, description="the signing secret, shown once when the webhook is created"
    )


def _subscription_read(
    sub: ShareSubscription, grant: ShareGrant, *, secret: bool = False
) -> SubscriptionRead:
    return SubscriptionRead(
        id=sub.id,
        grant_id=sub.grant_id,
        dataset=grant.dataset,
        url=sub.url,
        delivered_seq=sub.delivered_seq,
        attempts=sub.attempts,
        next_attempt_at=sub.next_attempt_at,
        last_error=sub.last_error,
        secret=sub.secret if secret else None,
    )


def subscribe(
    session: Session, *, actor: Actor, grant_id: int, data: SubscriptionCreate
) -> SubscriptionRead:
    """Push a live grant's changes to a webhook, signed with a new secret (shown once)."""
    require_role(actor, ADMINS, "subscribe a webhook to shared data")
    found = session.get(ShareGrant, grant_id)
    if found is None or found.revoked_at is not None:
        raise NotFound(f"grant {grant_id} does not exist or was revoked")
    sub = ShareSubscription(
        grant_id=grant_id,
        url=data.url,
        secret=secrets.token_urlsafe(32),
        delivered_seq=0,
        attempts=0,
        created_by=actor.staff_id,
    )
    session.add(sub)
    session.flush()
    session.refresh(sub)
    return _subscription_read(sub, found, secret=True)


def list_subscriptions(session: Session, *, actor: Actor) -> list[SubscriptionRead]:
    """Every webhook subscription and how far its delivery got."""
    require_role(actor, ADMINS, "list webhook subscriptions")
    rows = session.execute(
        select(ShareSubscription, ShareGrant)
        .join(ShareGrant, ShareGrant.id == ShareSubscription.grant_id)
        .order_by(ShareSubscription.id)
    ).all()
    return [_subscription_read(sub, g) for sub, g in rows]


def replay(session: Session, *, actor: Actor, subscription_id: int, after: int) -> SubscriptionRead:
    """Deliver a subscription's changes again from the change after number `after`."""
    require_role(actor, ADMINS, "replay a webhook subscription")
    sub = session.get(ShareSubscription, subscription_id, with_for_update=True)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} does not exist")
    sub.delivered_seq = after
    sub.attempts = 0
    sub.last_error = None
    sub.next_attempt_at = func.now()
    session.flush()
    session.refresh(sub)
    return _subscription_read(sub, session.get_one(ShareGrant, sub.grant_id))


@dataclass(frozen=True)
class Batch:
    """The changes a subscription is due to receive next, and where to send them."""

    subscription_id: int
    district_code: str
    url: str
    secret: str
    attempts: int
    page: ChangePage


def due_subscriptions(session: Session) -> list[int]:
    """Subscriptions of live grants whose next attempt is due."""
    return list(
        session.scalars(
            select(ShareSubscription.id)
            .join(ShareGrant, ShareGrant.id == ShareSubscription.grant_id)
            .where(ShareGrant.revoked_at.is_(None), ShareSubscription.next_attempt_at <= func.now())
            .order_by(ShareSubscription.next_attempt_at)
        )
    )


def next_batch(session: Session, *, subscription_id: int, limit: int = 100) -> Batch | None:
    """The next changes for a subscription (None when there are none or the grant was
    revoked); the read is logged for the subscription."""
    sub = session.get(ShareSubscription, subscription_id)
    if sub is None:
        return None
    found = session.get_one(ShareGrant, sub.grant_id)
    if found.revoked_at is not None:
        return None
    page = changes_under(
        session,
        grant=found,
        after=sub.delivered_seq,
        limit=limit,
        subscription_id=sub.id,
        log_empty=False,  # an idle poll reads nothing
    )
    if not page.items:
        return None
    return Batch(sub.id, grant_district(found), sub.url, sub.secret, sub.attempts, page)


def settle(
    session: Session,
    *,
    batch: Batch,
    error: str | None,
    retry_in: timedelta,
) -> bool:
    """Record a delivery: on success move the cursor past the batch, else count the attempt
    and wait `retry_in`. False when the cursor moved meanwhile (a replay): nothing changes."""
    sub = session.get(ShareSubscription, batch.subscription_id, with_for_update=True)
    if sub is None or sub.delivered_seq != batch.page.after:
        return False
    if error is None:
        sub.delivered_seq = batch.page.next_after
        sub.attempts = 0
        sub.last_error = None
        sub.next_attempt_at = func.now()
    else:
        sub.attempts += 1
        sub.last_error = error[:1000]
        sub.next_attempt_at = func.now() + retry_in
    session.flush()
    return True


__all__ = [
    "Batch",
    "ChangePage",
    "ChangeRead",
    "SubscriptionCreate",
    "SubscriptionRead",
    "changes_under",
    "due_subscriptions",
    "list_subscriptions",
    "next_batch",
    "number_changes",
    "prune_changes",
    "read_changes",
    "replay",
    "settle",
    "subscribe",
]
