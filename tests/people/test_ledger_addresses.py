"""Ledger rows placed by address (现住址 as written) when their 房屋编码 cell holds one: placed
when the address surely means one house, reported back with the reason otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from grid.models import Building
from grid.std_address import attach_buildings
from people.models import Resident
from tests.factories import id_number
from tests.people.residents_city import person, run, write_rows


@pytest.fixture
def named_city(residents_city: dict[str, Any]) -> dict[str, Any]:
    """The residents city with addresses and names as callers know them: BA is 测试路1号 and
    测试社区1栋; BB is 测试路2号 and 测试小区1栋 (the same estate words, so 测试1栋 fits both)."""
    session = residents_city["session"]
    named = []
    for code, address, name in (
        ("BA", "西陵区西陵街道测试路1号", "测试社区1栋"),
        ("BB", "西陵区西陵街道测试路2号", "测试小区1栋"),
    ):
        building = session.scalars(select(Building).where(Building.code == code)).one()
        # As if surveyed with these: the standard address (标准地址) is made from them.
        building.address, building.name, building.address_code = address, name, None
        named.append(building.id)
    session.flush()
    attach_buildings(session, building_ids=named)
    return residents_city


def _resident(city: dict[str, Any], sequence: int) -> Resident | None:
    found = select(Resident).where(Resident.name == f"居民{sequence}")
    return city["session"].scalars(found).first()


def test_a_sure_address_places_the_row_in_its_house(named_city, tmp_path):
    path = write_rows(
        tmp_path / "台账.csv",
        [
            person(11, name="居民11", house_code="西陵区西陵街道测试路1号1单元201室"),
            person(12, name="居民12", house_code="测试路２号１单元１０１"),
        ],
    )
    report = run(named_city, path)

    assert (report.inserted, report.rejected_rows) == (2, 0), report.rejected
    first, second = _resident(named_city, 11), _resident(named_city, 12)
    assert first is not None and second is not None
    assert (first.grid_code, second.grid_code) == ("420502001001001", "420502001001002")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("测试1栋1单元101", "fits more than one building"),  # BA and BB both 测试#1
        ("测试路9号1单元101", "matches no building"),
        ("测试路1号", "names no house in it"),
        ("测试路1号3单元909", "is not a sure match"),  # the building, not the room
    ],
)
def test_an_unsure_address_is_reported_with_the_reason(named_city, tmp_path, address, reason):
    path = write_rows(
        tmp_path / "台账.csv",
        [person(11, name="居民11"), person(12, name="居民12", house_code=address)],
    )
    report = run(named_city, path)

    assert (report.inserted, report.rejected_rows) == (1, 1)
    (error,) = report.rejected
    assert (error.row, error.column) == (3, "房屋编码")
    assert reason in error.reason and address in error.reason
    assert _resident(named_city, 12) is None


def test_a_grid_worker_places_only_in_their_own_grids(named_city, tmp_path):
    path = write_rows(
        tmp_path / "台账.csv",
        [
            person(11, name="居民11", house_code="测试路1号1单元101"),  # grid A: theirs
            person(12, name="居民12", house_code="测试路2号1单元101"),  # grid B: not theirs
        ],
    )
    report = run(named_city, path, actor="worker_a")

    assert (report.inserted, report.rejected_rows) == (1, 1)
    assert "matches no building in your area" in report.rejected[0].reason
    assert id_number(12) not in report.rejected[0].reason
