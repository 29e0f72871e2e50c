"""Demo joint cases (主办/协办): noise complaints led by 西陵街道's 城管 squad (`urban1`) with 西陵
派出所 (`police1`) assisting, worked to different points, so the console's 协办 panel and the
协办按时率 show something (`seed_demo_joint`).

Each case is filed by the grid's worker at a place in both units' areas, dispatched by the
rules (and re-routed by the command centre, `command`, to the squad where the rules chose
another unit), then worked through the event and sub-task services.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo.units import DEMO_DISPATCHERS
from events import joint
from events.actions import act
from events.models import DepartmentUnit, Event, EventSubtask
from events.schemas import ActionInput, EventReport
from events.service import report_event
from grid.models import Grid
from people.access import Actor, load_actor
from people.models import Staff, StaffGrid, StaffRole

DISTRICT: Final = "420502"
CATEGORY: Final = "0604"  # 噪声扰民: 城管 leads, 公安 and 生态环境 assist
LEAD_LOGIN, HELPER_LOGIN, COMMAND_LOGIN = "urban1", "police1", "command"
# Where each case is left, and how many days ago it was filed.
PLANS: Final = (
    ("waiting", 0),  # both sub-tasks 待签收
    ("signed", 1),  # the police signed for theirs
    ("done", 2),  # the police reported; the ecology office's part waived; the lead handles
    ("overdue", 9),  # the police signed and never reported: red
    ("late", 12),  # the police reported after the deadline
)
_WORDS: Final = (
    "夜间广场舞音响扰民，居民多次投诉",
    "小区旁工地夜间施工噪声大",
    "烧烤店深夜外放音乐",
    "KTV深夜噪声扰民",
    "商铺门口大喇叭促销",
)


def _actor(session: Session, username: str) -> Actor | None:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    return load_actor(session, staff_id=staff_id) if staff_id is not None else None


def _unit(session: Session, login: str) -> DepartmentUnit | None:
    code = dict(DEMO_DISPATCHERS).get(login)
    return session.scalar(select(DepartmentUnit).where(DepartmentUnit.code == code))


def _places(
    session: Session, lead: DepartmentUnit, helper: DepartmentUnit, n: int
) -> list[tuple[float, float, int]]:
    """(lon, lat, grid worker's staff id) at up to `n` grids inside both units' areas."""
    point = func.ST_PointOnSurface(Grid.geom)
    worker = (
        select(func.min(StaffGrid.staff_id))
        .join(Staff, Staff.id == StaffGrid.staff_id)
        .where(StaffGrid.grid_code == Grid.code, Staff.role == StaffRole.GRID_WORKER)
        .scalar_subquery()
    )

    def area(unit: DepartmentUnit) -> object:
        return select(DepartmentUnit.geom).where(DepartmentUnit.id == unit.id).scalar_subquery()

    rows = session.execute(
        select(func.ST_X(point), func.ST_Y(point), worker)
        .where(
            Grid.district_code == DISTRICT,
            func.ST_Covers(area(lead), point),
            func.ST_Covers(area(helper), point),
        )
        .order_by(Grid.code.desc())
    ).all()
    return [(float(x), float(y), int(w)) for x, y, w in rows if w is not None][:n]


def seed_demo_joint(session: Session, *, now: datetime | None = None) -> int:
    """File and work the demo joint cases up to `now`; returns how many (0 when they are there
    already, or the demo accounts are missing). Never commits."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    command, lead, helper = (_actor(session, n) for n in (COMMAND_LOGIN, LEAD_LOGIN, HELPER_LOGIN))
    lead_unit, helper_unit = _unit(session, LEAD_LOGIN), _unit(session, HELPER_LOGIN)
    if None in (command, lead, helper, lead_unit, helper_unit):
        return 0
    assert command and lead and helper and lead_unit and helper_unit
    present = select(EventSubtask.id).where(
        EventSubtask.district_code == DISTRICT, EventSubtask.unit_id == helper_unit.id
    )
    if session.scalar(present.limit(1)):
        return 0
    places = _places(session, lead_unit, helper_unit, len(PLANS))
    for (plan, days), (lon, lat, worker_id), words in zip(PLANS, places, _WORDS, strict=False):
        start = at - timedelta(days=days, hours=3)
        _work_case(
            session,
            plan=plan,
            start=start,
            place=(lon, lat),
            worker=load_actor(session, staff_id=worker_id),
            command=command,
            lead=lead,
            helper=helper,
            units=(lead_unit.id, helper_unit.id),
            words=words,
        )
    session.flush()
    return min(len(PLANS), len(places))


def _work_case(
    session: Session,
    *,
    plan: str,
    start: datetime,
    place: tuple[float, float],
    worker: Actor,
    command: Actor,
    lead: Actor,
    helper: Actor,
    units: tuple[int, int],
    words: str,
) -> None:
    """One joint case from the report to where `plan` leaves it."""
    minutes = timedelta(minutes=1)
    report = EventReport(category=CATEGORY, lon=place[0], lat=place[1], description=words)
    code = report_event(session, actor=worker, report=report, now=start).code

    def do(actor: Actor, action: str, when: datetime, **fields: object) -> None:
        data = ActionInput.model_validate(fields)
        act(session, actor=actor, code=code, action=action, data=data, now=when)

    event = session.scalar(select(Event).where(Event.code == code))
    assert event is not None
    lead_id, helper_id = units
    if event.unit_id != lead_id:
        do(command, "redispatch", start + 5 * minutes, unit_id=lead_id, note="派至街道城管中队")
    if helper_id not in (event.assisting_unit_ids or []):
        joint.add_subtask(
            session,
            actor=command,
            code=code,
            unit_id=helper_id,
            note="请派出所协助劝导",
            now=start + 6 * minutes,
        )
    if plan == "waiting":
        return
    tasks = {t.unit.id: t for t in joint.event_subtasks(session, actor=command, code=code)}

    def step(
        actor: Actor,
        unit_id: int,
        action: str,
        when: datetime,
        note: str | None = None,
        reason: str | None = None,
    ) -> None:
        joint.act_on_subtask(
            session,
            actor=actor,
            code=code,
            subtask_id=tasks[unit_id].id,
            action=action,
            note=note,
            reason=reason,
            now=when,
        )

    do(lead, "sign", start + 20 * minutes)
    step(helper, helper_id, "sign", start + 30 * minutes)
    if plan in ("signed", "overdue"):
        return
    reported = start + (timedelta(days=8) if plan == "late" else timedelta(hours=5))
    step(helper, helper_id, "report", reported, note="民警到场劝导，音响已关闭")
    for unit_id, task in tasks.items():
        if unit_id != helper_id and task.status.value in ("dispatched", "signed"):
            step(command, unit_id, "waive", reported, reason="已劝停，无需该单位到场")
    do(lead, "handle", reported + 30 * minutes, note="城管已责令整改，现场恢复安静")


__all__ = ["seed_demo_joint"]
