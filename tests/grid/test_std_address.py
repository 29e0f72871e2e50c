"""Standard addresses (标准地址): the tree, its codes, and buildings and houses hung on it.

Every expected code and text below is worked out by hand from the scheme in
grid/std_address.py (community 12 | road 3 | door 4 | building 4 | unit 2 | floor 3 | room 4).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grid import houses as house_ledger
from grid.address_import import import_addresses
from grid.exceptions import ImportRejected
from grid.models import AddressLevel, Building, House, StdAddress
from grid.recut import reassign_buildings
from grid.schemas import HouseCreate, HouseUpdate
from grid.std_address import attach_all, children_of, get_address
from tests.factories import COMMUNITY, add_building, add_grid, add_house, admin_tree, square

C = COMMUNITY  # 420502001001, 测试社区 of 西陵街道, 西陵区
GRID = C + "001"
PLACE = "西陵区西陵街道测试社区"


def _city(session: Session) -> dict[str, Building]:
    admin_tree(session)
    add_grid(session, GRID, square(111.28, 30.70, 0.01))
    spots = iter(range(10))

    def building(code: str, **fields: object) -> Building:
        spot = square(111.281 + next(spots) * 0.0005, 30.701, 0.0002)
        return add_building(session, code, spot, GRID, attach=False, **fields)

    return {
        "B1": building("B1", name="测试社区12栋", address="西陵区西陵街道夷陵大道121号"),
        "B2": building("B2", address="夷陵大道7号"),
        "B3": building("B3", name="测试社区13栋", address="西陵区 夷陵大道１２１号"),
        "B4": building("B4", name="社区服务中心"),  # no door plate
    }


def _rows(session: Session) -> dict[str, tuple[str, str | None, str, str]]:
    """Every address: code → (level, parent, name, full text), read back from the table."""
    rows = session.execute(
        select(StdAddress.code, StdAddress.level, StdAddress.parent_code, StdAddress.name,
               StdAddress.full_text)
    ).all()  # fmt: skip
    return {r.code: (r.level.value, r.parent_code, r.name, r.full_text) for r in rows}


def test_buildings_hang_on_roads_and_door_plates_with_codes_by_the_scheme(session):
    b = _city(session)
    attach_all(session)
    road, door7, door121 = C + "001", C + "0010001", C + "0010002"  # 7 before 121
    assert _rows(session) == {
        road: ("road", None, "夷陵大道", PLACE + "夷陵大道"),
        door7: ("door", road, "7号", PLACE + "夷陵大道7号"),
        door121: ("door", road, "121号", PLACE + "夷陵大道121号"),
        door7 + "0001": ("building", door7, "", PLACE + "夷陵大道7号"),
        door121 + "0001": ("building", door121, "12栋", PLACE + "夷陵大道121号12栋"),
        door121 + "0002": ("building", door121, "13栋", PLACE + "夷陵大道121号13栋"),
        C + "0000000" + "0001": ("building", None, "社区服务中心", PLACE + "社区服务中心"),
    }
    assert {k: v.address_code for k, v in b.items()} == {
        "B1": door121 + "0001",
        "B2": door7 + "0001",
        "B3": door121 + "0002",
        "B4": C + "00000000001",
    }


def test_houses_hang_on_unit_floor_and_room(session):
    b = _city(session)
    h1 = add_house(session, b["B1"], unit="1", floor=5, room="0501")
    h2 = add_house(session, b["B1"], unit="1", floor=5, room="0502")
    h3 = add_house(session, b["B1"], unit="2", floor=-1, room="B101")
    attach_all(session)
    building = C + "001" + "0002" + "0001"
    unit1, unit2 = building + "01", building + "02"
    floor5, basement = unit1 + "001", unit2 + "001"
    for house in (h1, h2, h3):
        session.refresh(house)
    assert (h1.address_code, h2.address_code, h3.address_code) == (
        floor5 + "0001",
        floor5 + "0002",
        basement + "0001",
    )
    rows = _rows(session)
    assert rows[unit2] == ("unit", building, "2单元", PLACE + "夷陵大道121号12栋2单元")
    assert rows[basement] == ("floor", unit2, "地下1层", PLACE + "夷陵大道121号12栋2单元地下1层")
    assert rows[floor5 + "0002"] == (
        "room",
        floor5,
        "0502室",
        PLACE + "夷陵大道121号12栋1单元5层0502室",
    )
    assert len(h1.address_code) == 32


def test_codes_stay_when_more_is_added_and_are_never_given_again(session):
    b = _city(session)
    add_house(session, b["B1"], unit="1", floor=5, room="0501")
    attach_all(session)
    before = _rows(session)

    # More houses, a new road, a building gone and another at its door plate.
    add_house(session, b["B1"], unit="1", floor=5, room="0503")
    add_building(session, "B5", square(111.289, 30.701, 0.0002), GRID, address="解放路3号")
    session.delete(b["B3"])
    session.flush()
    add_building(
        session, "B6", square(111.2875, 30.701, 0.0002), GRID, name="测试社区14栋",
        address="夷陵大道121号",
    )  # fmt: skip
    attach_all(session)
    after = _rows(session)
    assert {k: after[k] for k in before} == before  # nothing renumbered, nothing dropped
    door121 = C + "0010002"
    new = set(after) - set(before)
    assert new == {
        door121 + "0001" + "01" + "001" + "0002",  # room 0503, next to 0501
        C + "002",  # 解放路, the second road of the community
        C + "002" + "0001",
        C + "002" + "0001" + "0001",
        door121 + "0003",  # not 0002: that was B3's, and stays B3's
    }
    b6 = session.scalar(select(Building).where(Building.code == "B6"))
    assert b6 is not None and b6.address_code == door121 + "0003"


def test_a_reimported_building_and_house_get_their_old_addresses(session):
    b = _city(session)
    add_house(session, b["B3"], unit="1", floor=2, room="0201")
    attach_all(session)
    old_building = b["B3"].address_code
    old_room = session.scalar(select(House.address_code).where(House.building_id == b["B3"].id))
    session.delete(b["B3"])  # its houses go with it; the addresses stay
    session.flush()
    again = add_building(
        session, "B3", square(111.2815, 30.701, 0.0002), GRID, name="测试社区13栋",
        address="夷陵大道121号",
    )  # fmt: skip
    house = add_house(session, again, unit="1", floor=2, room="0201")
    attach_all(session)
    session.refresh(again)
    session.refresh(house)
    assert again.address_code == old_building == C + "001" + "0002" + "0002"
    assert house.address_code == old_room


def test_the_house_ledger_attaches_new_and_moved_houses(session):
    b = _city(session)
    attach_all(session)
    house = house_ledger.add_house(
        session,
        building=b["B2"],
        data=HouseCreate(building_code="B2", unit="1", floor=3, room="0301"),
    )
    door7_building = C + "001" + "0001" + "0001"
    assert house.address_code == door7_building + "01" + "001" + "0001"
    house_ledger.change_house(
        session, house=house, building=b["B2"], changes=HouseUpdate(floor=4, room="0401")
    )
    assert house.address_code == door7_building + "01" + "002" + "0001"
    old = get_address(session, code=door7_building + "01" + "001" + "0001")
    assert old.full_text == PLACE + "夷陵大道7号1单元3层0301室"  # kept, not re-used


def test_children_of_a_community_and_of_an_address(session):
    _city(session)
    attach_all(session)
    total, roads = children_of(session, code=C)
    assert total == 2
    assert [(a.code, a.level) for a in roads] == [
        (C + "00000000001", AddressLevel.BUILDING),  # road 000: before road 001
        (C + "001", AddressLevel.ROAD),
    ]
    total, doors = children_of(session, code=C + "001", limit=1)
    assert total == 2 and [a.name for a in doors] == ["7号"]


def test_the_table_refuses_a_code_that_does_not_fit_its_level(session):
    _city(session)
    attach_all(session)
    bad = session.execute(
        text(
            "SELECT count(*) FROM std_address WHERE length(code) <> CASE level::text "
            "WHEN 'road' THEN 15 WHEN 'door' THEN 19 WHEN 'building' THEN 23 "
            "WHEN 'unit' THEN 25 WHEN 'floor' THEN 28 ELSE 32 END"
        )
    ).scalar_one()
    assert bad == 0
    with pytest.raises(IntegrityError, match="code_fits_level"), session.begin_nested():
        session.execute(
            text(
                "INSERT INTO std_address (code, district_code, level, community_code, name, "
                "full_text, geom) VALUES (:code, '420502', 'door', :c, 'x', 'x', "
                "ST_SetSRID(ST_MakePoint(111.28, 30.7), 4490))"
            ),
            {"code": C + "001", "c": C},
        )


# --- door-plate lists (门牌清单) ------------------------------------------------------------


def _plates(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "plates.csv"
    path.write_text("road,number,lon,lat,building_code\n" + "\n".join(rows) + "\n", "utf-8")
    return path


def test_a_door_plate_list_adds_roads_plates_and_hangs_named_buildings(session, tmp_path):
    admin_tree(session)
    add_grid(session, GRID, square(111.28, 30.70, 0.01))
    building = add_building(
        session, "G1", square(111.285, 30.705, 0.0002), GRID, name="测试社区3栋"
    )  # fmt: skip
    house = add_house(session, building, unit="1", floor=1, room="0101")
    attach_all(session)  # surveyed before the list: G1 and its room hang on the community
    path = _plates(
        tmp_path,
        [
            "胜利一路,12,111.2851,30.7051,G1",
            "胜利一路,10号,111.2852,30.7052,",
            "胜利一路,12,111.2853,30.7053,",  # the same plate again: found, not doubled
        ],
    )
    report = import_addresses(session, path=path)
    assert (report.total, report.imported) == (3, 3)
    road = C + "001"
    rows = _rows(session)
    assert rows[road + "0001"] == ("door", road, "10号", PLACE + "胜利一路10号")
    assert rows[road + "0002"] == ("door", road, "12号", PLACE + "胜利一路12号")
    assert rows[road + "0002" + "0001"][3] == PLACE + "胜利一路12号3栋"
    session.refresh(building)
    assert building.address_code == road + "0002" + "0001"
    session.refresh(house)
    assert house.address_code == road + "0002" + "0001" + "01" + "001" + "0001"
    # G1 hung on its community (road 000, door 0000) until the list came; those codes stay
    # in the tree, held by nobody, and are never given to another place.
    no_door = C + "0000000" + "0001"
    assert rows[no_door] == ("building", None, "3栋", PLACE + "3栋")
    assert rows[no_door + "01001" + "0001"][2] == "0101室"
    assert session.scalar(select(Building.id).where(Building.address_code == no_door)) is None
    assert session.scalar(select(House.id).where(House.address_code.startswith(no_door))) is None
    assert len(rows) == 1 + 2 + (1 + 3) * 2  # road, plates, building + unit/floor/room twice
    again = import_addresses(session, path=path)  # a re-import adds nothing
    assert again.imported == 3 and _rows(session) == rows


def test_bad_door_plate_rows_are_reported_by_row_and_nothing_is_written(session, tmp_path):
    admin_tree(session)
    add_grid(session, GRID, square(111.28, 30.70, 0.01))
    path = _plates(
        tmp_path,
        [
            "胜利一路,12,111.2851,30.7051,",  # good
            ",5,111.2851,30.7051,",  # no road
            "胜利一路,0,111.2851,30.7051,",  # no such number
            "胜利一路,7,111.50,30.90,",  # outside every grid
            "胜利一路,8,111.2851,30.7051,NOPE",  # no such building
        ],
    )
    with pytest.raises(ImportRejected) as caught:
        import_addresses(session, path=path)
    rejected = caught.value.report.rejected
    assert [r.row for r in rejected] == [2, 3, 4, 5]
    assert "road is missing" in rejected[0].reason
    assert "not a door number" in rejected[1].reason
    assert "outside every grid" in rejected[2].reason
    assert "building NOPE does not exist" in rejected[3].reason
    assert session.execute(text("SELECT count(*) FROM std_address")).scalar_one() == 0


def test_addresses_follow_their_buildings_to_a_re_cut_grid(session):
    b = _city(session)
    add_house(session, b["B1"], unit="1", floor=5, room="0501")
    attach_all(session)
    # A grid with a lower code over B1 only: on re-assignment it wins B1's point.
    b1_point = session.scalar(select(func.ST_AsText(func.ST_PointOnSurface(Building.geom))).where(
        Building.code == "B1"))  # fmt: skip
    lon, lat = (float(v) for v in b1_point.removeprefix("POINT(").removesuffix(")").split())
    add_grid(session, C + "000", square(lon - 0.0001, lat - 0.0001, 0.0002))
    reassign_buildings(session, grid_codes=[C + "000"])
    grids = dict(session.execute(select(StdAddress.code, StdAddress.grid_code)).all())
    building = C + "001" + "0002" + "0001"
    below = [code for code in grids if code.startswith(building)]
    assert len(below) == 4  # building, unit, floor, room
    assert {grids[code] for code in below} == {C + "000"}
    assert grids[C + "0010001" + "0001"] == GRID  # B2 stays


def test_a_plate_list_never_moves_a_building_off_its_plate_or_out_of_its_community(
    session, tmp_path
):
    b = _city(session)
    attach_all(session)
    other = COMMUNITY[:-3] + "002"
    admin_tree(session, community=other, community_geom=square(111.30, 30.70, 0.01))
    add_grid(session, other + "001", square(111.30, 30.70, 0.01))
    before = _rows(session)
    path = _plates(
        tmp_path,
        [
            "夷陵大道,121,111.2851,30.7051,B1",  # its own plate again: fine
            "夷陵大道,9,111.2851,30.7051,B2",  # B2 is on 夷陵大道7号
            "胜利一路,3,111.3051,30.7051,B4",  # B4 (no plate yet) lies in 测试社区, not here
        ],
    )
    with pytest.raises(ImportRejected) as caught:
        import_addresses(session, path=path)
    rejected = caught.value.report.rejected
    assert [r.row for r in rejected] == [2, 3]
    assert (
        "already has the standard address 西陵区西陵街道测试社区夷陵大道7号" in rejected[0].reason
    )
    assert "building B4 is in 测试社区" in rejected[1].reason
    assert _rows(session) == before
    assert b["B4"].address_code == C + "00000000001"
