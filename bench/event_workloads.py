"""Workloads of the event loop: report → dispatched, and KPIs over many events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from bench.common import Figure, admin_actor, percentiles, timed


def _points(engine: Engine, n: int, seed: int = 11) -> list[tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM building "
                "ORDER BY id LIMIT :n) s"
            ),
            {"n": n},
        ).all()
    rng = np.random.default_rng(seed)
    return [(x + rng.normal(0, 0.0002), y + rng.normal(0, 0.0002)) for x, y in rows]


def report_figures(engine: Engine, label: str, n: int = 500) -> list[Figure]:
    """Report → dispatched (committed) p50/p99 and events/s, against inserting the row only."""
    from events.catalog import Priority
    from events.models import Event, EventCategory, EventSource, EventStatus
    from events.schemas import EventReport
    from events.service import report_event

    points = _points(engine, n)
    codes = ["0102", "0201", "0601", "0701", "1001", "0404"]
    with Session(engine) as session:
        actor = admin_actor(session)
        category = session.scalar(select(EventCategory).where(EventCategory.code == "0102"))
        session.commit()
        assert category is not None
        ours, bare = [], []
        now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        for i, (lon, lat) in enumerate(points):
            report = EventReport(
                category=codes[i % len(codes)], lon=lon, lat=lat, description="基准测试上报"
            )
            t0 = time.perf_counter()
            report_event(
                session,
                actor=actor,
                report=report,
                idempotency_key=f"bench-{i}",
                now=now + timedelta(seconds=i),
            )
            session.commit()
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            event_id = session.execute(text("SELECT month_stamped_id('event_id_seq')")).scalar_one()
            session.add(
                Event(
                    id=event_id,
                    code=f"BENCH-{event_id}",
                    category_id=category.id,
                    category_code=category.code,
                    priority=Priority.NORMAL,
                    status=EventStatus.REGISTERED,
                    source=EventSource.GRID_WORKER,
                    description="基准测试",
                    geom=f"SRID=4490;POINT({lon} {lat})",
                    locate_match="inside",
                    district_code="420502",
                    reported_at=now,
                )
            )
            session.commit()
            bare.append(time.perf_counter() - t0)
    (p50, p99), (b50, b99) = percentiles(ours), percentiles(bare)
    name = f"report → dispatched, committed ({label})"
    baseline = "insert the event row only, committed"
    return [
        Figure(name, "p50", p50, "ms", baseline, b50),
        Figure(name, "p99", p99, "ms", baseline, b99),
        Figure(
            name, "events/s", len(ours) / sum(ours), "events/s", baseline, len(bare) / sum(bare)
        ),
    ]


def kpi_figures(engine: Engine) -> list[Figure]:
    """KPIs by unit over every event, against a bare grouped count of the same events."""
    from events.kpis import kpis

    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        actor = admin_actor(session)
        session.commit()
        kpis(session, actor=actor, start=start, end=end, by="unit")  # warm
        ours = min(
            timed(lambda: kpis(session, actor=actor, start=start, end=end, by="unit"))
            for _ in range(3)
        )
        bare = min(
            timed(
                lambda: session.execute(
                    text("SELECT unit_id, count(*) FROM event GROUP BY unit_id")
                ).all()
            )
            for _ in range(3)
        )
        events = session.execute(text("SELECT count(*) FROM event")).scalar_one()
    return [
        Figure(
            f"KPIs by unit ({events} events)",
            "time",
            ours * 1000,
            "ms",
            "bare GROUP BY unit_id count",
            bare * 1000,
        )
    ]


def bulletin_figures(engine: Engine, label: str) -> list[Figure]:
    """The monthly 考核通报 (evaluation bulletin) of the busiest month, against a bare GROUP BY of
    the same counts over the events in the same run.

    Ours: `events.bulletin.monthly_bulletin` by unit (JSON), and the whole workbook (a sheet per
    grouping: unit, department, street, community, grid worker) from `bulletin_workbook`.
    Baseline: closed events of the month counted per unit with one `GROUP BY unit_id`, and per
    each of the five groupings (five such statements) for the workbook.
    """
    from events.bulletin import bulletin_workbook, monthly_bulletin

    with Session(engine) as session:
        actor = admin_actor(session)
        session.commit()
        month = session.execute(
            text(
                "SELECT to_char(closed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') "
                "FROM event_evaluation GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar()
        if month is None:
            return []
        bulletin = monthly_bulletin(session, actor=actor, month=month, by="unit")  # warm
        start, end = bulletin.start, bulletin.end
        ours = min(
            timed(lambda: monthly_bulletin(session, actor=actor, month=month, by="unit"))
            for _ in range(3)
        )
        closed = (
            "FROM event e {join} WHERE e.status IN ('closed', 'self_resolved') "
            "AND e.closed_at >= :start AND e.closed_at < :end GROUP BY {key}"
        )
        bare_sql = {
            key: text(f"SELECT {key}, count(*) " + closed.format(join=join, key=key))
            for key, join in (
                ("e.unit_id", ""),
                ("u.department_id", "LEFT JOIN department_unit u ON u.id = e.unit_id"),
                ("e.street_code", ""),
                ("e.community_code", ""),
                ("e.reporter_id", ""),
            )
        }
        window = {"start": start, "end": end}
        bare = min(
            timed(lambda: session.execute(bare_sql["e.unit_id"], window).all()) for _ in range(3)
        )
        workbook = min(
            timed(lambda: bulletin_workbook(session, actor=actor, month=month)) for _ in range(3)
        )
        bare_all = min(
            timed(lambda: [session.execute(sql, window).all() for sql in bare_sql.values()])
            for _ in range(3)
        )
        events = session.execute(text("SELECT count(*) FROM event")).scalar_one()
        cases = sum(row.cases for row in bulletin.rows)
    name = f"monthly bulletin, {events:,} events ({label}; {month}: {cases:,} cases)"
    return [
        Figure(
            name,
            "by unit (JSON)",
            ours * 1000,
            "ms",
            "bare GROUP BY unit_id count of the month's closed events",
            bare * 1000,
        ),
        Figure(
            name,
            "xlsx, 5 sheets",
            workbook * 1000,
            "ms",
            "5 bare GROUP BY counts (unit, department, street, community, reporter)",
            bare_all * 1000,
        ),
    ]
