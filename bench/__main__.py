"""Benchmark harness: `python -m bench [--only NAME] [--skip-city]` (make bench).

Every figure is reported beside a baseline measured in the same run on the same data, and as a
ratio to it, because absolute times on a shared machine drift from run to run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gis import local_pg
from gis.config import get_settings
from gis.migrate import upgrade

RESULTS_DIR = Path(__file__).resolve().parent
console = Console()


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its in-run baseline."""

    workload: str
    metric: str
    value: float
    unit: str
    baseline: str
    baseline_value: float

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("nan")


@contextmanager
def bench_database(name: str) -> Iterator[Engine]:
    """A freshly created and migrated database for one workload, dropped afterwards."""
    settings = get_settings()
    if settings.uses_local_cluster:
        local_pg.up(settings)
    url = make_url(settings.sqlalchemy_url).set(database=f"gridgov_bench_{name}")
    url_text = url.render_as_string(hide_password=False)
    local_pg.drop_database(url_text)
    local_pg.ensure_database(url_text)
    upgrade(url_text)
    engine = create_engine(url_text)
    try:
        yield engine
    finally:
        engine.dispose()
        local_pg.drop_database(url_text)


def _seed(engine: Engine, scale: str) -> float:
    from grid.demo import seed_demo_city

    started = time.perf_counter()
    with Session(engine) as session:
        seed_demo_city(session, scale=scale)
        session.commit()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


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


def locate_workload(scale: str, n: int = 2000) -> list[Figure]:
    """locate_point p50/p99 against the bare point-in-polygon query on the same points."""
    from grid.service import locate_point

    with bench_database(f"locate_{scale}") as engine:
        _seed(engine, scale)
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
    (p50, p99), (b50, b99) = _percentiles(ours), _percentiles(raw)
    name = f"locate_point @ {grids} grids"
    baseline = "bare ST_Covers query, same points"
    return [
        Figure(name, "p50", p50, "ms", baseline, b50),
        Figure(name, "p99", p99, "ms", baseline, b99),
    ]


def seed_city_workload() -> list[Figure]:
    """`seed demo --scale city` time against a raw COPY of the same buildings."""
    from gis.bulk import copy_rows
    from grid.demo import generate_city

    with bench_database("seed_city") as engine:
        seconds = _seed(engine, "city")
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
        _seed(engine, "demo")
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


WORKLOADS: dict[str, Callable[[], list[Figure]]] = {
    "locate_demo": lambda: locate_workload("demo"),
    "locate_city": lambda: locate_workload("city"),
    "seed_city": seed_city_workload,
    "import_buildings": import_workload,
}
CITY_WORKLOADS = {"locate_city", "seed_city"}


def write_results(figures: list[Figure], seconds: float) -> None:
    """bench/results.json and a readable bench/results.md table."""
    payload = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "wall_seconds": round(seconds, 1),
        "figures": [asdict(f) | {"ratio": round(f.ratio, 3)} for f in figures],
    }
    (RESULTS_DIR / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    lines = [
        "| workload | metric | value | baseline | baseline value | ratio |",
        "|---|---|---|---|---|---|",
    ]
    table = Table(
        "workload",
        "metric",
        "value",
        "baseline",
        "baseline value",
        "ratio",
        title="gridgov benchmarks",
    )
    for f in figures:
        cells = [
            f.workload,
            f.metric,
            f"{f.value:,.2f} {f.unit}",
            f.baseline,
            f"{f.baseline_value:,.2f} {f.unit}",
            f"{f.ratio:.2f}×",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        table.add_row(*cells)
    (RESULTS_DIR / "results.md").write_text("\n".join(lines) + "\n")
    console.print(table)


def main() -> None:
    """Run the chosen workloads and write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(WORKLOADS),
        help="run only this workload (repeatable)",
    )
    parser.add_argument(
        "--skip-city", action="store_true", help="skip the city-scale workloads (20,000 grids)"
    )
    args = parser.parse_args()
    names = args.only or [n for n in WORKLOADS if not (args.skip_city and n in CITY_WORKLOADS)]
    started = time.perf_counter()
    figures: list[Figure] = []
    for name in names:
        console.print(f"[bold]{name}[/bold] …")
        t0 = time.perf_counter()
        figures.extend(WORKLOADS[name]())
        console.print(f"  done in {time.perf_counter() - t0:.1f} s")
    write_results(figures, time.perf_counter() - started)


if __name__ == "__main__":
    main()
