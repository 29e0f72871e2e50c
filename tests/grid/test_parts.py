"""City parts (城市部件): the catalogue, reads with their filters and scope, the check of a part an
event names, and imports that report every bad row by number and write nothing then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from pyproj import Geod
from shapely import Point, box
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grid import parts
from grid.exceptions import ImportRejected, InvalidQuery, NotFound
from grid.importer import ImportReport
from tests.factories import feature_collection
from tests.grid.parts_city import (
    BIN,
    COVER,
    LAMP,
    LAMP_WEST,
    POINTS,
    WJG_LAMP,
    add_part,
    build_parts_city,
)

WEST, EAST = "420502001001001", "420502001001002"
GEOD = Geod(ellps="WGS84")


@pytest.fixture
def parts_city(session: Session) -> dict[str, Any]:
    return build_parts_city(session)


def stored(session: Session) -> dict[str, tuple[Any, ...]]:
    """Every stored part by code: (type, name, state, owner id, lon, lat), by independent SQL."""
    rows = session.execute(
        text(
            "SELECT code, type_code, name, state::text, owner_unit_id, "
            "round(ST_X(geom)::numeric, 6), round(ST_Y(geom)::numeric, 6) FROM city_part"
        )
    )
    return {r[0]: (r[1], r[2], r[3], r[4], float(r[5]), float(r[6])) for r in rows}


# --- catalogue --------------------------------------------------------------------------------


def test_the_catalogue_gives_both_code_schemes_of_the_published_types():
    lamp = parts.part_type("0118")
    assert (lamp.name, lamp.major_name, lamp.gbt47678_code, lamp.checked) == (
        "路灯",
        "公用设施",
        "01037",
        True,
    )
    assert parts.part_type("01037") == lamp == parts.part_type("路灯")
    assert parts.part_type("03005").name == "垃圾箱"


def test_an_unknown_type_is_refused_with_the_choices():
    with pytest.raises(InvalidQuery, match="0118 路灯"):
        parts.part_type("9999")


def test_types_whose_codes_are_not_checked_say_so_and_carry_no_new_code():
    unchecked = [t for t in parts.part_types().values() if not t.checked]
    assert unchecked
    assert all(t.gbt47678_code is None for t in unchecked)


# --- reads ------------------------------------------------------------------------------------


def test_list_in_a_district_by_code_with_type_owner_and_grid(parts_city):
    page = parts.list_parts(parts_city["session"], districts=("420502",))
    assert [p.code for p in page.items] == [COVER, LAMP, LAMP_WEST, BIN]
    assert page.total == 4
    lamp = page.items[1]
    assert (lamp.type.name, lamp.type.gbt47678_code, lamp.grid_code) == ("路灯", "01037", EAST)
    assert lamp.owner is not None and lamp.owner.name == "西陵区路灯管理所"
    assert (lamp.lon, lamp.lat) == POINTS[LAMP]
    assert page.items[0].owner is None and page.items[0].state_label == "丢失"
    assert page.items[2].grid_code == WEST
    assert page.items[3].grid_code is None  # north of every grid


def test_filters_by_major_class_type_state_owner_grid_and_bbox(parts_city):
    session = parts_city["session"]

    def codes(**filters: Any) -> list[str]:
        return [p.code for p in parts.list_parts(session, **filters).items]

    assert codes(part_type_code="01") == [COVER, LAMP, LAMP_WEST, WJG_LAMP]
    assert codes(part_type_code="路灯") == [LAMP, LAMP_WEST, WJG_LAMP]
    assert codes(part_type_code="01037", districts=("420503",)) == [WJG_LAMP]
    assert codes(state="损坏") == [LAMP_WEST]
    assert codes(state="damaged") == [LAMP_WEST]
    assert codes(owner_unit_id=parts_city["squad"].id) == [BIN]
    assert codes(grid_code=EAST) == [COVER, LAMP]
    assert codes(bbox="111.29,30.70,111.30,30.72") == [COVER, LAMP, BIN]


def test_paging_keeps_the_total(parts_city):
    page = parts.list_parts(parts_city["session"], page=2, page_size=2)
    assert page.total == 5
    assert [p.code for p in page.items] == [LAMP_WEST, BIN]


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"state": "broken"}, "not a known part state"),
        ({"part_type_code": "0999"}, "not in the catalogue"),
        ({"bbox": "111.3,30.7,111.2,30.8"}, "empty"),
        ({"page_size": 1001}, "page_size"),
    ],
)
def test_bad_filters_are_refused_with_a_sentence(parts_city, filters, words):
    with pytest.raises(InvalidQuery, match=words):
        parts.list_parts(parts_city["session"], **filters)


def test_another_districts_part_reads_as_missing(parts_city):
    session = parts_city["session"]
    assert parts.get_part(session, code=WJG_LAMP, districts=("420503",)).code == WJG_LAMP
    with pytest.raises(NotFound, match="does not exist"):
        parts.get_part(session, code=WJG_LAMP, districts=("420502",))
    assert parts.get_part(session, code=WJG_LAMP).owner.name == "伍家岗区路灯所"


# --- the part an event names ------------------------------------------------------------------


def _at(code: str, metres: float) -> tuple[float, float]:
    """A point `metres` due north of the part (geodesic, computed apart from PostGIS)."""
    lon, lat, _ = GEOD.fwd(*POINTS[code], 0, metres)
    return lon, lat


def test_a_part_within_100_m_is_named_with_its_owner(parts_city):
    lon, lat = _at(LAMP, 99.5)
    named = parts.part_named(
        parts_city["session"], code=LAMP, district_code="420502", lon=lon, lat=lat
    )
    assert named.owner_unit_id == parts_city["lamps"].id
    assert named.type_name == "路灯"
    assert named.distance_m == pytest.approx(99.5, abs=0.2)


def test_a_part_just_past_100_m_is_refused(parts_city):
    lon, lat = _at(LAMP, 100.5)
    with pytest.raises(InvalidQuery, match=r"is 100\.5 m from the event's point"):
        parts.part_named(parts_city["session"], code=LAMP, district_code="420502", lon=lon, lat=lat)


def test_a_part_of_another_district_is_refused_even_when_near(parts_city):
    lon, lat = 111.2995, 30.705  # 西陵's grid EAST, 77 m west of 伍家岗's lamp
    with pytest.raises(InvalidQuery, match="in district 420503, not in the event's district"):
        parts.part_named(
            parts_city["session"], code=WJG_LAMP, district_code="420502", lon=lon, lat=lat
        )


@pytest.mark.parametrize(
    ("code", "words"),
    [("4205020118999999", "does not exist"), ("42050201180001", "not a 16-digit")],
)
def test_an_unknown_or_malformed_part_is_refused(parts_city, code, words):
    with pytest.raises(InvalidQuery, match=words):
        parts.part_named(
            parts_city["session"], code=code, district_code="420502", lon=111.2921, lat=30.7051
        )


# --- imports ----------------------------------------------------------------------------------


def rejected(session: Session, path: Path) -> ImportReport:
    with pytest.raises(ImportRejected) as info:
        parts.import_parts(session, path=path)
    return info.value.report


def by_row(report: ImportReport) -> dict[int, str]:
    found: dict[int, str] = {}
    for rejection in report.rejected:
        assert rejection.row is not None
        found[rejection.row] = found.get(rejection.row, "") + rejection.reason
    return found


def test_a_geojson_file_is_imported_with_owners_by_code_or_name(parts_city, tmp_path):
    session = parts_city["session"]
    path = feature_collection(
        tmp_path / "parts.geojson",
        [
            (
                {"code": "4205020118000010", "owner": "LD-1", "name": "路灯10号"},
                Point(111.285, 30.703),
            ),
            (
                {"code": "4205020305000010", "owner": "西陵街道城管中队", "state": "占用"},
                Point(111.295, 30.708),
            ),
        ],
    )
    report = parts.import_parts(session, path=path)
    assert (report.total, report.imported, report.rejected) == (2, 2, [])
    rows = stored(session)
    assert rows["4205020118000010"] == (
        "0118",
        "路灯10号",
        "normal",
        parts_city["lamps"].id,
        111.285,
        30.703,
    )
    assert rows["4205020305000010"][2:4] == ("occupied", parts_city["squad"].id)


def test_reimporting_a_code_updates_it_and_keeps_what_the_file_leaves_blank(parts_city, tmp_path):
    session = parts_city["session"]
    path = feature_collection(
        tmp_path / "again.geojson",
        [({"code": LAMP, "state": "损坏"}, Point(111.2922, 30.7052))],
    )
    assert parts.import_parts(session, path=path).imported == 1
    assert stored(session)[LAMP] == (
        "0118",
        "夷陵大道路灯1号",
        "damaged",
        parts_city["lamps"].id,
        111.2922,
        30.7052,
    )
    assert len(stored(session)) == 5


def test_a_csv_with_chinese_headers_and_lon_lat_columns_is_imported(parts_city, tmp_path):
    path = tmp_path / "parts.csv"
    path.write_text(
        "部件编码,小类,经度,纬度,权属单位\n4205020101000020,上水井盖,111.2811,30.7011,\n",
        encoding="utf-8",
    )
    assert parts.import_parts(parts_city["session"], path=path).imported == 1
    assert stored(parts_city["session"])["4205020101000020"] == (
        "0101",
        None,
        "normal",
        None,
        111.2811,
        30.7011,
    )


def test_a_geopackage_is_imported(parts_city, tmp_path):
    path = tmp_path / "parts.gpkg"
    gpd.GeoDataFrame(
        {"code": ["4205020402000001"], "name": ["行道树"]},
        geometry=[Point(111.286, 30.706)],
        crs="EPSG:4490",
    ).to_file(path, driver="GPKG")
    assert parts.import_parts(parts_city["session"], path=path).imported == 1
    assert stored(parts_city["session"])["4205020402000001"][0] == "0402"


def test_every_bad_csv_row_is_reported_by_number_and_nothing_is_written(parts_city, tmp_path):
    session = parts_city["session"]
    before = stored(session)
    path = tmp_path / "bad.csv"
    path.write_text(
        "\n".join(
            [
                "code,type,lon,lat,owner,state",
                "4205020118000030,路灯,111.281,30.701,LD-1,正常",  # 1: good
                "420502011800003,路灯,111.281,30.701,,",  # 2: 15 digits
                "4205029999000001,,111.281,30.701,,",  # 3: class not in the catalogue
                "4205020118000031,垃圾箱,111.281,30.701,,",  # 4: type disagrees
                "4205020118000030,路灯,111.282,30.701,,",  # 5: duplicate of row 1
                "4205020118000032,,111.281,30.701,NO-SUCH,",  # 6: unknown owner
                "4205020118000033,,111.281,30.701,WJG-LD,",  # 7: owner of another district
                "4205020118000034,,abc,30.701,,",  # 8: lon not a number
                "4205020118000035,,111.305,30.705,,",  # 9: in 伍家岗's grid
                "4205020118000036,,111.281,30.701,,broken",  # 10: unknown state
                "4299990118000001,,111.281,30.701,,",  # 11: county not a district
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    report = rejected(session, path)
    reasons = by_row(report)
    assert sorted(reasons) == list(range(2, 12))
    assert "not 16 digits" in reasons[2]
    assert "not in the part-type catalogue" in reasons[3]
    assert "does not agree with the code" in reasons[4]
    assert "also used by row 1" in reasons[5]
    assert "not a department unit" in reasons[6]
    assert "of district 420503, not of the part's district 420502" in reasons[7]
    assert "lon 'abc' is not a number" in reasons[8]
    assert "in grid 420503001001001" in reasons[9]
    assert "not a known part state" in reasons[10]
    assert "county 429999" in reasons[11]
    assert (report.total, report.imported) == (11, 0)
    assert stored(session) == before  # not even the good row


def test_a_polygon_is_not_a_part(parts_city, tmp_path):
    path = feature_collection(
        tmp_path / "poly.geojson",
        [
            ({"code": "4205020118000040"}, box(111.281, 30.701, 111.282, 30.702)),
            ({"code": "4205020118000041"}, None),
        ],
    )
    reasons = by_row(rejected(parts_city["session"], path))
    assert "is a Polygon; a city part is a Point" in reasons[1]
    assert "has no point" in reasons[2]


def test_a_point_outside_the_district_and_every_grid_is_refused(parts_city, tmp_path):
    # 西陵's area in the test tree is 111.28–111.30 × 30.70–30.72; 111.25 is 2.8 km west of it.
    path = feature_collection(
        tmp_path / "far.geojson", [({"code": "4205020118000050"}, Point(111.25, 30.71))]
    )
    assert "outside the district's area" in by_row(rejected(parts_city["session"], path))[1]


def test_a_stored_part_keeps_its_type_in_its_code(parts_city):
    session = parts_city["session"]
    part = add_part(session, "4205020118000060", (111.281, 30.701))
    with pytest.raises(IntegrityError, match="ck_city_part_code_has_type"), session.begin_nested():
        part.type_code = "0101"
        session.flush()


def test_the_demo_seeds_parts_in_every_grid_with_owners_of_their_own_district(parts_city):
    from demo.parts import PARTS_PER_GRID, seed_demo_parts

    session = parts_city["session"]
    before = len(stored(session))
    # both test districts already have parts: nothing is added, the seed is idempotent
    assert seed_demo_parts(session, seed=7) == 0
    session.execute(text("DELETE FROM city_part"))
    added = seed_demo_parts(session, seed=7)
    grids = session.execute(text("SELECT count(*) FROM grid")).scalar()
    assert added == grids * PARTS_PER_GRID and before == 5
    problems = session.execute(
        text(
            """
            SELECT p.code FROM city_part p
            LEFT JOIN department_unit u ON u.id = p.owner_unit_id
            WHERE u.id IS NULL OR u.district_code <> p.district_code
               OR NOT EXISTS (SELECT 1 FROM grid g WHERE ST_Covers(g.geom, p.geom)
                              AND g.district_code = p.district_code)
            """
        )
    ).all()
    assert problems == []
    again = stored(session)
    session.execute(text("DELETE FROM city_part"))
    assert seed_demo_parts(session, seed=7) == added
    assert stored(session) == again  # the same seed gives the same parts
