"""Writing the demo city into the database with COPY (`seed_demo_city`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from demo.arrays import Array, Progress
from demo.city.generate import SeedSummary, generate_city
from demo.city.scales import DEFAULT_SEED, DemoSeedError, city_scale
from demo.writing import batch_progress, reserve_ids
from gis.bulk import copy_rows
from gis.db import STORAGE_SRID
from grid.models import AdminLevel
from grid.std_address import attach_all

# --------------------------------------------------------------------------- seeding


def _count_present(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """Counts of what the districts `codes` already hold."""
    params = {"codes": list(codes)}
    rows = session.execute(
        text(
            "SELECT level::text, count(*) FROM admin_unit "
            "WHERE district_code = ANY(:codes) GROUP BY level"
        ),
        params,
    ).all()
    levels = {str(level): int(n) for level, n in rows}
    grids = session.execute(
        text("SELECT count(*) FROM grid WHERE district_code = ANY(:codes)"), params
    ).scalar_one()
    buildings = session.execute(
        text("SELECT count(*) FROM building WHERE district_code = ANY(:codes)"), params
    ).scalar_one()
    houses = session.execute(
        text(
            "SELECT count(*) FROM house h JOIN building b ON b.id = h.building_id "
            "WHERE b.district_code = ANY(:codes)"
        ),
        params,
    ).scalar_one()
    return {
        "districts": int(levels.get(AdminLevel.DISTRICT.value, 0)),
        "streets": int(levels.get(AdminLevel.STREET.value, 0)),
        "communities": int(levels.get(AdminLevel.COMMUNITY.value, 0)),
        "grids": int(grids),
        "buildings": int(buildings),
        "houses": int(houses),
    }


def _delete_districts(session: Session, codes: Sequence[str]) -> None:
    """Delete the districts' houses, buildings, grids and admin units (children first)."""
    params = {"codes": list(codes)}
    statements = (
        "DELETE FROM house WHERE district_code = ANY(:codes)",
        "UPDATE building SET address_code = NULL WHERE district_code = ANY(:codes)",
        # Deleting districts is the one place addresses go: the codes go with the districts.
        "DELETE FROM std_address WHERE district_code = ANY(:codes)",
        "DELETE FROM building WHERE district_code = ANY(:codes) OR grid_code IN "
        "(SELECT code FROM grid WHERE district_code = ANY(:codes))",
        "DELETE FROM grid WHERE district_code = ANY(:codes)",
        "DELETE FROM admin_unit WHERE district_code = ANY(:codes) AND level = 'community'",
        "DELETE FROM admin_unit WHERE district_code = ANY(:codes) AND level = 'street'",
        "DELETE FROM admin_unit WHERE district_code = ANY(:codes) AND level = 'district'",
    )
    try:
        with session.begin_nested():
            for statement in statements:
                session.execute(text(statement), params)
    except IntegrityError as exc:
        raise DemoSeedError(
            f"cannot replace districts {', '.join(codes)}: other rows (residents, events, "
            "staff …) still refer to their grids or buildings; delete those first or seed "
            f"into an empty database ({exc.orig})"
        ) from exc


def _ewkb(geoms: Array) -> list[str]:
    """Hex EWKB (SRID 4490) of each geometry, as COPY reads it."""
    return list(shapely.to_wkb(shapely.set_srid(geoms, STORAGE_SRID), hex=True, include_srid=True))


def _copy(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    total: int,
    on_progress: Progress | None,
) -> int:
    """COPY rows into `table`, reporting progress under the stage name "<table>s"."""
    on_batch = batch_progress(on_progress, f"{table}s", total)
    return copy_rows(session, table=table, columns=columns, rows=rows, on_batch=on_batch)


def seed_demo_city(
    session: Session,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    replace: bool = False,
    on_progress: Progress | None = None,
) -> SeedSummary:
    """Write the demo city of `scale` into the session's transaction (never commits).

    When the scale's districts exist already, nothing is written and the summary counts what
    is there (`already_present=True`); `replace=True` deletes those districts' rows first.
    `on_progress(stage, done, total)` reports "generate", then "admin_units", "grids",
    "buildings" and "houses" as they are copied, then "addresses" (标准地址, grid/std_address.py).
    """
    spec = city_scale(scale)
    codes = spec.district_codes
    session.flush()
    present = session.execute(
        text("SELECT count(*) FROM admin_unit WHERE code = ANY(:codes)"),
        {"codes": [c + "000000" for c in codes]},
    ).scalar_one()
    if present and not replace:
        # A city seeded before standard addresses existed gets them now (none when it has).
        attach_all(session, district_codes=list(codes))
        return SeedSummary(
            scale=spec.name, seed=seed, already_present=True, **_count_present(session, codes)
        )
    if on_progress:
        on_progress("generate", 0, 1)
    city = generate_city(scale=scale, seed=seed)
    if on_progress:
        on_progress("generate", 1, 1)
    if present:
        _delete_districts(session, codes)

    a = city.admin_units
    # Parents before children, so the self-referencing foreign key is satisfied row by row.
    level_rank = {
        AdminLevel.DISTRICT.value: 0,
        AdminLevel.STREET.value: 1,
        AdminLevel.COMMUNITY.value: 2,
    }
    order = sorted(range(len(a)), key=lambda i: (level_rank[str(a.level[i])], str(a.code[i])))
    admin_wkb = _ewkb(a.geom)
    _copy(
        session,
        "admin_unit",
        ("code", "name", "level", "parent_code", "district_code", "geom"),
        (
            (a.code[i], a.name[i], a.level[i], a.parent_code[i], a.district_code[i], admin_wkb[i])
            for i in order
        ),
        len(a),
        on_progress,
    )

    g = city.grids
    _copy(
        session,
        "grid",
        ("code", "name", "community_code", "district_code", "grid_type", "households", "geom"),
        zip(
            g.code.tolist(),
            g.name.tolist(),
            g.community_code.tolist(),
            g.district_code.tolist(),
            g.grid_type.tolist(),
            g.households.tolist(),
            _ewkb(g.geom),
            strict=True,
        ),
        len(g),
        on_progress,
    )

    b = city.buildings
    ids = reserve_ids(session, "building", len(b))
    _copy(
        session,
        "building",
        ("id", "code", "name", "address", "floors", "use", "grid_code", "district_code", "geom"),
        zip(
            ids.tolist(),
            b.code.tolist(),
            b.name,
            b.address.tolist(),
            b.floors.tolist(),
            b.use.tolist(),
            b.grid_code.tolist(),
            b.district_code.tolist(),
            _ewkb(b.geom),
            strict=True,
        ),
        len(b),
        on_progress,
    )

    h = city.houses
    _copy(
        session,
        "house",
        ("building_id", "district_code", "unit", "floor", "room", "use", "area_m2"),
        zip(
            ids[h.building].tolist(),
            b.district_code[h.building].tolist(),
            h.unit.tolist(),
            h.floor.tolist(),
            h.room.tolist(),
            h.use.tolist(),
            h.area_m2.tolist(),
            strict=True,
        ),
        len(h),
        on_progress,
    )

    # Fresh statistics so the planner uses the spatial indexes on the new rows right away.
    for table in ("admin_unit", "grid", "building", "house"):
        session.execute(text(f"ANALYZE {table}"))
    if on_progress:
        on_progress("addresses", 0, 1)
    attach_all(session, district_codes=list(codes))  # 标准地址 of every building and house
    session.execute(text("ANALYZE std_address"))
    if on_progress:
        on_progress("addresses", 1, 1)
    session.expire_all()
    return SeedSummary(
        scale=spec.name,
        seed=seed,
        districts=city.count(AdminLevel.DISTRICT),
        streets=city.count(AdminLevel.STREET),
        communities=city.count(AdminLevel.COMMUNITY),
        grids=len(g),
        buildings=len(b),
        houses=len(h),
        already_present=False,
    )
