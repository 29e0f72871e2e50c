"""Pushing shared data's changes to departments' webhooks (共享订阅推送).

The change feed is its own outbox: each subscription keeps the number of the last change it
delivered (people.share_feed), so nothing is queued per change. A turn takes every due
subscription of a live grant and, for each, three steps with no transaction open while
posting: read the next batch (up to `limit` changes after the cursor, granted fields only,
logged), post it signed exactly like the units' webhooks (events.webhooks.post), then move the
cursor past the batch on a 2xx or count a failed attempt and wait `outbox.retry_delay`.

The request: the body is the batch (`dataset`, `grant_id`, `after`, `next_after`, `items`),
`X-Gridgov-Event` is `shared:<dataset>`, `X-Gridgov-Step` the number of the batch's last
change, `X-Gridgov-Kind` `shared_change`, `X-Gridgov-Delivery` the subscription id, and the
signature is `events.webhooks.sign` with the subscription's secret. Delivery is at least once:
receivers de-duplicate by change number (`seq`). An admin replays from any number by setting
the cursor back (`POST /api/shared/subscriptions/{id}/replay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

import events.shared_events  # noqa: F401  (offers events by category in the catalogue)
from events.outbox import SessionFactory, factory_of, retry_delay
from events.webhooks import Claim, Outcome, post
from people.share_feed import Batch, due_subscriptions, next_batch, settle

KIND = "shared_change"


@dataclass
class ShareDeliveryReport:
    """What a turn did: batches delivered, batches failed, changes delivered."""

    delivered: int = 0
    failed: int = 0
    changes: int = 0


def claim_of(batch: Batch) -> Claim:
    """The webhook request of a batch, in the shape `events.webhooks.post` sends."""
    now = datetime.now(UTC)
    return Claim(
        outbox_id=batch.subscription_id,
        district_code=batch.district_code,
        unit_id=0,
        event_code=f"shared:{batch.page.dataset}",
        step_id=batch.page.next_after,
        kind=KIND,
        payload=batch.page.model_dump(mode="json"),
        unit_code=f"subscription {batch.subscription_id}",
        url=batch.url,
        secret=batch.secret,
        attempts=batch.attempts,
        due_at=now,
        lease_until=now,
    )


def deliver_shared(
    engine_or_factory: Engine | SessionFactory | None = None,
    *,
    limit: int = 100,
    timeout_s: float | None = None,
) -> ShareDeliveryReport:
    """One turn: the next batch of every due subscription, posted and settled."""
    factory = factory_of(engine_or_factory)
    report = ShareDeliveryReport()
    with factory.begin() as session:
        due = due_subscriptions(session)
    for subscription_id in due:
        with factory.begin() as session:
            batch = next_batch(session, subscription_id=subscription_id, limit=limit)
        if batch is None:
            continue
        outcome: Outcome = post(claim_of(batch), timeout_s=timeout_s)
        with factory.begin() as session:
            settle(
                session,
                batch=batch,
                error=None if outcome.ok else outcome.error or "failed",
                retry_in=retry_delay(batch.attempts + 1),
            )
        if outcome.ok:
            report.delivered += 1
            report.changes += len(batch.page.items)
        else:
            report.failed += 1
    return report
