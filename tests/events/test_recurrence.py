"""Recurrence clusters (重复发生) and their 源头治理 tasks, against hand-placed events.

Events are placed with pyproj's geodesic `Geod.fwd` from the workflow city's SPOT, so the
distances the tests name (60 m, 95 m, 105 m …) come from outside the code under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyproj
import pytest
from sqlalchemy import func, select

from events import recurrence
from events.exceptions import ActionNotAllowed, Forbidden, NotFound
from events.models import Event, RecurrenceCluster, RecurrenceMember
from events.recurrence import ClusterClose, DetectionInput, Threshold
from events.weekly_report import recurring_clusters
from gis.clock import CHINA_TZ
from tests.events.workflow_city import MONDAY_10, SPOT, do, file

GEOD = pyproj.Geod(ellps="GRS80")
RUN = datetime(2026, 11, 30, 20, 0, tzinfo=CHINA_TZ)  # a week after MONDAY_10


def at(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    """The point `north_m` metres north and `east_m` east of SPOT (geodesic)."""
    lon, lat, _ = GEOD.fwd(SPOT[0], SPOT[1], 0, north_m)
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90, east_m)
    return lon, lat


def report(
    city: dict[str, Any], north_m: float, *, days_before_run: float = 3, category: str = "0101"
) -> str:
    """An event of `category` at `north_m` metres north of SPOT, reported that long before RUN."""
    lon, lat = at(north_m)
    return file(
        city, category=category, lon=lon, lat=lat, now=RUN - timedelta(days=days_before_run)
    ).code


def members(city: dict[str, Any], cluster_id: int) -> set[str]:
    """Codes of the events counted in a cluster."""
    session = city["session"]
    return set(
        session.scalars(
            select(Event.code)
            .join(RecurrenceMember, RecurrenceMember.event_id == Event.id)
            .where(RecurrenceMember.cluster_id == cluster_id)
        )
    )


def detect(city: dict[str, Any], until: datetime = RUN) -> recurrence.DetectionRun:
    return recurrence.detect(city["session"], district_code="420502", until=until, now=until)


def test_three_events_within_100_m_form_a_cluster_and_one_105_m_beyond_stays_out(city):
    a, b, c = report(city, 0), report(city, 60), report(city, 95)
    beyond = report(city, 95 + 105)  # 105 m from the nearest member, 200 m from the first
    run = detect(city)
    assert len(run.created) == 1
    assert members(city, run.created[0]) == {a, b, c}
    assert beyond not in members(city, run.created[0])


def test_two_events_together_and_a_third_at_95_m_cluster_but_at_105_m_do_not(city):
    report(city, 0), report(city, 0)
    report(city, 105)
    assert detect(city).created == []
    near = report(city, -95)  # 95 m south of the pair: within reach
    run = detect(city)
    assert len(run.created) == 1
    assert near in members(city, run.created[0])
    assert len(members(city, run.created[0])) == 3


def test_an_event_29_days_old_counts_and_one_31_days_old_does_not(city):
    report(city, 0, days_before_run=1)
    report(city, 30, days_before_run=2)
    report(city, 50, days_before_run=31)
    assert detect(city).created == []
    old = report(city, 50, days_before_run=29)
    run = detect(city)
    assert len(run.created) == 1
    assert old in members(city, run.created[0])


def test_a_different_category_is_not_joined(city):
    report(city, 0), report(city, 30)
    other = report(city, 60, category="0102")
    assert detect(city).created == []
    same = report(city, 60)
    run = detect(city)
    assert len(run.created) == 1
    assert other not in members(city, run.created[0])
    assert same in members(city, run.created[0])


def test_a_voided_event_does_not_count(city):
    report(city, 0), report(city, 30)
    voided = report(city, 60)
    do(city, "command_staff", voided, "void", RUN - timedelta(days=2), reason="不属实")
    assert detect(city).created == []


def test_a_category_threshold_overrides_the_default(city):
    session = city["session"]
    report(city, 0), report(city, 150)  # 150 m apart: two events, too far for the default
    assert detect(city).created == []
    recurrence.set_threshold(
        session,
        category_code="0101",
        threshold=Threshold(min_events=2, radius_m=200, window_days=30),
    )
    run = detect(city)
    assert len(run.created) == 1
    cluster = session.get(RecurrenceCluster, run.created[0])
    assert (cluster.min_events, cluster.radius_m) == (2, 200)
    # The other category stays on the default (3 events).
    report(city, 0, category="0102"), report(city, 10, category="0102")
    assert detect(city).created == []


def test_rerunning_is_idempotent_and_new_events_join_the_open_cluster(city):
    session = city["session"]
    first = {report(city, 0), report(city, 60), report(city, 95)}
    run = detect(city)
    (cluster_id,) = run.created
    again = detect(city)
    assert again.created == [] and again.extended == [] and again.events_linked == 0
    assert session.scalar(select(func.count()).select_from(RecurrenceCluster)) == 1
    # 90 m beyond the farthest member (185 m from the first): joins by a member, not the centroid.
    joiner = report(city, 185, days_before_run=1)
    # 90 m beyond that one: reachable only once the joiner is a member.
    chained = report(city, 275, days_before_run=1)
    far = report(city, 500, days_before_run=1)
    later = detect(city)
    assert later.created == [] and later.extended == [cluster_id]
    assert members(city, cluster_id) == first | {joiner, chained}
    assert far not in members(city, cluster_id)
    assert session.get(RecurrenceCluster, cluster_id).event_count == 5


def test_a_cluster_is_a_task_for_the_unit_covering_its_centroid_due_on_the_work_calendar(city):
    for north in (0, 60, 95):
        report(city, north)
    (cluster_id,) = detect(city).created
    (read,) = recurrence.list_clusters(city["session"], district_code="420502")
    assert read.id == cluster_id
    assert read.event_count == 3
    assert read.category_name == "可疑人员"
    assert read.lead_type == "police"
    assert read.lead_unit_name == city["police_w"].name  # PS-W's area covers SPOT
    assert read.task_status == "open"
    # 10 working days from Monday 2026-11-30 20:00 (after hours): counting starts Tuesday 12-01
    # (day 0, not counted); the 10th working day after it is Tuesday 12-15, due at 17:30.
    assert read.task_deadline == datetime(2026, 12, 15, 17, 30, tzinfo=CHINA_TZ)
    lon, lat = at(155 / 3)  # the mean of 0, 60 and 95 m north (planar, < 1 m off)
    assert abs(read.lon - lon) < 1e-5 and abs(read.lat - lat) < 1e-5
    # The farthest member from the centroid is the first: 51.7 m (the last is 43.3 m away).
    assert abs(read.spread_m - 155 / 3) < 0.5


def test_list_clusters_filters_by_period_and_status(city):
    for north in (0, 60, 95):
        report(city, north, days_before_run=5)
    detect(city)
    session = city["session"]
    before = RUN - timedelta(days=10)
    assert recurrence.list_clusters(session, district_code="420502", until=before) == []
    assert len(recurrence.list_clusters(session, district_code="420502", since=before)) == 1
    assert recurrence.list_clusters(session, district_code="420502", status="closed") == []
    assert recurrence.list_clusters(session, district_code="420503") == []


@pytest.fixture
def task(city: dict[str, Any]) -> int:
    for north in (0, 60, 95):
        report(city, north)
    (cluster_id,) = detect(city).created
    return cluster_id


REPORT = ClusterClose(report="在巷口加装了两盏路灯和一个监控探头，并与物业签订了巡逻责任书")


def test_the_lead_unit_accepts_and_closes_with_a_report(city, task):
    session = city["session"]
    accepted = recurrence.accept(session, actor=city["disp_w"], cluster_id=task, now=RUN)
    assert accepted.task_status == "accepted"
    closed = recurrence.close(session, actor=city["disp_w"], cluster_id=task, entry=REPORT, now=RUN)
    assert closed.task_status == "closed"
    assert closed.closing_report == REPORT.report
    detail = recurrence.get_cluster(session, actor=city["command_staff"], cluster_id=task)
    assert [t.what for t in detail.timeline][-2:] == ["牵头单位接收", "源头治理办结"]
    # A closed cluster takes no new events: three more start a new one.
    for north in (10, 20, 30):
        report(city, north, days_before_run=0.5)
    run = detect(city)
    assert run.extended == [] and len(run.created) == 1


def test_closing_twice_or_before_accepting_is_refused(city, task):
    session = city["session"]
    with pytest.raises(ActionNotAllowed, match="请先接收"):
        recurrence.close(session, actor=city["disp_w"], cluster_id=task, entry=REPORT)
    recurrence.accept(session, actor=city["disp_w"], cluster_id=task)
    with pytest.raises(ActionNotAllowed, match="不能再接收"):
        recurrence.accept(session, actor=city["disp_w"], cluster_id=task)
    recurrence.close(session, actor=city["disp_w"], cluster_id=task, entry=REPORT)
    with pytest.raises(ActionNotAllowed, match="已办结"):
        recurrence.close(session, actor=city["disp_w"], cluster_id=task, entry=REPORT)


@pytest.mark.parametrize("text", ["", "   ", "已处理", "x" * 14])
def test_a_short_closing_report_is_refused(text):
    with pytest.raises(ValueError, match="办结报告至少15个字"):
        ClusterClose(report=text)
    assert ClusterClose(report="x" * 15).report == "x" * 15


def test_only_the_lead_unit_acts_and_other_units_do_not_even_see_the_task(city, task):
    session = city["session"]
    with pytest.raises(NotFound):  # another police station
        recurrence.accept(session, actor=city["disp_e"], cluster_id=task)
    with pytest.raises(Forbidden, match="只有牵头单位"):  # sees it, is not the unit
        recurrence.accept(session, actor=city["command_staff"], cluster_id=task)
    with pytest.raises(Forbidden):
        recurrence.accept(session, actor=city["leader"], cluster_id=task)
    assert recurrence.accept(session, actor=city["disp_w"], cluster_id=task).task_status


def test_who_sees_which_clusters(city, task):
    session = city["session"]
    ids = {
        who: [c.id for c in recurrence.list_visible(session, actor=city[who])]
        for who in ("disp_w", "disp_e", "command_staff", "leader", "admin")
    }
    assert ids == {
        "disp_w": [task],
        "disp_e": [],
        "command_staff": [task],
        "leader": [task],
        "admin": [task],
    }
    with pytest.raises(Forbidden):
        recurrence.list_visible(session, actor=city["worker"])
    leader_view = recurrence.get_cluster(session, actor=city["leader"], cluster_id=task)
    assert leader_view.events == [] and leader_view.event_count == 3
    assert all(t.note is None for t in leader_view.timeline if t.what == "事件上报")
    assert [f["properties"]["kind"] for f in leader_view.geojson["features"]] == ["centroid"]
    full = recurrence.get_cluster(session, actor=city["disp_w"], cluster_id=task)
    assert len(full.events) == 3
    assert len(full.geojson["features"]) == 4


def test_only_the_command_centre_of_the_district_runs_detection(city):
    session = city["session"]
    entry = DetectionInput(district="420502", on=RUN.date())
    assert recurrence.run_for(session, actor=city["command_staff"], entry=entry).districts == [
        "420502"
    ]
    with pytest.raises(Forbidden):
        recurrence.run_for(session, actor=city["disp_w"], entry=entry)
    with pytest.raises(Forbidden):
        recurrence.run_for(
            session, actor=city["command_staff"], entry=DetectionInput(district="420503")
        )


def test_lead_type_follows_most_events_units_not_the_category(city):
    """Three 0102 events (police by category) that the fire brigade took (after re-routing)."""
    session = city["session"]
    codes = [report(city, n, category="0102") for n in (0, 20, 40)]
    session.execute(
        Event.__table__.update().where(Event.code.in_(codes)).values(unit_id=city["fire"].id)
    )
    (cluster_id,) = detect(city).created
    read = recurrence.list_clusters(session, district_code="420502")[0]
    assert read.id == cluster_id and read.lead_type == "fire"
    assert read.lead_unit_name == city["fire"].name  # no fire area covers it: nearest
    assert MONDAY_10 < RUN


def test_an_override_equal_to_the_default_still_clusters_its_category(city):
    recurrence.set_threshold(
        city["session"], category_code="0101", threshold=recurrence.default_threshold()
    )
    for north in (0, 60, 95):
        report(city, north)
    assert len(detect(city).created) == 1


def test_the_weekly_report_lists_the_clusters_with_events_in_its_week(city):
    filed = [report(city, north, days_before_run=d) for north, d in ((0, 3), (60, 2.5), (95, 2))]
    (cluster_id,) = detect(city).created
    session = city["session"]
    first, last = RUN - timedelta(days=3), RUN - timedelta(days=2)
    (line,) = recurring_clusters(
        session, district_code="420502", start=RUN - timedelta(days=7), end=RUN
    )
    assert (line.event_count, line.first_reported_at, line.last_reported_at) == (3, first, last)
    assert (line.task_status, line.overdue) == ("待接收", False)
    assert members(city, cluster_id) == set(filed)
    # A week that ended before the first of its events does not list it.
    assert recurring_clusters(session, district_code="420502", start=first - timedelta(days=7),
                              end=first) == []  # fmt: skip
