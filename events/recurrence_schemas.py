"""What the recurrence services (events.recurrence, events.recurrence_tasks) take and give."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gis.config import get_settings
from gis.text import InputModel


class Threshold(BaseModel):
    """What counts as recurrence for a category: events, metres, days."""

    model_config = ConfigDict(frozen=True)  # a dict key: categories grouped by threshold
    min_events: int = Field(ge=2, le=1000)
    radius_m: float = Field(gt=0, le=5000)
    window_days: int = Field(ge=1, le=366)


class ClusterRead(BaseModel):
    """A recurrence cluster and its 源头治理 task; no personal data (leaders read it too)."""

    id: int
    district_code: str
    category_code: str
    category_name: str
    event_count: int
    first_reported_at: datetime
    last_reported_at: datetime
    lon: float  # centroid, CGCS2000
    lat: float
    spread_m: float  # farthest member from the centroid, metres
    radius_m: float
    min_events: int
    window_days: int
    task_status: str
    task_status_label: str
    task_deadline: datetime
    overdue: bool
    lead_type: str
    lead_type_label: str
    lead_unit_id: int | None
    lead_unit_name: str | None
    routing: str
    detected_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    closing_report: str | None


class ClusterEvent(BaseModel):
    """A member event as the cluster's detail lists it (no reporter, no caller)."""

    code: str
    reported_at: datetime
    status: str
    status_label: str
    grid_code: str | None
    lon: float
    lat: float


class TimelineEntry(BaseModel):
    """One moment of the cluster's story: an event reported, detection, acceptance, closing."""

    at: datetime
    what: str
    note: str | None = None


class ClusterDetail(ClusterRead):
    """A cluster with its events, its timeline and its members as GeoJSON (CGCS2000 lon/lat);
    a leader's copy has no single events (aggregates only)."""

    events: list[ClusterEvent]
    timeline: list[TimelineEntry]
    geojson: dict[str, Any]


class DetectionRun(BaseModel):
    """What one detection run did."""

    until: datetime
    districts: list[str]
    created: list[int]
    extended: list[int]
    events_linked: int


class DetectionInput(InputModel):
    """Run detection now: for a district (default: my own) up to the end of a day (default: now)."""

    district: str | None = Field(default=None, description="6-digit district code")
    on: date | None = Field(default=None, description="run as of the end of this day (China)")


class ClusterClose(InputModel):
    """The lead unit's closing report: what was changed at the source (源头治理情况)."""

    report: str = Field(max_length=4000, description="what was changed at the source")

    @field_validator("report")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        least = get_settings().recurrence_report_min_chars
        if len(value.strip()) < least:
            raise ValueError(
                f"办结报告至少{least}个字，请写明在源头上改了什么（设施、管理、责任人）"
                f" (the closing report needs at least {least} characters saying what was "
                "changed at the source)"
            )
        return value.strip()
