"""Pydantic shapes of events as services take and return them: reports, events and their lists,
the reference tables, the performance indicators and Open311."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from events.calendar import Light, Limit, LimitUnit
from events.catalog import DepartmentType, Priority, Tier
from events.models import (
    AppealType,
    CallbackStatus,
    EventSource,
    EventStatus,
    ReplyChannel,
    SanctionKind,
    Satisfaction,
    Stage,
    SubtaskStatus,
    SupervisionLevel,
    SupervisionStatus,
)
from events.sources import INTEGRATION_SOURCES, OPERATOR_CITIZEN_SOURCES, STAFF_SOURCES
from gis.crs import Crs
from gis.text import InputModel, check_occurrence
from people.pii import validate_phone
from people.schemas import PatrolCoverage


class EventReport(InputModel):
    """What a member of staff (or an integration) files; no point (lon, lat) means placed by
    `address` only, waiting for the command centre to locate it."""

    category: str = Field(description="subcategory code, e.g. 0201")
    lon: float | None = None
    lat: float | None = None
    crs: Crs = Crs.WGS84
    description: str = Field(min_length=2, max_length=4000)
    address: str | None = Field(default=None, max_length=300)
    building: str | None = Field(default=None, description="building code, if known")
    part_code: str | None = Field(
        default=None, description="the city part (城市部件) the case concerns: 16-digit code"
    )
    organisation_id: int | None = None
    occurred_at: datetime | None = None
    source: EventSource = EventSource.GRID_WORKER
    contact: str | None = Field(default=None, description="caller's phone (hotline, Open311)")
    caller_name: str | None = Field(default=None, max_length=50, description="来电人姓名")
    appeal_type: AppealType | None = Field(default=None, description="诉求类型")
    ticket: str | None = Field(
        default=None, max_length=60, description="the channel's ticket number (工单号)"
    )
    external_ref: str | None = Field(default=None, max_length=100)
    self_resolved: bool = Field(default=False, description="fixed on the spot (自行处置)")

    @model_validator(mode="after")
    def _point_or_address(self) -> EventReport:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither (then an address)")
        if self.lon is None and not (self.address or "").strip() and not self.part_code:
            raise ValueError(
                "give the place: lon and lat, a city part's code, or the address the caller "
                "gave (the command centre then locates it)"
            )
        return self


class UnitRef(BaseModel):
    """A department unit by id and name."""

    id: int
    code: str
    name: str
    dept_type: str
    dept_label: str


class StageRead(BaseModel):
    """One deadline stage of an event."""

    stage: Stage
    stage_label: str
    started_at: datetime
    deadline: datetime
    ended_at: datetime | None
    on_time: bool | None
    light: Light | None = None


class StepRead(BaseModel):
    """One entry of the audit trail."""

    id: int
    action: str
    from_status: EventStatus | None
    to_status: EventStatus
    actor: str | None
    unit: str | None
    note: str | None
    data: dict[str, Any]
    at: datetime


class EventRead(BaseModel):
    """An event as stored, with its routing and deadlines."""

    id: int
    code: str
    status: EventStatus
    status_label: str
    category: str
    category_name: str
    priority: str
    source: EventSource
    description: str
    address: str | None
    lon: float | None = Field(description="null while the case waits to be located (定位)")
    lat: float | None
    locate_match: str = Field(description="inside, boundary, nearby, outside; none: no point yet")
    grid_code: str | None
    community: str | None
    street: str | None
    district_code: str
    building_code: str | None
    part_code: str | None = Field(default=None, description="the city part (城市部件) concerned")
    unit: UnitRef | None
    assisting_units: list[UnitRef] = Field(default_factory=list)
    tier: Tier = Field(default=Tier.DISTRICT, description="tier holding the case (分级流转)")
    tier_label: str = "区县"
    reason: str | None = Field(
        default=None, description="why it was refused (不予立案) or voided: the reporter sees it"
    )
    reporter: str | None
    appeal_type: AppealType | None = None
    appeal_type_label: str | None = None
    caller_name: str | None = Field(default=None, description="masked: 张*")
    caller_phone: str | None = Field(default=None, description="masked: 138****5678")
    ticket: str | None = Field(default=None, description="the channel's ticket number (工单号)")
    reported_at: datetime
    closed_at: datetime | None
    stage: Stage | None
    stage_label: str | None = Field(
        default=None, description="核实 立案 派遣 签收 处置 核查 结案 答复"
    )
    stage_deadline: datetime | None
    light: Light | None
    seconds_left: float | None = Field(
        default=None,
        description="working seconds to the running stage's deadline (wall seconds if urgent), "
        "negative when overdue; while suspended (挂账), what was left when the clock stopped",
    )
    time_left: str | None = Field(
        default=None, description="剩余 3小时 / 超期 2天 / 挂账 剩余 6小时: the time left in words"
    )
    suspended: bool = Field(default=False, description="挂账: the clock is stopped")
    supervision_level: str | None
    rework_count: int
    disputed: bool = Field(
        default=False, description="two different units returned it: a jurisdiction dispute (争议)"
    )
    duplicate_of: str | None
    duplicate_candidates: list[str] = Field(default_factory=list)
    dispatch: dict[str, Any] | None = Field(
        default=None, description="which rule matched and why this unit"
    )
    stages: list[StageRead] = Field(default_factory=list)
    steps: list[StepRead] = Field(default_factory=list)
    created: bool = Field(default=True, description="false when an idempotency key was reused")


def _limit_reads(value: str | None) -> str | None:
    if value is not None:
        Limit.parse(value)  # the ValueError names the accepted forms
    return value


def _light_names_are_levels(value: Any) -> Any:
    # Before 督办单 had levels, a supervision was named after the light: keep those working.
    if not isinstance(value, str):
        return value  # the level's own type check refuses it with a sentence (422)
    return {"yellow": "general", "red": "key"}.get(value, value)


# A 督办单's reply time (4h, 2d …) and level (yellow and red read as general and key), as the
# supervise action and the supervision order take them.
ReplyLimit = Annotated[str | None, AfterValidator(_limit_reads)]
SupervisionLevelInput = Annotated[SupervisionLevel | None, BeforeValidator(_light_names_are_levels)]

MAX_EXTENSION_DAYS = 250  # a working year: longer waits are suspensions (挂账), not extensions


class ActionInput(InputModel):
    """The fields of a workflow action; each action reads those it needs (events.actions.act)."""

    note: str | None = Field(default=None, max_length=4000, description="what was done or seen")
    reason: str | None = Field(
        default=None,
        max_length=300,
        description="why: needed to return, rework, suspend, void and ask for an extension",
    )
    lon: float | None = Field(default=None, description="where the actor stands (verify)")
    lat: float | None = None
    crs: Crs = Crs.WGS84
    passed: bool | None = Field(
        default=None,
        description="outcome of a check (false voids the report) or a verification "
        "(false sends the case back to the unit)",
    )
    extra_limit: str | None = Field(
        default=None, description="extension in working time, e.g. 4h or 2d (2个工作日)"
    )
    new_deadline: datetime | None = Field(
        default=None, description="extension as the deadline wanted instead of extra_limit"
    )
    unit_id: int | None = Field(
        default=None,
        description="unit chosen by hand (dispatch); supervise: the unit the order is for",
    )
    tier: Tier | None = Field(
        default=None, description="tier a case is handed down to (delegate 下派): community, street"
    )
    duplicate_of: str | None = Field(
        default=None, description="code of the event this one duplicates (void)"
    )
    building: str | None = Field(
        default=None, max_length=40, description="building code where the case is (locate)"
    )
    level: SupervisionLevelInput = Field(
        default=None,
        description="supervision (督办) level: general 一般督办, key 重点督办, listed 挂牌督办 "
        "(yellow and red are read as general and key)",
    )
    reply_limit: ReplyLimit = Field(
        default=None,
        max_length=20,
        description="supervise: the working time the unit has to reply, e.g. 4h or 2d "
        "(default by level)",
    )
    to_district: str | None = Field(
        default=None,
        max_length=12,
        description="6-digit code of the district a case is transferred to (跨区移交), e.g. 420503",
    )
    reply: str | None = Field(
        default=None, max_length=4000, description="what the caller was told (答复内容)"
    )
    reply_channel: ReplyChannel | None = Field(
        default=None, description="how the caller was answered (答复方式): phone, sms, letter …"
    )
    replied_at: datetime | None = Field(
        default=None, description="when the caller was answered; now when not given"
    )

    @field_validator("note", "reason", "duplicate_of", "to_district", "reply", "building")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("extra_limit")
    @classmethod
    def _limit_reads(cls, value: str | None) -> str | None:
        if value is not None:
            limit = Limit.parse(value)  # the ValueError names the accepted forms
            days = limit.amount if limit.unit is LimitUnit.DAYS else limit.amount / 6.5
            if days > MAX_EXTENSION_DAYS:
                raise ValueError(
                    f"an extension of {value} is more than {MAX_EXTENSION_DAYS} working days; "
                    "ask for less, or suspend the case (挂账) while it waits"
                )
        return value

    @field_validator("replied_at")
    @classmethod
    def _reply_time_is_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("replied_at must carry a time zone, e.g. 2026-11-26T17:30+08:00")
        return value

    @field_validator("new_deadline")
    @classmethod
    def _deadline_is_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("new_deadline must carry a time zone, e.g. 2026-11-26T17:30+08:00")
        if value is not None and not 2000 <= value.year <= 2099:
            raise ValueError(
                f"new_deadline {value.isoformat()} is not a plausible deadline; give a date "
                "in the coming weeks, e.g. 2026-11-26T17:30+08:00"
            )
        return value

    @model_validator(mode="after")
    def _both_coordinates(self) -> ActionInput:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.extra_limit is not None and self.new_deadline is not None:
            raise ValueError("give either extra_limit or new_deadline for an extension, not both")
        return self


class EventFiling(InputModel):
    """What staff file through the API and the pages: the place by point, or by address only
    (the command centre locates it later); the source (channel) by role, see events.sources."""

    category: str = Field(max_length=8, description="subcategory code, e.g. 0201")
    lon: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="longitude in `crs`; omit with lat when only the address is known",
    )
    lat: float | None = Field(default=None, allow_inf_nan=False, description="latitude in `crs`")
    crs: Crs = Field(
        default=Crs.WGS84, description="wgs84 (GPS, default), cgcs2000, gcj02 (Gaode), bd09"
    )
    description: str = Field(
        min_length=2, max_length=4000, description="what was seen; for a call, the caller's words"
    )
    address: str | None = Field(default=None, max_length=300)
    building: str | None = Field(default=None, max_length=40, description="building code")
    part_code: str | None = Field(
        default=None,
        max_length=16,
        description="the city part (城市部件) the case concerns (16 digits, within 100 m of the "
        "point; its owner unit is routed the case); with no lon/lat the case is placed at it",
    )
    occurred_at: datetime | None = None
    self_resolved: bool = Field(default=False, description="fixed on the spot (自行处置)")
    source: EventSource | None = Field(
        default=None,
        description="channel (来源): grid_worker, hotline, mailbox, web_app, department, "
        "inspection, leader; default by role (grid worker, inspector, leader). Command-centre "
        "operators must name it.",
    )
    appeal_type: AppealType | None = Field(
        default=None,
        description="诉求类型 consult/help/complaint/tip_off/suggestion/praise (citizen channels)",
    )
    caller_name: str | None = Field(default=None, max_length=50, description="来电人姓名")
    caller_phone: str | None = Field(default=None, max_length=30, description="来电人电话")
    ticket: str | None = Field(
        default=None, max_length=60, description="the channel's ticket number (工单号)"
    )

    @field_validator("occurred_at")
    @classmethod
    def _plausible_occurrence(cls, value: datetime | None) -> datetime | None:
        return check_occurrence(value)

    @field_validator("caller_name", "ticket", "address", "part_code")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("caller_phone")
    @classmethod
    def _phone_reads(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return validate_phone(value)  # PhoneError is a ValueError naming what to fix

    @field_validator("source")
    @classmethod
    def _staff_source(cls, value: EventSource | None) -> EventSource | None:
        if value in INTEGRATION_SOURCES:
            raise ValueError(
                f"{value.value} ({value.label}) cases come only through their integration "
                "(the Open311 gateway, the device readings); choose a channel staff file: "
                + ", ".join(sorted(s.value for s in STAFF_SOURCES))
            )
        return value

    @model_validator(mode="after")
    def _place_and_caller(self) -> EventFiling:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither (then the address)")
        if self.lon is None and self.address is None and self.part_code is None:
            raise ValueError(
                "give the place: lon and lat, a city part's code (part_code), or the address "
                "the caller gave (the case then waits for the command centre to locate it)"
            )
        citizen = self.source in OPERATOR_CITIZEN_SOURCES
        if citizen and self.appeal_type is None:
            raise ValueError(
                f"a {self.source.label if self.source else ''} case needs appeal_type (诉求类型): "
                "consult, help, complaint, tip_off, suggestion or praise"
            )
        if not citizen and (self.caller_name or self.caller_phone or self.appeal_type):
            raise ValueError(
                "caller_name, caller_phone and appeal_type belong to a citizen's case; file it "
                "under its channel (source hotline, mailbox or web_app)"
            )
        return self

    def to_report(self, source: EventSource) -> EventReport:
        """The report as the service takes it, under `source` (named, or the role's default)."""
        fields = self.model_dump(exclude={"source", "caller_phone"})
        return EventReport(**fields, source=source, contact=self.caller_phone)


class CallerContact(BaseModel):
    """A caller's clear phone and name (read with a logged reason)."""

    code: str
    caller_name: str | None
    caller_phone: str | None


class PhotoRef(BaseModel):
    """A photo of an event and where to fetch it (and its thumbnail)."""

    id: int
    url: str
    thumbnail_url: str
    content_type: str
    width: int
    height: int
    step_id: int | None = Field(description="the step (action) the photo was sent with")


class EventDetail(EventRead):
    """An event with its photos and the actions the caller may take on it now."""

    photos: list[PhotoRef] = Field(default_factory=list)
    actions: list[str] = Field(
        default_factory=list, description="actions this caller may take now, in workflow order"
    )


MAX_PAGE_SIZE = 200
Sort = Literal["deadline", "-reported_at"]


class DispatchProposalRead(BaseModel):
    """What automatic routing would do with a case now (派遣建议), not applied."""

    event: str
    unit: UnitRef | None = Field(description="the lead unit (主办); null: none found")
    assisting_units: list[UnitRef] = Field(description="the assisting units (协办)")
    rule_id: int | None = Field(description="the rule that matched; null: the category's default")
    rule: str = Field(description="which rule decided the department types, and why")
    lead_type: DepartmentType
    lead_type_label: str
    how: str = Field(description="how the lead unit was found (jurisdiction, nearest, fallback)")
    excluded_units: list[int] = Field(description="units skipped because they returned the case")


class EventFilter(BaseModel):
    """What a list of events asks for (GET /api/events): the filters, all of which must hold,
    the order and the page. The caller's scope always applies on top."""

    status: list[EventStatus] | None = Field(default=None, description="repeatable")
    category: str | None = Field(
        default=None, max_length=8, description="subcategory (0201) or major (02) code"
    )
    unit: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="id of the unit handling it"
    )
    department: DepartmentType | None = Field(
        default=None, description="department type of the unit handling it"
    )
    grid: str | None = Field(default=None, max_length=15, description="15-digit grid code")
    overdue: bool | None = Field(default=None, description="past the running stage's deadline")
    unlocated: bool | None = Field(
        default=None, description="true: only cases placed by address, waiting to be located (定位)"
    )
    source: EventSource | None = Field(default=None, description="channel (来源), e.g. hotline")
    tier: Tier | Literal["mine"] | None = Field(
        default=None,
        description="tier holding the case (community, street, district, city); mine: the "
        "caller's own tier — a tier centre's queue",
    )
    light: Light | None = Field(default=None, description="green, yellow or red")
    bbox: str | None = Field(
        default=None, max_length=200, description="min_lon,min_lat,max_lon,max_lat"
    )
    since: datetime | None = Field(
        default=None, description="reported at or after (ISO 8601; no zone: China)"
    )
    until: datetime | None = Field(default=None, description="reported before (ISO 8601)")
    q: str | None = Field(
        default=None, max_length=100, description="text in the code, description or address"
    )
    mine: bool = Field(default=False, description="only the events I reported")
    sort: Sort = Field(
        default="deadline", description="deadline (soonest first) or -reported_at (newest first)"
    )
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class EventSummary(BaseModel):
    """One row of an event list (queue, my events, map)."""

    code: str
    status: EventStatus
    status_label: str
    category: str
    category_name: str
    priority: str
    description: str
    address: str | None
    grid_code: str | None
    lon: float | None = Field(description="null while the case waits to be located (定位)")
    lat: float | None
    source: EventSource | None = None
    unit: UnitRef | None
    tier: Tier = Tier.DISTRICT
    reason: str | None = Field(default=None, description="why it was refused or voided")
    reported_at: datetime
    stage: Stage | None
    stage_label: str | None = Field(
        default=None, description="核实 立案 派遣 签收 处置 核查 结案 答复"
    )
    stage_deadline: datetime | None
    light: Light | None
    seconds_left: float | None = Field(
        default=None,
        description="working seconds to the running stage's deadline (wall seconds if urgent), "
        "negative when overdue; while suspended (挂账), what was left when the clock stopped",
    )
    time_left: str | None = Field(
        default=None, description="剩余 3小时 / 超期 2天 / 挂账 剩余 6小时: the time left in words"
    )
    suspended: bool = Field(default=False, description="挂账: the clock is stopped")
    duplicate_of: str | None
    disputed: bool = Field(default=False, description="two different units returned it (争议)")


class EventPage(BaseModel):
    """A page of events and how many match in all."""

    items: list[EventSummary]
    total: int
    page: int
    page_size: int


# -- reference tables: what staff read and admins change -------------------------------------------


class CategoryRead(BaseModel):
    """The current version of a subcategory (小类) with its routing and time limits."""

    code: str
    version: int
    major_code: str
    major_name: str
    name: str
    lead: DepartmentType = Field(description="department type that leads (牵头)")
    lead_label: str
    assisting: list[str] = Field(description="department types that assist (协办)")
    assisting_labels: list[str]
    priority: Priority
    priority_label: str
    sign_limit: str = Field(description="签收 limit: working hours ('2h') or days ('3d')")
    handle_limit: str
    verify_limit: str
    photo_required: bool
    onsite_verification_required: bool
    needs_check: bool
    start_tier: Tier = Field(description="tier a registered case starts at (分级流转)")
    start_tier_label: str
    auto_register: bool = Field(
        description="a grid worker's report is registered (立案) at once; else it waits"
    )
    description: str | None
    valid_from: datetime


class DepartmentRead(BaseModel):
    """A department and how many units it has."""

    id: int
    name: str
    dept_type: DepartmentType
    dept_type_label: str
    district_code: str
    units: int


class UnitRead(BaseModel):
    """A department unit (police station, fire brigade …), optionally with its jurisdiction."""

    id: int
    code: str
    name: str
    department_id: int
    department_name: str
    dept_type: DepartmentType
    dept_type_label: str
    district_code: str
    phone: str | None
    active: bool
    lon: float | None = Field(description="CGCS2000 longitude of its office")
    lat: float | None
    has_jurisdiction: bool
    geometry: dict[str, Any] | None = Field(
        default=None, description="jurisdiction MultiPolygon (GeoJSON), when asked for"
    )


class RuleRead(BaseModel):
    """A dispatch rule; the first active rule that matches an event decides its departments."""

    id: int
    position: int
    name: str
    category_code: str | None
    area_prefix: str | None
    weekdays: list[int] | None
    time_from: time | None
    time_to: time | None
    priority: Priority | None
    lead: DepartmentType
    lead_label: str
    assisting: list[str]
    fixed_unit_id: int | None
    active: bool


class CalendarDayRead(BaseModel):
    """A day the work calendar treats specially: a holiday, or a worked weekend day (调休)."""

    day: date
    kind: str
    kind_label: str
    name: str
    weekday: int = Field(description="1 Monday … 7 Sunday")


class CategoryChange(InputModel):
    """Fields of a subcategory an admin may change; unset fields keep their value."""

    name: str | None = Field(default=None, max_length=100)
    lead: DepartmentType | None = None
    assisting: list[DepartmentType] | None = None
    priority: Priority | None = None
    sign_limit: str | None = None
    handle_limit: str | None = None
    verify_limit: str | None = None
    photo_required: bool | None = None
    onsite_verification_required: bool | None = None
    needs_check: bool | None = None
    start_tier: Tier | None = None
    auto_register: bool | None = None
    description: str | None = None


class RuleInput(InputModel):
    """A dispatch rule as an admin writes it."""

    position: int = Field(ge=0, le=2_147_483_647)
    name: str = Field(min_length=1, max_length=100)
    category_code: str | None = Field(default=None, pattern=r"^\d{2}(\d{2})?$")
    area_prefix: str | None = Field(default=None, pattern=r"^\d{6,12}$")
    weekdays: list[int] | None = None
    time_from: time | None = None
    time_to: time | None = None
    priority: Priority | None = None
    lead: DepartmentType
    assisting: list[DepartmentType] = Field(default_factory=list)
    fixed_unit_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    active: bool = True


# -- performance indicators (events.kpis) ----------------------------------------------------------

# Weights of the indicators' composite score (指标得分; 综合得分 is the 考评 mean).
SCORE_WEIGHTS: Final = {
    "on_time_closure_rate": 0.30,
    "closure_rate": 0.25,
    "on_time_sign_rate": 0.20,
    "no_rework_rate": 0.15,
    "not_overdue_rate": 0.10,
}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class KpiRow(BaseModel):
    """The indicators of one unit, department, grid, grid worker, district, tier, street,
    community or category (see events.kpis). Indicators added by other tables default to 0."""

    model_config = ConfigDict(frozen=True)

    key: str | None  # unit or department id, grid code, staff id or district code
    name: str
    reported: int
    voided: int
    registered: int
    closed: int
    closed_on_time: int
    open: int
    overdue: int
    signs_ended: int
    signs_on_time: int
    handled: int
    reworked: int
    returned: int
    mean_handling_hours: float | None
    voided_after_registration: int = 0  # voided after they had been registered (立案后作废)
    extended: int = 0  # handled with at least one approved extension (延期)
    found_proactively: int = 0  # reported by grid workers or found on patrol (主动发现)
    evaluated: int = 0  # closed cases with an evaluation (考评)
    evaluation_score: float | None = None  # 综合得分 from 考评: mean score of those (0–100)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def valid_report_rate(self) -> float | None:
        """有效上报率: (reported − voided) / reported."""
        return _ratio(self.reported - self.voided, self.reported)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def closure_rate(self) -> float | None:
        """结案率: closed / registered."""
        return _ratio(self.closed, self.registered)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_closure_rate(self) -> float | None:
        """按期结案率: closed with every stage on time / closed."""
        return _ratio(self.closed_on_time, self.closed)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_sign_rate(self) -> float | None:
        """按时签收率: SIGN stages ended on time / SIGN stages ended."""
        return _ratio(self.signs_on_time, self.signs_ended)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rework_rate(self) -> float | None:
        """返工率: handled events reworked / handled events."""
        return _ratio(self.reworked, self.handled)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def registration_accuracy(self) -> float | None:
        """立案准确率: (registered − voided after registration) / registered, where the cases
        registered include those voided afterwards."""
        return _ratio(self.registered, self.registered + self.voided_after_registration)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def extension_rate(self) -> float | None:
        """延期率: handled events with an approved extension / handled events."""
        return _ratio(self.extended, self.handled)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def proactive_rate(self) -> float | None:
        """主动发现率: found by grid workers or patrols / reported."""
        return _ratio(self.found_proactively, self.reported)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def score(self) -> float | None:
        """指标得分 0–100: weighted mean of the defined components (SCORE_WEIGHTS)."""
        components = {
            "on_time_closure_rate": self.on_time_closure_rate,
            "closure_rate": self.closure_rate,
            "on_time_sign_rate": self.on_time_sign_rate,
            "no_rework_rate": None if self.rework_rate is None else 1 - self.rework_rate,
            "not_overdue_rate": _ratio(self.registered - self.overdue, self.registered),
        }
        defined = {k: v for k, v in components.items() if v is not None}
        if not defined:
            return None
        weight = sum(SCORE_WEIGHTS[k] for k in defined)
        return round(100 * sum(SCORE_WEIGHTS[k] * v for k, v in defined.items()) / weight, 2)


class CitizenKpis(BaseModel):
    """The citizen-service indicators (12345 热线 and the other citizen channels) of the events
    reported in a period, in the caller's scope (events.kpis.citizen_kpis)."""

    model_config = ConfigDict(frozen=True)

    accepted_by_source: dict[str, int]  # 受理量 per EventSource value, every source
    citizen_accepted: int  # citizen cases (CITIZEN_SOURCES) filed
    direct_replies: int  # closed by a direct-reply step (直办)
    replies: int  # reply stages ended (答复)
    replies_on_time: int
    callbacks_due: int  # callbacks ended, or still open past their due time
    callbacks_reached: int  # callbacks with the caller's satisfaction recorded
    satisfied: int  # 满意 + 基本满意 among the reached
    citizen_closed: int  # citizen cases closed at least once
    reopened: int  # citizen cases reopened (重办) at least once

    @computed_field  # type: ignore[prop-decorator]
    @property
    def direct_reply_rate(self) -> float | None:
        """直办率: closed by a direct reply / citizen cases accepted."""
        return _ratio(self.direct_replies, self.citizen_accepted)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_reply_rate(self) -> float | None:
        """按时答复率: replies on time / replies."""
        return _ratio(self.replies_on_time, self.replies)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def callback_rate(self) -> float | None:
        """回访率: callbacks reached / callbacks due."""
        return _ratio(self.callbacks_reached, self.callbacks_due)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: (满意 + 基本满意) / callbacks reached."""
        return _ratio(self.satisfied, self.callbacks_reached)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reopen_rate(self) -> float | None:
        """重办率: citizen cases reopened / citizen cases closed."""
        return _ratio(self.reopened, self.citizen_closed)


# -- reply and callback (events.callbacks) ---------------------------------------------------------

CallbackOutcome = Literal["satisfied", "fairly_satisfied", "dissatisfied", "no_answer"]
OUTCOME_LABELS: Final = {
    **{s.value: s.label for s in Satisfaction},
    "no_answer": "未接通",
}


class CallbackInput(InputModel):
    """One callback attempt (回访): the caller's satisfaction, or nobody answered."""

    outcome: CallbackOutcome = Field(
        description="satisfied 满意, fairly_satisfied 基本满意, dissatisfied 不满意 (reopens the "
        "case, 重办), no_answer 未接通 (the third ends the callback)"
    )
    note: str | None = Field(
        default=None, max_length=2000, description="what the caller said; needed for 不满意"
    )

    @field_validator("note")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class ReviewInput(InputModel):
    """The command centre's review (复核) of a case the caller was twice not satisfied with."""

    note: str = Field(min_length=1, max_length=2000, description="what the review found")


class CallbackAttempt(BaseModel):
    """One attempt at calling the caller back."""

    at: datetime
    outcome: str
    outcome_label: str
    note: str | None
    actor: str | None


class CallbackRead(BaseModel):
    """A callback (回访) with the case it follows: what the operator needs for the call. The
    caller's phone is masked; unmasking is a separate, logged request (unmask_url)."""

    id: int
    event_code: str
    round: int
    status: CallbackStatus
    status_label: str
    opened_at: datetime
    due_at: datetime
    light: Light | None
    time_left: str | None = Field(default=None, description="剩余 1天 / 超期 2小时, working time")
    attempts: int
    attempt_log: list[CallbackAttempt]
    satisfaction: Satisfaction | None
    satisfaction_label: str | None
    note: str | None
    ended_at: datetime | None
    reviewed_at: datetime | None
    review_note: str | None
    event_status: EventStatus
    event_status_label: str
    source: EventSource
    source_label: str
    category_name: str
    description: str
    address: str | None
    unit: str | None
    contact_masked: str | None
    unmask_url: str
    reply: str | None
    reply_channel: str | None
    replied_at: datetime | None


# -- Open311 GeoReport v2 (events.open311) ---------------------------------------------------------

MAX_RECORDS = 1000


class AttributeValue(BaseModel):
    """One choice of a list attribute."""

    key: str
    name: str


class ServiceAttribute(BaseModel):
    """A field a service takes besides the standard ones (`attribute[code]`)."""

    variable: bool = True
    code: str
    datatype: str  # string, number, datetime, text, singlevaluelist, multivaluelist
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue] = Field(default_factory=list)


class Service(BaseModel):
    """An Open311 service: one event subcategory (小类)."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinition(BaseModel):
    """The attributes a service takes."""

    service_code: str
    attributes: list[ServiceAttribute]


class Submission(InputModel):
    """The fields of `POST requests` (form-encoded), as GeoReport v2 names them."""

    # The same form carries api_key and attribute[…] fields, read on their own.
    model_config = ConfigDict(extra="ignore")

    service_code: str | None = Field(default=None, max_length=8)
    lat: float | None = None
    long: float | None = None
    address_string: str | None = Field(default=None, max_length=300)
    address_id: str | None = Field(default=None, max_length=40, description="a building code")
    email: str | None = Field(default=None, max_length=100)
    device_id: str | None = Field(default=None, max_length=100)
    account_id: str | None = Field(default=None, max_length=100)
    first_name: str | None = Field(default=None, max_length=50)
    last_name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=30)
    description: str | None = Field(default=None, max_length=4000)
    media_url: str | None = Field(default=None, max_length=500)
    jurisdiction_id: str | None = Field(default=None, max_length=12)


class Receipt(BaseModel):
    """The answer to `POST requests`."""

    service_request_id: str
    token: str
    service_notice: str
    account_id: str | None


class TokenRead(BaseModel):
    """The request a token stands for."""

    service_request_id: str
    token: str


Timestamp = datetime  # a field below is called `datetime`, as in Open311 notes


class RequestNote(BaseModel):
    """One step of a request's history (extension)."""

    datetime: Timestamp
    type: str
    status: str
    status_label: str
    summary: str | None
    agency: str | None


class ServiceRequest(BaseModel):
    """A service request as GeoReport v2 returns it, plus our extensions when asked."""

    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None = Field(description="null while the case waits to be located")
    long: float | None
    media_url: str | None


class ServiceRequestDetail(ServiceRequest):
    """A request with our extensions (`extensions=true`): own status and the step history."""

    detailed_status: str
    detailed_status_label: str
    notes: list[RequestNote]


class RequestQuery(InputModel):
    """The filters of `GET requests`, with our `page`/`page_size` extension."""

    # The query also carries api_key, read by the gate.
    model_config = ConfigDict(extra="ignore")

    service_request_id: str | None = None
    service_code: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    status: str | None = None
    jurisdiction_id: str | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=MAX_RECORDS, ge=1, le=MAX_RECORDS)
    extensions: bool = False


class RequestPage(BaseModel):
    """A page of requests and how many matched in all."""

    total: int
    page: int
    page_size: int
    items: list[ServiceRequest]


# -- return review and dispute rulings (退回审核, 争议裁定; events.rulings) ------------------------


class ReturnRead(BaseModel):
    """One unit's return of a case: the unit, its reason, when and by whom."""

    unit: UnitRef | None
    reason: str | None
    at: datetime
    by: str | None


class ReturnedCase(BaseModel):
    """A case waiting for the command centre's review of a return (退回审核), or its ruling."""

    code: str
    status: EventStatus
    status_label: str
    category: str
    category_name: str
    description: str
    address: str | None
    grid_code: str | None
    community: str | None
    street: str | None
    reported_at: datetime
    returns: list[ReturnRead] = Field(description="every return of the case, oldest first")
    disputed: bool = Field(description="two different units returned it: a dispute (争议)")
    awaiting_ruling: bool = Field(description="a dispute not ruled since the last return")
    actions: list[str] = Field(description="what the caller may do now")


class RulingRead(BaseModel):
    """A ruling (裁定) on a dispute: who leads the case and why; binding on that unit."""

    id: int
    event_code: str
    category: str
    community: str | None
    street: str | None
    grid_code: str | None
    district_code: str
    units: list[UnitRef] = Field(description="the units that returned the case")
    unit: UnitRef = Field(description="the unit ruled to lead it")
    reasoning: str
    ruled_by: str | None
    ruled_at: datetime
    dispatch_rule_id: int | None = Field(description="the dispatch rule made from the ruling")


class RuleFromRuling(InputModel):
    """Where the dispatch rule made from a ruling applies: the case's community (default),
    street or whole district."""

    area: Literal["community", "street", "district"] = "community"


class RulingRule(BaseModel):
    """The dispatch rule made from a ruling, and the ruling that now names it."""

    ruling: RulingRead
    rule: RuleRead


class ReviewKpiRow(BaseModel):
    """Return review indicators of one unit, or of all (key None): events.kpis.review_kpis."""

    model_config = ConfigDict(frozen=True)

    key: str | None  # unit id; None for the total
    name: str
    dispatched: int
    returns: int
    accepted_returns: int
    disputes: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def return_rate(self) -> float | None:
        """退单率: returns / dispatched."""
        return _ratio(self.returns, self.dispatched)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dispatch_accuracy(self) -> float | None:
        """派遣准确率: 1 − accepted returns / dispatched."""
        rate = _ratio(self.accepted_returns, self.dispatched)
        return None if rate is None else 1 - rate


class ReviewKpis(BaseModel):
    """退单率, 派遣准确率 and 争议数 per unit of the events reported in [start, end)."""

    start: datetime
    end: datetime
    rows: list[ReviewKpiRow]
    total: ReviewKpiRow


# -- JOINT: joint cases (主办/协办) ---------------------------------------------------------------


class SubtaskAdd(InputModel):
    """The command centre adds an assisting unit (增加协办单位) to a dispatched case."""

    unit_id: int = Field(ge=1, le=2**31 - 1, description="the assisting unit")
    note: str | None = Field(default=None, max_length=4000, description="what the unit is asked")

    @field_validator("note")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class SubtaskInput(InputModel):
    """A step on a sub-task: sign for it, report it done (note: what was done), waive or
    cancel it (reason)."""

    note: str | None = Field(default=None, max_length=4000, description="what was done (report)")
    reason: str | None = Field(
        default=None, max_length=300, description="why (waive 免除, cancel 撤销): required"
    )

    @field_validator("note", "reason")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class SubtaskRead(BaseModel):
    """An assisting unit's sub-task (协办任务) with its case, deadlines, light and report."""

    id: int
    event_code: str
    event_status: EventStatus
    event_status_label: str
    category_name: str
    description: str
    address: str | None
    lead_unit: UnitRef | None = Field(description="the unit leading the case (主办单位)")
    unit: UnitRef = Field(description="the assisting unit (协办单位)")
    department: str | None
    status: SubtaskStatus
    status_label: str
    note: str | None = Field(description="what the command centre asked of the unit")
    opened_at: datetime
    opened_by: str | None
    sign_deadline: datetime
    handle_deadline: datetime
    signed_at: datetime | None
    signed_by: str | None
    reported_at: datetime | None
    reported_by: str | None
    report: str | None = Field(description="the handling report (协办处置情况)")
    photos: list[PhotoRef] = Field(default_factory=list)
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None = Field(description="why it was waived (免除) or cancelled (撤销)")
    on_time: bool | None = Field(description="reported by its handling deadline (done only)")
    light: Light | None = Field(description="of the running clock: sign-for, then handling")
    light_label: str | None
    actions: list[str] = Field(description="what the caller may do to it now")


class SubtaskKpiRow(BaseModel):
    """Sub-task indicators of one assisting unit or department (events.kpis.subtask_kpis)."""

    model_config = ConfigDict(frozen=True)

    key: str  # unit or department id
    name: str
    assigned: int = Field(description="协办任务数: sub-tasks given to the unit, not cancelled")
    signed: int
    signed_on_time: int
    done: int = Field(description="已完成: reported done")
    done_on_time: int = Field(description="reported by the handling deadline")
    waived: int = Field(description="已免除 by the command centre")
    cancelled: int = Field(description="已撤销: removed, or the case was re-dispatched or ended")
    open: int = Field(description="待签收 or 处置中 now")
    overdue: int = Field(description="open past the handling deadline")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_rate(self) -> float | None:
        """协办按时率: reported by the handling deadline / (reported + open and overdue)."""
        return _ratio(self.done_on_time, self.done + self.overdue)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_sign_rate(self) -> float | None:
        """协办按时签收率: signed by the sign-for deadline / signed."""
        return _ratio(self.signed_on_time, self.signed)


# -- SUPERVISION: 督办单 and sanctions (events.supervision) -------------------------------------


class SupervisionIssue(InputModel):
    """A supervision order (督办单) issued by hand by the command centre."""

    event: str = Field(max_length=40, description="the case's code, 420502-20261123-000123")
    level: SupervisionLevelInput = Field(
        default=None,
        description="general 一般督办, key 重点督办, listed 挂牌督办; default from the case's "
        "light (red: key, else general)",
    )
    demand: str | None = Field(
        default=None, max_length=4000, description="督办要求: what the unit must do and report"
    )
    unit_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="the unit the order is for; default the unit holding the case",
    )
    reply_limit: ReplyLimit = Field(
        default=None, max_length=20, description="working time to reply, e.g. 4h or 2d"
    )

    @field_validator("event", "demand")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class SupervisionReply(InputModel):
    """The unit's reply to a supervision order (督办回复)."""

    reply: str = Field(
        min_length=1, max_length=4000, description="what the unit has done and when it ends"
    )


class SupervisionLift(InputModel):
    """Lifting a listed order (摘牌) by the command centre."""

    reason: str = Field(min_length=1, max_length=2000, description="why the listing ends")


class SanctionInput(InputModel):
    """约谈 or 通报 recorded against a unit."""

    unit_id: int = Field(ge=1, le=2**31 - 1, description="the unit")
    kind: SanctionKind = Field(description="interview 约谈 or notice 通报")
    reason: str = Field(min_length=1, max_length=2000, description="why")
    order_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the supervision order it follows"
    )


class SupervisionFilter(BaseModel):
    """Which supervision orders to list."""

    status: SupervisionStatus | None = None
    level: SupervisionLevel | None = None
    unit_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    escalated: bool | None = Field(
        default=None, description="true: only those unanswered at the deadline (told the leader)"
    )
    event: str | None = Field(default=None, max_length=40, description="one case's orders")
    limit: int = Field(default=200, ge=1, le=1000)


class SupervisionOrderRead(BaseModel):
    """A supervision order as the caller may see it (no personal data)."""

    id: int
    event_code: str
    event_status: EventStatus
    event_status_label: str
    category: str
    unit: UnitRef
    level: SupervisionLevel
    level_label: str
    demand: str
    stage: Stage | None
    automatic: bool
    issued_by: str | None = Field(description="the account; null for the escalation job")
    issued_at: datetime
    reply_deadline: datetime
    light: Light | None = Field(description="of the reply deadline while the order is open")
    time_left: str | None = Field(
        default=None, description="剩余 1天 / 超期 2小时 to the reply deadline, working time"
    )
    status: SupervisionStatus
    status_label: str
    reply: str | None
    replied_by: str | None
    replied_at: datetime | None
    replied_on_time: bool | None
    escalated_to_leader_at: datetime | None = Field(
        description="when the leader was told it is unanswered"
    )
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None
    can_reply: bool = False
    can_lift: bool = False


class SanctionRead(BaseModel):
    """A recorded 约谈 or 通报."""

    id: int
    unit: UnitRef
    kind: SanctionKind
    kind_label: str
    reason: str
    order_id: int | None
    event_code: str | None
    by: str | None
    at: datetime


class SupervisionKpiRow(BaseModel):
    """督办回复率 and 督办按时率 of one unit or department (events.kpis.supervision_kpis)."""

    key: str | None
    name: str
    issued: int
    due: int
    replied: int
    replied_on_time: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reply_rate(self) -> float | None:
        """督办回复率: replied / due."""
        return _ratio(self.replied, self.due)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_reply_rate(self) -> float | None:
        """督办按时率: replied by the deadline / due."""
        return _ratio(self.replied_on_time, self.due)


# -- 考核通报 (the evaluation bulletin, events.bulletin) -----------------------------------------


class BulletinRow(BaseModel):
    """One unit's (department's, street's, community's, grid worker's) line of the bulletin."""

    model_config = ConfigDict(frozen=True)

    rank: int | None  # 1 = best 综合得分; None: the group of no unit (grid worker), unranked
    key: str | None  # unit or department id, street or community code, staff id
    name: str
    cases: int  # 考评件数: cases closed in the month and evaluated
    score: float  # 综合得分: mean 考评 score, 0–100
    grade: str  # 优 / 良 / 中 / 差
    on_time: int  # no stage late
    extended: int  # with an approved extension
    returns: int  # 退回 steps
    reworked: int  # with a rework
    supervised: int  # with a 督办 step
    reopens: int  # 重办 steps
    satisfied: int
    fairly_satisfied: int
    dissatisfied: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_rate(self) -> float | None:
        """按期办结率: cases with no late stage / cases."""
        return _ratio(self.on_time, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rework_rate(self) -> float | None:
        """返工率: reworked cases / cases."""
        return _ratio(self.reworked, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: (满意 + 基本满意) / callbacks reached."""
        reached = self.satisfied + self.fairly_satisfied + self.dissatisfied
        return _ratio(self.satisfied + self.fairly_satisfied, reached)


class Bulletin(BaseModel):
    """The monthly 考核通报 of an area, one grouping, ranked by 综合得分 (events.bulletin)."""

    month: str  # YYYY-MM
    area: str  # the area's name (全部辖区 for admins)
    by: str
    by_label: str
    start: datetime
    end: datetime  # excluded: the first moment of the next month
    last_day: date  # the month's last day (included), for titles
    generated_at: datetime
    grade_bands: list[str]
    rows: list[BulletinRow]


class PatrolKpiRow(PatrolCoverage):
    """A worker's patrol coverage of a grid in a week (people.patrols) with the event figures:
    events the worker reported during those patrols, per patrol hour, and the grid's 主动发现率
    that week (events found by the grid's own workers / all the grid's events)."""

    events_found: int
    events_per_patrol_hour: float | None
    grid_events: int
    grid_events_found_by_workers: int
    proactive_rate: float | None


class UnitPatrolSummary(BaseModel):
    """The week's patrols of the grids in a unit's jurisdiction (that the caller may see)."""

    week: date
    grids: int
    workers: int
    patrols: int
    hours: float
    km: float
    mean_building_share: float | None
    proactive_rate: float | None
