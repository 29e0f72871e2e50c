"""The demo hotline desk: the operator account and its calls, filed once, callers masked."""

from __future__ import annotations

from sqlalchemy import func, select

from demo.hotline import CALLS, OPERATOR, seed_demo_hotline
from events.models import Event, EventSource, EventStatus
from people.models import Staff, StaffRole
from tests.events.workflow_city import EAST, WEST
from tests.factories import add_building, square


def test_the_demo_desk_takes_its_calls_once_with_callers_masked(city):
    session = city["session"]
    for i in range(8):
        grid = WEST if i % 2 else EAST
        add_building(session, f"DEMO-B{i}", square(111.281 + 0.002 * i, 30.701, 0.0003), grid)
    assert seed_demo_hotline(session) == len(CALLS)
    operator = session.scalars(select(Staff).where(Staff.username == OPERATOR)).one()
    assert operator.role is StaffRole.COMMAND and operator.area_code == "420502000000"
    events = list(session.scalars(select(Event).order_by(Event.reported_at)))
    assert [e.external_ref for e in events] == [c.ticket for c in CALLS]
    assert {e.source for e in events} == {EventSource.HOTLINE, EventSource.MAILBOX}
    unlocated = [e for e in events if e.geom is None]
    assert [e.external_ref for e in unlocated] == ["12345-DEMO-0002"]
    answered = [e for e in events if e.status is EventStatus.CLOSED]
    assert [e.external_ref for e in answered] == ["12345-DEMO-0003"]
    assert [e.contact_masked for e in events] == [
        "138****4561",
        "139****4562",
        "*******1234",  # a landline shows its last 4 digits only
        "158****4564",
    ]
    assert [e.caller_name_masked for e in events] == ["张**", "李**", "王*", "赵*"]
    assert seed_demo_hotline(session) == 0
    assert session.scalar(select(func.count()).select_from(Event)) == len(CALLS)
