"""The 楼盘表 of the largest building against a bare query of the same rows.

Ours: `api.households.building_households` for the building with the most houses — the
building and its houses, residents, floating residents and special groups per house, its
organisations and open events (with their lights), laid out as floors × units — and the page
rendered from it. Baseline, in the same run on the same database: one plain SQL statement
returning the same per-house counts (houses left-joined to active residents and live
special-group memberships), with no layout, no scope checks and no events.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, admin_actor, timed

RUNS = 7

BARE = text(
    "SELECT h.id, h.unit, h.floor, h.room, h.use, count(DISTINCT r.id), "
    "count(DISTINCT r.id) FILTER (WHERE r.residence_type = 'floating'), "
    "count(sg.id) FILTER (WHERE sg.ended_on IS NULL) "
    "FROM house h LEFT JOIN resident r ON r.house_id = h.id AND r.active "
    "LEFT JOIN special_group sg ON sg.resident_id = r.id "
    "WHERE h.building_id = :b GROUP BY h.id, h.unit, h.floor, h.room, h.use "
    "ORDER BY h.floor DESC, h.unit, h.room"
)


def household_figures(engine: Engine, label: str) -> list[Figure]:
    """The largest building's 楼盘表 (API answer, and page) against the bare per-house query."""
    from api.households import building_households
    from maps.building import render_building

    now = datetime.now(UTC)
    with Session(engine) as session:
        actor = admin_actor(session)
        row = session.execute(
            text(
                "SELECT b.id, b.code, count(*) FROM building b JOIN house h "
                "ON h.building_id = b.id GROUP BY b.id, b.code ORDER BY count(*) DESC, b.code "
                "LIMIT 1"
            )
        ).one()
        building_id, code, houses = row
        table_s = [
            timed(lambda: building_households(session, actor=actor, code=code, now=now))
            for _ in range(RUNS)
        ]
        page_s = [
            timed(
                lambda: render_building(
                    building_households(session, actor=actor, code=code, now=now).model_dump(),
                    grid_link=None,
                    event_link=None,
                )
            )
            for _ in range(RUNS)
        ]
        bare_s = [
            timed(lambda: session.execute(BARE, {"b": building_id}).all()) for _ in range(RUNS)
        ]
        session.rollback()
    name = f"楼盘表 of the largest building ({label}, {houses} houses)"
    baseline = "one bare SQL query of the same per-house counts"
    bare = statistics.median(bare_s)
    return [
        Figure(name, "API answer (median)", statistics.median(table_s), "s", baseline, bare),
        Figure(name, "page (median)", statistics.median(page_s), "s", baseline, bare),
    ]


__all__ = ["household_figures"]
