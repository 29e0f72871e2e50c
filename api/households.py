"""The 楼盘表 of a building, gathered from the domains that know its parts: the rooms from
`grid.households`, who lives there from `people.occupancy`, its open events from
`events.map_stats`. Shared by `GET /api/buildings/{code}/households` and `/maps/building/{code}`
so the page shows exactly what the API answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from events.directory import districts_seen
from events.map_stats import building_open_events
from grid.households import (
    BuildingNote,
    HouseholdTable,
    RoomCounts,
    building_rooms,
    household_table,
)
from people.access import READ_PERSONS, Actor, require_grid, require_role
from people.models import SpecialGroupType
from people.occupancy import occupancy_by_house, organisations_in_building

GROUP_LABELS = {t.value: t.label for t in SpecialGroupType}


def building_households(
    session: Session, *, actor: Actor, code: str, now: datetime
) -> HouseholdTable:
    """The 楼盘表 of building `code` for an actor whose scope holds the building's grid.

    A building of another district reads as missing (404), as on the base map; one of the
    actor's district but outside their grids is refused (403), as the residents list is.
    """
    require_role(actor, READ_PERSONS, "open a building's household table (楼盘表)")
    building = building_rooms(session, code=code, districts=districts_seen(session, actor=actor))
    require_grid(actor, building.grid_code, f"building {code}")
    building_id, district, grid = building.id, building.district_code, building.grid_code
    counts = {
        house_id: RoomCounts(o.residents, o.floating, o.groups)
        for house_id, o in occupancy_by_house(
            session, actor=actor, building_id=building_id, district_code=district, grid_code=grid
        ).items()
    }
    organisations = [
        BuildingNote(
            code=o.credit_code,
            title=o.name,
            detail=o.org_type_label,
            flags=tuple(
                flag
                for flag, on in (("消防重点", o.fire_key_unit), ("治安重点", o.security_key_unit))
                if on
            ),
        )
        for o in organisations_in_building(
            session, actor=actor, building_id=building_id, district_code=district, grid_code=grid
        )
    ]
    events = [
        BuildingNote(
            code=e.code,
            title=e.category,
            detail=" · ".join(x for x in (e.status, e.unit, e.time_left) if x),
            light=e.light,
        )
        for e in building_open_events(
            session,
            actor=actor,
            building_id=building_id,
            district_code=district,
            grid_code=grid,
            now=now,
        )
    ]
    return household_table(
        building,
        counts=counts,
        group_labels=GROUP_LABELS,
        organisations=organisations,
        open_events=events,
    )


__all__ = ["building_households"]
