"""Dashboard aggregates: counts per area equal counts by hand, and each actor sees its scope."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from demo.city.seed import seed_demo_city
from demo.people.seed import seed_demo_people
from grid.models import AdminLevel, AdminUnit, House
from people.access import Actor, load_actor
from people.documents import DocumentType
from people.exceptions import Forbidden, InvalidRecord
from people.models import (
    Household,
    ResidenceType,
    Resident,
    Sex,
    SpecialGroup,
    Staff,
    StaffGrid,
    StaffRole,
)
from people.pii import get_cipher, mask_id_number
from people.service import DOC_CONTEXT, document_hash
from people.stats import AreaPopulation, overdue_visits, overdue_visits_by_worker, population_stats
from tests.factories import (
    add_building,
    add_grid,
    add_house,
    admin_tree,
    ewkb,
    id_number,
    square,
)

TODAY = date(2026, 11, 22)
G1, G2, G3 = "420502001001001", "420502001001002", "420502002001001"
GROUPS = (
    "elderly_alone",
    "disabled",
    "low_income",
    "left_behind",
    "entitled",
    "released_prisoner",
    "community_correction",
    "mental_disorder",
    "drug_user",
    "key_youth",
)


def years_ago(years: int, days: int = 0) -> date:
    """The day `years` years (and `days` days) before TODAY."""
    return TODAY.replace(year=TODAY.year - years) + timedelta(days=days)


@dataclass
class Town:
    """Three grids in two streets with a dozen residents and their special groups."""

    houses: dict[str, House]
    admin: Actor
    worker_g1: Actor
    worker_g3: Actor
    leader_street1: Actor
    command: Actor
    dispatcher: Actor
    names: dict[str, str]  # who → resident name


class _People:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.sequence = 0
        self.households: dict[str, Household] = {}

    def add(
        self,
        who: str,
        house: House,
        grid: str,
        born: date,
        *,
        household: str,
        relation: str = "户主",
        kind: ResidenceType = ResidenceType.REGISTERED,
        active: bool = True,
    ) -> Resident:
        self.sequence += 1
        doc_type = DocumentType.ID_CARD
        number = id_number(self.sequence, born)
        if kind is ResidenceType.OVERSEAS:
            doc_type, number = DocumentType.PASSPORT, f"E{self.sequence:08d}"
        if kind is ResidenceType.UNREGISTERED:
            doc_type, number = DocumentType.OTHER, f"出生医学证明{self.sequence:06d}"
        if household not in self.households:
            self.households[household] = Household(
                code=household, house_id=house.id, grid_code=grid, district_code=grid[:6]
            )
            self.session.add(self.households[household])
            self.session.flush()
        resident = Resident(
            doc_type=doc_type,
            doc_enc=get_cipher().encrypt(number, context=DOC_CONTEXT),
            doc_hash=document_hash(doc_type, number),
            doc_masked=mask_id_number(number),
            name=who,
            sex=Sex.MALE if self.sequence % 2 else Sex.FEMALE,
            birth_date=born,
            residence_type=kind,
            origin="重庆市万州区" if kind is ResidenceType.FLOATING else None,
            household_id=self.households[household].id,
            relation_to_head=relation,
            house_id=house.id,
            grid_code=grid,
            district_code=grid[:6],
            active=active,
        )
        self.session.add(resident)
        self.session.flush()
        return resident


def _staff(
    session: Session, username: str, role: StaffRole, *, grids: Sequence[str] = (), **scope: Any
) -> Actor:
    """An account without a usable password (these tests never log in; hashing is slow)."""
    staff = Staff(username=username, full_name=username, password_hash="!", role=role, **scope)
    session.add(staff)
    session.flush()
    session.add_all(StaffGrid(staff_id=staff.id, grid_code=g) for g in grids)
    session.flush()
    return load_actor(session, staff_id=staff.id)


def _group(
    session: Session,
    resident: Resident,
    group: str,
    due: date,
    staff: Actor | None,
    *,
    ended: bool = False,
    danger: int | None = None,
) -> None:
    session.add(
        SpecialGroup(
            resident_id=resident.id,
            district_code=resident.district_code,
            group_type=group,
            started_on=date(2024, 1, 1),
            visit_interval_days=30,
            last_visit_on=due - timedelta(days=30),
            next_visit_due=due,
            ended_on=TODAY - timedelta(days=5) if ended else None,
            danger_level=danger,
            responsible_staff_id=staff.staff_id if staff else None,
        )
    )
    session.flush()


@pytest.fixture
def town(session: Session) -> Town:
    """G1 and G2 in street 001 (community 001), G3 in street 002, with people and groups."""
    admin_tree(session)
    for code, name, level, parent in (
        ("420502002000", "学院街道", AdminLevel.STREET, "420502000000"),
        ("420502002001", "第二社区", AdminLevel.COMMUNITY, "420502002000"),
    ):
        session.add(
            AdminUnit(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                district_code="420502",
                geom=ewkb(square(111.28, 30.72, 0.01)),
            )
        )
        session.flush()
    houses = {}
    for i, (code, lon, lat) in enumerate(
        ((G1, 111.28, 30.70), (G2, 111.29, 30.70), (G3, 111.28, 30.72))
    ):
        add_grid(session, code, square(lon, lat, 0.01))
        building = add_building(
            session, f"B{i}", square(lon + 0.001, lat + 0.001, 0.0005), code, use="residential"
        )
        houses[code] = add_house(session, building)
    admin = _staff(session, "admin1", StaffRole.ADMIN)
    worker_g1 = _staff(session, "worker.g1", StaffRole.GRID_WORKER, grids=[G1])
    worker_g3 = _staff(session, "worker.g3", StaffRole.GRID_WORKER, grids=[G3])
    leader = _staff(session, "leader.s1", StaffRole.LEADER, area_code="420502001000")
    command = _staff(session, "command1", StaffRole.COMMAND, area_code="420502000000")
    dispatcher = _staff(session, "police1", StaffRole.DISPATCHER, department_unit_id=1)

    p = _People(session)
    h1, h2, h3 = houses[G1], houses[G2], houses[G3]
    # G1: a family of four (one child turns 18 today, one tomorrow), a floating family with an
    # unregistered member, a woman of exactly 60 alone, an overseas man of exactly 80, and
    # someone who moved away.
    a_head = p.add("甲户主", h1, G1, date(1980, 5, 1), household="A")
    p.add("甲配偶", h1, G1, date(1982, 3, 3), household="A", relation="配偶")
    p.add("甲长子", h1, G1, years_ago(18), household="A", relation="子女")
    p.add("甲次子", h1, G1, years_ago(18, days=1), household="A", relation="子女")
    b_head = p.add("乙户主", h1, G1, date(1990, 1, 1), household="B", kind=ResidenceType.FLOATING)
    p.add(
        "乙女儿",
        h1,
        G1,
        date(2015, 6, 1),
        household="B",
        relation="子女",
        kind=ResidenceType.FLOATING,
    )
    p.add(
        "乙亲戚",
        h1,
        G1,
        date(2000, 2, 2),
        household="B",
        relation="其他",
        kind=ResidenceType.UNREGISTERED,
    )
    alone = p.add("丙独居", h1, G1, years_ago(60), household="C")
    p.add("丁外籍", h1, G1, years_ago(80), household="D", kind=ResidenceType.OVERSEAS)
    gone = p.add("戊迁出", h1, G1, date(1975, 1, 1), household="E", active=False)
    _group(session, alone, "elderly_alone", TODAY - timedelta(days=1), worker_g1)
    _group(session, a_head, "disabled", TODAY, worker_g1)  # due today: not overdue yet
    _group(session, b_head, "mental_disorder", TODAY - timedelta(days=10), worker_g1, danger=3)
    _group(session, a_head, "low_income", TODAY - timedelta(days=40), worker_g1, ended=True)
    _group(session, gone, "drug_user", TODAY - timedelta(days=40), worker_g1)
    # G2: a couple; his entitlement visit is overdue and nobody is responsible.
    g2_head = p.add("己户主", h2, G2, date(1970, 7, 7), household="F")
    p.add(
        "己配偶",
        h2,
        G2,
        date(1972, 8, 8),
        household="F",
        relation="配偶",
        kind=ResidenceType.FLOATING,
    )
    _group(session, g2_head, "entitled", TODAY - timedelta(days=3), None)
    # G3: an old man alone (visit not yet due) and a released prisoner overdue by 30 days.
    old = p.add("庚老人", h3, G3, date(1950, 1, 1), household="G")
    released = p.add("辛释放", h3, G3, date(1985, 4, 4), household="H", kind=ResidenceType.FLOATING)
    _group(session, old, "elderly_alone", TODAY + timedelta(days=5), worker_g3)
    _group(session, released, "released_prisoner", TODAY - timedelta(days=30), worker_g3)
    return Town(
        houses=houses,
        admin=admin,
        worker_g1=worker_g1,
        worker_g3=worker_g3,
        leader_street1=leader,
        command=command,
        dispatcher=dispatcher,
        names={"alone": alone.name, "b_head": b_head.name, "released": released.name},
    )


def _groups(**counts: int) -> dict[str, int]:
    return {g: counts.get(g, 0) for g in GROUPS}


EXPECTED = {
    G1: {
        "residents": 9,
        "households": 4,
        "registered": 5,
        "floating": 2,
        "overseas": 1,
        "unregistered": 1,
        "age_0_17": 2,
        "age_18_59": 5,
        "age_60_79": 1,
        "age_80_plus": 1,
        "elderly_alone": 1,
        "special_groups": _groups(elderly_alone=1, disabled=1, mental_disorder=1),
        "overdue_visits": 2,
    },
    G2: {
        "residents": 2,
        "households": 1,
        "registered": 1,
        "floating": 1,
        "overseas": 0,
        "unregistered": 0,
        "age_0_17": 0,
        "age_18_59": 2,
        "age_60_79": 0,
        "age_80_plus": 0,
        "elderly_alone": 0,
        "special_groups": _groups(entitled=1),
        "overdue_visits": 1,
    },
    G3: {
        "residents": 2,
        "households": 2,
        "registered": 1,
        "floating": 1,
        "overseas": 0,
        "unregistered": 0,
        "age_0_17": 0,
        "age_18_59": 1,
        "age_60_79": 1,
        "age_80_plus": 0,
        "elderly_alone": 1,
        "special_groups": _groups(elderly_alone=1, released_prisoner=1),
        "overdue_visits": 1,
    },
}


def _counts(row: AreaPopulation) -> dict[str, Any]:
    skip = {"code", "name", "level", "floating_share"}
    return {f.name: getattr(row, f.name) for f in fields(row) if f.name not in skip}


def _sum(*codes: str) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for code in codes:
        for key, value in EXPECTED[code].items():
            if isinstance(value, dict):
                bucket = total.setdefault(key, dict.fromkeys(value, 0))
                for group, n in value.items():
                    bucket[group] += n
            else:
                total[key] = total.get(key, 0) + value
    return total


# --------------------------------------------------------------------------- counts by hand


def test_grid_counts_equal_the_residents_counted_by_hand(session: Session, town: Town) -> None:
    rows = population_stats(session, actor=town.admin, level="grid", today=TODAY)
    assert [r.code for r in rows] == [G1, G2, G3]
    for row in rows:
        assert _counts(row) == EXPECTED[row.code], row.code
        assert row.level == "grid" and row.name == f"第{row.code[-3:]}网格"
    g1 = rows[0]
    assert g1.floating_share == pytest.approx(2 / 9)


def test_higher_levels_add_up_their_grids(session: Session, town: Town) -> None:
    community = population_stats(session, actor=town.admin, level="community", today=TODAY)
    assert [(r.code, r.name) for r in community] == [
        ("420502001001", "测试社区"),
        ("420502002001", "第二社区"),
    ]
    assert _counts(community[0]) == _sum(G1, G2)
    assert _counts(community[1]) == _sum(G3)
    street = population_stats(session, actor=town.admin, level="street", today=TODAY)
    assert [r.code for r in street] == ["420502001000", "420502002000"]
    assert _counts(street[0]) == _sum(G1, G2)
    (district,) = population_stats(session, actor=town.admin, level="district", today=TODAY)
    assert (district.code, district.name) == ("420502000000", "西陵区")
    assert _counts(district) == _sum(G1, G2, G3)
    assert district.floating_share == pytest.approx(4 / 13)


def test_age_bands_follow_birthdays_exactly(session: Session, town: Town) -> None:
    # On the day before, the 18-year-old is still 17, the 60-year-old 59, the 80-year-old 79.
    (row,) = population_stats(
        session, actor=town.worker_g1, level="grid", today=TODAY - timedelta(days=1)
    )
    assert (row.age_0_17, row.age_18_59, row.age_60_79, row.age_80_plus) == (3, 5, 1, 0)
    assert row.overdue_visits == 1  # the elderly visit was due "today"


def test_an_area_with_no_residents_is_listed_with_zeros(session: Session, town: Town) -> None:
    add_grid(session, "420502001001009", square(111.30, 30.70, 0.005))
    rows = population_stats(session, actor=town.admin, level="grid", today=TODAY)
    empty = next(r for r in rows if r.code == "420502001001009")
    assert empty.residents == 0 and empty.floating_share == 0.0
    assert set(empty.special_groups.values()) == {0}


# --------------------------------------------------------------------------- scope


def test_a_grid_worker_sees_only_their_grids(session: Session, town: Town) -> None:
    rows = population_stats(session, actor=town.worker_g1, level="grid", today=TODAY)
    assert [r.code for r in rows] == [G1]
    (community,) = population_stats(session, actor=town.worker_g1, level="community", today=TODAY)
    assert community.code == "420502001001" and _counts(community) == EXPECTED[G1]


def test_a_leader_sees_the_area_and_may_narrow_it_but_not_leave_it(
    session: Session, town: Town
) -> None:
    leader = town.leader_street1
    rows = population_stats(session, actor=leader, level="grid", today=TODAY)
    assert [r.code for r in rows] == [G1, G2]
    narrowed = population_stats(session, actor=leader, level="grid", area_code=G2, today=TODAY)
    assert [r.code for r in narrowed] == [G2]
    with pytest.raises(Forbidden, match="outside your area"):
        population_stats(session, actor=leader, level="grid", area_code="420502002000")
    admin_rows = population_stats(
        session, actor=town.admin, level="grid", area_code="420502002000", today=TODAY
    )
    assert [r.code for r in admin_rows] == [G3]


def test_dispatchers_get_no_statistics(session: Session, town: Town) -> None:
    with pytest.raises(Forbidden):
        population_stats(session, actor=town.dispatcher, level="grid")
    with pytest.raises(Forbidden):
        overdue_visits_by_worker(session, actor=town.dispatcher)
    with pytest.raises(Forbidden):
        overdue_visits(session, actor=town.dispatcher)


def test_bad_level_or_area_code_is_explained(session: Session, town: Town) -> None:
    with pytest.raises(InvalidRecord, match="level 'village'"):
        population_stats(session, actor=town.admin, level="village")  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord, match="not a 4-digit city, 6-, 9-, 12- or 15-digit"):
        population_stats(session, actor=town.admin, level="grid", area_code="42-05")


# --------------------------------------------------------------------------- overdue visits


def test_overdue_visits_list_names_masked_ids_and_who_is_responsible(
    session: Session, town: Town
) -> None:
    visits = overdue_visits(session, actor=town.worker_g1, today=TODAY)
    assert [(v.resident_name, v.group_type.value, v.days_overdue) for v in visits] == [
        (town.names["b_head"], "mental_disorder", 10),
        (town.names["alone"], "elderly_alone", 1),
    ]
    first = visits[0]
    assert first.group_label == "严重精神障碍患者" and first.danger_level == 3
    assert first.doc_masked.startswith("420502********") and first.grid_code == G1
    assert first.responsible_username == "worker.g1"
    everyone = overdue_visits(session, actor=town.command, today=TODAY)
    assert len(everyone) == 4
    unassigned = next(v for v in everyone if v.grid_code == G2)
    assert unassigned.responsible_staff_id is None and unassigned.days_overdue == 3
    by_worker = overdue_visits(
        session, actor=town.admin, today=TODAY, staff_id=town.worker_g3.staff_id
    )
    assert [v.resident_name for v in by_worker] == [town.names["released"]]
    in_grid = overdue_visits(session, actor=town.admin, today=TODAY, grid_code=G2)
    assert [v.grid_code for v in in_grid] == [G2]


def test_leaders_may_not_list_persons(session: Session, town: Town) -> None:
    with pytest.raises(Forbidden, match="list residents"):
        overdue_visits(session, actor=town.leader_street1, today=TODAY)
    with pytest.raises(Forbidden, match="outside your scope"):
        overdue_visits(session, actor=town.worker_g1, today=TODAY, grid_code=G3)


def test_overdue_visits_per_worker(session: Session, town: Town) -> None:
    counts = overdue_visits_by_worker(session, actor=town.admin, today=TODAY)
    assert [(w.username, w.overdue_count) for w in counts] == [("worker.g1", 2), ("worker.g3", 1)]
    assert counts[0].staff_id == town.worker_g1.staff_id
    leader = overdue_visits_by_worker(session, actor=town.leader_street1, today=TODAY)
    assert [(w.username, w.overdue_count) for w in leader] == [("worker.g1", 2)]


# --------------------------------------------------------------------------- the seeded demo


@dataclass
class Demo:
    session: Session
    admin: Actor
    leader: Actor
    worker1: Actor


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[Demo]:
    """The demo city and its people, seeded once into a transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        seed_demo_city(session)
        seed_demo_people(session, today=TODAY)
        ids = {
            s.username: s.id
            for s in session.scalars(
                select(Staff).where(Staff.username.in_(["admin", "leader", "worker1"]))
            )
        }
        yield Demo(
            session,
            load_actor(session, staff_id=ids["admin"]),
            load_actor(session, staff_id=ids["leader"]),
            load_actor(session, staff_id=ids["worker1"]),
        )
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _by_hand(session: Session) -> dict[str, dict[str, Any]]:
    """Per-grid counts of the seeded demo, computed in Python from plainly fetched rows."""
    d18, d60, d80 = (TODAY.replace(year=TODAY.year - y) for y in (18, 60, 80))
    grids: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for grid, kind, born, relation in session.execute(
        text(
            "SELECT grid_code, residence_type::text, birth_date, relation_to_head "
            "FROM resident WHERE active"
        )
    ):
        g = grids[grid]
        g["residents"] += 1
        g[kind] += 1
        g["households"] += relation == "户主"
        band = (
            "age_0_17"
            if born > d18
            else "age_18_59"
            if born > d60
            else "age_60_79"
            if born > d80
            else "age_80_plus"
        )
        g[band] += 1
    for grid, group, due in session.execute(
        text(
            "SELECT r.grid_code, s.group_type::text, s.next_visit_due FROM special_group s "
            "JOIN resident r ON r.id = s.resident_id WHERE r.active AND s.ended_on IS NULL"
        )
    ):
        grids[grid][f"group:{group}"] += 1
        grids[grid]["overdue_visits"] += due < TODAY
    return grids


def test_demo_grid_statistics_equal_counts_by_hand(demo: Demo) -> None:
    rows = population_stats(demo.session, actor=demo.admin, level="grid", today=TODAY)
    assert len(rows) == 390  # 西陵区 and 伍家岗区
    expected = _by_hand(demo.session)
    for row in rows:
        e = expected[row.code]
        assert row.residents == e["residents"]
        assert row.households == e["households"]
        assert (row.registered, row.floating, row.overseas, row.unregistered) == (
            e["registered"],
            e["floating"],
            e["overseas"],
            e["unregistered"],
        )
        assert (row.age_0_17, row.age_18_59, row.age_60_79, row.age_80_plus) == (
            e["age_0_17"],
            e["age_18_59"],
            e["age_60_79"],
            e["age_80_plus"],
        )
        assert row.special_groups == {g: e[f"group:{g}"] for g in GROUPS}
        assert row.elderly_alone == e["group:elderly_alone"]
        assert row.overdue_visits == e["overdue_visits"]
    assert sum(r.residents for r in rows) == 50_000


def test_demo_streets_add_up_their_grids(demo: Demo) -> None:
    grids = population_stats(demo.session, actor=demo.admin, level="grid", today=TODAY)
    streets = population_stats(demo.session, actor=demo.admin, level="street", today=TODAY)
    assert len(streets) == 12  # 7 of 西陵区, 5 of 伍家岗区
    total: Counter[str] = Counter()
    for row in grids:
        total[row.code[:9] + "000"] += row.residents
    assert {s.code: s.residents for s in streets} == dict(total)
    assert {s.name for s in streets} >= {"西陵街道", "葛洲坝街道", "大公桥街道"}


def test_demo_scope_of_a_grid_worker_and_a_leader(demo: Demo) -> None:
    mine = population_stats(demo.session, actor=demo.worker1, level="grid", today=TODAY)
    assert [r.code for r in mine] == sorted(demo.worker1.grid_codes)
    everything = {r.code: r for r in population_stats(demo.session, actor=demo.admin, today=TODAY)}
    assert mine[0] == everything[mine[0].code]
    assert len(population_stats(demo.session, actor=demo.leader, today=TODAY)) == 200


def test_demo_overdue_visits_per_worker_add_up(demo: Demo) -> None:
    per_worker = overdue_visits_by_worker(demo.session, actor=demo.admin, today=TODAY)
    rows = population_stats(demo.session, actor=demo.admin, level="district", today=TODAY)
    assert len(rows) == 2  # 西陵区 and 伍家岗区
    assert sum(w.overdue_count for w in per_worker) == sum(r.overdue_visits for r in rows) > 0
    mine = overdue_visits(demo.session, actor=demo.worker1, today=TODAY)
    counts = {w.staff_id: w.overdue_count for w in per_worker}
    own = [v for v in mine if v.responsible_staff_id == demo.worker1.staff_id]
    assert counts.get(demo.worker1.staff_id, 0) == len(own)
    assert all(v.grid_code in demo.worker1.grid_codes for v in mine)
