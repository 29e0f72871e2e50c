"""Open311 GeoReport v2 over the event loop: services are categories, requests are events.

Mapping (https://wiki.open311.org/GeoReport_v2):
- `service_code` is the current version of an event subcategory code (0201 楼道堆放杂物 …);
- `service_request_id` is the event code; `token` names a submission of one integration;
- `status` is `closed` once the event is closed, voided or resolved on the spot, else `open`;
- `agency_responsible` is the unit handling it, or the district command centre (指挥中心)
  while it awaits the on-site check (核实) or routing;
- `expected_datetime` is the deadline of the running stage; `status_notes` the reply to the
  caller (答复) once a closed case has one, else the latest note;
- `extensions=true` adds our own status and the step history (`notes`).

Integrations file as their service account with `source=open311`, so every request gets the
on-site check by the grid's worker like other reports from outside. They read back only
events filed through Open311 in their area: grid workers' and hotline reports stay internal,
and no reporter contact or personal data is returned.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2.shape import to_shape
from pydantic import ValidationError
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from events.dispatch import district_command_centre
from events.exceptions import Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventSource,
    EventStatus,
    EventStep,
    KeyKind,
)
from events.schemas import (
    EventReport,
    Receipt,
    RequestNote,
    RequestPage,
    RequestQuery,
    Service,
    ServiceAttribute,
    ServiceDefinition,
    ServiceRequest,
    ServiceRequestDetail,
    Submission,
    TokenRead,
)
from events.service import code_is, event_by_key, report_event
from events.workflow import FINAL_STATES
from gis.clock import CHINA_TZ
from gis.crs import Crs
from grid import exceptions as grid_errors
from grid import service as grid_service
from grid.models import AdminLevel, AdminUnit, Building
from grid.schemas import LocateResult
from people.access import load_actor
from people.integrations import IntegrationRef

TOKEN_PREFIX = "open311:"  # events.idempotency_key of Open311 submissions: prefix + token
DEFAULT_WINDOW = timedelta(days=90)
REPEAT_WINDOW = timedelta(minutes=10)  # same device/account and text within this: one request
CLIENT_KEY_CHARS = 100

# Not yet with a unit: the district's centre answers for them.
WAITING_AT_CENTRE = (EventStatus.REPORTED, EventStatus.PENDING, EventStatus.REGISTERED)
NOTICES: dict[EventStatus, str] = {
    EventStatus.REPORTED: "网格员将到现场核实后立案派遣。A grid worker checks it on site first.",
    EventStatus.PENDING: "已受理，等待指挥中心立案。Received; the command centre decides on it.",
    EventStatus.REGISTERED: "已立案，等待派遣。Registered; the command centre routes it.",
    EventStatus.DISPATCHED: "已派遣，等待部门签收。Sent to the unit; waiting to be signed for.",
    EventStatus.SIGNED: "部门处置中。The unit is working on it.",
    EventStatus.HANDLED: "已处置，等待网格员现场核查。Fixed; a grid worker checks the fix.",
    EventStatus.VERIFIED: "核查通过，即将结案。The fix was confirmed on site.",
    EventStatus.CLOSED: "已结案。Closed.",
    EventStatus.RETURNED: "部门退回，重新派遣中。Returned by the unit; being re-routed.",
    EventStatus.SUSPENDED: "挂账，暂缓处置。On hold.",
    EventStatus.VOIDED: "已作废（不属实或重复）。Voided: not confirmed on site or a duplicate.",
    EventStatus.SELF_RESOLVED: "网格员已现场处置。Fixed on the spot by the grid worker.",
    EventStatus.REFUSED: "不予立案。Not taken up by the command centre; the notes say why.",
    EventStatus.TRANSFERRED: "已移交其他区县办理。Transferred to another district, which handles "
    "it as a new request.",
}


# -- jurisdictions and services ----------------------------------------------------------------


def jurisdictions(session: Session) -> list[str]:
    """The jurisdiction ids served: the 6-digit codes of the districts in the admin tree."""
    return list(
        session.scalars(
            select(AdminUnit.district_code)
            .where(AdminUnit.level == AdminLevel.DISTRICT)
            .order_by(AdminUnit.district_code)
        )
    )


def check_jurisdiction(
    session: Session, *, jurisdiction_id: str | None, integration: IntegrationRef | None = None
) -> None:
    """Refuse a jurisdiction we do not serve (NotFound) or outside the key's area (Forbidden)."""
    if jurisdiction_id is None or jurisdiction_id == "":
        return
    served = jurisdictions(session)
    if jurisdiction_id not in served:
        raise NotFound(
            f"jurisdiction_id {jurisdiction_id} is not served here; use the 6-digit district "
            f"code, one of: {', '.join(served) or '(none yet)'}"
        )
    if integration is not None and integration.area_code[:6] != jurisdiction_id:
        raise Forbidden(
            f"this api_key works in area {integration.area_code}, not in jurisdiction "
            f"{jurisdiction_id}; leave jurisdiction_id out or use "
            f"{integration.area_code[:6]}"
        )


def _current_categories(session: Session) -> Select[EventCategory]:
    return select(EventCategory).where(EventCategory.valid_to.is_(None))


def _service(category: EventCategory) -> Service:
    return Service(
        service_code=category.code,
        service_name=category.name,
        description=category.description or f"{category.major_name}/{category.name}",
        metadata=True,
        type="realtime",
        keywords=f"{category.major_name},{category.name}",
        group=category.major_name,
    )


def list_services(session: Session) -> list[Service]:
    """Every current event subcategory as an Open311 service, by code."""
    categories = session.scalars(_current_categories(session).order_by(EventCategory.code))
    return [_service(c) for c in categories]


def _category(session: Session, service_code: str) -> EventCategory | None:
    return session.scalar(
        _current_categories(session).where(EventCategory.code == service_code.strip())
    )


def _attributes(category: EventCategory) -> list[ServiceAttribute]:
    photo_rule = (
        "必填 required: this kind of report must show the site"
        if category.photo_required
        else "optional"
    )
    return [
        ServiceAttribute(
            code="occurred_at",
            datatype="datetime",
            required=False,
            datatype_description="ISO 8601 with a zone, e.g. 2026-11-23T09:30:00+08:00",
            order=1,
            description="发生时间 When it happened, if not just now",
        ),
        ServiceAttribute(
            code="building",
            datatype="string",
            required=False,
            datatype_description="15-digit grid code + building number, as on the door plate",
            order=2,
            description="楼栋编码 Building code, if known",
        ),
        ServiceAttribute(
            code="photo",
            datatype="string",
            required=category.photo_required,
            datatype_description=f"an http(s) URL; media_url works as well ({photo_rule})",
            order=3,
            description="现场照片 Photo of the site",
        ),
    ]


def service_definition(session: Session, *, service_code: str) -> ServiceDefinition:
    """The attributes of one service; NotFound for a code that is not a current category."""
    category = _category(session, service_code)
    if category is None:
        raise NotFound(
            f"service_code {service_code} does not exist; GET services.json lists the codes"
        )
    return ServiceDefinition(service_code=category.code, attributes=_attributes(category))


# -- filing ------------------------------------------------------------------------------------


def _token_for(integration: IntegrationRef, client_key: str) -> str:
    return hashlib.sha256(f"{integration.id}:{client_key}".encode()).hexdigest()[:32]


def _aware(moment: datetime, name: str) -> datetime:
    """The time in UTC; times without a zone are taken as China time (+08:00)."""
    local = moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
    try:
        utc = local.astimezone(UTC)
        offset = local.utcoffset()
    except OverflowError:
        utc, offset = None, None
    if utc is None or offset is None or abs(offset) > timedelta(hours=14):
        raise InvalidReport(
            f"{name} {moment.isoformat()} is not a usable time; send e.g. "
            "2026-11-23T09:30:00+08:00 (zones run from -12:00 to +14:00)"
        )
    return utc


def _check_attributes(category: EventCategory, sent: dict[str, str]) -> dict[str, Any]:
    known = {a.code: a for a in _attributes(category)}
    unknown = sorted(set(sent) - set(known))
    if unknown:
        raise InvalidReport(
            f"service {category.code} has no attribute {', '.join(unknown)}; it takes "
            f"{', '.join(known)} (see GET services/{category.code}.json)"
        )
    values: dict[str, Any] = {k: v.strip() for k, v in sent.items() if v and v.strip()}
    if "occurred_at" in values:
        try:
            occurred = datetime.fromisoformat(values["occurred_at"])
        except ValueError as exc:
            raise InvalidReport(
                f"attribute[occurred_at] '{sent['occurred_at']}' is not an ISO 8601 time; "
                "send e.g. 2026-11-23T09:30:00+08:00"
            ) from exc
        values["occurred_at"] = _aware(occurred, "attribute[occurred_at]")
    return values


def _place(session: Session, submission: Submission) -> tuple[float, float, str | None]:
    """Longitude, latitude (WGS84) and building code of a submission."""
    lat, lon = submission.lat, submission.long
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            missing = "long" if lon is None else "lat"
            raise InvalidReport(f"{missing} is missing; send both lat and long (WGS84 degrees)")
        if not -90 <= lat <= 90:
            raise InvalidReport(f"lat {lat} is outside -90..90; did you swap lat and long?")
        if not -180 <= lon <= 180:
            raise InvalidReport(f"long {lon} is outside -180..180; check the coordinates")
        return lon, lat, submission.address_id
    if submission.address_id:
        row = session.execute(
            select(
                func.ST_X(func.ST_PointOnSurface(Building.geom)),
                func.ST_Y(func.ST_PointOnSurface(Building.geom)),
            ).where(Building.code == submission.address_id.strip())
        ).first()
        if row is None:
            raise InvalidReport(
                f"address_id {submission.address_id} is not a building code we know; "
                "send lat and long instead"
            )
        return float(row[0]), float(row[1]), submission.address_id.strip()
    if submission.address_string:
        raise InvalidReport(
            "address_string alone cannot be placed on the map (this server does not geocode); "
            "send lat and long in WGS84 degrees, or a building code as address_id"
        )
    raise InvalidReport("the location is missing; send lat and long in WGS84 degrees")


def _in_area(located: LocateResult, area_code: str) -> bool:
    prefix = grid_service.area_prefix(area_code)
    deepest = located.grid or located.community or located.street or located.district
    return deepest is not None and deepest.code.startswith(prefix)


def _receipt(event: Event, token: str, account_id: str | None) -> Receipt:
    return Receipt(
        service_request_id=event.code,
        token=token,
        service_notice=NOTICES[event.status],
        account_id=account_id,
    )


def _open311_data(session: Session, event_id: int) -> EventStep | None:
    return session.scalar(
        select(EventStep)
        .where(EventStep.event_id == event_id, EventStep.action == "report")
        .order_by(EventStep.id)
        .limit(1)
    )


def _repeat(
    session: Session,
    *,
    integration: IntegrationRef,
    submission: Submission,
    category: EventCategory,
    at: datetime,
) -> Event | None:
    """An event the same device or account filed with the same text moments ago."""
    stmt = (
        select(Event)
        .join(EventStep, EventStep.event_id == Event.id)
        .where(
            Event.reporter_id == integration.staff_id,
            Event.source == EventSource.OPEN311,
            Event.category_code == category.code,
            Event.description == (submission.description or "").strip(),
            Event.reported_at >= at - REPEAT_WINDOW,
            EventStep.action == "report",
        )
        .order_by(Event.reported_at.desc())
        .limit(1)
    )
    for name, value in (("device_id", submission.device_id), ("account_id", submission.account_id)):
        if value:
            stmt = stmt.where(EventStep.data["open311"][name].astext == value)
    return session.scalar(stmt)


def submit_request(
    session: Session,
    *,
    integration: IntegrationRef,
    submission: Submission,
    attributes: dict[str, str] | None = None,
    client_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Receipt, bool]:
    """File an Open311 request as an event (source open311, checked on site first).

    Returns the receipt and whether it was created now: a repeated `client_key`
    (Idempotency-Key), or the same device/account sending the same text within ten minutes,
    answers with the first request instead of filing it twice.
    """
    at = now or datetime.now(UTC)
    check_jurisdiction(session, jurisdiction_id=submission.jurisdiction_id, integration=integration)
    if not submission.service_code or not submission.service_code.strip():
        raise InvalidReport("service_code is missing; choose one from GET services.json, e.g. 0201")
    category = _category(session, submission.service_code)
    if category is None:
        raise InvalidReport(
            f"service_code {submission.service_code} does not exist; GET services.json "
            "lists the codes"
        )
    values = _check_attributes(category, attributes or {})
    media_url = (submission.media_url or values.get("photo") or "").strip() or None
    if media_url and not media_url.lower().startswith(("http://", "https://")):
        raise InvalidReport(f"media_url '{media_url}' is not an http(s) URL")
    if category.photo_required and not media_url:
        raise InvalidReport(
            f"service {category.code} ({category.name}) needs a photo of the site; send its "
            "URL as media_url"
        )
    description = (submission.description or "").strip()
    if len(description) < 2:
        raise InvalidReport("description is missing; say in a sentence what is wrong and where")
    contact = (submission.phone or submission.email or "").strip() or None
    if contact and len(contact) > 40:
        raise InvalidReport("the phone or email is longer than 40 characters; send a shorter one")

    if client_key is not None:
        client_key = client_key.strip()
        if not 1 <= len(client_key) <= CLIENT_KEY_CHARS:
            raise InvalidReport(f"the Idempotency-Key must be 1–{CLIENT_KEY_CHARS} characters")
        token = _token_for(integration, client_key)
        earlier = event_by_key(session, KeyKind.IDEMPOTENCY, TOKEN_PREFIX + token)
        if earlier is not None:
            return _receipt(earlier, token, submission.account_id), False
    else:
        if submission.device_id or submission.account_id:
            earlier = _repeat(
                session, integration=integration, submission=submission, category=category, at=at
            )
            if earlier is not None and earlier.idempotency_key:
                earlier_token = earlier.idempotency_key.removeprefix(TOKEN_PREFIX)
                return _receipt(earlier, earlier_token, submission.account_id), False
        token = secrets.token_hex(16)

    lon, lat, building = _place(session, submission)
    try:
        located = grid_service.locate_point(session, lon=lon, lat=lat, crs=Crs.WGS84)
    except grid_errors.InvalidQuery as exc:
        raise InvalidReport(str(exc)) from exc
    if not _in_area(located, integration.area_code):
        raise InvalidReport(
            f"the point lat {lat}, long {lon} is outside area {integration.area_code} this "
            "api_key files in; check lat and long (WGS84 degrees)"
        )
    try:
        report = EventReport(
            category=category.code,
            lon=lon,
            lat=lat,
            crs=Crs.WGS84,
            description=description,
            address=(submission.address_string or "").strip() or None,
            building=building or values.get("building"),
            occurred_at=values.get("occurred_at"),
            source=EventSource.OPEN311,
            contact=contact,
            external_ref=submission.account_id,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidReport(f"{where}: {first['msg']}") from exc
    actor = load_actor(session, staff_id=integration.staff_id)
    filed = report_event(
        session, actor=actor, report=report, idempotency_key=TOKEN_PREFIX + token, now=at
    )
    event = session.get(Event, filed.id)
    assert event is not None
    step = _open311_data(session, event.id)
    if step is not None and filed.created:
        step.data = {
            **step.data,
            "open311": {
                "integration": integration.name,
                "device_id": submission.device_id,
                "account_id": submission.account_id,
                "media_url": media_url,
            },
        }
        session.flush()
    return _receipt(event, token, submission.account_id), filed.created


# -- reading -----------------------------------------------------------------------------------


def _visible(integration: IntegrationRef) -> Any:
    """Events an integration may read: filed through Open311, inside its area."""
    prefix = grid_service.area_prefix(integration.area_code)
    return (
        Event.source == EventSource.OPEN311,
        or_(
            Event.grid_code.startswith(prefix),
            func.coalesce(Event.community_code, Event.street_code, Event.district_code).startswith(
                prefix
            ),
        ),
    )


def _open_or_closed(status: EventStatus) -> str:
    return "closed" if status in FINAL_STATES else "open"


def _status_notes(event: Event, history: list[EventStep]) -> str | None:
    """The reply to the caller (答复) once a closed case has one, else the latest step's note."""
    if event.status is EventStatus.CLOSED:
        for step in reversed(history):
            if step.action in ("reply", "direct-reply") and (step.data or {}).get("reply"):
                return str(step.data["reply"])
            if step.action == "reopen":
                break
    return history[-1].note if history else None


def _to_requests(
    session: Session, events: list[Event], *, extensions: bool
) -> list[ServiceRequest]:
    if not events:
        return []
    ids = [e.id for e in events]
    categories = {
        c.id: c
        for c in session.scalars(
            select(EventCategory).where(EventCategory.id.in_({e.category_id for e in events}))
        )
    }
    all_steps = list(
        session.scalars(
            select(EventStep)
            .where(EventStep.event_id.in_(ids))
            .order_by(EventStep.event_id, EventStep.at, EventStep.id)
        )
    )
    steps: dict[int, list[EventStep]] = {}
    for step in all_steps:
        steps.setdefault(step.event_id, []).append(step)
    unit_ids = {e.unit_id for e in events if e.unit_id} | {
        s.unit_id for s in all_steps if s.unit_id and extensions
    }
    units = (
        {
            u.id: u.name
            for u in session.scalars(select(DepartmentUnit).where(DepartmentUnit.id.in_(unit_ids)))
        }
        if unit_ids
        else {}
    )
    centres = {}
    for district in {e.district_code for e in events}:
        centre = district_command_centre(session, district_code=district)
        centres[district] = centre.name if centre else "指挥中心 Command centre"
    building_ids = {e.building_id for e in events if e.building_id}
    # Rows unpack like tuples (Result.tuples() is deprecated in SQLAlchemy 2.1, and dict() of
    # a Result takes it for a mapping because it has keys()).
    buildings = (
        {
            building_id: code
            for building_id, code in session.execute(
                select(Building.id, Building.code).where(Building.id.in_(building_ids))
            )
        }
        if building_ids
        else {}
    )
    requests = []
    for event in events:
        category = categories[event.category_id]
        history = steps.get(event.id, [])
        latest = history[-1] if history else None
        first_data = history[0].data if history else {}
        waiting = event.status in WAITING_AT_CENTRE or (
            event.unit_id is None and event.status not in FINAL_STATES
        )
        agency = centres[event.district_code] if waiting else units.get(event.unit_id or -1)
        point = to_shape(event.geom) if event.geom is not None else None
        request = ServiceRequest(
            service_request_id=event.code,
            status=_open_or_closed(event.status),
            status_notes=_status_notes(event, history),
            service_name=category.name,
            service_code=category.code,
            description=event.description,
            agency_responsible=agency or centres[event.district_code],
            service_notice=NOTICES[event.status],
            requested_datetime=event.reported_at,
            updated_datetime=latest.at if latest else event.reported_at,
            expected_datetime=None if event.status in FINAL_STATES else event.stage_deadline,
            address=event.address,
            address_id=buildings.get(event.building_id or -1),
            zipcode=None,
            lat=point.y if point else None,
            long=point.x if point else None,
            media_url=(first_data.get("open311") or {}).get("media_url"),
        )
        if extensions:
            request = ServiceRequestDetail(
                **request.model_dump(),
                detailed_status=event.status.value,
                detailed_status_label=event.status.label,
                notes=[
                    RequestNote(
                        datetime=s.at,
                        type=s.action,
                        status=s.to_status.value,
                        status_label=s.to_status.label,
                        summary=s.note,
                        agency=units.get(s.unit_id) if s.unit_id else None,
                    )
                    for s in history
                ],
            )
        requests.append(request)
    return requests


def _codes(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def list_requests(
    session: Session,
    *,
    integration: IntegrationRef,
    query: RequestQuery,
    now: datetime | None = None,
) -> RequestPage:
    """Requests filed through Open311 in the integration's area, newest first.

    With `service_request_id` the other filters are ignored (as the spec says); otherwise
    the window is the last 90 days unless `start_date`/`end_date` say otherwise, and may
    not span more than 90 days.
    """
    at = now or datetime.now(UTC)
    check_jurisdiction(session, jurisdiction_id=query.jurisdiction_id, integration=integration)
    stmt = select(Event).where(*_visible(integration))
    ids = _codes(query.service_request_id)
    if ids:
        stmt = stmt.where(Event.code.in_(ids))
    else:
        start = _aware(query.start_date, "start_date") if query.start_date else None
        end = _aware(query.end_date, "end_date") if query.end_date else None
        if start and end and end < start:
            raise InvalidReport(f"end_date {end.isoformat()} is before start_date; swap them")
        if start and end and end - start > DEFAULT_WINDOW:
            raise InvalidReport(
                "start_date and end_date may not be more than 90 days apart; ask in pieces"
            )
        if start is None and end is None:
            end = at
        try:
            start = start or (end - DEFAULT_WINDOW if end else None)
            end = end or (start + DEFAULT_WINDOW if start else None)
        except OverflowError as exc:
            raise InvalidReport("start_date or end_date is too far in the future") from exc
        stmt = stmt.where(Event.reported_at >= start, Event.reported_at <= end)
        codes = _codes(query.service_code)
        if codes:
            stmt = stmt.where(Event.category_code.in_(codes))
        statuses = {s.lower() for s in _codes(query.status)}
        unknown = statuses - {"open", "closed"}
        if unknown:
            raise InvalidReport(
                f"status {', '.join(sorted(unknown))} is not open or closed; "
                "use status=open, status=closed or both"
            )
        if statuses == {"open"}:
            stmt = stmt.where(Event.status.not_in(FINAL_STATES))
        elif statuses == {"closed"}:
            stmt = stmt.where(Event.status.in_(FINAL_STATES))
        if query.jurisdiction_id:
            stmt = stmt.where(Event.district_code == query.jurisdiction_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    events = list(
        session.scalars(
            stmt.order_by(Event.reported_at.desc(), Event.id.desc())
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
    )
    return RequestPage(
        total=total,
        page=query.page,
        page_size=query.page_size,
        items=_to_requests(session, events, extensions=query.extensions),
    )


def get_request(
    session: Session,
    *,
    integration: IntegrationRef,
    service_request_id: str,
    extensions: bool = False,
    jurisdiction_id: str | None = None,
) -> ServiceRequest:
    """One request by its id; NotFound when it does not exist or is not the key's to read."""
    check_jurisdiction(session, jurisdiction_id=jurisdiction_id, integration=integration)
    event = session.scalar(
        select(Event).where(*code_is(session, service_request_id), *_visible(integration))
    )
    if event is None:
        raise NotFound(
            f"service request {service_request_id} does not exist or was not filed through "
            "Open311 in this api_key's area"
        )
    return _to_requests(session, [event], extensions=extensions)[0]


def find_token(
    session: Session,
    *,
    integration: IntegrationRef,
    token: str,
    jurisdiction_id: str | None = None,
) -> TokenRead:
    """The request a token of this integration stands for."""
    check_jurisdiction(session, jurisdiction_id=jurisdiction_id, integration=integration)
    event = event_by_key(session, KeyKind.IDEMPOTENCY, TOKEN_PREFIX + token.strip())
    code = event.code if event is not None and event.reporter_id == integration.staff_id else None
    if code is None:
        raise NotFound(f"token {token} is unknown to this api_key; POST requests gives tokens")
    return TokenRead(service_request_id=code, token=token.strip())
