"""Demo 考评: the demo events are written with COPY, not through the closing actions, so their
closed cases are evaluated here in one pass (`seed_demo_evaluations`), as `gridgov evaluate`
does for cases closed before evaluation existed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from events.evaluation import evaluate_closed


def seed_demo_evaluations(session: Session) -> int:
    """Evaluate every closed demo case (again: idempotent); returns how many."""
    return evaluate_closed(
        session,
        start=datetime(2000, 1, 1, tzinfo=UTC),
        end=datetime(2100, 1, 1, tzinfo=UTC),
        at=datetime.now(UTC),
    )
