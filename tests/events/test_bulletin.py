"""The KPIs added for 考评 (groupings tier, street, community, category; 立案准确率, 延期率,
主动发现率, 综合得分 from 考评) and the monthly 考核通报 (JSON rows and xlsx), checked against
independent SQL over the events, their stages and steps, and against numbers made by hand."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text, update

from events.bulletin import (
    bulletin_workbook,
    competition_ranks,
    grade,
    month_bounds,
    monthly_bulletin,
)
from events.evaluation import evaluate_closed
from events.exceptions import Forbidden, InvalidReport
from events.kpis import kpis, period_bounds
from events.models import DepartmentUnit, Event, EventSource
from events.schemas import EventRead
from gis.clock import CHINA_TZ
from people.models import StaffRole
from tests.events.test_callbacks import hotline_case
from tests.events.test_evaluation import grid_case, verify
from tests.events.workflow_city import MONDAY_10, TUESDAY, WEDNESDAY, add_person, do, file

NOVEMBER = period_bounds("2026-11")
OTHER_STREET, OTHER_COMMUNITY = "420502002000", "420502002001"


@pytest.fixture
def month(city: dict[str, Any]) -> dict[str, Any]:
    """Nine cases filed Monday 23 November 2026 10:00, five of them closed and evaluated:

    ontime (PS-W, 100), late (PS-W, signed late: 90, held at the street tier), returned (PS-W
    returned it, PS-E closed it: 95; street tier, recorded in another street and community),
    extended (PS-W, 97), supervised (PS-W, twice: 90); voided_registered (a 12345 case checked,
    dispatched, then voided), voided_early (a 12345 case voided before its check), patrol (an
    inspector's 巡查发现, dispatched), open (signed, being handled).
    """
    session = city["session"]

    def extend(event: EventRead) -> None:
        at = TUESDAY.replace(hour=9)
        do(city, "disp_w", event, "extend", at, reason="需协调房东", extra_limit="2d")
        do(city, "command_staff", event, "approve-extension", at + timedelta(minutes=30))

    def supervise(event: EventRead) -> None:
        do(
            city,
            "command_staff",
            event,
            "supervise",
            MONDAY_10 + timedelta(hours=2),
            level="yellow",
        )
        do(city, "command_staff", event, "supervise", TUESDAY.replace(hour=9), level="red")

    cases: dict[str, EventRead] = {
        "ontime": grid_case(city),
        "late": grid_case(city, sign_at=MONDAY_10 + timedelta(hours=2)),
        "extended": grid_case(
            city,
            meanwhile=extend,
            handle_at=WEDNESDAY.replace(hour=10),
            verify_at=WEDNESDAY.replace(hour=11),
        ),
        "supervised": grid_case(city, meanwhile=supervise),
    }
    returned = file(city)
    do(city, "disp_w", returned, "return", MONDAY_10 + timedelta(minutes=15), reason="不属于本辖区")
    at = MONDAY_10 + timedelta(minutes=20)
    do(city, "command_staff", returned, "redispatch", at, unit_id=city["police_e"].id)
    do(city, "disp_e", returned, "sign", MONDAY_10 + timedelta(minutes=40))
    do(city, "disp_e", returned, "handle", TUESDAY.replace(hour=10), note="已处理")
    cases["returned"] = verify(city, returned, TUESDAY.replace(hour=11))
    voided = hotline_case(city)
    cases["voided_registered"] = do(
        city, "command_staff", voided, "void", MONDAY_10 + timedelta(hours=1), reason="重复上报"
    )
    early = file(city, by="command_staff", source=EventSource.HOTLINE, contact="13912345678")
    cases["voided_early"] = do(
        city, "command_staff", early, "void", MONDAY_10 + timedelta(minutes=5), reason="不属实"
    )
    cases["patrol"] = file(city, by="inspector", source=EventSource.INSPECTION)
    cases["open"] = file(city)
    do(city, "disp_w", cases["open"], "sign", MONDAY_10 + timedelta(minutes=30))
    for name in ("late", "returned"):
        session.execute(update(Event).where(Event.id == cases[name].id).values(tier="street"))
    session.execute(
        update(Event)
        .where(Event.id == cases["returned"].id)
        .values(street_code=OTHER_STREET, community_code=OTHER_COMMUNITY)
    )
    # The attribution changed by hand: evaluate the month again (as `gridgov evaluate` does).
    evaluate_closed(session, start=NOVEMBER[0], end=NOVEMBER[1], at=WEDNESDAY.replace(hour=12))
    return cases


SCORES = {"ontime": 100.0, "late": 90.0, "returned": 95.0, "extended": 97.0, "supervised": 90.0}
NOW = datetime(2026, 11, 30, 12, tzinfo=CHINA_TZ)

# The new indicators, counted independently of events.kpis: from the events, their steps and
# stages and the evaluation of each case.
INDEPENDENT = """
SELECT coalesce(CAST({key} AS text), '') AS key,
       count(*) AS reported,
       count(*) FILTER (WHERE e.status NOT IN ('reported', 'pending', 'refused', 'voided',
                                                'transferred')) AS registered,
       count(*) FILTER (WHERE e.status IN ('closed', 'self_resolved')) AS closed,
       count(*) FILTER (WHERE e.status = 'voided' AND EXISTS (
           SELECT 1 FROM event_step s WHERE s.event_id = e.id AND s.to_status = 'registered'))
           AS voided_after_registration,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM event_stage g WHERE g.event_id = e.id AND g.stage = 'handle'
           AND g.ended_at IS NOT NULL) AND EXISTS (
           SELECT 1 FROM event_step s WHERE s.event_id = e.id AND s.action = 'approve-extension'))
           AS extended,
       count(*) FILTER (WHERE e.source IN ('grid_worker', 'inspection')) AS found_proactively,
       count(v.event_id) AS evaluated,
       avg(v.score) AS evaluation_score
FROM event e
LEFT JOIN event_evaluation v ON v.event_id = e.id AND v.district_code = e.district_code
WHERE e.reported_at >= :start AND e.reported_at < :end
GROUP BY 1
"""
KEYS = {
    "tier": "e.tier",
    "street": "e.street_code",
    "community": "e.community_code",
    "category": "e.category_code",
    "unit": "e.unit_id",
    "district": "e.district_code",
}
FIGURES = (
    "reported",
    "registered",
    "closed",
    "voided_after_registration",
    "extended",
    "found_proactively",
    "evaluated",
)


@pytest.mark.parametrize("by", sorted(KEYS))
def test_new_groupings_and_indicators_equal_independent_sql(city, month, by):
    session = city["session"]
    rows = kpis(session, actor=city["admin"], start=NOVEMBER[0], end=NOVEMBER[1], by=by, now=NOW)
    got = {row.key or "": row for row in rows}
    expected = {
        r.key: r
        for r in session.execute(
            text(INDEPENDENT.format(key=KEYS[by])), {"start": NOVEMBER[0], "end": NOVEMBER[1]}
        )
    }
    assert set(got) == set(expected)
    for key, want in expected.items():
        for name in FIGURES:
            assert getattr(got[key], name) == getattr(want, name), (by, key, name)
        if want.evaluation_score is None:
            assert got[key].evaluation_score is None
        else:
            assert got[key].evaluation_score == pytest.approx(float(want.evaluation_score))


def test_new_indicators_of_the_district_made_by_hand(city, month):
    session = city["session"]
    (row,) = kpis(
        session, actor=city["admin"], start=NOVEMBER[0], end=NOVEMBER[1], by="district", now=NOW
    )
    assert row.reported == 9
    # Registered: 5 closed + open (the patrol report waits for 立案); voided after
    # registration: the checked 12345 case.
    assert (row.registered, row.voided_after_registration) == (6, 1)
    assert row.registration_accuracy == pytest.approx(6 / 7)
    assert (row.extended, row.handled) == (1, 5)
    assert row.extension_rate == pytest.approx(1 / 5)
    assert row.found_proactively == 7  # six by the grid worker, one on patrol; two 12345 calls
    assert row.proactive_rate == pytest.approx(7 / 9)
    assert row.evaluated == 5
    assert row.evaluation_score == pytest.approx(sum(SCORES.values()) / 5)


def test_closure_rate_by_tier(city, month):
    rows = kpis(
        city["session"], actor=city["admin"], start=NOVEMBER[0], end=NOVEMBER[1], by="tier", now=NOW
    )
    assert [(r.key, r.name) for r in rows] == [("street", "街道级"), ("district", "区县级")]
    street, district = rows
    assert (street.closed, street.registered, street.closure_rate) == (2, 2, 1.0)
    # District: ontime, extended, supervised closed; open still open (the patrol report waits
    # for 立案, not registered).
    assert (district.closed, district.registered) == (3, 4)
    assert district.closure_rate == pytest.approx(3 / 4)
    assert street.evaluation_score == pytest.approx((90 + 95) / 2)


def test_category_and_street_rows_carry_their_names(city, month):
    session = city["session"]
    by_street = kpis(
        session, actor=city["admin"], start=NOVEMBER[0], end=NOVEMBER[1], by="street", now=NOW
    )
    names = {r.key: r.name for r in by_street}
    assert names["420502001000"] == "西陵街道"
    assert names[OTHER_STREET] == OTHER_STREET  # no admin unit of that code: its code
    (category,) = kpis(
        session, actor=city["admin"], start=NOVEMBER[0], end=NOVEMBER[1], by="category", now=NOW
    )
    assert category.key == "0101" and category.name and category.name != "0101"


# -- the bulletin --------------------------------------------------------------------------------

# The bulletin's counts, independently: the events closed in the month, their stages and steps.
BULLETIN_SQL = """
SELECT e.unit_id,
       count(*) AS cases,
       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM event_stage g
                        WHERE g.event_id = e.id AND g.on_time IS false)) AS on_time,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM event_step s WHERE s.event_id = e.id
                        AND s.action = 'approve-extension')) AS extended,
       coalesce(sum((SELECT count(*) FROM event_step s WHERE s.event_id = e.id
                     AND s.action = 'return')), 0) AS returns,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM event_step s WHERE s.event_id = e.id
                        AND s.action = 'supervise')) AS supervised,
       array_agg(e.id) AS ids
FROM event e
WHERE e.status IN ('closed', 'self_resolved') AND e.closed_at >= :start AND e.closed_at < :end
GROUP BY e.unit_id
"""


def test_bulletin_by_unit_equals_independent_sql_and_hand_made_scores(city, month):
    session = city["session"]
    bulletin = monthly_bulletin(session, actor=city["admin"], month="2026-11", by="unit", now=NOW)
    assert bulletin.area == "全部辖区" and bulletin.by_label == "承办单位"
    score_of = {month[name].id: score for name, score in SCORES.items()}
    rows = {row.key: row for row in bulletin.rows}
    expected = session.execute(text(BULLETIN_SQL), {"start": NOVEMBER[0], "end": NOVEMBER[1]}).all()
    assert set(rows) == {str(r.unit_id) for r in expected}
    for want in expected:
        got = rows[str(want.unit_id)]
        mean = round(sum(score_of[i] for i in want.ids) / len(want.ids), 2)
        assert (got.cases, got.on_time, got.extended, got.returns, got.supervised) == (
            want.cases,
            want.on_time,
            want.extended,
            want.returns,
            want.supervised,
        )
        assert got.score == mean
        assert got.grade == grade(mean)
    # By hand: PS-E closed the returned case (95), PS-W four (100, 90, 97, 90: 94.25).
    police_e, police_w = city["police_e"], city["police_w"]
    assert [(r.rank, r.key, r.score, r.grade) for r in bulletin.rows] == [
        (1, str(police_e.id), 95.0, "优"),
        (2, str(police_w.id), 94.25, "优"),
    ]
    assert rows[str(police_w.id)].on_time_rate == pytest.approx(3 / 4)


def test_bulletin_by_worker_street_and_community(city, month):
    session = city["session"]
    by_worker = monthly_bulletin(session, actor=city["admin"], month="2026-11", by="worker")
    ((worker),) = by_worker.rows
    assert (worker.key, worker.name, worker.cases) == (str(city["worker"].staff_id), "worker1", 5)
    assert worker.score == round(sum(SCORES.values()) / 5, 2)
    by_street = monthly_bulletin(session, actor=city["admin"], month="2026-11", by="street")
    assert [(r.key, r.cases, r.score) for r in by_street.rows] == [
        (OTHER_STREET, 1, 95.0),
        ("420502001000", 4, 94.25),
    ]
    by_community = monthly_bulletin(session, actor=city["admin"], month="2026-11", by="community")
    assert [r.key for r in by_community.rows] == [OTHER_COMMUNITY, "420502001001"]


def test_bulletin_of_a_month_with_nothing_closed_is_empty(city, month):
    empty = monthly_bulletin(city["session"], actor=city["admin"], month="2026-12")
    assert empty.rows == []


def test_bulletin_is_for_leaders_and_the_command_centre_of_their_area(city, month):
    session = city["session"]
    leader = monthly_bulletin(session, actor=city["leader"], month="2026-11", by="unit")
    assert leader.area == "西陵区" and sum(r.cases for r in leader.rows) == 5
    command = monthly_bulletin(session, actor=city["command_staff"], month="2026-11")
    assert sum(r.cases for r in command.rows) == 5
    # A leader of the street next door sees none of these cases.
    other = add_person(session, "leader.other", StaffRole.LEADER, area=OTHER_STREET)
    assert monthly_bulletin(session, actor=other, month="2026-11").rows == []
    for role in ("disp_w", "worker", "inspector"):
        with pytest.raises(Forbidden, match="考核通报"):
            monthly_bulletin(session, actor=city[role], month="2026-11")


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "2026", "2026-Q4", "11-2026", ""])
def test_a_month_must_be_written_yyyy_mm(bad):
    with pytest.raises(InvalidReport, match="YYYY-MM"):
        month_bounds(bad)


def test_grades_at_the_band_edges():
    assert [grade(s) for s in (100, 90, 89.99, 80, 79.99, 60, 59.99, 0)] == [
        "优",
        "优",
        "良",
        "良",
        "中",
        "中",
        "差",
        "差",
    ]
    assert grade(None) is None


def test_workbook_has_a_ranked_sheet_per_grouping_and_keeps_formula_text_as_text(city, month):
    session = city["session"]
    trap = '=HYPERLINK("http://example.invalid/steal","点我")'
    session.execute(
        update(DepartmentUnit).where(DepartmentUnit.id == city["police_w"].id).values(name=trap)
    )
    content = bulletin_workbook(session, actor=city["leader"], month="2026-11", now=NOW)
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["按承办单位", "按部门", "按街道", "按社区", "按网格员"]
    sheet = book["按承办单位"]
    assert sheet["A1"].value == "西陵区 2026-11 考核通报（按承办单位）"
    assert [c.value for c in sheet[3]][:5] == [
        "排名 Rank",
        "名称 Name",
        "综合得分 Score",
        "等级 Grade",
        "考评件数 Cases",
    ]
    ranked = [[c.value for c in row][:5] for row in sheet.iter_rows(min_row=4)]
    assert ranked == [[1, city["police_e"].name, 95, "优", 1], [2, trap, 94.25, "优", 4]]
    trap_cell = sheet.cell(row=5, column=2)
    assert trap_cell.value == trap and trap_cell.data_type == "s"
    for name in book.sheetnames:
        for row in book[name].iter_rows():
            for cell in row:
                assert cell.data_type != "f", (name, cell.coordinate, cell.value)


def test_an_indicator_kept_in_another_table_is_added_to_the_rows_by_key(city, month, monkeypatch):
    """ROLLUPS: a function giving (key, name=count) rows for the cohort; here one that counts
    each cohort event once more as returned for its unit, and 2 for a unit with no case."""
    from sqlalchemy import func, select

    import events.kpis as kpi_module

    def extra(session, cohort, by, actor):
        rows = session.execute(select(cohort.c.key, func.count()).group_by(cohort.c.key))
        return [{"key": key, "returned": n} for key, n in rows] + [{"key": "999", "returned": 2}]

    session = city["session"]
    args = {"actor": city["admin"], "start": NOVEMBER[0], "end": NOVEMBER[1], "by": "unit"}
    before = {r.key: r for r in kpis(session, **args, now=NOW)}
    monkeypatch.setattr(kpi_module, "ROLLUPS", [extra])
    after = {r.key: r for r in kpis(session, **args, now=NOW)}
    assert set(after) == set(before) | {"999"}
    for key, row in before.items():
        assert after[key].returned == row.returned + row.reported
        assert after[key].reported == row.reported
    assert (after["999"].returned, after["999"].reported, after["999"].name) == (2, 0, "999")


@pytest.mark.parametrize(
    ("scores", "ranks"),
    [
        ([], []),
        ([90.0], [1]),
        ([95.0, 90.0, 90.0, 80.0], [1, 2, 2, 4]),
        ([88.5, 88.5, 88.5], [1, 1, 1]),
        ([99.0, 98.0, 98.0, 98.0, 70.0, 70.0], [1, 2, 2, 2, 5, 5]),
    ],
)
def test_equal_scores_share_a_rank_and_the_next_rank_skips(scores, ranks):
    # The competition ranking of 考核通报 (1, 2, 2, 4), worked out by hand.
    assert competition_ranks(scores) == ranks
