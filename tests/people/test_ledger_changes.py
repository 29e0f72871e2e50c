"""A phone that resends a kept form while the first send is still being written: two requests
with one Idempotency-Key racing make one record, and both answer with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from gis import local_pg
from grid.schemas import HouseCreate
from people import houses
from people import organisations as orgs
from people.access import load_actor
from people.credit_code import make_credit_code
from people.schemas import OrganisationCreate
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    add_staff,
    admin_tree,
    fresh_database,
    square,
)

GRID = COMMUNITY + "001"


@pytest.fixture(scope="module")
def committed_engine(database_url: str) -> Iterator[Engine]:
    """A database of its own with a grid, a building and its worker: racing sends commit."""
    url = fresh_database(database_url, "_ledger_race")
    engine = create_engine(url)
    with Session(engine) as setup:
        admin_tree(setup, community_geom=square(111.28, 30.70, 0.02))
        add_grid(setup, GRID, square(111.28, 30.70, 0.01))
        add_building(setup, "BR", square(111.281, 30.701, 0.0002), GRID, floors=6)
        add_staff(setup, "racer", "grid_worker", grid_codes=[GRID])
        setup.commit()
    try:
        yield engine
    finally:
        engine.dispose()
        local_pg.drop_database(url)


def _race(engine: Engine, send: Callable[[Session], Any]) -> list[Any]:
    """`send` run by two sessions at once; each holds its transaction open a moment."""
    start = threading.Barrier(2)
    answers: list[Any] = []
    failures: list[BaseException] = []

    def one() -> None:
        with Session(engine) as mine:
            start.wait()
            try:
                answers.append(send(mine))
                time.sleep(0.3)  # the other send arrives while this one is uncommitted
                mine.commit()
            except BaseException as exc:  # any failure is reported by the assertion below
                failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    return answers


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def test_two_sends_of_one_house_form_at_once_add_one_house(committed_engine):
    with Session(committed_engine) as lookup:
        staff_id = lookup.execute(text("SELECT id FROM staff WHERE username = 'racer'")).scalar()
        actor = load_actor(lookup, staff_id=staff_id)
    data = HouseCreate(building_code="BR", unit="1", floor=3, room="0301")

    def send(session: Session) -> Any:
        return houses.add_house(session, actor=actor, data=data, idempotency_key="race-house")

    answers = _race(committed_engine, send)
    assert sorted(a.created for a in answers) == [False, True]
    assert answers[0].read.code == answers[1].read.code == "BR-1-0301"
    assert _count(committed_engine, "SELECT count(*) FROM house WHERE room = '0301'") == 1
    assert (
        _count(committed_engine, "SELECT count(*) FROM ledger_change WHERE entity = 'house'") == 1
    )


def test_two_sends_of_one_organisation_form_at_once_register_it_once(committed_engine):
    with Session(committed_engine) as lookup:
        staff_id = lookup.execute(text("SELECT id FROM staff WHERE username = 'racer'")).scalar()
        actor = load_actor(lookup, staff_id=staff_id)
    data = OrganisationCreate(
        credit_code=make_credit_code("420502", 77),
        name="竞速商贸有限公司",
        org_type="enterprise",
        building_code="BR",
    )

    def send(session: Session) -> Any:
        return orgs.register_organisation(
            session, actor=actor, data=data, idempotency_key="race-org"
        )

    answers = _race(committed_engine, send)
    assert sorted(a.created for a in answers) == [False, True]
    assert answers[0].read.id == answers[1].read.id
    assert _count(committed_engine, "SELECT count(*) FROM organisation") == 1
    changes = "SELECT count(*) FROM ledger_change WHERE entity = 'organisation'"
    assert _count(committed_engine, changes) == 1
