"""Workload of the 研判 analysis: Gi* hot spots of a district's grids for the busiest week."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, admin_actor, timed


def hotspot_figures(engine: Engine, label: str) -> list[Figure]:
    """Hot spots of the district with most grids for the busiest ISO week, against a bare
    GROUP BY of the same rows in the same run.

    Ours: `events.hotspots.hotspots` (scope checks, the grid adjacency self-join, counts of the
    week and the week before, two Gi* runs, classes), the adjacency alone, and the weekly
    研判 report (`events.weekly_report`: hot spots, categories, unit KPIs) with its workbook.
    Baseline: the week's events counted per grid with one `GROUP BY grid_code`.
    """
    from events.hotspots import grid_adjacency, hotspots
    from events.weekly_report import weekly_report, weekly_workbook

    with Session(engine) as session:
        actor = admin_actor(session)
        session.commit()
        district = session.execute(
            text("SELECT district_code FROM grid GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ).scalar()
        week = session.execute(
            text(
                "SELECT to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'IYYY-\"W\"IW') "
                "FROM event WHERE district_code = :d GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ),
            {"d": district},
        ).scalar()
        if district is None or week is None:
            return []
        first = weekly_report(session, actor=actor, district=district, week=week)  # warm
        start, end = first.start, first.end
        ours = min(
            timed(lambda: hotspots(session, actor=actor, district=district, start=start, end=end))
            for _ in range(3)
        )
        adjacency = min(
            timed(lambda: grid_adjacency(session, district_code=district)) for _ in range(3)
        )
        report = min(
            timed(
                lambda: weekly_workbook(
                    weekly_report(session, actor=actor, district=district, week=week)
                )
            )
            for _ in range(3)
        )
        bare_sql = text(
            "SELECT grid_code, count(*) FROM event WHERE district_code = :d "
            "AND grid_code IS NOT NULL AND status <> 'voided' "
            "AND reported_at >= :start AND reported_at < :end GROUP BY grid_code"
        )
        window = {"d": district, "start": start, "end": end}
        bare = min(timed(lambda: session.execute(bare_sql, window).all()) for _ in range(3))
        grids = session.execute(
            text("SELECT count(*) FROM grid WHERE district_code = :d"), {"d": district}
        ).scalar_one()
    name = f"hot spots ({label}; district {district}, {grids:,} grids, {week})"
    baseline = "bare GROUP BY grid_code count of the week's events"
    return [
        Figure(name, "Gi* hot spots (JSON model)", ours * 1000, "ms", baseline, bare * 1000),
        Figure(name, "grid adjacency (self-join)", adjacency * 1000, "ms", baseline, bare * 1000),
        Figure(name, "weekly 研判 report + xlsx", report * 1000, "ms", baseline, bare * 1000),
    ]
