"""Pydantic shapes of events as services take and return them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from events.calendar import Light, Limit, LimitUnit
from events.models import EventSource, EventStatus, Stage
from gis.crs import Crs
from gis.text import InputModel, check_occurrence


class EventReport(InputModel):
    """What a grid worker (or an integration) files."""

    category: str = Field(description="subcategory code, e.g. 0201")
    lon: float
    lat: float
    crs: Crs = Crs.WGS84
    description: str = Field(min_length=2, max_length=4000)
    address: str | None = Field(default=None, max_length=300)
    building: str | None = Field(default=None, description="building code, if known")
    organisation_id: int | None = None
    occurred_at: datetime | None = None
    source: EventSource = EventSource.GRID_WORKER
    contact: str | None = Field(default=None, description="caller's phone (hotline, Open311)")
    external_ref: str | None = Field(default=None, max_length=100)
    self_resolved: bool = Field(default=False, description="fixed on the spot (自行处置)")


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
    lon: float
    lat: float
    locate_match: str
    grid_code: str | None
    community: str | None
    street: str | None
    district_code: str
    building_code: str | None
    unit: UnitRef | None
    assisting_units: list[UnitRef] = Field(default_factory=list)
    reporter: str | None
    reported_at: datetime
    closed_at: datetime | None
    stage: Stage | None
    stage_deadline: datetime | None
    light: Light | None
    supervision_level: str | None
    rework_count: int
    duplicate_of: str | None
    duplicate_candidates: list[str] = Field(default_factory=list)
    dispatch: dict[str, Any] | None = Field(
        default=None, description="which rule matched and why this unit"
    )
    stages: list[StageRead] = Field(default_factory=list)
    steps: list[StepRead] = Field(default_factory=list)
    created: bool = Field(default=True, description="false when an idempotency key was reused")


SupervisionLevel = Literal["yellow", "red"]
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
    unit_id: int | None = Field(default=None, description="unit chosen by hand (dispatch)")
    duplicate_of: str | None = Field(
        default=None, description="code of the event this one duplicates (void)"
    )
    level: SupervisionLevel | None = Field(default=None, description="supervision (督办) level")

    @field_validator("note", "reason", "duplicate_of")
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
    """What staff file through the API (the source is not theirs to set: see EventReport)."""

    category: str = Field(max_length=8, description="subcategory code, e.g. 0201")
    lon: float = Field(allow_inf_nan=False, description="longitude in `crs`")
    lat: float = Field(allow_inf_nan=False, description="latitude in `crs`")
    crs: Crs = Field(
        default=Crs.WGS84, description="wgs84 (GPS, default), cgcs2000, gcj02 (Gaode), bd09"
    )
    description: str = Field(min_length=2, max_length=4000)
    address: str | None = Field(default=None, max_length=300)
    building: str | None = Field(default=None, max_length=40, description="building code")
    occurred_at: datetime | None = None
    self_resolved: bool = Field(default=False, description="fixed on the spot (自行处置)")

    @field_validator("occurred_at")
    @classmethod
    def _plausible_occurrence(cls, value: datetime | None) -> datetime | None:
        return check_occurrence(value)

    def to_report(self) -> EventReport:
        """The report as the service takes it, filed by a member of staff."""
        return EventReport(**self.model_dump(), source=EventSource.GRID_WORKER)


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
    lon: float
    lat: float
    unit: UnitRef | None
    reported_at: datetime
    stage: Stage | None
    stage_deadline: datetime | None
    light: Light | None
    duplicate_of: str | None


class EventPage(BaseModel):
    """A page of events and how many match in all."""

    items: list[EventSummary]
    total: int
    page: int
    page_size: int
