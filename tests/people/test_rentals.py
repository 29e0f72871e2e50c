"""Rentals (出租屋), floating residents' deadlines and the task rules, on real PostGIS.

The city: grid A's building BA has houses 0101 (张三) and 0201 (李四), grid B's building BB
has 0101 (王五) and an empty 0201. Thresholds are the defaults (2 per room, 5 m² each, 30
days to register, permits listed 30 days ahead). Expectations are worked out by hand and read
back with plain SQL, never from the service under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from gis.config import get_settings
from people import floating, organisations, rentals, service
from people.credit_code import make_credit_code
from people.exceptions import AlreadyClosed, Duplicate, Forbidden, InvalidRecord, NotFound
from people.models import TaskKind
from people.rentals import Findings, RiskGrade, assess
from people.schemas import OrganisationCreate, RentalCreate, RentalUpdate, ResidentCreate
from people.task_rules import generate_tasks
from tests.api.people_city import GRID_A, GRID_B, build_people_city
from tests.factories import id_number

START = date(2026, 3, 1)


@pytest.fixture
def city(session) -> dict[str, Any]:
    built = build_people_city(session)
    session.execute(text("UPDATE house SET area_m2 = 10"))
    return built


def _newcomer(city, sequence: int, house: str, **fields: Any) -> int:
    """A floating resident moving into `house` (default arrival: START)."""
    values: dict[str, Any] = {
        "residence_type": "floating",
        "origin": "湖南省长沙市",
        "arrival_date": START,
        "moved_in": START,
        **fields,
    }
    return service.register_resident(
        city["session"],
        actor=city["admin"],
        data=ResidentCreate(
            doc_number=id_number(sequence), name=f"租客{sequence}", house_code=house, **values
        ),
    ).id


def _let(city, house: str = "BA-1-0101", *, actor: str = "worker_a", **fields: Any):
    values: dict[str, Any] = {
        "house_code": house,
        "landlord_resident_id": city["residents"]["li"],
        "lease_start": START,
        "responsibility_signed_on": START,
        **fields,
    }
    return rentals.register_rental(
        city["session"], actor=city[actor], data=RentalCreate(**values)
    ).read


def _open_tenants(session, rental_id: int) -> list[int]:
    return [
        r
        for (r,) in session.execute(
            text(
                "SELECT resident_id FROM rental_tenant WHERE rental_id = :r AND moved_out IS NULL "
                "ORDER BY resident_id"
            ),
            {"r": rental_id},
        )
    ]


def _tasks(session) -> list[tuple[str, str, str]]:
    return [
        tuple(row)
        for row in session.execute(
            text("SELECT kind::text, key, grid_code FROM worker_task ORDER BY key")
        )
    ]


# --- rentals and their tenants ---------------------------------------------------------------


def test_registering_a_rental_makes_the_people_living_there_its_tenants(city):
    rental = _let(city)
    session = city["session"]
    assert _open_tenants(session, rental.id) == [city["residents"]["zhang"]]
    assert rental.occupants == 1 and rental.landlord_name == "李四"
    assert rental.landlord_kind == "resident" and rental.grid_code == GRID_A
    assert (rental.risk_grade, rental.crowded) == ("low", False)
    change = session.execute(
        text("SELECT action, after->>'lease_start' FROM ledger_change WHERE entity = 'rental'")
    ).one()
    assert tuple(change) == ("create", "2026-03-01")


def test_a_house_let_becomes_rented_in_the_ledger_with_the_change_recorded(city):
    session = city["session"]
    session.execute(
        text(
            "UPDATE house SET use = 'self_occupied' WHERE id IN (SELECT h.id "
            "FROM house h JOIN building b ON b.id = h.building_id "
            "WHERE b.code = 'BA' AND h.room IN ('0101', '0201'))"
        )
    )
    session.execute(
        text(
            "UPDATE house SET use = 'rented' WHERE id IN (SELECT h.id FROM house h "
            "JOIN building b ON b.id = h.building_id WHERE b.code = 'BA' "
            "AND h.room = '0201')"
        )
    )
    session.expire_all()
    _let(city)
    _let(city, "BA-1-0201")
    uses = dict(
        session.execute(
            text(
                "SELECT h.room, h.use::text FROM house h JOIN building b ON b.id = h.building_id "
                "WHERE b.code = 'BA' AND h.room IN ('0101', '0201')"
            )
        ).all()
    )
    assert uses == {"0101": "rented", "0201": "rented"}
    # Only the house that changed has a house change, saying what it was.
    changes = session.execute(
        text("SELECT before ->> 'use', after ->> 'use' FROM ledger_change WHERE entity = 'house'")
    ).all()
    assert changes == [("self_occupied", "rented")]


def test_the_landlord_living_in_the_house_is_not_a_tenant(city):
    rental = _let(city, landlord_resident_id=city["residents"]["zhang"])
    assert _open_tenants(city["session"], rental.id) == []


def test_an_unsigned_responsibility_letter_raises_the_grade_to_medium_and_says_so(city):
    rental = _let(city, responsibility_signed_on=None)
    assert rental.risk_grade == "medium" and rental.risk_label == "中"
    assert any("治安责任书" in reason for reason in rental.risk_reasons)


def test_a_landlord_is_one_resident_or_one_organisation(city):
    with pytest.raises(InvalidRecord, match="one landlord"):
        _let(city, landlord_resident_id=None)
    with pytest.raises(InvalidRecord, match="not a resident"):
        _let(city, landlord_resident_id=999_999)


def test_an_organisation_may_be_the_landlord(city):
    landlord = organisations.register_organisation(
        city["session"],
        actor=city["admin"],
        data=OrganisationCreate(
            credit_code=make_credit_code("420502", 7),
            name="宜昌安居住房租赁有限公司",
            org_type="enterprise",
            building_code="BA",
        ),
    ).read
    rental = _let(city, landlord_resident_id=None, landlord_organisation_id=landlord.id)
    assert rental.landlord_kind == "organisation"
    assert rental.landlord_name == "宜昌安居住房租赁有限公司"
    with pytest.raises(InvalidRecord, match="not an organisation"):
        _let(
            city,
            "BA-1-0201",
            landlord_resident_id=None,
            landlord_organisation_id=landlord.id + 1000,
        )


def test_a_house_has_one_active_rental(city):
    _let(city)
    with pytest.raises(Duplicate, match="already let"):
        _let(city, lease_start=START + timedelta(days=1))


def test_a_grid_worker_registers_and_reads_rentals_of_their_own_grids_only(city):
    with pytest.raises(Forbidden):
        _let(city, "BB-1-0101", actor="worker_a", landlord_resident_id=city["residents"]["wang"])
    rental = _let(city)
    with pytest.raises(NotFound, match="outside your scope"):
        rentals.get_rental(city["session"], actor=city["worker_b"], rental_id=rental.id)
    assert rentals.get_rental(city["session"], actor=city["inspector"], rental_id=rental.id)
    listed = rentals.list_rentals(city["session"], actor=city["worker_b"])
    assert listed.total == 0


def test_moving_in_joins_the_rental_and_moving_out_closes_the_tenant_record(city):
    session = city["session"]
    rental = _let(city)
    newcomer = _newcomer(city, 21, "BA-1-0101", moved_in=START + timedelta(days=3))
    assert _open_tenants(session, rental.id) == sorted([city["residents"]["zhang"], newcomer])
    service.move_out(
        session, actor=city["admin"], resident_id=newcomer, on=date(2026, 5, 1), reason="离开"
    )
    row = session.execute(
        text("SELECT moved_in, moved_out FROM rental_tenant WHERE resident_id = :r"),
        {"r": newcomer},
    ).one()
    assert tuple(row) == (START + timedelta(days=3), date(2026, 5, 1))
    assert _open_tenants(session, rental.id) == [city["residents"]["zhang"]]


def test_moving_to_another_house_ends_the_tenancy_here(city):
    session = city["session"]
    rental = _let(city)
    service.move_in(
        session,
        actor=city["admin"],
        resident_id=city["residents"]["zhang"],
        house_code="BB-1-0201",
        on=date(2026, 4, 1),
    )
    assert _open_tenants(session, rental.id) == []
    assert session.scalar(text("SELECT moved_out FROM rental_tenant")) == date(2026, 4, 1)


def test_closing_a_rental_moves_every_tenant_out_that_day_once(city):
    session = city["session"]
    rental = _let(city)
    closed = rentals.change_rental(
        session,
        actor=city["worker_a"],
        rental_id=rental.id,
        changes=RentalUpdate(status="closed", closed_on=date(2026, 6, 30)),
    )
    assert closed.status == "closed" and closed.occupants == 0
    assert session.scalar(text("SELECT moved_out FROM rental_tenant")) == date(2026, 6, 30)
    with pytest.raises(AlreadyClosed):
        rentals.change_rental(
            session, actor=city["worker_a"], rental_id=rental.id, changes=RentalUpdate(rooms=2)
        )


def test_a_lease_cannot_end_before_it_starts(city):
    rental = _let(city)
    with pytest.raises(InvalidRecord, match="before lease_start"):
        rentals.change_rental(
            city["session"],
            actor=city["worker_a"],
            rental_id=rental.id,
            changes=RentalUpdate(lease_end=START - timedelta(days=1)),
        )


# --- risk grade ------------------------------------------------------------------------------


def _grade(**values: Any) -> tuple[RiskGrade, bool]:
    args: dict[str, Any] = {
        "occupants": 1,
        "rooms": 1,
        "area_m2": 50.0,
        "signed": True,
        "findings": None,
        **values,
    }
    assessment = assess(settings=get_settings(), **args)
    return assessment.grade, assessment.crowded


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"occupants": 4, "rooms": 2}, (RiskGrade.LOW, False)),  # 2 per room: at the limit
        ({"occupants": 5, "rooms": 2}, (RiskGrade.HIGH, True)),  # one past it
        ({"occupants": 4, "area_m2": 20.0, "rooms": None}, (RiskGrade.LOW, False)),  # 5 m² each
        ({"occupants": 5, "area_m2": 20.0, "rooms": None}, (RiskGrade.HIGH, True)),  # 4 m² each
        ({"findings": Findings(fire_events=1)}, (RiskGrade.MEDIUM, False)),
        ({"findings": Findings(fire_events=2)}, (RiskGrade.HIGH, False)),
        ({"findings": Findings(recent_events=2)}, (RiskGrade.LOW, False)),
        ({"findings": Findings(recent_events=3)}, (RiskGrade.MEDIUM, False)),
        ({"signed": False}, (RiskGrade.MEDIUM, False)),
    ],
)
def test_risk_grade_rules_at_their_thresholds(values, expected):
    assert _grade(**values) == expected


def test_the_grade_explains_every_rule_that_raised_it():
    assessment = assess(
        occupants=3,
        rooms=1,
        area_m2=10.0,
        signed=False,
        findings=Findings(fire_events=1),
        settings=get_settings(),
    )
    assert assessment.grade is RiskGrade.HIGH
    joined = " | ".join(assessment.reasons)
    assert "每间超过2人" in joined and "人均面积3.3 m²，不足5 m²" in joined
    assert "消防隐患" in joined and "治安责任书" in joined


def test_a_rental_read_counts_its_findings_by_building(city):
    rental = _let(city, rooms=1)
    session = city["session"]
    building_id = session.scalar(text("SELECT id FROM building WHERE code = 'BA'"))
    read = rentals.get_rental(
        session,
        actor=city["worker_a"],
        rental_id=rental.id,
        findings_of=lambda keys: {key: Findings(fire_events=2) for key in keys},
    )
    assert read.risk_grade == "high"
    seen: list[Any] = []
    rentals.get_rental(
        session,
        actor=city["worker_a"],
        rental_id=rental.id,
        findings_of=lambda keys: seen.extend(keys) or {},
    )
    assert seen == [(GRID_A[:6], building_id)]


# --- floating residents ----------------------------------------------------------------------


DEADLINE = START + timedelta(days=30)  # arrival START: 居住登记 due by this day


@pytest.mark.parametrize(
    ("today", "overdue"),
    [(DEADLINE - timedelta(days=1), False), (DEADLINE, False), (DEADLINE + timedelta(1), True)],
)
def test_registration_is_overdue_from_the_day_after_the_deadline(city, today, overdue):
    newcomer = _newcomer(city, 31, "BA-1-0201")
    listed = floating.list_overdue_registrations(
        city["session"], actor=city["worker_a"], today=today
    )
    assert [r.resident_id for r in listed.items] == ([newcomer] if overdue else [])
    if overdue:
        assert listed.items[0].days == 1 and listed.items[0].registration_due == DEADLINE


def test_a_registered_floating_resident_is_not_overdue(city):
    _newcomer(city, 32, "BA-1-0201", registered_on=START + timedelta(days=10))
    listed = floating.list_overdue_registrations(
        city["session"], actor=city["worker_a"], today=DEADLINE + timedelta(days=5)
    )
    assert listed.total == 0


EXPIRY = date(2026, 9, 30)


@pytest.mark.parametrize(
    ("today", "days_left"),
    [
        (EXPIRY - timedelta(days=31), None),
        (EXPIRY - timedelta(days=30), 30),
        (EXPIRY - timedelta(days=29), 29),
        (EXPIRY + timedelta(days=1), -1),
    ],
)
def test_permits_are_listed_from_30_days_before_expiry(city, today, days_left):
    _newcomer(city, 33, "BA-1-0201", permit_number="420502198506150033", permit_expiry=EXPIRY)
    listed = floating.list_expiring_permits(city["session"], actor=city["worker_a"], today=today)
    assert [r.days for r in listed.items] == ([] if days_left is None else [days_left])
    if days_left is not None:
        assert listed.items[0].permit_number == "420502***********3"


def test_floating_lists_are_scoped_to_the_workers_grids(city):
    _newcomer(city, 34, "BB-1-0201")
    late = DEADLINE + timedelta(days=10)
    session = city["session"]
    assert (
        floating.list_overdue_registrations(session, actor=city["worker_a"], today=late).total == 0
    )
    assert (
        floating.list_overdue_registrations(session, actor=city["worker_b"], today=late).total == 1
    )
    with pytest.raises(Forbidden):
        floating.list_overdue_registrations(
            session, actor=city["worker_a"], grid_code=GRID_B, today=late
        )


# --- task rules at their edge dates ----------------------------------------------------------


def test_registration_overdue_task_from_the_day_after_the_deadline(city):
    session = city["session"]
    newcomer = _newcomer(city, 41, "BA-1-0201")
    for today in (DEADLINE - timedelta(days=1), DEADLINE):
        generate_tasks(session, today=today)
        assert _tasks(session) == []
    runs = generate_tasks(session, today=DEADLINE + timedelta(days=1))
    assert _tasks(session) == [
        ("registration_overdue", f"registration_overdue:resident:{newcomer}", GRID_A)
    ]
    assert runs[TaskKind.REGISTRATION_OVERDUE].raised == 1
    again = generate_tasks(session, today=DEADLINE + timedelta(days=2))
    assert (
        again[TaskKind.REGISTRATION_OVERDUE].matched,
        again[TaskKind.REGISTRATION_OVERDUE].raised,
    ) == (1, 0)
    assert len(_tasks(session)) == 1


def test_permit_expiring_task_from_30_days_before_keyed_by_expiry(city):
    session = city["session"]
    newcomer = _newcomer(city, 42, "BB-1-0201", permit_expiry=EXPIRY, registered_on=START)
    generate_tasks(session, today=EXPIRY - timedelta(days=31))
    assert _tasks(session) == []
    generate_tasks(session, today=EXPIRY - timedelta(days=30))
    expected = ("permit_expiring", f"permit_expiring:resident:{newcomer}:2026-09-30", GRID_B)
    assert _tasks(session) == [expected]
    generate_tasks(session, today=EXPIRY - timedelta(days=29))
    assert _tasks(session) == [expected]
    due = session.scalar(text("SELECT due_on FROM worker_task"))
    assert due == EXPIRY


def test_rental_unregistered_task_once_the_registration_deadline_passed(city):
    session = city["session"]
    rental = _let(
        city, "BB-1-0201", actor="worker_b", landlord_resident_id=city["residents"]["wang"]
    )
    assert rental.occupants == 0
    for today in (START + timedelta(days=29), START + timedelta(days=30)):
        generate_tasks(session, today=today)
        assert _tasks(session) == []
    generate_tasks(session, today=START + timedelta(days=31))
    assert _tasks(session) == [
        ("rental_unregistered", f"rental_unregistered:rental:{rental.id}", GRID_B)
    ]


def test_a_house_marked_rented_without_an_active_rental_raises_a_task(city):
    session = city["session"]
    house_id = session.execute(
        text(
            "UPDATE house SET use = 'rented' WHERE id = (SELECT h.id FROM house h JOIN building b "
            "ON b.id = h.building_id WHERE b.code = 'BB' AND h.room = '0101') RETURNING id"
        )
    ).scalar_one()
    session.expire_all()
    generate_tasks(session, today=START)
    key = f"rental_unregistered:house:{house_id}"
    assert _tasks(session) == [("rental_unregistered", key, GRID_B)]
    # Registered: that task stays open until a worker closes it, and no new one comes.
    rental = _let(
        city, "BB-1-0101", actor="worker_b", landlord_resident_id=city["residents"]["wang"]
    )
    session.execute(text("UPDATE worker_task SET status = 'done', closed_at = now()"))
    generate_tasks(session, today=START)
    assert [k for _, k, _ in _tasks(session)] == [key]  # the closed one only
    # Closed (退租) and still marked 出租: asked again.
    rentals.change_rental(
        session,
        actor=city["worker_b"],
        rental_id=rental.id,
        changes=RentalUpdate(status="closed", closed_on=START),
    )
    generate_tasks(session, today=START)
    assert [k for _, k, _ in _tasks(session)] == [key, key]


def test_a_rental_with_a_tenant_raises_no_unregistered_task(city):
    _let(city)  # 张三 lives there
    generate_tasks(city["session"], today=START + timedelta(days=60))
    assert [k for k, _, _ in _tasks(city["session"])] == []


def test_lease_ended_task_from_the_day_after_the_lease_end(city):
    session = city["session"]
    end = date(2026, 8, 31)
    rental = _let(city, lease_end=end)
    for today in (end - timedelta(days=1), end):
        generate_tasks(session, today=today)
        assert _tasks(session) == []
    generate_tasks(session, today=end + timedelta(days=1))
    assert _tasks(session) == [
        ("lease_ended", f"lease_ended:rental:{rental.id}:2026-08-31", GRID_A)
    ]


def test_lease_ended_raises_nothing_once_the_tenants_moved_out(city):
    session = city["session"]
    end = date(2026, 8, 31)
    _let(city, lease_end=end)
    service.move_out(
        session, actor=city["admin"], resident_id=city["residents"]["zhang"], on=end, reason="退租"
    )
    generate_tasks(session, today=end + timedelta(days=1))
    assert [k for k, _, _ in _tasks(session)] == ["rental_unregistered"]


def test_crowded_rental_task_one_past_the_threshold_only(city):
    session = city["session"]
    rental = _let(city, rooms=2)  # 10 m²: 2 occupants fit (5 m² each), 3 do not
    _newcomer(city, 51, "BA-1-0101", registered_on=START)
    generate_tasks(session, today=START + timedelta(days=1))
    assert _tasks(session) == []
    _newcomer(city, 52, "BA-1-0101", registered_on=START)
    generate_tasks(session, today=START + timedelta(days=1))
    assert _tasks(session) == [("crowded_rental", f"crowded_rental:rental:{rental.id}", GRID_A)]
    title = session.scalar(text("SELECT title FROM worker_task"))
    assert "疑似群租" in title and "人均面积3.3 m²" in title


def test_rules_run_for_one_district_leave_others_alone(city):
    session = city["session"]
    _newcomer(city, 61, "BA-1-0201")
    generate_tasks(session, today=DEADLINE + timedelta(days=1), district_code="110101")
    assert _tasks(session) == []
    generate_tasks(session, today=DEADLINE + timedelta(days=1), district_code=GRID_A[:6])
    assert len(_tasks(session)) == 1
