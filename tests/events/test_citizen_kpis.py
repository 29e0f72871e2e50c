"""Citizen-service KPIs (受理量, 直办率, 按时答复率, 回访率, 满意率, 重办率): each equals a count
made with independent SQL over the tables, for a mix of cases in and out of scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from events.kpis import citizen_kpis
from events.map_stats import period_by_grid
from events.models import AppealType, EventSource
from gis.clock import CHINA_TZ
from tests.events.districts_city import WJG_SPOT, add_second_district
from tests.events.test_callbacks import (
    FRIDAY,
    THURSDAY,
    WEDNESDAY,
    at_reply,
    call_back,
    closed_case,
    reply,
)
from tests.events.workflow_city import EAST, MONDAY_10, WEST, do, file

START = datetime(2026, 11, 1, tzinfo=CHINA_TZ)
END = datetime(2026, 12, 1, tzinfo=CHINA_TZ)
NOW = FRIDAY.replace(hour=12)

COHORT = """
SELECT e.id, e.source FROM event e
WHERE e.reported_at >= :start AND e.reported_at < :end AND e.district_code = '420502'
"""


def independent(session: Any) -> dict[str, Any]:
    """Every count by hand-written SQL, over 西陵区's events reported in November."""
    params = {"start": START, "end": END, "now": NOW}
    citizen = "c.source IN ('hotline', 'mailbox', 'web_app', 'open311')"

    def one(sql: str) -> int:
        return int(session.execute(text(f"WITH c AS ({COHORT}) {sql}"), params).scalar_one())

    by_source = dict(
        session.execute(
            text(f"WITH c AS ({COHORT}) SELECT source::text, count(*) FROM c GROUP BY source"),
            params,
        ).all()
    )
    closed_once = (
        "EXISTS (SELECT 1 FROM event_step s WHERE s.event_id = c.id AND s.to_status = 'closed')"
    )
    return {
        "accepted_by_source": by_source,
        "citizen_accepted": one(f"SELECT count(*) FROM c WHERE {citizen}"),
        "direct_replies": one(
            f"SELECT count(*) FROM c WHERE {citizen} AND EXISTS (SELECT 1 FROM event_step s "
            "WHERE s.event_id = c.id AND s.action = 'direct-reply' AND s.to_status = 'closed')"
        ),
        "replies": one(
            "SELECT count(*) FROM c JOIN event_stage g ON g.event_id = c.id "
            "WHERE g.stage = 'reply' AND g.ended_at IS NOT NULL"
        ),
        "replies_on_time": one(
            "SELECT count(*) FROM c JOIN event_stage g ON g.event_id = c.id "
            "WHERE g.stage = 'reply' AND g.ended_at IS NOT NULL AND g.ended_at <= g.deadline"
        ),
        "callbacks_due": one(
            "SELECT count(*) FROM c JOIN callback b ON b.event_id = c.id "
            "WHERE b.ended_at IS NOT NULL OR b.due_at < :now"
        ),
        "callbacks_reached": one(
            "SELECT count(*) FROM c JOIN callback b ON b.event_id = c.id "
            "WHERE b.satisfaction IS NOT NULL"
        ),
        "satisfied": one(
            "SELECT count(*) FROM c JOIN callback b ON b.event_id = c.id "
            "WHERE b.satisfaction IN ('satisfied', 'fairly_satisfied')"
        ),
        "citizen_closed": one(f"SELECT count(*) FROM c WHERE {citizen} AND {closed_once}"),
        "reopened": one(
            f"SELECT count(*) FROM c WHERE {citizen} AND {closed_once} AND EXISTS (SELECT 1 "
            "FROM event_step s WHERE s.event_id = c.id AND s.action = 'reopen')"
        ),
    }


def test_citizen_kpis_equal_independent_counts(city):
    session = city["session"]
    add_second_district(session, city)
    satisfied = closed_case(city)
    call_back(city, satisfied, "satisfied", THURSDAY.replace(hour=9))
    late = at_reply(city)  # reply due Wednesday 17:30, given Thursday
    reply(city, late, THURSDAY.replace(hour=10))
    call_back(city, late, "dissatisfied", FRIDAY.replace(hour=9), "没人来过")
    unreached = closed_case(city)
    for hour in (9, 10, 11):
        call_back(city, unreached, "no_answer", THURSDAY.replace(hour=hour))
    fairly = closed_case(city)
    call_back(city, fairly, "fairly_satisfied", THURSDAY.replace(hour=9))
    closed_case(city)  # callback due Friday 17:30: not due yet at NOW
    file(city, now=MONDAY_10)  # a grid worker's case
    file(city, by="command_staff", source=EventSource.MAILBOX, now=MONDAY_10)  # not checked yet
    # A consultation answered at once (直办): closed by the operator, and called back too.
    direct = file(
        city,
        by="command_staff",
        source=EventSource.HOTLINE,
        appeal_type=AppealType.CONSULT,
        now=MONDAY_10,
    )
    do(
        city,
        "command_staff",
        direct,
        "direct-reply",
        MONDAY_10 + timedelta(minutes=5),
        reply="已告知办理流程",
        reply_channel="phone",
    )
    # Another district's hotline case is outside 西陵's scope.
    file(
        city,
        by="wjg_command",
        source=EventSource.HOTLINE,
        lon=WJG_SPOT[0],
        lat=WJG_SPOT[1],
        now=WEDNESDAY,
    )

    got = citizen_kpis(session, actor=city["command_staff"], start=START, end=END, now=NOW)
    expected = independent(session)
    assert got.model_dump(include=set(expected)) == expected
    # The mix really covers each indicator (the figures are not all zero or all equal).
    assert expected["accepted_by_source"] == {"grid_worker": 1, "hotline": 6, "mailbox": 1}
    assert (got.direct_replies, got.citizen_accepted) == (1, 7)
    assert (got.replies_on_time, got.replies) == (4, 5)
    assert (got.callbacks_reached, got.callbacks_due) == (3, 5)  # the 直办 one not yet made
    assert (got.satisfied, got.callbacks_reached) == (2, 3)
    assert (got.reopened, got.citizen_closed) == (1, 6)
    assert got.satisfaction_rate == 2 / 3 and got.reopen_rate == 1 / 6
    assert got.callback_rate == 3 / 5 and got.on_time_reply_rate == 4 / 5
    assert got.direct_reply_rate == 1 / 7

    city_wide = citizen_kpis(session, actor=city["city_command"], start=START, end=END, now=NOW)
    assert city_wide.citizen_accepted == 8
    nothing = citizen_kpis(session, actor=city["wjg_command"], start=START, end=END, now=NOW)
    assert nothing.citizen_accepted == 1 and nothing.callbacks_due == 0


def test_appeal_hot_spots_count_citizens_cases_per_grid_but_not_voided_ones(city):
    session = city["session"]
    for source in (EventSource.HOTLINE, EventSource.MAILBOX, EventSource.OPEN311):
        file(city, by="command_staff", source=source, now=MONDAY_10)  # grid EAST
    file(city, by="command_staff", source=EventSource.WEB_APP, lon=111.285, now=MONDAY_10)
    untrue = file(city, by="command_staff", source=EventSource.HOTLINE, now=MONDAY_10)
    do(city, "worker", untrue, "check", MONDAY_10, passed=False, reason="现场无此情况")
    file(city, now=MONDAY_10)  # a grid worker's case is no appeal
    counts = period_by_grid(
        session, actor=city["admin"], prefix="", start=START, end=MONDAY_10 + timedelta(hours=1)
    )
    expected = dict(
        session.execute(
            text(
                "SELECT grid_code, count(*) FILTER (WHERE source IN ('hotline', 'mailbox', "
                "'web_app', 'open311') AND status <> 'voided') FROM event GROUP BY grid_code"
            )
        ).all()
    )
    assert {code: c.citizen for code, c in counts.items()} == expected == {EAST: 3, WEST: 1}
