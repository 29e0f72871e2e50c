"""Pydantic shapes of events as services take and return them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from events.calendar import Light
from events.models import EventSource, EventStatus, Stage
from gis.crs import Crs


class EventReport(BaseModel):
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
