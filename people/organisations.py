"""Organisations (实有单位): businesses, shops, schools, hospitals, social organisations.

Each is identified by its unified social credit code (GB 32100) and placed by its building
(grid, district and a point on the footprint) or, lacking one, by a located point. The
responsible person's phone is PII: stored encrypted with a masked copy. Fire and police
departments find the key units (消防/治安重点单位) inside their jurisdiction with `key_units_in`.
Every registration and change is kept in the ledger's history (`people.changes`), phones masked.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple, cast

import shapely
from geoalchemy2 import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gis.crs import STORAGE_SRID
from grid import exceptions as grid_errors
from grid import service as grid_service
from grid.models import Building
from people.access import (
    READ_PERSONS,
    UNMASK,
    Actor,
    grid_scope,
    log_pii_read,
    require_grid,
    require_role,
)
from people.changes import LedgerEntity, Written, create_once, history, record_change
from people.credit_code import CreditCodeError, validate_credit_code
from people.exceptions import Duplicate, InvalidRecord, NotFound
from people.models import Organisation, OrganisationType
from people.pii import PhoneError, get_cipher, mask_phone, validate_phone
from people.schemas import (
    ChangeRead,
    OrganisationCreate,
    OrganisationPage,
    OrganisationRead,
    OrganisationUpdate,
    parse_org_type,
)
from people.service import MAX_PAGE_SIZE

PHONE_CONTEXT = "organisation.phone"


class KeyUnitKind(enum.StrEnum):
    """Which key-unit list a department asks for."""

    FIRE = "fire"  # 消防重点单位, for fire brigades
    SECURITY = "security"  # 治安重点单位, for police stations


# --- helpers ----------------------------------------------------------------------------------


def _credit_code(code: str, *, confirmed: bool) -> str:
    try:
        return validate_credit_code(code, strict=not confirmed)
    except CreditCodeError as exc:
        raise InvalidRecord(f"credit_code: {exc}") from exc


def _phone(phone: str | None) -> tuple[bytes | None, str | None]:
    if phone is None or not phone.strip():
        return None, None
    try:
        normal = validate_phone(phone)
    except PhoneError as exc:
        raise InvalidRecord(f"responsible_phone: {exc}") from exc
    return get_cipher().encrypt(normal, context=PHONE_CONTEXT), mask_phone(normal)


def _check_unique(session: Session, credit_code: str, own_id: int | None = None) -> None:
    other = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.credit_code == credit_code)
    ).first()
    if other is not None and other[0] != own_id:
        raise Duplicate(
            f"credit code {credit_code} is already registered to {other[1]} (organisation "
            f"{other[0]}); update that record instead"
        )


class _Place(NamedTuple):
    """Where an organisation is: building, grid, district and point (CGCS2000 lon/lat)."""

    building_id: int | None
    grid_code: str | None
    district_code: str
    lon: float
    lat: float


def _place(
    session: Session,
    *,
    building_code: str | None,
    lon: float | None,
    lat: float | None,
    crs: str,
) -> _Place:
    if building_code and (lon is not None or lat is not None):
        raise InvalidRecord(
            "give building_code or lon/lat, not both: the building places the organisation"
        )
    if building_code:
        building = session.scalar(select(Building).where(Building.code == building_code))
        if building is None:
            raise NotFound(f"building {building_code} does not exist; check the building code")
        point = func.ST_PointOnSurface(Building.geom)
        x, y = session.execute(
            select(func.ST_X(point), func.ST_Y(point)).where(Building.id == building.id)
        ).one()
        return _Place(building.id, building.grid_code, building.district_code, x, y)
    if lon is None or lat is None:
        raise InvalidRecord(
            "an organisation needs a place: building_code (preferred) or both lon and lat"
        )
    try:
        located = grid_service.locate_point(session, lon=lon, lat=lat, crs=crs)
    except grid_errors.InvalidQuery as exc:
        raise InvalidRecord(str(exc)) from exc
    district = located.district.code[:6] if located.district else None
    if located.grid:
        district = located.grid.code[:6]
    if district is None:
        raise InvalidRecord(
            f"lon {lon}, lat {lat} ({crs}) lies outside every district of this deployment; "
            "check the coordinates and the coordinate system"
        )
    building_id = None
    if located.building and located.building.distance_m == 0:
        building_id = session.scalar(
            select(Building.id).where(Building.code == located.building.code)
        )
    grid_code = located.grid.code if located.grid else None
    return _Place(building_id, grid_code, district, located.lon, located.lat)


def _apply_place(organisation: Organisation, place: _Place) -> None:
    organisation.building_id = place.building_id
    organisation.grid_code, organisation.district_code = place.grid_code, place.district_code
    organisation.geom = from_shape(Point(place.lon, place.lat), srid=STORAGE_SRID)


def _read_select() -> Select[Any]:
    return select(
        Organisation, Building.code, func.ST_X(Organisation.geom), func.ST_Y(Organisation.geom)
    ).outerjoin(Building, Organisation.building_id == Building.id)


def _read(row: Any) -> OrganisationRead:
    org, building_code, lon, lat = row
    return OrganisationRead(
        id=org.id,
        credit_code=org.credit_code,
        name=org.name,
        org_type=org.org_type,
        org_type_label=org.org_type.label,
        address=org.address,
        building_code=building_code,
        grid_code=org.grid_code,
        district_code=org.district_code,
        legal_representative=org.legal_representative,
        responsible_person=org.responsible_person,
        responsible_phone_masked=org.responsible_phone_masked,
        staff_count=org.staff_count,
        fire_key_unit=org.fire_key_unit,
        security_key_unit=org.security_key_unit,
        lon=lon,
        lat=lat,
    )


def _read_one(session: Session, organisation_id: int) -> OrganisationRead:
    return _read(session.execute(_read_select().where(Organisation.id == organisation_id)).one())


def _load(
    session: Session, actor: Actor, organisation_id: int, action: str, *, lock: bool = False
) -> Organisation:
    require_role(actor, READ_PERSONS, action)
    organisation = session.get(Organisation, organisation_id, with_for_update=lock or None)
    # Outside the scope reads like missing, as for residents: an error never tells where.
    if organisation is None or not actor.can_see_grid(organisation.grid_code):
        raise NotFound(
            f"organisation {organisation_id} does not exist or is outside your scope "
            "(该单位不存在或不在您的管辖范围内)"
        )
    return organisation


# --- services ---------------------------------------------------------------------------------


def _fields(read: OrganisationRead) -> dict[str, Any]:
    """An organisation's ledger fields as its history records them (the phone masked)."""
    return read.model_dump(mode="json", exclude={"id", "org_type_label"})


def register_organisation(
    session: Session,
    *,
    actor: Actor,
    data: OrganisationCreate,
    idempotency_key: str | None = None,
) -> Written[OrganisationRead]:
    """Add an organisation, placed in its building's grid (or where its point lies); a
    resent `idempotency_key` returns the organisation it added the first time."""
    require_role(actor, READ_PERSONS, "register organisations")
    code = _credit_code(data.credit_code, confirmed=data.pilot_code_confirmed)
    place = _place(
        session, building_code=data.building_code, lon=data.lon, lat=data.lat, crs=data.crs
    )
    require_grid(actor, place.grid_code, data.building_code or "that location")

    def create(key: str | None) -> int:
        _check_unique(session, code)
        phone_enc, phone_masked = _phone(data.responsible_phone)
        organisation = Organisation(
            credit_code=code,
            name=data.name,
            org_type=data.org_type,
            address=data.address,
            legal_representative=data.legal_representative,
            responsible_person=data.responsible_person,
            responsible_phone_enc=phone_enc,
            responsible_phone_masked=phone_masked,
            staff_count=data.staff_count,
            fire_key_unit=data.fire_key_unit,
            security_key_unit=data.security_key_unit,
        )
        _apply_place(organisation, place)
        session.add(organisation)
        session.flush()
        record_change(
            session,
            actor=actor,
            entity=LedgerEntity.ORGANISATION,
            entity_id=organisation.id,
            district_code=organisation.district_code,
            before=None,
            after=_fields(_read_one(session, organisation.id)),
            idempotency_key=key,
        )
        return organisation.id

    organisation_id, created = create_once(
        session,
        actor=actor,
        entity=LedgerEntity.ORGANISATION,
        idempotency_key=idempotency_key,
        create=create,
    )
    # A replay answers only while the organisation is still there and in the caller's scope.
    _load(session, actor, organisation_id, "register organisations")
    return Written(_read_one(session, organisation_id), created)


def update_organisation(
    session: Session, *, actor: Actor, organisation_id: int, changes: OrganisationUpdate
) -> OrganisationRead:
    """Change an organisation's fields (only those given); a new place must be in scope too."""
    organisation = _load(session, actor, organisation_id, "update organisations", lock=True)
    before = _fields(_read_one(session, organisation.id))
    values = changes.model_dump(exclude_unset=True)
    confirmed = values.pop("pilot_code_confirmed", False)
    crs = values.pop("crs", changes.crs)
    if "credit_code" in values:
        new_code = values.pop("credit_code")
        if new_code is None:
            raise InvalidRecord("credit_code cannot be removed; every organisation has one")
        code = _credit_code(new_code, confirmed=confirmed)
        _check_unique(session, code, own_id=organisation.id)
        organisation.credit_code = code
    if {"building_code", "lon", "lat"} & values.keys():
        place = _place(
            session,
            building_code=values.pop("building_code", None),
            lon=values.pop("lon", None),
            lat=values.pop("lat", None),
            crs=crs,
        )
        require_grid(actor, place.grid_code, "the new place")
        _apply_place(organisation, place)
    if "responsible_phone" in values:
        phone_enc, phone_masked = _phone(values.pop("responsible_phone"))
        organisation.responsible_phone_enc = phone_enc
        organisation.responsible_phone_masked = phone_masked
    for name in ("name", "org_type", "fire_key_unit", "security_key_unit"):
        if name in values and values[name] is None:
            raise InvalidRecord(f"{name} cannot be empty; leave it out to keep the current value")
    for name, value in values.items():
        setattr(organisation, name, value)
    session.flush()
    after = _read_one(session, organisation.id)
    record_change(
        session,
        actor=actor,
        entity=LedgerEntity.ORGANISATION,
        entity_id=organisation.id,
        district_code=organisation.district_code,
        before=before,
        after=_fields(after),
    )
    return after


def get_organisation(session: Session, *, actor: Actor, organisation_id: int) -> OrganisationRead:
    """One organisation, phone masked."""
    _load(session, actor, organisation_id, "read organisations")
    return _read_one(session, organisation_id)


def organisation_history(
    session: Session, *, actor: Actor, organisation_id: int
) -> list[ChangeRead]:
    """Every recorded write to an organisation of my scope, oldest first."""
    _load(session, actor, organisation_id, "read the history of organisations")
    return history(session, entity=LedgerEntity.ORGANISATION, entity_id=organisation_id)


def list_organisations(
    session: Session,
    *,
    actor: Actor,
    grid_code: str | None = None,
    area_code: str | None = None,
    org_type: OrganisationType | str | None = None,
    fire_key_unit: bool | None = None,
    security_key_unit: bool | None = None,
    name: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> OrganisationPage:
    """Organisations in the actor's scope, filtered, ordered by grid and name."""
    require_role(actor, READ_PERSONS, "list organisations")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    stmt = _read_select().where(grid_scope(actor, Organisation.grid_code))
    if grid_code:
        stmt = stmt.where(Organisation.grid_code == grid_code)
    if area_code:
        try:
            prefix = grid_service.area_prefix(area_code)
        except grid_errors.InvalidQuery as exc:
            raise InvalidRecord(str(exc)) from exc
        stmt = stmt.where(Organisation.grid_code.startswith(prefix))
    if org_type is not None:
        try:
            stmt = stmt.where(Organisation.org_type == parse_org_type(org_type))
        except ValueError as exc:
            raise InvalidRecord(str(exc)) from exc
    if fire_key_unit is not None:
        stmt = stmt.where(Organisation.fire_key_unit.is_(fire_key_unit))
    if security_key_unit is not None:
        stmt = stmt.where(Organisation.security_key_unit.is_(security_key_unit))
    if name:
        stmt = stmt.where(Organisation.name.contains(name.strip(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Organisation.grid_code, Organisation.name, Organisation.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return OrganisationPage(
        total=total, page=page, page_size=page_size, items=[_read(r) for r in rows]
    )


def unmask_organisation_phone(
    session: Session, *, actor: Actor, organisation_id: int, reason: str
) -> str | None:
    """The clear phone of an organisation's responsible person; writes an access-log row."""
    require_role(actor, UNMASK, "see unmasked phones")
    if len(reason.strip()) < 4:
        raise InvalidRecord(
            "say why you need the unmasked phone (at least a few words); "
            "the reason is kept in the access log"
        )
    organisation = _load(session, actor, organisation_id, "read organisations")
    log_pii_read(
        session,
        actor=actor,
        organisation_id=organisation.id,
        district_code=organisation.district_code,
        fields="responsible_phone",
        reason=reason,
    )
    if organisation.responsible_phone_enc is None:
        return None
    return get_cipher().decrypt(organisation.responsible_phone_enc, context=PHONE_CONTEXT)


def _jurisdiction(polygon: BaseGeometry | bytes | bytearray | memoryview | WKBElement) -> bytes:
    """A (multi)polygon given as shapely, (E)WKB or a GeoAlchemy element, as plain WKB."""
    if isinstance(polygon, WKBElement):
        if polygon.srid not in (STORAGE_SRID, -1, 0):
            raise InvalidRecord(
                f"the jurisdiction polygon is in SRID {polygon.srid}; it must be CGCS2000 "
                f"({STORAGE_SRID}) lon/lat like every stored geometry"
            )
        geom = to_shape(polygon)
    elif isinstance(polygon, BaseGeometry):
        geom = polygon
    elif isinstance(polygon, bytes | bytearray | memoryview):
        try:
            geom = shapely.from_wkb(bytes(polygon))
        except shapely.errors.GEOSException as exc:
            raise InvalidRecord(f"the jurisdiction polygon is not readable WKB: {exc}") from exc
        srid = shapely.get_srid(geom)
        if srid not in (STORAGE_SRID, 0):
            raise InvalidRecord(
                f"the jurisdiction polygon is in SRID {srid}; it must be CGCS2000 "
                f"({STORAGE_SRID}) lon/lat like every stored geometry"
            )
    else:
        raise InvalidRecord(
            f"the jurisdiction polygon must be shapely or WKB, not {type(polygon).__name__}"
        )
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise InvalidRecord(
            f"the jurisdiction must be a non-empty Polygon or MultiPolygon, not {geom.geom_type}"
        )
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidRecord(
            "the jurisdiction polygon's coordinates are not lon/lat degrees; it looks projected, "
            f"send it in CGCS2000 ({STORAGE_SRID})"
        )
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InvalidRecord(f"the jurisdiction polygon is not valid ({reason}); repair it first")
    return cast(bytes, shapely.to_wkb(geom, include_srid=False))


def key_units_in(
    session: Session,
    *,
    polygon: BaseGeometry | bytes | bytearray | memoryview | WKBElement,
    kind: KeyUnitKind | str,
) -> list[OrganisationRead]:
    """Key units (fire: 消防重点单位, security: 治安重点单位) whose point lies in a jurisdiction.

    `polygon` is CGCS2000 (SRID 4490) lon/lat, as shapely, WKB/EWKB or a GeoAlchemy element
    (e.g. a department unit's stored jurisdiction). No actor: the caller checks the unit.
    """
    try:
        wanted = KeyUnitKind(kind)
    except ValueError as exc:
        raise InvalidRecord(f"kind '{kind}' is unknown; use 'fire' or 'security'") from exc
    flag = (
        Organisation.fire_key_unit if wanted is KeyUnitKind.FIRE else Organisation.security_key_unit
    )
    area = func.ST_GeomFromWKB(_jurisdiction(polygon), STORAGE_SRID)
    rows = session.execute(
        _read_select()
        .where(flag, func.ST_Covers(area, Organisation.geom))
        .order_by(Organisation.name, Organisation.id)
    ).all()
    return [_read(r) for r in rows]
