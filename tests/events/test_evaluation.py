"""考评: the score of hand-built timelines (on time, late, extended, returned, reworked,
supervised, satisfied or not) against numbers computed by hand from the documented rule
(100; −10 per late stage, −3 per approved extension, −5 per return, −15 per rework, −5 per
supervision, −10 per reopening; 满意 +5, 基本满意 0, 不满意 −20; kept within 0–100), whom
each score counts for, and evaluation again on reopening, closing and re-running a period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from events.evaluation import CaseFacts, evaluate_closed, score_case
from events.models import (
    AppealType,
    DepartmentUnit,
    EventEvaluation,
    EventSource,
    EventStatus,
    Satisfaction,
)
from events.schemas import EventRead
from gis.clock import CHINA_TZ
from tests.events.test_callbacks import call_back, closed_case, fix, hotline_case, reply
from tests.events.workflow_city import (
    EAST,
    MONDAY_10,
    SPOT,
    TUESDAY,
    WEDNESDAY,
    do,
    file,
    photo,
)
from tests.factories import METRE_LON

THURSDAY = datetime(2026, 11, 26, tzinfo=CHINA_TZ)
SIGNED_AT, HANDLED_AT = MONDAY_10 + timedelta(minutes=30), TUESDAY.replace(hour=10)
VERIFIED_AT = TUESDAY.replace(hour=11)
NEAR = (SPOT[0] + 20 * METRE_LON, SPOT[1])


def evaluation(city: dict[str, Any], event: EventRead) -> EventEvaluation | None:
    session = city["session"]
    session.expire_all()
    return session.get(EventEvaluation, event.id)


def verify(city: dict[str, Any], event: EventRead, at: datetime) -> EventRead:
    """The grid worker's passed check at `at`, and the command centre's 结案 at once."""
    do(city, "worker", event, "verify", at, photos=[photo()], lon=NEAR[0], lat=NEAR[1])
    return do(city, "command_staff", event, "close", at)


def grid_case(
    city: dict[str, Any],
    *,
    sign_at: datetime = SIGNED_AT,
    handle_at: datetime = HANDLED_AT,
    verify_at: datetime = VERIFIED_AT,
    meanwhile: Any = None,
) -> EventRead:
    """A grid worker's case (0101: sign 1 working hour, handle and verify 1 working day each)
    filed Monday 10:00 for PS-W, signed, handled, verified and closed by the command centre;
    `meanwhile` acts on it between the sign-for and the handling."""
    event = file(city)
    do(city, "disp_w", event, "sign", sign_at)
    if meanwhile is not None:
        meanwhile(event)
    do(city, "disp_w", event, "handle", handle_at, note="已处理")
    return verify(city, event, verify_at)


# -- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (CaseFacts(), 100.0),
        (CaseFacts(stages=3, late_stages=2), 80.0),
        (CaseFacts(extensions=1), 97.0),
        (CaseFacts(returns=2), 90.0),
        (CaseFacts(reworks=1), 85.0),
        (CaseFacts(supervisions=3), 85.0),
        (CaseFacts(reopens=1), 90.0),
        (CaseFacts(satisfaction=Satisfaction.SATISFIED), 100.0),  # never above 100
        (CaseFacts(late_stages=1, satisfaction=Satisfaction.SATISFIED), 95.0),
        (CaseFacts(late_stages=1, satisfaction=Satisfaction.FAIRLY_SATISFIED), 90.0),
        (CaseFacts(late_stages=1, satisfaction=Satisfaction.DISSATISFIED), 70.0),
        (CaseFacts(late_stages=6, reworks=3, satisfaction=Satisfaction.DISSATISFIED), 0.0),
    ],
)
def test_score_of_the_facts_follows_the_documented_rule(facts: CaseFacts, expected: float):
    score, components = score_case(facts)
    assert score == expected
    assert components["rule_version"] == 1
    assert components["base"] == 100


# -- timelines through the real actions --------------------------------------------------------


def test_a_case_closed_with_every_stage_on_time_scores_100_and_counts_for_its_unit(city):
    event = grid_case(city)
    assert event.status is EventStatus.CLOSED
    row = evaluation(city, event)
    assert row is not None
    assert (row.score, row.stages, row.late_stages) == (100.0, 4, 0)  # sign, handle, verify, close
    police_w: DepartmentUnit = city["police_w"]
    assert row.unit_id == police_w.id
    assert row.department_id == police_w.department_id
    assert row.tier.value == "district"
    assert row.grid_code == EAST and row.community_code == EAST[:12]
    assert row.street_code == EAST[:9] + "000"
    assert row.worker_id == city["worker"].staff_id  # reported by a grid worker
    assert row.category_code == "0101"
    assert row.closed_at == TUESDAY.replace(hour=11)
    assert row.components["deductions"] == {}


def test_late_sign_for_and_late_handling_cost_ten_each(city):
    # Sign-for due 11:00 (signed 11:30); handling due Tuesday 17:30 (handled Wednesday 10:00).
    event = grid_case(
        city,
        sign_at=MONDAY_10 + timedelta(minutes=90),
        handle_at=WEDNESDAY.replace(hour=10),
        verify_at=WEDNESDAY.replace(hour=11),
    )
    row = evaluation(city, event)
    assert row is not None
    assert (row.late_stages, row.score) == (2, 80.0)
    assert row.components["deductions"] == {"late_stages": 20.0}


def test_a_case_signed_at_the_deadline_is_on_time_and_one_second_past_is_late(city):
    on_time = grid_case(city, sign_at=MONDAY_10 + timedelta(hours=1))
    late = grid_case(city, sign_at=MONDAY_10 + timedelta(hours=1, seconds=1))
    assert evaluation(city, on_time).score == 100.0  # type: ignore[union-attr]
    assert evaluation(city, late).score == 90.0  # type: ignore[union-attr]


def test_an_approved_extension_costs_three_and_keeps_the_handling_on_time(city):
    def extend(event: EventRead) -> None:
        at = TUESDAY.replace(hour=9)
        do(city, "disp_w", event, "extend", at, reason="需协调房东", extra_limit="2d")
        do(city, "command_staff", event, "approve-extension", at + timedelta(minutes=30))

    # Handled Wednesday 10:00: late without the extension, on time with it (Thursday 17:30).
    event = grid_case(
        city,
        meanwhile=extend,
        handle_at=WEDNESDAY.replace(hour=10),
        verify_at=WEDNESDAY.replace(hour=11),
    )
    row = evaluation(city, event)
    assert row is not None
    assert (row.extensions, row.late_stages, row.score) == (1, 0, 97.0)


def test_a_request_for_extension_that_was_never_approved_costs_nothing(city):
    def ask(event: EventRead) -> None:
        do(
            city,
            "disp_w",
            event,
            "extend",
            TUESDAY.replace(hour=9),
            reason="等待",
            extra_limit="1d",
        )

    row = evaluation(city, grid_case(city, meanwhile=ask))
    assert row is not None and (row.extensions, row.score) == (0, 100.0)


def test_a_return_costs_five_and_the_case_counts_for_the_unit_that_closed_it(city):
    event = file(city)
    do(city, "disp_w", event, "return", MONDAY_10 + timedelta(minutes=15), reason="不属于本辖区")
    police_e = city["police_e"]
    do(
        city,
        "command_staff",
        event,
        "redispatch",
        MONDAY_10 + timedelta(minutes=20),
        unit_id=police_e.id,
    )
    do(city, "disp_e", event, "sign", MONDAY_10 + timedelta(minutes=40))
    do(city, "disp_e", event, "handle", TUESDAY.replace(hour=10), note="已处理")
    closed = verify(city, event, TUESDAY.replace(hour=11))
    row = evaluation(city, closed)
    assert row is not None
    assert (row.returns, row.late_stages, row.score) == (1, 0, 95.0)
    assert row.unit_id == police_e.id


def test_a_rework_costs_fifteen(city):
    event = file(city)
    do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    do(city, "disp_w", event, "handle", TUESDAY.replace(hour=10), note="已处理")
    do(
        city,
        "worker",
        event,
        "rework",
        TUESDAY.replace(hour=11),
        reason="现场仍有堆放",
    )
    assert evaluation(city, event) is None  # not closed yet
    do(city, "disp_w", event, "handle", TUESDAY.replace(hour=15), note="已清理")
    closed = verify(city, event, TUESDAY.replace(hour=16))
    row = evaluation(city, closed)
    assert row is not None
    assert (row.reworks, row.stages, row.late_stages, row.score) == (1, 6, 0, 85.0)


def test_each_supervision_costs_five(city):
    def supervise_twice(event: EventRead) -> None:
        do(
            city,
            "command_staff",
            event,
            "supervise",
            MONDAY_10 + timedelta(hours=2),
            level="yellow",
        )
        do(city, "command_staff", event, "supervise", TUESDAY.replace(hour=9), level="red")

    row = evaluation(city, grid_case(city, meanwhile=supervise_twice))
    assert row is not None and (row.supervisions, row.score) == (2, 90.0)
    assert row.components["deductions"] == {"supervisions": 10.0}


def test_a_case_fixed_on_the_spot_scores_100_for_the_grid_worker(city, tmp_path):
    event = file(city)
    resolved = do(city, "worker", event, "self-resolve", MONDAY_10, photos=[photo()])
    assert resolved.status is EventStatus.SELF_RESOLVED
    row = evaluation(city, resolved)
    assert row is not None and row.score == 100.0
    assert row.worker_id == city["worker"].staff_id


def test_a_question_answered_at_once_is_evaluated_with_no_grid_worker(city):
    event = file(
        city,
        by="command_staff",
        source=EventSource.HOTLINE,
        appeal_type=AppealType.CONSULT,
        contact="13912345678",
    )
    answered = do(
        city,
        "command_staff",
        event,
        "direct-reply",
        MONDAY_10 + timedelta(minutes=5),
        reply="办理时间为工作日 9:00–17:00",
        reply_channel="phone",
    )
    assert answered.status is EventStatus.CLOSED
    row = evaluation(city, answered)
    assert row is not None and row.worker_id is None and row.unit_id is None


# -- satisfaction and reopening (重办) -----------------------------------------------------------


def _supervised_citizen_case(city: dict[str, Any]) -> EventRead:
    """A 12345 case supervised once (−5), every stage on time, replied to Wednesday 10:00."""
    event = hotline_case(city)
    do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    do(city, "command_staff", event, "supervise", MONDAY_10 + timedelta(hours=2), level="yellow")
    fix(city, event, TUESDAY.replace(hour=10), TUESDAY.replace(hour=11))
    return reply(city, event, WEDNESDAY.replace(hour=10))


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("satisfied", 100.0), ("fairly_satisfied", 95.0), ("no_answer", 95.0)],
)
def test_satisfaction_at_the_callback_scores_the_case_again(city, outcome, expected):
    event = _supervised_citizen_case(city)
    assert evaluation(city, event).score == 95.0  # type: ignore[union-attr]
    call_back(city, event, outcome, THURSDAY.replace(hour=10))
    row = evaluation(city, event)
    assert row is not None and row.score == expected
    assert row.satisfaction == (None if outcome == "no_answer" else Satisfaction(outcome))
    # Nobody answered: nothing changed, the evaluation made at the reply stands.
    scored_at = WEDNESDAY.replace(hour=10) if outcome == "no_answer" else THURSDAY.replace(hour=10)
    assert row.evaluated_at == scored_at


def test_a_dissatisfied_caller_reopens_the_case_and_it_is_evaluated_again_when_it_closes(city):
    event = _supervised_citizen_case(city)
    call_back(city, event, "dissatisfied", THURSDAY.replace(hour=10), note="人还在楼道")
    assert evaluation(city, event) is None  # reopened (重办): open again, no evaluation
    fix(city, event, THURSDAY.replace(hour=14), THURSDAY.replace(hour=15))
    closed = reply(city, event, THURSDAY.replace(hour=16))
    row = evaluation(city, closed)
    assert row is not None
    # −5 supervision, −10 reopening; the new callback has no satisfaction yet.
    assert (row.reopens, row.satisfaction, row.score) == (1, None, 85.0)
    assert row.closed_at == THURSDAY.replace(hour=16)
    call_back(city, event, "satisfied", THURSDAY.replace(hour=17))
    assert evaluation(city, event).score == 90.0  # type: ignore[union-attr]


def test_a_second_dissatisfied_goes_to_review_and_costs_twenty(city):
    event = closed_case(city)  # every stage on time: 100
    call_back(city, event, "dissatisfied", THURSDAY.replace(hour=10), note="没人来")
    fix(city, event, THURSDAY.replace(hour=14), THURSDAY.replace(hour=15))
    reply(city, event, THURSDAY.replace(hour=16))
    call_back(city, event, "dissatisfied", THURSDAY.replace(hour=17), note="还是没人来")
    row = evaluation(city, event)
    assert row is not None
    assert (row.reopens, row.satisfaction, row.score) == (1, Satisfaction.DISSATISFIED, 70.0)


# -- evaluating a period again -----------------------------------------------------------------


def test_evaluating_a_period_again_is_idempotent_and_fills_in_missing_rows(city):
    session = city["session"]
    first = grid_case(city)
    late = grid_case(city, sign_at=MONDAY_10 + timedelta(hours=2))
    grid_case(city, verify_at=TUESDAY.replace(hour=12))
    open_case = file(city)
    session.execute(EventEvaluation.__table__.delete().where(EventEvaluation.event_id == late.id))
    start, end = datetime(2026, 11, 1, tzinfo=CHINA_TZ), datetime(2026, 12, 1, tzinfo=CHINA_TZ)
    at = THURSDAY.replace(hour=12)
    assert evaluate_closed(session, start=start, end=end, at=at) == 3
    assert evaluate_closed(session, start=start, end=end, at=at) == 3
    count = session.scalar(select(func.count()).select_from(EventEvaluation))
    assert count == 3
    assert evaluation(city, late).score == 90.0  # type: ignore[union-attr]
    assert evaluation(city, first).score == 100.0  # type: ignore[union-attr]
    assert evaluation(city, open_case) is None
    # Outside the period: nothing.
    december = datetime(2027, 1, 1, tzinfo=CHINA_TZ)
    assert evaluate_closed(session, start=end, end=december, at=at) == 0
