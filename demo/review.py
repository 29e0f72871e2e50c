"""Demo returns waiting for the command centre's review (退回审核) and a jurisdiction dispute
waiting for its ruling (争议裁定), so the console's 退回审核/争议 panel has work
(`seed_demo_reviews`).

Two grid workers' reports of suspicious people (0101, to 西陵 police station 01): one returned
by the station (`police1`) as another station's; the other returned by the station as a
city-management matter, re-dispatched by the command centre (`command`) to the street's
城管中队 (`urban1`), which returns it too — a dispute between the two. Both stay returned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo.units import DEMO_DISPATCHERS
from events.actions import act
from events.models import DepartmentUnit
from events.schemas import ActionInput, EventReport
from events.service import report_event
from grid.models import Grid
from people.access import Actor, load_actor
from people.models import Staff, StaffGrid, StaffRole

DISTRICT: Final = "420502"
CATEGORY: Final = "0101"  # 可疑人员: police
MINUTE: Final = timedelta(minutes=1)
# (idempotency key, what the worker saw, whether the station's return is disputed)
CASES: Final = (
    ("demo-review-1", "小区后门有陌生人连续几晚撬看电动车", False),
    ("demo-review-2", "菜市场门口流动摊贩与人争执，有人形迹可疑", True),
)


def _actor(session: Session, username: str) -> Actor | None:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    return load_actor(session, staff_id=staff_id) if staff_id is not None else None


def _unit(session: Session, login: str) -> DepartmentUnit | None:
    code = dict(DEMO_DISPATCHERS).get(login)
    return session.scalar(select(DepartmentUnit).where(DepartmentUnit.code == code))


def _act(
    session: Session,
    actor: Actor,
    code: str,
    action: str,
    when: datetime,
    fields: dict[str, object],
) -> None:
    act(
        session,
        actor=actor,
        code=code,
        action=action,
        data=ActionInput.model_validate(fields),
        now=when,
    )


def seed_demo_reviews(session: Session, *, now: datetime | None = None) -> int:
    """File and return the demo cases not yet there; returns how many were filed (0 when they
    are there already, or the demo accounts are missing). Never commits."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    command, police, urban = (_actor(session, u) for u in ("command", "police1", "urban1"))
    station, squad = _unit(session, "police1"), _unit(session, "urban1")
    if None in (command, police, urban, station, squad):
        return 0
    assert command and police and urban and station and squad
    point = func.ST_PointOnSurface(Grid.geom)
    worker = (
        select(func.min(StaffGrid.staff_id))
        .join(Staff, Staff.id == StaffGrid.staff_id)
        .where(StaffGrid.grid_code == Grid.code, Staff.role == StaffRole.GRID_WORKER)
        .scalar_subquery()
    )
    inside = func.ST_Covers(
        select(DepartmentUnit.geom).where(DepartmentUnit.id == station.id).scalar_subquery(),
        point,
    )
    places = session.execute(
        select(func.ST_X(point), func.ST_Y(point), worker)
        .where(Grid.district_code == DISTRICT, inside, worker.is_not(None))
        .order_by(Grid.code)
        .limit(len(CASES))
    ).all()
    filed = 0
    for (key, words, disputed), (lon, lat, worker_id) in zip(CASES, places, strict=False):
        start = at - timedelta(hours=3)
        report = EventReport(category=CATEGORY, lon=float(lon), lat=float(lat), description=words)
        read = report_event(
            session,
            actor=load_actor(session, staff_id=int(worker_id)),
            report=report,
            idempotency_key=key,
            now=start,
        )
        if not read.created or read.unit is None or read.unit.id != station.id:
            continue
        filed += 1

        code = read.code
        if not disputed:
            _act(
                session,
                police,
                code,
                "return",
                start + 20 * MINUTE,
                {"reason": "事发地属相邻派出所辖区"},
            )
            continue
        _act(
            session,
            police,
            code,
            "return",
            start + 20 * MINUTE,
            {"reason": "流动摊贩占道属城管职责"},
        )
        _act(
            session,
            command,
            code,
            "accept-return",
            start + 40 * MINUTE,
            {"unit_id": squad.id, "note": "按占道经营改派城管"},
        )
        _act(
            session,
            urban,
            code,
            "return",
            start + 70 * MINUTE,
            {"reason": "有人形迹可疑，属治安问题"},
        )
    session.flush()
    return filed


__all__ = ["seed_demo_reviews"]
