"""Re-cutting (网格调整): a community's grids are replaced and its buildings follow their
interior points into the new grids, inside the caller's transaction."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from grid.exceptions import InvalidQuery, NotFound, RecutRejected
from grid.models import Building, Grid, GridType
from grid.recut import BuildingMove, GridMove, reassign_buildings, recut_community
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    admin_tree,
    metre_box,
    square,
)

NEIGHBOUR = "420502001002"
G1, G2, G3 = (COMMUNITY + s for s in ("001", "002", "003"))
# New cut: three east-west bands of 0.02 × 0.0066…° across the community.
SOUTH = box(111.28, 30.70, 111.30, 30.7066)
MIDDLE = box(111.28, 30.7066, 111.30, 30.7133)
NORTH = box(111.28, 30.7133, 111.30, 30.72)


@pytest.fixture
def community(session: Session) -> Session:
    """Community 111.28–111.30 E × 30.70–30.72 N in a west (001) and an east (002) grid.

    Buildings: SW and NW in the west grid, SE, MID-E and NE in the east grid. The neighbour
    community to the east has one grid and one building.
    """
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    admin_tree(session, community_geom=square(111.30, 30.70, 0.02), community=NEIGHBOUR)
    add_grid(session, G1, MultiPolygon([box(111.28, 30.70, 111.29, 30.72)]), "西网格")
    add_grid(session, G2, MultiPolygon([box(111.29, 30.70, 111.30, 30.72)]), "东网格")
    add_grid(session, NEIGHBOUR + "001", square(111.30, 30.70, 0.02), "邻居网格")
    for code, lon, lat, grid in (
        ("SW", 111.283, 30.702, G1),
        ("NW", 111.283, 30.717, G1),
        ("SE", 111.295, 30.702, G2),
        ("MID-E", 111.295, 30.710, G2),
        ("NE", 111.295, 30.717, G2),
        ("NEIGHBOUR", 111.31, 30.71, NEIGHBOUR + "001"),
    ):
        add_building(session, code, metre_box(lon, lat, 20, 10), grid)
    return session


def grid_of(session: Session) -> dict[str, str | None]:
    return dict(session.execute(select(Building.code, Building.grid_code)).all())


def three_bands() -> list[tuple[str, str, object]]:
    return [(G1, "南片网格", SOUTH), (G2, "中片网格", MIDDLE), (G3, "北片网格", NORTH)]


def test_recut_from_two_grids_into_three_moves_buildings_to_the_new_grids(community):
    summary = recut_community(community, community_code=COMMUNITY, new_grids=three_bands())

    assert grid_of(community) == {
        "SW": G1,
        "SE": G1,
        "MID-E": G2,
        "NW": G3,
        "NE": G3,
        "NEIGHBOUR": NEIGHBOUR + "001",
    }
    assert summary.removed == [G1, G2]
    assert summary.added == [G1, G2, G3]
    assert summary.moves == [
        GridMove(G1, G1, 1),  # SW kept code 001, which now names the southern band
        GridMove(G1, G3, 1),  # NW
        GridMove(G2, G1, 1),  # SE
        GridMove(G2, G2, 1),  # MID-E
        GridMove(G2, G3, 1),  # NE
    ]
    assert sum(m.buildings for m in summary.moves) == 5
    assert summary.unassigned == [] and summary.warnings == []
    names = dict(community.execute(select(Grid.code, Grid.name)).all())
    assert names[G3] == "北片网格" and names[G1] == "南片网格"


def test_summary_maps_every_building_from_old_to_new_grid_for_residents_and_events(community):
    summary = recut_community(community, community_code=COMMUNITY, new_grids=three_bands())
    moves = {m.building_code: m for m in summary.building_moves}
    assert set(moves) == {"SW", "NW", "SE", "MID-E", "NE"}
    assert moves["NW"] == BuildingMove(moves["NW"].building_id, "NW", G1, G3)
    ids = {b.code: b.id for b in community.scalars(select(Building))}
    assert summary.grid_of_building()[ids["SE"]] == G1


def test_recut_accepts_a_geodataframe_with_grid_type_and_households(community):
    frame = gpd.GeoDataFrame(
        {
            "code": [G1, G2, G3],
            "name": ["南", "中", "北"],
            "grid_type": ["basic", "dedicated", "基础网格"],
            "households": [300, None, 410],
        },
        geometry=[SOUTH, MIDDLE, NORTH],
        crs="EPSG:4490",
    )
    recut_community(community, community_code=COMMUNITY, new_grids=frame)
    rows = community.execute(select(Grid.code, Grid.grid_type, Grid.households)).all()
    assert sorted(rows) == [
        (G1, GridType.BASIC, 300),
        (G2, GridType.DEDICATED, None),
        (G3, GridType.BASIC, 410),
        (NEIGHBOUR + "001", GridType.BASIC, None),
    ]


def test_buildings_left_outside_the_new_grids_lose_their_grid_and_are_listed(community):
    # Only the two southern bands: the north of the community is left bare.
    summary = recut_community(community, community_code=COMMUNITY, new_grids=three_bands()[:2])
    assert summary.unassigned == ["NE", "NW"]
    assert grid_of(community)["NW"] is None
    assert GridMove(G2, None, 1) in summary.moves
    (warning,) = summary.warnings
    assert "leave" in warning and f"of community {COMMUNITY} outside every grid" in warning


def test_recut_overlapping_the_neighbour_community_is_rejected_and_changes_nothing(community):
    before_grids = community.scalars(select(Grid.code).order_by(Grid.code)).all()
    before_buildings = grid_of(community)
    reaching_east = box(111.28, 30.7133, 111.301, 30.72)  # ~96 m into the neighbour
    with pytest.raises(RecutRejected) as info:
        recut_community(
            community,
            community_code=COMMUNITY,
            new_grids=[*three_bands()[:2], (G3, "北片网格", reaching_east)],
        )
    reasons = [r.reason for r in info.value.report.rejected]
    assert any(f"overlaps existing grid {NEIGHBOUR}001" in r for r in reasons)
    assert any("outside its community" in r for r in reasons)
    assert f"the grids of community {COMMUNITY} were not changed" in str(info.value)
    assert community.scalars(select(Grid.code).order_by(Grid.code)).all() == before_grids
    assert grid_of(community) == before_buildings


def test_new_grids_must_carry_the_recut_community_code(community):
    with pytest.raises(RecutRejected) as info:
        recut_community(
            community,
            community_code=COMMUNITY,
            new_grids=[(G1, "南", SOUTH), (NEIGHBOUR + "009", "外来", MIDDLE)],
        )
    reasons = [r.reason for r in info.value.report.rejected if r.feature_id == NEIGHBOUR + "009"]
    assert any(
        f"belongs to community {NEIGHBOUR}, not to community {COMMUNITY}" in r for r in reasons
    )


def test_new_grids_overlapping_each_other_are_rejected(community):
    overlapping = box(111.28, 30.7060, 111.30, 30.7133)  # 0.0006° (~66 m) into the south band
    with pytest.raises(RecutRejected) as info:
        recut_community(
            community,
            community_code=COMMUNITY,
            new_grids=[(G1, "南", SOUTH), (G2, "中", overlapping), (G3, "北", NORTH)],
        )
    assert {r.feature_id for r in info.value.report.rejected} == {G1, G2}


def test_invalid_geometry_text_in_the_new_set_is_reported_by_code(community):
    with pytest.raises(RecutRejected) as info:
        recut_community(
            community,
            community_code=COMMUNITY,
            new_grids=[(G1, "南", "POLYGON((111.28 30.70, 111.30 30.70))"), (G2, "中", MIDDLE)],
        )
    (problem,) = info.value.report.rejected
    assert problem.feature_id == G1


def test_recut_of_an_unknown_community_or_with_no_grids_is_refused(community):
    with pytest.raises(NotFound, match="community 420502001099 does not exist"):
        recut_community(community, community_code="420502001099", new_grids=three_bands())
    with pytest.raises(InvalidQuery, match="no new grids"):
        recut_community(community, community_code=COMMUNITY, new_grids=[])


def test_recut_flushes_but_leaves_the_commit_to_the_caller(community, engine):
    recut_community(community, community_code=COMMUNITY, new_grids=three_bands())
    assert community.scalar(select(Grid.name).where(Grid.code == G3)) == "北片网格"
    with engine.connect() as other:  # another connection sees only committed rows
        assert other.scalar(select(Grid.code).where(Grid.code == G3)) is None


def test_reassign_buildings_puts_each_building_in_the_grid_covering_it(community):
    # A building filed under the wrong grid, and one with none, both inside the west grid.
    add_building(community, "WRONG", metre_box(111.284, 30.705, 10, 10), G2)
    add_building(community, "LOST", metre_box(111.286, 30.705, 10, 10), None)
    moves = reassign_buildings(community, community_code=COMMUNITY)
    assert [(m.building_code, m.from_grid, m.to_grid) for m in moves] == [
        ("LOST", None, G1),
        ("WRONG", G2, G1),
    ]
    assert grid_of(community)["WRONG"] == G1
    with pytest.raises(TypeError):
        reassign_buildings(community)


def test_recut_from_a_gauss_kruger_geodataframe_is_transformed_to_cgcs2000(community):
    frame = gpd.GeoDataFrame(
        {"code": [G1, G2, G3], "name": ["南", "中", "北"]},
        geometry=[SOUTH, MIDDLE, NORTH],
        crs="EPSG:4490",
    ).to_crs(4546)
    summary = recut_community(community, community_code=COMMUNITY, new_grids=frame)
    assert summary.added == [G1, G2, G3]
    assert grid_of(community)["NW"] == G3
