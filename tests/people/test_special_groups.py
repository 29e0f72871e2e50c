"""Special groups (特殊人群): typed details, visit schedules, visits, overdue lists, scope."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gis.crs import to_storage
from people import service
from people import special_groups as sg
from people.exceptions import Duplicate, Forbidden, InvalidRecord, NotFound
from people.models import SpecialGroup, SpecialGroupType
from people.pii import get_cipher, mask_id_number
from people.schemas import DETAILS_MODELS, DisabledDetails, ResidentCreate
from people.special_group_types import DisabilityCategory
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    add_house,
    add_staff,
    admin_tree,
    id_number,
    square,
)

GRID_A, GRID_B, GRID_C = COMMUNITY + "001", COMMUNITY + "002", COMMUNITY + "003"
TODAY = date(2026, 2, 1)
START = date(2026, 1, 1)


@pytest.fixture
def groups_city(session):
    """Grids A (one worker), B (two workers) and C (none), a building each, and other roles."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.03))
    for code, lon in ((GRID_A, 111.28), (GRID_B, 111.29), (GRID_C, 111.30)):
        add_grid(session, code, square(lon, 30.70, 0.01))
        building = add_building(session, "B" + code[-1], square(lon + 0.001, 30.701, 0.0002), code)
        add_house(session, building, room="0101")
    return {
        "session": session,
        "worker_a": add_staff(session, "worker_a", "grid_worker", grid_codes=[GRID_A]),
        "worker_b": add_staff(session, "worker_b", "grid_worker", grid_codes=[GRID_B]),
        "worker_b2": add_staff(session, "worker_b2", "grid_worker", grid_codes=[GRID_B]),
        "command": add_staff(session, "command", "command", area_code="420502000000"),
        "leader": add_staff(session, "leader", "leader", area_code="420502000000"),
        "dispatcher": add_staff(session, "dispatcher", "dispatcher", department_unit_id=1),
        "admin": add_staff(session, "boss", "admin"),
    }


def resident(groups_city, sequence: int, grid: str = GRID_A, name: str = "张三") -> int:
    """A resident of the house in `grid`, registered by an admin; returns the resident id."""
    data = ResidentCreate(
        doc_number=id_number(sequence),
        name=name,
        house_code=f"B{grid[-1]}-1-0101",
        moved_in=date(2020, 1, 1),
    )
    read = service.register_resident(
        groups_city["session"], actor=groups_city["admin"], data=data, today=TODAY
    )
    return read.id


def good_details(group_type: SpecialGroupType, sequence: int = 11) -> dict[str, Any]:
    """Valid details of each group; the disability certificate embeds id_number(sequence)."""
    examples: dict[SpecialGroupType, dict[str, Any]] = {
        SpecialGroupType.ELDERLY_ALONE: {
            "children_contact": "儿子 王强",
            "children_phone": "13912345678",
            "health": "慢性病",
        },
        SpecialGroupType.DISABLED: {
            "category": "肢体",
            "grade": 2,
            "certificate_number": id_number(sequence) + "42",
        },
        SpecialGroupType.LOW_INCOME: {
            "certificate_number": "鄂宜西低保第0012号",
            "monthly_amount": "650.00",
            "family_size": 3,
        },
        SpecialGroupType.LEFT_BEHIND: {
            "kind": "child",
            "guardian_name": "李奶奶",
            "guardian_relation": "祖母",
            "guardian_phone": "0717-6123456",
            "parents_workplace": "广东省东莞市",
        },
        SpecialGroupType.ENTITLED: {"category": "烈士遗属"},
        SpecialGroupType.RELEASED_PRISONER: {
            "crime": "盗窃罪",
            "sentence": "有期徒刑3年",
            "release_date": "2025-12-20",
        },
        SpecialGroupType.COMMUNITY_CORRECTION: {
            "correction_type": "缓刑",
            "start_date": "2025-06-01",
            "end_date": "2027-06-01",
            "justice_office": "西陵街道司法所",
        },
        SpecialGroupType.MENTAL_DISORDER: {
            "diagnosis": "精神分裂症",
            "guardian_name": "王芳",
            "guardian_phone": "13912345678",
            "treatment": "门诊治疗",
            "medication": "利培酮 2mg/日",
        },
        SpecialGroupType.DRUG_USER: {"status": "社区康复", "start_date": "2024-03-01"},
        SpecialGroupType.KEY_YOUTH: {"category": "闲散青少年", "guardian_name": "张父"},
    }
    return examples[group_type]


def enrol(groups_city, resident_id: int, group_type=SpecialGroupType.ELDERLY_ALONE, **kwargs):
    """Enrol with good details, started on START, by worker_a unless told otherwise."""
    kwargs.setdefault("details", good_details(SpecialGroupType(group_type)))
    kwargs.setdefault("started_on", START)
    if group_type == SpecialGroupType.MENTAL_DISORDER:
        kwargs.setdefault("danger_level", 1)
    actor = groups_city[kwargs.pop("actor", "worker_a")]
    return sg.enrol(
        groups_city["session"],
        actor=actor,
        resident_id=resident_id,
        group_type=group_type,
        today=TODAY,
        **kwargs,
    )


def visit(groups_city, group_id: int, on: date, actor: str = "worker_a", **kwargs):
    return sg.record_visit(
        groups_city["session"],
        actor=groups_city[actor],
        special_group_id=group_id,
        visited_on=on,
        note="上门走访，情况稳定",
        today=TODAY,
        **kwargs,
    )


# --- details ----------------------------------------------------------------------------------


def test_every_group_type_has_its_own_details_model():
    assert set(DETAILS_MODELS) == set(SpecialGroupType)


@pytest.mark.parametrize("group_type", list(SpecialGroupType))
def test_each_group_accepts_its_documented_details(group_type):
    parsed = sg.validate_details(group_type, good_details(group_type))
    assert isinstance(parsed, DETAILS_MODELS[group_type])


def test_codes_are_taken_by_chinese_label_or_value_and_stored_by_value():
    by_label = sg.validate_details("残疾人", good_details(SpecialGroupType.DISABLED))
    by_value = sg.validate_details(
        "disabled", {**good_details(SpecialGroupType.DISABLED), "category": "physical"}
    )
    assert isinstance(by_label, DisabledDetails) and isinstance(by_value, DisabledDetails)
    assert by_label.category is by_value.category is DisabilityCategory.PHYSICAL
    assert by_label.model_dump(mode="json")["category"] == "physical"


BAD_DETAILS = [
    ("disabled", {"grade": 5}, "details.grade: Input should be less than or equal to 4"),
    ("disabled", {"category": "色盲"}, "details.category: '色盲' is not a known disability"),
    ("disabled", {"certificate_number": "1234"}, "details.certificate_number: a disability"),
    ("disabled", {"grade": 1}, "certificate_number ends in 42, but category 肢体 with grade 1"),
    ("low_income", {"monthly_amount": "-5"}, "details.monthly_amount"),
    ("low_income", {"family_size": None}, "details.family_size"),
    ("left_behind", {"kind": "teen"}, "details.kind: 'teen' is not a known left-behind kind"),
    ("left_behind", {"guardian_phone": "12345"}, "details.guardian_phone: Phone '12345'"),
    ("entitled", {"category": "英雄"}, "details.category"),
    ("released_prisoner", {"release_date": "last week"}, "details.release_date"),
    ("community_correction", {"correction_type": "劳教"}, "details.correction_type"),
    ("community_correction", {"end_date": "2025-01-01"}, "end_date 2025-01-01 must be after"),
    ("mental_disorder", {"diagnosis": "抑郁"}, "details.diagnosis"),
    ("mental_disorder", {"danger_level": 3}, "details.danger_level is not a field"),
    ("drug_user", {"status": "已戒"}, "details.status: '已戒' is not a known drug"),
    ("key_youth", {"category": "学生"}, "details.category"),
    ("elderly_alone", {"hobby": "下棋"}, "details.hobby is not a field of this group"),
]


@pytest.mark.parametrize(("group_type", "change", "message"), BAD_DETAILS)
def test_wrong_details_are_refused_naming_the_field(group_type, change, message):
    details = {**good_details(SpecialGroupType(group_type)), **change}
    details = {k: v for k, v in details.items() if v is not None}
    with pytest.raises(InvalidRecord) as caught:
        sg.validate_details(group_type, details)
    assert message in str(caught.value)


def test_a_missing_required_field_is_named():
    with pytest.raises(InvalidRecord, match=r"details\.category is required"):
        sg.validate_details("entitled", {})


# --- enrolment and the visit interval ---------------------------------------------------------


def test_enrolment_schedules_the_first_visit_one_interval_after_the_start(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    assert (member.visit_interval_days, member.next_visit_due) == (7, date(2026, 1, 8))
    assert (member.group_type_label, member.resident_name, member.grid_code) == (
        "独居老人",
        "张三",
        GRID_A,
    )
    assert member.doc_masked.count("*") == 11


@pytest.mark.parametrize(
    ("danger_level", "interval"), [(0, 90), (1, 30), (2, 30), (3, 14), (4, 14), (5, 14)]
)
def test_mental_disorder_interval_follows_the_highest_band_at_or_below_the_danger_level(
    groups_city, danger_level, interval
):
    member = enrol(
        groups_city,
        resident(groups_city, 11),
        SpecialGroupType.MENTAL_DISORDER,
        danger_level=danger_level,
    )
    assert member.visit_interval_days == interval
    assert member.next_visit_due == START + timedelta(days=interval)


def test_mental_disorder_needs_a_danger_level_from_0_to_5(groups_city):
    resident_id = resident(groups_city, 11)
    with pytest.raises(InvalidRecord, match="danger_level is required"):
        enrol(groups_city, resident_id, SpecialGroupType.MENTAL_DISORDER, danger_level=None)
    with pytest.raises(InvalidRecord, match=r"danger_level 6 is outside 0\.\.5"):
        enrol(groups_city, resident_id, SpecialGroupType.MENTAL_DISORDER, danger_level=6)


def test_danger_level_is_refused_for_other_groups(groups_city):
    with pytest.raises(InvalidRecord, match="only applies to 严重精神障碍患者"):
        enrol(groups_city, resident(groups_city, 11), danger_level=2)


def test_enrolment_with_wrong_details_is_refused_and_nothing_is_stored(groups_city):
    with pytest.raises(InvalidRecord, match=r"details\.grade"):
        enrol(
            groups_city,
            resident(groups_city, 11),
            SpecialGroupType.DISABLED,
            details={**good_details(SpecialGroupType.DISABLED), "grade": 7},
        )
    assert groups_city["session"].scalars(select(SpecialGroup)).all() == []


def test_phones_in_details_are_encrypted_at_rest_and_shown_masked(groups_city):
    member = enrol(groups_city, resident(groups_city, 11), SpecialGroupType.MENTAL_DISORDER)
    assert member.details["guardian_phone"] == "139****5678"
    assert "guardian_phone_enc" not in member.details
    stored = groups_city["session"].get(SpecialGroup, member.id).details
    assert "13912345678" not in json.dumps(stored)
    blob = base64.b64decode(stored["guardian_phone_enc"])
    context = "special_group.mental_disorder.guardian_phone"
    assert get_cipher().decrypt(blob, context=context) == "13912345678"


def test_disability_certificate_must_carry_the_residents_own_id_number(groups_city):
    resident_id = resident(groups_city, 11)
    someone_else = {**good_details(SpecialGroupType.DISABLED, sequence=13)}
    with pytest.raises(InvalidRecord, match="not this resident's ID number"):
        enrol(groups_city, resident_id, SpecialGroupType.DISABLED, details=someone_else)
    member = enrol(groups_city, resident_id, SpecialGroupType.DISABLED)
    assert member.details["certificate_number"] == mask_id_number(id_number(11)) + "42"


def test_released_prisoner_cannot_be_enrolled_before_release(groups_city):
    with pytest.raises(InvalidRecord, match="release_date 2025-12-20 is after started_on"):
        enrol(
            groups_city,
            resident(groups_city, 11),
            SpecialGroupType.RELEASED_PRISONER,
            started_on=date(2025, 12, 1),
        )


def test_a_second_open_membership_of_the_same_group_is_refused(groups_city):
    resident_id = resident(groups_city, 11)
    first = enrol(groups_city, resident_id)
    with pytest.raises(Duplicate, match=f"already in 独居老人 .* since 2026-01-01 .*{first.id}"):
        enrol(groups_city, resident_id, started_on=date(2026, 1, 20))
    assert enrol(groups_city, resident_id, SpecialGroupType.LOW_INCOME).group_type == "low_income"
    sg.end_membership(
        groups_city["session"],
        actor=groups_city["worker_a"],
        special_group_id=first.id,
        ended_on=date(2026, 1, 15),
        reason="子女接回同住",
        today=TODAY,
    )
    again = enrol(groups_city, resident_id, started_on=date(2026, 1, 25))
    assert again.id != first.id


def test_enrolment_cannot_start_in_the_future(groups_city):
    with pytest.raises(InvalidRecord, match="started_on 2026-03-01 is in the future"):
        enrol(groups_city, resident(groups_city, 11), started_on=date(2026, 3, 1))


def test_responsible_staff_must_be_a_grid_worker_of_the_residents_grid(groups_city):
    resident_id = resident(groups_city, 11)
    with pytest.raises(InvalidRecord, match="not a grid worker of grid " + GRID_A):
        enrol(groups_city, resident_id, responsible_staff_id=groups_city["worker_b"].staff_id)
    member = enrol(groups_city, resident_id, responsible_staff_id=groups_city["worker_a"].staff_id)
    assert member.responsible_staff_id == groups_city["worker_a"].staff_id


def test_grid_worker_cannot_enrol_a_resident_of_another_grid(groups_city):
    in_b = resident(groups_city, 11, GRID_B)
    with pytest.raises(NotFound, match="does not exist or is outside your scope") as refused:
        enrol(groups_city, in_b, actor="worker_a")
    assert GRID_B not in str(refused.value)
    assert enrol(groups_city, in_b, actor="worker_b").grid_code == GRID_B


def test_leaders_and_dispatchers_get_no_member_lists(groups_city):
    enrol(groups_city, resident(groups_city, 11))
    for role in ("leader", "dispatcher"):
        with pytest.raises(Forbidden, match="may not list special-group members"):
            sg.list_members(groups_city["session"], actor=groups_city[role])
        with pytest.raises(Forbidden):
            enrol(groups_city, resident(groups_city, 12 if role == "leader" else 13), actor=role)


def test_member_lists_show_names_and_masked_ids_within_scope(groups_city):
    a = enrol(groups_city, resident(groups_city, 11, name="张三"))
    enrol(groups_city, resident(groups_city, 13, name="李四"), SpecialGroupType.KEY_YOUTH)
    enrol(groups_city, resident(groups_city, 15, GRID_B, name="王五"), actor="worker_b")
    mine = sg.list_members(groups_city["session"], actor=groups_city["worker_a"])
    assert [(m.resident_name, m.group_type) for m in mine.items] == [
        ("张三", "elderly_alone"),
        ("李四", "key_youth"),
    ]
    assert mine.items[0].doc_masked == a.doc_masked and "*" in a.doc_masked
    everyone = sg.list_members(
        groups_city["session"], actor=groups_city["command"], group_type="独居老人"
    )
    assert [m.grid_code for m in everyone.items] == [GRID_A, GRID_B]
    assert everyone.total == 2


# --- visits -----------------------------------------------------------------------------------


def test_a_visit_moves_the_next_due_date_one_interval_on(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    recorded = visit(groups_city, member.id, date(2026, 1, 10))
    assert recorded.next_visit_due == date(2026, 1, 17)
    after = sg.get_membership(
        groups_city["session"], actor=groups_city["worker_a"], special_group_id=member.id
    )
    assert (after.last_visit_on, after.next_visit_due) == (date(2026, 1, 10), date(2026, 1, 17))


def test_an_older_visit_entered_late_does_not_move_the_schedule_back(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    visit(groups_city, member.id, date(2026, 1, 20))
    late = visit(groups_city, member.id, date(2026, 1, 5))
    assert late.next_visit_due == date(2026, 1, 27)
    visits = sg.list_visits(
        groups_city["session"], actor=groups_city["worker_a"], special_group_id=member.id
    )
    assert [v.visited_on for v in visits] == [date(2026, 1, 20), date(2026, 1, 5)]


def test_visit_location_from_a_gaode_phone_is_stored_in_cgcs2000(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    recorded = visit(
        groups_city, member.id, date(2026, 1, 10), lon=111.2865, lat=30.6985, crs="gcj02"
    )
    expected = to_storage(111.2865, 30.6985, "gcj02")
    assert (recorded.lon, recorded.lat) == pytest.approx(expected, abs=1e-9)
    assert abs(recorded.lon - 111.2865) > 0.003  # GCJ-02 offset of several hundred metres
    stored = sg.list_visits(
        groups_city["session"], actor=groups_city["worker_a"], special_group_id=member.id
    )
    assert (stored[0].lon, stored[0].lat) == pytest.approx(expected, abs=1e-9)
    assert stored[0].staff_id == groups_city["worker_a"].staff_id


def test_visits_cannot_be_in_the_future_or_before_the_membership_began(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    with pytest.raises(InvalidRecord, match="visited_on 2026-02-02 is in the future"):
        visit(groups_city, member.id, date(2026, 2, 2))
    with pytest.raises(InvalidRecord, match="before the membership started"):
        visit(groups_city, member.id, date(2025, 12, 31))
    with pytest.raises(InvalidRecord, match="both lon and lat"):
        visit(groups_city, member.id, date(2026, 1, 10), lon=111.28)


def test_grid_worker_cannot_visit_a_resident_of_another_grid(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    with pytest.raises(NotFound, match="does not exist or is outside your scope"):
        visit(groups_city, member.id, date(2026, 1, 10), actor="worker_b")
    with pytest.raises(Forbidden):
        visit(groups_city, member.id, date(2026, 1, 10), actor="leader")


def test_command_centre_staff_may_record_visits_in_their_area(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    assert visit(groups_city, member.id, date(2026, 1, 10), actor="command").staff_id == (
        groups_city["command"].staff_id
    )


def test_an_ended_membership_takes_no_visits_and_keeps_its_reason(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    ended = sg.end_membership(
        groups_city["session"],
        actor=groups_city["worker_a"],
        special_group_id=member.id,
        ended_on=date(2026, 1, 20),
        reason="入住养老院",
        today=TODAY,
    )
    assert (ended.ended_on, ended.end_reason) == (date(2026, 1, 20), "入住养老院")
    assert "end_reason" not in ended.details
    with pytest.raises(InvalidRecord, match="ended on 2026-01-20"):
        visit(groups_city, member.id, date(2026, 1, 25))


def test_raising_the_danger_level_to_3_means_a_visit_every_two_weeks(groups_city):
    member = enrol(
        groups_city, resident(groups_city, 11), SpecialGroupType.MENTAL_DISORDER, danger_level=1
    )
    assert member.next_visit_due == date(2026, 1, 31)
    visit(groups_city, member.id, date(2026, 1, 10))
    raised = sg.change_danger_level(
        groups_city["session"],
        actor=groups_city["worker_a"],
        special_group_id=member.id,
        danger_level=3,
    )
    assert (raised.danger_level, raised.visit_interval_days) == (3, 14)
    assert raised.next_visit_due == date(2026, 1, 24)


def test_danger_levels_only_change_for_mental_disorder(groups_city):
    member = enrol(groups_city, resident(groups_city, 11))
    with pytest.raises(InvalidRecord, match="only apply to 严重精神障碍患者"):
        sg.change_danger_level(
            groups_city["session"],
            actor=groups_city["worker_a"],
            special_group_id=member.id,
            danger_level=2,
        )


# --- visit interval configuration -------------------------------------------------------------


def test_admin_changes_an_interval_and_open_memberships_are_rescheduled(groups_city):
    session = groups_city["session"]
    never_visited = enrol(groups_city, resident(groups_city, 11))
    visited = enrol(groups_city, resident(groups_city, 13))
    visit(groups_city, visited.id, date(2026, 1, 10))
    ended = enrol(groups_city, resident(groups_city, 15))
    sg.end_membership(
        session,
        actor=groups_city["admin"],
        special_group_id=ended.id,
        ended_on=date(2026, 1, 5),
        reason="去世",
        today=TODAY,
    )
    other_group = enrol(groups_city, resident(groups_city, 17), SpecialGroupType.LOW_INCOME)

    change = sg.set_visit_interval(
        session,
        actor=groups_city["admin"],
        group_type="elderly_alone",
        min_danger_level=0,
        interval_days=10,
    )

    assert change.rescheduled == 2

    def due(member):
        read = sg.get_membership(session, actor=groups_city["admin"], special_group_id=member.id)
        return read.visit_interval_days, read.next_visit_due

    assert due(never_visited) == (10, date(2026, 1, 11))
    assert due(visited) == (10, date(2026, 1, 20))
    assert due(ended) == (7, date(2026, 1, 8))
    assert due(other_group) == (90, date(2026, 4, 1))
    assert sg.enrol(
        session,
        actor=groups_city["admin"],
        resident_id=resident(groups_city, 19),
        group_type="elderly_alone",
        details={},
        started_on=START,
        today=TODAY,
    ).next_visit_due == date(2026, 1, 11)


def test_a_new_danger_band_reschedules_only_members_at_or_above_it(groups_city):
    session = groups_city["session"]
    low = enrol(
        groups_city, resident(groups_city, 11), SpecialGroupType.MENTAL_DISORDER, danger_level=2
    )
    high = enrol(
        groups_city, resident(groups_city, 13), SpecialGroupType.MENTAL_DISORDER, danger_level=4
    )
    sg.set_visit_interval(
        session,
        actor=groups_city["admin"],
        group_type="mental_disorder",
        min_danger_level=4,
        interval_days=7,
    )
    low_now = sg.get_membership(session, actor=groups_city["admin"], special_group_id=low.id)
    high_now = sg.get_membership(session, actor=groups_city["admin"], special_group_id=high.id)
    assert (low_now.visit_interval_days, low_now.next_visit_due) == (30, date(2026, 1, 31))
    assert (high_now.visit_interval_days, high_now.next_visit_due) == (7, date(2026, 1, 8))
    bands = [
        (i.min_danger_level, i.interval_days)
        for i in sg.list_visit_intervals(session)
        if i.group_type is SpecialGroupType.MENTAL_DISORDER
    ]
    assert bands == [(0, 90), (1, 30), (3, 14), (4, 7)]


def test_only_admins_change_visit_intervals_and_only_mental_disorder_has_bands(groups_city):
    with pytest.raises(Forbidden, match="may not change visit intervals"):
        sg.set_visit_interval(
            groups_city["session"],
            actor=groups_city["command"],
            group_type="elderly_alone",
            min_danger_level=0,
            interval_days=3,
        )
    with pytest.raises(InvalidRecord, match="has no danger levels"):
        sg.set_visit_interval(
            groups_city["session"],
            actor=groups_city["admin"],
            group_type="disabled",
            min_danger_level=2,
            interval_days=30,
        )
    with pytest.raises(InvalidRecord, match=r"interval_days 0 must be 1\.\.366"):
        sg.set_visit_interval(
            groups_city["session"],
            actor=groups_city["admin"],
            group_type="disabled",
            min_danger_level=0,
            interval_days=0,
        )


# --- overdue visits ---------------------------------------------------------------------------


@pytest.fixture
def overdue(groups_city):
    """Memberships with known due dates; on TODAY (2026-02-01) five are overdue.

    grid A (worker_a): 张一 elderly due 01-08 (24 days), 张二 mental level 3 due 01-15 (17),
      张三 disabled due 04-01 (not yet), 张四 key youth due 2025-12-31 (32), 张五 elderly ended,
      张六 elderly started 01-25, due today (not overdue)
    grid B (worker_b, worker_b2): 王一 elderly due 01-17 (15) owed by worker_b2 alone,
      王二 low income due 2025-12-30 (33) owed by both
    """
    session, ids = groups_city["session"], {}
    ids["张一"] = enrol(groups_city, resident(groups_city, 11, name="张一")).id
    ids["张二"] = enrol(
        groups_city,
        resident(groups_city, 13, name="张二"),
        SpecialGroupType.MENTAL_DISORDER,
        danger_level=3,
    ).id
    ids["张三"] = enrol(
        groups_city,
        resident(groups_city, 15, name="张三"),
        SpecialGroupType.DISABLED,
        details=good_details(SpecialGroupType.DISABLED, sequence=15),
    ).id
    ids["张四"] = enrol(
        groups_city,
        resident(groups_city, 17, name="张四"),
        SpecialGroupType.KEY_YOUTH,
        started_on=date(2025, 12, 1),
    ).id
    ended = enrol(groups_city, resident(groups_city, 19, name="张五"))
    sg.end_membership(
        session,
        actor=groups_city["worker_a"],
        special_group_id=ended.id,
        ended_on=date(2026, 1, 2),
        reason="搬去子女家",
        today=TODAY,
    )
    enrol(groups_city, resident(groups_city, 21, name="张六"), started_on=date(2026, 1, 25))
    ids["王一"] = enrol(
        groups_city,
        resident(groups_city, 23, GRID_B, name="王一"),
        started_on=date(2026, 1, 10),
        responsible_staff_id=groups_city["worker_b2"].staff_id,
        actor="worker_b",
    ).id
    ids["王二"] = enrol(
        groups_city,
        resident(groups_city, 25, GRID_B, name="王二"),
        SpecialGroupType.LOW_INCOME,
        started_on=date(2025, 10, 1),
        actor="worker_b",
    ).id
    return ids


def names(rows):
    return [(r.resident_name, r.days_overdue) for r in rows]


def test_overdue_visits_are_listed_most_overdue_first(groups_city, overdue):
    rows = sg.list_overdue(groups_city["session"], actor=groups_city["admin"], today=TODAY)
    assert names(rows) == [("王二", 33), ("张四", 32), ("张一", 24), ("张二", 17), ("王一", 15)]
    assert rows[0].next_visit_due == date(2025, 12, 30)


def test_overdue_visits_per_grid(groups_city, overdue):
    in_a = sg.list_overdue(
        groups_city["session"], actor=groups_city["command"], today=TODAY, grid_code=GRID_A
    )
    assert names(in_a) == [("张四", 32), ("张一", 24), ("张二", 17)]
    counts = sg.overdue_by_grid(groups_city["session"], actor=groups_city["leader"], today=TODAY)
    assert [(c.grid_code, c.grid_name, c.overdue) for c in counts] == [
        (GRID_A, "第001网格", 3),
        (GRID_B, "第002网格", 2),
    ]


def test_overdue_visits_per_worker_follow_the_responsible_staff_else_the_grid(groups_city, overdue):
    def owed_by(worker):
        staff_id = groups_city[worker].staff_id
        return names(
            sg.list_overdue(
                groups_city["session"], actor=groups_city["admin"], today=TODAY, staff_id=staff_id
            )
        )

    assert owed_by("worker_a") == [("张四", 32), ("张一", 24), ("张二", 17)]
    assert owed_by("worker_b") == [("王二", 33)]
    assert owed_by("worker_b2") == [("王二", 33), ("王一", 15)]
    counts = sg.overdue_by_worker(groups_city["session"], actor=groups_city["leader"], today=TODAY)
    assert [(c.full_name, c.overdue) for c in counts] == [
        ("worker_a", 3),
        ("worker_b2", 2),
        ("worker_b", 1),
    ]


def test_a_grid_worker_sees_only_the_overdue_visits_of_their_grids(groups_city, overdue):
    mine = sg.list_overdue(groups_city["session"], actor=groups_city["worker_b"], today=TODAY)
    assert names(mine) == [("王二", 33), ("王一", 15)]
    counts = sg.overdue_by_grid(groups_city["session"], actor=groups_city["worker_b"], today=TODAY)
    assert [(c.grid_code, c.overdue) for c in counts] == [(GRID_B, 2)]


def test_a_visit_takes_a_member_off_the_overdue_list(groups_city, overdue):
    visit(groups_city, overdue["张一"], TODAY)
    rows = sg.list_overdue(groups_city["session"], actor=groups_city["worker_a"], today=TODAY)
    assert names(rows) == [("张四", 32), ("张二", 17)]


def test_leaders_see_overdue_counts_but_no_names(groups_city, overdue):
    with pytest.raises(Forbidden, match="may not list overdue visits by name"):
        sg.list_overdue(groups_city["session"], actor=groups_city["leader"], today=TODAY)
    with pytest.raises(Forbidden):
        sg.overdue_by_grid(groups_city["session"], actor=groups_city["dispatcher"], today=TODAY)


def test_overdue_visits_in_a_grid_without_workers_are_counted_as_owed_by_nobody(groups_city):
    enrol(groups_city, resident(groups_city, 11, GRID_C, name="赵一"), actor="admin")
    counts = sg.overdue_by_worker(groups_city["session"], actor=groups_city["admin"], today=TODAY)
    assert [(c.staff_id, c.full_name, c.overdue) for c in counts] == [(None, None, 1)]
