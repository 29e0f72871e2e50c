"""A committed demo city in its own database, for the map pages' browser tests and exports.

The map pages are served by a real uvicorn in another thread, so their data cannot live in a
test's rolled-back transaction: this builds `<test database>_mapsdemo`, seeds the demo city
(200 grids, 50,000 residents, 5,000 events), adds one account per role and drops it after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from demo import seed_all
from demo.city.scales import DEFAULT_SEED
from events.models import DepartmentUnit
from gis import local_pg
from grid.models import Grid
from people.access import Actor
from people.staff import create_staff
from tests.factories import fresh_database

PASSWORD = "test-password"
DISTRICT = "420502"
STREET = "420502003000"  # 云集街道


@dataclass(frozen=True)
class DemoCity:
    """The demo database and an account of each role that opens a map."""

    url: str
    engine: Engine
    leader: Actor
    street_leader: Actor
    command: Actor
    dispatcher: Actor
    worker: Actor
    grid_code: str
    unit_id: int


@contextmanager
def demo_city(base_url: str) -> Iterator[DemoCity]:
    """Create, migrate and seed the demo database next to `base_url`; drop it afterwards."""
    demo_url = fresh_database(base_url, "_mapsdemo")
    engine = create_engine(demo_url)
    try:
        with Session(engine) as session:
            seed_all(session, scale="demo", seed=DEFAULT_SEED)
            grid_code = session.scalars(select(Grid.code).order_by(Grid.code)).first()
            unit = session.scalars(
                select(DepartmentUnit)
                .where(DepartmentUnit.dept_type == "police")
                .order_by(DepartmentUnit.code)
            ).first()
            assert grid_code is not None and unit is not None
            accounts = {
                name: create_staff(
                    session, username=name, password=PASSWORD, full_name=name, role=role, **scope
                )
                for name, role, scope in (
                    ("map.leader", "leader", {"area_code": DISTRICT + "000000"}),
                    ("map.street", "leader", {"area_code": STREET}),
                    ("map.command", "command", {"area_code": DISTRICT + "000000"}),
                    ("map.dispatcher", "dispatcher", {"department_unit_id": unit.id}),
                    ("map.worker", "grid_worker", {"grid_codes": [grid_code]}),
                )
            }
            session.commit()
            unit_id = unit.id
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        yield DemoCity(
            url=demo_url,
            engine=engine,
            leader=accounts["map.leader"],
            street_leader=accounts["map.street"],
            command=accounts["map.command"],
            dispatcher=accounts["map.dispatcher"],
            worker=accounts["map.worker"],
            grid_code=grid_code,
            unit_id=unit_id,
        )
    finally:
        engine.dispose()
        local_pg.drop_database(demo_url)
