"""The demo's 12345 cases: answered and called back with mixed outcomes, so that every
citizen-service KPI of the leader panel shows a figure that is neither 0 % nor 100 %."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo.replies import PLANS, seed_demo_replies
from events.kpis import citizen_kpis
from events.models import Callback, CallbackStatus
from tests.demo.demo_city import DemoCity, demo_city


@pytest.fixture(scope="module")
def demo(database_url: str) -> Iterator[DemoCity]:
    with demo_city(database_url) as city:
        yield city


def test_demo_cases_reach_reply_and_callback_with_mixed_satisfaction(demo):
    with Session(demo.engine) as session:
        statuses = dict(
            session.execute(select(Callback.status, func.count()).group_by(Callback.status)).all()
        )
        assert statuses[CallbackStatus.REACHED] >= 8
        assert statuses[CallbackStatus.UNREACHED] == 1
        assert statuses[CallbackStatus.REVIEW] == 1
        assert statuses[CallbackStatus.DUE] >= 1
        now = datetime.now(UTC)
        figures = citizen_kpis(
            session, actor=demo.command, start=now - timedelta(days=60), end=now, now=now
        )
        for rate in (
            figures.on_time_reply_rate,
            figures.callback_rate,
            figures.satisfaction_rate,
            figures.reopen_rate,
        ):
            assert rate is not None and 0 < rate < 1
        assert figures.replies >= len(PLANS) - 1
        assert seed_demo_replies(session) == 0  # seeded once
