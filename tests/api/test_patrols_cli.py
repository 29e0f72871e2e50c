"""`gridgov patrols prune`, run as the daily timer runs it: a real process that commits. A track
ended past the thinning age keeps every Nth point (and its last), one past the deletion age
loses all its points, a recent one is left whole; a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from people.models import Patrol, PatrolPoint
from tests.api.cli_run import run
from tests.api.people_city import GRID_A, build_people_city

POINTS = 12
KEEP_EVERY = 5  # the default PATROL_THIN_KEEP_EVERY
# Thinned at 30 days, deleted at 180 (the defaults): one day past each, and one day old.
AGES = {"cli-thin": 31, "cli-delete": 181, "cli-recent": 1}


@pytest.fixture(scope="module")
def tracks(own_engine: Engine) -> None:
    now = datetime.now(UTC)
    with Session(own_engine) as session:
        city = build_people_city(session)
        for key, days in AGES.items():
            ended = now - timedelta(days=days)
            patrol = Patrol(
                key=key,
                staff_id=city["worker_a"].staff_id,
                grid_code=GRID_A,
                district_code=GRID_A[:6],
                started_at=ended - timedelta(hours=1),
                ended_at=ended,
            )
            session.add(patrol)
            session.flush()
            session.add_all(
                PatrolPoint(
                    patrol_id=patrol.id,
                    district_code=patrol.district_code,
                    recorded_at=patrol.started_at + timedelta(seconds=20 * i),
                    geom=f"SRID=4490;POINT({111.282 + i * 1e-4} 30.705)",
                )
                for i in range(POINTS)
            )
        session.commit()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(
            connection.execute(
                text(
                    "SELECT p.key, count(pp.recorded_at) FROM patrol p "
                    "LEFT JOIN patrol_point pp ON pp.patrol_id = p.id GROUP BY p.key"
                )
            ).all()
        )


def test_prune_thins_deletes_and_is_safe_to_run_daily(own_database, own_engine, tracks):
    first = run("patrols", "prune", database_url=own_database, check=True)
    kept = len({*range(0, POINTS, KEEP_EVERY), POINTS - 1})  # 0, 5, 10 and the last, 11
    assert counts(own_engine) == {"cli-thin": kept, "cli-delete": 0, "cli-recent": POINTS}
    assert "抽稀" in first.stdout and str(POINTS - kept) in first.stdout
    run("patrols", "prune", database_url=own_database, check=True)
    assert counts(own_engine) == {"cli-thin": kept, "cli-delete": 0, "cli-recent": POINTS}
