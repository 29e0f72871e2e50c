"""Two districts in one deployment: units and dispatch stay inside each district, the city
level sees both, and a case moved across (跨区移交) goes on in the other district with its
history while the old one ends as transferred (已移交)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from events.admin import save_rule
from events.catalog import Tier
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport
from events.kpis import kpis
from events.models import Attachment, DispatchRule, Event, EventStatus, EventStep
from events.query import check_visible
from events.schemas import RuleInput
from events.service import get_event
from events.workflow import FINAL_STATES, OPEN_STATES
from tests.events.districts_city import WJG, WJG_GRID, WJG_SPOT, event_row
from tests.events.workflow_city import MONDAY_10, SPOT, do, file, photo, unit_code

LATER = MONDAY_10 + timedelta(hours=1)


# -- units and dispatch are per district -------------------------------------------------------


def test_an_event_in_wujiagang_goes_to_a_wujiagang_unit_though_a_xiling_area_covers_it(
    two_districts,
):
    wjg = file(two_districts, lon=WJG_SPOT[0], lat=WJG_SPOT[1], by="wjg_worker")
    assert (wjg.district_code, wjg.grid_code) == (WJG, WJG_GRID)
    assert unit_code(wjg) == "WJG-PS"  # PS-E's polygon covers the spot; it is 西陵's
    xiling = file(two_districts)
    assert (xiling.district_code, unit_code(xiling)) == ("420502", "PS-W")


def test_a_rule_naming_another_districts_unit_does_not_pull_cases_across(two_districts):
    session = two_districts["session"]
    session.add(
        DispatchRule(
            position=1,
            name="治安案件统一派东片派出所",
            category_code="01",
            lead="police",
            fixed_unit_id=two_districts["police_e"].id,
        )
    )
    session.flush()
    wjg = file(two_districts, lon=WJG_SPOT[0], lat=WJG_SPOT[1], by="wjg_worker")
    assert unit_code(wjg) == "WJG-PS"
    xiling = file(two_districts)
    assert unit_code(xiling) == "PS-E"  # in its own district the rule still holds


def test_a_rule_naming_a_unit_must_keep_to_that_units_district(two_districts):
    session, admin = two_districts["session"], two_districts["admin"]
    unit = two_districts["police_e"].id
    rule = {"position": 1, "name": "东片治安", "lead": "police", "fixed_unit_id": unit}
    with pytest.raises(InvalidReport, match="area_prefix"):
        save_rule(session, actor=admin, data=RuleInput(**rule))
    with pytest.raises(InvalidReport, match="420502"):
        save_rule(session, actor=admin, data=RuleInput(**rule, area_prefix=WJG))
    saved = save_rule(session, actor=admin, data=RuleInput(**rule, area_prefix="420502001"))
    assert saved.fixed_unit_id == unit


def test_the_command_centre_cannot_dispatch_by_hand_to_another_districts_unit(two_districts):
    event = do(two_districts, "command_staff", file(two_districts), "void", LATER, reason="重复")
    assert event.status is EventStatus.VOIDED
    returned = do(two_districts, "disp_w", file(two_districts), "return", LATER, reason="非本辖区")
    with pytest.raises(InvalidReport, match="跨区移交"):
        do(
            two_districts,
            "command_staff",
            returned,
            "redispatch",
            LATER,
            unit_id=two_districts["wjg_police"].id,
        )
    own = do(
        two_districts,
        "command_staff",
        returned,
        "redispatch",
        LATER,
        unit_id=two_districts["police_e"].id,
    )
    assert unit_code(own) == "PS-E"


# -- 跨区移交 ------------------------------------------------------------------------------------


def transferred(two_districts, tmp_path, by: str = "command_staff"):
    """A 西陵 case with a photo, signed for by PS-W, then transferred to 伍家岗 by `by`."""
    event = file(two_districts)
    event = do(two_districts, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=20))
    event = do(
        two_districts,
        "disp_w",
        event,
        "extend",
        MONDAY_10 + timedelta(minutes=30),
        reason="需要协调物业",
        extra_limit="4h",
        photos=[photo("red")],
        photo_dir=tmp_path,
    )
    old = do(
        two_districts,
        by,
        event,
        "transfer",
        LATER,
        to_district=WJG,
        reason="责任单位在伍家岗区",
    )
    return event, old


def test_a_transfer_files_a_new_case_in_the_other_district_with_the_history(
    two_districts, tmp_path
):
    before, old = transferred(two_districts, tmp_path)
    session = two_districts["session"]
    assert old.status is EventStatus.TRANSFERRED and old.status_label == "已移交"
    assert old.light is None and old.stage is None  # its clock has stopped
    last = old.steps[-1]
    assert last.action == "transfer" and last.to_status is EventStatus.TRANSFERRED
    new_code = last.data["transferred_to"]
    assert last.data["to_district"] == WJG and "责任单位在伍家岗区" in (last.note or "")

    new = get_event(session, code=new_code)
    assert new_code.startswith(WJG + "-") and new.district_code == WJG
    assert (
        new.description == before.description
        and new.reporter_id == event_row(two_districts, before.code).reporter_id
    )
    assert new.idempotency_key is None
    # The place is in 西陵, outside every 伍家岗 grid: the receiving command centre routes it.
    assert new.grid_code is None and new.locate_match == "outside"
    assert new.status is EventStatus.DISPATCHED
    assert new.unit_id == two_districts["wjg_command_centre"].id

    steps = session.scalars(
        select(EventStep).where(EventStep.event_id == new.id).order_by(EventStep.at, EventStep.id)
    ).all()
    carried = [s for s in steps if "carried_from" in s.data]
    assert [s.action for s in carried] == ["report", "dispatch", "sign", "extend"]
    assert [(s.at, s.actor_id, s.note) for s in carried] == [
        (s.at, s.actor_id, s.note)
        for s in session.scalars(
            select(EventStep).where(EventStep.event_id == before.id).order_by(EventStep.id)
        )
        if s.action != "transfer"
    ]
    assert all(s.data["carried_from"]["event"] == before.code for s in carried)
    arrived = steps[len(carried)]
    assert arrived.action == "transfer-in" and arrived.data["transferred_from"] == before.code
    assert arrived.at == LATER and arrived.actor_id == two_districts["command_staff"].staff_id
    assert steps[-1].action == "dispatch" and steps[-1].to_status is EventStatus.DISPATCHED

    photos = session.scalars(select(Attachment).where(Attachment.event_id == new.id)).all()
    old_photos = session.scalars(select(Attachment).where(Attachment.event_id == before.id)).all()
    assert [p.sha256 for p in photos] == [p.sha256 for p in old_photos] and len(photos) == 1
    assert session.get(EventStep, photos[0].step_id).action == "extend"
    assert session.get(EventStep, photos[0].step_id).event_id == new.id


def test_each_district_sees_its_half_of_a_transfer_and_the_city_sees_both(two_districts, tmp_path):
    before, old = transferred(two_districts, tmp_path)
    session = two_districts["session"]
    new = get_event(session, code=old.steps[-1].data["transferred_to"])
    old_row = event_row(two_districts, before.code)
    check_visible(session, actor=two_districts["command_staff"], event=old_row)
    check_visible(session, actor=two_districts["wjg_command"], event=new)
    with pytest.raises(Forbidden):
        check_visible(session, actor=two_districts["command_staff"], event=new)
    with pytest.raises(Forbidden):
        check_visible(session, actor=two_districts["wjg_command"], event=old_row)
    for actor in ("city_command",):
        check_visible(session, actor=two_districts[actor], event=old_row)
        check_visible(session, actor=two_districts[actor], event=new)


def test_a_transferred_case_has_ended_for_the_old_district(two_districts, tmp_path):
    _, old = transferred(two_districts, tmp_path)
    assert EventStatus.TRANSFERRED in FINAL_STATES and EventStatus.TRANSFERRED not in OPEN_STATES
    session = two_districts["session"]
    start, end = MONDAY_10 - timedelta(days=1), MONDAY_10 + timedelta(days=1)
    xiling = kpis(
        session, actor=two_districts["leader"], by="district", start=start, end=end, now=LATER
    )
    wjg = kpis(
        session, actor=two_districts["wjg_leader"], by="district", start=start, end=end, now=LATER
    )
    city = kpis(
        session, actor=two_districts["city_leader"], by="district", start=start, end=end, now=LATER
    )
    assert [(r.key, r.reported, r.registered, r.open) for r in xiling] == [("420502", 1, 0, 0)]
    assert [(r.key, r.reported, r.registered, r.open) for r in wjg] == [(WJG, 1, 1, 1)]
    assert sorted((r.key, r.open) for r in city) == [("420502", 0), (WJG, 1)]
    with pytest.raises(ActionNotAllowed):
        do(
            two_districts,
            "command_staff",
            old.code,
            "transfer",
            LATER,
            to_district=WJG,
            reason="再移交",
        )


def test_the_city_command_may_transfer_and_a_street_command_may_not(two_districts, tmp_path):
    _, old = transferred(two_districts, tmp_path, by="city_command")
    assert old.status is EventStatus.TRANSFERRED
    held_above = file(two_districts)  # at the district tier: a street may not act on it
    with pytest.raises(Forbidden, match="held at the district tier"):
        do(
            two_districts,
            "street_command",
            held_above,
            "transfer",
            LATER,
            to_district=WJG,
            reason="属伍家岗区",
        )
    at_street = file(two_districts)  # held by the street itself: still not for a transfer
    two_districts["session"].get(Event, at_street.id).tier = Tier.STREET
    with pytest.raises(Forbidden, match="区级或市级"):
        do(
            two_districts,
            "street_command",
            at_street,
            "transfer",
            LATER,
            to_district=WJG,
            reason="属伍家岗区",
        )


@pytest.mark.parametrize(
    ("who", "fields", "error", "words"),
    [
        ("command_staff", {"to_district": "420502"}, InvalidReport, "不能移交给本区"),
        ("command_staff", {"to_district": "420599"}, InvalidReport, "不存在"),
        ("command_staff", {"to_district": "4205"}, InvalidReport, "不存在"),
        ("command_staff", {}, InvalidReport, "to_district"),
        ("command_staff", {"to_district": WJG, "reason": None}, InvalidReport, "理由"),
        ("wjg_command", {"to_district": WJG}, Forbidden, "outside your area"),
        ("disp_w", {"to_district": WJG}, Forbidden, "transfer"),
    ],
)
def test_a_transfer_is_refused_with_a_sentence(two_districts, who, fields, error, words):
    event = file(two_districts)
    data = {"reason": "属伍家岗区", **fields}
    with pytest.raises(error, match=words):
        do(two_districts, who, event, "transfer", LATER, **data)
    assert event_row(two_districts, event.code).status is EventStatus.DISPATCHED


def test_a_transfer_of_a_case_in_the_receiving_districts_grid_lands_in_that_grid(two_districts):
    """Filed in 西陵 at the border, the place turns out to be 伍家岗's: it gets the grid there."""
    session = two_districts["session"]
    event = file(two_districts, lon=SPOT[0], lat=SPOT[1])
    row = event_row(two_districts, event.code)
    row.geom = f"SRID=4490;POINT({WJG_SPOT[0]} {WJG_SPOT[1]})"
    session.flush()
    old = do(
        two_districts,
        "command_staff",
        event,
        "transfer",
        LATER,
        to_district=WJG,
        reason="位置在伍家岗区",
    )
    new = get_event(session, code=old.steps[-1].data["transferred_to"])
    assert (new.grid_code, new.locate_match) == (WJG_GRID, "inside")
    assert new.unit_id == two_districts["wjg_police"].id
