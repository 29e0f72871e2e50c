"""Organisations (实有单位): credit codes, placement by building, PII, scope, key units by area."""

from __future__ import annotations

import pytest
import shapely
from shapely import Point, box
from sqlalchemy import select

from grid.models import Grid
from people import organisations as orgs
from people.credit_code import CREDIT_CODE_CHARS, make_credit_code
from people.exceptions import Duplicate, Forbidden, InvalidRecord, NotFound
from people.models import Organisation, PiiAccessLog
from people.schemas import OrganisationCreate, OrganisationUpdate
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    add_staff,
    admin_tree,
    square,
)

GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
FOOTPRINT_A = square(111.281, 30.701, 0.0002)
FOOTPRINT_A2 = square(111.286, 30.706, 0.0002)
FOOTPRINT_B = square(111.291, 30.701, 0.0002)


@pytest.fixture
def organisations_city(session):
    """Grids A and B side by side, buildings BA and BA2 in A and BB in B, a worker per grid."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, GRID_A, square(111.28, 30.70, 0.01))
    add_grid(session, GRID_B, square(111.29, 30.70, 0.01))
    add_building(session, "BA", FOOTPRINT_A, GRID_A)
    add_building(session, "BA2", FOOTPRINT_A2, GRID_A)
    add_building(session, "BB", FOOTPRINT_B, GRID_B)
    return {
        "session": session,
        "worker_a": add_staff(session, "worker_a", "grid_worker", grid_codes=[GRID_A]),
        "worker_b": add_staff(session, "worker_b", "grid_worker", grid_codes=[GRID_B]),
        "leader": add_staff(session, "leader", "leader", area_code="420502000000"),
        "admin": add_staff(session, "boss", "admin"),
    }


def code(sequence: int) -> str:
    return make_credit_code("420502", sequence)


def register(organisations_city, sequence: int = 1, actor: str = "admin", **fields):
    fields.setdefault("building_code", "BA")
    data = OrganisationCreate(
        credit_code=code(sequence),
        name=fields.pop("name", f"宜昌测试商贸有限公司{sequence}"),
        org_type=fields.pop("org_type", "enterprise"),
        **fields,
    )
    return orgs.register_organisation(
        organisations_city["session"], actor=organisations_city[actor], data=data
    ).read


def wrong_last_character(valid: str) -> str:
    other = next(c for c in CREDIT_CODE_CHARS if c != valid[17])
    return valid[:17] + other


# --- registration -----------------------------------------------------------------------------


def test_organisation_takes_grid_district_and_a_point_on_its_building(organisations_city):
    org = register(organisations_city, building_code="BA", address="西陵一路1号")
    assert (org.building_code, org.grid_code, org.district_code) == ("BA", GRID_A, "420502")
    assert FOOTPRINT_A.covers(Point(org.lon, org.lat))


def test_credit_code_with_a_wrong_check_character_is_refused_naming_position_18(organisations_city):
    valid = code(1)
    with pytest.raises(InvalidRecord) as caught:
        orgs.register_organisation(
            organisations_city["session"],
            actor=organisations_city["admin"],
            data=OrganisationCreate(
                credit_code=wrong_last_character(valid),
                name="错码公司",
                org_type="enterprise",
                building_code="BA",
            ),
        )
    message = str(caught.value)
    assert "credit_code" in message and "GB 32100" in message
    assert f"position 18 should be {valid[17]}" in message
    assert organisations_city["session"].scalars(select(Organisation)).all() == []


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("91420502MA4", "has 11 characters but should have 18"),
        ("91420502MA4KX0O12A", "'O' at position 15"),
        ("91990000MA4KX0012A", "positions 3–8"),
    ],
)
def test_malformed_credit_codes_are_refused_with_the_rule_they_break(organisations_city, bad, rule):
    with pytest.raises(InvalidRecord, match=rule):
        orgs.register_organisation(
            organisations_city["session"],
            actor=organisations_city["admin"],
            data=OrganisationCreate(
                credit_code=bad, name="坏码商铺", org_type="shop", building_code="BA"
            ),
        )


def test_an_early_pilot_code_is_accepted_only_when_confirmed(organisations_city):
    pilot = "91350211M0000XUF46"  # real 2015 Xiamen pilot code failing the check character
    data = {
        "credit_code": pilot,
        "name": "试点公司",
        "org_type": "enterprise",
        "building_code": "BA",
    }
    with pytest.raises(InvalidRecord, match="pilot code"):
        orgs.register_organisation(
            organisations_city["session"],
            actor=organisations_city["admin"],
            data=OrganisationCreate(**data),
        )
    org = orgs.register_organisation(
        organisations_city["session"],
        actor=organisations_city["admin"],
        data=OrganisationCreate(**data, pilot_code_confirmed=True),
    ).read
    assert org.credit_code == pilot


def test_a_credit_code_is_registered_once(organisations_city):
    first = register(organisations_city, 1, name="宜昌甲公司")
    with pytest.raises(
        Duplicate, match=f"already registered to 宜昌甲公司 .organisation {first.id}"
    ):
        orgs.register_organisation(
            organisations_city["session"],
            actor=organisations_city["admin"],
            data=OrganisationCreate(
                credit_code=" " + code(1).lower(),  # normalised before the check
                name="宜昌乙公司",
                org_type="shop",
                building_code="BB",
            ),
        )


def test_organisation_type_is_taken_by_chinese_label(organisations_city):
    org = register(organisations_city, org_type="学校", name="西陵小学")
    assert (org.org_type, org.org_type_label) == ("school", "学校")


def test_responsible_phone_is_encrypted_masked_and_unmasked_only_with_a_logged_reason(
    organisations_city,
):
    org = register(
        organisations_city, responsible_person="刘经理", responsible_phone="138 1234 5678"
    )
    assert org.responsible_phone_masked == "138****5678"
    row = organisations_city["session"].get(Organisation, org.id)
    assert b"13812345678" not in row.responsible_phone_enc
    phone = orgs.unmask_organisation_phone(
        organisations_city["session"],
        actor=organisations_city["worker_a"],
        organisation_id=org.id,
        reason="消防检查联系负责人",
    )
    assert phone == "13812345678"
    log = organisations_city["session"].scalars(select(PiiAccessLog)).all()
    assert [(e.organisation_id, e.fields, e.reason) for e in log] == [
        (org.id, "responsible_phone", "消防检查联系负责人")
    ]
    with pytest.raises(Forbidden):
        orgs.unmask_organisation_phone(
            organisations_city["session"],
            actor=organisations_city["leader"],
            organisation_id=org.id,
            reason="看看电话",
        )


def test_a_malformed_phone_is_refused_naming_the_field(organisations_city):
    with pytest.raises(InvalidRecord, match="responsible_phone: Phone '1234'"):
        register(organisations_city, responsible_phone="1234")


def test_an_organisation_needs_exactly_one_kind_of_place(organisations_city):
    with pytest.raises(InvalidRecord, match="needs a place"):
        register(organisations_city, building_code=None)
    with pytest.raises(InvalidRecord, match="not both"):
        register(organisations_city, building_code="BA", lon=111.281, lat=30.701)
    with pytest.raises(NotFound, match="building NOPE does not exist"):
        register(organisations_city, building_code="NOPE")


def test_without_a_building_the_point_is_located_in_its_grid(organisations_city):
    street_stall = register(organisations_city, 1, building_code=None, lon=111.295, lat=30.705)
    assert (street_stall.grid_code, street_stall.building_code) == (GRID_B, None)
    assert (street_stall.lon, street_stall.lat) == pytest.approx((111.295, 30.705))
    inside_bb = register(organisations_city, 2, building_code=None, lon=111.2911, lat=30.7011)
    assert (inside_bb.grid_code, inside_bb.building_code) == (GRID_B, "BB")


def test_grid_worker_registers_and_reads_organisations_of_their_grids_only(organisations_city):
    with pytest.raises(Forbidden, match=f"grid {GRID_B}, outside your scope"):
        register(organisations_city, actor="worker_a", building_code="BB")
    in_b = register(organisations_city, actor="worker_b", building_code="BB")
    # Another grid's organisation reads as missing, as another grid's resident does.
    with pytest.raises(NotFound, match="does not exist or is outside your scope"):
        orgs.get_organisation(
            organisations_city["session"],
            actor=organisations_city["worker_a"],
            organisation_id=in_b.id,
        )
    with pytest.raises(Forbidden, match="may not list organisations"):
        orgs.list_organisations(organisations_city["session"], actor=organisations_city["leader"])


def test_moving_to_another_building_moves_the_organisation_to_its_grid(organisations_city):
    org = register(organisations_city, actor="worker_a", building_code="BA")
    with pytest.raises(Forbidden, match="outside your scope"):
        orgs.update_organisation(
            organisations_city["session"],
            actor=organisations_city["worker_a"],
            organisation_id=org.id,
            changes=OrganisationUpdate(building_code="BB"),
        )
    moved = orgs.update_organisation(
        organisations_city["session"],
        actor=organisations_city["admin"],
        organisation_id=org.id,
        changes=OrganisationUpdate(building_code="BB", staff_count=12, fire_key_unit=True),
    )
    assert (moved.building_code, moved.grid_code, moved.staff_count) == ("BB", GRID_B, 12)
    assert moved.fire_key_unit and FOOTPRINT_B.covers(Point(moved.lon, moved.lat))
    assert moved.name == org.name


def test_list_filters_by_grid_area_type_flags_and_name(organisations_city):
    session, admin = organisations_city["session"], organisations_city["admin"]
    register(organisations_city, 1, name="西陵加油站", fire_key_unit=True, security_key_unit=True)
    register(organisations_city, 2, name="阳光超市", org_type="shop")
    register(
        organisations_city,
        3,
        name="宜昌二中",
        org_type="school",
        building_code="BB",
        security_key_unit=True,
    )

    def listed(actor=admin, **filters):
        return [o.name for o in orgs.list_organisations(session, actor=actor, **filters).items]

    assert listed() == ["西陵加油站", "阳光超市", "宜昌二中"]
    assert listed(actor=organisations_city["worker_a"]) == ["西陵加油站", "阳光超市"]
    assert listed(grid_code=GRID_B) == ["宜昌二中"]
    assert listed(area_code=COMMUNITY) == ["西陵加油站", "阳光超市", "宜昌二中"]
    assert listed(org_type="学校") == ["宜昌二中"]
    assert listed(fire_key_unit=True) == ["西陵加油站"]
    assert listed(security_key_unit=True) == ["西陵加油站", "宜昌二中"]
    assert listed(security_key_unit=False) == ["阳光超市"]
    assert listed(name="超市") == ["阳光超市"]
    assert orgs.list_organisations(session, actor=admin, page_size=2).total == 3


# --- key units in a jurisdiction --------------------------------------------------------------


@pytest.fixture
def key_units(organisations_city):
    """Fire and security key units in grid A (BA, BA2) and in grid B (BB), plus plain shops."""
    register(organisations_city, 1, name="A加油站", building_code="BA", fire_key_unit=True)
    register(organisations_city, 2, name="A网吧", building_code="BA2", security_key_unit=True)
    register(organisations_city, 3, name="A超市", building_code="BA")
    register(organisations_city, 4, name="B商场", building_code="BB", fire_key_unit=True)
    register(organisations_city, 5, name="B银行", building_code="BB", security_key_unit=True)


def test_key_units_inside_a_jurisdiction_are_found_and_those_outside_are_not(
    organisations_city, key_units
):
    station_area = box(111.279, 30.699, 111.2895, 30.711)  # covers grid A, not building BB
    fire = orgs.key_units_in(organisations_city["session"], polygon=station_area, kind="fire")
    security = orgs.key_units_in(
        organisations_city["session"], polygon=station_area, kind="security"
    )
    assert [o.name for o in fire] == ["A加油站"]
    assert [o.name for o in security] == ["A网吧"]


def test_key_units_take_the_jurisdiction_as_wkb_or_a_stored_geometry(organisations_city, key_units):
    session = organisations_city["session"]
    grid_b = session.scalar(select(Grid.geom).where(Grid.code == GRID_B))
    from_db = orgs.key_units_in(session, polygon=grid_b, kind="fire")
    from_wkb = orgs.key_units_in(
        session, polygon=shapely.to_wkb(box(111.29, 30.70, 111.30, 30.71)), kind="fire"
    )
    assert [o.name for o in from_db] == [o.name for o in from_wkb] == ["B商场"]


def test_key_units_refuse_a_projected_or_non_polygon_jurisdiction(organisations_city):
    with pytest.raises(InvalidRecord, match="looks projected"):
        orgs.key_units_in(
            organisations_city["session"],
            polygon=box(500_000, 3_390_000, 510_000, 3_400_000),
            kind="fire",
        )
    with pytest.raises(InvalidRecord, match="Polygon or MultiPolygon, not Point"):
        orgs.key_units_in(organisations_city["session"], polygon=Point(111.28, 30.70), kind="fire")
    with pytest.raises(InvalidRecord, match="kind 'water' is unknown"):
        orgs.key_units_in(
            organisations_city["session"], polygon=box(111.28, 30.70, 111.29, 30.71), kind="water"
        )
