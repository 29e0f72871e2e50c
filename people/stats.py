"""Population aggregates for dashboards: per grid, community, street or district, scoped.

Each call is one grouped SQL statement. Leaders see these aggregates only (no names, no ID
numbers); `overdue_visits` lists persons and so needs a role that may read residents.
Area filters are code ranges (`grid_code >= '420502001' AND grid_code < '420502002'`) so
the (grid_code, active) index serves them under any collation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Integer, SQLColumnExpression, and_, cast, func, select
from sqlalchemy.orm import Session

from gis.clock import local_today
from grid import exceptions as grid_errors
from grid.models import AdminUnit, Grid, House
from grid.service import area_prefix
from people.access import (
    READ_AGGREGATES,
    READ_PERSONS,
    Actor,
    grid_scope,
    require_grid,
    require_role,
)
from people.exceptions import Forbidden, InvalidRecord
from people.models import ResidenceType, Resident, SpecialGroup, SpecialGroupType, Staff, StaffRole

Level = Literal["grid", "community", "street", "district"]
# Digits of the grid code that name the area at each level.
_PREFIX_LENGTH: dict[str, int] = {"grid": 15, "community": 12, "street": 9, "district": 6}
MAX_OVERDUE_ROWS = 5_000
HEAD_OF_HOUSEHOLD = "户主"  # relation_to_head of the head of a household


@dataclass(frozen=True)
class AreaPopulation:
    """Counts of one area's active residents (no names, no ID numbers)."""

    code: str  # grid code (15 digits) or 12-digit admin code
    name: str
    level: str
    residents: int
    households: int  # active heads of household (户主) here
    registered: int  # 户籍人口
    floating: int  # 流动人口
    floating_share: float  # floating / residents, 0 when nobody lives here
    overseas: int  # 境外人员
    unregistered: int  # 未落户人员
    age_0_17: int
    age_18_59: int
    age_60_79: int
    age_80_plus: int
    elderly_alone: int  # active 独居老人 memberships
    special_groups: dict[str, int]  # SpecialGroupType value → active memberships
    overdue_visits: int  # active memberships whose next visit was due before today


@dataclass(frozen=True)
class OverdueVisit:
    """A special-group member whose visit (走访) is overdue, with who is responsible."""

    special_group_id: int
    group_type: SpecialGroupType
    group_label: str
    resident_id: int
    resident_name: str
    doc_masked: str
    grid_code: str | None
    danger_level: int | None
    last_visit_on: date | None
    next_visit_due: date
    days_overdue: int
    responsible_staff_id: int | None
    responsible_username: str | None
    responsible_name: str | None


class WorkerOverdue(NamedTuple):
    """How many overdue visits a grid worker is responsible for."""

    staff_id: int
    username: str
    full_name: str
    overdue_count: int


def _years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _next_prefix(prefix: str) -> str | None:
    """The smallest code prefix after every code starting with `prefix` (digits only)."""
    if set(prefix) == {"9"}:
        return None
    return str(int(prefix) + 1).zfill(len(prefix))


def _code_range(column: SQLColumnExpression[str | None], prefix: str) -> ColumnElement[bool]:
    """`column` starts with the digit string `prefix`, as an index-friendly range."""
    upper = _next_prefix(prefix)
    if upper is None:
        return column >= prefix
    return and_(column >= prefix, column < upper)


def _area_filter(actor: Actor, column: Any, area_code: str | None) -> ColumnElement[bool]:
    """The actor's scope, narrowed to `area_code`; refuses an area outside the actor's own."""
    clauses: list[ColumnElement[bool]] = [grid_scope(actor, column)]
    own = area_prefix(actor.area_code) if actor.area_code else None
    if own and actor.role not in (StaffRole.ADMIN, StaffRole.GRID_WORKER):
        clauses.append(_code_range(column, own))
    if area_code:
        try:
            wanted = area_prefix(area_code)
        except grid_errors.InvalidQuery as exc:
            raise InvalidRecord(str(exc)) from exc
        if (
            own
            and actor.role not in (StaffRole.ADMIN, StaffRole.GRID_WORKER)
            and not (wanted.startswith(own) or own.startswith(wanted))
        ):
            raise Forbidden(
                f"area {area_code} is outside your area ({actor.area_code}); "
                "ask for an area inside it"
            )
        clauses.append(_code_range(column, wanted))
    return and_(*clauses)


def _area_key(column: Any, level: str) -> Any:
    """The area code a grid code falls in at `level` (grid code, or 12-digit admin code)."""
    if level == "grid":
        return column
    return func.rpad(func.substr(column, 1, _PREFIX_LENGTH[level]), 12, "0")


def population_stats(
    session: Session,
    *,
    actor: Actor,
    level: Level = "grid",
    area_code: str | None = None,
    today: date | None = None,
) -> list[AreaPopulation]:
    """Resident counts per area at `level`, limited to the actor's scope (and `area_code`).

    Every area with a grid in scope is listed, also when nobody lives there. For a grid worker
    asking for communities or higher, each area counts only the worker's own grids.
    """
    require_role(actor, READ_AGGREGATES, "see population statistics")
    if level not in _PREFIX_LENGTH:
        raise InvalidRecord(f"level '{level}' is unknown; use one of {', '.join(_PREFIX_LENGTH)}")
    today = today or local_today()
    d18, d60, d80 = (_years_before(today, y) for y in (18, 60, 80))

    area = _area_key(Grid.code, level).label("code")
    areas = (
        select(area)
        .where(_area_filter(actor, Grid.code, area_code))
        .group_by(area)
        .subquery("areas")
    )

    # Special groups per member first (few rows), so residents are read in a single pass.
    group_types = list(SpecialGroupType)
    memberships_query = (
        select(
            SpecialGroup.resident_id,
            # int, so that summing them stays in bigint rather than slow numeric
            *(
                cast(func.count().filter(SpecialGroup.group_type == t), Integer).label(
                    f"g_{t.value}"
                )
                for t in group_types
            ),
            cast(func.count().filter(SpecialGroup.next_visit_due < today), Integer).label(
                "overdue"
            ),
        )
        .where(SpecialGroup.ended_on.is_(None))
        .group_by(SpecialGroup.resident_id)
    )
    scope = _area_filter(actor, Resident.grid_code, area_code)
    if area_code or actor.role is not StaffRole.ADMIN:
        # A narrow scope: only its members' groups, found through the resident_id index.
        in_scope = select(Resident.id).where(Resident.active, scope)
        memberships_query = memberships_query.where(SpecialGroup.resident_id.in_(in_scope))
    memberships = memberships_query.subquery("memberships")
    key = _area_key(Resident.grid_code, level).label("code")
    rtype = Resident.residence_type
    born = Resident.birth_date
    counts: dict[str, Any] = {
        "residents": func.count(),
        "households": func.count().filter(Resident.relation_to_head == HEAD_OF_HOUSEHOLD),
        "registered": func.count().filter(rtype == ResidenceType.REGISTERED),
        "floating": func.count().filter(rtype == ResidenceType.FLOATING),
        "overseas": func.count().filter(rtype == ResidenceType.OVERSEAS),
        "unregistered": func.count().filter(rtype == ResidenceType.UNREGISTERED),
        "age_0_17": func.count().filter(born > d18),
        "age_18_59": func.count().filter(born <= d18, born > d60),
        "age_60_79": func.count().filter(born <= d60, born > d80),
        "age_80_plus": func.count().filter(born <= d80),
        **{f"g_{t.value}": func.sum(memberships.c[f"g_{t.value}"]) for t in group_types},
        "overdue": func.sum(memberships.c.overdue),
    }
    people = (
        select(key, *(value.label(name) for name, value in counts.items()))
        .select_from(Resident)
        .outerjoin(memberships, memberships.c.resident_id == Resident.id)
        .where(Resident.active, scope)
        .group_by(key)
        .subquery("people")
    )

    if level == "grid":
        name_source: Any = Grid
        name_join = Grid.code == areas.c.code
    else:
        name_source = AdminUnit
        name_join = AdminUnit.code == areas.c.code
    stmt = (
        select(
            areas.c.code,
            func.coalesce(name_source.name, areas.c.code).label("name"),
            *(func.coalesce(people.c[name], 0).label(name) for name in counts),
        )
        .select_from(areas)
        .outerjoin(name_source, name_join)
        .outerjoin(people, people.c.code == areas.c.code)
        .order_by(areas.c.code)
    )
    result: list[AreaPopulation] = []
    for row in session.execute(stmt).mappings():
        residents = int(row["residents"])
        floating = int(row["floating"])
        special = {t.value: int(row[f"g_{t.value}"]) for t in SpecialGroupType}
        result.append(
            AreaPopulation(
                code=row["code"],
                name=row["name"],
                level=level,
                residents=residents,
                households=int(row["households"]),
                registered=int(row["registered"]),
                floating=floating,
                floating_share=floating / residents if residents else 0.0,
                overseas=int(row["overseas"]),
                unregistered=int(row["unregistered"]),
                age_0_17=int(row["age_0_17"]),
                age_18_59=int(row["age_18_59"]),
                age_60_79=int(row["age_60_79"]),
                age_80_plus=int(row["age_80_plus"]),
                elderly_alone=special[SpecialGroupType.ELDERLY_ALONE.value],
                special_groups=special,
                overdue_visits=int(row["overdue"]),
            )
        )
    return result


def _overdue_where(actor: Actor, today: date) -> list[Any]:
    """Active memberships of active residents in scope whose visit was due before today."""
    return [
        SpecialGroup.ended_on.is_(None),
        SpecialGroup.next_visit_due < today,
        Resident.active,
        _area_filter(actor, Resident.grid_code, None),
    ]


def overdue_visits(
    session: Session,
    *,
    actor: Actor,
    today: date | None = None,
    grid_code: str | None = None,
    staff_id: int | None = None,
    limit: int = 1_000,
) -> list[OverdueVisit]:
    """Special-group members whose visit is overdue, most overdue first (names, masked IDs)."""
    require_role(actor, READ_PERSONS, "list residents with overdue visits")
    if not 1 <= limit <= MAX_OVERDUE_ROWS:
        raise InvalidRecord(f"limit must be 1..{MAX_OVERDUE_ROWS}")
    today = today or local_today()
    where = _overdue_where(actor, today)
    if grid_code is not None:
        require_grid(actor, grid_code, f"grid {grid_code}")
        where.append(Resident.grid_code == grid_code)
    if staff_id is not None:
        where.append(SpecialGroup.responsible_staff_id == staff_id)
    stmt = (
        select(
            SpecialGroup.id,
            SpecialGroup.group_type,
            SpecialGroup.resident_id,
            Resident.name,
            Resident.doc_masked,
            Resident.grid_code,
            SpecialGroup.danger_level,
            SpecialGroup.last_visit_on,
            SpecialGroup.next_visit_due,
            SpecialGroup.responsible_staff_id,
            Staff.username,
            Staff.full_name,
        )
        .join(Resident, Resident.id == SpecialGroup.resident_id)
        .outerjoin(Staff, Staff.id == SpecialGroup.responsible_staff_id)
        .where(*where)
        .order_by(SpecialGroup.next_visit_due, SpecialGroup.id)
        .limit(limit)
    )
    return [
        OverdueVisit(
            special_group_id=r.id,
            group_type=r.group_type,
            group_label=r.group_type.label,
            resident_id=r.resident_id,
            resident_name=r.name,
            doc_masked=r.doc_masked,
            grid_code=r.grid_code,
            danger_level=r.danger_level,
            last_visit_on=r.last_visit_on,
            next_visit_due=r.next_visit_due,
            days_overdue=(today - r.next_visit_due).days,
            responsible_staff_id=r.responsible_staff_id,
            responsible_username=r.username,
            responsible_name=r.full_name,
        )
        for r in session.execute(stmt)
    ]


def overdue_visits_by_worker(
    session: Session, *, actor: Actor, today: date | None = None
) -> list[WorkerOverdue]:
    """Overdue visits per responsible grid worker in the actor's scope, most first.

    Memberships with no responsible worker are not listed here (see `overdue_visits`).
    """
    require_role(actor, READ_AGGREGATES, "see overdue visits per grid worker")
    today = today or local_today()
    count = func.count().label("overdue_count")
    stmt = (
        select(Staff.id, Staff.username, Staff.full_name, count)
        .select_from(SpecialGroup)
        .join(Resident, Resident.id == SpecialGroup.resident_id)
        .join(Staff, Staff.id == SpecialGroup.responsible_staff_id)
        .where(*_overdue_where(actor, today))
        .group_by(Staff.id, Staff.username, Staff.full_name)
        .order_by(count.desc(), Staff.username)
    )
    return [WorkerOverdue(int(i), u, n, int(c)) for i, u, n, c in session.execute(stmt)]


@dataclass(frozen=True)
class GridResidents:
    """Active residents of one grid and their active special-group memberships."""

    residents: int
    special_groups: int


def residents_by_grid(
    session: Session, *, actor: Actor, area_code: str | None = None
) -> dict[str, GridResidents]:
    """Active residents and special-group memberships per grid in scope (and `area_code`):
    the two counts a map needs, without `population_stats`' age bands and types."""
    require_role(actor, READ_AGGREGATES, "see population statistics")
    scope = _area_filter(actor, Resident.grid_code, area_code)
    residents = session.execute(
        select(Resident.grid_code, func.count())
        .where(Resident.active, scope)
        .group_by(Resident.grid_code)
    ).all()
    members = dict(
        session.execute(
            select(Resident.grid_code, func.count())
            .select_from(SpecialGroup)
            .join(Resident, Resident.id == SpecialGroup.resident_id)
            .where(SpecialGroup.ended_on.is_(None), Resident.active, scope)
            .group_by(Resident.grid_code)
        ).all()
    )
    return {code: GridResidents(int(n), int(members.get(code, 0))) for code, n in residents if code}


@dataclass(frozen=True)
class BuildingVisitsDue:
    """Special-group visits (走访) due in one building: counts only, no names."""

    building_id: int
    overdue: int  # next visit was due before today
    due_soon: int  # due today or within the coming days


def visits_due_by_building(
    session: Session,
    *,
    actor: Actor,
    grid_code: str,
    today: date | None = None,
    within_days: int = 7,
) -> list[BuildingVisitsDue]:
    """Per building of a grid, active special-group memberships whose visit is overdue or due
    within `within_days` days (counts for a map: no names, no ID numbers)."""
    require_role(actor, READ_AGGREGATES, "see visits due per building")
    require_grid(actor, grid_code, f"grid {grid_code}")
    if within_days < 0:
        raise InvalidRecord("within_days must not be negative")
    today = today or local_today()
    horizon = today + timedelta(days=within_days)
    due = SpecialGroup.next_visit_due
    stmt = (
        select(
            House.building_id,
            func.count().filter(due < today),
            func.count().filter(due >= today),
        )
        .select_from(SpecialGroup)
        .join(Resident, Resident.id == SpecialGroup.resident_id)
        .join(House, House.id == Resident.house_id)
        .where(
            SpecialGroup.ended_on.is_(None),
            due <= horizon,
            Resident.active,
            Resident.grid_code == grid_code,
        )
        .group_by(House.building_id)
        .order_by(House.building_id)
    )
    return [BuildingVisitsDue(int(b), int(o), int(s)) for b, o, s in session.execute(stmt)]


__all__ = [
    "AreaPopulation",
    "BuildingVisitsDue",
    "GridResidents",
    "Level",
    "OverdueVisit",
    "WorkerOverdue",
    "overdue_visits",
    "overdue_visits_by_worker",
    "population_stats",
    "residents_by_grid",
    "visits_due_by_building",
]
