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
from sqlalchemy.orm import Session

from api.schemas import GridMoveCounts, RecutReport, Unplaced, WorkerToReassign
from events.regrid import reassign_events
from grid.recut import NewGrid, recut_community
from people.regrid import grid_workers, reassign_grids, restore_worker_scopes

__all__ = ["recut"]


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
