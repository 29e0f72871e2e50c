"""Reference tables: event categories, departments and units, dispatch rules, the work calendar.

Every signed-in account reads categories, departments, units and the calendar; the command
centre and admins read the dispatch rules; only admins change any of them (`events.admin`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status

from api.http.auth import ADMIN, ALL_STAFF, COMMAND, allow
from api.http.deps import SessionDep
from api.http.geojson import feature
from api.schemas import CalendarDayInput
from events import admin, directory, schemas
from events.catalog import DepartmentType
from gis.text import PlausibleDate
from people.access import Actor

router = APIRouter(prefix="/api", tags=["reference 基础数据"])

Staff = Annotated[Actor, allow(ALL_STAFF)]
# Ids are 32-bit in the database: larger numbers are refused (422) rather than failing there.
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
Admin = Annotated[Actor, allow(ADMIN)]
TypeQuery = Annotated[
    DepartmentType | None, Query(alias="type", description="department type (police, fire …)")
]


# --- categories ------------------------------------------------------------------------------


@router.get("/categories", response_model=list[schemas.CategoryRead])
def list_categories(
    session: SessionDep,
    actor: Staff,
    major: Annotated[str | None, Query(description="2-digit major category (大类) code")] = None,
) -> list[schemas.CategoryRead]:
    """The current event category table (事件分类): routing, priority and time limits."""
    return directory.list_categories(session, major_code=major)


@router.patch("/categories/{code}", response_model=schemas.CategoryRead)
def change_category(
    session: SessionDep, actor: Admin, code: str, change: schemas.CategoryChange
) -> schemas.CategoryRead:
    """Change a subcategory; a new version applies to events filed from now on."""
    category = admin.change_category(session, actor=actor, code=code, change=change)
    return directory.category_read(category)


# --- departments and units -------------------------------------------------------------------


@router.get("/departments", response_model=list[schemas.DepartmentRead])
def list_departments(
    session: SessionDep, actor: Staff, dept_type: TypeQuery = None
) -> list[schemas.DepartmentRead]:
    """Departments (公安, 消防, 民政 …) and how many units each has."""
    return directory.list_departments(session, dept_type=dept_type)


@router.get("/units")
def list_units(
    session: SessionDep,
    actor: Staff,
    dept_type: TypeQuery = None,
    department: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="department id")
    ] = None,
    geometry: Annotated[bool, Query(description="include jurisdiction polygons")] = False,
) -> dict[str, Any]:
    """Department units as a GeoJSON FeatureCollection (jurisdictions with `geometry=true`)."""
    units = directory.list_units(
        session, dept_type=dept_type, department_id=department, with_geometry=geometry
    )
    return {
        "type": "FeatureCollection",
        "total": len(units),
        "features": [feature(u, id_field="id") for u in units],
    }


@router.get("/units/{unit_id}")
def get_unit(session: SessionDep, actor: Staff, unit_id: Id) -> dict[str, Any]:
    """One department unit as a GeoJSON Feature with its jurisdiction."""
    return feature(directory.get_unit(session, unit_id=unit_id), id_field="id")


@router.put("/units/{unit_id}/jurisdiction")
def set_jurisdiction(
    session: SessionDep,
    actor: Admin,
    unit_id: Id,
    geometry: Annotated[
        dict[str, Any],
        Body(description="GeoJSON Polygon or MultiPolygon (or a Feature), CGCS2000 lon/lat"),
    ],
) -> dict[str, Any]:
    """Replace a unit's jurisdiction (辖区); the next dispatch uses it."""
    admin.set_unit_jurisdiction(session, actor=actor, unit_id=unit_id, geometry=geometry)
    return feature(directory.get_unit(session, unit_id=unit_id), id_field="id")


# --- dispatch rules --------------------------------------------------------------------------


@router.get("/dispatch-rules", response_model=list[schemas.RuleRead])
def list_rules(
    session: SessionDep,
    actor: Annotated[Actor, allow(COMMAND)],
    include_inactive: bool = False,
) -> list[schemas.RuleRead]:
    """Dispatch rules in the order they are tried; the first match decides the departments."""
    return directory.list_rules(session, actor=actor, include_inactive=include_inactive)


@router.get("/dispatch-rules/{rule_id}", response_model=schemas.RuleRead)
def get_rule(
    session: SessionDep, actor: Annotated[Actor, allow(COMMAND)], rule_id: Id
) -> schemas.RuleRead:
    """One dispatch rule."""
    return directory.get_rule(session, actor=actor, rule_id=rule_id)


@router.post(
    "/dispatch-rules", response_model=schemas.RuleRead, status_code=status.HTTP_201_CREATED
)
def create_rule(session: SessionDep, actor: Admin, data: schemas.RuleInput) -> schemas.RuleRead:
    """Add a dispatch rule; events reported from now on are routed by it."""
    return directory.rule_read(admin.save_rule(session, actor=actor, data=data))


@router.put("/dispatch-rules/{rule_id}", response_model=schemas.RuleRead)
def replace_rule(
    session: SessionDep, actor: Admin, rule_id: Id, data: schemas.RuleInput
) -> schemas.RuleRead:
    """Replace a dispatch rule."""
    return directory.rule_read(admin.save_rule(session, actor=actor, data=data, rule_id=rule_id))


@router.delete("/dispatch-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(session: SessionDep, actor: Admin, rule_id: Id) -> Response:
    """Deactivate a dispatch rule (kept, so past dispatch explanations still name it)."""
    admin.delete_rule(session, actor=actor, rule_id=rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- work calendar ---------------------------------------------------------------------------


@router.get("/calendar", response_model=list[schemas.CalendarDayRead])
def list_calendar(
    session: SessionDep,
    actor: Staff,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> list[schemas.CalendarDayRead]:
    """Holidays and worked weekend days (调休) of the work calendar that deadlines count on."""
    return directory.list_calendar(session, year=year)


@router.put("/calendar/{day}", response_model=schemas.CalendarDayRead)
def set_calendar_day(
    session: SessionDep, actor: Admin, day: PlausibleDate, entry: CalendarDayInput
) -> schemas.CalendarDayRead:
    """Mark a day a holiday or a worked weekend day; deadlines set from now on count it."""
    admin.set_calendar_day(session, actor=actor, day=day, kind=entry.kind, name=entry.name)
    saved = directory.get_calendar_day(session, day=day)
    assert saved is not None
    return saved


@router.delete("/calendar/{day}", status_code=status.HTTP_204_NO_CONTENT)
def clear_calendar_day(session: SessionDep, actor: Admin, day: date) -> Response:
    """Make a day ordinary again (a weekday works, a weekend day is off)."""
    admin.set_calendar_day(session, actor=actor, day=day, kind=None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
