"""Workloads of the spatial frame: locate a point, seed the city, import buildings."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, bench_database, percentiles, seed_city


def _sample_points(engine: Engine, n: int, seed: int = 7) -> list[tuple[float, float]]:
    """Points spread over the seeded grids' extent (some fall outside every grid)."""
    with engine.connect() as conn:
        xmin, ymin, xmax, ymax = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom)::geometry AS e FROM grid) s"
            )
        ).one()
    rng = np.random.default_rng(seed)
    return list(
        zip(rng.uniform(xmin, xmax, n).tolist(), rng.uniform(ymin, ymax, n).tolist(), strict=True)
    )


def locate_figures(engine: Engine, n: int = 2000) -> list[Figure]:
    """locate_point p50/p99 against the bare point-in-polygon query on the same points."""
    from grid.service import locate_point

    points = _sample_points(engine, n)
    raw, ours = [], []
    with Session(engine) as session:
        for lon, lat in points[:50]:  # warm caches for both
            locate_point(session, lon=lon, lat=lat)
        bare = text(
            "SELECT code FROM grid WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), "
            "4490)) ORDER BY code LIMIT 1"
        )
        for lon, lat in points:
            t0 = time.perf_counter()
            session.execute(bare, {"x": lon, "y": lat}).all()
            raw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            locate_point(session, lon=lon, lat=lat)
            ours.append(time.perf_counter() - t0)
        grids = session.execute(text("SELECT count(*) FROM grid")).scalar_one()
    (p50, p99), (b50, b99) = percentiles(ours), percentiles(raw)
    name = f"locate_point @ {grids} grids"
    baseline = "bare ST_Covers query, same points"
    return [
        Figure(name, "p50", p50, "ms", baseline, b50),
        Figure(name, "p99", p99, "ms", baseline, b99),
    ]


def seed_city_figures(engine: Engine) -> list[Figure]:
    """`seed demo --scale city` (grids, buildings, houses) against a raw COPY of the buildings."""
    from demo.city.generate import generate_city
    from gis.bulk import copy_rows

    seconds = seed_city(engine, "city")
    with engine.connect() as conn:
        buildings = conn.execute(text("SELECT count(*) FROM building")).scalar_one()
    city = generate_city(scale="city")
    with bench_database("copy_city") as engine, Session(engine) as session:
        session.execute(text("CREATE UNLOGGED TABLE raw_building (code text, geom geometry)"))
        started = time.perf_counter()
        copy_rows(
            session,
            table="raw_building",
            columns=["code", "geom"],
            rows=zip(city.buildings.code, city.buildings.geom, strict=True),
        )
        session.commit()
        copy_seconds = time.perf_counter() - started
    return [
        Figure(
            f"seed demo --scale city ({buildings} buildings)",
            "time",
            seconds,
            "s",
            "raw COPY of the same buildings (code, geom)",
            copy_seconds,
        )
    ]


def import_workload(rows: int = 50_000) -> list[Figure]:
    """Building import rows/s against a raw COPY of the same rows."""
    from gis.bulk import copy_rows
    from grid import importer, io

    with bench_database("import") as engine:
        seed_city(engine, "demo")
        with tempfile.TemporaryDirectory() as tmp, Session(engine) as session:
            exported = Path(tmp) / "buildings.gpkg"
            io.export_buildings(session, path=exported)
            frame = io.read_features(exported)
            # Enough rows for a stable figure: copies of the demo buildings with new codes.
            copies = -(-rows // len(frame))
            big = frame.loc[frame.index.repeat(copies)].head(rows).reset_index(drop=True)
            big["code"] = [f"BENCH{i:08d}" for i in range(len(big))]
            session.execute(text("DELETE FROM house; DELETE FROM building"))
            session.commit()
            source = Path(tmp) / "many.gpkg"
            io.write_features(big, source)

            started = time.perf_counter()
            report = importer.import_buildings(session, path=source)
            session.commit()
            import_seconds = time.perf_counter() - started

            session.execute(text("CREATE UNLOGGED TABLE raw_building (LIKE building)"))
            started = time.perf_counter()
            copy_rows(
                session,
                table="raw_building",
                columns=["id", "code", "district_code", "use", "geom"],
                rows=(
                    (i, c, "420502", "residential", g)
                    for i, (c, g) in enumerate(zip(big["code"], big.geometry, strict=True))
                ),
            )
            session.commit()
            copy_seconds = time.perf_counter() - started
    return [
        Figure(
            f"import buildings ({report.imported} rows, GeoPackage)",
            "rows/s",
            report.imported / import_seconds,
            "rows/s",
            "raw COPY of the same rows",
            rows / copy_seconds,
        )
    ]
