"""Workloads of the resident ledger: imports against raw COPY, memory, statistics."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, admin_actor, bench_database, seed_city, timed

HEADER = ["姓名", "证件类型", "证件号码", "联系电话", "人口类型", "流出地", "房屋编码", "入住日期"]


def write_ledger_csv(engine: Engine, path: Path, rows: int, *, seed: int = 3) -> None:
    """A valid ledger CSV of `rows` residents living in the database's houses."""
    from sqlalchemy import select

    from grid.models import Building, House
    from grid.service import HOUSE_CODE
    from people.documents import make_id_number

    with Session(engine) as session:
        houses = list(
            session.scalars(
                select(HOUSE_CODE)
                .select_from(House)
                .join(Building, House.building_id == Building.id)
            )
        )
    rng = np.random.default_rng(seed)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            # Distinct (birth date, sequence) pairs keep every number unique.
            birth = date(1950, 1, 1) + timedelta(days=i % 20_000)
            number = make_id_number("420502", birth, (i // 20_000) % 1000)
            floating = rng.random() < 0.25
            writer.writerow(
                [
                    surnames[i % len(surnames)] + given[(i * 7) % len(given)],
                    "居民身份证",
                    number,
                    f"13{rng.integers(0, 10)}{rng.integers(10_000_000, 99_999_999)}",
                    "流动人口" if floating else "户籍人口",
                    "湖北省恩施州" if floating else "",
                    houses[i % len(houses)],
                    "2024-03-01",
                ]
            )


def _raw_copy_seconds(engine: Engine, csv_path: Path) -> float:
    """COPY the same file into an unindexed table of text columns."""
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with engine.begin() as conn:
        conn.execute(
            text(f"DROP TABLE IF EXISTS raw_ledger; CREATE UNLOGGED TABLE raw_ledger ({columns})")
        )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        with csv_path.open(encoding="utf-8") as handle:
            cursor.copy_expert("COPY raw_ledger FROM STDIN WITH (FORMAT csv, HEADER true)", handle)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def _import_seconds(engine: Engine, path: Path) -> tuple[float, int]:
    from people.ledger import import_residents

    with Session(engine) as session:
        actor = admin_actor(session)
        session.commit()
        started = time.perf_counter()
        report = import_residents(session, actor=actor, path=path)
        session.commit()
        seconds = time.perf_counter() - started
    if report.rejected_rows:
        raise RuntimeError(
            f"bench ledger had {report.rejected_rows} rejected rows: {report.rejected[:3]}"
        )
    return seconds, report.imported


def _csv_to_xlsx(csv_path: Path, xlsx_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    with csv_path.open(encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    book.save(xlsx_path)


def ledger_import_workload(csv_rows: int = 100_000, xlsx_rows: int = 20_000) -> list[Figure]:
    """Resident import rows/s from CSV and .xlsx against a raw COPY of the same rows."""
    figures = []
    for fmt, rows in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        with bench_database(f"ledger_{fmt}") as engine, tempfile.TemporaryDirectory() as tmp:
            seed_city(engine, "demo")
            source = Path(tmp) / "ledger.csv"
            write_ledger_csv(engine, source, rows)
            path = source
            if fmt == "xlsx":
                path = Path(tmp) / "ledger.xlsx"
                _csv_to_xlsx(source, path)
            copy_seconds = _raw_copy_seconds(engine, source)
            seconds, imported = _import_seconds(engine, path)
        figures.append(
            Figure(
                f"import residents ({imported} rows, .{fmt})",
                "rows/s",
                imported / seconds,
                "rows/s",
                "raw COPY of the same rows into an unindexed table",
                rows / copy_seconds,
            )
        )
    return figures


MEMORY_PROBE = """
import json, resource, sys, time
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from bench.common import admin_actor
url, path, do_import = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
engine = create_engine(url)
from people.ledger import import_residents
with Session(engine) as session:
    actor = admin_actor(session)
    session.commit()
    started = time.perf_counter()
    imported = 0
    if do_import:
        report = import_residents(session, actor=actor, path=Path(path))
        session.commit()
        imported = report.imported
    seconds = time.perf_counter() - started
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": seconds, "imported": imported}))
"""


def ledger_memory_workload(rows: int = 2_000_000) -> list[Figure]:
    """Peak memory of a 2,000,000-row CSV import against the same process doing no import."""
    with bench_database("ledger_memory") as engine, tempfile.TemporaryDirectory() as tmp:
        seed_city(engine, "demo")
        source = Path(tmp) / "ledger.csv"
        write_ledger_csv(engine, source, rows)
        url = engine.url.render_as_string(hide_password=False)

        def probe(do_import: bool) -> dict[str, float]:
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, url, str(source), "1" if do_import else "0"],
                check=True,
                capture_output=True,
                text=True,
            )
            figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
            return figures

        idle = probe(False)
        busy = probe(True)
    return [
        Figure(
            f"import residents ({int(busy['imported'])} rows, .csv)",
            "peak RSS",
            busy["rss_kb"] / 1024,
            "MB",
            "same process, imports loaded, no import",
            idle["rss_kb"] / 1024,
        ),
        Figure(
            f"import residents ({int(busy['imported'])} rows, .csv)",
            "rows/s",
            busy["imported"] / busy["seconds"],
            "rows/s",
            "(memory run; no baseline)",
            busy["imported"] / busy["seconds"],
        ),
    ]


def population_stats_figures(engine: Engine) -> list[Figure]:
    """Per-grid population statistics at city scale against a bare grouped count."""
    from people.stats import population_stats

    with Session(engine) as session:
        actor = admin_actor(session)
        session.commit()
        population_stats(session, actor=actor, level="grid")  # warm
        ours = min(
            timed(lambda: population_stats(session, actor=actor, level="grid")) for _ in range(3)
        )
        bare = min(
            timed(
                lambda: session.execute(
                    text("SELECT grid_code, count(*) FROM resident WHERE active GROUP BY grid_code")
                ).all()
            )
            for _ in range(3)
        )
        residents = session.execute(text("SELECT count(*) FROM resident")).scalar_one()
    return [
        Figure(
            f"population_stats by grid ({residents} residents)",
            "time",
            ours * 1000,
            "ms",
            "bare GROUP BY grid_code count",
            bare * 1000,
        )
    ]
