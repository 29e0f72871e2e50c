"""The leader overview map against the naive map of the same data: GeoDataFrame.explore().

Ours: the data behind `/maps/leader` for the whole city (aggregated in PostGIS, generalised
geometry, compact columnar properties, canvas) rendered to the served page. Baseline, in the
same run on the same database: the raw grids read with geopandas, the same measure (open
events per grid) joined on, and `GeoDataFrame.explore(column=...)` rendered to HTML — what
a notebook would do. Both build times include their queries. The KPI panel, which the page
loads after the map, is timed against one `events.kpis` call by grid.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import geopandas as gpd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, admin_actor


def _ours(engine: Engine, now: datetime) -> tuple[float, int, int]:
    """Seconds to gather and render the overview page, its bytes, and grids drawn."""
    from api.map_data import leader_data
    from maps.leader import render_leader
    from maps.model import View

    with Session(engine) as session:
        actor = admin_actor(session)
        started = time.perf_counter()
        data, tolerance = leader_data(
            session,
            actor=actor,
            area=None,
            days=30,
            category=None,
            measure="open",
            now=now,
            panel_url="/maps/leader/panel?days=30",
        )
        html = render_leader(data, View(), tolerance=tolerance)
        seconds = time.perf_counter() - started
        session.rollback()
    return seconds, len(html.encode("utf-8")), len(data.grids)


def _explore(engine: Engine) -> tuple[float, int]:
    """Seconds to read the raw grids with the measure and render explore(), and its bytes."""
    started = time.perf_counter()
    grids = gpd.read_postgis(
        "SELECT g.code, g.name, g.community_code, g.district_code, g.grid_type::text, "
        "g.households, g.geom, coalesce(o.n, 0) AS open "
        "FROM grid g LEFT JOIN (SELECT grid_code, count(*) AS n FROM event WHERE status IN "
        "('reported','pending','registered','dispatched','signed','handled','verified',"
        "'returned','suspended') GROUP BY grid_code) o ON o.grid_code = g.code ORDER BY g.code",
        engine,
        geom_col="geom",
    )
    m = grids.explore(column="open", cmap="YlOrRd", legend=True)
    html = m.get_root().render()
    return time.perf_counter() - started, len(html.encode("utf-8"))


def map_figures(engine: Engine, label: str) -> list[Figure]:
    """Leader overview build time and HTML size against explore() of the raw grids."""
    now = datetime.now(UTC)
    _ours(engine, now)  # warm the caches for both (the same tables)
    ours_s, ours_bytes, grids = _ours(engine, now)
    _explore(engine)  # the first call also imports matplotlib and mapclassify
    explore_s, explore_bytes = _explore(engine)
    with Session(engine) as session:
        from api.map_data import leader_panel
        from events.kpis import kpis
        from people.access import Actor
        from people.models import StaffRole

        actor = Actor(staff_id=0, username="bench", role=StaffRole.ADMIN)
        started = time.perf_counter()
        leader_panel(session, actor=actor, area=None, days=30, now=now)
        panel_s = time.perf_counter() - started
        started = time.perf_counter()
        kpis(session, actor=actor, start=now - timedelta(days=30), end=now, by="grid", now=now)
        kpis_s = time.perf_counter() - started
        events = session.execute(text("SELECT count(*) FROM event")).scalar_one()
    name = f"leader overview /maps/leader ({label}, {grids} grids, {events} events)"
    baseline = "GeoDataFrame.explore() of the raw grids, same measure"
    return [
        Figure(name, "build time", ours_s, "s", baseline, explore_s),
        Figure(name, "HTML size", ours_bytes / 1e6, "MB", baseline, explore_bytes / 1e6),
        Figure(
            f"leader KPI panel ({label})",
            "time",
            panel_s,
            "s",
            "one events.kpis() call by grid, same period",
            kpis_s,
        ),
    ]


__all__ = ["map_figures"]
