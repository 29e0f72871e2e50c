"""Recurrence detection (重复发生) against a bare ST_ClusterDBSCAN of the same rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, timed

# The same rows and parameters as the default threshold (3 events, 100 m, 30 days): located,
# counted events of the window, clustered per district and category in the Gauss-Krüger zone.
BARE_DBSCAN = text(
    """
    SELECT district_code, category_code, id,
           ST_ClusterDBSCAN(ST_Transform(geom, :srid), :eps, :minpoints)
               OVER (PARTITION BY district_code, category_code) AS cid
    FROM event
    WHERE geom IS NOT NULL AND status NOT IN ('voided', 'refused', 'transferred')
      AND reported_at >= :start AND reported_at <= :until
    """
)


def recurrence_figures(engine: Engine, label: str) -> list[Figure]:
    """`events.recurrence.detect` over every district (clusters found, tasks raised, routed;
    rolled back so each repetition starts from no clusters), against the bare DBSCAN query."""
    from events.recurrence import default_threshold, detect
    from gis.config import get_settings

    threshold = default_threshold()
    with Session(engine) as session:
        until = session.execute(text("SELECT max(reported_at) FROM event")).scalar()
        if until is None:
            return []
        start = until - timedelta(days=threshold.window_days)
        params = {
            "srid": get_settings().metric_srid,
            "eps": threshold.radius_m,
            "minpoints": threshold.min_events,
            "start": start,
            "until": until,
        }
        rows = session.execute(BARE_DBSCAN, params).all()
        events = len(rows)
        clusters = len({(d, c, n) for d, c, _, n in rows if n is not None})

        def ours() -> None:
            detect(session, until=until, now=until)
            session.rollback()

        ours()  # warm
        mine = min(timed(ours) for _ in range(3))
        bare = min(timed(lambda: session.execute(BARE_DBSCAN, params).all()) for _ in range(3))
    return [
        Figure(
            f"recurrence detection ({label}; {events:,} events in 30 days, {clusters} clusters)",
            "time",
            mine * 1000,
            "ms",
            "bare ST_ClusterDBSCAN of the same rows",
            bare * 1000,
        )
    ]
