"""Cross-district transfer (跨区移交): a case whose place or responsible party lies in another
district goes on there as a new case.

An event's district code is its distribution column and never changes, so the transfer files
a new case in the receiving district (a code with that district's prefix, the same description,
place, reporter and photos, no idempotency key), copies the history into it (original times,
actors and notes, each step marked `carried_from`), routes it by the receiving district's
dispatch, and links the two both ways in step data (`transferred_to` / `transferred_from`).
The old case ends as transferred (已移交). `events.actions` runs it as the `transfer` action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from events.dispatch import dispatch_event
from events.exceptions import Forbidden, InvalidReport
from events.models import Attachment, Event, EventCategory, EventStatus, EventStep
from events.service import add_event, event_code
from events.workflow import add_step, carry_steps
from gis.crs import Crs
from grid import service as grid_service
from grid.exceptions import InvalidQuery
from grid.models import AdminLevel, AdminUnit, Building
from people.access import Actor
from people.models import StaffRole

# Attachment columns a carried photo keeps (the file is shared: it is stored by content hash).
_PHOTO_COLUMNS = (
    "sha256",
    "content_type",
    "size",
    "width",
    "height",
    "path",
    "thumbnail_path",
    "taken_at",
    "geom",
)


def district_name(session: Session, code: str) -> str | None:
    """The name of district `code` (6 digits), None when there is no such district."""
    return session.scalar(
        select(AdminUnit.name).where(
            AdminUnit.code == code + "000000", AdminUnit.level == AdminLevel.DISTRICT
        )
    )


def check_transfer(session: Session, *, actor: Actor, event: Event, to_district: str | None) -> str:
    """The receiving district's name, or the refusal: no or an unknown district, the event's
    own district, or an actor below the district command centre."""
    if actor.role is StaffRole.COMMAND:
        try:
            own = grid_service.area_prefix(actor.area_code or "")
        except InvalidQuery:
            own = ""
        if not own or len(own) > 6:
            raise Forbidden(
                f"只有区级或市级指挥中心可以跨区移交；您的区域是 {actor.area_code or '无'}"
                " (only a district or city command centre transfers cases across districts)"
            )
    if not to_district:
        raise InvalidReport(
            "跨区移交需要接收区县代码 to_district，例如 420503 "
            "(a transfer needs the receiving district's 6-digit code, to_district)"
        )
    target = to_district.strip()
    name = district_name(session, target) if len(target) == 6 and target.isdigit() else None
    if name is None:
        known = session.scalars(
            select(AdminUnit.district_code)
            .where(AdminUnit.level == AdminLevel.DISTRICT)
            .order_by(AdminUnit.district_code)
        ).all()
        raise InvalidReport(
            f"接收区县 {target} 不存在，请填写6位区县代码：{', '.join(known) or '（无）'} "
            f"(district {target} does not exist)"
        )
    if target == event.district_code:
        raise InvalidReport(
            f"案件 {event.code} 已在 {name}（{target}），不能移交给本区；本区改派请用重新派遣 "
            f"(the case is in district {target} already; re-dispatch it inside the district)"
        )
    return name


def _located(session: Session, event: Event, district: str) -> dict[str, Any]:
    """Where the new case lies in the receiving district: its grid when the place is inside
    the district, else no grid (`outside`), which routes it to that district's command centre;
    a case with no point yet stays unlocated, for the receiving centre to locate."""
    if event.geom is None:
        return {
            "locate_match": event.locate_match,
            "grid_code": None,
            "community_code": None,
            "street_code": None,
            "building_id": None,
        }
    point = to_shape(event.geom)
    found = grid_service.locate_point(session, lon=point.x, lat=point.y, crs=Crs.CGCS2000)
    inside = found.district is not None and found.district.code[:6] == district
    building_id = None
    if event.building_id is not None:
        building_id = session.scalar(
            select(Building.id).where(
                Building.id == event.building_id, Building.district_code == district
            )
        )
    if not inside:
        return {
            "locate_match": "outside",
            "grid_code": None,
            "community_code": None,
            "street_code": None,
            "building_id": building_id,
        }
    return {
        "locate_match": found.match,
        "grid_code": found.grid.code if found.grid else None,
        "community_code": found.community.code if found.community else None,
        "street_code": found.street.code if found.street else None,
        "building_id": building_id
        or (
            session.scalar(select(Building.id).where(Building.code == found.building.code))
            if found.building
            else None
        ),
    }


def transfer_event(
    session: Session,
    *,
    actor: Actor,
    event: Event,
    category: EventCategory,
    to_district: str,
    reason: str,
    at: datetime,
) -> Event:
    """File the new case in `to_district` with the old one's history and photos, and route it.

    The caller ends the old case (status transferred, `transferred_to` in its step).
    """
    event_id = session.execute(text("SELECT month_stamped_id('event_id_seq')")).scalar_one()
    new = Event(
        id=event_id,
        code=event_code(to_district, at, event_id),
        idempotency_key=None,
        category_id=event.category_id,
        category_code=event.category_code,
        priority=event.priority,
        status=event.status,
        source=event.source,
        description=event.description,
        address=event.address,
        geom=event.geom,
        input_crs=event.input_crs,
        district_code=to_district,
        # An organisation is in one district's ledger: the new case names none in the other.
        organisation_id=None,
        reporter_id=event.reporter_id,
        contact_enc=event.contact_enc,
        contact_masked=event.contact_masked,
        caller_name_enc=event.caller_name_enc,
        caller_name_masked=event.caller_name_masked,
        appeal_type=event.appeal_type,
        external_ref=event.external_ref,
        occurred_at=event.occurred_at,
        reported_at=at,
        **_located(session, event, to_district),
    )
    add_event(session, new)
    history = session.scalars(
        select(EventStep).where(EventStep.event_id == event.id).order_by(EventStep.at, EventStep.id)
    ).all()
    carried = carry_steps(session, event=new, steps=history, origin=event.code)
    for photo in session.scalars(
        select(Attachment).where(Attachment.event_id == event.id).order_by(Attachment.id)
    ):
        step = carried.get(photo.step_id) if photo.step_id is not None else None
        session.add(
            Attachment(
                event_id=new.id,
                district_code=new.district_code,
                step_id=step.id if step is not None else None,
                **{column: getattr(photo, column) for column in _PHOTO_COLUMNS},
            )
        )
    unlocated = new.geom is None
    add_step(
        session,
        event=new,
        action="transfer-in",
        # A case with no point waits in the receiving centre's queue for its locate (定位).
        to_status=EventStatus.REPORTED if unlocated else EventStatus.REGISTERED,
        at=at,
        actor_id=actor.staff_id,
        note=reason,
        data={
            "transferred_from": event.code,
            "from_district": event.district_code,
            "reason": reason,
        },
    )
    if not unlocated:
        dispatch_event(session, event=new, category=category, at=at, actor_id=actor.staff_id)
    return new


__all__ = ["check_transfer", "district_name", "transfer_event"]
