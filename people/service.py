"""Residents, their residence history and households; every call acts for an `Actor`.

Services flush and never commit. ID numbers and phones are encrypted before they reach a row;
reads return masked values, and `unmask_resident` is the one way to the clear text (logged).
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gis.clock import local_today
from grid import exceptions as grid_errors
from grid import service as grid_service
from grid.models import Building, House
from people import identity, rentals
from people.access import (
    READ_PERSONS,
    UNMASK,
    Actor,
    grid_scope,
    load_visible_resident,
    log_pii_read,
    require_grid,
    require_role,
)
from people.changes import LedgerEntity, Written, create_once, history, record_change
from people.documents import DocumentError, DocumentType, validate_document, validate_id_card
from people.exceptions import Duplicate, InvalidRecord, NotFound
from people.models import (
    Household,
    Residence,
    ResidenceType,
    Resident,
    Sex,
    SpecialGroup,
    SpecialGroupType,
)
from people.pii import PhoneError, get_cipher, mask_id_number, mask_phone, validate_phone
from people.schemas import (
    ChangeRead,
    HouseholdRead,
    ResidenceRead,
    ResidentCreate,
    ResidentPage,
    ResidentPii,
    ResidentRead,
    ResidentUpdate,
)

MAX_PAGE_SIZE = 500
# Ciphertexts are bound to their column, so one cannot be pasted into another.
DOC_CONTEXT = "resident.doc"
PHONE_CONTEXT = "resident.phone"


def age_on(birth: date | None, day: date) -> int | None:
    """Whole years between `birth` and `day`."""
    if birth is None:
        return None
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def normalise_document(doc_type: DocumentType | str, number: str) -> tuple[DocumentType, str]:
    """Validate a document number and return its type and normal form (15-digit IDs upgraded)."""
    try:
        kind = DocumentType(doc_type)
    except ValueError as exc:
        choices = ", ".join(f"{t.value} ({t.label})" for t in DocumentType)
        raise InvalidRecord(f"document type '{doc_type}' is unknown; use one of {choices}") from exc
    try:
        return kind, validate_document(kind, number)
    except DocumentError as exc:
        raise InvalidRecord(str(exc)) from exc


def document_hash(doc_type: DocumentType, number: str) -> bytes:
    """The keyed hash that finds a resident by document without decrypting anything."""
    return get_cipher().lookup_hash(f"{doc_type.value}:{number}")


def _normalise_phone(phone: str | None) -> str | None:
    if phone is None or not phone.strip():
        return None
    try:
        return validate_phone(phone)
    except PhoneError as exc:
        raise InvalidRecord(str(exc)) from exc


def _check_floating(resident: Resident) -> None:
    if resident.residence_type is ResidenceType.FLOATING and not resident.origin:
        raise InvalidRecord("a floating resident (流动人口) needs origin: where they came from")
    if (
        resident.permit_expiry
        and resident.arrival_date
        and resident.permit_expiry < resident.arrival_date
    ):
        raise InvalidRecord("permit_expiry is before arrival_date; check the residence permit")
    if (
        resident.registered_on
        and resident.arrival_date
        and resident.registered_on < resident.arrival_date
    ):
        raise InvalidRecord(
            f"居住登记日期 {resident.registered_on} 早于来本地日期 {resident.arrival_date} "
            "(registered_on is before arrival_date); check both dates"
        )


def _resolve_house(session: Session, code: str) -> tuple[House, Building]:
    try:
        return grid_service.find_house(session, code=code)
    except grid_errors.NotFound as exc:
        raise NotFound(str(exc)) from exc
    except grid_errors.InvalidQuery as exc:
        raise InvalidRecord(str(exc)) from exc


def _read(session: Session, residents: list[Resident], today: date) -> list[ResidentRead]:
    """Masked views of residents, with house codes and special-group types in two queries."""
    ids = [r.id for r in residents]
    houses: dict[int, str] = dict(
        session.execute(
            select(House.id, grid_service.HOUSE_CODE)
            .join(Building, House.building_id == Building.id)
            .where(House.id.in_({r.house_id for r in residents if r.house_id}))
        ).all()
    )
    groups: dict[int, list[SpecialGroupType]] = {i: [] for i in ids}
    for resident_id, group_type in session.execute(
        select(SpecialGroup.resident_id, SpecialGroup.group_type)
        .where(SpecialGroup.resident_id.in_(ids), SpecialGroup.ended_on.is_(None))
        .order_by(SpecialGroup.id)
    ):
        groups[resident_id].append(group_type)
    return [
        ResidentRead(
            id=r.id,
            doc_type=r.doc_type,
            doc_masked=r.doc_masked,
            name=r.name,
            sex=r.sex,
            birth_year=r.birth_date.year if r.birth_date else None,
            age=today.year - r.birth_date.year if r.birth_date else None,
            residence_type=r.residence_type,
            residence_type_label=r.residence_type.label,
            phone_masked=r.phone_masked,
            house_code=houses.get(r.house_id) if r.house_id else None,
            grid_code=r.grid_code,
            household_id=r.household_id,
            relation_to_head=r.relation_to_head,
            active=r.active,
            special_groups=groups[r.id],
        )
        for r in residents
    ]


def _load(session: Session, actor: Actor, resident_id: int) -> Resident:
    require_role(actor, READ_PERSONS, "read residents")
    return load_visible_resident(session, actor, resident_id)


def _duplicate_document(
    actor: Actor, doc_type: DocumentType, number: str, resident_id: int, grid_code: str | None
) -> Duplicate:
    """The 409 for a document that is registered already, saying no more than the actor may see.

    One document, one resident: the ledger cannot take a second record, so the refusal itself
    tells the registrant that the person is registered somewhere. That much is accepted: the
    registrant holds the ID card of a person in front of them, and refusing silently would leave
    the person unregistered. What the answer never says, unless the actor may read that
    resident anyway, is which resident or grid holds it; a transfer goes through the command
    centre, which can see both grids.
    """
    shown = mask_id_number(number)
    if actor.can_see_grid(grid_code):
        return Duplicate(
            f"a resident with {doc_type.label} {shown} is already registered "
            f"(resident {resident_id}); update that record instead"
        )
    return Duplicate(
        f"a resident with {doc_type.label} {shown} is already registered outside your scope; "
        "ask the command centre (指挥中心) to move them into your grid instead of registering "
        "them again (该证件已在其他网格登记，请联系指挥中心办理迁入)"
    )


# Not in the history: the ciphertexts and lookup hash, the full birth date (with the masked ID
# number it would give the number away; the year stays), bookkeeping columns.
_NOT_RECORDED = frozenset(
    {"id", "district_code", "doc_enc", "doc_hash", "phone_enc", "birth_date", "house_id"}
    | {"created_at", "updated_at"}
)


def _ledger_fields(session: Session, resident: Resident) -> dict[str, Any]:
    """A resident's fields as their history records them: plain values, masked as the ledger
    shows them (never a clear ID number or phone), the house by its code."""
    fields: dict[str, Any] = {}
    for column in Resident.__table__.columns:
        if column.key in _NOT_RECORDED:
            continue
        value = getattr(resident, column.key)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        fields[column.key] = value
    fields["birth_year"] = resident.birth_date.year if resident.birth_date else None
    fields["house_code"] = (
        session.scalar(
            select(grid_service.HOUSE_CODE)
            .select_from(House)
            .join(Building, House.building_id == Building.id)
            .where(House.id == resident.house_id)
        )
        if resident.house_id
        else None
    )
    return fields


def _record(
    session: Session,
    *,
    actor: Actor,
    resident: Resident,
    before: dict[str, Any] | None,
    today: date,
    idempotency_key: str | None = None,
) -> ResidentRead:
    """Write the history row (ledger_change) of one write to a resident; the resident read."""
    record_change(
        session,
        actor=actor,
        entity=LedgerEntity.RESIDENT,
        entity_id=resident.id,
        district_code=resident.district_code,
        before=before,
        after=_ledger_fields(session, resident),
        idempotency_key=idempotency_key,
    )
    return _read(session, [resident], today)[0]


def register_resident(
    session: Session,
    *,
    actor: Actor,
    data: ResidentCreate,
    today: date | None = None,
    idempotency_key: str | None = None,
) -> ResidentRead:
    """Add a resident to the ledger, living in `data.house_code` from `data.moved_in`."""
    return add_resident(
        session, actor=actor, data=data, today=today, idempotency_key=idempotency_key
    ).read


def add_resident(
    session: Session,
    *,
    actor: Actor,
    data: ResidentCreate,
    today: date | None = None,
    idempotency_key: str | None = None,
) -> Written[ResidentRead]:
    """Register a resident (登记), recorded in the ledger's history; a resent
    `idempotency_key` (a phone sending again a form it kept offline) answers the resident the
    first request registered instead of refusing the document as registered already."""
    require_role(actor, READ_PERSONS, "register residents")
    day = today or local_today()

    def create(key: str | None) -> int:
        resident = _register(session, actor=actor, data=data, today=day)
        _record(
            session, actor=actor, resident=resident, before=None, today=day, idempotency_key=key
        )
        return resident.id

    resident_id, created = create_once(
        session,
        actor=actor,
        entity=LedgerEntity.RESIDENT,
        idempotency_key=idempotency_key,
        create=create,
    )
    # A replay answers only while the resident is still in the caller's scope.
    return Written(get_resident(session, actor=actor, resident_id=resident_id, today=day), created)


def _register(session: Session, *, actor: Actor, data: ResidentCreate, today: date) -> Resident:
    doc_type, number = normalise_document(data.doc_type, data.doc_number)
    doc_hash = document_hash(doc_type, number)
    held = identity.holder(session, doc_type, doc_hash)
    if held is not None:
        raise _duplicate_document(
            actor,
            doc_type,
            number,
            held[1],
            session.get(Resident, held[1]).grid_code,  # type: ignore[union-attr]
        )
    sex, birth = data.sex, data.birth_date
    if doc_type is DocumentType.ID_CARD:
        info = validate_id_card(number, today=today)
        sex, birth = Sex(info.sex), info.birth_date
    phone = _normalise_phone(data.phone)
    cipher = get_cipher()
    fields = data.model_dump(
        exclude={"doc_type", "doc_number", "phone", "house_code", "moved_in", "sex", "birth_date"}
    )
    resident = Resident(
        doc_type=doc_type,
        doc_enc=cipher.encrypt(number, context=DOC_CONTEXT),
        doc_hash=doc_hash,
        doc_masked=mask_id_number(number),
        sex=sex or Sex.UNKNOWN,
        birth_date=birth,
        phone_enc=cipher.encrypt(phone, context=PHONE_CONTEXT) if phone else None,
        phone_masked=mask_phone(phone) if phone else None,
        **fields,
    )
    _check_floating(resident)
    if data.house_code:
        house, building = _resolve_house(session, data.house_code)
        require_grid(actor, building.grid_code, f"house {data.house_code}")
        resident.district_code = building.district_code
    elif actor.role.value == "grid_worker":
        raise InvalidRecord(
            "house_code is required: a grid worker registers residents where "
            "they live in one of their grids"
        )
    elif actor.home_district is None:
        raise InvalidRecord(
            "house_code is required: your account covers more than one district, and the "
            "house decides whose ledger the resident is registered in (请填写房屋编码)"
        )
    else:
        resident.district_code = actor.home_district
    session.add(resident)
    session.flush()
    if not identity.claim(
        session,
        doc_type=doc_type,
        doc_hash=doc_hash,
        district=resident.district_code,
        resident_id=resident.id,
    ):
        # Registered by someone else between the check above and now.
        raise _duplicate_document(actor, doc_type, number, resident.id, None)
    if data.house_code:
        _start_residence(session, resident, house, building, data.moved_in or today, "登记")
    return resident


def _start_residence(
    session: Session,
    resident: Resident,
    house: House,
    building: Building,
    on: date,
    reason: str | None,
) -> None:
    session.add(
        Residence(
            resident_id=resident.id,
            district_code=resident.district_code,
            house_id=house.id,
            moved_in=on,
            reason=reason,
        )
    )
    resident.house_id, resident.grid_code, resident.active = house.id, building.grid_code, True
    session.flush()
    rentals.resident_moved(
        session,
        resident_id=resident.id,
        district_code=resident.district_code,
        house_id=house.id,
        on=on,
    )


def _columns(row: Resident | SpecialGroup, *, leave: set[str]) -> dict[str, Any]:
    """A row's column values to start a copy in another district: without its identity, its
    district, its timestamps and the columns in `leave`."""
    skip = leave | {"id", "district_code", "resident_id", "created_at", "updated_at"}
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}


def _move_to_district(session: Session, resident: Resident, district: str, on: date) -> Resident:
    """Carry a person to another district's ledger (跨区迁移) and return the new record.

    The district is where a record is kept (the distribution column), so it never changes:
    the record here ends as moved away, its open special-group memberships end and start
    again there, and the nationwide identity points at the new record. The old record keeps
    its history for this district.
    """
    current = _open_residence(session, resident.id)
    if current is not None:
        if on < current.moved_in:
            raise InvalidRecord(
                f"moving on {on} is before the current residence began ({current.moved_in}); "
                "history cannot be rewritten"
            )
        current.moved_out, current.reason = on, f"迁往 {district}"
    place = {"house_id", "grid_code", "household_id", "relation_to_head"}
    rentals.end_tenancies(
        session, resident_id=resident.id, district_code=resident.district_code, on=on
    )
    moved = Resident(**_columns(resident, leave=place), district_code=district)
    session.add(moved)
    resident.house_id, resident.active = None, False
    session.flush()
    groups = session.scalars(
        select(SpecialGroup).where(
            SpecialGroup.resident_id == resident.id, SpecialGroup.ended_on.is_(None)
        )
    ).all()
    for group in groups:
        group.ended_on, group.end_reason = on, f"迁往 {district}，在新辖区继续管理"
        carried = _columns(group, leave={"ended_on", "end_reason", "responsible_staff_id"})
        session.add(SpecialGroup(**carried, resident_id=moved.id, district_code=district))
    identity.move(
        session,
        doc_type=moved.doc_type,
        doc_hash=moved.doc_hash,
        district=district,
        resident_id=moved.id,
    )
    session.flush()
    return moved


def _open_residence(session: Session, resident_id: int) -> Residence | None:
    return session.scalar(
        select(Residence).where(Residence.resident_id == resident_id, Residence.moved_out.is_(None))
    )


def update_resident(
    session: Session,
    *,
    actor: Actor,
    resident_id: int,
    changes: ResidentUpdate,
    today: date | None = None,
) -> ResidentRead:
    """Correct a resident's fields (only those given)."""
    resident = _load(session, actor, resident_id)
    today = today or local_today()
    before = _ledger_fields(session, resident)
    values = changes.model_dump(exclude_unset=True)
    for required in ("name", "residence_type"):
        if required in values and values[required] is None:
            raise InvalidRecord(f"{required} cannot be emptied; send a value or leave it out")
    if "phone" in values:
        phone = _normalise_phone(values.pop("phone"))
        resident.phone_enc = get_cipher().encrypt(phone, context=PHONE_CONTEXT) if phone else None
        resident.phone_masked = mask_phone(phone) if phone else None
    for name, value in values.items():
        setattr(resident, name, value)
    _check_floating(resident)
    session.flush()
    return _record(session, actor=actor, resident=resident, before=before, today=today)


def get_resident(
    session: Session, *, actor: Actor, resident_id: int, today: date | None = None
) -> ResidentRead:
    """One resident, masked."""
    return _read(session, [_load(session, actor, resident_id)], today or local_today())[0]


def find_by_document(
    session: Session,
    *,
    actor: Actor,
    doc_type: DocumentType | str,
    number: str,
    today: date | None = None,
) -> ResidentRead | None:
    """The resident holding this document, found by keyed hash; None when not registered."""
    require_role(actor, READ_PERSONS, "look residents up")
    kind, normal = normalise_document(doc_type, number)
    resident = session.scalar(
        select(Resident).where(
            Resident.doc_type == kind, Resident.doc_hash == document_hash(kind, normal)
        )
    )
    if resident is None or not actor.can_see_grid(resident.grid_code):
        # Outside one's scope reads exactly like not registered (see _duplicate_document).
        return None
    return _read(session, [resident], today or local_today())[0]


def list_residents(
    session: Session,
    *,
    actor: Actor,
    grid_code: str | None = None,
    building_code: str | None = None,
    house_code: str | None = None,
    residence_type: ResidenceType | None = None,
    name: str | None = None,
    include_inactive: bool = False,
    page: int = 1,
    page_size: int = 50,
    today: date | None = None,
) -> ResidentPage:
    """Residents in the actor's scope, filtered; masked; ordered by grid, house and name.

    Asking for a grid, building or house outside the actor's scope is refused (Forbidden)
    rather than answered with an empty page.
    """
    require_role(actor, READ_PERSONS, "list residents")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    stmt = select(Resident).where(grid_scope(actor, Resident.grid_code))
    if not include_inactive:
        stmt = stmt.where(Resident.active)
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
        stmt = stmt.where(Resident.grid_code == grid_code)
    if building_code:
        building_grid = session.scalar(
            select(Building.grid_code).where(Building.code == building_code)
        )
        if building_grid is not None:
            require_grid(actor, building_grid, f"building {building_code}")
        stmt = (
            stmt.join(House, Resident.house_id == House.id)
            .join(Building, House.building_id == Building.id)
            .where(Building.code == building_code)
        )
    if house_code:
        house, building = _resolve_house(session, house_code)
        require_grid(actor, building.grid_code, f"house {house_code}")
        stmt = stmt.where(Resident.house_id == house.id)
    if residence_type:
        stmt = stmt.where(Resident.residence_type == residence_type)
    if name:
        stmt = stmt.where(Resident.name.contains(name.strip(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    residents = list(
        session.scalars(
            stmt.order_by(Resident.grid_code, Resident.house_id, Resident.name, Resident.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    return ResidentPage(
        total=total,
        page=page,
        page_size=page_size,
        items=_read(session, residents, today or local_today()),
    )


def unmask_resident(
    session: Session, *, actor: Actor, resident_id: int, reason: str
) -> ResidentPii:
    """The clear ID number, birth date and phone of one resident; writes an access-log row."""
    require_role(actor, UNMASK, "see unmasked ID numbers or phones")
    if len(reason.strip()) < 4:
        raise InvalidRecord(
            "say why you need the unmasked data (at least a few words); "
            "the reason is kept in the access log"
        )
    resident = _load(session, actor, resident_id)
    cipher = get_cipher()
    log_pii_read(
        session,
        actor=actor,
        resident_id=resident.id,
        district_code=resident.district_code,
        fields="doc_number,birth_date,phone",
        reason=reason,
    )
    return ResidentPii(
        resident_id=resident.id,
        doc_type=resident.doc_type,
        doc_number=cipher.decrypt(resident.doc_enc, context=DOC_CONTEXT),
        birth_date=resident.birth_date,
        phone=cipher.decrypt(resident.phone_enc, context=PHONE_CONTEXT)
        if resident.phone_enc
        else None,
    )


def move_in(
    session: Session,
    *,
    actor: Actor,
    resident_id: int,
    house_code: str,
    on: date,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> ResidenceRead:
    """Move a resident into a house on `on`, ending their current residence that day."""
    return move_in_once(
        session,
        actor=actor,
        resident_id=resident_id,
        house_code=house_code,
        on=on,
        reason=reason,
        idempotency_key=idempotency_key,
    ).read


def move_in_once(
    session: Session,
    *,
    actor: Actor,
    resident_id: int,
    house_code: str,
    on: date,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Written[ResidenceRead]:
    """Move a resident into a house on `on` (搬入), ending their current residence that day;
    recorded in the resident's history. A resent `idempotency_key` answers the stay the first
    request began instead of refusing a move into the house they now live in.

    A house in another district moves the person to that district's ledger: the record here
    ends and a new one starts there (see `_move_to_district`), whose id the answer carries.
    """
    house, building = _resolve_house(session, house_code)
    require_grid(actor, building.grid_code, f"house {house_code}")
    today = local_today()

    def create(key: str | None) -> int:
        resident = _load(session, actor, resident_id)
        before = _ledger_fields(session, resident)
        if building.district_code != resident.district_code:
            resident = _move_to_district(session, resident, building.district_code, on)
        current = _open_residence(session, resident.id)
        if current is not None:
            if current.house_id == house.id:
                raise InvalidRecord(f"resident {resident_id} already lives in {house_code}")
            if on < current.moved_in:
                raise InvalidRecord(
                    f"moving in on {on} is before the current residence began "
                    f"({current.moved_in}); history cannot be rewritten"
                )
            current.moved_out = on
        _start_residence(session, resident, house, building, on, reason)
        _record(
            session, actor=actor, resident=resident, before=before, today=today, idempotency_key=key
        )
        return resident.id

    moved_id, created = create_once(
        session,
        actor=actor,
        entity=LedgerEntity.RESIDENT,
        idempotency_key=idempotency_key,
        create=create,
        action="update",
    )
    _load(session, actor, moved_id)  # a replay answers only within the caller's scope
    stay = session.scalar(
        select(Residence)
        .where(
            Residence.resident_id == moved_id,
            Residence.house_id == house.id,
            Residence.moved_in == on,
        )
        .order_by(Residence.id.desc())
        .limit(1)
    )
    if stay is None:
        raise InvalidRecord(
            f"the Idempotency-Key {idempotency_key!r} moved resident {moved_id} somewhere else "
            "the first time; generate a new key for each form"
        )
    read = ResidenceRead(
        resident_id=moved_id,
        house_code=house_code,
        grid_code=building.grid_code,
        moved_in=stay.moved_in,
        moved_out=stay.moved_out,
        reason=stay.reason,
    )
    return Written(read, created)


def move_out(
    session: Session,
    *,
    actor: Actor,
    resident_id: int,
    on: date,
    reason: str,
    idempotency_key: str | None = None,
) -> None:
    """End a resident's current residence (moved away, deceased …); the record stays, and the
    move is recorded in its history. A resent `idempotency_key` changes nothing again."""
    today = local_today()

    def create(key: str | None) -> int:
        resident = _load(session, actor, resident_id)
        current = _open_residence(session, resident.id)
        if current is None:
            raise InvalidRecord(f"resident {resident_id} has no current residence to end")
        if on < current.moved_in:
            raise InvalidRecord(f"moving out on {on} is before moving in on {current.moved_in}")
        before = _ledger_fields(session, resident)
        current.moved_out, current.reason = on, reason
        resident.house_id, resident.active = None, False
        rentals.end_tenancies(
            session, resident_id=resident.id, district_code=resident.district_code, on=on
        )
        session.flush()
        _record(
            session, actor=actor, resident=resident, before=before, today=today, idempotency_key=key
        )
        return resident.id

    moved_id, _ = create_once(
        session,
        actor=actor,
        entity=LedgerEntity.RESIDENT,
        idempotency_key=idempotency_key,
        create=create,
        action="update",
    )
    if moved_id != resident_id:
        raise Duplicate(
            f"the Idempotency-Key {idempotency_key!r} was already used for resident {moved_id}; "
            "generate a new key for each form"
        )


def resident_history(session: Session, *, actor: Actor, resident_id: int) -> list[ChangeRead]:
    """Every recorded write to a resident of my scope (变更记录), oldest first: masked values."""
    _load(session, actor, resident_id)
    return history(session, entity=LedgerEntity.RESIDENT, entity_id=resident_id)


def residence_history(session: Session, *, actor: Actor, resident_id: int) -> list[ResidenceRead]:
    """Every stay of a resident, oldest first."""
    _load(session, actor, resident_id)
    rows = session.execute(
        select(Residence, grid_service.HOUSE_CODE, Building.grid_code)
        .join(House, Residence.house_id == House.id)
        .join(Building, House.building_id == Building.id)
        .where(Residence.resident_id == resident_id)
        .order_by(Residence.moved_in, Residence.id)
    ).all()
    return [
        ResidenceRead(
            resident_id=r.resident_id,
            house_code=code,
            grid_code=grid,
            moved_in=r.moved_in,
            moved_out=r.moved_out,
            reason=r.reason,
        )
        for r, code, grid in rows
    ]


def residents_of_building_on(
    session: Session, *, actor: Actor, building_code: str, on: date
) -> list[ResidentRead]:
    """Who lived in a building on a given day (from the residence history)."""
    require_role(actor, READ_PERSONS, "list residents")
    building = session.scalar(select(Building).where(Building.code == building_code))
    if building is None:
        raise NotFound(f"building {building_code} does not exist")
    require_grid(actor, building.grid_code, f"building {building_code}")
    residents = list(
        session.scalars(
            select(Resident)
            .join(Residence, Residence.resident_id == Resident.id)
            .join(House, Residence.house_id == House.id)
            .where(
                House.building_id == building.id,
                Residence.moved_in <= on,
                or_(Residence.moved_out.is_(None), Residence.moved_out > on),
            )
            .order_by(House.unit, House.room, Resident.name)
        )
    )
    return _read(session, residents, on)


def create_household(
    session: Session,
    *,
    actor: Actor,
    code: str,
    head_id: int,
    members: dict[int, str] | None = None,
    today: date | None = None,
) -> HouseholdRead:
    """A household (户) headed by `head_id`; `members` maps resident id → 与户主关系."""
    head = _load(session, actor, head_id)
    if session.scalar(select(Household.id).where(Household.code == code)) is not None:
        raise Duplicate(f"household {code} already exists")
    household = Household(
        code=code,
        head_id=head.id,
        house_id=head.house_id,
        grid_code=head.grid_code,
        district_code=head.district_code or "",
    )
    session.add(household)
    session.flush()
    head.household_id, head.relation_to_head = household.id, "户主"
    for resident_id, relation in (members or {}).items():
        member = _load(session, actor, resident_id)
        member.household_id, member.relation_to_head = household.id, relation
    session.flush()
    return get_household(session, actor=actor, household_id=household.id, today=today)


def get_household(
    session: Session, *, actor: Actor, household_id: int, today: date | None = None
) -> HouseholdRead:
    """A household and its members (masked)."""
    require_role(actor, READ_PERSONS, "read households")
    household = session.get(Household, household_id)
    if household is None or not actor.can_see_grid(household.grid_code):
        # A family outside one's scope reads like no family: neither its code nor its grid.
        raise NotFound(
            f"household {household_id} does not exist or is outside your scope "
            "(该户不存在或不在您的管辖范围内)"
        )
    members = list(
        session.scalars(
            select(Resident)
            .where(Resident.household_id == household_id)
            # By year, not date: the order of members born in one year would hint at birthdays.
            .order_by(
                (Resident.id == household.head_id).desc(),
                func.extract("year", Resident.birth_date),
                Resident.id,
            )
        )
    )
    reads = _read(session, members, today or local_today())
    house = next((m.house_code for m in reads if m.id == household.head_id), None)
    return HouseholdRead(
        id=household.id,
        code=household.code,
        house_code=house,
        grid_code=household.grid_code,
        head_id=household.head_id,
        members=reads,
    )


__all__ = [
    "add_resident",
    "age_on",
    "create_household",
    "document_hash",
    "find_by_document",
    "get_household",
    "get_resident",
    "list_residents",
    "move_in",
    "move_in_once",
    "move_out",
    "normalise_document",
    "register_resident",
    "residence_history",
    "resident_history",
    "residents_of_building_on",
    "unmask_resident",
    "update_resident",
]
