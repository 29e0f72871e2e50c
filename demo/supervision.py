"""Demo supervision orders (督办单) and sanctions, so the console's 督办 panel, the leader's map
(挂牌督办 flags) and the KPIs 督办回复率 / 督办按时率 have something to show
(`seed_demo_supervision`).

The district command centre (`command`) supervises the oldest open cases of 西陵区 held by a
unit with a dispatcher: one 一般督办 answered in time, one 重点督办 answered late, one 重点督办
left unanswered (escalated to the leader), and three 挂牌督办 — unanswered, answered and
waiting to be lifted, and lifted; then a 约谈 against the unit that left its order unanswered
and a 通报. Each answer is its unit's dispatcher's. All through the services.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.models import Event, EventStatus, SupervisionOrder
from events.sanctions import record_sanction
from events.schemas import SanctionInput, SupervisionIssue
from events.supervision import escalate_unanswered, issue_by_hand, lift, reply
from people.access import Actor, load_actor
from people.models import Staff, StaffRole

DISTRICT: Final = "420502"
COMMAND_LOGIN: Final = "command"
# (level, what the station does: "on_time", "late", "none"; lifted afterwards)
PLANS: Final = (
    ("general", "on_time", False),
    ("key", "late", False),
    ("key", "none", False),
    ("listed", "none", False),
    ("listed", "on_time", False),
    ("listed", "on_time", True),
)
_DEMANDS: Final = {
    "general": "请加快办理，按时限办结并回复督办情况",
    "key": "案件已超时，请立即办理，并书面回复原因及办结时间",
    "listed": "挂牌督办：请所长牵头，三日内办结，每日报告进展",
}


def _actor(session: Session, username: str) -> Actor | None:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    return load_actor(session, staff_id=staff_id) if staff_id is not None else None


def _dispatcher(session: Session, unit_id: int) -> Actor | None:
    staff_id = session.scalar(
        select(Staff.id)
        .where(Staff.department_unit_id == unit_id, Staff.role == StaffRole.DISPATCHER)
        .order_by(Staff.id)
        .limit(1)
    )
    return load_actor(session, staff_id=staff_id) if staff_id is not None else None


def seed_demo_supervision(session: Session, *, now: datetime | None = None) -> int:
    """Issue and work the demo orders up to `now`; returns how many (0 when the district has
    orders already, or the demo accounts or cases are missing). Never commits."""
    at = now or datetime.now(UTC)
    command = _actor(session, COMMAND_LOGIN)
    if command is None:
        return 0
    if session.scalar(
        select(SupervisionOrder.id).where(SupervisionOrder.district_code == DISTRICT).limit(1)
    ):
        return 0
    has_dispatcher = (
        select(Staff.id)
        .where(Staff.department_unit_id == Event.unit_id, Staff.role == StaffRole.DISPATCHER)
        .exists()
    )
    cases = session.scalars(
        select(Event)
        .where(
            Event.district_code == DISTRICT,
            Event.status.in_([EventStatus.DISPATCHED, EventStatus.SIGNED]),
            Event.reported_at < at - timedelta(days=7),
            has_dispatcher,
        )
        .order_by(Event.reported_at, Event.id)
        .limit(len(PLANS))
    ).all()
    orders = []
    for index, ((level, answer, lifted), case) in enumerate(zip(PLANS, cases, strict=False)):
        issued_at = at - timedelta(days=6 - index)
        order = issue_by_hand(
            session,
            actor=command,
            entry=SupervisionIssue(event=case.code, level=level, demand=_DEMANDS[level]),
            now=issued_at,
        )
        orders.append(order)
        unit_staff = _dispatcher(session, order.unit.id)
        assert unit_staff is not None
        if answer == "on_time":
            reply(
                session,
                actor=unit_staff,
                order_id=order.id,
                text="已组织力量处置，情况已查清，近日办结",
                now=issued_at + timedelta(hours=2),
            )
        elif answer == "late":
            reply(
                session,
                actor=unit_staff,
                order_id=order.id,
                text="因人手紧张回复延迟，现已处置完毕",
                now=order.reply_deadline + timedelta(days=1),
            )
        if lifted:
            lift(
                session,
                actor=command,
                order_id=order.id,
                reason="整改到位，经核查同意摘牌",
                now=issued_at + timedelta(days=1),
            )
    escalate_unanswered(session, now=at)
    if len(orders) >= 3:
        record_sanction(
            session,
            actor=command,
            entry=SanctionInput(
                unit_id=orders[2].unit.id,
                kind="interview",
                reason="重点督办逾期未回复，约谈单位负责人",
                order_id=orders[2].id,
            ),
            now=at - timedelta(hours=1),
        )
        record_sanction(
            session,
            actor=command,
            entry=SanctionInput(
                unit_id=orders[1].unit.id, kind="notice", reason="督办回复逾期，予以通报"
            ),
            now=at,
        )
    session.flush()
    return len(orders)


__all__ = ["seed_demo_supervision"]
