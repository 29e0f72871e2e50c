"""Benchmark harness: `python -m bench [--only NAME] [--skip-city]` (make bench).

Every figure is reported beside a baseline measured in the same run on the same data, and as a
ratio to it, because absolute times on a shared machine drift from run to run.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bench.address_workloads import address_city_workload, address_figures, address_workload
from bench.common import Figure, bench_database, seed_city
from bench.event_workloads import bulletin_figures, kpi_figures, report_figures
from bench.frame import import_workload, locate_figures, seed_city_figures
from bench.hotspot_workloads import hotspot_figures
from bench.household_workloads import household_figures
from bench.http_workloads import http_list_figures, http_workload
from bench.map_workloads import map_figures
from bench.patrol_workloads import patrol_workload
from bench.people_workloads import (
    ledger_import_workload,
    ledger_memory_workload,
    population_stats_figures,
)
from bench.recurrence_workloads import recurrence_figures
from bench.rental_workloads import rental_figures
from bench.sensor_workloads import sensor_workload
from bench.soak_workloads import SOAK_SECONDS, soak_workload
from bench.tile_workloads import tile_figures, tile_workload

RESULTS_DIR = Path(__file__).resolve().parent
console = Console()


def _seed_everything(engine: Engine, scale: str) -> None:
    """People, units, events and the Open311 key on top of a seeded city (one transaction)."""
    from demo import seed_all
    from demo.city.scales import DEFAULT_SEED

    with Session(engine) as session:
        seed_all(session, scale=scale, seed=DEFAULT_SEED)
        session.commit()


_SHOWN: set[int] = set()


def shown(figures: list[Figure]) -> list[Figure]:
    """Print each figure as soon as it is measured (a city run takes hours; a crash late in it
    must not lose what came before), once."""
    for f in figures:
        if id(f) not in _SHOWN:
            _SHOWN.add(id(f))
            console.print(
                f"  {f.workload} · {f.metric}: [bold]{f.value:,.2f} {f.unit}[/bold] "
                f"({f.ratio:.2f}× {f.baseline}: {f.baseline_value:,.2f} {f.unit})"
            )
    return figures


def demo_workload() -> list[Figure]:
    """At demo scale (200 grids): locate_point, report → dispatched, the maps, the monthly
    bulletin and the hot spots."""
    with bench_database("demo") as engine:
        seed_city(engine, "demo")
        figures = shown(locate_figures(engine))
        _seed_everything(engine, "demo")
        figures += shown(report_figures(engine, "demo city, 200 grids"))
        figures += shown(map_figures(engine, "demo city"))
        figures += shown(household_figures(engine, "demo city"))
        figures += shown(rental_figures(engine, "demo city"))
        figures += shown(bulletin_figures(engine, "demo city"))
        figures += shown(hotspot_figures(engine, "demo city"))
        figures += shown(recurrence_figures(engine, "demo city"))
    return figures


def recurrence_workload() -> list[Figure]:
    """At demo scale: recurrence detection against a bare ST_ClusterDBSCAN of the same rows
    (also measured inside "demo"; this runs it alone, in its own database)."""
    with bench_database("recurrence") as engine:
        seed_city(engine, "demo")
        _seed_everything(engine, "demo")
        return shown(recurrence_figures(engine, "demo city"))


def city_workload() -> list[Figure]:
    """At city scale: seeding, locate_point, statistics, report → dispatched, KPIs and the
    monthly bulletin of 1,000,000 events."""
    with bench_database("city") as engine:
        figures = shown(seed_city_figures(engine))
        figures += shown(locate_figures(engine))
        figures += shown(tile_figures(engine, "city"))
        started = time.perf_counter()
        _seed_everything(engine, "city")
        console.print(f"  people, units and events seeded in {time.perf_counter() - started:.0f} s")
        for measure in (
            population_stats_figures,
            kpi_figures,
            lambda e: bulletin_figures(e, "city"),
            lambda e: http_list_figures(e, "city"),
            lambda e: report_figures(e, "city, 20,000 grids"),
            lambda e: map_figures(e, "city"),
            lambda e: household_figures(e, "city"),
            lambda e: rental_figures(e, "city"),
            lambda e: address_figures(e, "city"),
        ):
            figures += shown(measure(engine))
    return figures


WORKLOADS: dict[str, Callable[[], list[Figure]]] = {
    "demo": demo_workload,
    "http": http_workload,
    "tiles": tile_workload,
    "sensors": sensor_workload,
    "patrols": patrol_workload,
    "import_buildings": import_workload,
    "import_residents": ledger_import_workload,
    "import_memory": ledger_memory_workload,
    "city": city_workload,
    "soak": soak_workload,
    "addresses": address_workload,
    "addresses_city": address_city_workload,
    "recurrence": recurrence_workload,
}
CITY_WORKLOADS = {"city", "import_memory", "addresses_city"}
# Run only when named: the full run measures the same figures inside "city" (one seeding).
BY_NAME_ONLY = {"addresses_city", "recurrence"}  # recurrence: inside "demo" too


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
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=SOAK_SECONDS,
        help=f"how long the soak workload runs (default {SOAK_SECONDS:.0f} s)",
    )
    args = parser.parse_args()
    WORKLOADS["soak"] = functools.partial(soak_workload, args.soak_seconds)
    names = args.only or [
        n
        for n in WORKLOADS
        if n not in BY_NAME_ONLY and not (args.skip_city and n in CITY_WORKLOADS)
    ]
    started = time.perf_counter()
    figures: list[Figure] = []
    for name in names:
        console.print(f"[bold]{name}[/bold] …")
        t0 = time.perf_counter()
        figures.extend(shown(WORKLOADS[name]()))
        console.print(f"  done in {time.perf_counter() - t0:.1f} s")
    write_results(figures, time.perf_counter() - started)


if __name__ == "__main__":
    main()
