"""Standard addresses (标准地址, the 一标 of 一标三实): the address tree and its stable codes.

The tree runs district → street → community (admin_unit) → road (路巷) → door plate (门牌号)
→ building (楼栋) → unit (单元) → floor (楼层) → room (户室). The rows below the community live
in `std_address`; each building and each house is attached to one (`address_code`).

Codes are digits only and say the path: the 12-digit community code, then a sequence per
level, so a code's length tells its level and its prefix is its parent's code.

    community 12 | road 3 | door 4 | building 4 | unit 2 | floor 3 | room 4
    420502001001   001      0007     0001         01       005      0001   (32 digits)

A building with no door plate hangs on its community with road 000 and door 0000. Each
sequence is one more than the highest ever given under that parent; rows are never deleted,
so a code is never given to another place. Re-running an import finds the road, door plate,
unit, floor and room it made before by their keys (`match_key`: the road name, 夷陵大道121号,
the unit, floor and room labels), and a building's old address when the building comes back
with the same name under the same door plate: codes stay stable across re-imports.

Everything here is set-based SQL over TEMP tables, so the demo city's millions of houses get
their addresses in a few statements, and one house added on a phone in the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from grid.address_text import ROAD_ENDINGS
from grid.exceptions import AddressCodesExhausted, InvalidQuery, NotFound
from grid.models import (
    ADDRESS_CODE_LENGTH,
    AddressLevel,
    AdminLevel,
    AdminUnit,
    Building,
    House,
    StdAddress,
)
from grid.schemas import StdAddressPage, StdAddressRead
from grid.service import house_code

COMMUNITY_DIGITS: Final = 12
MAX_PAGE_SIZE: Final = 200
# Digits of each level's sequence (its code length minus its parent's).
SEQUENCE_DIGITS: Final[dict[AddressLevel, int]] = {
    AddressLevel.ROAD: 3,
    AddressLevel.DOOR: 4,
    AddressLevel.BUILDING: 4,
    AddressLevel.UNIT: 2,
    AddressLevel.FLOOR: 3,
    AddressLevel.ROOM: 4,
}
# A building with no door plate: road 000 and door 0000 under its community.
NO_DOOR: Final = "0" * (SEQUENCE_DIGITS[AddressLevel.ROAD] + SEQUENCE_DIGITS[AddressLevel.DOOR])

BUILDING_STAGE: Final = "_address_building"  # TEMP: the buildings being attached
_HOUSES: Final = "_address_house"  # TEMP: the houses being attached
_NEW: Final = "_address_new"  # TEMP: the addresses of one level about to be added
_CODED: Final = "_address_coded"  # TEMP: the same with their sequence numbers

# The stored address text with full-width digits read as ASCII and no spaces (as
# grid/address_text.normalise reads what a caller says).
_CLEAN = (
    "regexp_replace(translate(coalesce(b.address, ''), '０１２３４５６７８９', '0123456789'), "
    "'\\s', '', 'g')"
)
# A building's part of its address: 12栋 for 前进里社区12栋, else its name, else nothing.
BUILDING_LABEL_SQL: Final = (
    "CASE WHEN b.name_key ~ '#[0-9]+$' THEN split_part(b.name_key, '#', 2) || '栋' "
    "ELSE coalesce(b.name, '') END"
)
_ROAD_ENDING = "(" + "|".join(ROAD_ENDINGS) + ")$"


def _after(text_sql: str, name_sql: str) -> str:
    """SQL: what follows `name` in `text`, or `text` when it does not name it."""
    return (
        f"CASE WHEN {name_sql} IS NOT NULL AND strpos({text_sql}, {name_sql}) > 0 "
        f"THEN substr({text_sql}, strpos({text_sql}, {name_sql}) + length({name_sql})) "
        f"ELSE {text_sql} END"
    )


def temp_table(
    session: Session, table: str, as_sql: str, params: dict[str, Any] | None = None
) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))
    session.execute(text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS {as_sql}"), params or {})
    session.execute(text(f"ANALYZE {table}"))


def drop_tables(session: Session, *tables: str) -> None:
    for table in tables:
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))


# Each level's new rows are selected with these columns (parent: the parent's code, or the
# community's for a road and a building with no door plate; prefix: what the code starts with).
_COLUMNS: Final = (
    "parent, has_parent, prefix, district_code, community_code, parent_code, name, match_key, "
    "full_text, grid_code, geom, sort_key, subject_id"
)


def _add_level(session: Session, level: AddressLevel, rows_sql: str) -> int:
    """Add the addresses `rows_sql` selects (columns `_COLUMNS`), numbering each after the
    highest code its parent ever gave; returns how many. Keeps `_address_coded` (with `code`
    and `subject_id`) for the caller."""
    digits = SEQUENCE_DIGITS[level]
    temp_table(session, _NEW, rows_sql)
    temp_table(
        session,
        _CODED,
        f"""
        WITH top AS (
            SELECT p.parent, max(right(a.code, {digits})::int) AS top
            FROM (SELECT DISTINCT parent, district_code FROM {_NEW} WHERE has_parent) p
            JOIN std_address a ON a.parent_code = p.parent AND a.district_code = p.district_code
            GROUP BY p.parent
            UNION ALL
            SELECT p.parent, max(right(a.code, {digits})::int)
            FROM (SELECT DISTINCT parent FROM {_NEW} WHERE NOT has_parent) p
            JOIN std_address a ON a.community_code = p.parent AND a.parent_code IS NULL
                              AND a.level = '{level.value}'
            GROUP BY p.parent
        )
        SELECT n.*, coalesce(t.top, 0)
                    + row_number() OVER (PARTITION BY n.parent ORDER BY n.sort_key) AS seq
        FROM {_NEW} n LEFT JOIN top t USING (parent)
        """,
    )
    full = session.execute(
        text(f"SELECT parent, max(seq) FROM {_CODED} GROUP BY parent HAVING max(seq) >= :limit"),
        {"limit": 10**digits},
    ).first()
    if full is not None:
        raise AddressCodesExhausted(
            f"{full[0]} would need a {level.label}({level.value}) sequence of {full[1]}, but "
            f"its codes have {digits} digits for that level; split the parent (a new road, "
            "door plate or building) before adding more"
        )
    session.execute(text(f"ALTER TABLE {_CODED} ADD COLUMN code text"))
    session.execute(text(f"UPDATE {_CODED} SET code = prefix || lpad(seq::text, {digits}, '0')"))
    added = session.execute(
        text(
            f"""
            INSERT INTO std_address (code, district_code, level, community_code, parent_code,
                                     name, match_key, full_text, grid_code, geom)
            SELECT code, district_code, '{level.value}', community_code, parent_code,
                   left(name, 100), match_key, left(full_text, 300), grid_code, geom
            FROM {_CODED}
            """
        )
    )
    # Fresh statistics: the next level joins these rows, and a planner that thinks the table
    # is empty picks nested loops that take minutes on a city.
    session.execute(text("ANALYZE std_address"))
    return int(added.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Attached:
    """What an attach step did: addresses added per level, and rows attached."""

    added: dict[str, int]
    buildings: int = 0
    houses: int = 0


def _stage_buildings(session: Session, where: str, params: dict[str, Any]) -> None:
    """The unattached buildings `where` picks, with their community, point and door plate
    read from their address text after the district, street and community names."""
    temp_table(
        session,
        BUILDING_STAGE,
        f"""
        SELECT b.id, b.code AS building_code, b.district_code, b.grid_code, g.community_code,
               d.name || s.name || c.name AS place, ST_PointOnSurface(b.geom) AS point,
               b.name_key,
               {BUILDING_LABEL_SQL} AS label,
               m[1] AS road, m[2]::int AS number, CAST(NULL AS text) AS door_code
        FROM building b
        JOIN grid g ON g.code = b.grid_code AND g.district_code = b.district_code
        JOIN admin_unit c ON c.code = g.community_code
        JOIN admin_unit s ON s.code = substr(g.community_code, 1, 9) || '000'
        JOIN admin_unit d ON d.code = b.district_code || '000000'
        LEFT JOIN LATERAL (
            SELECT {_CLEAN} AS clean
        ) t0 ON true
        LEFT JOIN LATERAL (SELECT {_after("t0.clean", "d.name")} AS rest) t1 ON true
        LEFT JOIN LATERAL (SELECT {_after("t1.rest", "s.name")} AS rest) t2 ON true
        LEFT JOIN LATERAL (SELECT {_after("t2.rest", "c.name")} AS rest) t3 ON true
        LEFT JOIN LATERAL (
            SELECT CASE WHEN r[1] ~ '{_ROAD_ENDING}' THEN r END AS m
            FROM (SELECT regexp_match(t3.rest, '^([^0-9]{{1,40}})([0-9]{{1,5}})号$') AS r) x
        ) t4 ON true
        WHERE b.address_code IS NULL AND {where}
        """,
        params,
    )


def add_roads_and_doors(session: Session, stage: str) -> dict[str, int]:
    """Roads and door plates the staged rows (`road`, `number`, `community_code` …) name and
    the tree lacks; sets each staged row's `door_code`."""
    added = {}
    added["road"] = _add_level(
        session,
        AddressLevel.ROAD,
        f"""
        SELECT DISTINCT ON (s.community_code, s.road)
               s.community_code AS parent, false AS has_parent, s.community_code AS prefix,
               s.district_code, s.community_code, CAST(NULL AS text) AS parent_code,
               s.road AS name, s.road AS match_key, s.place || s.road AS full_text,
               s.grid_code, s.point AS geom, s.road AS sort_key, CAST(NULL AS int) AS subject_id
        FROM {stage} s
        WHERE s.road IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM std_address a
            WHERE a.district_code = s.district_code AND a.parent_code IS NULL
              AND a.community_code = s.community_code AND a.level = 'road'
              AND a.match_key = s.road)
        ORDER BY s.community_code, s.road, s.number, s.point
        """,
    )
    added["door"] = _add_level(
        session,
        AddressLevel.DOOR,
        f"""
        SELECT DISTINCT ON (r.code, s.number)
               r.code AS parent, true AS has_parent, r.code AS prefix, s.district_code,
               s.community_code, r.code AS parent_code, s.number || '号' AS name,
               s.road || s.number || '号' AS match_key,
               r.full_text || s.number || '号' AS full_text,
               s.grid_code, s.point AS geom, lpad(s.number::text, 6, '0') AS sort_key,
               CAST(NULL AS int) AS subject_id
        FROM {stage} s
        JOIN std_address r ON r.district_code = s.district_code AND r.parent_code IS NULL
                          AND r.community_code = s.community_code AND r.level = 'road'
                          AND r.match_key = s.road
        WHERE NOT EXISTS (
            SELECT 1 FROM std_address a
            WHERE a.district_code = s.district_code AND a.parent_code = r.code
              AND a.level = 'door' AND a.match_key = s.road || s.number || '号')
        ORDER BY r.code, s.number, s.point
        """,
    )
    session.execute(
        text(
            f"""
            UPDATE {stage} s SET door_code = a.code
            FROM std_address r
            JOIN std_address a ON a.parent_code = r.code AND a.district_code = r.district_code
                              AND a.level = 'door'
            WHERE s.road IS NOT NULL AND r.district_code = s.district_code
              AND r.parent_code IS NULL AND r.community_code = s.community_code
              AND r.level = 'road' AND r.match_key = s.road
              AND a.match_key = s.road || s.number || '号'
            """
        )
    )
    return added


def attach_buildings(
    session: Session,
    *,
    building_ids: Sequence[int] | None = None,
    district_codes: Sequence[str] | None = None,
) -> Attached:
    """Give each unattached building (of these ids or districts; all when neither is given)
    its standard address, adding the road and door plate its address text names.

    A building outside every grid has no community and stays unattached.
    """
    session.flush()
    where, params = _filter("b", building_ids, district_codes)
    _stage_buildings(session, where, params)
    added = add_roads_and_doors(session, BUILDING_STAGE)
    added["building"], attached = add_staged_buildings(session)
    drop_tables(session, BUILDING_STAGE, _NEW, _CODED)
    session.execute(text("ANALYZE building"))
    session.expire_all()  # building rows changed behind the ORM's back
    return Attached(added=added, buildings=int(attached))


def add_staged_buildings(session: Session) -> tuple[int, int]:
    """Building addresses for the staged buildings, under their `door_code` (or community);
    returns how many addresses were added and how many buildings attached."""
    attached = _reattach_buildings(session)
    added = _add_level(
        session,
        AddressLevel.BUILDING,
        f"""
        SELECT coalesce(s.door_code, s.community_code) AS parent,
               s.door_code IS NOT NULL AS has_parent,
               coalesce(s.door_code, s.community_code || '{NO_DOOR}') AS prefix,
               s.district_code, s.community_code, s.door_code AS parent_code,
               s.label AS name, s.name_key AS match_key,
               coalesce(a.full_text, s.place) || s.label AS full_text,
               s.grid_code, s.point AS geom, s.building_code AS sort_key, s.id AS subject_id
        FROM {BUILDING_STAGE} s
        LEFT JOIN std_address a ON a.code = s.door_code AND a.district_code = s.district_code
        WHERE NOT EXISTS (SELECT 1 FROM building b WHERE b.id = s.id
                          AND b.address_code IS NOT NULL)
        """,
    )
    attached += session.execute(  # type: ignore[attr-defined]
        text(
            f"""
            UPDATE building b SET address_code = c.code
            FROM {_CODED} c WHERE b.id = c.subject_id AND b.address_code IS NULL
            """
        )
    ).rowcount
    return added, int(attached)


def _reattach_buildings(session: Session) -> int:
    """A building that comes back (re-imported) under the same parent with the same name gets
    the building address no other building holds any more; returns how many did."""
    return int(
        session.execute(  # type: ignore[attr-defined]
            text(
                f"""
                WITH free AS (
                    SELECT DISTINCT ON (a.code) a.code, a.district_code, s.id
                    FROM {BUILDING_STAGE} s
                    JOIN std_address a
                      ON a.district_code = s.district_code AND a.level = 'building'
                     AND a.community_code = s.community_code
                     AND a.parent_code IS NOT DISTINCT FROM s.door_code
                     AND a.match_key = s.name_key
                    WHERE NOT EXISTS (SELECT 1 FROM building o WHERE o.address_code = a.code
                                      AND o.district_code = a.district_code)
                    ORDER BY a.code, s.building_code
                ), one AS (
                    SELECT DISTINCT ON (id) id, code FROM free ORDER BY id, code
                )
                UPDATE building b SET address_code = one.code
                FROM one WHERE b.id = one.id AND b.address_code IS NULL
                """
            )
        ).rowcount
    )


def _filter(
    alias: str, ids: Sequence[int] | None, district_codes: Sequence[str] | None
) -> tuple[str, dict[str, Any]]:
    where: list[str] = ["true"]
    params: dict[str, Any] = {}
    if ids is not None:
        where.append(f"{alias}.id = ANY(:ids)")
        params["ids"] = list(ids)
    if district_codes is not None:
        where.append(f"{alias}.district_code = ANY(:districts)")
        params["districts"] = list(district_codes)
    return " AND ".join(where), params


def attach_houses(
    session: Session,
    *,
    house_ids: Sequence[int] | None = None,
    district_codes: Sequence[str] | None = None,
) -> Attached:
    """Give each unattached house (of these ids or districts; all when neither is given) of an
    attached building its room address, adding the unit and floor it needs."""
    session.flush()
    where, params = _filter("h", house_ids, district_codes)
    temp_table(
        session,
        _HOUSES,
        f"""
        SELECT h.id, h.district_code, h.unit, h.floor, h.room, b.address_code AS building_address,
               a.community_code, a.full_text AS building_text, a.grid_code, a.geom AS point
        FROM house h
        JOIN building b ON b.id = h.building_id AND b.district_code = h.district_code
        JOIN std_address a ON a.code = b.address_code AND a.district_code = b.district_code
        WHERE h.address_code IS NULL AND {where}
        """,
        params,
    )
    common = (
        "s.district_code, s.community_code, s.grid_code, s.point AS geom, "
        "CAST(NULL AS int) AS subject_id"
    )
    added = {}
    added["unit"] = _add_level(
        session,
        AddressLevel.UNIT,
        f"""
        SELECT DISTINCT ON (s.building_address, s.unit)
               s.building_address AS parent, true AS has_parent, s.building_address AS prefix,
               s.building_address AS parent_code, s.unit || '单元' AS name,
               s.unit AS match_key, s.building_text || s.unit || '单元' AS full_text,
               lpad(s.unit, 10, '0') AS sort_key, {common}
        FROM {_HOUSES} s
        WHERE NOT EXISTS (SELECT 1 FROM std_address a WHERE a.parent_code = s.building_address
                          AND a.district_code = s.district_code AND a.level = 'unit'
                          AND a.match_key = s.unit)
        ORDER BY s.building_address, s.unit
        """,
    )
    _find_parents(session, "unit_address", AddressLevel.UNIT, "s.building_address", "s.unit")
    floor_name = "CASE WHEN s.floor < 0 THEN '地下' || -s.floor ELSE s.floor::text END || '层'"
    added["floor"] = _add_level(
        session,
        AddressLevel.FLOOR,
        f"""
        SELECT DISTINCT ON (s.unit_address, s.floor)
               s.unit_address AS parent, true AS has_parent, s.unit_address AS prefix,
               s.unit_address AS parent_code, {floor_name} AS name,
               s.floor::text AS match_key,
               s.building_text || s.unit || '单元' || {floor_name} AS full_text,
               lpad((s.floor + 1000)::text, 5, '0') AS sort_key, {common}
        FROM {_HOUSES} s
        WHERE NOT EXISTS (SELECT 1 FROM std_address a WHERE a.parent_code = s.unit_address
                          AND a.district_code = s.district_code AND a.level = 'floor'
                          AND a.match_key = s.floor::text)
        ORDER BY s.unit_address, s.floor
        """,
    )
    _find_parents(session, "floor_address", AddressLevel.FLOOR, "s.unit_address", "s.floor::text")
    added["room"] = _add_level(
        session,
        AddressLevel.ROOM,
        f"""
        SELECT DISTINCT ON (s.floor_address, s.room)
               s.floor_address AS parent, true AS has_parent, s.floor_address AS prefix,
               s.floor_address AS parent_code, s.room || '室' AS name, s.room AS match_key,
               s.building_text || s.unit || '单元' || {floor_name} || s.room || '室'
                   AS full_text,
               lpad(s.room, 20, '0') AS sort_key, {common}
        FROM {_HOUSES} s
        WHERE NOT EXISTS (SELECT 1 FROM std_address a WHERE a.parent_code = s.floor_address
                          AND a.district_code = s.district_code AND a.level = 'room'
                          AND a.match_key = s.room)
        ORDER BY s.floor_address, s.room
        """,
    )
    # (building, unit, floor, room) is unique among houses, so no two get the same room.
    attached = session.execute(  # type: ignore[attr-defined]
        text(
            f"""
            UPDATE house h SET address_code = a.code
            FROM {_HOUSES} s
            JOIN std_address a ON a.parent_code = s.floor_address
                              AND a.district_code = s.district_code AND a.level = 'room'
                              AND a.match_key = s.room
            WHERE h.id = s.id AND h.district_code = s.district_code
            """
        )
    ).rowcount
    drop_tables(session, _HOUSES, _NEW, _CODED)
    session.expire_all()
    return Attached(added=added, houses=int(attached))


def _find_parents(
    session: Session, column: str, level: AddressLevel, parent_sql: str, key_sql: str
) -> None:
    """Add to the staged houses the code of their address at `level` (a new TEMP table built
    by a hash join: updating the stage in place took minutes on the demo city)."""
    staged = f"{_HOUSES}_next"
    temp_table(
        session,
        staged,
        f"""
        SELECT s.*, a.code AS {column}
        FROM {_HOUSES} s
        JOIN std_address a ON a.parent_code = {parent_sql} AND a.district_code = s.district_code
                          AND a.level = '{level.value}' AND a.match_key = {key_sql}
        """,
    )
    drop_tables(session, _HOUSES)
    session.execute(text(f"ALTER TABLE {staged} RENAME TO {_HOUSES}"))


def attach_all(session: Session, *, district_codes: Sequence[str] | None = None) -> Attached:
    """Attach every unattached building and then house (of these districts, or all)."""
    buildings = attach_buildings(session, district_codes=district_codes)
    houses = attach_houses(session, district_codes=district_codes)
    return Attached(
        added={**buildings.added, **houses.added},
        buildings=buildings.buildings,
        houses=houses.houses,
    )


def reassign_addresses(session: Session, *, grid_codes: Sequence[str]) -> int:
    """Give each address in or assigned to these grids the grid now covering its point (the
    lowest code on a shared boundary, NULL outside every grid), after grids were re-cut;
    returns how many changed."""
    if not grid_codes:
        return 0
    changed = session.execute(
        text(
            """
            WITH candidate AS (
                SELECT a.code, a.district_code FROM std_address a
                WHERE a.grid_code = ANY(:codes)
                UNION
                SELECT a.code, a.district_code FROM grid g
                JOIN std_address a ON ST_Covers(g.geom, a.geom)
                WHERE g.code = ANY(:codes)
            ), target AS (
                SELECT c.code, c.district_code, g.code AS grid_code
                FROM candidate c
                JOIN std_address a ON a.code = c.code AND a.district_code = c.district_code
                LEFT JOIN LATERAL (
                    SELECT code FROM grid WHERE ST_Covers(geom, a.geom) ORDER BY code LIMIT 1
                ) g ON true
            )
            UPDATE std_address a SET grid_code = t.grid_code
            FROM target t
            WHERE a.code = t.code AND a.district_code = t.district_code
              AND a.grid_code IS DISTINCT FROM t.grid_code
            """
        ),
        {"codes": list(grid_codes)},
    )
    return int(changed.rowcount)  # type: ignore[attr-defined]


# --- reading ----------------------------------------------------------------------------


def _visible(district_code: str, districts: Sequence[str] | None) -> bool:
    return districts is None or any(district_code.startswith(d) for d in districts)


def _read(session: Session, address: StdAddress) -> StdAddressRead:
    point = to_shape(address.geom)
    building_code = house = None
    if address.level is AddressLevel.BUILDING:
        building_code = session.scalar(
            select(Building.code).where(
                Building.address_code == address.code,
                Building.district_code == address.district_code,
            )
        )
    elif address.level is AddressLevel.ROOM:
        found = session.execute(
            select(Building.code, House.unit, House.room)
            .join(Building, Building.id == House.building_id)
            .where(House.address_code == address.code, House.district_code == address.district_code)
        ).first()
        house = house_code(*found) if found is not None else None
    return StdAddressRead(
        code=address.code,
        level=address.level.value,
        level_label=address.level.label,
        name=address.name,
        full_text=address.full_text,
        parent_code=address.parent_code,
        community_code=address.community_code,
        grid_code=address.grid_code,
        lon=round(point.x, 7),
        lat=round(point.y, 7),
        building_code=building_code,
        house_code=house,
    )


def _check_code(code: str) -> str:
    code = code.strip()
    if not code.isdigit() or not (COMMUNITY_DIGITS <= len(code) <= 32):
        raise InvalidQuery(
            f"address code '{code}' is not a standard-address code: 12 digits for a community, "
            "15 to 32 for a road, door plate, building, unit, floor or room"
        )
    return code


def get_address(
    session: Session, *, code: str, districts: Sequence[str] | None = None
) -> StdAddress:
    """The standard address with that code (in one of `districts`; None: any), or NotFound."""
    address = session.get(StdAddress, _check_code(code))
    if address is None or not _visible(address.district_code, districts):
        raise NotFound(
            f"standard address {code} does not exist; codes are 15 to 32 digits "
            "(community + road + door + building + unit + floor + room)"
        )
    return address


def read_address(
    session: Session, *, code: str, districts: Sequence[str] | None = None
) -> StdAddressRead:
    """One standard address as the API shows it."""
    return _read(session, get_address(session, code=code, districts=districts))


def children_of(
    session: Session, *, code: str, offset: int = 0, limit: int = 50
) -> tuple[int, list[StdAddress]]:
    """The addresses one level below `code` (a community's roads and door-less buildings, or
    an address's children) in code order, and how many there are."""
    code = _check_code(code)
    if len(code) == COMMUNITY_DIGITS:
        where: Any = (StdAddress.community_code == code) & StdAddress.parent_code.is_(None)
    else:
        where = StdAddress.parent_code == code
    where = where & (StdAddress.district_code == code[:6])
    total = session.scalar(select(func.count()).select_from(StdAddress).where(where)) or 0
    rows = session.scalars(
        select(StdAddress).where(where).order_by(StdAddress.code).offset(offset).limit(limit)
    ).all()
    return int(total), list(rows)


def list_children(
    session: Session,
    *,
    code: str,
    page: int = 1,
    size: int = 50,
    districts: Sequence[str] | None = None,
) -> StdAddressPage:
    """A page of the addresses below a community or an address, in code order."""
    code = _check_code(code)
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidQuery(f"page must be 1 or more and page_size 1..{MAX_PAGE_SIZE}")
    if len(code) == COMMUNITY_DIGITS:
        community = session.get(AdminUnit, code)
        if (
            community is None
            or community.level is not AdminLevel.COMMUNITY
            or not _visible(community.district_code, districts)
        ):
            raise NotFound(f"community {code} does not exist; give a 12-digit community code")
    else:
        get_address(session, code=code, districts=districts)
    total, rows = children_of(session, code=code, offset=(page - 1) * size, limit=size)
    return StdAddressPage(
        total=total, page=page, page_size=size, items=[_read(session, a) for a in rows]
    )


def level_of(code: str) -> AddressLevel | None:
    """The level a code's length says (None for a length no level has)."""
    for level, length in ADDRESS_CODE_LENGTH.items():
        if len(code) == length:
            return level
    return None
