"""Jurisdiction disputes (管辖争议) and their rulings (裁定), as the workflow actions need them.

A case is disputed when two different units have returned it (`Event.returned_by_unit_ids`);
the command centre then rules which unit leads (`rule`, events.actions.review). A ruling is
binding: the unit it names may not return that case again. The reads (the review queue, the
list of rulings, a dispatch rule made from a ruling) are in `events.rulings`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.exceptions import ActionNotAllowed
from events.models import DepartmentUnit, DisputeRuling, Event, EventStep


def returners(event: Event) -> list[int]:
    """The units that have returned the case, each once, in the order they first returned it."""
    return list(dict.fromkeys(event.returned_by_unit_ids or []))


def is_disputed(event: Event) -> bool:
    """Whether two different units have returned the case (a jurisdiction dispute, 争议)."""
    return disputing(event.returned_by_unit_ids)


def disputing(returned_by_unit_ids: list[int] | None) -> bool:
    """Whether these returns (an event's `returned_by_unit_ids`) came from two different units."""
    return len(set(returned_by_unit_ids or [])) >= 2


def ruling_on(session: Session, *, event: Event) -> DisputeRuling | None:
    """The latest ruling on the case, if it was ever ruled."""
    return session.scalar(
        select(DisputeRuling)
        .where(
            DisputeRuling.event_id == event.id,
            DisputeRuling.district_code == event.district_code,
        )
        .order_by(DisputeRuling.id.desc())
        .limit(1)
    )


def awaiting_ruling(session: Session, *, event: Event) -> bool:
    """A dispute nobody has ruled on since the last return (the case waits for 裁定)."""
    if not is_disputed(event):
        return False
    ruling = ruling_on(session, event=event)
    if ruling is None:
        return True
    last_return = session.scalar(
        select(EventStep.at)
        .where(EventStep.event_id == event.id, EventStep.action == "return")
        .order_by(EventStep.at.desc(), EventStep.id.desc())
        .limit(1)
    )
    return last_return is not None and last_return > ruling.ruled_at


def refuse_return_if_ruled(session: Session, *, event: Event, unit_id: int | None) -> None:
    """Refuse the return of a case by the unit a ruling named as its lead (the ruling binds)."""
    if unit_id is None:
        return
    ruling = session.scalar(
        select(DisputeRuling)
        .where(
            DisputeRuling.event_id == event.id,
            DisputeRuling.district_code == event.district_code,
            DisputeRuling.unit_id == unit_id,
        )
        .order_by(DisputeRuling.id.desc())
        .limit(1)
    )
    if ruling is None:
        return
    unit = session.get(DepartmentUnit, unit_id)
    raise ActionNotAllowed(
        f"案件{event.code}已由指挥中心裁定由{unit.name if unit else unit_id}主办"
        f"（裁定第{ruling.id}号，"
        f"{ruling.ruled_at:%Y-%m-%d}：{ruling.reasoning}），不能退回 (event {event.code} was "
        f"ruled yours to lead by ruling {ruling.id}; the ruling is binding, so it cannot be "
        "returned: sign for it and handle it, or ask the command centre to re-route it)",
        allowed=["sign"],
    )


def record_ruling(
    session: Session,
    *,
    event: Event,
    step: EventStep,
    unit_ids: list[int],
    unit_id: int,
    reasoning: str,
    actor_id: int | None,
    at: datetime,
) -> DisputeRuling:
    """Keep the ruling: the case, its category and place, the units, the lead and why."""
    ruling = DisputeRuling(
        district_code=event.district_code,
        event_id=event.id,
        step_id=step.id,
        category_code=event.category_code,
        community_code=event.community_code,
        street_code=event.street_code,
        grid_code=event.grid_code,
        unit_ids=unit_ids,
        unit_id=unit_id,
        reasoning=reasoning,
        ruled_by=actor_id,
        ruled_at=at,
    )
    session.add(ruling)
    session.flush()
    return ruling
