"""The resident ledger: registration, masking, unmasking with an audit trail, scope, history."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from people import service
from people.exceptions import Duplicate, Forbidden, InvalidRecord, NotFound
from people.models import PiiAccessLog, ResidenceType, Resident
from people.schemas import ResidentCreate, ResidentUpdate
from tests.factories import (
    id_number,
)
from tests.people.residents_city import GRID_A, TODAY


def register(residents_city, actor="worker_a", house="BA-1-0101", sequence=11, **fields):
    data = ResidentCreate(
        doc_number=id_number(sequence),
        name="张三",
        house_code=house,
        moved_in=date(2020, 1, 1),
        phone="13812345678",
        **fields,
    )
    return service.register_resident(
        residents_city["session"], actor=residents_city[actor], data=data, today=TODAY
    )


def test_registration_derives_sex_and_birth_date_and_masks_id_and_phone(residents_city):
    resident = register(residents_city, sequence=11)
    assert (resident.sex.value, resident.birth_year, resident.age) == ("male", 1985, 41)
    number = id_number(11)
    assert resident.doc_masked == number[:6] + "*" * 11 + number[-1:]
    assert resident.phone_masked == "138****5678"
    assert (resident.grid_code, resident.house_code) == (GRID_A, "BA-1-0101")


def test_id_number_and_phone_are_encrypted_at_rest(residents_city):
    resident = register(residents_city, sequence=11)
    row = residents_city["session"].get(Resident, resident.id)
    assert id_number(11).encode() not in row.doc_enc
    assert b"13812345678" not in row.phone_enc


def test_second_registration_of_the_same_id_is_refused_as_duplicate(residents_city):
    register(residents_city, sequence=11)
    with pytest.raises(Duplicate, match="already registered"):
        register(residents_city, sequence=11, house="BA-1-0201")


def test_malformed_id_number_is_refused_naming_the_rule(residents_city):
    bad = id_number(11)[:-1] + ("0" if id_number(11)[-1] != "0" else "1")
    with pytest.raises(InvalidRecord, match="check digit"):
        service.register_resident(
            residents_city["session"],
            actor=residents_city["worker_a"],
            data=ResidentCreate(doc_number=bad, name="李四", house_code="BA-1-0101"),
            today=TODAY,
        )


def test_floating_resident_needs_an_origin(residents_city):
    with pytest.raises(InvalidRecord, match="origin"):
        register(residents_city, residence_type=ResidenceType.FLOATING)
    floating = register(
        residents_city, residence_type=ResidenceType.FLOATING, origin="湖北省恩施州"
    )
    assert floating.residence_type_label == "流动人口"


def test_grid_worker_cannot_register_or_read_residents_outside_their_grids(residents_city):
    with pytest.raises(Forbidden, match="outside your scope"):
        register(residents_city, actor="worker_a", house="BB-1-0101")
    resident = register(residents_city, actor="worker_b", house="BB-1-0101")
    with pytest.raises(NotFound, match="does not exist or is outside your scope"):
        service.get_resident(
            residents_city["session"], actor=residents_city["worker_a"], resident_id=resident.id
        )
    listing = service.list_residents(residents_city["session"], actor=residents_city["worker_a"])
    assert listing.total == 0


def test_leaders_see_aggregates_only_never_a_person(residents_city):
    resident = register(residents_city)
    with pytest.raises(Forbidden, match="may not read residents"):
        service.get_resident(
            residents_city["session"], actor=residents_city["leader"], resident_id=resident.id
        )
    with pytest.raises(Forbidden):
        service.list_residents(residents_city["session"], actor=residents_city["leader"])


def test_unmasking_returns_clear_values_and_writes_an_access_log_row(residents_city):
    resident = register(residents_city, sequence=11)
    pii = service.unmask_resident(
        residents_city["session"],
        actor=residents_city["worker_a"],
        resident_id=resident.id,
        reason="上门走访核实联系方式",
    )
    assert (pii.doc_number, pii.phone) == (id_number(11), "13812345678")
    log = residents_city["session"].scalars(select(PiiAccessLog)).all()
    assert [(entry.staff_id, entry.resident_id, entry.reason) for entry in log] == [
        (residents_city["worker_a"].staff_id, resident.id, "上门走访核实联系方式")
    ]


def test_unmasking_needs_a_reason_and_an_allowed_role(residents_city):
    resident = register(residents_city)
    with pytest.raises(InvalidRecord, match="say why"):
        service.unmask_resident(
            residents_city["session"],
            actor=residents_city["worker_a"],
            resident_id=resident.id,
            reason=" ",
        )
    with pytest.raises(Forbidden):
        service.unmask_resident(
            residents_city["session"],
            actor=residents_city["leader"],
            resident_id=resident.id,
            reason="想看看",
        )
    assert residents_city["session"].scalars(select(PiiAccessLog)).all() == []


def test_lookup_by_document_finds_the_resident_without_decrypting(residents_city):
    resident = register(residents_city, sequence=11)
    found = service.find_by_document(
        residents_city["session"],
        actor=residents_city["admin"],
        doc_type="id_card",
        number=" " + id_number(11).lower() + " ",
    )
    assert found is not None and found.id == resident.id
    assert (
        service.find_by_document(
            residents_city["session"],
            actor=residents_city["admin"],
            doc_type="id_card",
            number=id_number(13),
        )
        is None
    )


def test_moving_keeps_history_and_answers_who_lived_in_a_building_on_a_date(residents_city):
    session, worker = residents_city["session"], residents_city["worker_a"]
    resident = register(residents_city, sequence=11)  # BA-1-0101 since 2020-01-01
    service.move_in(
        session,
        actor=worker,
        resident_id=resident.id,
        house_code="BA-1-0201",
        on=date(2024, 5, 1),
        reason="换房",
    )
    history = service.residence_history(session, actor=worker, resident_id=resident.id)
    assert [(h.house_code, h.moved_in, h.moved_out) for h in history] == [
        ("BA-1-0101", date(2020, 1, 1), date(2024, 5, 1)),
        ("BA-1-0201", date(2024, 5, 1), None),
    ]
    service.move_out(
        session, actor=worker, resident_id=resident.id, on=date(2026, 3, 1), reason="迁出本市"
    )
    on_2023 = service.residents_of_building_on(
        session, actor=worker, building_code="BA", on=date(2023, 1, 1)
    )
    on_2026 = service.residents_of_building_on(
        session, actor=worker, building_code="BA", on=date(2026, 6, 1)
    )
    assert [r.id for r in on_2023] == [resident.id] and on_2026 == []
    assert session.get(Resident, resident.id).active is False


def test_moving_in_before_the_current_stay_began_is_refused(residents_city):
    resident = register(residents_city)
    with pytest.raises(InvalidRecord, match="history cannot be rewritten"):
        service.move_in(
            residents_city["session"],
            actor=residents_city["worker_a"],
            resident_id=resident.id,
            house_code="BA-1-0201",
            on=date(2019, 1, 1),
        )


def test_updating_a_phone_re_encrypts_and_re_masks_it(residents_city):
    resident = register(residents_city)
    updated = service.update_resident(
        residents_city["session"],
        actor=residents_city["worker_a"],
        resident_id=resident.id,
        changes=ResidentUpdate(phone="+86 139-0000-1111"),
    )
    assert updated.phone_masked == "139****1111"
    with pytest.raises(InvalidRecord, match=r"(?i)phone '12345' has 5 digits"):
        service.update_resident(
            residents_city["session"],
            actor=residents_city["worker_a"],
            resident_id=resident.id,
            changes=ResidentUpdate(phone="12345"),
        )


def test_household_lists_head_first_with_relations(residents_city):
    session, worker = residents_city["session"], residents_city["worker_a"]
    head = register(residents_city, sequence=11)
    spouse = register(residents_city, sequence=12)
    household = service.create_household(
        session,
        actor=worker,
        code="H001",
        head_id=head.id,
        members={spouse.id: "配偶"},
        today=TODAY,
    )
    assert [(m.id, m.relation_to_head) for m in household.members] == [
        (head.id, "户主"),
        (spouse.id, "配偶"),
    ]
    assert household.house_code == "BA-1-0101"
