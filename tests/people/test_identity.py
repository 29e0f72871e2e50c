"""One ledger record per person nationwide, with the resident tables kept per district.

`resident` is unique on the document only within a district (the key Citus can keep);
`person_identity` holds the document once across all districts. Moving a person into a house
of another district starts a new record there and ends the old one.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from grid.models import AdminLevel, AdminUnit
from people import service
from people.exceptions import Duplicate
from people.models import PersonIdentity, Residence, Resident, SpecialGroup, SpecialGroupType
from people.schemas import ResidentCreate
from people.special_groups import enrol
from tests.factories import add_building, add_grid, add_house, add_staff, ewkb, id_number, square
from tests.people.residents_city import TODAY, person, run, write_rows

OTHER = "420503"  # 伍家岗区, beside the residents city's 西陵区 (420502)
OTHER_COMMUNITY = OTHER + "001001"
OTHER_GRID = OTHER_COMMUNITY + "001"


@pytest.fixture
def two_districts(residents_city):
    session = residents_city["session"]
    area = square(111.33, 30.70, 0.02)
    for code, level, parent in (
        (OTHER + "000000", AdminLevel.DISTRICT, None),
        (OTHER + "001000", AdminLevel.STREET, OTHER + "000000"),
        (OTHER_COMMUNITY, AdminLevel.COMMUNITY, OTHER + "001000"),
    ):
        session.add(
            AdminUnit(
                code=code,
                name=f"伍家岗{level.label}",
                level=level,
                parent_code=parent,
                district_code=OTHER,
                geom=ewkb(area),
            )
        )
        session.flush()
    add_grid(session, OTHER_GRID, square(111.33, 30.70, 0.01))
    building = add_building(session, "WC", square(111.331, 30.701, 0.0002), OTHER_GRID)
    add_house(session, building, room="0101")
    residents_city["worker_other"] = add_staff(
        session, "worker_other", "grid_worker", grid_codes=[OTHER_GRID]
    )
    return residents_city


def register(city, actor: str, house: str, sequence: int = 11):
    data = ResidentCreate(
        doc_number=id_number(sequence), name="张三", house_code=house, moved_in=date(2020, 1, 1)
    )
    return service.register_resident(city["session"], actor=city[actor], data=data, today=TODAY)


def holder(session, resident_id: int) -> tuple[str, int]:
    row = session.get(Resident, resident_id)
    identity = session.scalars(
        select(PersonIdentity).where(PersonIdentity.doc_hash == row.doc_hash)
    ).one()
    return identity.district_code, identity.resident_id


def test_registering_claims_the_document_for_the_district_of_the_house(two_districts):
    first = register(two_districts, "worker_a", "BA-1-0101", sequence=11)
    second = register(two_districts, "worker_other", "WC-1-0101", sequence=13)
    session = two_districts["session"]
    assert holder(session, first.id) == ("420502", first.id)
    assert holder(session, second.id) == (OTHER, second.id)
    assert session.get(Resident, second.id).district_code == OTHER


def test_a_document_held_in_another_district_is_refused_there(two_districts):
    register(two_districts, "worker_a", "BA-1-0101", sequence=11)
    # The resident table alone would accept it: its unique key holds within one district.
    with pytest.raises(Duplicate, match="outside your scope"):
        register(two_districts, "worker_other", "WC-1-0101", sequence=11)
    assert len(two_districts["session"].scalars(select(Resident.id)).all()) == 1


def test_moving_into_another_district_starts_a_new_record_there(two_districts):
    session = two_districts["session"]
    old = register(two_districts, "worker_a", "BA-1-0101", sequence=11)
    enrol(
        session,
        actor=two_districts["admin"],
        resident_id=old.id,
        group_type=SpecialGroupType.ELDERLY_ALONE,
        details={},
        started_on=date(2024, 1, 1),
    )
    moved = service.move_in(
        session,
        actor=two_districts["admin"],
        resident_id=old.id,
        house_code="WC-1-0101",
        on=date(2026, 11, 1),
    )
    assert moved.resident_id != old.id and moved.grid_code == OTHER_GRID
    before, after = session.get(Resident, old.id), session.get(Resident, moved.resident_id)
    assert (before.district_code, before.active, before.house_id) == ("420502", False, None)
    assert (after.district_code, after.active, after.name) == (OTHER, True, "张三")
    assert after.doc_hash == before.doc_hash
    assert holder(session, old.id) == (OTHER, after.id)
    ended = session.scalars(select(Residence).where(Residence.resident_id == old.id)).one()
    assert (ended.moved_out, ended.reason) == (date(2026, 11, 1), f"迁往 {OTHER}")
    groups = session.scalars(select(SpecialGroup).order_by(SpecialGroup.id)).all()
    assert [(g.district_code, g.ended_on) for g in groups] == [
        ("420502", date(2026, 11, 1)),
        (OTHER, None),
    ]


def test_moving_within_the_district_keeps_the_record(two_districts):
    session = two_districts["session"]
    resident = register(two_districts, "worker_a", "BA-1-0101", sequence=11)
    moved = service.move_in(
        session,
        actor=two_districts["admin"],
        resident_id=resident.id,
        house_code="BB-1-0101",
        on=date(2026, 11, 1),
    )
    assert moved.resident_id == resident.id
    assert holder(session, resident.id) == ("420502", resident.id)


def test_an_import_does_not_move_a_person_between_districts(two_districts, tmp_path):
    register(two_districts, "worker_a", "BA-1-0101", sequence=11)
    path = write_rows(
        tmp_path / "ledger.csv",
        [person(11, house_code="WC-1-0101"), person(15, house_code="WC-1-0101")],
    )
    report = run(two_districts, path)
    assert (report.imported, report.rejected_rows) == (1, 1)
    [error] = [e for e in report.rejected if "district" in e.reason]
    assert "registered in the ledger of district 420502" in error.reason
    assert "迁入" in error.reason
