"""The demo's returns: one waits for the command centre's review, one is a dispute between the
police station and the street's city-management squad waiting for its ruling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from demo.review import CASES, seed_demo_reviews
from events.rulings import review_queue
from tests.demo.demo_city import DemoCity, demo_city


@pytest.fixture(scope="module")
def demo(database_url: str) -> Iterator[DemoCity]:
    with demo_city(database_url) as city:
        yield city


def test_demo_returns_wait_for_review_and_one_is_a_dispute_awaiting_its_ruling(demo):
    with Session(demo.engine) as session:
        words = {description for _, description, _ in CASES}
        # The generated weeks of events hold returned cases too; these are the seeded ones.
        queue = [c for c in review_queue(session, actor=demo.command) if c.description in words]
        assert len(queue) == len(CASES)
        assert sorted(
            (len(case.returns), case.disputed, case.awaiting_ruling) for case in queue
        ) == [
            (1, False, False),
            (2, True, True),
        ]
        disputed = next(case for case in queue if case.disputed)
        assert "rule" in disputed.actions
        assert [r.unit.dept_type for r in disputed.returns if r.unit] == [
            "police",
            "urban_management",
        ]
        assert seed_demo_reviews(session) == 0  # seeded once
