"""Demo 12345 cases answered and called back (答复, 回访), so the dashboards show 按时答复率,
回访率, 满意率 and 重办率 (`seed_demo_replies`).

Each case is filed by the district command centre (`command`) as a hotline call about a
telecom-fraud lead (0105, handled by the police, no on-site photo needed), checked by the grid's
worker, handled by 西陵 police station 01 (`police1`), verified, answered and called back with a
mix of outcomes, all through the event services, over the last weeks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo.city.scales import DEFAULT_SEED
from demo.units import DEMO_DISPATCHERS
from events.actions import act
from events.callbacks import record_callback
from events.models import AppealType, Callback, DepartmentUnit, Event, EventSource
from events.schemas import ActionInput, CallbackInput, EventReport
from events.service import report_event
from grid.models import Grid
from people.access import Actor, load_actor
from people.models import Staff, StaffGrid, StaffRole

DISTRICT: Final = "420502"
CATEGORY: Final = "0105"  # 电信诈骗线索: police, verified without a site photo
POLICE_LOGIN: Final = "police1"
COMMAND_LOGIN: Final = "command"
# What happens to each case, in turn: the figures come out mixed, none 0 % or 100 %.
PLANS: Final = (
    "satisfied",
    "fairly_satisfied",
    "reopen_then_satisfied",
    "satisfied",
    "unreached",
    "late_reply",
    "fairly_satisfied",
    "review",
    "satisfied",
    "callback_due",
    "waiting_reply",
    "dissatisfied_handling",
    "satisfied",
    "fairly_satisfied",
    "late_reply",
    "satisfied",
)
_WORDS: Final = (
    "来电反映有人冒充客服要求转账，怀疑诈骗",
    "来电反映小区门口有人收购银行卡",
    "来电称接到冒充公检法电话，要求核实",
    "来电反映出租屋内疑似电诈窝点，夜间人员进出频繁",
)
_REPLIES: Final = (
    "已转派出所核查处置，并提醒您谨防电信诈骗",
    "经民警核实已依法处理，感谢您的反映",
    "已安排社区民警上门宣传防诈知识",
)


def _actor(session: Session, username: str) -> Actor | None:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    return load_actor(session, staff_id=staff_id) if staff_id is not None else None


def _places(session: Session, unit: DepartmentUnit, n: int) -> list[tuple[float, float, int]]:
    """(lon, lat, grid worker's staff id) at up to `n` grids inside the unit's area."""
    point = func.ST_PointOnSurface(Grid.geom)
    worker = (
        select(func.min(StaffGrid.staff_id))
        .join(Staff, Staff.id == StaffGrid.staff_id)
        .where(StaffGrid.grid_code == Grid.code, Staff.role == StaffRole.GRID_WORKER)
        .scalar_subquery()
    )
    rows = session.execute(
        select(func.ST_X(point), func.ST_Y(point), worker)
        .where(
            Grid.district_code == DISTRICT,
            func.ST_Covers(
                select(DepartmentUnit.geom).where(DepartmentUnit.id == unit.id).scalar_subquery(),
                point,
            ),
        )
        .order_by(Grid.code)
    ).all()
    return [(float(x), float(y), int(w)) for x, y, w in rows if w is not None][:n]


def seed_demo_replies(
    session: Session, *, seed: int = DEFAULT_SEED, now: datetime | None = None
) -> int:
    """File and work the demo hotline cases up to `now`; returns how many (0 when they are
    already there, or the demo accounts are missing). Never commits."""
    at = now or datetime.now(UTC)
    command, police = _actor(session, COMMAND_LOGIN), _actor(session, POLICE_LOGIN)
    unit_code = dict(DEMO_DISPATCHERS).get(POLICE_LOGIN)
    unit = session.scalar(select(DepartmentUnit).where(DepartmentUnit.code == unit_code))
    if command is None or police is None or unit is None:
        return 0
    # Ours are the cases `command` filed (the hotline desk's own calls have callbacks too).
    ours = (
        select(Callback.id)
        .join(Event, Event.id == Callback.event_id)
        .where(Callback.district_code == DISTRICT, Event.reporter_id == command.staff_id)
    )
    if session.scalar(ours.limit(1)):
        return 0
    places = _places(session, unit, len(PLANS))
    rng = np.random.default_rng(seed)
    for index, (plan, (lon, lat, worker_id)) in enumerate(zip(PLANS, places, strict=False)):
        worker = load_actor(session, staff_id=worker_id)
        start = (at - timedelta(days=4 + 2 * index)).replace(microsecond=0)
        _work_case(
            session,
            plan=plan,
            start=start,
            place=(lon, lat),
            command=command,
            police=police,
            unit_id=unit.id,
            worker=worker,
            phone=f"139{int(rng.integers(10_000_000, 99_999_999))}",
            words=_WORDS[index % len(_WORDS)],
            answer=_REPLIES[index % len(_REPLIES)],
        )
    session.flush()
    return min(len(PLANS), len(places))


def _work_case(
    session: Session,
    *,
    plan: str,
    start: datetime,
    place: tuple[float, float],
    command: Actor,
    police: Actor,
    unit_id: int,
    worker: Actor,
    phone: str,
    words: str,
    answer: str,
) -> None:
    """One hotline case from the call to where `plan` leaves it."""
    hours = timedelta(hours=1)
    report = EventReport(
        category=CATEGORY,
        lon=place[0],
        lat=place[1],
        description=words,
        source=EventSource.HOTLINE,
        appeal_type=AppealType.COMPLAINT,
        contact=phone,
    )
    code = report_event(session, actor=command, report=report, now=start).code

    def do(actor: Actor, action: str, when: datetime, **fields: object) -> None:
        act(
            session,
            actor=actor,
            code=code,
            action=action,
            data=ActionInput.model_validate(fields),
            now=when,
        )

    def call(outcome: str, when: datetime, note: str | None = None) -> None:
        entry = CallbackInput.model_validate({"outcome": outcome, "note": note})
        record_callback(session, actor=command, code=code, entry=entry, now=when)

    do(worker, "check", start + hours / 2, note="现场核实属实")
    do(command, "register", start + hours * 3 / 4)  # 立案 by the command centre
    do(command, "dispatch", start + hours, unit_id=unit_id, reason="派至辖区派出所")
    do(police, "sign", start + 2 * hours)
    do(police, "handle", start + 24 * hours, note="民警已上门核查并处置")
    do(worker, "verify", start + 25 * hours)
    if plan == "waiting_reply":
        return
    replied = start + (200 if plan == "late_reply" else 26) * hours  # late: a week on
    do(command, "reply", replied, reply=answer, reply_channel="phone")
    called = replied + 20 * hours
    if plan == "callback_due":
        return
    if plan == "unreached":
        for n in range(3):
            call("no_answer", called + n * hours)
        return
    if plan in ("reopen_then_satisfied", "review", "dissatisfied_handling"):
        call("dissatisfied", called, "来电人称问题仍未解决")
        if plan == "dissatisfied_handling":
            return
        do(police, "handle", called + 20 * hours, note="再次上门处置")
        do(worker, "verify", called + 21 * hours)
        do(command, "reply", called + 22 * hours, reply="已再次处置并回复", reply_channel="phone")
        if plan == "review":
            call("dissatisfied", called + 40 * hours, "仍不满意，要求复核")
        else:
            call("satisfied", called + 40 * hours, "满意")
        return
    call("fairly_satisfied" if plan == "fairly_satisfied" else "satisfied", called)


__all__ = ["seed_demo_replies"]
