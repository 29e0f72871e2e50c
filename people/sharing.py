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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, SQLColumnExpression, and_, false, func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.config import get_settings
from gis.distribution import NO_DISTRICT
from grid.exceptions import InvalidQuery
from grid.models import Building, House
from grid.service import HOUSE_CODE, area_prefix
from people.access import Actor, require_role
from people.exceptions import AlreadyClosed, Forbidden, InvalidRecord, NotFound
from people.models import (
    Organisation,
    Rental,
    RentalStatus,
    RentalTenant,
    ResidenceType,
    Resident,
    ShareAccessLog,
    ShareGrant,
    SpecialGroup,
    Staff,
    StaffRole,
)
from people.organisations import PHONE_CONTEXT as ORGANISATION_PHONE
from people.pii import get_cipher, mask_id_number, mask_name
from people.rentals import FindingsOf, assess
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
    """A shared dataset: its label, its fields, its rows and the grid column scoping them.

    A dataset filtered by category (`category`) is granted for some categories (2-digit 大类
    or 4-digit 小类 codes, matched as prefixes); `unknown_categories` names the codes among
    those asked that do not exist. `annotate` turns a page of rows into the objects the
    fields read (to add what one query per page works out, such as a risk grade).
    """

    label: str
    fields: dict[str, SharedField]
    rows: Callable[[], Select[*tuple[Any, ...]]]
    grid: SQLColumnExpression[str | None]
    order: SQLColumnExpression[Any]
    category: SQLColumnExpression[str] | None = None
    unknown_categories: Callable[[Session, list[str]], list[str]] | None = None
    annotate: Callable[[Session, Sequence[Row[Any]]], Sequence[Any]] | None = None


def decrypted(column: str, context: str) -> Callable[[Row[Any]], str | None]:
    """A field's clear form: the column decrypted (with its PII context)."""

    def clear(row: Row[Any]) -> str | None:
        blob = getattr(row, column)
        return get_cipher().decrypt(blob, context=context) if blob is not None else None

    return clear


def _plain(column: str) -> SharedField:
    return SharedField(label=column, masked=lambda row: getattr(row, column))


def labelled(text: str, column: str) -> SharedField:
    """A field that is not personal data: the column as it is."""
    return SharedField(label=text, masked=lambda row: shown_value(getattr(row, column)))


def shown_value(value: Any) -> Any:
    """A value as shared data shows it: dates in ISO form, enums by their value."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return getattr(value, "value", value)


def _person_fields() -> dict[str, SharedField]:
    return {
        "name": SharedField("姓名 name", lambda r: mask_name(r.name), lambda r: r.name),
        "id_number": SharedField(
            "身份证号 ID number", lambda r: r.doc_masked, decrypted("doc_enc", DOC_CONTEXT)
        ),
        "phone": SharedField(
            "联系电话 phone", lambda r: r.phone_masked, decrypted("phone_enc", PHONE_CONTEXT)
        ),
        "sex": labelled("性别 sex", "sex"),
        "birth_year": SharedField(
            "出生年份 birth year", lambda r: r.birth_date.year if r.birth_date else None
        ),
        "grid_code": labelled("网格 grid", "grid_code"),
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
    tenants = (
        select(func.count())
        .where(
            RentalTenant.rental_id == Rental.id,
            RentalTenant.district_code == Rental.district_code,
            RentalTenant.moved_out.is_(None),
        )
        .correlate(Rental)
        .scalar_subquery()
    )
    return (
        select(
            Rental.id,
            Rental.district_code,
            Rental.lease_start,
            Rental.lease_end,
            Rental.responsibility_signed_on,
            Rental.declared_use,
            Rental.rooms,
            House.floor,
            House.area_m2,
            HOUSE_CODE.label("house_code"),
            Building.id.label("building_id"),
            Building.address,
            Building.grid_code,
            func.coalesce(Resident.name, Organisation.name).label("landlord"),
            Resident.id.label("landlord_resident_id"),
            tenants.label("tenants"),
        )
        .join(
            House,
            and_(House.id == Rental.house_id, House.district_code == Rental.district_code),
        )
        .join(
            Building,
            and_(Building.id == House.building_id, Building.district_code == House.district_code),
        )
        .outerjoin(
            Resident,
            and_(
                Resident.id == Rental.landlord_resident_id,
                Resident.district_code == Rental.district_code,
            ),
        )
        .outerjoin(
            Organisation,
            and_(
                Organisation.id == Rental.landlord_organisation_id,
                Organisation.district_code == Rental.district_code,
            ),
        )
        .where(Rental.status == RentalStatus.ACTIVE)
    )


# Who counts the events at the rentals' buildings (the events package registers it: people
# does not read events); without it the risk grade leaves the events out.
_building_findings: list[Callable[[Session], FindingsOf]] = []


def register_building_findings(findings: Callable[[Session], FindingsOf]) -> None:
    """Count the events at buildings for the rental_houses risk grade with `findings`."""
    _building_findings[:] = [findings]


def _graded_rentals(session: Session, rows: Sequence[Row[Any]]) -> list[SimpleNamespace]:
    findings_of = _building_findings[0](session) if _building_findings else None
    found = (
        findings_of({(r.district_code, r.building_id) for r in rows})
        if findings_of is not None and rows
        else {}
    )
    settings = get_settings()
    graded = []
    for row in rows:
        assessment = assess(
            occupants=row.tenants,
            rooms=row.rooms,
            area_m2=row.area_m2,
            signed=row.responsibility_signed_on is not None,
            findings=found.get((row.district_code, row.building_id)),
            settings=settings,
        )
        graded.append(
            SimpleNamespace(
                **row._mapping,
                risk_grade=assessment.grade.value,
                risk_label=assessment.grade.label,
            )
        )
    return graded


def _landlord_masked(row: Any) -> str | None:
    # A person's name is masked; an organisation's name is public (工商登记).
    name: str | None = row.landlord
    if name is None or row.landlord_resident_id is None:
        return name
    return mask_name(name)


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
            "group_type": labelled("人群类别 group", "group_type"),
            "started_on": labelled("纳入日期 since", "started_on"),
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
            "origin": labelled("来源地 origin", "origin"),
            "arrival_date": labelled("来本地日期 arrival", "arrival_date"),
            "permit_number": SharedField(
                "居住证号 residence permit",
                lambda r: mask_id_number(r.permit_number) if r.permit_number else None,
                lambda r: r.permit_number,
            ),
            "permit_expiry": labelled("居住证有效期 permit expiry", "permit_expiry"),
        },
        rows=_floating,
        grid=Resident.grid_code,
        order=Resident.id,
    ),
    "rental_houses": Dataset(
        label="出租房屋 rental houses",
        fields={
            "house_code": labelled("房屋编号 house", "house_code"),
            "address": labelled("地址 address", "address"),
            "floor": labelled("楼层 floor", "floor"),
            "area_m2": labelled("面积 m²", "area_m2"),
            "landlord": SharedField("房东 landlord", _landlord_masked, lambda r: r.landlord),
            "lease_start": labelled("租期起 lease start", "lease_start"),
            "lease_end": labelled("租期止 lease end", "lease_end"),
            "responsibility_signed_on": labelled(
                "治安责任书签订 responsibility letter signed", "responsibility_signed_on"
            ),
            "declared_use": labelled("申报用途 declared use", "declared_use"),
            "rooms": labelled("出租间数 rooms let", "rooms"),
            "tenants": labelled("承租人数 tenants", "tenants"),
            "risk_grade": labelled("风险等级 risk grade", "risk_grade"),
            "grid_code": labelled("网格 grid", "grid_code"),
        },
        rows=_rental_houses,
        grid=Building.grid_code,
        order=Rental.id,
        annotate=_graded_rentals,
    ),
    "key_units": Dataset(
        label="重点单位 key units",
        fields={
            "name": labelled("单位名称 name", "name"),
            "credit_code": labelled("统一社会信用代码 credit code", "credit_code"),
            "org_type": labelled("单位类型 type", "org_type"),
            "address": labelled("地址 address", "address"),
            "responsible_person": SharedField(
                "负责人 responsible person",
                lambda r: mask_name(r.responsible_person) if r.responsible_person else None,
                lambda r: r.responsible_person,
            ),
            "responsible_phone": SharedField(
                "负责人电话 responsible phone",
                lambda r: r.responsible_phone_masked,
                decrypted("responsible_phone_enc", ORGANISATION_PHONE),
            ),
            "fire_key_unit": labelled("消防重点单位 fire key unit", "fire_key_unit"),
            "security_key_unit": labelled("治安重点单位 security key unit", "security_key_unit"),
            "grid_code": labelled("网格 grid", "grid_code"),
        },
        rows=_key_units,
        grid=Organisation.grid_code,
        order=Organisation.id,
    ),
}


def register_dataset(key: str, dataset: Dataset) -> None:
    """Offer `dataset` in the catalogue as `key` (other packages register theirs at import:
    the events package its events by category)."""
    DATASETS[key] = dataset


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
    categories: list[Annotated[str, Field(pattern=r"^\d{2}(\d{2})?$")]] | None = Field(
        default=None,
        max_length=100,
        description="for a dataset filtered by category: 大类 (2-digit) or 小类 (4-digit) codes",
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
    categories: list[str] | None
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
    categories: list[str] | None
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
        categories=grant.categories,
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


def _check_categories(
    session: Session, key: str, dataset: Dataset, asked: list[str] | None
) -> list[str] | None:
    if dataset.category is None:
        if asked:
            raise InvalidRecord(
                f"数据集 {key} 不按类别授权 (dataset {key} is not granted by category); "
                "leave out categories"
            )
        return None
    if not asked:
        raise InvalidRecord(
            f"数据集 {key} 按类别授权，请列出类别 (dataset {key} is granted by category: list "
            "the 2-digit 大类 or 4-digit 小类 codes in categories)"
        )
    codes = sorted(set(asked))
    unknown = dataset.unknown_categories(session, codes) if dataset.unknown_categories else []
    if unknown:
        raise InvalidRecord(
            f"没有这些事件类别 (no event category) {', '.join(unknown)}; "
            "see GET /api/categories for the codes"
        )
    return codes


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
    categories = _check_categories(session, data.dataset, dataset, data.categories)
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
        categories=categories,
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


class AccessRead(BaseModel):
    """A read of shared data as logged (共享访问记录): who (a department's staff or a webhook),
    under which grant, which fields and which of them clear, how many records."""

    id: int
    at: datetime
    grant_id: int
    dataset: str
    reader: str = Field(description="the staff account, or 'webhook N' for a subscription")
    fields: str
    clear_fields: str
    row_count: int


def recent_reads(session: Session, *, actor: Actor, limit: int = 50) -> list[AccessRead]:
    """The latest reads of shared data (every department, webhooks too), newest first."""
    require_role(actor, ADMINS, "see the log of shared-data reads")
    rows = session.execute(
        select(ShareAccessLog, Staff.username)
        .outerjoin(Staff, Staff.id == ShareAccessLog.staff_id)
        .order_by(ShareAccessLog.at.desc(), ShareAccessLog.id.desc())
        .limit(max(1, min(limit, MAX_PAGE_SIZE)))
    ).all()
    return [
        AccessRead(
            id=log.id,
            at=log.at,
            grant_id=log.grant_id,
            dataset=log.dataset,
            reader=username or f"webhook {log.subscription_id}",
            fields=log.fields,
            clear_fields=log.clear_fields,
            row_count=log.row_count,
        )
        for log, username in rows
    ]


# --- reading ------------------------------------------------------------------------------


def granted_fields(grant: ShareGrant, spec: Dataset) -> dict[str, Mode]:
    return {
        name: mode  # type: ignore[misc]
        for name, mode in sorted(grant.fields.items())
        if name in spec.fields  # a field dropped from the catalogue is no longer shown
    }


def in_grant(spec: Dataset, grant: ShareGrant) -> Select[*tuple[Any, ...]]:
    """The dataset's rows a grant covers: in its area and, for a dataset filtered by
    category, of its categories."""
    stmt = spec.rows().where(spec.grid.startswith(area_prefix(grant.area_code)))
    if spec.category is not None:
        stmt = stmt.where(category_filter(spec.category, grant))
    return stmt


def category_filter(column: SQLColumnExpression[Any], grant: ShareGrant) -> Any:
    """`column` (a category code) is one of the grant's categories or under one (大类);
    nothing matches a grant with none."""
    return or_(false(), *(column.startswith(code) for code in grant.categories or ()))


def rendered(
    session: Session, spec: Dataset, granted: dict[str, Mode], rows: Sequence[Row[Any]]
) -> list[dict[str, Any]]:
    """The rows with the granted fields only, each masked unless granted clear."""
    objects = spec.annotate(session, rows) if spec.annotate is not None else rows
    return [render_row(spec, granted, row) for row in objects]


def render_row(spec: Dataset, granted: dict[str, Mode], row: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": row.id}
    for name, mode in granted.items():
        field = spec.fields[name]
        shown = field.clear if mode == "clear" and field.clear is not None else field.masked
        item[name] = shown_value(shown(row))
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
    stmt = in_grant(spec, found)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(spec.order).offset((page - 1) * page_size).limit(page_size)
    ).all()
    granted = granted_fields(found, spec)
    items = rendered(session, spec, granted, rows)
    log_read(session, actor=actor, grant=found, granted=granted, page=page, items=items)
    return SharedPage(
        dataset=dataset,
        label=spec.label,
        grant_id=found.id,
        purpose=found.purpose,
        area_code=found.area_code,
        categories=found.categories,
        fields=granted,
        total=total,
        page=page,
        page_size=page_size,
        items=items,
    )


__all__ = [
    "DATASETS",
    "AccessRead",
    "DatasetRead",
    "GrantCreate",
    "GrantRead",
    "SharedPage",
    "catalogue",
    "category_filter",
    "decrypted",
    "grant",
    "granted_fields",
    "in_grant",
    "labelled",
    "list_grants",
    "log_read",
    "read_shared",
    "recent_reads",
    "register_building_findings",
    "register_dataset",
    "render_row",
    "rendered",
    "require_grant",
    "revoke",
    "shown_value",
]
