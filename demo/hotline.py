"""The demo city's hotline desk (12345热线受理): the operator account `hotline1` and a few calls it
took — with callers (encrypted, shown masked), 诉求类型 and ticket numbers; one placed by address
only, waiting in the 待定位 queue; one question answered at once (直接答复).

Idempotent: a call whose ticket number is already filed is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.people.scales import DEMO_PASSWORD
from events.actions import act
from events.models import AppealType, EventSource, KeyKind, ReplyChannel
from events.schemas import ActionInput, EventReport
from events.service import building_point, event_by_key, report_event, ticket_key
from gis.config import get_settings
from gis.crs import Crs
from grid.models import Building
from people.access import Actor, load_actor
from people.models import Staff, StaffRole
from people.staff import create_staff

OPERATOR: Final = "hotline1"
OPERATOR_NAME: Final = "12345受理员"
DISTRICT_AREA: Final = "420502000000"  # 西陵区


@dataclass(frozen=True)
class Call:
    """One call as the operator took it; `at_building` picks a demo building (None: no point)."""

    ticket: str
    source: EventSource
    appeal: AppealType
    category: str
    caller: str
    phone: str
    words: str
    address: str
    at_building: int | None
    answer: str | None = None  # answered at once (直接答复)


CALLS: Final = (
    Call(
        "12345-DEMO-0001",
        EventSource.HOTLINE,
        AppealType.COMPLAINT,
        "0601",
        "张建国",
        "13871234561",
        "小区门口的垃圾堆了三天没人清运，天热有味道。",
        "西陵区小区东门",
        0,
    ),
    Call(
        "12345-DEMO-0002",
        EventSource.HOTLINE,
        AppealType.HELP,
        "1002",
        "李秀兰",
        "13971234562",
        "楼前的路灯坏了一个星期，晚上老人出门看不清路。",
        "西陵区某小区5栋前",
        None,
    ),
    Call(
        "12345-DEMO-0003",
        EventSource.HOTLINE,
        AppealType.CONSULT,
        "0201",
        "王强",
        "0717-6231234",
        "想问楼道里能不能停电动车充电。",
        "西陵区",
        3,
        answer="楼道内禁止停放电动车和飞线充电，请到小区集中充电点充电。",
    ),
    Call(
        "XX-DEMO-0004",
        EventSource.MAILBOX,
        AppealType.SUGGESTION,
        "0201",
        "赵敏",
        "15871234564",
        "建议清理单元楼道里堆放的杂物，消防通道被堵。",
        "西陵区单元楼",
        7,
    ),
)


def _operator(session: Session) -> Actor:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == OPERATOR))
    if staff_id is not None:
        return load_actor(session, staff_id=staff_id)
    password = DEMO_PASSWORD if get_settings().environment != "production" else None
    if password is None:
        raise RuntimeError("the demo hotline desk is not seeded in production")
    return create_staff(
        session,
        username=OPERATOR,
        password=password,
        full_name=OPERATOR_NAME,
        role=StaffRole.COMMAND,
        area_code=DISTRICT_AREA,
    )


def seed_demo_hotline(session: Session, *, now: datetime | None = None) -> int:
    """The operator `hotline1` and the demo calls not yet filed; returns how many were filed."""
    if get_settings().environment == "production":
        return 0
    operator = _operator(session)
    buildings = list(
        session.scalars(
            select(Building.code)
            .where(Building.district_code == DISTRICT_AREA[:6])
            .order_by(Building.code)
            .limit(10)
        )
    )
    at = now or datetime.now(UTC)
    filed = 0
    for i, call in enumerate(CALLS):
        if event_by_key(session, KeyKind.TICKET, ticket_key(call.source, call.ticket)) is not None:
            continue
        point = (
            building_point(session, buildings[call.at_building])
            if call.at_building is not None and call.at_building < len(buildings)
            else None
        )
        report = EventReport(
            category=call.category,
            lon=point[0] if point else None,
            lat=point[1] if point else None,
            crs=Crs.CGCS2000,
            description=call.words,
            address=call.address,
            source=call.source,
            appeal_type=call.appeal,
            caller_name=call.caller,
            contact=call.phone,
            ticket=call.ticket,
        )
        moment = at - timedelta(hours=len(CALLS) - i)
        event = report_event(session, actor=operator, report=report, now=moment)
        if call.answer:
            act(
                session,
                actor=operator,
                code=event.code,
                action="direct-reply",
                data=ActionInput(reply=call.answer, reply_channel=ReplyChannel.PHONE),
                now=moment + timedelta(minutes=5),
            )
        filed += 1
    return filed


__all__ = ["CALLS", "OPERATOR", "seed_demo_hotline"]
