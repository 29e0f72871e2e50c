"""Data sharing (共享交换): the catalogue of shared datasets, departments' grants, and reads.

An admin grants a department (部门) one dataset of the catalogue: which of its fields, each
shown masked (脱敏) or clear (明文), in which area (an admin or grid code prefix) and for what
purpose. The department's dispatchers then read the dataset page by page: only rows whose grid
lies in the grant's area, only the granted fields, masked unless granted clear. Every read
writes a `share_access_log` row (who, which grant, which fields and which of them clear, which
records). A grant is changed by revoking it and granting again; neither deletes a row, so
`share_grant` is the record of every grant and revoke.

Masked values follow people.pii (names keep the surname, ID numbers region + check character,
phones 3 + 4 digits); no dataset offers the birth date, only the birth year, so no combination
of masked fields rebuilds an ID number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.distribution import NO_DISTRICT
from grid.exceptions import InvalidQuery
from grid.models import Building, House, HouseUse
from grid.service import area_prefix, house_code
from people.access import Actor, require_role
from people.exceptions import AlreadyClosed, Forbidden, InvalidRecord, NotFound
from people.models import (
    Organisation,
    ResidenceType,
    Resident,
    ShareAccessLog,
    ShareGrant,
    SpecialGroup,
    StaffRole,
)
from people.organisations import PHONE_CONTEXT as ORGANISATION_PHONE
from people.pii import get_cipher, mask_id_number, mask_name
from people.service import DOC_CONTEXT, MAX_PAGE_SIZE, PHONE_CONTEXT

ADMINS = frozenset({StaffRole.ADMIN})
# Department staff: a unit's dispatchers read what their department was granted.
DEPARTMENT_STAFF = frozenset({StaffRole.DISPATCHER})

Mode = Literal["masked", "clear"]
MODES: tuple[Mode, ...] = ("masked", "clear")


@dataclass(frozen=True)
class SharedField:
    """One field of a dataset: its label, whether it is personal data, and how it is shown."""

    label: str
    masked: Callable[[Row[Any]], Any]
    # None: the field is not personal data and reads the same either way.
    clear: Callable[[Row[Any]], Any] | None = None

    @property
    def personal(self) -> bool:
        """Whether the field has a clear form other than its masked one."""
        return self.clear is not None


@dataclass(frozen=True)
class Dataset:
    """A shared dataset: its label, its fields, its rows and the grid column scoping them."""

    label: str
    fields: dict[str, SharedField]
    rows: Callable[[], Select[*tuple[Any, ...]]]
    grid: SQLColumnExpression[str | None]
    order: SQLColumnExpression[Any]


def _decrypt(column: str, context: str) -> Callable[[Row[Any]], str | None]:
    def clear(row: Row[Any]) -> str | None:
        blob = getattr(row, column)
        return get_cipher().decrypt(blob, context=context) if blob is not None else None

    return clear


def _plain(column: str) -> SharedField:
    return SharedField(label=column, masked=lambda row: getattr(row, column))


def _label(text: str, column: str) -> SharedField:
    return SharedField(label=text, masked=lambda row: _value(getattr(row, column)))


def _value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return getattr(value, "value", value)


def _person_fields() -> dict[str, SharedField]:
    return {
        "name": SharedField("姓名 name", lambda r: mask_name(r.name), lambda r: r.name),
        "id_number": SharedField(
            "身份证号 ID number", lambda r: r.doc_masked, _decrypt("doc_enc", DOC_CONTEXT)
        ),
        "phone": SharedField(
            "联系电话 phone", lambda r: r.phone_masked, _decrypt("phone_enc", PHONE_CONTEXT)
        ),
        "sex": _label("性别 sex", "sex"),
        "birth_year": SharedField(
            "出生年份 birth year", lambda r: r.birth_date.year if r.birth_date else None
        ),
        "grid_code": _label("网格 grid", "grid_code"),
    }


_PERSON_COLUMNS = (
    Resident.name,
    Resident.doc_enc,
    Resident.doc_masked,
    Resident.phone_enc,
    Resident.phone_masked,
    Resident.sex,
    Resident.birth_date,
    Resident.grid_code,
)


def _special_groups() -> Select[*tuple[Any, ...]]:
    return (
        select(
            SpecialGroup.id,
            SpecialGroup.group_type,
            SpecialGroup.started_on,
            *_PERSON_COLUMNS,
        )
        .join(
            Resident,
            and_(
                Resident.id == SpecialGroup.resident_id,
                Resident.district_code == SpecialGroup.district_code,
            ),
        )
        .where(SpecialGroup.ended_on.is_(None), Resident.active)
    )


def _floating() -> Select[*tuple[Any, ...]]:
    return select(
        Resident.id,
        Resident.origin,
        Resident.arrival_date,
        Resident.permit_number,
        Resident.permit_expiry,
        *_PERSON_COLUMNS,
    ).where(Resident.residence_type == ResidenceType.FLOATING, Resident.active)


def _rental_houses() -> Select[*tuple[Any, ...]]:
    # house.use = rented until the rental ledger (出租屋) replaces it as the source.
    return (
        select(
            House.id,
            House.unit,
            House.floor,
            House.room,
            House.area_m2,
            Building.code.label("building_code"),
            Building.address,
            Building.grid_code,
        )
        .join(
            Building,
            and_(Building.id == House.building_id, Building.district_code == House.district_code),
        )
        .where(House.use == HouseUse.RENTED)
    )


def _key_units() -> Select[*tuple[Any, ...]]:
    return select(
        Organisation.id,
        Organisation.name,
        Organisation.credit_code,
        Organisation.org_type,
        Organisation.address,
        Organisation.responsible_person,
        Organisation.responsible_phone_enc,
        Organisation.responsible_phone_masked,
        Organisation.fire_key_unit,
        Organisation.security_key_unit,
        Organisation.grid_code,
    ).where(or_(Organisation.fire_key_unit, Organisation.security_key_unit))


DATASETS: dict[str, Dataset] = {
    "special_groups": Dataset(
        label="特殊人群 special groups",
        fields={
            "group_type": _label("人群类别 group", "group_type"),
            "started_on": _label("纳入日期 since", "started_on"),
            **_person_fields(),
        },
        rows=_special_groups,
        grid=Resident.grid_code,
        order=SpecialGroup.id,
    ),
    "floating": Dataset(
        label="流动人口 floating population",
        fields={
            **_person_fields(),
            "origin": _label("来源地 origin", "origin"),
            "arrival_date": _label("来本地日期 arrival", "arrival_date"),
            "permit_number": SharedField(
                "居住证号 residence permit",
                lambda r: mask_id_number(r.permit_number) if r.permit_number else None,
                lambda r: r.permit_number,
            ),
            "permit_expiry": _label("居住证有效期 permit expiry", "permit_expiry"),
        },
        rows=_floating,
        grid=Resident.grid_code,
        order=Resident.id,
    ),
    "rental_houses": Dataset(
        label="出租房屋 rental houses",
        fields={
            "house_code": SharedField(
                "房屋编号 house", lambda r: house_code(r.building_code, r.unit, r.room)
            ),
            "address": _label("地址 address", "address"),
            "floor": _label("楼层 floor", "floor"),
            "area_m2": _label("面积 m²", "area_m2"),
            "grid_code": _label("网格 grid", "grid_code"),
        },
        rows=_rental_houses,
        grid=Building.grid_code,
        order=House.id,
    ),
    "key_units": Dataset(
        label="重点单位 key units",
        fields={
            "name": _label("单位名称 name", "name"),
            "credit_code": _label("统一社会信用代码 credit code", "credit_code"),
            "org_type": _label("单位类型 type", "org_type"),
            "address": _label("地址 address", "address"),
            "responsible_person": SharedField(
                "负责人 responsible person",
                lambda r: mask_name(r.responsible_person) if r.responsible_person else None,
                lambda r: r.responsible_person,
            ),
            "responsible_phone": SharedField(
                "负责人电话 responsible phone",
                lambda r: r.responsible_phone_masked,
                _decrypt("responsible_phone_enc", ORGANISATION_PHONE),
            ),
            "fire_key_unit": _label("消防重点单位 fire key unit", "fire_key_unit"),
            "security_key_unit": _label("治安重点单位 security key unit", "security_key_unit"),
            "grid_code": _label("网格 grid", "grid_code"),
        },
        rows=_key_units,
        grid=Organisation.grid_code,
        order=Organisation.id,
    ),
}


# --- schemas ------------------------------------------------------------------------------


class SharedFieldRead(BaseModel):
    """A field of a shared dataset."""

    name: str
    label: str
    personal: bool = Field(description="personal data: masked unless granted clear")


class DatasetRead(BaseModel):
    """A dataset of the sharing catalogue (共享目录)."""

    dataset: str
    label: str
    fields: list[SharedFieldRead]


class GrantCreate(BaseModel):
    """A grant of one dataset to a department: fields (masked or clear), area, purpose."""

    department_id: int = Field(ge=1, le=2_147_483_647)
    dataset: str = Field(max_length=30)
    fields: dict[str, Mode] = Field(
        min_length=1, max_length=30, description='{"name": "masked", "grid_code": "clear"}'
    )
    area_code: str = Field(
        max_length=15, description="admin (4/6/9/12 digits) or grid code (15) prefix"
    )
    purpose: str = Field(min_length=1, max_length=300, description="用途 what the data is for")


class GrantRead(BaseModel):
    """A grant (共享授权) as recorded: who granted it and when, and its revocation."""

    id: int
    department_id: int
    dataset: str
    dataset_label: str
    fields: dict[str, Mode]
    area_code: str
    purpose: str
    granted_by: int
    granted_at: datetime
    revoked_by: int | None
    revoked_at: datetime | None
    live: bool


class SharedPage(BaseModel):
    """A page of a shared dataset under a grant: granted fields only."""

    dataset: str
    label: str
    grant_id: int
    purpose: str
    area_code: str
    fields: dict[str, Mode]
    total: int
    page: int
    page_size: int
    items: list[dict[str, Any]]


# --- catalogue and grants -----------------------------------------------------------------


def catalogue() -> list[DatasetRead]:
    """The datasets that can be shared and their fields."""
    return [
        DatasetRead(
            dataset=key,
            label=dataset.label,
            fields=[
                SharedFieldRead(name=name, label=f.label, personal=f.personal)
                for name, f in dataset.fields.items()
            ],
        )
        for key, dataset in DATASETS.items()
    ]


def dataset_of(key: str) -> Dataset:
    """The dataset named `key`, or a sentence listing the ones there are."""
    dataset = DATASETS.get(key)
    if dataset is None:
        raise NotFound(
            f"there is no shared dataset '{key}'; the catalogue has: {', '.join(DATASETS)}"
        )
    return dataset


def _grant_read(grant: ShareGrant) -> GrantRead:
    return GrantRead(
        id=grant.id,
        department_id=grant.department_id,
        dataset=grant.dataset,
        dataset_label=DATASETS[grant.dataset].label if grant.dataset in DATASETS else grant.dataset,
        fields=grant.fields,
        area_code=grant.area_code,
        purpose=grant.purpose,
        granted_by=grant.granted_by,
        granted_at=grant.granted_at,
        revoked_by=grant.revoked_by,
        revoked_at=grant.revoked_at,
        live=grant.revoked_at is None,
    )


def _check_area(area_code: str) -> str:
    try:
        return area_prefix(area_code)
    except InvalidQuery as exc:
        raise InvalidRecord(str(exc)) from None


def grant(session: Session, *, actor: Actor, data: GrantCreate) -> GrantRead:
    """Grant a department one dataset: the fields, each masked or clear, an area, a purpose."""
    require_role(actor, ADMINS, "grant a department a shared dataset")
    dataset = dataset_of(data.dataset)
    unknown = sorted(set(data.fields) - set(dataset.fields))
    if unknown:
        raise InvalidRecord(
            f"dataset {data.dataset} has no field {', '.join(unknown)}; "
            f"its fields are: {', '.join(dataset.fields)}"
        )
    _check_area(data.area_code)
    purpose = data.purpose.strip()
    if not purpose:
        raise InvalidRecord("say what the department needs the data for (用途 purpose)")
    row = ShareGrant(
        department_id=data.department_id,
        dataset=data.dataset,
        # Non-personal fields read the same either way: record them as masked.
        fields={
            name: (mode if dataset.fields[name].personal else "masked")
            for name, mode in sorted(data.fields.items())
        },
        area_code=data.area_code.strip(),
        purpose=purpose,
        granted_by=actor.staff_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        if "uq_share_grant_live" in str(exc.orig):
            raise AlreadyClosed(
                f"department {data.department_id} already holds a live grant of "
                f"{data.dataset}; revoke it first, then grant the new fields"
            ) from None
        raise NotFound(f"department {data.department_id} does not exist") from None
    session.refresh(row)
    return _grant_read(row)


def list_grants(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None = None,
    dataset: str | None = None,
    live_only: bool = False,
) -> list[GrantRead]:
    """Every grant (and revoked grant) recorded, newest first."""
    require_role(actor, ADMINS, "list the grants of shared data")
    stmt = select(ShareGrant)
    if department_id is not None:
        stmt = stmt.where(ShareGrant.department_id == department_id)
    if dataset is not None:
        stmt = stmt.where(ShareGrant.dataset == dataset)
    if live_only:
        stmt = stmt.where(ShareGrant.revoked_at.is_(None))
    return [_grant_read(g) for g in session.scalars(stmt.order_by(ShareGrant.id.desc()))]


def revoke(session: Session, *, actor: Actor, grant_id: int) -> GrantRead:
    """Revoke a grant: its department reads nothing more under it from now on."""
    require_role(actor, ADMINS, "revoke a grant of shared data")
    row = session.scalars(
        select(ShareGrant).where(ShareGrant.id == grant_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(f"grant {grant_id} does not exist")
    if row.revoked_at is not None:
        raise AlreadyClosed(
            f"grant {grant_id} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M}"
        )
    row.revoked_by = actor.staff_id
    row.revoked_at = func.now()
    session.flush()
    session.refresh(row)
    return _grant_read(row)


def live_grant(session: Session, *, department_id: int | None, dataset: str) -> ShareGrant | None:
    """The department's live grant of `dataset`, if any."""
    if department_id is None:
        return None
    return session.scalars(
        select(ShareGrant).where(
            ShareGrant.department_id == department_id,
            ShareGrant.dataset == dataset,
            ShareGrant.revoked_at.is_(None),
        )
    ).one_or_none()


def require_grant(
    session: Session, *, actor: Actor, department_id: int | None, dataset: str
) -> ShareGrant:
    """The live grant a department's staff read `dataset` under, or a 403 sentence."""
    require_role(actor, DEPARTMENT_STAFF, "read shared data")
    dataset_of(dataset)
    found = live_grant(session, department_id=department_id, dataset=dataset)
    if found is None:
        raise Forbidden(
            f"your department has no live grant of the shared dataset {dataset} "
            f"({DATASETS[dataset].label}); ask an admin to grant it (申请共享授权)"
        )
    return found


def grant_district(grant: ShareGrant) -> str:
    """Where the logs of reads under `grant` are kept: its area's district, else 000000."""
    prefix = area_prefix(grant.area_code)
    return prefix[:6] if len(prefix) >= 6 else NO_DISTRICT


# --- reading ------------------------------------------------------------------------------


def granted_fields(grant: ShareGrant, spec: Dataset) -> dict[str, Mode]:
    return {
        name: mode  # type: ignore[misc]
        for name, mode in sorted(grant.fields.items())
        if name in spec.fields  # a field dropped from the catalogue is no longer shown
    }


def render_row(spec: Dataset, granted: dict[str, Mode], row: Row[Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"id": row.id}
    for name, mode in granted.items():
        field = spec.fields[name]
        shown = field.clear if mode == "clear" and field.clear is not None else field.masked
        item[name] = _value(shown(row))
    return item


def log_read(
    session: Session,
    *,
    actor: Actor | None,
    grant: ShareGrant,
    granted: dict[str, Mode],
    page: int,
    items: list[dict[str, Any]],
    subscription_id: int | None = None,
) -> None:
    session.add(
        ShareAccessLog(
            district_code=grant_district(grant),
            staff_id=actor.staff_id if actor else None,
            subscription_id=subscription_id,
            grant_id=grant.id,
            dataset=grant.dataset,
            fields=",".join(granted)[:500],
            clear_fields=",".join(n for n, m in granted.items() if m == "clear")[:500],
            page=page,
            row_count=len(items),
            record_ids=[item["id"] for item in items if item is not None],
        )
    )
    session.flush()


def read_shared(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None,
    dataset: str,
    page: int = 1,
    page_size: int = 50,
) -> SharedPage:
    """A page of `dataset` under the department's live grant: rows in the grant's area, the
    granted fields only (masked unless granted clear); the read is logged."""
    found = require_grant(session, actor=actor, department_id=department_id, dataset=dataset)
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    spec = DATASETS[dataset]
    stmt = spec.rows().where(spec.grid.startswith(area_prefix(found.area_code)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(spec.order).offset((page - 1) * page_size).limit(page_size)
    ).all()
    granted = granted_fields(found, spec)
    items = [render_row(spec, granted, row) for row in rows]
    log_read(session, actor=actor, grant=found, granted=granted, page=page, items=items)
    return SharedPage(
        dataset=dataset,
        label=spec.label,
        grant_id=found.id,
        purpose=found.purpose,
        area_code=found.area_code,
        fields=granted,
        total=total,
        page=page,
        page_size=page_size,
        items=items,
    )


__all__ = [
    "DATASETS",
    "DatasetRead",
    "GrantCreate",
    "GrantRead",
    "SharedPage",
    "catalogue",
    "grant",
    "granted_fields",
    "list_grants",
    "log_read",
    "read_shared",
    "render_row",
    "require_grant",
    "revoke",
]
