"""Re-cutting a community's grids end to end (网格调整), shared by the API and the CLI.

One operation in the caller's transaction (the request or the command commits; any error
rolls everything back): `grid` replaces the grids and re-assigns buildings (houses go with
them); `people` re-assigns residents, households, organisations and visit plans and hands
grid workers back the grids whose codes were reused; `events` moves open events to the grid
now covering their point, closed events keeping their historical grid code unless it was
removed. New grids are checked like an import (valid polygons, no overlaps, inside the
community, codes of that community); a failed check changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from events.regrid import reassign_events
from grid.recut import NewGrid, recut_community
from people.regrid import grid_workers, reassign_grids, restore_worker_scopes

__all__ = ["GridMoveCounts", "RecutReport", "Unplaced", "WorkerToReassign", "recut"]


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


def recut(
    session: Session,
    *,
    community_code: str,
    new_grids: gpd.GeoDataFrame | Iterable[NewGrid],
) -> RecutReport:
    """Replace a community's grids and re-assign everything on them; flushes, never commits."""
    workers_before = grid_workers(session, community_code=community_code)
    grids = recut_community(session, community_code=community_code, new_grids=new_grids)
    touched = set(grids.removed) | set(grids.added)
    workers = restore_worker_scopes(session, before=workers_before)
    people = reassign_grids(session, grid_codes=touched)
    events = reassign_events(session, grid_codes=touched)

    rows: dict[tuple[str | None, str | None], dict[str, Any]] = {}

    def add(column: str, counts: Counter[tuple[str | None, str | None]]) -> None:
        for pair, n in counts.items():
            cell = rows.setdefault(pair, {})
            cell[column] = cell.get(column, 0) + n

    for move in grids.moves:
        add("buildings", Counter({(move.from_grid, move.to_grid): move.buildings}))
        add("houses", Counter({(move.from_grid, move.to_grid): move.houses}))
    add("residents", people.residents)
    add("households", people.households)
    add("organisations", people.organisations)
    add("visit_plans", people.visit_plans)
    add("open_events", events.open_events)
    add("closed_events_refiled", events.closed_refiled)
    moves = [
        GridMoveCounts(from_grid=pair[0], to_grid=pair[1], **counts)
        for pair, counts in sorted(rows.items(), key=lambda i: (i[0][0] or "", i[0][1] or ""))
    ]
    return RecutReport(
        community_code=community_code,
        removed=grids.removed,
        added=grids.added,
        moves=moves,
        unplaced=Unplaced(
            buildings=grids.unassigned,
            residents=people.unplaced_residents,
            households=people.unplaced_households,
            organisations=people.unplaced_organisations,
            open_events=events.unplaced_open_events,
        ),
        workers_to_reassign=[
            WorkerToReassign(
                staff_id=w.staff_id,
                username=w.username,
                full_name=w.full_name,
                removed_grid=w.removed_grid,
                remaining_grids=w.remaining_grids,
            )
            for w in workers
        ],
        visit_plans_released=people.visit_plans_released,
        former_residents_refiled=people.former_residents,
        warnings=grids.warnings,
    )
