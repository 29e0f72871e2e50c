"""Grid and building imports: every problem is reported by feature, and nothing is written
unless every feature passes."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pytest
from shapely import MultiPolygon, Point, Polygon, box, from_wkt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.crs import wgs84_to_gcj02
from grid.exceptions import ImportRejected
from grid.importer import ImportReport, import_buildings, import_grids
from grid.models import Building, BuildingUse, Grid, GridType
from tests.factories import (
    COMMUNITY,
    METRE_LON,
    add_building,
    add_grid,
    admin_tree,
    feature_collection,
    metre_box,
    square,
)

WEST, EAST = COMMUNITY + "001", COMMUNITY + "002"
# Community 111.28–111.30 E × 30.70–30.72 N, cut into a west and an east half.
WEST_HALF = box(111.28, 30.70, 111.29, 30.72)
EAST_HALF = box(111.29, 30.70, 111.30, 30.72)


def grid_props(code: str | None, name: str = "第一网格", **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": name, **extra}


def count(session: Session, model: type[Grid] | type[Building]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def rejected(call: Any, **kwargs: Any) -> ImportReport:
    """Run an import that must be rejected and return its report."""
    with pytest.raises(ImportRejected) as info:
        call(**kwargs)
    return info.value.report


def reasons_by_id(report: ImportReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for rejection in report.rejected:
        found.setdefault(rejection.feature_id, []).append(rejection.reason)
    return found


@pytest.fixture
def community(session: Session) -> Session:
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    return session


@pytest.fixture
def two_grids(community: Session) -> Session:
    add_grid(community, WEST, MultiPolygon([WEST_HALF]), name="西网格")
    add_grid(community, EAST, MultiPolygon([EAST_HALF]), name="东网格")
    return community


# --- grids --------------------------------------------------------------------------------


def test_valid_grids_are_inserted_with_community_and_district(community, tmp_path):
    path = feature_collection(
        tmp_path / "grids.geojson",
        [
            (grid_props(WEST, "西网格", households=420), WEST_HALF),
            (grid_props(EAST, "学校专属网格", grid_type="专属网格"), EAST_HALF),
        ],
    )
    report = import_grids(community, path=path)
    assert (report.total, report.imported, report.rejected) == (2, 2, [])
    west, east = community.scalars(select(Grid).order_by(Grid.code)).all()
    assert (west.community_code, west.district_code, west.households) == (COMMUNITY, "420502", 420)
    assert west.grid_type is GridType.BASIC
    assert east.grid_type is GridType.DEDICATED and east.name == "学校专属网格"


BOW_TIE = Polygon([(111.281, 30.701), (111.289, 30.709), (111.289, 30.701), (111.281, 30.709)])
HOLE_OUTSIDE = Polygon(
    [(111.281, 30.701), (111.285, 30.701), (111.285, 30.705), (111.281, 30.701)],
    [[(111.287, 30.707), (111.288, 30.707), (111.288, 30.708), (111.287, 30.707)]],
)
UNCLOSED = {
    "type": "Polygon",
    "coordinates": [[[111.281, 30.701], [111.289, 30.701], [111.289, 30.709], [111.281, 30.709]]],
}
TWO_POINT_RING = {
    "type": "Polygon",
    "coordinates": [[[111.281, 30.701], [111.289, 30.701], [111.281, 30.701]]],
}
SWAPPED = box(30.701, 111.281, 30.709, 111.289)
# The same block in Gauss-Krüger metres (EPSG:4546) in a file that does not say so.
PROJECTED = box(527_000, 3_396_000, 527_800, 3_396_800)


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        (BOW_TIE, "boundary is not a valid polygon: self-intersection at (111.285, 30.705)"),
        (HOLE_OUTSIDE, "hole lies outside its outer ring"),
        (UNCLOSED, "ring is not closed"),
        (TWO_POINT_RING, "ring with too few distinct points"),
        (Point(111.285, 30.705), "boundary is a Point; a Polygon or MultiPolygon is needed"),
        ({"type": "Polygon", "coordinates": []}, "boundary is empty"),
        (None, "has no boundary"),
        (SWAPPED, "look like lat/lon"),
        (PROJECTED, "look like projected metres"),
    ],
    ids=[
        "self-intersection",
        "hole-outside-shell",
        "unclosed-ring",
        "too-few-points",
        "point",
        "empty",
        "no-geometry",
        "lat-lon-swapped",
        "projected-without-crs",
    ],
)
def test_bad_grid_geometry_is_rejected_with_its_reason_and_nothing_is_written(
    community, tmp_path, geometry, reason
):
    path = feature_collection(
        tmp_path / "grids.geojson",
        [(grid_props(WEST), geometry), (grid_props(EAST, "东网格"), EAST_HALF)],
    )
    report = rejected(import_grids, session=community, path=path)
    assert [r.feature_id for r in report.rejected] == [WEST]
    assert reason in report.rejected[0].reason
    assert report.rejected[0].row == 1
    assert (report.total, report.imported, report.rejected_features) == (2, 0, 1)
    assert count(community, Grid) == 0


def test_every_bad_grid_row_is_reported_not_just_the_first(two_grids, tmp_path):
    north = box(111.28, 30.72, 111.30, 30.73)  # outside the community: no overlap with it
    inside = box(111.281, 30.701, 111.282, 30.702)
    path = feature_collection(
        tmp_path / "grids.geojson",
        [
            (grid_props(None), north),
            (grid_props("42050200100112"), north),
            (grid_props("420502001009001"), north),
            (grid_props(WEST), inside),
            (grid_props(COMMUNITY + "007", name=""), BOW_TIE),
            (grid_props(COMMUNITY + "007", grid_type="park", households=-3), None),
        ],
    )
    before = count(two_grids, Grid)
    report = rejected(import_grids, session=two_grids, path=path)
    reasons = reasons_by_id(report)
    assert "code is missing" in reasons["row 1"][0]
    assert "'42050200100112' is not 15 digits" in reasons["42050200100112"][0]
    assert any(
        "community 420502001009 (the first 12 digits of the code) is not a community" in r
        for r in reasons["420502001009001"]
    )
    assert any("a grid with code 420502001001001 already exists" in r for r in reasons[WEST])
    seventh = reasons[COMMUNITY + "007"]
    assert any("self-intersection" in r for r in seventh)
    assert any("name is missing" in r for r in seventh)
    assert any("is also used by row 5 of the file" in r for r in seventh)
    assert any("grid_type 'park' is not a grid type" in r for r in seventh)
    assert any("households '-3' is not a whole number" in r for r in seventh)
    assert any("has no boundary" in r for r in seventh)
    assert report.rejected_features == 6
    assert count(two_grids, Grid) == before


def test_rejection_message_counts_features_and_quotes_first_reasons(community, tmp_path):
    path = feature_collection(
        tmp_path / "grids.geojson",
        [(grid_props(None), WEST_HALF), (grid_props("123"), EAST_HALF)],
    )
    with pytest.raises(ImportRejected) as info:
        import_grids(community, path=path)
    message = str(info.value)
    assert message.startswith("2 of 2 feature(s) were rejected, so nothing was imported.")
    assert "row 1: code is missing" in message
    assert "123: code '123' is not 15 digits" in message


def _notch(area_m2: float) -> Polygon:
    """The east half plus a square of `area_m2` poking west into the west half."""
    side = area_m2**0.5
    notch = metre_box(111.29 - side * METRE_LON, 30.71, side, side)
    return EAST_HALF.union(notch)


def test_overlap_with_a_stored_grid_below_tolerance_is_accepted(community, tmp_path):
    add_grid(community, WEST, MultiPolygon([WEST_HALF]))
    path = feature_collection(tmp_path / "g.geojson", [(grid_props(EAST), _notch(0.5))])
    assert import_grids(community, path=path).imported == 1


def test_overlap_with_a_stored_grid_above_tolerance_is_rejected(community, tmp_path):
    add_grid(community, WEST, MultiPolygon([WEST_HALF]))
    path = feature_collection(tmp_path / "g.geojson", [(grid_props(EAST), _notch(5.0))])
    report = rejected(import_grids, session=community, path=path)
    (rejection,) = report.rejected
    assert rejection.feature_id == EAST
    assert "overlaps existing grid 420502001001001 by 5.0 m²" in rejection.reason
    assert "more than the 1.0 m² tolerance" in rejection.reason
    assert count(community, Grid) == 1


def test_grids_overlapping_each_other_in_the_file_are_both_rejected(community, tmp_path):
    path = feature_collection(
        tmp_path / "g.geojson",
        [(grid_props(WEST), WEST_HALF), (grid_props(EAST, "东网格"), _notch(5.0))],
    )
    report = rejected(import_grids, session=community, path=path)
    reasons = reasons_by_id(report)
    assert "overlaps grid 420502001001002 (row 2 of the file) by 5.0 m²" in reasons[WEST][0]
    assert "overlaps grid 420502001001001 (row 1 of the file) by 5.0 m²" in reasons[EAST][0]
    assert count(community, Grid) == 0


def test_grid_sticking_out_of_its_community_is_rejected(community, tmp_path):
    sticking_out = box(111.29, 30.70, 111.30 + 0.001, 30.72)  # ~96 m east of the boundary
    path = feature_collection(tmp_path / "g.geojson", [(grid_props(EAST), sticking_out)])
    report = rejected(import_grids, session=community, path=path)
    (rejection,) = report.rejected
    assert "outside its community 420502001001" in rejection.reason
    assert "a grid must lie inside its community" in rejection.reason
    assert count(community, Grid) == 0


def test_grid_on_the_community_boundary_within_tolerance_is_accepted(community, tmp_path):
    # A 0.2 mm sliver beyond the 2.2 km eastern boundary: ~0.4 m² of digitising noise.
    grazing = box(111.29, 30.70, 111.30 + 2e-9, 30.72)
    path = feature_collection(tmp_path / "g.geojson", [(grid_props(EAST), grazing)])
    assert import_grids(community, path=path).imported == 1


def test_grid_import_assigns_buildings_that_had_no_grid(community, tmp_path):
    add_building(community, "B1", metre_box(111.295, 30.705, 20, 10), None)
    path = feature_collection(tmp_path / "g.geojson", [(grid_props(EAST), EAST_HALF)])
    import_grids(community, path=path)
    assert community.scalar(select(Building.grid_code).where(Building.code == "B1")) == EAST


def test_gcj02_csv_is_shifted_back_to_cgcs2000(community, tmp_path):
    gcj = [wgs84_to_gcj02(x, y) for x, y in WEST_HALF.exterior.coords]
    wkt = "POLYGON((" + ", ".join(f"{x:.9f} {y:.9f}" for x, y in gcj) + "))"
    path = tmp_path / "grids.csv"
    path.write_text(f'WKT,code,name\n"{wkt}",{WEST},西网格\n', encoding="utf-8")
    import_grids(community, path=path, crs="gcj02")
    stored = community.scalar(select(func.ST_AsText(Grid.geom)))
    assert stored is not None
    assert from_wkt(stored).equals_exact(MultiPolygon([WEST_HALF]), 1e-7)


# --- buildings ----------------------------------------------------------------------------


def building_props(code: str | None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": "1栋", "address": "西陵一路1号", **extra}


def test_buildings_go_to_the_grid_covering_their_interior_point(two_grids, tmp_path):
    path = feature_collection(
        tmp_path / "b.geojson",
        [
            (building_props("B-W", floors=6, use="住宅"), metre_box(111.285, 30.71, 20, 10)),
            (
                building_props("B-E", floors="18", use="commercial"),
                metre_box(111.295, 30.71, 30, 30),
            ),
            # Straddles the boundary: most of it, and its interior point, lie in the east half.
            (building_props("B-X"), metre_box(111.29 - 2 * METRE_LON, 30.705, 40, 10)),
        ],
    )
    progress: list[tuple[str, int, int]] = []
    report = import_buildings(two_grids, path=path, on_progress=lambda *step: progress.append(step))
    assert (report.total, report.imported) == (3, 3)
    assert progress == [("read", 3, 3), ("load", 3, 3), ("check", 3, 3), ("write", 3, 3)]
    rows = dict(two_grids.execute(select(Building.code, Building.grid_code)).all())
    assert rows == {"B-W": WEST, "B-E": EAST, "B-X": EAST}
    east = two_grids.scalars(select(Building).where(Building.code == "B-E")).one()
    assert (east.floors, east.use, east.district_code) == (18, BuildingUse.COMMERCIAL, "420502")


def test_every_bad_building_row_is_reported_and_nothing_is_written(two_grids, tmp_path):
    add_building(two_grids, "STORED", metre_box(111.281, 30.701, 10, 10), WEST)
    inside = metre_box(111.285, 30.71, 20, 10)
    path = feature_collection(
        tmp_path / "b.geojson",
        [
            (building_props("OK"), inside),
            (building_props(None), inside),
            (building_props("DUP"), inside),
            (building_props("DUP"), inside),
            (building_props("STORED"), inside),
            (building_props("FAR"), metre_box(111.35, 30.71, 20, 10)),
            (building_props("BOW"), BOW_TIE),
            (building_props("F0", floors=0), inside),
            (building_props("F25", floors=2.5), inside),
            (building_props("FX", floors="六"), inside),
            (building_props("USE", use="villa"), inside),
            (building_props("X" * 40), inside),
        ],
    )
    report = rejected(import_buildings, session=two_grids, path=path)
    reasons = reasons_by_id(report)
    assert "OK" not in reasons
    assert "code is missing" in reasons["row 2"][0]
    assert reasons["DUP"] == [
        "duplicate code: DUP is also used by row 3 of the file; each building needs its own code."
    ]
    assert "a building with code STORED already exists" in reasons["STORED"][0]
    assert "lies outside every grid: its interior point (111.35" in reasons["FAR"][0]
    assert "footprint is not a valid polygon: self-intersection" in reasons["BOW"][0]
    assert "floors '0' is not a positive whole number" in reasons["F0"][0]
    assert "floors '2.5' is not a positive whole number" in reasons["F25"][0]
    assert "floors '六' is not a positive whole number" in reasons["FX"][0]
    assert "use 'villa' is not a building use" in reasons["USE"][0]
    assert "住宅" in reasons["USE"][0]
    assert "code is 40 characters long; at most 32 fit" in reasons["X" * 40][0]
    assert report.rejected_features == 10
    assert count(two_grids, Building) == 1


def test_building_on_a_shared_boundary_goes_to_the_lower_grid_code(two_grids, tmp_path):
    # A thin footprint centred on the boundary line: its interior point lies on the line.
    straddling = box(111.29 - 1e-6, 30.705, 111.29 + 1e-6, 30.7051)
    path = feature_collection(tmp_path / "b.geojson", [(building_props("EDGE"), straddling)])
    import_buildings(two_grids, path=path)
    assert two_grids.scalar(select(Building.grid_code)) == WEST


def test_building_import_accepts_a_geodataframe_written_by_geopandas(two_grids, tmp_path):
    frame = gpd.GeoDataFrame(
        {"code": ["G1", "G2"], "name": ["一号楼", None], "use": ["商住混合", None]},
        geometry=[metre_box(111.285, 30.71, 20, 10), metre_box(111.295, 30.71, 20, 10)],
        crs="EPSG:4490",
    )
    path = tmp_path / "b.gpkg"
    frame.to_file(path, engine="pyogrio")
    import_buildings(two_grids, path=path)
    uses = dict(two_grids.execute(select(Building.code, Building.use)).all())
    assert uses == {"G1": BuildingUse.MIXED, "G2": BuildingUse.RESIDENTIAL}


def test_importing_the_same_buildings_twice_rejects_the_second_time(two_grids, tmp_path):
    path = feature_collection(
        tmp_path / "b.geojson", [(building_props("B1"), metre_box(111.285, 30.71, 20, 10))]
    )
    import_buildings(two_grids, path=path)
    report = rejected(import_buildings, session=two_grids, path=path)
    assert "already exists" in report.rejected[0].reason
    assert count(two_grids, Building) == 1
