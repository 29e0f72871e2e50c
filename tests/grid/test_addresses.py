"""Address search (地址匹配) on the demo city: what callers say, variant by variant.

The expected building of every variant comes from the demo generator's own arrays (its codes,
addresses, names and houses), never from the tables the matcher reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, aliased

from demo.city.generate import DemoCity, generate_city
from demo.city.seed import seed_demo_city
from gis import local_pg
from grid.address_text import (
    AdminName,
    building_name_key,
    parse_address,
    room_labels,
)
from grid.addresses import place_address, search_addresses
from grid.exceptions import InvalidAddressQuery
from grid.models import Building, StdAddress
from tests.factories import add_building, add_grid, admin_tree, fresh_database, square

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
CN_DIGITS = "零一二三四五六七八九"


def chinese(n: int) -> str:
    """12 → 十二, 20 → 二十, 105 → 一百零五 (as people write building numbers)."""
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out = ""
    if hundreds:
        out += CN_DIGITS[hundreds] + "百"
        if tens == 0 and ones:
            out += "零"
    if tens:
        out += ("" if tens == 1 and not hundreds else CN_DIGITS[tens]) + "十"
    if ones:
        out += CN_DIGITS[ones]
    return out


# --- the parser alone -------------------------------------------------------------------


ADMIN = [
    AdminName("420502000000", "西陵区", "district"),
    AdminName("420502001000", "西陵街道", "street"),
    AdminName("420502001001", "前进里社区", "community"),
    AdminName("420502001002", "解放路社区", "community"),
]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("夷陵大道121号", {"road": "夷陵大道", "number": 121}),
        ("夷陵大道１２１号", {"road": "夷陵大道", "number": 121}),
        (
            "西陵区前进里社区12栋3单元502",
            {"estate": "前进里", "building_no": 12, "unit": "3", "floor": 5, "room": "502"},
        ),
        ("１２栋３单元５０２", {"estate": None, "building_no": 12, "unit": "3", "room": "502"}),
        ("前进里12幢3-502", {"estate": "前进里", "building_no": 12, "unit": "3", "room": "502"}),
        ("前进里小区十二栋", {"estate": "前进里", "building_no": 12}),
        ("桃花岭小区3号楼2单元1201室", {"estate": "桃花岭", "building_no": 3, "floor": 12}),
        ("解放路12号", {"road": "解放路", "number": 12, "building_no": None}),
        ("解放路社区12号", {"estate": "解放路", "building_no": 12, "road": None}),
        ("湖北省宜昌市西陵区西陵街道夷陵大道121号", {"province": "湖北省", "city": "宜昌市"}),
        ("前进里社区12-3-502", {"building_no": 12, "unit": "3", "room": "502"}),
        ("前进里社区十二栋三单元五零二", {"building_no": 12, "unit": "3", "room": "502"}),
        ("前进里二十幢一-一二零三室", {"building_no": 20, "unit": "1", "room": "1203"}),
        ("五一社区3栋", {"estate": "五一", "building_no": 3}),  # a name's numerals stay
        ("胜利一路一百零二号", {"road": "胜利一路", "number": 102}),
    ],
)
def test_parser_reads_the_parts_callers_say(text, parts):
    parsed = parse_address(text, ADMIN)
    assert {k: getattr(parsed, k) for k in parts} == parts


def test_parser_reads_admin_prefixes_against_the_tree():
    parsed = parse_address("西陵区西陵街道前进里社区12栋", ADMIN)
    assert [u.name for u in (parsed.district, parsed.street, parsed.community) if u] == [
        "西陵区",
        "西陵街道",
        "前进里社区",
    ]
    assert parsed.building_key == "前进里#12" and parsed.rest == ""


@pytest.mark.parametrize(
    ("floor", "room", "labels"),
    [(None, "502", ["0502", "502"]), (5, "2", ["0502", "502"]), (None, "1203", ["1203"])],
)
def test_a_spoken_room_reads_as_the_stored_labels(floor, room, labels):
    assert room_labels(floor, room)[1] == labels


def test_the_standard_address_keys_agree_with_the_parser(session):
    """The door plate and building keys std_address stores (SQL) are the ones
    grid/address_text.py reads from the same words (Python)."""
    admin_tree(session)
    grid = "420502001001001"
    add_grid(session, grid, square(111.28, 30.70, 0.01))
    samples = [
        ("前进里社区12栋", "西陵区西陵街道夷陵大道121号"),
        ("前进里小区１２号楼", "西陵区 夷陵大道１２１号"),
        ("桃花岭村3幢", "夷陵大道7号"),
        ("桃花岭花园012座", None),
        ("学校", "西陵区学院街1号"),
    ]
    for i, (name, address) in enumerate(samples):
        add_building(
            session, f"K{i}", square(111.281 + i * 0.001, 30.701, 0.0002), grid,
            name=name, address=address,
        )  # fmt: skip
    door = aliased(StdAddress)
    rows = session.execute(
        select(Building.name, Building.address, StdAddress.match_key, door.match_key)
        .join(StdAddress, StdAddress.code == Building.address_code)
        .outerjoin(door, door.code == StdAddress.parent_code)
        .where(Building.code.startswith("K"))
        .order_by(Building.code)
    ).all()
    assert len(rows) == len(samples)
    for name, address, building_key, door_key in rows:
        assert building_key == building_name_key(name)
        said = parse_address(address, ADMIN) if address else None
        assert door_key == (said.road_key if said else None)


# --- the demo city --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_engine(database_url: str) -> Iterator[Any]:
    """The demo city's grids, buildings and houses, committed in a database of their own."""
    url = fresh_database(database_url, "_addresses")
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            seed_demo_city(session, scale="demo")
            session.commit()
        yield engine
    finally:
        engine.dispose()
        local_pg.drop_database(url)


@pytest.fixture(scope="module")
def demo() -> DemoCity:
    return generate_city(scale="demo")


@pytest.fixture
def demo_session(demo_engine) -> Iterator[Session]:
    connection = demo_engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@dataclass(frozen=True)
class Variant:
    text: str
    building: str
    house: str | None = None


def _variants(city: DemoCity, picks: int = 12) -> list[Variant]:
    """What callers say for `picks` homes spread over the demo city, from the generator."""
    b, h, a = city.buildings, city.houses, city.admin_units
    name_of = dict(zip(a.code.tolist(), a.name.tolist(), strict=True))
    homes = [i for i, n in enumerate(b.name) if n is not None]
    has_units = set(h.building[h.unit != "1"].tolist())
    homes = [i for i in homes if i in has_units] or homes
    chosen = [homes[int(k)] for k in np.linspace(0, len(homes) - 1, picks)]
    out: list[Variant] = []
    for i in chosen:
        code, address, name = str(b.code[i]), str(b.address[i]), str(b.name[i])
        grid = str(b.grid_code[i])
        district = name_of[grid[:6] + "000000"]
        street = name_of[grid[:9] + "000"]
        community = name_of[grid[:12]]
        tail = address[len(district) + len(street) :]
        stem = community.removesuffix("社区")
        number = int(name[len(community) : -1])
        rows = np.flatnonzero(h.building == i)
        last = int(rows[-1])
        unit, label = str(h.unit[last]), str(h.room[last])
        spoken = str(int(label))  # 0502 is said 502
        house = f"{code}-{unit}-{label}"
        said_room = f"{community}{number}栋{unit}单元{spoken}"
        out += [
            Variant(tail, code),
            Variant(address, code),
            Variant(district + tail, code),
            Variant(tail.translate(FULL_WIDTH), code),
            Variant("湖北省宜昌市" + address, code),
            Variant(f"{district} {tail}", code),
            Variant(f"{community}{number}栋", code),
            Variant(f"{stem}{number}幢", code),
            Variant(f"{stem}小区{chinese(number)}栋", code),
            Variant(said_room, code, house),
            Variant(said_room.translate(FULL_WIDTH), code, house),
            Variant(f"{stem}{number}号楼{unit}-{spoken}", code, house),
            Variant(f"{district}{street}{community}{number}栋{unit}单元{spoken}室", code, house),
            Variant(f"{tail}{unit}单元{spoken}室", code, house),
        ]
    return out


def _hit(candidate: Any, variant: Variant) -> bool:
    if candidate.building_code != variant.building:
        return False
    return variant.house is None or candidate.house_code == variant.house


def test_variants_find_their_building_first(demo_session, demo):
    variants = _variants(demo)
    assert len(variants) >= 60
    top1, top3, missed = 0, 0, []
    for variant in variants:
        found = search_addresses(demo_session, q=variant.text, limit=3).candidates
        top1 += bool(found) and _hit(found[0], variant)
        top3 += any(_hit(c, variant) for c in found)
        if not found or not _hit(found[0], variant):
            missed.append((variant.text, [(c.building_code, c.house_code) for c in found]))
    assert top1 / len(variants) >= 0.98, missed
    assert top3 == len(variants), missed


def test_a_matched_variant_is_confident_and_says_why(demo_session, demo):
    variant = _variants(demo, picks=1)[12]  # district + street + community + 栋 + 单元 + 室
    best = search_addresses(demo_session, q=variant.text).candidates[0]
    assert best.score >= 0.9 and best.house_id is not None
    assert best.why.split("; ") == ["楼栋一致", "区县一致", "街道一致", "社区一致", "单元室号一致"]
    assert 111.0 < best.lon < 111.6 and 30.4 < best.lat < 30.9  # lon/lat, not swapped


def test_room_given_is_the_house(demo_session, demo):
    variant = next(v for v in _variants(demo, picks=2) if v.house)
    best = search_addresses(demo_session, q=variant.text).candidates[0]
    assert best.house_code == variant.house
    unit, room = variant.house.rsplit("-", 2)[1:]
    assert best.room == f"{unit}单元{room}室"


def test_misses_return_nothing(demo_session, demo):
    b = demo.buildings
    community = str(b.name[next(i for i, n in enumerate(b.name) if n)])[:-2].rstrip("0123456789")
    tail_road = "".join(
        c for c in str(b.address[0]).split("街道", 1)[1] if not c.isdigit() and c != "号"
    )
    for text in (
        "不存在大道12号",  # no such road
        f"{tail_road}99999号",  # a road that exists, a number it does not have
        f"{community}999栋",  # a community that exists, a building it does not have
        "月亮湾小区3栋",  # no such estate
        "12栋3单元502",  # no estate or road to tie the building number to
        "你好请问",
    ):
        assert search_addresses(demo_session, q=text).candidates == [], text


def test_a_contradicting_district_lowers_the_score(demo_session, demo):
    variant = _variants(demo, picks=1)[0]  # the door plate alone
    right = search_addresses(demo_session, q=variant.text).candidates[0]
    other = "伍家岗区" if not right.district_code.endswith("3") else "西陵区"
    wrong = search_addresses(demo_session, q=other + variant.text).candidates
    assert wrong[0].building_code == right.building_code
    assert wrong[0].score < 0.9 <= right.score
    assert f"区县不一致（文中为{other}）" in wrong[0].why


def test_candidates_stay_in_the_callers_area(demo_session, demo):
    variant = _variants(demo, picks=1)[0]
    grid = str(demo.buildings.grid_code[demo.buildings.code == variant.building][0])
    assert search_addresses(demo_session, q=variant.text, scope=[grid]).candidates
    assert search_addresses(demo_session, q=variant.text, scope=[grid[:9]]).candidates
    elsewhere = "420503" if grid.startswith("420502") else "420502"
    assert search_addresses(demo_session, q=variant.text, scope=[elsewhere]).candidates == []
    assert search_addresses(demo_session, q=variant.text, scope=[]).candidates == []


def test_placement_needs_a_sure_match(demo_session, demo):
    variant = next(v for v in _variants(demo, picks=1) if v.house)
    placed = place_address(demo_session, text=variant.text)
    assert placed.candidate is not None and placed.candidate.house_code == variant.house
    nothing = place_address(demo_session, text="月亮湾小区3栋")
    assert nothing.candidate is None and "matches no building" in (nothing.reason or "")


@pytest.mark.parametrize(
    ("q", "limit", "field"),
    [("", 5, "q"), ("   ", 5, "q"), ("路" * 201, 5, "q"), ("夷陵大道1号", 0, "limit")],
)
def test_bad_queries_are_refused_with_a_sentence(demo_session, q, limit, field):
    with pytest.raises(InvalidAddressQuery) as refused:
        search_addresses(demo_session, q=q, limit=limit)
    assert refused.value.field == field and str(refused.value).startswith(field)
