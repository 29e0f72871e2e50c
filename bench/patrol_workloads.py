"""Patrol ingest (巡查轨迹): GPS fixes/s through `people.patrols.append_points` against a bare
insert of the same fixes in the same run.

Twenty grid workers of the demo city each run a patrol; their phones send batches of 30 fixes
(ten minutes at one fix per 20 s), each batch twice, as a phone does when the first answer was
lost. "Through the service" is what the route does after the HTTP layer: find the worker's
patrol, check every fix lies in start..end, convert the coordinates (GCJ-02 here, the slowest
conversion), insert with ON CONFLICT DO NOTHING, commit. The baseline inserts the same rows
(already in CGCS2000) and commits, per batch.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from bench.common import Figure, bench_database, seed_city

WORKERS = 20
BATCHES = 20  # per worker
BATCH = 30
WORKLOAD = "patrol ingest (demo city, 20 workers)"


def _workers(engine: Engine) -> list[tuple[int, str]]:
    """(staff id, grid code) of a grid worker made for each of the first WORKERS grids."""
    from grid.models import Grid
    from people.models import Staff, StaffGrid, StaffRole

    with Session(engine) as session:
        grids = session.scalars(select(Grid.code).order_by(Grid.code).limit(WORKERS)).all()
        made = []
        for n, code in enumerate(grids):
            staff = Staff(
                username=f"bench.patrol{n}",
                full_name=f"巡查{n}",
                password_hash="!",
                role=StaffRole.GRID_WORKER,
            )
            session.add(staff)
            session.flush()
            session.add(StaffGrid(staff_id=staff.id, grid_code=code, district_code=code[:6]))
            made.append((staff.id, code))
        session.commit()
        return made


def _fixes(n: int, start: datetime) -> list[tuple[datetime, float, float]]:
    return [
        (start + timedelta(seconds=20 * (n * BATCH + k)), 111.28 + 1e-5 * k, 30.70 + 1e-5 * n)
        for k in range(BATCH)
    ]


def _service_rates(engine: Engine, workers: list[tuple[int, str]]) -> tuple[float, float]:
    """Fixes/s of first sends and of resends (which add nothing)."""
    from people import patrols
    from people.access import load_actor
    from people.schemas import PatrolPointIn, PatrolPoints

    start = datetime.now(UTC) - timedelta(hours=8)
    first = again = 0.0
    for staff_id, code in workers:
        with Session(engine) as session:
            actor = load_actor(session, staff_id=staff_id)
            patrols.start_patrol(
                session, actor=actor, key=f"bench-{staff_id:08d}", grid_code=code, started_at=start
            )
            session.commit()
        for n in range(BATCHES):
            batch = PatrolPoints(
                crs="gcj02",
                points=[PatrolPointIn(t=t, lon=x, lat=y) for t, x, y in _fixes(n, start)],
            )
            for attempt in range(2):
                started = time.perf_counter()
                with Session(engine) as session:
                    actor = load_actor(session, staff_id=staff_id)
                    result = patrols.append_points(
                        session, actor=actor, key=f"bench-{staff_id:08d}", batch=batch
                    )
                    session.commit()
                took = time.perf_counter() - started
                assert result.added == (BATCH if attempt == 0 else 0)
                if attempt == 0:
                    first += took
                else:
                    again += took
    fixes = WORKERS * BATCHES * BATCH
    return fixes / first, fixes / again


def _bare_rate(engine: Engine, workers: list[tuple[int, str]]) -> float:
    from people.models import Patrol, PatrolPoint

    start = datetime.now(UTC) - timedelta(hours=8)
    took = 0.0
    for staff_id, code in workers:
        with Session(engine) as session:
            patrol = Patrol(
                key=f"bare-{staff_id:08d}",
                staff_id=staff_id,
                grid_code=code,
                district_code=code[:6],
                started_at=start,
                ended_at=start + timedelta(hours=8),
            )
            session.add(patrol)
            session.commit()
            patrol_id, district = patrol.id, patrol.district_code
        for n in range(BATCHES):
            rows = [
                {
                    "patrol_id": patrol_id,
                    "district_code": district,
                    "recorded_at": t,
                    "geom": f"SRID=4490;POINT({x} {y})",
                    "accuracy_m": None,
                }
                for t, x, y in _fixes(n, start)
            ]
            started = time.perf_counter()
            with Session(engine) as session:
                session.execute(insert(PatrolPoint), rows)
                session.commit()
            took += time.perf_counter() - started
    return WORKERS * BATCHES * BATCH / took


def patrol_figures(engine: Engine) -> list[Figure]:
    """Fixes/s through the service (first sends and resends) beside the bare insert."""
    workers = _workers(engine)
    bare = _bare_rate(engine, workers)
    first, again = _service_rates(engine, workers)
    baseline = f"insert the same fixes, committed per batch of {BATCH}"
    return [
        Figure(
            WORKLOAD,
            f"append_points, batches of {BATCH} (GCJ-02)",
            first,
            "fixes/s",
            baseline,
            bare,
        ),
        Figure(
            WORKLOAD, "the same batches resent (nothing added)", again, "fixes/s", baseline, bare
        ),
    ]


def patrol_workload() -> list[Figure]:
    """At demo scale: patrol fixes ingested through the service."""
    with bench_database("patrols") as engine:
        seed_city(engine, "demo")
        return patrol_figures(engine)


__all__ = ["patrol_figures", "patrol_workload"]
