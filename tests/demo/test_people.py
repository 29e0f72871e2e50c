"""Demo residents: deterministic, valid documents, placed in the demo city, realistic rates."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from demo.city.seed import seed_demo_city
from demo.people.frame import load_city_frame
from demo.people.generate import generate_people
from demo.people.scales import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    ORGANISATION_PHONE_CONTEXT,
    DemoPeopleError,
    PeopleSeedSummary,
)
from demo.people.seed import seed_demo_people
from people.access import Actor, load_actor
from people.credit_code import validate_credit_code
from people.documents import DocumentType, validate_document, validate_id_card
from people.models import Organisation, Resident, SpecialGroupType, Staff, StaffRole
from people.pii import get_cipher, mask_id_number, mask_phone, validate_phone
from people.service import DOC_CONTEXT, PHONE_CONTEXT, find_by_document, residents_of_building_on
from people.staff import authenticate

TODAY = date(2026, 11, 22)
XILING = "420502"


@dataclass
class Seeded:
    session: Session
    summary: PeopleSeedSummary
    progress: list[tuple[str, int, int]]
    admin: Actor


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Iterator[Seeded]:
    """The demo city and its people, seeded once into a transaction the module's checks share.

    Every database test of this module uses it, so nothing waits on its locks; it is rolled
    back when the module is done.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    progress: list[tuple[str, int, int]] = []
    try:
        seed_demo_city(session)
        summary = seed_demo_people(session, today=TODAY, on_progress=lambda *p: progress.append(p))
        admin_id = session.scalar(select(Staff.id).where(Staff.username == "admin"))
        assert admin_id is not None
        yield Seeded(session, summary, progress, load_actor(session, staff_id=admin_id))
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _scalar(session: Session, sql: str, **params: object) -> Any:
    return session.execute(text(sql), params).scalar_one()


# --------------------------------------------------------------------------- the whole seed


def test_seeding_writes_about_fifty_thousand_residents(seeded: Seeded) -> None:
    s = seeded.summary
    assert not s.already_present
    assert s.residents == 50_000
    assert _scalar(seeded.session, "SELECT count(*) FROM resident") == 50_000
    assert 15_000 < s.households < 25_000  # 2–3 people per household
    assert _scalar(seeded.session, "SELECT count(*) FROM household") == s.households
    assert s.organisations == _scalar(seeded.session, "SELECT count(*) FROM organisation") == 3_000
    assert s.special_groups == _scalar(seeded.session, "SELECT count(*) FROM special_group")


def test_progress_reports_every_copy_stage_to_completion(seeded: Seeded) -> None:
    finished = {stage for stage, done, total in seeded.progress if done == total}
    assert {
        "generate",
        "staff",
        "staff_grid",
        "organisations",
        "households",
        "residents",
        "residences",
        "special_groups",
        "household_heads",
    } <= finished
    residents = [done for stage, done, _ in seeded.progress if stage == "residents"]
    assert residents == sorted(residents)


def test_second_run_writes_nothing_and_counts_what_is_there(seeded: Seeded) -> None:
    again = seed_demo_people(seeded.session, today=TODAY)
    assert again.already_present
    first = seeded.summary
    for field in (
        "residents",
        "floating",
        "households",
        "residences",
        "special_groups",
        "organisations",
        "staff",
    ):
        assert getattr(again, field) == getattr(first, field), field
    assert _scalar(seeded.session, "SELECT count(*) FROM resident") == first.residents


def test_same_seed_gives_the_same_people_and_another_seed_others(seeded: Seeded) -> None:
    frame = load_city_frame(seeded.session, district_codes=[XILING, "420503"])
    once = generate_people(frame, seed=42, today=TODAY)
    twice = generate_people(frame, seed=42, today=TODAY)
    assert np.array_equal(once.doc_number, twice.doc_number)
    assert np.array_equal(once.name, twice.name)
    stored = seeded.session.execute(text("SELECT name, doc_masked FROM resident ORDER BY id")).all()
    assert [name for name, _ in stored] == once.name.tolist()
    assert [masked for _, masked in stored] == [mask_id_number(n) for n in once.doc_number]
    other = generate_people(frame, seed=7, today=TODAY)
    assert not np.array_equal(once.doc_number[:100], other.doc_number[:100])


def test_needs_the_demo_city(session: Session) -> None:
    with pytest.raises(DemoPeopleError, match="seed it first"):
        seed_demo_people(session, today=TODAY)
    with pytest.raises(DemoPeopleError, match="unknown scale"):
        seed_demo_people(session, scale="galaxy")


# --------------------------------------------------------------------------- documents


def test_document_numbers_are_unique_and_valid(seeded: Seeded) -> None:
    session = seeded.session
    assert _scalar(session, "SELECT count(DISTINCT (doc_type, doc_hash)) FROM resident") == 50_000
    cipher = get_cipher()
    sample = session.scalars(
        select(Resident).where(Resident.id % 97 == 0).order_by(Resident.id)
    ).all()
    assert len(sample) > 400
    kinds: Counter[str] = Counter()
    for resident in sample:
        number = cipher.decrypt(resident.doc_enc, context=DOC_CONTEXT)
        assert validate_document(resident.doc_type, number, today=TODAY) == number
        assert resident.doc_masked == mask_id_number(number)
        kinds[resident.doc_type.value] += 1
        if resident.doc_type is DocumentType.ID_CARD:
            info = validate_id_card(number, today=TODAY)
            assert resident.birth_date == info.birth_date
            assert resident.sex.value == info.sex
            if resident.residence_type.value == "registered":
                assert number.startswith(resident.district_code)
            if resident.residence_type.value == "floating":
                assert not number.startswith(resident.district_code)
                assert resident.origin
        if resident.phone_enc is not None:
            phone = cipher.decrypt(resident.phone_enc, context=PHONE_CONTEXT)
            assert validate_phone(phone) == phone and len(phone) == 11
            assert resident.phone_masked == mask_phone(phone)
    assert kinds["id_card"] > 0.95 * len(sample)


def test_a_sampled_resident_is_found_by_document(seeded: Seeded) -> None:
    session = seeded.session
    for resident_id in (1_234, 25_000, 49_000):
        resident = session.scalars(
            select(Resident).order_by(Resident.id).offset(resident_id).limit(1)
        ).one()
        number = get_cipher().decrypt(resident.doc_enc, context=DOC_CONTEXT)
        found = find_by_document(
            session, actor=seeded.admin, doc_type=resident.doc_type, number=number, today=TODAY
        )
        assert found is not None and found.id == resident.id and found.name == resident.name


def test_overseas_and_unregistered_people_hold_their_own_documents(seeded: Seeded) -> None:
    rows = seeded.session.execute(
        text("SELECT residence_type::text, doc_type::text, count(*) FROM resident GROUP BY 1, 2")
    ).all()
    by_type = {(r, d): n for r, d, n in rows}
    assert by_type[("unregistered", "other")] > 50
    overseas_docs = {d for (r, d) in by_type if r == "overseas"}
    assert overseas_docs <= {"passport", "hk_macau_residence", "taiwan_residence"}
    assert sum(n for (r, _), n in by_type.items() if r == "overseas") > 20


# --------------------------------------------------------------------------- where people live


def test_every_resident_lives_in_a_house_of_a_building_in_their_grid(seeded: Seeded) -> None:
    misplaced = _scalar(
        seeded.session,
        "SELECT count(*) FROM resident r LEFT JOIN house h ON h.id = r.house_id "
        "LEFT JOIN building b ON b.id = h.building_id "
        "WHERE b.grid_code IS DISTINCT FROM r.grid_code "
        "OR r.district_code IS DISTINCT FROM left(r.grid_code, 6)",
    )
    assert misplaced == 0


def test_each_resident_has_one_open_residence_in_their_house(seeded: Seeded) -> None:
    session = seeded.session
    assert (
        _scalar(
            session,
            "SELECT count(*) FROM resident r JOIN residence s ON s.resident_id = r.id "
            "AND s.moved_out IS NULL AND s.house_id = r.house_id "
            "AND s.moved_in <= :today AND s.moved_in >= r.birth_date",
            today=TODAY,
        )
        == 50_000
    )
    closed = _scalar(session, "SELECT count(*) FROM residence WHERE moved_out IS NOT NULL")
    assert 0.03 * 50_000 < closed < 0.07 * 50_000
    elsewhere = _scalar(
        session,
        "SELECT count(*) FROM residence old JOIN residence cur ON cur.resident_id = "
        "old.resident_id AND cur.moved_out IS NULL WHERE old.moved_out IS NOT NULL "
        "AND old.house_id <> cur.house_id AND old.moved_out = cur.moved_in",
    )
    assert elsewhere == closed


def test_history_answers_who_lived_in_a_building_on_a_past_day(seeded: Seeded) -> None:
    session = seeded.session
    resident_id, building_code, moved_in, moved_out = session.execute(
        text(
            "SELECT s.resident_id, b.code, s.moved_in, s.moved_out FROM residence s "
            "JOIN house h ON h.id = s.house_id JOIN building b ON b.id = h.building_id "
            "WHERE s.moved_out > s.moved_in + 30 ORDER BY s.id LIMIT 1"
        )
    ).one()
    during = moved_in + (moved_out - moved_in) / 2
    then = residents_of_building_on(
        session, actor=seeded.admin, building_code=building_code, on=during
    )
    assert resident_id in {r.id for r in then}
    after = residents_of_building_on(
        session, actor=seeded.admin, building_code=building_code, on=moved_out + timedelta(1)
    )
    assert resident_id not in {r.id for r in after}


def test_households_have_an_adult_head_and_one_to_five_members(seeded: Seeded) -> None:
    session = seeded.session
    assert _scalar(session, "SELECT count(*) FROM household WHERE head_id IS NULL") == 0
    heads = session.execute(
        text(
            "SELECT r.relation_to_head, r.birth_date, r.household_id = h.id, "
            "r.house_id = h.house_id FROM household h JOIN resident r ON r.id = h.head_id"
        )
    ).all()
    adult = TODAY.replace(year=TODAY.year - 18)
    assert all(rel == "户主" and born <= adult and same and home for rel, born, same, home in heads)
    sizes = Counter(
        n
        for (n,) in session.execute(
            text("SELECT count(*) FROM resident GROUP BY household_id")
        ).all()
    )
    assert set(sizes) == {1, 2, 3, 4, 5}
    relations = {
        r for (r,) in session.execute(text("SELECT DISTINCT relation_to_head FROM resident"))
    }
    assert relations == {"户主", "配偶", "子女", "父母", "其他"}


def test_about_a_quarter_are_floating_and_they_say_where_from_and_why(seeded: Seeded) -> None:
    session = seeded.session
    floating = _scalar(session, "SELECT count(*) FROM resident WHERE residence_type = 'floating'")
    assert 0.22 < floating / 50_000 < 0.28 and floating == seeded.summary.floating
    details = session.execute(
        text(
            "SELECT count(*) FILTER (WHERE origin IS NOT NULL AND arrival_date IS NOT NULL), "
            "count(*) FILTER (WHERE arrival_reason IN ('务工', '经商', '求学', '投亲')), "
            "count(*) FILTER (WHERE permit_number IS NOT NULL), "
            "count(*) FILTER (WHERE permit_expiry < arrival_date) "
            "FROM resident WHERE residence_type = 'floating'"
        )
    ).one()
    assert details[0] == details[1] == floating
    assert 0.3 * floating < details[2] < 0.8 * floating
    assert details[3] == 0


def test_ages_sexes_ethnicities_and_phones_are_plausible(seeded: Seeded) -> None:
    row = seeded.session.execute(
        text(
            "SELECT avg((birth_date > :d18)::int), avg((birth_date <= :d60)::int), "
            "avg((sex = 'male')::int), avg((ethnicity = '汉族')::int), "
            "avg((ethnicity = '土家族')::int), avg((phone_enc IS NOT NULL)::int), "
            "min(birth_date) FROM resident"
        ),
        {"d18": TODAY.replace(year=TODAY.year - 18), "d60": TODAY.replace(year=TODAY.year - 60)},
    ).one()
    minors, elderly, male, han, tujia, phones, oldest = row
    assert 0.10 < minors < 0.25
    assert 0.15 < elderly < 0.30
    assert 0.47 < male < 0.53
    assert 0.8 < han < 0.95 and 0.05 < tujia < 0.15
    assert 0.80 < phones < 0.90
    assert oldest > date(1920, 1, 1)


# --------------------------------------------------------------------------- special groups


def test_special_groups_come_at_realistic_rates(seeded: Seeded) -> None:
    counts = dict(
        seeded.session.execute(
            text("SELECT group_type::text, count(*) FROM special_group GROUP BY 1")
        ).all()
    )
    rates = {
        "disabled": 0.02,
        "low_income": 0.02,
        "left_behind": 0.005,
        "entitled": 0.003,
        "released_prisoner": 0.001,
        "community_correction": 0.0005,
        "mental_disorder": 0.004,
        "drug_user": 0.0005,
        "key_youth": 0.001,
    }
    for group, rate in rates.items():
        assert 0.7 * rate * 50_000 <= counts[group] <= 1.3 * rate * 50_000, group
    alone = _scalar(
        seeded.session,
        "SELECT count(*) FROM resident r WHERE r.birth_date <= :d65 AND r.residence_type "
        "<> 'overseas' AND (SELECT count(*) FROM resident m "
        "WHERE m.household_id = r.household_id) = 1",
        d65=TODAY.replace(year=TODAY.year - 65),
    )
    assert counts["elderly_alone"] == alone > 0
    assert set(counts) == {t.value for t in SpecialGroupType}


def test_danger_levels_set_the_visit_interval(seeded: Seeded) -> None:
    session = seeded.session
    assert (
        _scalar(
            session,
            "SELECT count(*) FROM special_group WHERE (danger_level IS NOT NULL) <> "
            "(group_type = 'mental_disorder')",
        )
        == 0
    )
    wrong = _scalar(
        session,
        "SELECT count(*) FROM special_group g WHERE visit_interval_days <> ("
        " SELECT v.interval_days FROM visit_interval v WHERE v.group_type = g.group_type"
        " AND v.min_danger_level <= coalesce(g.danger_level, 0)"
        " ORDER BY v.min_danger_level DESC LIMIT 1)",
    )
    assert wrong == 0
    levels = {
        lvl
        for (lvl,) in session.execute(
            text("SELECT DISTINCT danger_level FROM special_group WHERE danger_level IS NOT NULL")
        )
    }
    assert {0, 1, 2, 3} <= levels <= {0, 1, 2, 3, 4, 5}


def test_about_a_tenth_of_visits_are_overdue_and_schedules_add_up(seeded: Seeded) -> None:
    session = seeded.session
    total, overdue, inconsistent = session.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE next_visit_due < :today), "
            "count(*) FILTER (WHERE next_visit_due <> coalesce(last_visit_on, started_on) "
            "+ visit_interval_days OR started_on > coalesce(last_visit_on, started_on) "
            "OR last_visit_on > :today) FROM special_group"
        ),
        {"today": TODAY},
    ).one()
    assert 0.06 < overdue / total < 0.14
    assert inconsistent == 0


def test_special_groups_are_looked_after_by_a_worker_of_their_grid(seeded: Seeded) -> None:
    unassigned = _scalar(
        seeded.session,
        "SELECT count(*) FROM special_group g JOIN resident r ON r.id = g.resident_id "
        "WHERE NOT EXISTS (SELECT 1 FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id "
        "WHERE sg.staff_id = g.responsible_staff_id AND sg.grid_code = r.grid_code "
        "AND s.role = 'grid_worker')",
    )
    assert unassigned == 0
    details = seeded.session.execute(
        text("SELECT group_type::text, details FROM special_group ORDER BY id")
    ).all()
    keys = {"mental_disorder": "diagnosis", "disabled": "grade", "low_income": "category"}
    for group, data in details:
        if group in keys:
            assert keys[group] in data


# --------------------------------------------------------------------------- organisations


def test_organisations_have_valid_unique_credit_codes_and_sit_in_their_building(
    seeded: Seeded,
) -> None:
    session = seeded.session
    codes = session.scalars(select(Organisation.credit_code)).all()
    assert len(codes) == len(set(codes)) == 3_000
    assert all(validate_credit_code(c) == c for c in codes)
    placed = _scalar(
        session,
        "SELECT count(*) FROM organisation o JOIN building b ON b.id = o.building_id "
        "WHERE ST_Covers(b.geom, o.geom) AND o.grid_code = b.grid_code "
        "AND b.use IN ('commercial', 'mixed', 'office', 'public', 'industrial')",
    )
    assert placed == 3_000
    schools = session.execute(
        text(
            "SELECT DISTINCT b.use::text FROM organisation o JOIN building b "
            "ON b.id = o.building_id WHERE o.org_type = 'school'"
        )
    ).all()
    assert {u for (u,) in schools} <= {"public", "commercial", "mixed", "office"}


def test_key_units_and_encrypted_contact_phones(seeded: Seeded) -> None:
    session = seeded.session
    fire, security = session.execute(
        text("SELECT avg(fire_key_unit::int), avg(security_key_unit::int) FROM organisation")
    ).one()
    assert 0.04 < fire < 0.06 and 0.02 < security < 0.04
    by_type = dict(
        session.execute(
            text("SELECT org_type::text, avg(fire_key_unit::int) FROM organisation GROUP BY 1")
        ).all()
    )
    assert by_type["school"] > by_type["individual_business"]
    for org in session.scalars(select(Organisation).order_by(Organisation.id).limit(50)):
        assert org.responsible_phone_enc is not None
        phone = get_cipher().decrypt(org.responsible_phone_enc, context=ORGANISATION_PHONE_CONTEXT)
        assert org.responsible_phone_masked == mask_phone(validate_phone(phone))
        assert org.legal_representative and org.responsible_person and org.staff_count


# --------------------------------------------------------------------------- staff


def test_demo_accounts_log_in_with_the_demo_password(seeded: Seeded) -> None:
    session = seeded.session
    actors = {}
    for account in DEMO_ACCOUNTS:
        actor = authenticate(session, username=account.username, password=DEMO_PASSWORD)
        assert actor is not None, account.username
        assert actor.role is account.role
        actors[account.username] = actor
    assert authenticate(session, username="admin", password="wrong-password") is None
    first_grid = _scalar(session, "SELECT min(code) FROM grid")
    assert actors["worker1"].grid_codes == {first_grid}
    (other,) = actors["worker2"].grid_codes
    assert other[:9] != first_grid[:9]  # a grid in another street
    for name in ("leader", "command", "inspector1"):
        assert actors[name].area_code == "420502000000"
    for name in ("wjg.leader", "wjg.command"):
        assert actors[name].area_code == "420503000000"
    first_wjg = _scalar(session, "SELECT min(code) FROM grid WHERE district_code = '420503'")
    assert actors["wjg.worker1"].grid_codes == {first_wjg}
    for name in ("city1", "city.leader"):  # 宜昌市: both districts
        assert actors[name].area_code == "4205"
        assert actors[name].can_see_grid(first_grid) and actors[name].can_see_grid(first_wjg)


def test_every_grid_has_one_or_two_grid_workers(seeded: Seeded) -> None:
    session = seeded.session
    per_grid = Counter(
        n
        for (n,) in session.execute(
            text(
                "SELECT count(sg.staff_id) FROM grid g LEFT JOIN staff_grid sg "
                "ON sg.grid_code = g.code GROUP BY g.code"
            )
        )
    )
    assert set(per_grid) <= {1, 2} and per_grid[1] > per_grid[2] > 0
    bulk = session.scalar(
        select(Staff).where(Staff.username.like("gw%")).order_by(Staff.username).limit(1)
    )
    assert bulk is not None and bulk.role is StaffRole.GRID_WORKER
    assert re.fullmatch(r"gw420502\d{9}(-2)?", bulk.username)
    # At demo scale the bulk accounts share the demo password.
    assert authenticate(session, username=bulk.username, password=DEMO_PASSWORD) is not None
