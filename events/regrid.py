"""After a re-cut (网格调整): events follow the new grids; called by api/recut.py in the
re-cut's transaction.

An open event goes to the grid that now covers its point, by the same rule as a new report
(`grid.service.locate_point`: lowest code on a shared boundary, the nearest grid within the
tolerance, else no grid). A closed event (closed, voided, self-resolved) keeps its historical
grid code: the figures of the past do not change. Only when the re-cut removed that code,
which the event can no longer point at, is a closed event filed under the grid now covering
its point; those are counted apart (`closed_refiled`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from events.models import Event
from events.workflow import FINAL_STATES
from grid import service as grid_service
from grid.models import Grid

__all__ = ["EventRegrid", "reassign_events"]

Pair = tuple[str | None, str | None]
# Events this close (in degrees, ~110 m) to a new grid are looked at again: the locate
# tolerance (30 m by default) may now give them that grid.
_NEAR_DEGREES = 0.001


@dataclass
class EventRegrid:
    """Events by (old grid, new grid); None is no grid.

    `open_events` counts every open event of the re-cut grids, moved or not (equal codes:
    stayed); `closed_refiled` counts closed events whose removed grid code had to change.
    """

    open_events: Counter[Pair] = field(default_factory=Counter)
    closed_refiled: Counter[Pair] = field(default_factory=Counter)
    unplaced_open_events: list[str] = field(default_factory=list)


def reassign_events(session: Session, *, grid_codes: Iterable[str]) -> EventRegrid:
    """Re-locate the events of these grids (old and new codes of a re-cut); flushes only.

    Candidates are events assigned to one of `grid_codes` and events near a grid of them.
    """
    codes = sorted(set(grid_codes))
    result = EventRegrid()
    if not codes:
        return result
    session.flush()
    rows = session.execute(
        text(
            f"""
            SELECT e.id, e.code, e.grid_code, e.status, ST_X(e.geom), ST_Y(e.geom)
            FROM event e
            WHERE e.grid_code = ANY(:codes)
               OR EXISTS (SELECT 1 FROM grid g WHERE g.code = ANY(:codes)
                          AND ST_DWithin(g.geom, e.geom, {_NEAR_DEGREES}))
            ORDER BY e.code
            """
        ).bindparams(bindparam("codes", type_=ARRAY(String))),
        {"codes": codes},
    ).all()
    old_codes = {row[2] for row in rows if row[2] is not None}
    existing = set(session.scalars(select(Grid.code).where(Grid.code.in_(old_codes))))
    final = {status.value for status in FINAL_STATES} | {status.name for status in FINAL_STATES}
    for event_id, code, old, status, lon, lat in rows:
        closed = str(status) in final
        if closed and (old is None or old in existing):
            continue  # history keeps its grid
        located = grid_service.locate_point(session, lon=lon, lat=lat, crs="cgcs2000")
        new = located.grid.code if located.grid else None
        if closed:
            result.closed_refiled[(old, new)] += 1
        elif new != old or old in codes:
            result.open_events[(old, new)] += 1
            if new is None:
                result.unplaced_open_events.append(str(code))
        if new == old:
            continue
        event = session.get(Event, int(event_id))
        assert event is not None
        event.grid_code = new
        event.locate_match = located.match
        if located.community is not None:
            event.community_code = located.community.code
        if located.street is not None:
            event.street_code = located.street.code
    session.flush()
    return result
