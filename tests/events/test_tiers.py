"""Tiers (分级流转) and 立案 by judgement: who registers, refuses, escalates, delegates, resolves
and dispatches a case held at the community, street, district or city tier; the 立案 and 派遣
clocks; the dispatch proposal and a dispatcher's own choice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from events.actions import actions_for
from events.calendar import Light
from events.catalog import Tier
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport
from events.models import (
    AppealType,
    Event,
    EventSource,
    EventStage,
    EventStatus,
    EventStep,
    Outbox,
    Stage,
)
from events.query import event_detail, list_events
from events.schemas import EventFilter
from events.service import read_event
from events.tiers import dispatch_proposal
from events.workflow import TRANSITIONS
from people.models import StaffRole
from tests.events.workflow_city import (
    MONDAY_10,
    SPOT,
    do,
    file,
    photo,
    unit_code,
)

TIERS = [Tier.COMMUNITY, Tier.STREET, Tier.DISTRICT, Tier.CITY]
STAFF_OF_TIER = {
    Tier.COMMUNITY: "community_staff",
    Tier.STREET: "street_staff",
    Tier.DISTRICT: "command_staff",
    Tier.CITY: "city_staff",
}
DISPUTE = "0302"  # 邻里纠纷: starts at the community, waits for 立案 even from a grid worker


def pending(tiers: dict[str, Any], held: Tier | None = None, **fields: Any) -> Any:
    """A grid worker's dispute, pending at the community (or moved to `held` for the test)."""
    event = file(tiers, category=DISPUTE, **fields)
    if held is not None:
        row = tiers["session"].get(Event, event.id)
        row.tier = held
        tiers["session"].flush()
    return event


def steps_of(tiers: dict[str, Any], event: Any) -> int:
    return tiers["session"].scalar(select(func.count()).where(EventStep.event_id == event.id))


# -- 立案 by judgement ---------------------------------------------------------------------------


def test_a_grid_workers_dispute_waits_at_the_community_on_the_register_clock(tiers):
    event = pending(tiers)
    assert event.status is EventStatus.PENDING and event.tier is Tier.COMMUNITY
    assert event.unit is None and event.stage is Stage.REGISTER
    # Monday 10:00 + 2 working hours (REGISTER_LIMIT) = 12:00, the morning's end.
    assert event.stage_deadline == MONDAY_10.replace(hour=12)
    assert [(s.action, s.to_status) for s in event.steps] == [("report", EventStatus.PENDING)]


def test_a_grid_workers_report_of_an_auto_register_category_is_dispatched_as_before(tiers):
    event = file(tiers, category="0101")  # 可疑人员: district, auto_register
    assert event.status is EventStatus.DISPATCHED and unit_code(event) == "PS-W"
    assert event.tier is Tier.DISTRICT and event.stage is Stage.SIGN


def test_an_auto_registered_case_starts_at_its_categorys_tier(tiers):
    tiers["command"].active = False  # no unit for 暴露垃圾: waits for 派遣 at the street
    event = file(tiers, category="0601")
    assert event.status is EventStatus.REGISTERED and event.tier is Tier.STREET
    assert event.stage is Stage.DISPATCH


def test_an_inspectors_report_of_an_auto_register_category_still_waits(tiers):
    event = file(tiers, category="0101", by="inspector", source=EventSource.INSPECTION)
    assert event.status is EventStatus.PENDING and event.tier is Tier.DISTRICT


def test_an_urgent_hotline_case_is_never_held_for_judgement(tiers):
    event = file(
        tiers,
        category="1101",  # 火灾: urgent, no on-site check
        by="command_staff",
        source=EventSource.HOTLINE,
        appeal_type=AppealType.HELP,
    )
    assert event.status is EventStatus.DISPATCHED and unit_code(event) == "FS-1"


def test_register_sends_the_case_to_its_start_tier_and_starts_the_dispatch_clock(tiers):
    event = pending(tiers)
    at = MONDAY_10.replace(hour=14, minute=30)
    registered = do(tiers, "community_staff", event, "register", at)
    assert registered.status is EventStatus.REGISTERED and registered.tier is Tier.COMMUNITY
    assert registered.stage is Stage.DISPATCH
    assert registered.stage_deadline == at.replace(hour=15, minute=30)  # DISPATCH_LIMIT 1h
    last = registered.steps[-1]
    assert (last.action, last.unit, last.data["tier"]) == (
        "register",
        "测试社区综治工作站",
        "community",
    )
    register_stage = registered.stages[0]
    assert (register_stage.stage, register_stage.on_time) == (Stage.REGISTER, False)  # 14:30>12:00


def test_register_goes_to_the_nearest_tier_above_with_a_centre(tiers):
    tiers["community_centre"].active = False
    first = do(tiers, "command_staff", pending(tiers), "register", MONDAY_10)
    assert first.tier is Tier.STREET and first.steps[-1].unit == "西陵街道综治中心"
    tiers["street_centre"].active = False
    second = do(tiers, "command_staff", pending(tiers), "register", MONDAY_10)
    assert second.tier is Tier.DISTRICT and second.steps[-1].unit == tiers["command"].name


def test_refuse_needs_a_reason_and_the_reporter_reads_it(tiers):
    event = pending(tiers)
    before = steps_of(tiers, event)
    with pytest.raises(InvalidReport, match="reason"):
        do(tiers, "community_staff", event, "refuse", MONDAY_10)
    assert steps_of(tiers, event) == before
    refused = do(
        tiers, "community_staff", event, "refuse", MONDAY_10, reason="双方已自行和解，无需立案"
    )
    assert refused.status is EventStatus.REFUSED and refused.stage is None
    session = tiers["session"]
    seen = event_detail(session, actor=tiers["worker"], code=event.code)
    assert seen.reason == "双方已自行和解，无需立案" and seen.status_label == "不予立案"
    (row,) = list_events(session, actor=tiers["worker"], filters=EventFilter(mine=True)).items
    assert (row.status, row.reason) == (EventStatus.REFUSED, "双方已自行和解，无需立案")
    assert (
        actions_for(session, actor=tiers["community_staff"], event=session.get(Event, event.id))
        == []
    )
    with pytest.raises(ActionNotAllowed, match="from refused the possible actions are: none"):
        do(tiers, "community_staff", event, "register", MONDAY_10)


@pytest.mark.parametrize(
    ("at", "light"),
    [
        (MONDAY_10.replace(hour=11, minute=36), Light.GREEN),  # 96 of 120 minutes: 80 %
        (MONDAY_10.replace(hour=11, minute=36, second=1), Light.YELLOW),
        (MONDAY_10.replace(hour=12), Light.YELLOW),  # at the deadline
        (MONDAY_10.replace(hour=12, second=1), Light.RED),  # one second past
    ],
)
def test_register_clock_lights(tiers, at, light):
    event = pending(tiers)
    row = tiers["session"].get(Event, event.id)
    assert read_event(tiers["session"], event=row, now=at).light is light
    red = list_events(
        tiers["session"], actor=tiers["command_staff"], filters=EventFilter(light=light), now=at
    )
    assert [e.code for e in red.items] == [event.code]


@pytest.mark.parametrize(
    ("at", "light"),
    [
        (MONDAY_10.replace(hour=15, minute=30), Light.YELLOW),  # at the deadline
        (MONDAY_10.replace(hour=15, minute=30, second=1), Light.RED),  # one second past
    ],
)
def test_dispatch_clock_lights(tiers, at, light):
    event = pending(tiers)
    do(tiers, "community_staff", event, "register", MONDAY_10.replace(hour=14, minute=30))
    row = tiers["session"].get(Event, event.id)
    assert row.stage is Stage.DISPATCH
    assert read_event(tiers["session"], event=row, now=at).light is light
    late = list_events(
        tiers["session"], actor=tiers["street_staff"], filters=EventFilter(overdue=True), now=at
    )
    assert [e.code for e in late.items] == ([event.code] if light is Light.RED else [])


# -- 上报 and 下派 -------------------------------------------------------------------------------


def test_escalate_climbs_every_tier_with_a_reason_on_a_fresh_clock(tiers):
    event = pending(tiers)
    path = []
    for hour, who in ((11, "community_staff"), (15, "street_staff"), (16, "command_staff")):
        at = MONDAY_10.replace(hour=hour)
        with pytest.raises(InvalidReport, match="reason"):
            do(tiers, who, event, "escalate", at)
        moved = do(tiers, who, event, "escalate", at, reason="超出本级调处能力")
        assert moved.status is EventStatus.PENDING and moved.stage is Stage.REGISTER
        assert moved.stages[-1].started_at == at
        path.append((moved.steps[-1].data["from_tier"], moved.tier.value))
    assert path == [("community", "street"), ("street", "district"), ("district", "city")]
    with pytest.raises(ActionNotAllowed, match="no tier above"):
        do(tiers, "city_staff", event, "escalate", MONDAY_10.replace(hour=17), reason="再上报")
    row = tiers["session"].get(Event, event.id)
    assert "escalate" not in actions_for(tiers["session"], actor=tiers["city_staff"], event=row)


def test_register_keeps_the_case_at_the_tier_it_was_escalated_or_delegated_to(tiers):
    up = do(tiers, "community_staff", pending(tiers), "escalate", MONDAY_10, reason="超出社区能力")
    up = do(tiers, "street_staff", up, "escalate", MONDAY_10, reason="需区级部门联合调处")
    registered = do(tiers, "command_staff", up, "register", MONDAY_10)
    assert registered.tier is Tier.DISTRICT and registered.steps[-1].unit == tiers["command"].name
    down = do(
        tiers,
        "command_staff",
        pending(tiers, held=Tier.DISTRICT),
        "delegate",
        MONDAY_10,
        tier="street",
    )
    registered = do(tiers, "street_staff", down, "register", MONDAY_10)
    assert registered.tier is Tier.STREET and registered.steps[-1].unit == "西陵街道综治中心"


def test_escalate_skips_a_street_without_a_centre(tiers):
    tiers["street_centre"].active = False
    moved = do(tiers, "community_staff", pending(tiers), "escalate", MONDAY_10, reason="涉及多方")
    assert moved.tier is Tier.DISTRICT


def test_delegate_goes_down_to_any_lower_tier_with_a_centre_in_the_area(tiers):
    event = pending(tiers, held=Tier.CITY)
    with pytest.raises(InvalidReport, match="tiers below with a centre are: district, street"):
        do(tiers, "city_staff", event, "delegate", MONDAY_10)
    to_street = do(tiers, "city_staff", event, "delegate", MONDAY_10, tier="street")
    assert to_street.tier is Tier.STREET and to_street.steps[-1].unit == "西陵街道综治中心"
    with pytest.raises(InvalidReport, match="not below"):
        do(tiers, "street_staff", event, "delegate", MONDAY_10, tier="district")
    to_community = do(tiers, "street_staff", event, "delegate", MONDAY_10, tier="community")
    assert to_community.tier is Tier.COMMUNITY
    row = tiers["session"].get(Event, event.id)
    assert "delegate" not in actions_for(
        tiers["session"], actor=tiers["community_staff"], event=row
    )
    registered = do(tiers, "community_staff", event, "register", MONDAY_10)
    back_up = do(tiers, "community_staff", registered, "escalate", MONDAY_10, reason="需街道协调")
    assert back_up.status is EventStatus.REGISTERED and back_up.stage is Stage.DISPATCH
    down = do(tiers, "command_staff", back_up, "delegate", MONDAY_10, tier="community")
    assert down.tier is Tier.COMMUNITY


def test_delegate_to_a_tier_without_a_centre_is_refused(tiers):
    tiers["community_centre"].active = False
    event = pending(tiers, held=Tier.DISTRICT)
    with pytest.raises(InvalidReport, match="no community centre serves"):
        do(tiers, "command_staff", event, "delegate", MONDAY_10, tier="community")


# -- 就地解决 ------------------------------------------------------------------------------------


def test_the_community_resolves_a_case_itself_and_the_grid_worker_checks_it(tiers, tmp_path):
    event = do(tiers, "community_staff", pending(tiers), "register", MONDAY_10)
    with pytest.raises(InvalidReport, match="note"):
        do(tiers, "community_staff", event, "resolve", MONDAY_10)
    done = do(
        tiers, "community_staff", event, "resolve", MONDAY_10, note="调解员上门调解，双方签字"
    )
    assert done.status is EventStatus.HANDLED and unit_code(done) == "ZZ-C"
    assert done.stage is Stage.VERIFY
    checked = do(
        tiers,
        "worker",
        event,
        "verify",
        MONDAY_10 + timedelta(hours=1),
        photos=[photo()],
        photo_dir=tmp_path,
        lon=SPOT[0],
        lat=SPOT[1],
    )
    assert checked.status is EventStatus.VERIFIED and checked.stage is Stage.CLOSE


def test_a_failed_check_of_a_case_its_tier_resolved_goes_back_to_the_tier(tiers, tmp_path):
    event = do(tiers, "community_staff", pending(tiers), "register", MONDAY_10)
    do(tiers, "community_staff", event, "resolve", MONDAY_10, note="口头调解")
    back = do(
        tiers, "worker", event, "rework", MONDAY_10 + timedelta(hours=1), reason="双方仍在争吵"
    )
    # A centre has no dispatchers to sign and handle: the tier has it again, on its 派遣 clock.
    assert back.status is EventStatus.REGISTERED and back.tier is Tier.COMMUNITY
    assert back.unit is None and back.stage is Stage.DISPATCH
    session = tiers["session"]
    assert session.get(Event, event.id).rework_count == 1
    again = do(
        tiers,
        "community_staff",
        event,
        "resolve",
        MONDAY_10 + timedelta(hours=2),
        note="再次调解，签订协议",
    )
    assert again.status is EventStatus.HANDLED and unit_code(again) == "ZZ-C"


# -- the tier × action matrix ------------------------------------------------------------------

TIER_ACTIONS = ("register", "refuse", "escalate", "delegate", "resolve")


def _fields(action: str) -> dict[str, Any]:
    return {
        "refuse": {"reason": "不属于受理范围"},
        "escalate": {"reason": "超出本级能力"},
        "delegate": {"tier": "community"},
        "resolve": {"note": "本级已调解"},
    }.get(action, {})


@pytest.mark.parametrize("held", TIERS, ids=lambda t: f"held-{t.value}")
@pytest.mark.parametrize("acting", TIERS, ids=lambda t: f"by-{t.value}")
def test_tier_action_matrix(tiers, acting, held):
    """Each command action by staff of each tier on a case held at each tier: a lower tier is
    refused (403, naming both tiers); the holding tier and those above may, unless the action
    itself cannot (no tier above the city, none below the community: 409 / 422)."""
    session = tiers["session"]
    who = STAFF_OF_TIER[acting]
    for action in (*TIER_ACTIONS, "dispatch"):
        event = pending(tiers, held=held)
        if action == "dispatch":
            row = session.get(Event, event.id)
            row.status = EventStatus.REGISTERED
            session.flush()
        row = session.get(Event, event.id)
        offered = action in actions_for(session, actor=tiers[who], event=row)
        before = steps_of(tiers, event)
        if TIERS.index(acting) < TIERS.index(held):
            with pytest.raises(Forbidden) as refused:
                do(tiers, who, event, action, MONDAY_10, **_fields(action))
            assert f"held at the {held.value} tier" in str(refused.value), action
            assert f"your account is at the {acting.value} tier" in str(refused.value)
            assert not offered, action
            assert steps_of(tiers, event) == before
            continue
        if action == "escalate" and held is Tier.CITY:
            with pytest.raises(ActionNotAllowed, match="no tier above"):
                do(tiers, who, event, action, MONDAY_10, **_fields(action))
            assert not offered
            continue
        if action == "delegate" and held is Tier.COMMUNITY:
            with pytest.raises(InvalidReport, match="not below"):
                do(tiers, who, event, action, MONDAY_10, **_fields(action))
            assert not offered
            continue
        done = do(tiers, who, event, action, MONDAY_10, **_fields(action))
        assert offered, action
        assert steps_of(tiers, event) == before + 1, action
        expected = {
            "register": EventStatus.REGISTERED,
            "refuse": EventStatus.REFUSED,
            "escalate": EventStatus.PENDING,
            "delegate": EventStatus.PENDING,
            "resolve": EventStatus.HANDLED,
            "dispatch": EventStatus.DISPATCHED,
        }[action]
        assert done.status is expected, action


def test_staff_of_another_community_are_refused_by_area_before_tier(tiers):
    event = pending(tiers)
    with pytest.raises(Forbidden, match="outside your area"):
        do(tiers, "other_community", event, "register", MONDAY_10)


def test_tier_staff_see_their_tiers_queue(tiers):
    session = tiers["session"]
    at_community = pending(tiers)
    at_street = pending(tiers, held=Tier.STREET)
    at_district = file(tiers, category="0101")
    queue = list_events(
        session,
        actor=tiers["street_staff"],
        filters=EventFilter(tier="mine", status=[EventStatus.PENDING]),
    )
    assert [e.code for e in queue.items] == [at_street.code]
    assert queue.items[0].tier is Tier.STREET
    community = list_events(session, actor=tiers["community_staff"], filters=EventFilter())
    assert {e.code for e in community.items} == {
        at_community.code,
        at_street.code,
        at_district.code,
    }
    by_tier = list_events(session, actor=tiers["city_staff"], filters=EventFilter(tier="district"))
    assert [e.code for e in by_tier.items] == [at_district.code]
    with pytest.raises(InvalidReport, match="tier=mine is for command staff"):
        list_events(session, actor=tiers["worker"], filters=EventFilter(tier="mine"))


# -- 派遣 with the proposal ----------------------------------------------------------------------


def test_the_dispatch_proposal_explains_and_changes_nothing(tiers):
    session = tiers["session"]
    event = do(
        tiers,
        "command_staff",
        file(tiers, category="0101", by="inspector", source=EventSource.INSPECTION),
        "register",
        MONDAY_10,
    )
    steps = steps_of(tiers, event)
    outbox = session.scalar(select(func.count()).select_from(Outbox))
    stages = session.scalar(select(func.count()).where(EventStage.event_id == event.id))
    proposal = dispatch_proposal(session, actor=tiers["command_staff"], code=event.code)
    assert proposal.unit is not None and proposal.unit.code == "PS-W"
    assert "jurisdiction covers the location" in proposal.how
    assert "no dispatch rule matched" in proposal.rule and proposal.lead_type.value == "police"
    row = session.get(Event, event.id)
    assert row.status is EventStatus.REGISTERED and row.unit_id is None
    assert steps_of(tiers, event) == steps
    assert session.scalar(select(func.count()).select_from(Outbox)) == outbox
    assert session.scalar(select(func.count()).where(EventStage.event_id == event.id)) == stages
    with pytest.raises(Forbidden, match="held at the district tier"):
        dispatch_proposal(session, actor=tiers["street_staff"], code=event.code)


def test_dispatch_accepts_the_proposal_or_takes_another_unit_with_a_reason(tiers):
    session = tiers["session"]
    first = do(
        tiers,
        "command_staff",
        file(tiers, category="0101", by="inspector", source=EventSource.INSPECTION),
        "register",
        MONDAY_10,
    )
    accepted = do(tiers, "command_staff", first, "dispatch", MONDAY_10)
    assert unit_code(accepted) == "PS-W" and accepted.stage is Stage.SIGN
    second = do(
        tiers,
        "command_staff",
        file(tiers, category="0101", by="inspector", source=EventSource.INSPECTION),
        "register",
        MONDAY_10,
    )
    before = steps_of(tiers, second)
    east = tiers["police_e"].id
    with pytest.raises(InvalidReport, match="needs a reason"):
        do(tiers, "command_staff", second, "dispatch", MONDAY_10, unit_id=east)
    assert steps_of(tiers, second) == before
    chosen = do(
        tiers,
        "command_staff",
        second,
        "dispatch",
        MONDAY_10,
        unit_id=east,
        reason="嫌疑人常在东区出没，由东区派出所主办",
    )
    assert unit_code(chosen) == "PS-E"
    record = chosen.steps[-1].data["dispatch"]
    assert record["reason"] == "嫌疑人常在东区出没，由东区派出所主办"
    assert record["proposal"]["unit_id"] == tiers["police_w"].id
    same = do(
        tiers,
        "command_staff",
        file(tiers, category="0101", by="inspector", source=EventSource.INSPECTION),
        "register",
        MONDAY_10,
    )
    by_hand = do(tiers, "command_staff", same, "dispatch", MONDAY_10, unit_id=tiers["police_w"].id)
    assert unit_code(by_hand) == "PS-W"  # the proposal's own unit needs no reason
    stages = session.scalars(
        select(EventStage.stage).where(EventStage.event_id == second.id).order_by(EventStage.id)
    ).all()
    assert list(stages) == [Stage.REGISTER, Stage.DISPATCH, Stage.SIGN]


def test_a_street_dispatches_a_case_it_holds(tiers):
    tiers["command"].active = False
    event = file(tiers, category="0601")  # at the street, no unit found
    assert event.tier is Tier.STREET and event.status is EventStatus.REGISTERED
    sent = do(tiers, "street_staff", event, "dispatch", MONDAY_10, unit_id=tiers["fire"].id)
    assert sent.status is EventStatus.DISPATCHED and sent.tier is Tier.STREET
    with pytest.raises(Forbidden, match="held at the street tier"):
        do(tiers, "community_staff", sent, "suspend", MONDAY_10, reason="等待")


@pytest.mark.parametrize("status", [EventStatus.PENDING, EventStatus.REGISTERED], ids=str)
def test_every_command_action_of_a_case_held_above_is_refused_to_a_lower_tier(tiers, status):
    """Not only the tier actions: every action of the command centre possible from the case's
    state is refused (403) to staff below the holding tier, and passes the tier rule for the
    holding tier itself (it may still want fields: that is the action's own answer)."""
    session = tiers["session"]
    possible = [
        action
        for action, rule in TRANSITIONS.items()
        if status in rule.sources and StaffRole.COMMAND in rule.roles
    ]
    assert {"void", "transfer", "supervise"} <= set(possible)
    for action in possible:
        event = pending(tiers, held=Tier.DISTRICT)
        row = session.get(Event, event.id)
        row.status = status
        session.flush()
        with pytest.raises(Forbidden, match="held at the district tier"):
            do(tiers, "street_staff", event, action, MONDAY_10, reason="理由", note="说明")
        row.tier = Tier.STREET
        session.flush()
        try:
            do(tiers, "street_staff", event, action, MONDAY_10, reason="理由", note="说明")
        except Forbidden as refused:
            assert "tier" not in str(refused), action  # e.g. a transfer: district or city only
        except (InvalidReport, ActionNotAllowed):
            pass  # the action's own fields or preconditions
