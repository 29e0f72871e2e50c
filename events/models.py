"""Tables of the event loop: departments and units, categories, dispatch rules, events and
their audit trail, attachments, the notification outbox and the work calendar."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from events.catalog import DepartmentType, Priority, Tier
from gis.codes import LabelledEnum, db_enum
from gis.db import STORAGE_SRID, Base
from gis.distribution import DistrictKeyed, Placement, district_fk, placed
from grid.models import grid_fk


class EventStatus(LabelledEnum):
    """event status"""

    REPORTED = "reported", "已上报"  # from a non-grid-worker source, awaiting on-site check
    PENDING = "pending", "待立案"  # received (and checked where needed), awaiting 立案 by judgement
    REGISTERED = "registered", "已立案"
    DISPATCHED = "dispatched", "已派遣"
    SIGNED = "signed", "处置中"
    HANDLED = "handled", "已处置"
    VERIFIED = "verified", "已核查"
    CLOSED = "closed", "已结案"
    RETURNED = "returned", "已退回"
    SUSPENDED = "suspended", "挂账"
    VOIDED = "voided", "已作废"
    SELF_RESOLVED = "self_resolved", "自行处置"
    TRANSFERRED = "transferred", "已移交"  # moved to another district's centre (跨区移交)
    REFUSED = "refused", "不予立案"  # the command centre declined it; the reporter sees why


class EventSource(LabelledEnum):
    """event source"""

    GRID_WORKER = "grid_worker", "网格员上报"
    HOTLINE = "hotline", "12345热线"
    MAILBOX = "mailbox", "市长信箱"
    WEB_APP = "web_app", "网站·APP"
    INSPECTION = "inspection", "巡查发现"
    LEADER = "leader", "领导批示"
    SENSOR = "sensor", "物联感知"
    OPEN311 = "open311", "Open311接入"
    DEPARTMENT = "department", "部门移交"


# Raised by a citizen: the caller is answered (答复), called back (回访) and asked how satisfied.
CITIZEN_SOURCES = frozenset(
    {EventSource.HOTLINE, EventSource.MAILBOX, EventSource.WEB_APP, EventSource.OPEN311}
)


class AppealType(LabelledEnum):
    """what the caller asks for (诉求类型)"""

    CONSULT = "consult", "咨询"
    HELP = "help", "求助"
    COMPLAINT = "complaint", "投诉"
    TIP_OFF = "tip_off", "举报"
    SUGGESTION = "suggestion", "建议"
    PRAISE = "praise", "表扬"


class ReplyChannel(LabelledEnum):
    """how the caller was answered (答复方式)"""

    PHONE = "phone", "电话"
    SMS = "sms", "短信"
    LETTER = "letter", "书面"
    WEB_APP = "web_app", "网站·APP"
    IN_PERSON = "in_person", "当面"


class Satisfaction(LabelledEnum):
    """how satisfied the caller said they were at the callback (满意度)"""

    SATISFIED = "satisfied", "满意"
    FAIRLY_SATISFIED = "fairly_satisfied", "基本满意"
    DISSATISFIED = "dissatisfied", "不满意"


class CallbackStatus(LabelledEnum):
    """where a callback (回访) stands"""

    DUE = "due", "待回访"
    REACHED = "reached", "已回访"
    UNREACHED = "unreached", "未接通"  # three attempts, nobody answered
    REVIEW = "review", "待复核"  # a second 不满意: the command centre reviews the case
    REVIEWED = "reviewed", "已复核"


class Stage(LabelledEnum):
    """deadline stage"""

    CHECK = "check", "核实"
    REGISTER = "register", "立案"  # the command centre's own clock: a pending case awaits 立案
    DISPATCH = "dispatch", "派遣"  # a registered case awaits the dispatcher's 派遣
    SIGN = "sign", "签收"
    HANDLE = "handle", "处置"
    VERIFY = "verify", "核查"
    REPLY = "reply", "答复"  # a citizen case, verified, waits for the operator's reply
    CLOSE = "close", "结案"  # any other case, verified, waits for the command centre's 结案


class DeliveryStatus(LabelledEnum):
    """delivery status"""

    PENDING = "pending", "待发送"
    DELIVERED = "delivered", "已送达"
    DEAD = "dead", "已放弃"


# event, event_step and outbox are partitioned by month of their id (gis.partitions).
PARTITIONED_BY_MONTH = {"postgresql_partition_by": "RANGE (id)"}


def month_stamped_id(table: str) -> Any:
    """The id column of a monthly partitioned table: YYYYMM · 10^10 + its sequence's next value
    (`gis.partitions`), given by the database."""
    return mapped_column(
        BigInteger,
        primary_key=True,
        autoincrement=False,
        server_default=text(f"month_stamped_id('{table}_id_seq')"),
    )


class KeyKind(StrEnum):
    """What an `event_key` row keeps unique within a district."""

    CODE = "code"  # the event's code, 420502-20261122-000123
    IDEMPOTENCY = "idempotency"  # the key a phone or integration resends a report with
    TICKET = "ticket"  # a channel's own ticket number (工单号), "hotline:12345-20261203-0001"


class Department(Base):
    """A department of the district government (公安分局, 消防救援大队, 民政局 …)."""

    __tablename__ = "department"
    __table_args__ = (placed(Placement.REFERENCE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    dept_type: Mapped[DepartmentType] = mapped_column(db_enum(DepartmentType, "department_type"))
    district_code: Mapped[str] = mapped_column(String(6), index=True)


class DepartmentUnit(Base):
    """A unit that handles events (派出所, 消防救援站, 民政所, 城管中队 …) and its jurisdiction."""

    __tablename__ = "department_unit"
    __table_args__ = (placed(Placement.REFERENCE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    dept_type: Mapped[DepartmentType] = mapped_column(
        db_enum(DepartmentType, "department_type"), index=True
    )
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    # Jurisdiction (辖区); police and fire areas need not follow street boundaries.
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True)
    )
    # Where the unit sits, for "nearest unit of that type".
    location: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=True)
    )
    phone: Mapped[str | None] = mapped_column(String(30), default=None)
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    supervisor_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    active: Mapped[bool] = mapped_column(default=True)
    # A tier's own centre (dept_type command_centre): the community, street, district or city
    # prefix it serves; its tier is `catalog.tier_of_prefix(area_code)`. NULL for departments.
    area_code: Mapped[str | None] = mapped_column(String(12), index=True, default=None)


class EventCategory(Base):
    """One version of a subcategory (小类); edits add a version, events keep theirs."""

    __tablename__ = "event_category"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_event_category_code_version"),
        Index(
            "uq_event_category_current", "code", unique=True, postgresql_where="valid_to IS NULL"
        ),
        placed(Placement.REFERENCE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), index=True)
    version: Mapped[int] = mapped_column(default=1)
    major_code: Mapped[str] = mapped_column(String(4))
    major_name: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    lead: Mapped[DepartmentType] = mapped_column(db_enum(DepartmentType, "department_type"))
    assisting: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    priority: Mapped[Priority] = mapped_column(db_enum(Priority, "priority"))
    sign_limit: Mapped[str] = mapped_column(String(10))  # "2h" working hours / "3d" working days
    handle_limit: Mapped[str] = mapped_column(String(10))
    verify_limit: Mapped[str] = mapped_column(String(10))
    photo_required: Mapped[bool] = mapped_column(default=False)
    onsite_verification_required: Mapped[bool] = mapped_column(default=True)
    needs_check: Mapped[bool] = mapped_column(default=True)
    # The tier a registered case starts at (分级流转) and whether a grid worker's report is
    # registered (立案) at once; otherwise it waits for the command centre's judgement.
    start_tier: Mapped[Tier] = mapped_column(
        db_enum(Tier, "tier"), default=Tier.DISTRICT, server_default="district"
    )
    auto_register: Mapped[bool] = mapped_column(default=True, server_default="true")
    description: Mapped[str | None] = mapped_column(Text, default=None)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)


class DispatchRule(Base):
    """An ordered routing rule: the first active rule whose conditions all hold decides."""

    __tablename__ = "dispatch_rule"
    __table_args__ = (placed(Placement.REFERENCE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(100))
    # A subcategory code ("0301") or a major code ("03"); NULL matches every category.
    category_code: Mapped[str | None] = mapped_column(String(8), default=None)
    area_prefix: Mapped[str | None] = mapped_column(String(12), default=None)
    weekdays: Mapped[list[int] | None] = mapped_column(ARRAY(Integer), default=None)  # 1=Mon
    time_from: Mapped[time | None] = mapped_column(default=None)
    time_to: Mapped[time | None] = mapped_column(default=None)
    priority: Mapped[Priority | None] = mapped_column(db_enum(Priority, "priority"), default=None)
    lead: Mapped[DepartmentType] = mapped_column(db_enum(DepartmentType, "department_type"))
    assisting: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    fixed_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("department_unit.id"), default=None
    )
    active: Mapped[bool] = mapped_column(default=True)


# What the text search reads of an event, as migration 0038 generates `search_grams` from it.
SEARCH_GRAMS_SQL = (
    "text_grams(coalesce(code, '') || E'\\n' || coalesce(description, '') || E'\\n' "
    "|| coalesce(address, ''))"
)


class Event(DistrictKeyed, Base):
    """An event (事件) from report to closure, with where it is and who handles it."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_open_unit", "unit_id", "status"),
        Index("ix_event_category_reported", "category_code", "reported_at"),
        # Area-scoped queries (leaders, KPIs) filter on a grid-code prefix.
        Index(
            "ix_event_grid_prefix",
            "grid_code",
            "reported_at",
            postgresql_ops={"grid_code": "varchar_pattern_ops"},
        ),
        # Code and idempotency key are unique through event_key (a partitioned table's unique
        # keys must hold its partition key), which also serves lookups; this index serves those
        # by code of events filed without keys.
        Index("ix_event_code", "code"),
        Index("ix_event_search_grams", "search_grams", postgresql_using="gin"),
        grid_fk(),
        district_fk("building_id", "building.id"),
        district_fk("organisation_id", "organisation.id"),
        district_fk("part_code", "city_part.code"),
        district_fk("duplicate_of_id", "event.id"),
        placed(Placement.DISTRIBUTED) | PARTITIONED_BY_MONTH,
    )

    id: Mapped[int] = month_stamped_id("event")
    code: Mapped[str] = mapped_column(String(24))  # 420502-20261122-000123
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)
    category_id: Mapped[int] = mapped_column(ForeignKey("event_category.id"))
    category_code: Mapped[str] = mapped_column(String(8))
    priority: Mapped[Priority] = mapped_column(db_enum(Priority, "priority"))
    status: Mapped[EventStatus] = mapped_column(db_enum(EventStatus, "event_status"), index=True)
    source: Mapped[EventSource] = mapped_column(db_enum(EventSource, "event_source"))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    # The characters and character pairs of code, description and address (SQL text_grams,
    # migration 0038) that the text search looks up; never loaded with the row.
    search_grams: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text), Computed(SEARCH_GRAMS_SQL, persisted=True), deferred=True
    )
    # NULL while a case placed by address only waits for the command centre to locate it.
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=True, nullable=True)
    )
    input_crs: Mapped[str] = mapped_column(String(10), default="wgs84")
    locate_match: Mapped[str] = mapped_column(String(10))  # inside/boundary/nearby/outside/none
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    community_code: Mapped[str | None] = mapped_column(String(12), default=None)
    street_code: Mapped[str | None] = mapped_column(String(12), default=None)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)
    building_id: Mapped[int | None] = mapped_column(default=None)
    organisation_id: Mapped[int | None] = mapped_column(default=None)
    # The city part (城市部件) the case concerns; its owner unit is a routing input.
    part_code: Mapped[str | None] = mapped_column(String(16), default=None)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # 12345 callers and app users stay private: their contact is stored encrypted.
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    contact_masked: Mapped[str | None] = mapped_column(String(40), default=None)
    caller_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    caller_name_masked: Mapped[str | None] = mapped_column(String(40), default=None)
    appeal_type: Mapped[AppealType | None] = mapped_column(
        db_enum(AppealType, "appeal_type"), default=None
    )
    # The channel's ticket number (工单号), unique per channel through event_key.
    external_ref: Mapped[str | None] = mapped_column(String(100), default=None)
    # The tier holding the case (分级流转); its centre is found from the event's own admin codes.
    tier: Mapped[Tier] = mapped_column(
        db_enum(Tier, "tier"), default=Tier.DISTRICT, server_default="district"
    )
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department_unit.id"), default=None)
    assisting_unit_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    dispatch_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatch_rule.id"), default=None
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The running stage and its clock; suspended time is added back to the deadline.
    stage: Mapped[Stage | None] = mapped_column(db_enum(Stage, "stage_kind"), default=None)
    stage_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    stage_deadline: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), index=True, default=None
    )
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    status_before_suspension: Mapped[EventStatus | None] = mapped_column(
        db_enum(EventStatus, "event_status"), default=None
    )
    supervision_level: Mapped[str | None] = mapped_column(String(10), default=None)
    rework_count: Mapped[int] = mapped_column(default=0)
    return_count: Mapped[int] = mapped_column(default=0)
    returned_by_unit_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    void_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class EventKey(Base):
    """A value unique per district that names one event: its code, the idempotency key it was
    filed with (partitioned `event` cannot keep them unique itself)."""

    __tablename__ = "event_key"
    __table_args__ = (
        # Looking a key up before the district is known (an idempotent resend).
        Index("ix_event_key_kind_key", "kind", "key"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)  # a KeyKind
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EventStage(DistrictKeyed, Base):
    """One run of a deadline stage: when it started, was due, ended, and how much was paused."""

    __tablename__ = "event_stage"
    __table_args__ = (
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    stage: Mapped[Stage] = mapped_column(db_enum(Stage, "stage_kind"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department_unit.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    on_time: Mapped[bool | None] = mapped_column(default=None)


class EventStep(DistrictKeyed, Base):
    """One transition of an event: the audit trail (actor, from → to, note, time)."""

    __tablename__ = "event_step"
    __table_args__ = (
        # 延期率 (events.kpis) asks, per handled case, whether an extension was approved: a
        # probe into this small index instead of the case's whole history in every partition.
        Index(
            "ix_event_step_extension",
            "event_id",
            postgresql_where="action = 'approve-extension'",
        ),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED) | PARTITIONED_BY_MONTH,
    )

    id: Mapped[int] = month_stamped_id("event_step")
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[EventStatus | None] = mapped_column(
        db_enum(EventStatus, "event_status"), default=None
    )
    to_status: Mapped[EventStatus] = mapped_column(db_enum(EventStatus, "event_status"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department_unit.id"), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Callback(DistrictKeyed, Base):
    """A callback (回访) to the caller after a citizen case closed: its attempts and outcome.

    One per closing: a case reopened (重办) after 不满意 gets a new one when it closes again.
    """

    __tablename__ = "callback"
    __table_args__ = (
        Index("ix_callback_open_due", "due_at", postgresql_where="ended_at IS NULL"),
        Index("ix_callback_review", "district_code", postgresql_where="status = 'review'"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        district_fk("reopen_step_id", "event_step.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    round: Mapped[int] = mapped_column(default=1)  # 1 for the first closing, 2 after 重办 …
    status: Mapped[CallbackStatus] = mapped_column(
        db_enum(CallbackStatus, "callback_status"), default=CallbackStatus.DUE
    )
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    # Every attempt: {"at", "outcome", "note", "actor"}; outcome no_answer or a Satisfaction.
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    satisfaction: Mapped[Satisfaction | None] = mapped_column(
        db_enum(Satisfaction, "satisfaction"), default=None
    )
    note: Mapped[str | None] = mapped_column(Text, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    reopen_step_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)


class Attachment(DistrictKeyed, Base):
    """A photo of an event, stripped of EXIF, stored by content hash."""

    __tablename__ = "attachment"
    __table_args__ = (
        CheckConstraint("size > 0", name="not_empty"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        district_fk("step_id", "event_step.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    step_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    path: Mapped[str] = mapped_column(String(300))
    thumbnail_path: Mapped[str] = mapped_column(String(300))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Outbox(DistrictKeyed, Base):
    """A notification to deliver after commit (webhook to a unit), retried until delivered."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "next_attempt_at", postgresql_where="status = 'pending'"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        district_fk("step_id", "event_step.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED) | PARTITIONED_BY_MONTH,
    )

    id: Mapped[int] = month_stamped_id("outbox")
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    step_id: Mapped[int] = mapped_column(BigInteger)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department_unit.id"))
    kind: Mapped[str] = mapped_column(String(30))  # dispatch / return / supervise / close …
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        db_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class DeliveryAttempt(DistrictKeyed, Base):
    """One try at delivering an outbox row: the delivery log."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (
        district_fk("outbox_id", "outbox.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int]


class WorkCalendarDay(Base):
    """A holiday on a weekday, or a worked weekend day (调休); everything else follows Mon–Fri."""

    __tablename__ = "work_calendar"
    __table_args__ = (
        CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),
        placed(Placement.REFERENCE),
    )

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(50))


# -- REVIEW: return review and dispute rulings (退回审核, 争议裁定) --------------------------------


class DisputeRuling(DistrictKeyed, Base):
    """A ruling (裁定) on a jurisdiction dispute: two or more units returned the same case and the
    command centre named the unit that leads it. Binding: that unit may not return the case."""

    __tablename__ = "dispute_ruling"
    __table_args__ = (
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        district_fk("step_id", "event_step.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    step_id: Mapped[int] = mapped_column(BigInteger)  # the `rule` step that dispatched the case
    category_code: Mapped[str] = mapped_column(String(8))
    community_code: Mapped[str | None] = mapped_column(String(12), default=None)
    street_code: Mapped[str | None] = mapped_column(String(12), default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    unit_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))  # the units that returned it
    unit_id: Mapped[int] = mapped_column(ForeignKey("department_unit.id"))  # the lead, ruled
    reasoning: Mapped[str] = mapped_column(Text)
    ruled_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    ruled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The dispatch rule made from the ruling (one click), so the dispute does not come back.
    dispatch_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatch_rule.id"), default=None
    )


# -- JOINT: joint cases (主办/协办), one sub-task per assisting unit ------------------------------


class SubtaskStatus(LabelledEnum):
    """where an assisting unit's sub-task (协办任务) stands"""

    DISPATCHED = "dispatched", "待签收"
    SIGNED = "signed", "处置中"
    DONE = "done", "已完成"
    WAIVED = "waived", "已免除"  # the command centre released the unit, with a reason
    CANCELLED = "cancelled", "已撤销"  # removed, or the case was re-dispatched, returned, ended


class EventSubtask(DistrictKeyed, Base):
    """An assisting unit's part of a joint case: its own sign-for and handling deadlines, its
    handling report, and how it ended (done, waived by the command centre, or cancelled)."""

    __tablename__ = "event_subtask"
    __table_args__ = (
        Index("ix_event_subtask_unit_open", "unit_id", postgresql_where="ended_at IS NULL"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        district_fk("report_step_id", "event_step.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department_unit.id"))
    status: Mapped[SubtaskStatus] = mapped_column(
        db_enum(SubtaskStatus, "subtask_status"), default=SubtaskStatus.DISPATCHED
    )
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)  # the command centre's ask
    sign_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    handle_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Start of the running clock (sign-for from the opening, handling from the sign-for), moved
    # out like the deadlines by the time the case spent suspended (挂账), for its light.
    clock_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    report: Mapped[str | None] = mapped_column(Text, default=None)  # 协办处置情况
    report_step_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # its photos
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    # Why it was waived (免除) or cancelled (撤销).
    end_reason: Mapped[str | None] = mapped_column(String(300), default=None)


# -- 考评 (evaluation, issue #13 EVALUATION): one score per closed case, see events.evaluation --


class EventEvaluation(DistrictKeyed, Base):
    """The evaluation (考评) of a closed case: its score, the timeline facts it came from, and
    whom it is counted for (lead unit, department, tier, street, community, grid, grid worker).

    One row per event, replaced when the case is evaluated again (reopened and closed again,
    or the caller's satisfaction recorded)."""

    __tablename__ = "event_evaluation"
    __table_args__ = (
        Index("ix_event_evaluation_closed", "closed_at"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )
    identity_column = "event_id"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    score: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[EventStatus] = mapped_column(db_enum(EventStatus, "event_status"))
    # The timeline facts (counts over the case's whole history).
    stages: Mapped[int] = mapped_column(default=0)  # deadline stages ended
    late_stages: Mapped[int] = mapped_column(default=0)  # of those, ended after their deadline
    extensions: Mapped[int] = mapped_column(default=0)  # approved extensions (批准延期)
    returns: Mapped[int] = mapped_column(default=0)  # returns by a unit (退回)
    reworks: Mapped[int] = mapped_column(default=0)  # failed verifications (核查不通过)
    supervisions: Mapped[int] = mapped_column(default=0)  # supervision steps (督办)
    reopens: Mapped[int] = mapped_column(default=0)  # reopened after 不满意 (重办)
    satisfaction: Mapped[Satisfaction | None] = mapped_column(
        db_enum(Satisfaction, "satisfaction"), default=None
    )
    # Whom it counts for, as the case stood when it closed.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department_unit.id"), default=None)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), default=None)
    tier: Mapped[Tier] = mapped_column(db_enum(Tier, "tier"), default=Tier.DISTRICT)
    street_code: Mapped[str | None] = mapped_column(String(12), default=None)
    community_code: Mapped[str | None] = mapped_column(String(12), default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    category_code: Mapped[str] = mapped_column(String(8))
    # The deductions and bonus the score is made of, and the rule's version (events.evaluation).
    components: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


# The sensors' tables (物联感知) live in their own module; importing it registers them here too.
from events import device_models  # noqa: E402, F401

# -- SUPERVISION: 督办单 and sanctions against units (events.supervision) ----------------------


class SupervisionLevel(LabelledEnum):
    """supervision level (督办级别), lowest first"""

    GENERAL = "general", "一般督办"
    KEY = "key", "重点督办"
    LISTED = "listed", "挂牌督办"  # shown on the leader's map until lifted (摘牌)


class SupervisionStatus(LabelledEnum):
    """where a supervision order stands"""

    OPEN = "open", "待回复"
    REPLIED = "replied", "已回复"
    LIFTED = "lifted", "已摘牌"


class SanctionKind(LabelledEnum):
    """a measure recorded against a unit"""

    INTERVIEW = "interview", "约谈"
    NOTICE = "notice", "通报"


class SupervisionOrder(DistrictKeyed, Base):
    """A supervision order (督办单): the case, the unit, the demand and when the unit must reply.

    One `event_step` with action `supervise` records its issue (`step_id`).
    """

    __tablename__ = "supervision_order"
    __table_args__ = (
        Index("ix_supervision_order_unit_status", "unit_id", "status"),
        # The job's look-up: open orders past their reply deadline, not yet told to the leader.
        Index(
            "ix_supervision_order_unanswered",
            "reply_deadline",
            postgresql_where="status = 'open' AND escalated_to_leader_at IS NULL",
        ),
        # The leader's map: listed orders not yet lifted.
        Index(
            "ix_supervision_order_listed",
            "district_code",
            postgresql_where="level = 'listed' AND lifted_at IS NULL",
        ),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        district_fk("step_id", "event_step.id"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    step_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department_unit.id"))
    level: Mapped[SupervisionLevel] = mapped_column(db_enum(SupervisionLevel, "supervision_level"))
    demand: Mapped[str] = mapped_column(Text)
    # The stage the case was in when the order was issued (the job issues once per level each).
    stage: Mapped[Stage | None] = mapped_column(db_enum(Stage, "stage_kind"), default=None)
    automatic: Mapped[bool] = mapped_column(default=False)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reply_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[SupervisionStatus] = mapped_column(
        db_enum(SupervisionStatus, "supervision_status"), default=SupervisionStatus.OPEN
    )
    reply: Mapped[str | None] = mapped_column(Text, default=None)
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    replied_on_time: Mapped[bool | None] = mapped_column(default=None)
    # Unanswered at its deadline: the leader was told (escalate_unanswered).
    escalated_to_leader_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    lift_reason: Mapped[str | None] = mapped_column(Text, default=None)


class UnitSanction(DistrictKeyed, Base):
    """约谈 (an interview of the unit's head) or 通报 (a public notice) recorded against a unit."""

    __tablename__ = "unit_sanction"
    __table_args__ = (
        district_fk("order_id", "supervision_order.id"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)  # the unit's
    unit_id: Mapped[int] = mapped_column(ForeignKey("department_unit.id"), index=True)
    kind: Mapped[SanctionKind] = mapped_column(db_enum(SanctionKind, "sanction_kind"))
    reason: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(default=None)
    event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditSeal(Base):
    """One link of a district's tamper-evident chain (防篡改留痕): a sealed event step or read
    of unmasked personal data, the SHA-256 of its content, and the chain hash
    sha256(previous link's chain hash ‖ row hash), numbered 1, 2, 3 … per district
    (`events.audit`). Keyed by district and link number, both (links of two districts share
    numbers), so not `DistrictKeyed`'s single id."""

    __tablename__ = "audit_seal"
    __table_args__ = (
        UniqueConstraint("district_code", "source", "row_id", name="uq_audit_seal_row"),
        Index("ix_audit_seal_row_at", "district_code", "row_at"),
        placed(Placement.DISTRIBUTED),
    )

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(30))  # event_step, pii_access_log, share_access_log
    row_id: Mapped[int] = mapped_column(BigInteger)
    row_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    row_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# -- RECURRENCE: clusters of repeated events → 源头治理 tasks (events.recurrence) ----------------


class RecurrenceStatus(LabelledEnum):
    """where a 源头治理 (root-cause) task stands"""

    OPEN = "open", "待接收"
    ACCEPTED = "accepted", "治理中"
    CLOSED = "closed", "已办结"


class RecurrenceRule(Base):
    """A category's own recurrence threshold, overriding the RECURRENCE_* settings."""

    __tablename__ = "recurrence_rule"
    __table_args__ = (
        CheckConstraint("min_events >= 2", name="ck_recurrence_rule_min_events"),
        CheckConstraint("radius_m > 0", name="ck_recurrence_rule_radius"),
        CheckConstraint("window_days >= 1", name="ck_recurrence_rule_window"),
        placed(Placement.REFERENCE),
    )

    category_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    min_events: Mapped[int] = mapped_column(Integer)
    radius_m: Mapped[float] = mapped_column(Numeric(8, 1, asdecimal=False))
    window_days: Mapped[int] = mapped_column(Integer)


class RecurrenceCluster(DistrictKeyed, Base):
    """Events of one category repeated in one place (重复发生) and the 源头治理 task it raised:
    the unit that must remove the cause, the deadline, acceptance and the closing report."""

    __tablename__ = "recurrence_cluster"
    __table_args__ = (
        Index("ix_recurrence_cluster_unit_status", "unit_id", "status"),
        Index("ix_recurrence_cluster_place", "district_code", "category_code", "status"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(8))
    # The grid most members lie in (else their community/district code): the scope key.
    place_code: Mapped[str] = mapped_column(String(15))
    status: Mapped[RecurrenceStatus] = mapped_column(
        db_enum(RecurrenceStatus, "recurrence_status"), default=RecurrenceStatus.OPEN
    )
    lead_type: Mapped[DepartmentType] = mapped_column(db_enum(DepartmentType, "department_type"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department_unit.id"), default=None)
    routing: Mapped[str] = mapped_column(Text)  # why this unit (the dispatch sentence)
    # The threshold the cluster was found with (metres, events, days).
    radius_m: Mapped[float] = mapped_column(Numeric(8, 1, asdecimal=False))
    min_events: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int] = mapped_column(Integer)
    # Centroid of the members (SRID 4490) and their largest distance from it, in metres.
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=STORAGE_SRID))
    spread_m: Mapped[float] = mapped_column(Numeric(10, 1, asdecimal=False))
    event_count: Mapped[int] = mapped_column(Integer)
    first_reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    closing_report: Mapped[str | None] = mapped_column(Text, default=None)


class RecurrenceMember(DistrictKeyed, Base):
    """An event counted in a recurrence cluster; an event belongs to one cluster at most."""

    __tablename__ = "recurrence_member"
    __table_args__ = (
        district_fk("cluster_id", "recurrence_cluster.id", ondelete="CASCADE"),
        district_fk("event_id", "event.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED),
    )
    identity_column = "event_id"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(Integer, index=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
