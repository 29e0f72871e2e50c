"""Pydantic shapes of the people package as services take and return them.

Residents and their households; special groups (the type-specific details of each membership,
checked on input, and the memberships, visits and overdue lists returned); organisations
(实有单位); integrations (API keys of outside systems).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gis.codes import LabelledEnum
from gis.text import InputModel
from people.documents import DocumentError, DocumentType, validate_id_card
from people.models import (
    OrganisationType,
    ResidenceType,
    Sex,
    SpecialGroupType,
    TaskKind,
    TaskStatus,
)
from people.pii import PhoneError, mask_id_number, mask_phone, validate_phone
from people.special_group_types import (
    AssistanceType,
    CorrectionType,
    DisabilityCategory,
    DrugRehabStatus,
    EntitledCategory,
    HealthStatus,
    KeyYouthCategory,
    LeftBehindKind,
    MentalDiagnosis,
    Treatment,
)

# --- residents --------------------------------------------------------------------------------


class ResidentCreate(InputModel):
    """A resident as a grid worker registers them; sex and birth date come from the ID card."""

    doc_type: DocumentType = DocumentType.ID_CARD
    doc_number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=50)
    former_name: str | None = Field(default=None, max_length=50)
    sex: Sex | None = None
    birth_date: date | None = None
    ethnicity: str | None = Field(default=None, max_length=20)
    native_place: str | None = Field(default=None, max_length=100)
    registered_address: str | None = Field(default=None, max_length=300)
    phone: str | None = None
    education: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=50)
    employer: str | None = Field(default=None, max_length=200)
    marital_status: str | None = Field(default=None, max_length=10)
    political_status: str | None = Field(default=None, max_length=20)
    residence_type: ResidenceType = ResidenceType.REGISTERED
    origin: str | None = Field(default=None, max_length=200)
    arrival_date: date | None = None
    arrival_reason: str | None = Field(default=None, max_length=50)
    permit_number: str | None = Field(default=None, max_length=40)
    permit_expiry: date | None = None
    registered_on: date | None = Field(default=None, description="居住登记 date (floating)")
    house_code: str | None = Field(default=None, description="building code-unit-room")
    moved_in: date | None = Field(default=None, description="default: today")
    relation_to_head: str | None = Field(default=None, max_length=20)


class ResidentUpdate(InputModel):
    """Fields a grid worker may correct; the document itself is changed by re-registering."""

    name: str | None = Field(default=None, min_length=1, max_length=50)
    former_name: str | None = Field(default=None, max_length=50)
    ethnicity: str | None = Field(default=None, max_length=20)
    native_place: str | None = Field(default=None, max_length=100)
    registered_address: str | None = Field(default=None, max_length=300)
    phone: str | None = None
    education: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=50)
    employer: str | None = Field(default=None, max_length=200)
    marital_status: str | None = Field(default=None, max_length=10)
    political_status: str | None = Field(default=None, max_length=20)
    residence_type: ResidenceType | None = None
    origin: str | None = Field(default=None, max_length=200)
    arrival_date: date | None = None
    arrival_reason: str | None = Field(default=None, max_length=50)
    permit_number: str | None = Field(default=None, max_length=40)
    permit_expiry: date | None = None
    registered_on: date | None = Field(default=None, description="居住登记 date (floating)")
    relation_to_head: str | None = Field(default=None, max_length=20)


class ResidentRead(BaseModel):
    """A resident as shown to staff: ID number and phone masked."""

    id: int
    doc_type: DocumentType
    doc_masked: str
    name: str
    sex: Sex
    birth_year: int | None = Field(
        description="year of birth only: with the masked ID number a full date would give it "
        "away (see people/pii.py)"
    )
    age: int | None = Field(description="the age reached in the current year (周岁 this year)")
    residence_type: ResidenceType
    residence_type_label: str
    phone_masked: str | None
    house_code: str | None
    grid_code: str | None
    household_id: int | None
    relation_to_head: str | None
    active: bool
    special_groups: list[SpecialGroupType] = Field(default_factory=list)


class ResidentPage(BaseModel):
    """A page of residents and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[ResidentRead]


class ResidentPii(BaseModel):
    """Unmasked personal data; every one of these handed out is logged."""

    resident_id: int
    doc_type: DocumentType
    doc_number: str
    birth_date: date | None
    phone: str | None


class ResidenceRead(BaseModel):
    """One stay in a house."""

    resident_id: int
    house_code: str
    grid_code: str | None
    moved_in: date
    moved_out: date | None
    reason: str | None


class HouseholdRead(BaseModel):
    """A household with its members."""

    id: int
    code: str
    house_code: str | None
    grid_code: str | None
    head_id: int | None
    members: list[ResidentRead]


# --- special groups: details ------------------------------------------------------------------


def _valid_phone(value: str) -> str:
    try:
        return validate_phone(value)
    except PhoneError as exc:
        raise ValueError(str(exc)) from exc


Phone = Annotated[str, AfterValidator(_valid_phone)]


def _labelled_enum_of(annotation: Any) -> type[LabelledEnum] | None:
    """The LabelledEnum in `X` or `X | None`, else None."""
    candidates = (
        typing.get_args(annotation)
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
        else (annotation,)
    )
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, LabelledEnum):
            return candidate
    return None


class Details(InputModel):
    """Base of the type-specific fields: unknown keys refused, codes taken by value or label."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Fields holding PII: stored encrypted under `<field>_enc`, the field itself masked.
    SECRET_FIELDS: ClassVar[dict[str, Callable[[str], str]]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _code_by_label(cls, value: Any, info: ValidationInfo) -> Any:
        """Accept a code's Chinese label ("肢体") as well as its value ("physical")."""
        field = cls.model_fields.get(info.field_name or "")
        kind = _labelled_enum_of(field.annotation) if field else None
        if kind is not None and isinstance(value, str):
            return kind.parse(value)
        return value

    def problems_with_start(self, started_on: date) -> list[str]:
        """Inconsistencies between these details and the membership's start date."""
        return []


class ElderlyAloneDetails(Details):
    """独居老人: who to call and how they are."""

    SECRET_FIELDS: ClassVar[dict[str, Callable[[str], str]]] = {"children_phone": mask_phone}

    children_contact: str | None = Field(default=None, max_length=50)
    children_phone: Phone | None = None
    health: HealthStatus | None = None
    notes: str | None = Field(default=None, max_length=500)


class DisabledDetails(Details):
    """残疾人: category, grade and the certificate (残疾人证) number."""

    SECRET_FIELDS: ClassVar[dict[str, Callable[[str], str]]] = {
        "certificate_number": lambda number: mask_id_number(number[:18]) + number[18:]
    }

    category: DisabilityCategory
    grade: int = Field(ge=1, le=4, description="1 is the most severe")
    certificate_number: str = Field(
        description="20 characters: the holder's ID number, category digit 1–7, grade digit 1–4"
    )

    @field_validator("certificate_number")
    @classmethod
    def _certificate_format(cls, value: str) -> str:
        number = value.replace(" ", "").upper()
        if len(number) != 20 or not number[18:].isdigit():
            raise ValueError(
                "a disability certificate number (残疾人证号) has 20 characters: the holder's "
                "18-character ID number, the category digit (1–7) and the grade digit (1–4)"
            )
        try:
            validate_id_card(number[:18])
        except DocumentError as exc:
            raise ValueError(f"its first 18 characters are not a valid ID number: {exc}") from exc
        return number

    @model_validator(mode="after")
    def _certificate_matches(self) -> DisabledDetails:
        category_digit = list(DisabilityCategory).index(self.category) + 1
        expected = f"{category_digit}{self.grade}"
        if self.certificate_number[18:] != expected:
            raise ValueError(
                f"certificate_number ends in {self.certificate_number[18:]}, but category "
                f"{self.category.label} with grade {self.grade} gives {expected}; check the "
                "category, the grade or the number"
            )
        return self


class LowIncomeDetails(Details):
    """低保/困难群众: assistance certificate (低保证), monthly amount, family size."""

    assistance_type: AssistanceType = AssistanceType.MINIMUM_LIVING
    certificate_number: str = Field(min_length=1, max_length=40, description="低保证号")
    monthly_amount: Decimal = Field(ge=0, max_digits=9, decimal_places=2, description="yuan")
    family_size: int = Field(ge=1, le=30)


class LeftBehindDetails(Details):
    """留守儿童/老人: who looks after them and where the parents (or children) work."""

    SECRET_FIELDS: ClassVar[dict[str, Callable[[str], str]]] = {"guardian_phone": mask_phone}

    kind: LeftBehindKind
    guardian_name: str | None = Field(default=None, max_length=50)
    guardian_relation: str | None = Field(default=None, max_length=20)
    guardian_phone: Phone | None = None
    parents_workplace: str | None = Field(default=None, max_length=200)


class EntitledDetails(Details):
    """优抚对象: the entitlement category."""

    category: EntitledCategory
    certificate_number: str | None = Field(default=None, max_length=40)


class ReleasedPrisonerDetails(Details):
    """刑满释放人员: offence, sentence and release date."""

    crime: str = Field(min_length=1, max_length=100, description="罪名")
    sentence: str = Field(min_length=1, max_length=50, description="原判刑期, e.g. 有期徒刑3年")
    release_date: date
    prison: str | None = Field(default=None, max_length=100)

    def problems_with_start(self, started_on: date) -> list[str]:
        """The membership cannot start before the release."""
        if self.release_date > started_on:
            return [
                f"release_date {self.release_date} is after started_on {started_on}; a "
                "released prisoner is enrolled on or after release"
            ]
        return []


class CommunityCorrectionDetails(Details):
    """社区矫正对象: kind of correction, its period and the supervising justice office."""

    correction_type: CorrectionType
    start_date: date
    end_date: date
    justice_office: str = Field(min_length=1, max_length=100, description="司法所")

    @model_validator(mode="after")
    def _period(self) -> CommunityCorrectionDetails:
        if self.end_date <= self.start_date:
            raise ValueError(f"end_date {self.end_date} must be after start_date {self.start_date}")
        return self


class MentalDisorderDetails(Details):
    """严重精神障碍患者: diagnosis, guardian and treatment; the danger level is a column."""

    SECRET_FIELDS: ClassVar[dict[str, Callable[[str], str]]] = {"guardian_phone": mask_phone}

    diagnosis: MentalDiagnosis
    guardian_name: str = Field(min_length=1, max_length=50)
    guardian_phone: Phone
    treatment: Treatment | None = None
    medication: str | None = Field(default=None, max_length=200)


class DrugUserDetails(Details):
    """吸毒人员: rehabilitation status and since when."""

    status: DrugRehabStatus
    start_date: date
    drug: str | None = Field(default=None, max_length=50)


class KeyYouthDetails(Details):
    """重点青少年: category and guardian."""

    SECRET_FIELDS: ClassVar[dict[str, Callable[[str], str]]] = {"guardian_phone": mask_phone}

    category: KeyYouthCategory
    guardian_name: str | None = Field(default=None, max_length=50)
    guardian_phone: Phone | None = None
    school: str | None = Field(default=None, max_length=100)


DETAILS_MODELS: dict[SpecialGroupType, type[Details]] = {
    SpecialGroupType.ELDERLY_ALONE: ElderlyAloneDetails,
    SpecialGroupType.DISABLED: DisabledDetails,
    SpecialGroupType.LOW_INCOME: LowIncomeDetails,
    SpecialGroupType.LEFT_BEHIND: LeftBehindDetails,
    SpecialGroupType.ENTITLED: EntitledDetails,
    SpecialGroupType.RELEASED_PRISONER: ReleasedPrisonerDetails,
    SpecialGroupType.COMMUNITY_CORRECTION: CommunityCorrectionDetails,
    SpecialGroupType.MENTAL_DISORDER: MentalDisorderDetails,
    SpecialGroupType.DRUG_USER: DrugUserDetails,
    SpecialGroupType.KEY_YOUTH: KeyYouthDetails,
}


# --- special groups: shapes returned ----------------------------------------------------------


class SpecialGroupRead(BaseModel):
    """A membership as staff see it: resident named, ID number and detail PII masked."""

    id: int
    resident_id: int
    resident_name: str
    doc_masked: str
    grid_code: str | None
    group_type: SpecialGroupType
    group_type_label: str
    details: dict[str, Any]
    danger_level: int | None
    started_on: date
    ended_on: date | None
    end_reason: str | None
    visit_interval_days: int
    last_visit_on: date | None
    next_visit_due: date
    responsible_staff_id: int | None


class SpecialGroupPage(BaseModel):
    """A page of memberships and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[SpecialGroupRead]


class VisitRead(BaseModel):
    """A recorded visit and the membership's next due date after it."""

    id: int
    special_group_id: int
    staff_id: int
    visited_on: date
    note: str | None
    lon: float | None = Field(description="CGCS2000 longitude as stored")
    lat: float | None = Field(description="CGCS2000 latitude as stored")
    next_visit_due: date


class OverdueVisitRead(BaseModel):
    """A membership whose visit is overdue."""

    special_group_id: int
    resident_id: int
    resident_name: str
    doc_masked: str
    grid_code: str | None
    group_type: SpecialGroupType
    group_type_label: str
    danger_level: int | None
    responsible_staff_id: int | None
    last_visit_on: date | None
    next_visit_due: date
    days_overdue: int


class DueVisitRead(OverdueVisitRead):
    """A membership whose visit is due soon or overdue, with where the resident lives."""

    building_code: str | None
    house_code: str | None
    days_overdue: int = Field(description="days past the due date; negative: days still left")


class DueVisitPage(BaseModel):
    """A page of due visits and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[DueVisitRead]


class GridOverdue(BaseModel):
    """How many visits are overdue in a grid."""

    grid_code: str | None
    grid_name: str | None
    overdue: int


class WorkerOverdue(BaseModel):
    """How many visits a staff member owes; staff_id None counts visits nobody owes."""

    staff_id: int | None
    full_name: str | None
    overdue: int


class VisitIntervalRead(BaseModel):
    """A configured visit interval."""

    group_type: SpecialGroupType
    group_type_label: str
    min_danger_level: int
    interval_days: int


class VisitIntervalChange(VisitIntervalRead):
    """A visit interval as set, and how many open memberships were rescheduled."""

    rescheduled: int


# --- organisations ----------------------------------------------------------------------------


def parse_org_type(value: Any) -> Any:
    """An organisation type given by value or Chinese label; other values as they are."""
    return OrganisationType.parse(value) if isinstance(value, str) else value


# Organisation types are taken by value ("school") or by Chinese label ("学校").
OrgType = Annotated[OrganisationType, BeforeValidator(parse_org_type)]


class OrganisationCreate(InputModel):
    """An organisation as a grid worker registers it; place it by building_code or lon/lat."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    credit_code: str = Field(description="统一社会信用代码, 18 characters (GB 32100)")
    pilot_code_confirmed: bool = Field(
        default=False,
        description="the licence shows exactly this code although it fails the check "
        "characters (an early 2015 pilot code)",
    )
    name: str = Field(min_length=1, max_length=200)
    org_type: OrgType
    address: str | None = Field(default=None, max_length=300)
    building_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    legal_representative: str | None = Field(default=None, max_length=50)
    responsible_person: str | None = Field(default=None, max_length=50)
    responsible_phone: str | None = None
    staff_count: int | None = Field(default=None, ge=0)
    fire_key_unit: bool = False
    security_key_unit: bool = False


class OrganisationUpdate(InputModel):
    """Fields to change; only those given are touched. A new place replaces the old one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    credit_code: str | None = None
    pilot_code_confirmed: bool = False
    name: str | None = Field(default=None, min_length=1, max_length=200)
    org_type: OrgType | None = None
    address: str | None = Field(default=None, max_length=300)
    building_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    legal_representative: str | None = Field(default=None, max_length=50)
    responsible_person: str | None = Field(default=None, max_length=50)
    responsible_phone: str | None = None
    staff_count: int | None = Field(default=None, ge=0)
    fire_key_unit: bool | None = None
    security_key_unit: bool | None = None


class OrganisationRead(BaseModel):
    """An organisation as staff see it; the responsible phone masked."""

    id: int
    credit_code: str
    name: str
    org_type: OrganisationType
    org_type_label: str
    address: str | None
    building_code: str | None
    grid_code: str | None
    district_code: str
    legal_representative: str | None
    responsible_person: str | None
    responsible_phone_masked: str | None
    staff_count: int | None
    fire_key_unit: bool
    security_key_unit: bool
    lon: float | None = Field(description="CGCS2000 longitude as stored")
    lat: float | None = Field(description="CGCS2000 latitude as stored")


class OrganisationPage(BaseModel):
    """A page of organisations and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[OrganisationRead]


# --- integrations -----------------------------------------------------------------------------


class IntegrationCreate(InputModel):
    """What an admin gives to issue a key."""

    name: str = Field(min_length=3, max_length=40, description="e.g. city-app")
    area_code: str = Field(
        min_length=12, max_length=12, description="12-digit district/street/community code"
    )


class IntegrationRead(BaseModel):
    """An integration as admins see it (never the key itself)."""

    id: int
    name: str
    key_prefix: str
    area_code: str
    service_account: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


class IssuedKey(IntegrationRead):
    """A newly issued integration with its key, shown this once."""

    key: str


# --- ledger history ---------------------------------------------------------------------------


class ChangeRead(BaseModel):
    """One write to a house or an organisation (台账变更): who, when, fields before and after.

    A creation has no `before`; a change lists only the fields it changed. Phones appear
    masked, as everywhere outside the unmask routes.
    """

    id: int
    action: str = Field(description="create 新增 or update 修改")
    at: datetime
    staff_id: int
    username: str
    before: dict[str, Any] | None
    after: dict[str, Any]


class OrganisationPii(BaseModel):
    """The clear phone of an organisation's responsible person (the read is logged)."""

    organisation_id: int
    responsible_phone: str | None


class TaskRead(BaseModel):
    """A grid worker's task (网格员任务): what to check, about which record, by when."""

    id: int
    kind: TaskKind
    kind_label: str = Field(description="出租屋无人登记, 居住证即将到期 …")
    grid_code: str
    subject: str = Field(description="house, resident, rental, organisation …")
    subject_id: int | None
    title: str
    detail: dict[str, Any] | None
    due_on: date
    overdue: bool = Field(description="open and past its due day")
    status: TaskStatus
    status_label: str
    created_at: datetime
    closed_at: datetime | None
    note: str | None


class TaskPage(BaseModel):
    """A page of tasks and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[TaskRead]


class TaskClose(BaseModel):
    """Closing a task: done (已核实处理, the ledger was put right) or dismissed (核实无问题)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["done", "dismissed"] = Field(
        description="done 已核实处理 or dismissed 核实无问题"
    )
    note: str = Field(min_length=1, max_length=1000, description="what was found on site 核实情况")


class RentalCreate(InputModel):
    """Registering a rental (出租屋登记): the house, its landlord (a resident or an
    organisation of the same district), the lease and the security responsibility letter."""

    house_code: str = Field(min_length=1, max_length=80, description="building code-unit-room")
    landlord_resident_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    landlord_organisation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    lease_start: date
    lease_end: date | None = None
    responsibility_signed_on: date | None = Field(default=None, description="治安责任书 signed on")
    declared_use: str | None = Field(default=None, max_length=50, description="申报用途")
    rooms: int | None = Field(default=None, ge=1, le=200, description="rooms let 出租间数")


class RentalUpdate(InputModel):
    """Changing a rental (only the fields sent); `status: closed` ends it (退租) on `closed_on`
    (default today), moving every tenant out that day."""

    lease_end: date | None = None
    responsibility_signed_on: date | None = None
    declared_use: str | None = Field(default=None, max_length=50)
    rooms: int | None = Field(default=None, ge=1, le=200)
    status: Literal["closed"] | None = Field(default=None, description="closed 退租")
    closed_on: date | None = None


class TenantRead(BaseModel):
    """Someone living in a rental, masked like residents."""

    resident_id: int
    name: str
    doc_masked: str
    residence_type: str
    moved_in: date
    moved_out: date | None


class RentalRead(BaseModel):
    """A rental with its tenants and its risk grade (风险等级) and the rules that set it."""

    id: int
    house_code: str
    grid_code: str | None
    district_code: str
    area_m2: float | None
    landlord_kind: Literal["resident", "organisation"]
    landlord_id: int
    landlord_name: str
    lease_start: date
    lease_end: date | None
    responsibility_signed_on: date | None
    declared_use: str | None
    rooms: int | None
    status: str
    status_label: str
    closed_at: datetime | None
    occupants: int = Field(description="tenants living there now")
    crowded: bool = Field(description="群租 suspected: over the per-room or per-m² threshold")
    risk_grade: str = Field(description="low 低 / medium 中 / high 高")
    risk_label: str
    risk_reasons: list[str] = Field(description="each rule that raised the grade")
    tenants: list[TenantRead]


class RentalPage(BaseModel):
    """A page of rentals and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[RentalRead]


class FloatingRead(BaseModel):
    """A floating resident (流动人口) on a deadline list, masked like residents."""

    resident_id: int
    name: str
    doc_masked: str
    phone_masked: str | None
    house_code: str | None
    grid_code: str | None
    origin: str | None
    arrival_date: date | None
    registration_due: date | None = Field(description="居住登记 deadline: arrival + 30 days")
    registered_on: date | None
    permit_number: str | None
    permit_expiry: date | None
    days: int = Field(
        description="overdue list: days past the deadline; expiring list: days left (<0 expired)"
    )


class FloatingPage(BaseModel):
    """A page of floating residents and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[FloatingRead]


# --- patrols (巡查轨迹) -------------------------------------------------------------------------

MAX_PATROL_BATCH = 500
PatrolKey = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9-]{8,64}$",
        description="the phone's id of the patrol (a UUID made when 开始巡查 is pressed)",
    ),
]


class PatrolStart(InputModel):
    """Start a patrol: the phone's key, the grid (default: my first) and when (default: now)."""

    key: PatrolKey
    grid_code: str | None = Field(default=None, pattern=r"^[0-9]{15}$")
    started_at: datetime | None = None


class PatrolPointIn(InputModel):
    """One GPS fix: when, where (in the batch's crs) and how accurate (metres)."""

    t: datetime
    lon: float
    lat: float
    accuracy: float | None = Field(default=None, ge=0, le=100_000)


class PatrolPoints(InputModel):
    """A batch of GPS fixes of one patrol, in one coordinate system."""

    crs: str = Field(default="wgs84", max_length=20)
    points: list[PatrolPointIn] = Field(min_length=1, max_length=MAX_PATROL_BATCH)


class PatrolEnd(InputModel):
    """End a patrol (default: now)."""

    ended_at: datetime | None = None


class PointsAdded(BaseModel):
    """What a batch did: points stored now, and points the patrol already had (a resend)."""

    added: int
    already_stored: int


class PatrolRead(BaseModel):
    """A patrol and its figures (distance over the track's pieces, gaps left out)."""

    key: str
    staff_id: int
    grid_code: str
    started_at: datetime
    ended_at: datetime | None
    points: int
    distance_m: float
    duration_s: float


class PatrolPage(BaseModel):
    """A page of patrols, newest first, and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[PatrolRead]


class TrackStop(BaseModel):
    """A stop (停留): the track stayed within the stop radius for longer than the stop limit."""

    patrol_key: str
    start: datetime
    end: datetime
    minutes: float
    lon: float
    lat: float


class TrackGap(BaseModel):
    """A gap (信号中断): no point for longer than the gap limit (phone off, no GPS)."""

    patrol_key: str
    start: datetime
    end: datetime
    minutes: float


class PatrolCoverage(BaseModel):
    """One grid worker's patrols of one grid in one week (Monday..Sunday, China time).

    `worker_name` is left out (None) for leaders, who see aggregates only.
    """

    staff_id: int
    worker_name: str | None
    grid_code: str
    week: date
    buildings: int
    buildings_passed: int
    building_share: float | None = Field(description="share of the grid's buildings passed")
    patrols: int
    patrol_s: float
    distance_m: float
    stops: list[TrackStop]
    gaps: list[TrackGap]
    # The patrols' [start, end) times, for figures other packages count within them.
    intervals: list[tuple[datetime, datetime]] = Field(default_factory=list, exclude=True)
