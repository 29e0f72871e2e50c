"""The residents and ledger tests' city: grids A and B with a building of two houses each, a
grid worker per grid, an admin, a leader and an inspector; with helpers that write ledger files
(台账) and import them into it."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy.orm import Session

from people.ledger import COLUMNS, LedgerImportReport, import_residents
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    add_house,
    add_staff,
    admin_tree,
    id_number,
    square,
)

GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
TODAY = date(2026, 11, 22)
HEADERS = [c.header for c in COLUMNS]


def build_residents_city(session: Session) -> dict[str, Any]:
    """Two grids with a building each (two houses per building), a worker per grid, an admin,
    a district leader and a district inspector."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, GRID_A, square(111.28, 30.70, 0.01))
    add_grid(session, GRID_B, square(111.29, 30.70, 0.01))
    building_a = add_building(session, "BA", square(111.281, 30.701, 0.0002), GRID_A)
    building_b = add_building(session, "BB", square(111.291, 30.701, 0.0002), GRID_B)
    for building in (building_a, building_b):
        add_house(session, building, room="0101")
        add_house(session, building, floor=2, room="0201")
    return {
        "session": session,
        "worker_a": add_staff(session, "worker_a", "grid_worker", grid_codes=[GRID_A]),
        "worker_b": add_staff(session, "worker_b", "grid_worker", grid_codes=[GRID_B]),
        "admin": add_staff(session, "boss", "admin"),
        "leader": add_staff(session, "leader", "leader", area_code="420502000000"),
        "inspector": add_staff(session, "inspector", "inspector", area_code="420502000000"),
    }


def person(sequence: int = 11, **fields: Any) -> dict[str, Any]:
    """A row of the ledger by Chinese header; `fields` use the English keys of COLUMNS (any
    other name is taken as a header, for columns that are not the ledger's)."""
    values: dict[str, Any] = {
        "name": "张三",
        "doc_type": "居民身份证",
        "doc_number": id_number(sequence),
        "phone": "13812345678",
        "residence_type": "户籍人口",
        "house_code": "BA-1-0101",
        "moved_in": "2020-01-01",
    }
    values.update(fields)
    headers = {c.key: c.header for c in COLUMNS}
    return {headers.get(key, key): value for key, value in values.items()}


def write_rows(
    path: Path,
    rows: list[dict[str, Any]],
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8-sig",
) -> Path:
    """A ledger file (.csv or .xlsx by suffix): the header, then one line per row dict."""
    if header is None:
        keys = {k for r in rows for k in r}
        header = [h for h in HEADERS if h in keys] + sorted(keys - set(HEADERS))
    lines = [[r.get(h) for h in header] for r in rows]
    if path.suffix == ".xlsx":
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(header)
        for line in lines:
            sheet.append(line)
        for cell in (c for row in sheet.iter_rows() for c in row if isinstance(c.value, str)):
            cell.data_type = "s"  # text as typed into a text cell, never a formula
        workbook.save(path)
    else:
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(["" if v is None else v for v in line] for line in lines)
    return path


def run(
    city: dict[str, Any], path: Path, actor: str = "admin", **kwargs: Any
) -> LedgerImportReport:
    """Import the ledger file at `path` as the city's `actor`, today being TODAY."""
    return import_residents(city["session"], actor=city[actor], path=path, today=TODAY, **kwargs)


def read_back(path: Path) -> list[list[Any]]:
    """Every row of a .csv or .xlsx file, as text ('' for blank)."""
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            return [
                ["" if v is None else str(v) for v in row]
                for row in workbook.worksheets[0].iter_rows(values_only=True)
            ]
        finally:
            workbook.close()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))
