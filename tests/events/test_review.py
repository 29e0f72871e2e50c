"""Return review and disputes (退回审核, 争议裁定): a unit's return is accepted (re-dispatched,
never to a unit that returned it) or rejected (back to the unit with the ruling and a fresh
sign-for clock); two units' returns make a dispute the command centre rules on, binding, and
one click turns the ruling into a dispatch rule that routes the next such case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from events.actions import actions_for
from events.admin import save_rule
from events.catalog import DepartmentType, Tier
from events.exceptions import ActionNotAllowed, Conflict, Forbidden, InvalidReport
from events.kpis import review_kpis
from events.models import DispatchRule, Event, EventStage, EventStatus, Outbox, Stage
from events.rulings import list_rulings, make_dispatch_rule, review_queue
from events.schemas import EventRead, RuleFromRuling, RuleInput
from people.exceptions import Forbidden as RoleRefused
from people.models import StaffRole
from tests.events.workflow_city import (
    MONDAY_10,
    TUESDAY,
    add_person,
    do,
    file,
    unit_code,
)
from tests.factories import COMMUNITY, DISTRICT

AN_HOUR = timedelta(hours=1)
EAST_OF_PS_W = (111.298, 30.705)  # grid EAST, inside PS-E's police area


def notices(city: dict[str, Any], event: EventRead, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(unit code, payload) of the event's outbox rows of `kind`."""
    rows = city["session"].scalars(
        select(Outbox).where(Outbox.event_id == event.id, Outbox.kind == kind).order_by(Outbox.id)
    )
    return [(r.payload["unit"], r.payload) for r in rows]


def returned(
    city: dict[str, Any], who: str = "disp_w", event: EventRead | None = None
) -> EventRead:
    """A case filed Monday 10:00 (to PS-W by the police area), returned by `who` at 10:20."""
    case = event or file(city)
    return do(city, who, case, "return", MONDAY_10 + timedelta(minutes=20), reason="不属于本辖区")


def disputed(city: dict[str, Any]) -> EventRead:
    """Returned by PS-W, accepted (to PS-E), returned by PS-E: a dispute between two stations."""
    first = returned(city)
    moved = do(city, "command_staff", first, "accept-return", MONDAY_10 + timedelta(minutes=30))
    assert unit_code(moved) == "PS-E"
    return do(city, "disp_e", moved, "return", MONDAY_10 + AN_HOUR, reason="事发地不在本所辖区")


# -- accept ----------------------------------------------------------------------------------


def test_an_accepted_return_is_redispatched_by_the_rules_never_to_the_unit_that_returned_it(city):
    back = returned(city)
    assert back.status is EventStatus.RETURNED and back.unit is None
    accepted = do(city, "command_staff", back, "accept-return", MONDAY_10 + timedelta(minutes=30))
    # PS-W's area covers the spot; with PS-W excluded the nearest police station takes it.
    assert accepted.status is EventStatus.DISPATCHED and unit_code(accepted) == "PS-E"
    assert accepted.dispatch is not None
    assert accepted.dispatch["excluded_units"] == [city["police_w"].id]
    step = accepted.steps[-1]
    assert (step.action, step.data["returned_by_unit_id"]) == (
        "accept-return",
        city["police_w"].id,
    )
    # The new unit gets the case; the unit whose return it was hears that it is off its books.
    told = notices(city, accepted, "accept-return")
    assert [u for u, _ in told] == ["PS-E", "PS-W"]
    assert [p.get("return_accepted") for _, p in told] == [None, True]


def test_accepting_a_return_to_a_unit_named_refuses_the_unit_that_returned_it(city):
    back = returned(city)
    with pytest.raises(InvalidReport, match=r"returned event .*reject-return"):
        do(city, "command_staff", back, "accept-return", MONDAY_10, unit_id=city["police_w"].id)
    sent = do(city, "command_staff", back, "accept-return", MONDAY_10, unit_id=city["fire"].id)
    assert unit_code(sent) == "FS-1" and sent.status is EventStatus.DISPATCHED


def test_redispatch_of_a_returned_case_is_the_same_review_as_accept_return(city):
    back = returned(city)
    with pytest.raises(InvalidReport, match="returned event"):
        do(city, "command_staff", back, "redispatch", MONDAY_10, unit_id=city["police_w"].id)
    again = do(city, "command_staff", back, "redispatch", MONDAY_10 + timedelta(minutes=30))
    assert unit_code(again) == "PS-E"
    assert again.steps[-1].data["returned_by_unit_id"] == city["police_w"].id


# -- reject ----------------------------------------------------------------------------------


def test_a_rejected_return_goes_back_to_the_unit_with_the_ruling_and_a_fresh_sign_clock(city):
    back = returned(city)
    with pytest.raises(InvalidReport, match="rejecting a return needs the ruling"):
        do(city, "command_staff", back, "reject-return", TUESDAY.replace(hour=9))
    ruling = "经核实事发地在贵所辖区，请签收办理"
    again = do(city, "command_staff", back, "reject-return", TUESDAY.replace(hour=9), reason=ruling)
    assert again.status is EventStatus.DISPATCHED and unit_code(again) == "PS-W"
    step = again.steps[-1]
    assert (step.action, step.note, step.data["returned_by_unit_id"]) == (
        "reject-return",
        ruling,
        city["police_w"].id,
    )
    # 0101 可疑人员: sign for within 1 working hour; Tuesday 09:00 + 1h = 10:00 (office hours).
    assert again.stage is Stage.SIGN
    assert again.stage_deadline == TUESDAY.replace(hour=10)
    stages = (
        city["session"]
        .execute(
            select(EventStage.started_at, EventStage.ended_at)
            .where(EventStage.event_id == again.id, EventStage.stage == Stage.SIGN)
            .order_by(EventStage.id)
        )
        .all()
    )
    assert stages == [
        (MONDAY_10, MONDAY_10 + timedelta(minutes=20)),
        (TUESDAY.replace(hour=9), None),
    ]
    told = notices(city, again, "reject-return")
    assert [(u, p["ruling"]) for u, p in told] == [("PS-W", ruling)]
    signed = do(city, "disp_w", again, "sign", TUESDAY.replace(hour=9, minute=30))
    assert signed.status is EventStatus.SIGNED


# -- who may review ---------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["accept-return", "reject-return", "rule"])
def test_a_units_dispatcher_may_not_review_a_return_the_command_centre_may(city, action):
    back = disputed(city)
    with pytest.raises(Forbidden, match="may not"):
        do(
            city,
            "disp_w",
            back,
            action,
            TUESDAY.replace(hour=9),
            reason="x",
            unit_id=city["fire"].id,
        )
    done = do(
        city,
        "command_staff",
        back,
        action,
        TUESDAY.replace(hour=9),
        reason="依职责裁定",
        unit_id=city["fire"].id if action != "reject-return" else None,
    )
    assert done.status is EventStatus.DISPATCHED


def test_command_staff_of_another_area_may_not_review_the_return(city):
    add_person(city["session"], "cc.wjg", StaffRole.COMMAND, area="420503000000")
    city["other_centre"] = add_person(
        city["session"], "cc.wjg2", StaffRole.COMMAND, area="420503000000"
    )
    back = returned(city)
    with pytest.raises(Forbidden, match="outside your area"):
        do(city, "other_centre", back, "accept-return", MONDAY_10 + AN_HOUR)


# -- disputes ---------------------------------------------------------------------------------


def test_a_return_by_one_unit_is_no_dispute_and_cannot_be_ruled(city):
    back = returned(city)
    row = city["session"].get(Event, back.id)
    assert "rule" not in actions_for(city["session"], actor=city["command_staff"], event=row)
    with pytest.raises(ActionNotAllowed, match="not a dispute"):
        do(
            city,
            "command_staff",
            back,
            "rule",
            MONDAY_10 + AN_HOUR,
            unit_id=city["police_w"].id,
            reason="x",
        )
    [queued] = review_queue(city["session"], actor=city["command_staff"])
    assert (queued.code, queued.disputed, queued.awaiting_ruling) == (back.code, False, False)
    assert [(r.unit.code if r.unit else None, r.reason) for r in queued.returns] == [
        ("PS-W", "不属于本辖区")
    ]


def test_two_units_returning_a_case_is_a_dispute_ruled_bindingly_and_made_a_dispatch_rule(city):
    session = city["session"]
    # An admin's rule at position 0 for every 01 case: the ruling's rule must still come first.
    older = save_rule(
        session,
        actor=city["admin"],
        data=RuleInput(
            position=0, name="治安类归派出所", category_code="01", lead=DepartmentType.POLICE
        ),
    )
    case = disputed(city)
    row = session.get(Event, case.id)
    assert case.disputed is True
    assert "rule" in actions_for(session, actor=city["command_staff"], event=row)
    [queued] = review_queue(session, actor=city["command_staff"])
    assert queued.disputed and queued.awaiting_ruling
    assert [(r.unit.code if r.unit else None, r.reason) for r in queued.returns] == [
        ("PS-W", "不属于本辖区"),
        ("PS-E", "事发地不在本所辖区"),
    ]
    at = TUESDAY.replace(hour=9)
    with pytest.raises(InvalidReport, match="裁定需写明理由"):
        do(city, "command_staff", case, "rule", at, unit_id=city["police_w"].id)
    with pytest.raises(InvalidReport, match="裁定需指定主办单位"):
        do(city, "command_staff", case, "rule", at, reason="事发地在西站辖区")
    reasoning = "事发地位于西站辖区，依职责由西站主办"
    ruled = do(
        city, "command_staff", case, "rule", at, unit_id=city["police_w"].id, reason=reasoning
    )
    assert ruled.status is EventStatus.DISPATCHED and unit_code(ruled) == "PS-W"
    assert ruled.stage is Stage.SIGN and ruled.stage_deadline == at + AN_HOUR
    assert ruled.steps[-1].data["unit_ids"] == [city["police_w"].id, city["police_e"].id]
    stored = session.execute(
        text(
            "SELECT category_code, community_code, street_code, grid_code, unit_ids, unit_id,"
            " reasoning, ruled_by, ruled_at, dispatch_rule_id, id FROM dispute_ruling"
            " WHERE event_id = :e"
        ),
        {"e": case.id},
    ).all()
    assert [tuple(r[:10]) for r in stored] == [
        (
            "0101",
            COMMUNITY,
            COMMUNITY[:9] + "000",
            COMMUNITY + "002",
            [city["police_w"].id, city["police_e"].id],
            city["police_w"].id,
            reasoning,
            city["command_staff"].staff_id,
            at,
            None,
        )
    ]
    ruling_id = stored[0][10]
    # Both sides are told: the lead by its dispatch, the other station by the ruling.
    assert [(u, p.get("ruling")) for u, p in notices(city, ruled, "rule")] == [
        ("PS-W", reasoning),
        ("PS-E", reasoning),
    ]
    # The ruling binds: PS-W cannot return the case again, and is not offered to.
    row = session.get(Event, case.id)
    assert "return" not in actions_for(session, actor=city["disp_w"], event=row)
    with pytest.raises(ActionNotAllowed, match=f"裁定第{ruling_id}号") as refused:
        do(city, "disp_w", case, "return", at + timedelta(minutes=10), reason="仍不属于本所")
    assert reasoning in str(refused.value) and refused.value.allowed == ["sign"]
    assert review_queue(session, actor=city["command_staff"]) == []
    [listed] = list_rulings(session, actor=city["command_staff"])
    assert (listed.id, listed.event_code, listed.unit.code) == (ruling_id, case.code, "PS-W")
    assert [u.code for u in listed.units] == ["PS-W", "PS-E"]

    made = make_dispatch_rule(
        session, actor=city["command_staff"], ruling_id=ruling_id, data=RuleFromRuling()
    )
    rule = session.get(DispatchRule, made.rule.id)
    assert (rule.category_code, rule.area_prefix, rule.fixed_unit_id, rule.lead) == (
        "0101",
        COMMUNITY,
        city["police_w"].id,
        DepartmentType.POLICE,
    )
    positions = dict(session.execute(select(DispatchRule.id, DispatchRule.position)).all())
    assert positions == {rule.id: 0, older.id: 1}
    assert made.ruling.dispatch_rule_id == rule.id
    with pytest.raises(Conflict, match=f"already made dispatch rule {rule.id}"):
        make_dispatch_rule(
            session, actor=city["command_staff"], ruling_id=ruling_id, data=RuleFromRuling()
        )

    # A fresh case of 0101 inside PS-E's police area: the ruling's rule sends it to PS-W.
    fresh = file(city, lon=EAST_OF_PS_W[0], lat=EAST_OF_PS_W[1], now=at + AN_HOUR)
    assert unit_code(fresh) == "PS-W"
    assert fresh.dispatch is not None and fresh.dispatch["rule_id"] == rule.id
    # Another category in the same place still goes by its own routing (PS-E's area).
    other = file(city, category="0102", lon=EAST_OF_PS_W[0], lat=EAST_OF_PS_W[1], now=at + AN_HOUR)
    assert unit_code(other) == "PS-E" and other.dispatch["rule_id"] == older.id


def test_a_dispatch_rule_from_a_ruling_stays_inside_the_area_of_whoever_makes_it(city):
    session = city["session"]
    case = disputed(city)
    session.get(Event, case.id).tier = Tier.COMMUNITY  # a case the community's centre holds
    session.flush()
    community = add_person(session, "community.cc", StaffRole.COMMAND, area=COMMUNITY)
    ruled = do(
        city,
        "command_staff",
        case,
        "rule",
        TUESDAY.replace(hour=9),
        unit_id=city["police_w"].id,
        reason="依辖区",
    )
    [ruling] = list_rulings(session, actor=community)
    assert ruling.event_code == ruled.code
    for wider in ("street", "district"):
        with pytest.raises(Forbidden, match="reaches beyond your area"):
            make_dispatch_rule(
                session, actor=community, ruling_id=ruling.id, data=RuleFromRuling(area=wider)
            )
    with pytest.raises(RoleRefused, match="may not make a dispatch rule"):
        make_dispatch_rule(
            session, actor=city["disp_w"], ruling_id=ruling.id, data=RuleFromRuling()
        )
    made = make_dispatch_rule(session, actor=community, ruling_id=ruling.id, data=RuleFromRuling())
    assert (made.rule.area_prefix, made.rule.fixed_unit_id) == (COMMUNITY, city["police_w"].id)
    assert made.ruling.district_code == DISTRICT


# -- KPIs: 退单率, 派遣准确率, 争议数 --------------------------------------------------------------

INDEPENDENT_REVIEW_FIGURES = text(
    """
    WITH s AS (
        SELECT event_id, id, at, unit_id, action, to_status,
               lead(action) OVER w AS next_action, lead(unit_id) OVER w AS next_unit
        FROM event_step WHERE event_id = ANY(:ids)
        WINDOW w AS (PARTITION BY event_id ORDER BY at, id)
    )
    SELECT unit_id,
           count(*) FILTER (WHERE to_status = 'dispatched'),
           count(*) FILTER (WHERE action = 'return'),
           count(*) FILTER (WHERE action = 'return' AND (next_action IN ('accept-return',
               'redispatch') OR (next_action = 'rule' AND next_unit <> unit_id))
               AND NOT EXISTS (SELECT 1 FROM event_step r WHERE r.event_id = s.event_id
                   AND r.action = 'rule' AND r.unit_id = s.unit_id AND (r.at, r.id) > (s.at, s.id)))
    FROM s WHERE unit_id IS NOT NULL GROUP BY unit_id
    """
)


def test_review_kpis_per_unit_match_hand_counts_and_independent_sql(city):
    session = city["session"]
    at = TUESDAY.replace(hour=9)
    # A: PS-W returns (accepted → PS-E), PS-E returns: disputed, ruled to PS-W.
    a = disputed(city)
    do(city, "command_staff", a, "rule", at, unit_id=city["police_w"].id, reason="依辖区裁定")
    # B: PS-W returns, rejected back to PS-W.
    b = returned(city)
    do(city, "command_staff", b, "reject-return", at, reason="属本所辖区")
    # C: dispatched to PS-W and signed for.
    c = file(city)
    do(city, "disp_w", c, "sign", MONDAY_10 + timedelta(minutes=5))
    # D: PS-W returns, re-dispatched (the synonym of accept-return) to the fire station.
    d = returned(city)
    do(city, "command_staff", d, "redispatch", at, unit_id=city["fire"].id)
    start, end = MONDAY_10 - timedelta(days=1), MONDAY_10 + timedelta(days=1)

    figures = review_kpis(session, actor=city["command_staff"], start=start, end=end)
    by_unit = {
        r.name: (r.dispatched, r.returns, r.accepted_returns, r.disputes) for r in figures.rows
    }
    w, e, f = city["police_w"], city["police_e"], city["fire"]
    # By hand: PS-W was sent A (twice: dispatch, rule), B (twice: dispatch, reject), C and D;
    # it returned A, B, D, of which D (redispatch) was accepted; A's acceptance was overruled
    # by the ruling that sent A back to PS-W. PS-E's return of A was accepted by that ruling.
    assert by_unit == {w.name: (6, 3, 1, 1), e.name: (1, 1, 1, 1), f.name: (1, 0, 0, 0)}
    independent = {
        unit: (dispatched, returns, accepted)
        for unit, dispatched, returns, accepted in session.execute(
            INDEPENDENT_REVIEW_FIGURES, {"ids": [a.id, b.id, c.id, d.id]}
        )
    }
    assert {int(r.key): (r.dispatched, r.returns, r.accepted_returns) for r in figures.rows} == (
        independent
    )
    row_w = next(r for r in figures.rows if r.key == str(w.id))
    assert row_w.return_rate == pytest.approx(3 / 6)
    assert row_w.dispatch_accuracy == pytest.approx(1 - 1 / 6)
    assert (figures.total.dispatched, figures.total.accepted_returns, figures.total.disputes) == (
        8,
        2,
        1,
    )
    # A unit's dispatcher sees its own row only; nothing reported in the period, no rows.
    mine = review_kpis(session, actor=city["disp_e"], start=start, end=end)
    assert [(r.name, r.returns, r.disputes) for r in mine.rows] == [(e.name, 1, 1)]
    later = review_kpis(session, actor=city["command_staff"], start=end, end=end + AN_HOUR)
    assert (
        later.rows == [] and later.total.dispatched == 0 and later.total.dispatch_accuracy is None
    )


def test_a_ruling_binds_the_unit_it_names_and_no_other(city):
    case = disputed(city)
    at = TUESDAY.replace(hour=9)
    do(city, "command_staff", case, "rule", at, unit_id=city["police_w"].id, reason="依辖区裁定")
    # The centre may still re-route the case; the station it goes to may return it.
    moved = do(city, "command_staff", case, "redispatch", at + AN_HOUR, unit_id=city["fire"].id)
    assert unit_code(moved) == "FS-1"
    back = do(city, "disp_fire", case, "return", at + 2 * AN_HOUR, reason="不属消防")
    assert back.status is EventStatus.RETURNED
    # Three units have returned it since the ruling: a dispute awaiting a ruling again.
    [queued] = review_queue(city["session"], actor=city["command_staff"])
    assert (queued.disputed, queued.awaiting_ruling) == (True, True)
