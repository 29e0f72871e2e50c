"""Listing grids and buildings by area and bbox, and what each grid holds."""

from __future__ import annotations

import pytest

from grid.exceptions import InvalidQuery, NotFound
from grid.models import House
from grid.service import area_prefix, get_grid, grid_counts, list_buildings, list_grids
from tests.factories import COMMUNITY, add_building, add_grid, admin_tree, square


@pytest.fixture
def grids_with_buildings(session):
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    add_grid(session, COMMUNITY + "002", square(111.29, 30.70, 0.01))
    tower = add_building(session, "B1", square(111.281, 30.701, 0.0002), COMMUNITY + "001")
    add_building(session, "B2", square(111.283, 30.701, 0.0002), COMMUNITY + "001")
    session.add_all(
        [
            House(
                building_id=tower.id, district_code=tower.district_code, floor=f, room=f"{f:02d}01"
            )
            for f in (1, 2, 3)
        ]
    )
    session.flush()
    return session


def test_grid_counts_report_buildings_and_houses_per_grid(grids_with_buildings):
    counts = {c.code: (c.buildings, c.houses) for c in grid_counts(grids_with_buildings)}
    assert counts == {COMMUNITY + "001": (2, 3), COMMUNITY + "002": (0, 0)}


def test_grid_read_carries_area_in_square_metres_and_its_admin_chain(grids_with_buildings):
    grid = get_grid(grids_with_buildings, code=COMMUNITY + "001", with_geometry=False)
    # 0.01° × 0.01° at 30.7° N is about 958 m × 1,109 m.
    assert grid.area_m2 == pytest.approx(958 * 1109, rel=0.01)
    assert grid.street is not None and grid.street.code == "420502001000"
    assert (grid.buildings, grid.houses, grid.geometry) == (2, 3, None)


def test_unknown_grid_is_not_found(grids_with_buildings):
    with pytest.raises(NotFound, match="420502001001999 does not exist"):
        get_grid(grids_with_buildings, code="420502001001999")


def test_listing_pages_through_grids_in_code_order(grids_with_buildings):
    first = list_grids(grids_with_buildings, page=1, page_size=1)
    second = list_grids(grids_with_buildings, page=2, page_size=1)
    assert first.total == second.total == 2
    assert [first.items[0].code, second.items[0].code] == [COMMUNITY + "001", COMMUNITY + "002"]
    with pytest.raises(InvalidQuery, match="page_size 0"):
        list_grids(grids_with_buildings, page_size=0)


def test_buildings_are_listed_by_grid_and_by_bbox(grids_with_buildings):
    by_grid = list_buildings(grids_with_buildings, grid_code=COMMUNITY + "001")
    assert [b.code for b in by_grid.items] == ["B1", "B2"] and by_grid.items[0].houses == 3
    by_bbox = list_buildings(grids_with_buildings, bbox="111.2825,30.70,111.29,30.71")
    assert [b.code for b in by_bbox.items] == ["B2"]


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("420502000000", "420502"),
        ("420502001000", "420502001"),
        ("420502001001", "420502001001"),
        ("420502001001002", "420502001001002"),
    ],
)
def test_area_codes_become_the_prefix_of_everything_inside(code, prefix):
    assert area_prefix(code) == prefix
