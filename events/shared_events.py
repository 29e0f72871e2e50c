"""Events by category (事件（按类别）) in the sharing catalogue (people.sharing).

A department granted this dataset reads the events of the granted categories (大类 or 小类
codes) in the granted area, with the granted fields only; the caller's name and phone and the
reporting grid worker's name are personal data, masked unless granted clear (and every read
is access-logged by people.sharing). Changes come from the `event` trigger
(gis.share_triggers), tagged with the event's category. people does not import events, so
this module registers the dataset (and the event counts of the rental risk grade) when it is
imported: the API and the delivery worker import it.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import functions as gfn
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from events.building_findings import rental_findings
from events.models import Event, EventCategory
from events.service import CALLER_NAME_CONTEXT, CONTACT_CONTEXT
from people.models import Staff
from people.pii import mask_name
from people.sharing import (
    Dataset,
    SharedField,
    decrypted,
    labelled,
    register_building_findings,
    register_dataset,
)

KEY = "events_by_category"


def _rows() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Event.id,
            Event.code,
            Event.category_code,
            EventCategory.name.label("category_name"),
            Event.status,
            Event.priority,
            Event.source,
            Event.description,
            Event.address,
            Event.grid_code,
            Event.reported_at,
            Event.closed_at,
            gfn.ST_X(Event.geom).label("lon"),
            gfn.ST_Y(Event.geom).label("lat"),
            Event.caller_name_enc,
            Event.caller_name_masked,
            Event.contact_enc,
            Event.contact_masked,
            Staff.full_name.label("reporter"),
        )
        .join(EventCategory, EventCategory.id == Event.category_id)
        .outerjoin(Staff, Staff.id == Event.reporter_id)
    )


def _unknown_categories(session: Session, codes: list[str]) -> list[str]:
    known = session.execute(
        select(EventCategory.code, EventCategory.major_code).where(
            EventCategory.valid_to.is_(None),
            or_(EventCategory.code.in_(codes), EventCategory.major_code.in_(codes)),
        )
    ).all()
    found = {c for row in known for c in row}
    return [code for code in codes if code not in found]


EVENTS_BY_CATEGORY = Dataset(
    label="事件（按类别） events by category",
    fields={
        "code": labelled("事件编号 event code", "code"),
        "category_code": labelled("类别代码 category code", "category_code"),
        "category_name": labelled("类别 category", "category_name"),
        "status": labelled("状态 status", "status"),
        "priority": labelled("紧急程度 priority", "priority"),
        "source": labelled("来源 source", "source"),
        "description": labelled("事件描述 description", "description"),
        "address": labelled("地址 address", "address"),
        "grid_code": labelled("网格 grid", "grid_code"),
        "reported_at": labelled("上报时间 reported at", "reported_at"),
        "closed_at": labelled("结案时间 closed at", "closed_at"),
        "lon": SharedField(
            "经度 lon (CGCS2000)", lambda r: round(r.lon, 6) if r.lon is not None else None
        ),
        "lat": SharedField(
            "纬度 lat (CGCS2000)", lambda r: round(r.lat, 6) if r.lat is not None else None
        ),
        "caller_name": SharedField(
            "来电人姓名 caller name",
            lambda r: r.caller_name_masked,
            decrypted("caller_name_enc", CALLER_NAME_CONTEXT),
        ),
        "caller_phone": SharedField(
            "来电人电话 caller phone",
            lambda r: r.contact_masked,
            decrypted("contact_enc", CONTACT_CONTEXT),
        ),
        "reporter": SharedField(
            "上报网格员 reporting grid worker",
            lambda r: mask_name(r.reporter) if r.reporter else None,
            lambda r: r.reporter,
        ),
    },
    rows=_rows,
    grid=Event.grid_code,
    order=Event.id,
    category=Event.category_code,
    unknown_categories=_unknown_categories,
)

register_dataset(KEY, EVENTS_BY_CATEGORY)
register_building_findings(rental_findings)

__all__ = ["EVENTS_BY_CATEGORY", "KEY"]
