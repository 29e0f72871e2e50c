"""The API adapters' own request and response shapes (the domains' are in their schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from events.schemas import CitizenKpis, KpiRow, UnitRef
from gis.crs import Crs
from gis.text import InputModel
from people import special_groups as groups
from people.documents import DocumentType

# Largest id of an integer primary key (PostgreSQL integer).
MAX_ID = 2_147_483_647
# What an upload may be imported as.
ImportKind = Literal["residents", "grids", "buildings"]


class GridMoveCounts(BaseModel):
    """What went from one old grid to one new grid (null: no grid)."""

    from_grid: str | None
    to_grid: str | None
    buildings: int = 0
    houses: int = 0
    residents: int = Field(0, description="current residents (moved-away records not counted)")
    households: int = 0
    organisations: int = 0
    open_events: int = 0
    closed_events_refiled: int = Field(
        0, description="closed events whose old grid code was removed, filed by their point"
    )
    visit_plans: int = Field(0, description="open special-group memberships (走访计划)")


class Unplaced(BaseModel):
    """What no new grid covers: it now has no grid until a grid is drawn over it."""

    buildings: list[str] = Field(default_factory=list, description="building codes")
    residents: list[int] = Field(default_factory=list, description="resident ids")
    households: list[str] = Field(default_factory=list, description="household codes")
    organisations: list[str] = Field(default_factory=list, description="credit codes")
    open_events: list[str] = Field(default_factory=list, description="event codes")


class WorkerToReassign(BaseModel):
    """A grid worker of a removed grid: give them one of the new grids."""

    staff_id: int
    username: str
    full_name: str
    removed_grid: str
    remaining_grids: list[str]


class RecutReport(BaseModel):
    """The summary of a re-cut: grids removed and added, and what moved where."""

    community_code: str
    removed: list[str]
    added: list[str]
    moves: list[GridMoveCounts]
    unplaced: Unplaced
    workers_to_reassign: list[WorkerToReassign]
    visit_plans_released: int = Field(
        description="visit plans whose responsible worker does not cover the resident's new "
        "grid; they now fall to the new grid's workers"
    )
    former_residents_refiled: int = Field(
        description="records of moved-away residents that followed the house they last lived in"
    )
    warnings: list[str]


class Token(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Scope(BaseModel):
    """What an account may see: its grids, admin area or department unit."""

    grids: list[str]
    area_code: str | None
    unit_id: int | None


class Me(BaseModel):
    """The signed-in account."""

    id: int
    username: str
    full_name: str
    role: str
    role_label: str
    unit: UnitRef | None
    scope: Scope
    home: str


class JobRead(BaseModel):
    """An import job and how far it has got."""

    id: int
    kind: str
    kind_label: str
    filename: str
    status: str
    status_label: str
    total: int
    processed: int
    imported: int
    rejected: int
    error_report_url: str | None
    error_report_expires_at: datetime | None
    message: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class ImportForm(InputModel):
    """The form fields beside the uploaded file."""

    kind: ImportKind = Field(description="residents, grids or buildings")
    crs: Crs = Field(
        default=Crs.CGCS2000, description="lon/lat system of a layer that declares none"
    )


class UnmaskRequest(InputModel):
    """Why the clear ID number and phone are needed; kept in the access log."""

    reason: str = Field(min_length=1, max_length=300, description="e.g. 核实身份，办理低保")


class DocumentLookup(InputModel):
    """A document to find its holder by (sent in the body, not the URL, so it is not logged)."""

    doc_type: DocumentType = DocumentType.ID_CARD
    doc_number: str = Field(min_length=1, max_length=40)


class MoveIn(InputModel):
    """A move into a house; the current residence ends the same day."""

    house_code: str = Field(description="building code-unit-room")
    on: date
    reason: str | None = Field(default=None, max_length=100)


class MoveOut(InputModel):
    """The end of a resident's current residence (moved away, deceased …)."""

    on: date
    reason: str = Field(min_length=1, max_length=100)


class Enrolment(InputModel):
    """A resident joining a special group, with the group's own details."""

    resident_id: int = Field(ge=1, le=MAX_ID)
    group_type: str = Field(description="value (elderly_alone …) or Chinese label (独居老人 …)")
    details: dict[str, object] = Field(default_factory=dict)
    started_on: date
    danger_level: int | None = Field(default=None, ge=0, le=groups.MAX_DANGER_LEVEL)
    responsible_staff_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class VisitInput(InputModel):
    """A visit (走访) as the grid worker records it; the location is optional."""

    visited_on: date
    note: str = Field(min_length=1, max_length=2000, description="what the visit found")
    lon: float | None = None
    lat: float | None = None
    crs: Crs = Crs.WGS84


class CalendarDayInput(InputModel):
    """A holiday, or a weekend day that is worked (调休上班)."""

    kind: Literal["holiday", "workday"]
    name: str = Field(default="", max_length=50, description="e.g. 国庆节, 国庆节调休")


class NewGridFeature(BaseModel):
    """One new grid: properties code, name[, grid_type, households]; a (Multi)Polygon."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    properties: dict[str, Any] | None = None
    geometry: dict[str, Any] | None = None


class NewGridCollection(BaseModel):
    """The community's new grids as GeoJSON, lon/lat in CGCS2000 (WGS84 is taken as it)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[NewGridFeature] = Field(max_length=5000)


class KpiReport(BaseModel):
    """KPIs of the events reported in [start, end), one row per group."""

    by: str
    start: datetime
    end: datetime
    rows: list[KpiRow]
    citizen: CitizenKpis  # 受理量, 直办率, 按时答复率, 回访率, 满意率, 重办率 of the same events
