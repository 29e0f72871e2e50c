"""Tables of the resident ledger (实有人口): residents, residence history, households,
special groups and their visits, organisations (实有单位), staff accounts and the PII access log.

ID numbers and phones are stored encrypted (`*_enc`), with a keyed hash (`*_hash`) for exact
lookup and de-duplication and a masked copy (`*_masked`) for display, so listing never decrypts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.codes import LabelledEnum, db_enum
from gis.db import STORAGE_SRID, Base
from gis.distribution import DistrictKeyed, Placement, district_fk, placed
from grid.models import grid_fk
from people.documents import DocumentType


class ResidenceType(LabelledEnum):
    """residence type"""

    REGISTERED = "registered", "户籍人口"
    FLOATING = "floating", "流动人口"
    OVERSEAS = "overseas", "境外人员"
    UNREGISTERED = "unregistered", "未落户人员"


class Sex(LabelledEnum):
    """sex"""

    MALE = "male", "男"
    FEMALE = "female", "女"
    UNKNOWN = "unknown", "未知"


class SpecialGroupType(LabelledEnum):
    """special group"""

    ELDERLY_ALONE = "elderly_alone", "独居老人"
    DISABLED = "disabled", "残疾人"
    LOW_INCOME = "low_income", "低保/困难群众"
    LEFT_BEHIND = "left_behind", "留守儿童/老人"
    ENTITLED = "entitled", "优抚对象"
    RELEASED_PRISONER = "released_prisoner", "刑满释放人员"
    COMMUNITY_CORRECTION = "community_correction", "社区矫正对象"
    MENTAL_DISORDER = "mental_disorder", "严重精神障碍患者"
    DRUG_USER = "drug_user", "吸毒人员"
    KEY_YOUTH = "key_youth", "重点青少年"


class OrganisationType(LabelledEnum):
    """organisation type"""

    ENTERPRISE = "enterprise", "企业"
    INDIVIDUAL_BUSINESS = "individual_business", "个体工商户"
    SHOP = "shop", "商铺"
    SCHOOL = "school", "学校"
    HOSPITAL = "hospital", "医疗机构"
    SOCIAL_ORGANISATION = "social_organisation", "社会组织"
    GOVERNMENT = "government", "机关事业单位"
    OTHER = "other", "其他"


class StaffRole(LabelledEnum):
    """staff role"""

    GRID_WORKER = "grid_worker", "网格员"
    INSPECTOR = "inspector", "督查员"
    DISPATCHER = "dispatcher", "部门处置人员"
    COMMAND = "command", "指挥中心"
    LEADER = "leader", "领导"
    ADMIN = "admin", "管理员"


class Household(DistrictKeyed, Base):
    """A household (户): members, head and the house it lives in."""

    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("code", "district_code"),
        ForeignKeyConstraint(
            ["head_id", "district_code"],
            ["resident.id", "resident.district_code"],
            use_alter=True,
            name="fk_household_head_id_resident",
        ),
        district_fk("house_id", "house.id"),
        grid_fk(),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32))  # 户号
    head_id: Mapped[int | None] = mapped_column(index=True, default=None)
    house_id: Mapped[int | None] = mapped_column(index=True, default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)


class Resident(DistrictKeyed, Base):
    """A person in the ledger of one district, following the GB/T 31000 basic-data fields.

    A document is registered once per district here and once nationwide in `person_identity`.
    """

    __tablename__ = "resident"
    __table_args__ = (
        UniqueConstraint("doc_type", "doc_hash", "district_code", name="uq_resident_document"),
        district_fk("household_id", "household.id"),
        district_fk("house_id", "house.id"),
        grid_fk(),
        Index("ix_resident_grid_active", "grid_code", "active"),
        CheckConstraint(
            "residence_type <> 'floating' OR origin IS NOT NULL", name="floating_has_origin"
        ),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    doc_type: Mapped[DocumentType] = mapped_column(db_enum(DocumentType, "document_type"))
    doc_enc: Mapped[bytes] = mapped_column(LargeBinary)
    doc_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    doc_masked: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(50), index=True)
    former_name: Mapped[str | None] = mapped_column(String(50), default=None)
    sex: Mapped[Sex] = mapped_column(db_enum(Sex, "sex"), default=Sex.UNKNOWN)
    birth_date: Mapped[date | None] = mapped_column(default=None, index=True)
    ethnicity: Mapped[str | None] = mapped_column(String(20), default=None)  # 民族 (GB 3304)
    native_place: Mapped[str | None] = mapped_column(String(100), default=None)  # 籍贯
    registered_address: Mapped[str | None] = mapped_column(String(300), default=None)  # 户籍地址
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    phone_masked: Mapped[str | None] = mapped_column(String(20), default=None)
    education: Mapped[str | None] = mapped_column(String(20), default=None)  # 学历
    occupation: Mapped[str | None] = mapped_column(String(50), default=None)
    employer: Mapped[str | None] = mapped_column(String(200), default=None)
    marital_status: Mapped[str | None] = mapped_column(String(10), default=None)  # 婚姻状况
    political_status: Mapped[str | None] = mapped_column(String(20), default=None)  # 政治面貌
    residence_type: Mapped[ResidenceType] = mapped_column(
        db_enum(ResidenceType, "residence_type"), default=ResidenceType.REGISTERED, index=True
    )
    # 流动人口: where from, since when, why, and the residence permit (居住证).
    origin: Mapped[str | None] = mapped_column(String(200), default=None)
    arrival_date: Mapped[date | None] = mapped_column(default=None)
    arrival_reason: Mapped[str | None] = mapped_column(String(50), default=None)
    permit_number: Mapped[str | None] = mapped_column(String(40), default=None)
    permit_expiry: Mapped[date | None] = mapped_column(default=None)
    # 居住登记: the day the floating resident's residence registration was made (the deadline
    # is arrival_date + settings.registration_deadline_days).
    registered_on: Mapped[date | None] = mapped_column(default=None)
    household_id: Mapped[int | None] = mapped_column(index=True, default=None)
    relation_to_head: Mapped[str | None] = mapped_column(String(20), default=None)  # 与户主关系
    # Current residence, kept equal to the open `residence` row by the service.
    house_id: Mapped[int | None] = mapped_column(index=True, default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    # The district whose ledger holds the record; moving to another district starts a new
    # record there (the distribution column never changes).
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)
    active: Mapped[bool] = mapped_column(default=True)  # false once moved away or deceased
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Residence(DistrictKeyed, Base):
    """One stay of a resident in a house (人房关联); moving ends it, nothing is deleted."""

    __tablename__ = "residence"
    __table_args__ = (
        CheckConstraint("moved_out IS NULL OR moved_out >= moved_in", name="out_after_in"),
        Index("ix_residence_house_period", "house_id", "moved_in", "moved_out"),
        # At most one open residence per resident.
        Index(
            "uq_residence_open",
            "resident_id",
            "district_code",
            unique=True,
            postgresql_where="moved_out IS NULL",
        ),
        district_fk("resident_id", "resident.id", ondelete="CASCADE"),
        district_fk("house_id", "house.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    # Indexed in full too: deleting a resident cascades here, and history reads by resident.
    resident_id: Mapped[int] = mapped_column(index=True)
    house_id: Mapped[int]
    moved_in: Mapped[date]
    moved_out: Mapped[date | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(String(100), default=None)


class SpecialGroup(DistrictKeyed, Base):
    """A resident's membership of a special group, with its type-specific data and visits."""

    __tablename__ = "special_group"
    __table_args__ = (
        CheckConstraint("danger_level BETWEEN 0 AND 5", name="danger_level_0_5"),
        Index("ix_special_group_due", "next_visit_due", postgresql_where="ended_on IS NULL"),
        district_fk("resident_id", "resident.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    resident_id: Mapped[int] = mapped_column(index=True)
    group_type: Mapped[SpecialGroupType] = mapped_column(
        db_enum(SpecialGroupType, "special_group_type"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    danger_level: Mapped[int | None] = mapped_column(default=None)  # 严重精神障碍 0–5
    started_on: Mapped[date]
    ended_on: Mapped[date | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    visit_interval_days: Mapped[int]
    last_visit_on: Mapped[date | None] = mapped_column(default=None)
    next_visit_due: Mapped[date]
    responsible_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )


class VisitInterval(Base):
    """How often a special group is visited (走访); the highest matching danger level wins."""

    __tablename__ = "visit_interval"

    group_type: Mapped[SpecialGroupType] = mapped_column(
        db_enum(SpecialGroupType, "special_group_type"), primary_key=True
    )
    min_danger_level: Mapped[int] = mapped_column(primary_key=True, default=0)
    interval_days: Mapped[int] = mapped_column(
        CheckConstraint("interval_days > 0", name="positive")
    )
    __table_args__ = (placed(Placement.REFERENCE),)


class Visit(DistrictKeyed, Base):
    """A grid worker's visit to a special-group member."""

    __tablename__ = "visit"
    __table_args__ = (
        district_fk("special_group_id", "special_group.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    special_group_id: Mapped[int] = mapped_column(index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    visited_on: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text, default=None)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), default=None
    )


class Organisation(DistrictKeyed, Base):
    """An organisation (实有单位) with its unified social credit code (GB 32100).

    Organisations are counted where they are: one with premises in two districts is in both
    ledgers, so the credit code is unique within a district.
    """

    __tablename__ = "organisation"
    __table_args__ = (
        UniqueConstraint("credit_code", "district_code"),
        district_fk("building_id", "building.id"),
        grid_fk(),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200), index=True)
    org_type: Mapped[OrganisationType] = mapped_column(
        db_enum(OrganisationType, "organisation_type")
    )
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    building_id: Mapped[int | None] = mapped_column(index=True, default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)
    legal_representative: Mapped[str | None] = mapped_column(String(50), default=None)
    responsible_person: Mapped[str | None] = mapped_column(String(50), default=None)
    responsible_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    responsible_phone_masked: Mapped[str | None] = mapped_column(String(20), default=None)
    staff_count: Mapped[int | None] = mapped_column(default=None)
    fire_key_unit: Mapped[bool] = mapped_column(default=False)  # 消防重点单位
    security_key_unit: Mapped[bool] = mapped_column(default=False)  # 治安重点单位
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), default=None
    )


class Staff(Base):
    """A user account: grid worker, dispatcher, command centre, leader or admin."""

    __tablename__ = "staff"
    __table_args__ = (placed(Placement.REFERENCE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    full_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(db_enum(StaffRole, "staff_role"))
    # Dispatchers belong to a department unit (the events package owns that table).
    department_unit_id: Mapped[int | None] = mapped_column(default=None)
    # Leaders and command staff see an admin area: a district/street/community code prefix.
    area_code: Mapped[str | None] = mapped_column(String(12), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)  # work phone
    active: Mapped[bool] = mapped_column(default=True)
    # Carried in every token the account is issued; signing out, a new password or disabling
    # the account bumps it, so every token issued before stops working at once.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@event.listens_for(Staff.active, "set", active_history=True)
def _disabling_ends_sessions(staff: Staff, value: bool, previous: object, _: object) -> None:
    # However an account is disabled, its old tokens must not come back to life if it is enabled
    # again later: disabling bumps the token version as signing out does.
    if previous is True and value is False:
        staff.token_version = (staff.token_version or 0) + 1


class LoginFailure(Base):
    """A wrong password: for which username, from which address and when.

    The login throttle counts these rows (several server processes share them); rows older
    than the throttle window are pruned as new failures come in.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_address_at", "address", "at"),
        Index("ix_login_failure_username_at", "username", "at"),
        placed(Placement.LOCAL),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # As typed, lower-cased: a username that does not exist is throttled like one that does.
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class StaffGrid(Base):
    """Grids a grid worker covers (one grid may have several workers)."""

    __tablename__ = "staff_grid"
    __table_args__ = (grid_fk(ondelete="CASCADE"), placed(Placement.DISTRIBUTED))

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True, index=True)
    # A grid code starts with its district's.
    district_code: Mapped[str] = mapped_column(
        String(6),
        primary_key=True,
        default=lambda context: context.get_current_parameters()["grid_code"][:6],
    )


class PiiAccessLog(DistrictKeyed, Base):
    """Every read of unmasked personal data: who, whose, which field, when and why.

    Kept in the district of the record that was read.
    """

    __tablename__ = "pii_access_log"
    __table_args__ = (
        district_fk("resident_id", "resident.id"),
        district_fk("organisation_id", "organisation.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(index=True)
    organisation_id: Mapped[int | None] = mapped_column(default=None)
    # The event whose caller (12345 热线来电人) was read; `people` does not reach into events.
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    fields: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Integration(Base):
    """An outside system (an Open311 app, a hotline bridge) that files events with an API key.

    Only the key's sha256 is stored; the key itself is shown once, when it is issued. Each
    integration acts through its own service account (`staff_id`), which cannot log in.
    """

    __tablename__ = "integration"
    __table_args__ = (placed(Placement.REFERENCE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))  # shown in lists to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    # The admin area (district/street/community code) it may file and read events in.
    area_code: Mapped[str] = mapped_column(String(12))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PersonIdentity(Base):
    """Which district's ledger holds a person: one row per document, nationwide.

    The resident tables are distributed by district, where a unique key can only hold within
    one district. This table is distributed by the document hash instead, so its primary key
    keeps a document in one ledger across every district; registering, importing and moving a
    person between districts claim or move the row in the same transaction as the record.
    """

    __tablename__ = "person_identity"
    __table_args__ = (placed(Placement.IDENTITY, "doc_hash"),)

    doc_type: Mapped[DocumentType] = mapped_column(
        db_enum(DocumentType, "document_type"), primary_key=True
    )
    doc_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    resident_id: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class LedgerChange(DistrictKeyed, Base):
    """One write to the house or organisation ledger (台账变更记录): who, when, which record,
    and the fields before and after (masked values only, never a clear phone).

    A POST sent with an idempotency key keeps it here, so a resent POST finds the record it
    made the first time. Kept in the district of the record that was written.
    """

    __tablename__ = "ledger_change"
    __table_args__ = (
        CheckConstraint("action IN ('create', 'update')", name="action_known"),
        Index("ix_ledger_change_record", "entity", "entity_id"),
        # Citus keeps a unique key only with the district code in it; a key is the client's
        # UUID, so two districts never share one in practice.
        Index(
            "uq_ledger_change_idempotency_key",
            "district_code",
            "idempotency_key",
            unique=True,
            postgresql_where="idempotency_key IS NOT NULL",
        ),
        Index("ix_ledger_change_key", "idempotency_key"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # house, organisation
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)


class TaskKind(LabelledEnum):
    """worker task"""

    RENTAL_UNREGISTERED = "rental_unregistered", "出租屋无人登记"
    REGISTRATION_OVERDUE = "registration_overdue", "居住登记逾期"
    PERMIT_EXPIRING = "permit_expiring", "居住证即将到期"
    CROWDED_RENTAL = "crowded_rental", "疑似群租"
    LEASE_ENDED = "lease_ended", "租约到期仍有登记"
    CROSSCHECK = "crosscheck", "比对核查"


class TaskStatus(LabelledEnum):
    """task status"""

    OPEN = "open", "待办"
    DONE = "done", "已核实处理"
    DISMISSED = "dismissed", "核实无问题"


class WorkerTask(DistrictKeyed, Base):
    """A task raised for the grid workers of one grid by a ledger rule (出租屋无人登记, 居住证
    到期 …) or a department's cross-check: what to check, about which record, by when.

    `key` names the rule and the record (and a period where the rule may fire again), so a
    rule run twice raises one task while it is open.
    """

    __tablename__ = "worker_task"
    __table_args__ = (
        grid_fk(),
        Index(
            "uq_worker_task_open_key",
            "district_code",
            "key",
            unique=True,
            postgresql_where="status = 'open'",
        ),
        Index("ix_worker_task_grid_status_due", "grid_code", "status", "due_on"),
        CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_when_not_open"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15))
    kind: Mapped[TaskKind] = mapped_column(db_enum(TaskKind, "task_kind"))
    # What the task is about: house, resident, rental, organisation … and its id.
    subject: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None] = mapped_column(default=None)
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    key: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date]
    status: Mapped[TaskStatus] = mapped_column(
        db_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class ShareGrant(Base):
    """A department's grant of a shared dataset (共享授权): which fields, masked or clear, in
    which area, for what purpose; who granted it and when, who revoked it and when.

    Rows are never deleted or edited except to record the revocation, so the table is the
    record of every grant and revoke.
    """

    __tablename__ = "share_grant"
    __table_args__ = (
        # One live grant per department and dataset: a change is a revoke and a new grant.
        Index(
            "uq_share_grant_live",
            "department_id",
            "dataset",
            unique=True,
            postgresql_where="revoked_at IS NULL",
        ),
        CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked_by_when_revoked"
        ),
        placed(Placement.REFERENCE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The events package owns `department`; the key is checked by the database.
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(30))
    # {field: "masked" | "clear"}: the fields granted and how each is shown.
    fields: Mapped[dict[str, str]] = mapped_column(JSONB)
    # The categories (codes) a grant of a dataset filtered by category covers, else None.
    categories: Mapped[list[str] | None] = mapped_column(JSONB, default=None)
    area_code: Mapped[str] = mapped_column(String(15))
    purpose: Mapped[str] = mapped_column(String(300))
    granted_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ShareSubscription(Base):
    """A webhook a grant's changes are pushed to (共享订阅): URL, signing secret, and the number
    of the last change delivered (the cursor; set it back to replay)."""

    __tablename__ = "share_subscription"
    __table_args__ = (placed(Placement.REFERENCE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("share_grant.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200))
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ShareAccessLog(DistrictKeyed, Base):
    """Every read of a shared dataset (共享调阅记录): who, under which grant, which fields (and
    which of them clear), which page and which records. Kept in the grant area's district."""

    __tablename__ = "share_access_log"
    __table_args__ = (
        CheckConstraint("staff_id IS NOT NULL OR subscription_id IS NOT NULL", name="reader_known"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    # Who read: a department's account, or the webhook subscription the changes went to.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("share_subscription.id"), default=None
    )
    grant_id: Mapped[int] = mapped_column(ForeignKey("share_grant.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(30))
    fields: Mapped[str] = mapped_column(String(500))
    clear_fields: Mapped[str] = mapped_column(String(500))
    page: Mapped[int]
    row_count: Mapped[int]
    record_ids: Mapped[list[int]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Crosscheck(DistrictKeyed, Base):
    """A department's list compared with the ledger (比对): who sent it, how many rows, how
    many differences were found."""

    __tablename__ = "crosscheck"
    __table_args__ = (placed(Placement.DISTRIBUTED),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    area_code: Mapped[str] = mapped_column(String(15))
    filename: Mapped[str] = mapped_column(String(200))
    row_count: Mapped[int]
    difference_count: Mapped[int]
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CrosscheckDifference(DistrictKeyed, Base):
    """One difference between a department's list and the ledger: a person missing from the
    ledger, one in the ledger but not on the list, or a different address; with its task."""

    __tablename__ = "crosscheck_difference"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('missing_in_ledger', 'extra_in_ledger', 'address_differs')",
            name="kind_known",
        ),
        district_fk("crosscheck_id", "crosscheck.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    crosscheck_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))
    row_number: Mapped[int | None] = mapped_column(default=None)  # in the list, 1 = header
    resident_id: Mapped[int | None] = mapped_column(default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    name: Mapped[str | None] = mapped_column(String(50), default=None)
    doc_masked: Mapped[str | None] = mapped_column(String(40), default=None)
    listed_address: Mapped[str | None] = mapped_column(String(300), default=None)
    ledger_address: Mapped[str | None] = mapped_column(String(300), default=None)
    task_id: Mapped[int | None] = mapped_column(default=None)


class ShareChange(DistrictKeyed, Base):
    """A change to a record of a shared dataset (共享变更): written by triggers on the ledger
    tables in the writer's transaction, numbered (`seq`) by the first reader after it commits.

    Numbering after commit, one reader at a time, keeps the feed in commit order: a change
    committed late gets a number above every one already served, so a cursor never skips it.
    """

    __tablename__ = "share_change"
    __table_args__ = (
        Index("ix_share_change_dataset_seq", "dataset", "seq"),
        Index("ix_share_change_unnumbered", "id", postgresql_where="seq IS NULL"),
        Index("ix_share_change_seq", "seq"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int] = mapped_column(BigInteger)
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The record's category, for datasets filtered by category (events_by_category).
    tag: Mapped[str | None] = mapped_column(String(8), default=None)


class RentalStatus(LabelledEnum):
    """rental status"""

    ACTIVE = "active", "在租"
    CLOSED = "closed", "已退租"


class Rental(DistrictKeyed, Base):
    """A house let out (出租屋): landlord (a resident or an organisation), lease, the signed
    security responsibility letter (治安责任书), declared use and rooms let; closed, not deleted.
    """

    __tablename__ = "rental"
    __table_args__ = (
        district_fk("house_id", "house.id"),
        district_fk("landlord_resident_id", "resident.id"),
        district_fk("landlord_organisation_id", "organisation.id"),
        CheckConstraint(
            "(landlord_resident_id IS NULL) <> (landlord_organisation_id IS NULL)",
            name="one_landlord",
        ),
        CheckConstraint("lease_end IS NULL OR lease_end >= lease_start", name="end_after_start"),
        CheckConstraint("rooms IS NULL OR rooms > 0", name="rooms_positive"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_when_closed"),
        # One open rental per house.
        Index(
            "uq_rental_house_active",
            "house_id",
            "district_code",
            unique=True,
            postgresql_where="status = 'active'",
        ),
        Index("ix_rental_house_id", "house_id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    house_id: Mapped[int]
    landlord_resident_id: Mapped[int | None] = mapped_column(default=None)
    landlord_organisation_id: Mapped[int | None] = mapped_column(default=None)
    lease_start: Mapped[date]
    lease_end: Mapped[date | None] = mapped_column(default=None)
    responsibility_signed_on: Mapped[date | None] = mapped_column(default=None)  # 治安责任书
    declared_use: Mapped[str | None] = mapped_column(String(50), default=None)  # 申报用途
    rooms: Mapped[int | None] = mapped_column(default=None)  # rooms let (出租间数)
    status: Mapped[RentalStatus] = mapped_column(
        db_enum(RentalStatus, "rental_status"), default=RentalStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RentalTenant(DistrictKeyed, Base):
    """A resident living in a rental (承租人/居住人), from moving in until moving out."""

    __tablename__ = "rental_tenant"
    __table_args__ = (
        CheckConstraint("moved_out IS NULL OR moved_out >= moved_in", name="out_after_in"),
        Index(
            "uq_rental_tenant_open",
            "rental_id",
            "resident_id",
            "district_code",
            unique=True,
            postgresql_where="moved_out IS NULL",
        ),
        Index("ix_rental_tenant_resident_id", "resident_id"),
        Index("ix_rental_tenant_rental_id", "rental_id"),
        district_fk("rental_id", "rental.id", ondelete="CASCADE"),
        district_fk("resident_id", "resident.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    rental_id: Mapped[int]
    resident_id: Mapped[int]
    moved_in: Mapped[date]
    moved_out: Mapped[date | None] = mapped_column(default=None)


class Patrol(DistrictKeyed, Base):
    """A grid worker's patrol (巡查) of one of their grids: started and ended on the phone, its
    track kept as points in `patrol_point` (the LineString is made from them when read).

    `key` is the phone's own id of the patrol (a UUID made when 开始巡查 is pressed, offline
    too), so the start, the point batches and the end can wait in the phone's queue and name
    the patrol before the server has answered.
    """

    __tablename__ = "patrol"
    __table_args__ = (
        grid_fk(),
        UniqueConstraint("key", "district_code", name="uq_patrol_key"),
        Index("ix_patrol_staff_started", "staff_id", "started_at"),
        Index("ix_patrol_grid_started", "grid_code", "started_at"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    grid_code: Mapped[str] = mapped_column(String(15))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Privacy (gridgov patrols prune): when the track was thinned, and when its points were
    # deleted (the patrol's times stay).
    thinned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PatrolPoint(Base):
    """One GPS fix of a patrol (CGCS2000 lon/lat), at most one per patrol and instant: a batch
    sent twice adds nothing."""

    __tablename__ = "patrol_point"
    __table_args__ = (
        district_fk("patrol_id", "patrol.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    patrol_id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False, nullable=False)
    )
    accuracy_m: Mapped[float | None] = mapped_column(default=None)
