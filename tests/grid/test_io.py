"""Grid and building files: the four formats, their CRS and encodings, and the round trip
export → delete → import that must keep every feature and attribute."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from geoalchemy2.shape import to_shape
from shapely import MultiPolygon, box
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from grid.exceptions import UnreadableFile, UnsupportedFormat
from grid.importer import import_buildings, import_grids
from grid.io import FileFormat, export_buildings, export_grids, file_format, read_features
from grid.models import Building, BuildingUse, Grid, GridType
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    admin_tree,
    feature_collection,
    metre_box,
    square,
)

WEST, EAST = COMMUNITY + "001", COMMUNITY + "002"
OTHER_COMMUNITY = "420502001002"
FORMATS = [".geojson", ".json", ".gpkg", ".shp", ".csv"]


@pytest.fixture
def two_community_city(session: Session) -> Session:
    """Two communities side by side; three grids with Chinese names; four buildings."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    admin_tree(session, community_geom=square(111.30, 30.70, 0.02), community=OTHER_COMMUNITY)
    west = add_grid(session, WEST, MultiPolygon([box(111.28, 30.70, 111.29, 30.72)]), "西山网格")
    west.households = 420
    add_grid(session, EAST, MultiPolygon([box(111.29, 30.70, 111.30, 30.72)]), "学院街专属网格")
    session.get(Grid, EAST).grid_type = GridType.DEDICATED  # type: ignore[union-attr]
    add_grid(session, OTHER_COMMUNITY + "001", square(111.30, 30.70, 0.02), "云集网格")
    add_building(
        session,
        "B-001",
        metre_box(111.285, 30.71, 20, 12),
        WEST,
        name="桃花岭1栋",
        address="西陵区西陵一路18号",
        floors=6,
        use=BuildingUse.RESIDENTIAL,
    )
    add_building(
        session,
        "B-002",
        metre_box(111.295, 30.71, 40, 30),
        EAST,
        name="学院街商场",
        address=None,
        floors=None,
        use=BuildingUse.COMMERCIAL,
    )
    add_building(session, "B-003", metre_box(111.292, 30.703, 15, 15), EAST, use=BuildingUse.MIXED)
    add_building(
        session,
        "B-101",
        metre_box(111.31, 30.71, 25, 10),
        OTHER_COMMUNITY + "001",
        name="云集小区2栋",
        floors=18,
        use=BuildingUse.OFFICE,
    )
    session.flush()
    return session


def _grids(session: Session) -> list[tuple[object, ...]]:
    return [
        (g.code, g.name, g.community_code, g.grid_type, g.households, to_shape(g.geom).normalize())
        for g in session.scalars(select(Grid).order_by(Grid.code))
    ]


def _buildings(session: Session) -> list[tuple[object, ...]]:
    return [
        (
            b.code,
            b.name,
            b.address,
            b.floors,
            b.use,
            b.grid_code,
            b.district_code,
            to_shape(b.geom).normalize(),
        )
        for b in session.scalars(select(Building).order_by(Building.code))
    ]


def _same(before: list[tuple[object, ...]], after: list[tuple[object, ...]]) -> None:
    assert [row[:-1] for row in after] == [row[:-1] for row in before]
    for old, new in zip(before, after, strict=True):
        assert shapely.equals_exact(old[-1], new[-1], tolerance=1e-9), old[0]


@pytest.mark.parametrize("suffix", FORMATS)
def test_export_delete_import_round_trip_keeps_every_feature_and_attribute(
    two_community_city, tmp_path, suffix
):
    grids_before, buildings_before = _grids(two_community_city), _buildings(two_community_city)
    grid_file, building_file = tmp_path / f"grids{suffix}", tmp_path / f"buildings{suffix}"
    assert export_grids(two_community_city, path=grid_file) == 3
    assert export_buildings(two_community_city, path=building_file) == 4

    two_community_city.execute(delete(Building))
    two_community_city.execute(delete(Grid))
    two_community_city.expire_all()
    assert import_grids(two_community_city, path=grid_file).imported == 3
    assert import_buildings(two_community_city, path=building_file).imported == 4
    two_community_city.expire_all()

    _same(grids_before, _grids(two_community_city))
    _same(buildings_before, _buildings(two_community_city))


@pytest.mark.parametrize("suffix", FORMATS)
def test_exports_are_in_cgcs2000_lon_lat(two_community_city, tmp_path, suffix):
    path = tmp_path / f"grids{suffix}"
    export_grids(two_community_city, path=path)
    frame = gpd.read_file(path, engine="pyogrio")
    if suffix != ".csv":  # CSV carries no CRS; its WKT is lon/lat in EPSG:4490 by convention
        assert frame.crs.to_epsg() == 4490
    west = frame.geometry.iloc[0] if suffix != ".csv" else shapely.from_wkt(frame["WKT"].iloc[0])
    assert west.bounds == pytest.approx((111.28, 30.70, 111.29, 30.72))


def test_shapefile_gets_short_field_names_and_a_utf8_cpg(two_community_city, tmp_path):
    path = tmp_path / "grids.shp"
    export_grids(two_community_city, path=path)
    assert path.with_suffix(".cpg").read_text().strip().upper() == "UTF-8"
    fields = list(pyogrio.read_info(path)["fields"])
    assert fields == ["code", "name", "comm_code", "grid_type", "households"]
    assert all(len(name) <= 10 for name in fields)
    frame = gpd.read_file(path, engine="pyogrio")
    assert list(frame["name"]) == ["西山网格", "学院街专属网格", "云集网格"]


def test_gbk_shapefile_without_cpg_keeps_its_chinese_names(tmp_path):
    path = tmp_path / "old.shp"
    frame = gpd.GeoDataFrame(
        {"code": [WEST], "name": ["桃花岭网格"]}, geometry=[square(111.28, 30.7, 0.01)], crs=4490
    )
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    frame = read_features(path)
    assert frame["name"].tolist() == ["桃花岭网格"]
    assert frame.crs.to_epsg() == 4490


def test_csv_export_has_a_wkt_column_first(two_community_city, tmp_path):
    path = tmp_path / "buildings.csv"
    export_buildings(two_community_city, path=path)
    header = path.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "WKT,code,name,address,floors,use,grid_code"


def test_csv_export_carries_formula_text_inert_and_reimports_it_unchanged(
    two_community_city, tmp_path
):
    building = two_community_city.scalar(select(Building).where(Building.code == "B-001"))
    assert building is not None
    building.name, building.address = '=HYPERLINK("http://evil.example","点我")', "+西陵一路18号"
    two_community_city.flush()
    before = _buildings(two_community_city)
    path = tmp_path / "buildings.csv"
    export_buildings(two_community_city, path=path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        cells = [cell for line in csv.reader(handle) for cell in line]
    assert "'+西陵一路18号" in cells
    assert not any(cell.startswith(tuple("=+-@\t\r＝＋－＠")) for cell in cells)

    two_community_city.execute(delete(Building))
    two_community_city.expire_all()
    assert import_buildings(two_community_city, path=path).imported == 4
    two_community_city.expire_all()
    _same(before, _buildings(two_community_city))


def test_export_filters_by_community_or_street_code(two_community_city, tmp_path):
    path = tmp_path / "g.geojson"
    assert export_grids(two_community_city, path=path, area_code=COMMUNITY) == 2
    assert export_grids(two_community_city, path=path, area_code=OTHER_COMMUNITY) == 1
    assert export_grids(two_community_city, path=path, area_code="420502001000") == 3  # the street
    assert export_buildings(two_community_city, path=path, area_code=COMMUNITY) == 3
    assert export_buildings(two_community_city, path=path, area_code=OTHER_COMMUNITY + "001") == 1
    codes = gpd.read_file(path, engine="pyogrio")["code"].tolist()
    assert codes == ["B-101"]


def test_export_of_an_empty_area_writes_an_empty_file(two_community_city, tmp_path):
    path = tmp_path / "none.gpkg"
    assert export_grids(two_community_city, path=path, area_code="420502009") == 0
    assert len(gpd.read_file(path, engine="pyogrio")) == 0


def test_gauss_kruger_shapefile_is_transformed_to_the_right_place(two_community_city, tmp_path):
    in_metres = gpd.GeoDataFrame(
        {"code": ["GK-1"], "name": ["高斯楼"]},
        geometry=[metre_box(111.285, 30.71, 20, 12)],
        crs="EPSG:4490",
    ).to_crs(4546)
    assert in_metres.total_bounds[0] > 100_000  # really metres: CM 111° E zone, no prefix
    path = tmp_path / "gk.shp"
    in_metres.to_file(path, engine="pyogrio")

    import_buildings(two_community_city, path=path)
    stored = two_community_city.scalars(select(Building).where(Building.code == "GK-1")).one()
    assert stored.grid_code == WEST
    assert shapely.equals_exact(
        to_shape(stored.geom).normalize(), metre_box(111.285, 30.71, 20, 12).normalize(), 1e-8
    )


@pytest.mark.parametrize("name", ["grids.xlsx", "grids.kml", "grids"])
def test_unknown_suffix_is_refused_naming_the_accepted_ones(two_community_city, tmp_path, name):
    with pytest.raises(UnsupportedFormat) as info:
        export_grids(two_community_city, path=tmp_path / name)
    assert ".geojson, .json, .gpkg, .shp, .csv" in str(info.value)
    with pytest.raises(UnsupportedFormat):
        import_grids(two_community_city, path=tmp_path / name)


def test_file_format_follows_the_suffix_ignoring_case():
    assert file_format(Path("a/B.SHP")) is FileFormat.SHAPEFILE
    assert file_format("x.json") is FileFormat.GEOJSON
    assert file_format("x.gpkg") is FileFormat.GEOPACKAGE
    assert file_format("x.csv") is FileFormat.CSV


def test_missing_file_and_csv_without_wkt_say_what_is_wrong(tmp_path):
    with pytest.raises(UnreadableFile, match="does not exist"):
        read_features(tmp_path / "nope.geojson")
    path = tmp_path / "plain.csv"
    path.write_text("code,name\nB1,一号楼\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="column named WKT"):
        read_features(path)


def test_read_features_gives_a_cgcs2000_frame_with_unreadable_geometries_explained(tmp_path):
    path = feature_collection(
        tmp_path / "mixed.geojson",
        [
            ({"code": "A"}, square(111.28, 30.70, 0.01)),
            ({"code": "B"}, {"type": "Polygon", "coordinates": [[[111.28, 30.7], [111.29, 30.7]]]}),
            ({"code": "C"}, box(527_000, 3_396_000, 527_800, 3_396_800)),
        ],
    )
    frame = read_features(path)
    assert frame.crs.to_epsg() == 4490 and frame["code"].tolist() == ["A", "B", "C"]
    assert frame.geometry.iloc[0] is not None and frame.geometry.iloc[1:].isna().all()
    assert "ring is not closed" in frame.attrs["problems"][1]
    assert "look like projected metres" in frame.attrs["problems"][2]
