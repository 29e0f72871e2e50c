"""The demo city: deterministic from its seed, a clean partition, and idempotent seeding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from demo.city.generate import DemoCity, SeedSummary, generate_city
from demo.city.scales import DEFAULT_SEED
from demo.city.seed import seed_demo_city
from gis.bulk import ewkb_hex
from grid.models import AdminLevel, Building

XILING = "420502"
WUJIAGANG = "420503"
DEMO_DISTRICTS = [XILING, WUJIAGANG]
WUJIAGANG_STREETS = ("大公桥街道", "万寿桥街道", "宝塔河街道", "伍家岗街道", "伍家乡")
XILING_STREETS = (
    "西陵街道",
    "学院街道",
    "云集街道",
    "西坝街道",
    "葛洲坝街道",
    "夜明珠街道",
    "窑湾街道",
)


@pytest.fixture(scope="module")
def generated_city() -> DemoCity:
    """The demo city of the default seed, generated once for the module."""
    return generate_city(scale="demo", seed=DEFAULT_SEED)


@dataclass
class Seeded:
    session: Session
    summary: SeedSummary
    progress: list[tuple[str, int, int]]
    other_building_id: int


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Iterator[Seeded]:
    """The demo city seeded once into a transaction that the module's checks share.

    A building of another district exists before seeding, to show ids do not collide. Every
    database test of this module uses this fixture, so nothing else waits on its locks; the
    transaction is rolled back when the module is done.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    other = Building(
        code="OTHER-1",
        district_code="420504",  # 点军区, not in the demo
        geom=ewkb_hex(shapely.MultiPolygon([shapely.box(111.20, 30.60, 111.201, 30.601)])),
    )
    session.add(other)
    session.flush()
    progress: list[tuple[str, int, int]] = []
    summary = seed_demo_city(session, on_progress=lambda *p: progress.append(p))
    try:
        yield Seeded(session, summary, progress, other.id)
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _scalar(session: Session, sql: str, **params: object) -> Any:
    return session.execute(text(sql), params).scalar_one()


# --------------------------------------------------------------------------- generation


def _fingerprint(generated_city: DemoCity) -> list[object]:
    """Codes, names, attributes and geometry WKB of everything in the city."""
    a, g, b, h = (
        generated_city.admin_units,
        generated_city.grids,
        generated_city.buildings,
        generated_city.houses,
    )
    return [
        a.code.tolist(),
        a.name.tolist(),
        a.parent_code,
        shapely.to_wkb(a.geom).tolist(),
        g.code.tolist(),
        g.name.tolist(),
        g.grid_type.tolist(),
        g.households.tolist(),
        shapely.to_wkb(g.geom).tolist(),
        b.code.tolist(),
        b.address.tolist(),
        b.floors.tolist(),
        b.use.tolist(),
        shapely.to_wkb(b.geom).tolist(),
        h.building.tolist(),
        h.unit.tolist(),
        h.floor.tolist(),
        h.room.tolist(),
        h.use.tolist(),
        h.area_m2.tolist(),
    ]


def test_same_seed_gives_identical_city(generated_city: DemoCity) -> None:
    again = generate_city(scale="demo", seed=DEFAULT_SEED)
    assert _fingerprint(again) == _fingerprint(generated_city)


def test_different_seed_gives_different_city(generated_city: DemoCity) -> None:
    other = generate_city(scale="demo", seed=DEFAULT_SEED + 1)
    assert (
        shapely.to_wkb(other.grids.geom).tolist()
        != shapely.to_wkb(generated_city.grids.geom).tolist()
    )
    assert (
        shapely.to_wkb(other.buildings.geom[:10]).tolist()
        != shapely.to_wkb(generated_city.buildings.geom[:10]).tolist()
    )


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scale 'huge'; choose demo or city"):
        generate_city(scale="huge")


@pytest.mark.parametrize("district", DEMO_DISTRICTS)
def test_demo_counts_are_in_the_stated_ranges(generated_city: DemoCity, district: str) -> None:
    """Two districts of about 40 communities, 200 grids and 6,000 buildings each."""
    a, b = generated_city.admin_units, generated_city.buildings
    assert generated_city.count(AdminLevel.DISTRICT) == 2
    assert generated_city.count(AdminLevel.STREET) == 12
    mine = a.district_code == district
    assert 30 <= int((mine & (a.level == AdminLevel.COMMUNITY.value)).sum()) <= 45
    assert 170 <= int((generated_city.grids.district_code == district).sum()) <= 220
    assert 4_500 <= int((b.district_code == district).sum()) <= 7_000
    houses = int((b.district_code[generated_city.houses.building] == district).sum())
    assert 50_000 <= houses <= 100_000


def test_demo_has_the_real_streets_of_xiling_and_wujiagang(generated_city: DemoCity) -> None:
    a = generated_city.admin_units
    streets = a.level == AdminLevel.STREET.value
    assert a.code[streets].tolist() == [f"420502{i:03d}000" for i in range(1, 8)] + [
        f"420503{i:03d}000" for i in range(1, 6)
    ]
    assert a.name[streets].tolist() == list(XILING_STREETS) + list(WUJIAGANG_STREETS)
    districts = a.level == AdminLevel.DISTRICT.value
    assert a.code[districts].tolist() == ["420502000000", "420503000000"]
    assert a.name[districts].tolist() == ["西陵区", "伍家岗区"]


def test_xiling_lies_in_its_box_and_wujiagang_beside_it(generated_city: DemoCity) -> None:
    a = generated_city.admin_units
    xiling = a.geom[a.district_code == XILING]
    minx, miny, maxx, maxy = shapely.total_bounds(xiling)
    assert 111.255 <= minx < maxx <= 111.335
    assert 30.675 <= miny < maxy <= 30.755
    outlines = a.geom[a.level == AdminLevel.DISTRICT.value]
    # Neighbours: a shared border kilometres long, no overlap.
    border = shapely.intersection(outlines[0].boundary, outlines[1].boundary)
    assert shapely.length(border) > 0.03  # degrees, ~3 km
    assert shapely.area(shapely.intersection(outlines[0], outlines[1])) < 1e-9


def test_codes_nest_street_community_grid(generated_city: DemoCity) -> None:
    a, g = generated_city.admin_units, generated_city.grids
    parent = dict(zip(a.code.tolist(), a.parent_code, strict=True))
    for code, level in zip(a.code.tolist(), a.level.tolist(), strict=True):
        assert re.fullmatch(r"[0-9]{12}", code)
        if level == AdminLevel.COMMUNITY.value:
            street = parent[code]
            assert street is not None and street.endswith("000")
            assert code[:9] == street[:9] and code[9:] != "000"
    for code, community in zip(g.code.tolist(), g.community_code.tolist(), strict=True):
        assert re.fullmatch(community + r"[0-9]{3}", code)
        assert parent[community] is not None
    assert len(set(g.code.tolist())) == len(g)


def test_community_names_are_unique_and_end_in_shequ(generated_city: DemoCity) -> None:
    a = generated_city.admin_units
    names = a.name[a.level == AdminLevel.COMMUNITY.value].tolist()
    assert len(set(names)) == len(names)
    assert all(n.endswith("社区") and len(n) >= 4 for n in names)


def test_grids_are_mostly_basic_with_a_few_dedicated(generated_city: DemoCity) -> None:
    g = generated_city.grids
    basic = g.grid_type == "basic"
    assert 0 < (~basic).sum() < 0.15 * len(g)
    assert ((g.households[basic] >= 300) & (g.households[basic] <= 500)).all()
    community_names = dict(
        zip(
            generated_city.admin_units.code.tolist(),
            generated_city.admin_units.name.tolist(),
            strict=True,
        )
    )
    for name, community, code in zip(
        g.name.tolist(), g.community_code.tolist(), g.code.tolist(), strict=True
    ):
        assert name.startswith(f"{community_names[community]}第{int(code[-3:])}网格")


def test_buildings_have_codes_uses_floors_and_addresses(generated_city: DemoCity) -> None:
    b = generated_city.buildings
    codes = b.code.tolist()
    assert len(set(codes)) == len(codes)
    assert all(
        re.fullmatch(g + r"B[0-9]{4}", c) for c, g in zip(codes, b.grid_code.tolist(), strict=True)
    )
    uses, counts = np.unique(b.use, return_counts=True)
    share = dict(zip(uses.tolist(), (counts / len(b)).tolist(), strict=True))
    assert share["residential"] > 0.5
    assert {"commercial", "mixed", "office", "public", "industrial"} <= share.keys()
    assert b.floors.min() >= 1 and b.floors.max() <= 33
    xiling = b.district_code == XILING
    assert b.floors[xiling & (b.use == "residential")].min() >= 6  # 西陵 is all town
    assert all(
        re.fullmatch(r"西陵区(" + "|".join(XILING_STREETS) + r").+\d+号", s)
        for s in b.address[xiling].tolist()
    )
    assert all(
        re.fullmatch(r"伍家岗区(" + "|".join(WUJIAGANG_STREETS) + r").+\d+号", s)
        for s in b.address[~xiling].tolist()
    )


def test_building_footprints_are_building_sized(generated_city: DemoCity) -> None:
    footprints = shapely.transform(
        generated_city.buildings.geom, lambda c: (c - [111.3, 30.7]) * [95_800.0, 110_850.0]
    )
    rect = shapely.oriented_envelope(footprints)
    edges = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(-1, 5, 2)
    sides = np.linalg.norm(np.diff(edges, axis=1)[:, :2], axis=2)
    assert sides.min() >= 5.5 and sides.max() <= 61


def test_houses_only_in_residential_and_mixed_buildings(generated_city: DemoCity) -> None:
    b, h = generated_city.buildings, generated_city.houses
    assert set(np.unique(b.use[h.building]).tolist()) == {"residential", "mixed"}
    rooms = h.room.tolist()
    assert all(re.fullmatch(r"[0-9]{4}", r) for r in rooms)  # floor + room: "0301"
    assert [r[:2] for r in rooms] == np.char.zfill(h.floor.astype(str), 2).tolist()
    assert (h.floor <= b.floors[h.building]).all()
    shops = h.use == "commercial"
    assert shops.any() and (b.use[h.building[shops]] == "mixed").all()
    assert {"self_occupied", "rented", "vacant"} <= set(np.unique(h.use).tolist())


# --------------------------------------------------------------------------- seeding


def test_seed_writes_what_was_generated(seeded: Seeded, generated_city: DemoCity) -> None:
    s = seeded.summary
    assert not s.already_present and (s.scale, s.seed) == ("demo", DEFAULT_SEED)
    assert (s.districts, s.streets, s.grids, s.buildings, s.houses) == (
        2,
        12,
        len(generated_city.grids),
        len(generated_city.buildings),
        len(generated_city.houses),
    )
    assert _scalar(
        seeded.session, "SELECT count(*) FROM grid WHERE district_code = ANY(:d)", d=DEMO_DISTRICTS
    ) == len(generated_city.grids)
    assert (
        _scalar(
            seeded.session,
            "SELECT count(*) FROM house h JOIN building b "
            "ON b.id = h.building_id WHERE b.district_code = ANY(:d)",
            d=DEMO_DISTRICTS,
        )
        == s.houses
    )


def test_progress_reaches_every_stage_total(seeded: Seeded) -> None:
    last = {stage: (done, total) for stage, done, total in seeded.progress}
    assert list(last) == ["generate", "admin_units", "grids", "buildings", "houses", "addresses"]
    assert all(done == total for done, total in last.values())
    assert last["buildings"][1] == seeded.summary.buildings


def test_houses_point_at_the_new_buildings_not_older_ones(seeded: Seeded) -> None:
    session = seeded.session
    assert (
        _scalar(
            session, "SELECT count(*) FROM house WHERE building_id = :i", i=seeded.other_building_id
        )
        == 0
    )
    assert (
        _scalar(
            session, "SELECT min(id) FROM building WHERE district_code = ANY(:d)", d=DEMO_DISTRICTS
        )
        > seeded.other_building_id
    )
    # The id sequence moved past the reserved ids: an ordinary insert still works.
    with session.begin_nested() as savepoint:
        later = Building(
            code="OTHER-2",
            district_code="420504",
            geom=ewkb_hex(shapely.MultiPolygon([shapely.box(111.21, 30.6, 111.211, 30.601)])),
        )
        session.add(later)
        session.flush()
        assert later.id > _scalar(
            session,
            "SELECT max(id) FROM building WHERE district_code = ANY(:d)",
            d=DEMO_DISTRICTS,
        )
        savepoint.rollback()


def test_polygons_are_valid_multipolygons_in_cgcs2000(seeded: Seeded) -> None:
    for table in ("admin_unit", "grid", "building"):
        bad = _scalar(
            seeded.session,
            f"SELECT count(*) FROM {table} WHERE district_code = ANY(:d) AND NOT "
            "(ST_IsValid(geom) AND ST_SRID(geom) = 4490 "
            "AND GeometryType(geom) = 'MULTIPOLYGON')",
            d=DEMO_DISTRICTS,
        )
        assert bad == 0, table


@pytest.mark.parametrize("district", DEMO_DISTRICTS)
def test_grids_cover_the_district_without_gaps(seeded: Seeded, district: str) -> None:
    district_m2, grids_m2 = seeded.session.execute(
        text(
            "SELECT ST_Area(ST_Transform(d.geom, 4546)), "
            "       (SELECT ST_Area(ST_Transform(ST_Union(g.geom), 4546)) FROM grid g "
            "        WHERE g.district_code = :d) "
            "FROM admin_unit d WHERE d.code = :d || '000000'"
        ),
        {"d": district},
    ).one()
    assert grids_m2 == pytest.approx(district_m2, rel=1e-3)


@pytest.mark.parametrize(
    ("table", "group"),
    [("grid", "community_code"), ("grid", "district_code"), ("admin_unit", "level")],
)
def test_siblings_do_not_overlap(seeded: Seeded, table: str, group: str) -> None:
    overlaps = _scalar(
        seeded.session,
        f"SELECT count(*) FROM {table} a JOIN {table} b ON a.code < b.code "
        f"AND a.{group} = b.{group} AND ST_Intersects(a.geom, b.geom) "
        "WHERE a.district_code = ANY(:d) AND b.district_code = ANY(:d) "
        "AND ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), 4546)) >= 1",
        d=DEMO_DISTRICTS,
    )
    assert overlaps == 0


def test_children_are_covered_by_their_parents(seeded: Seeded) -> None:
    session = seeded.session
    assert (
        _scalar(
            session,
            "SELECT count(*) FROM admin_unit c JOIN admin_unit p "
            "ON p.code = c.parent_code WHERE c.district_code = ANY(:d) "
            "AND NOT ST_CoveredBy(c.geom, p.geom)",
            d=DEMO_DISTRICTS,
        )
        == 0
    )
    assert (
        _scalar(
            session,
            "SELECT count(*) FROM grid g JOIN admin_unit c "
            "ON c.code = g.community_code WHERE g.district_code = ANY(:d) "
            "AND NOT ST_CoveredBy(g.geom, c.geom)",
            d=DEMO_DISTRICTS,
        )
        == 0
    )


def test_every_building_lies_within_its_grid(seeded: Seeded) -> None:
    session = seeded.session
    assert (
        _scalar(
            session,
            "SELECT count(*) FROM building b LEFT JOIN grid g "
            "ON g.code = b.grid_code WHERE b.district_code = ANY(:d) "
            "AND (g.code IS NULL OR NOT ST_Within(b.geom, g.geom))",
            d=DEMO_DISTRICTS,
        )
        == 0
    )


def test_no_two_buildings_intersect(seeded: Seeded) -> None:
    assert (
        _scalar(
            seeded.session,
            "SELECT count(*) FROM building a JOIN building b "
            "ON a.id < b.id AND ST_Intersects(a.geom, b.geom) "
            "WHERE a.district_code = ANY(:d)",
            d=DEMO_DISTRICTS,
        )
        == 0
    )


def test_second_seed_writes_nothing_and_reports_what_is_there(seeded: Seeded) -> None:
    again = seed_demo_city(seeded.session)
    first = seeded.summary
    assert again.already_present
    assert (
        again.districts,
        again.streets,
        again.communities,
        again.grids,
        again.buildings,
        again.houses,
    ) == (
        first.districts,
        first.streets,
        first.communities,
        first.grids,
        first.buildings,
        first.houses,
    )


def test_replace_seeds_again_with_the_same_counts(seeded: Seeded) -> None:
    session = seeded.session
    with session.begin_nested() as savepoint:
        before = _scalar(session, "SELECT max(id) FROM building")
        replaced = seed_demo_city(session, replace=True)
        assert not replaced.already_present
        assert replaced == seeded.summary
        assert (
            _scalar(
                session,
                "SELECT min(id) FROM building WHERE district_code = ANY(:d)",
                d=DEMO_DISTRICTS,
            )
            > before
        )
        assert (
            _scalar(
                session,
                "SELECT count(*) FROM house h JOIN building b "
                "ON b.id = h.building_id WHERE b.district_code = ANY(:d)",
                d=DEMO_DISTRICTS,
            )
            == seeded.summary.houses
        )
        assert _scalar(session, "SELECT count(*) FROM building WHERE code = 'OTHER-1'") == 1
        savepoint.rollback()
