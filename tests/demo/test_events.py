"""Demo units and events: realistic jurisdictions, a living city's events, consistent loops."""

from __future__ import annotations

import time as clock
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from demo.city.seed import seed_demo_city
from demo.events.frame import VectorCalendar, load_event_frame
from demo.events.generate import generate_events
from demo.events.seed import seed_demo_events
from demo.tiers import seed_demo_tiers
from demo.units import (
    DEMO_DISPATCHERS,
    seed_demo_dispatchers,
    seed_demo_units,
    voronoi_areas,
)
from events.calendar import Limit, LimitUnit, WorkCalendar
from events.catalog import DepartmentType
from events.deadlines import due_at
from events.models import DepartmentUnit, Event, EventCategory, EventStage, EventStatus, EventStep
from events.reference import load_reference_data
from events.service import read_event
from events.workflow import FINAL_STATES, TRANSITIONS
from gis.clock import CHINA_TZ
from gis.partitions import sequence_part
from people.staff import authenticate

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)  # a Monday morning
DISTRICT = "420502"


@dataclass
class Seeded:
    session: Session
    units: int
    dispatchers: int
    events: int
    seconds: float


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Iterator[Seeded]:
    """The demo city, its units, dispatchers and events, seeded once into a transaction that
    the module's checks share and that is rolled back when the module is done."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        seed_demo_city(session)
        load_reference_data(session)
        units = seed_demo_units(session)
        dispatchers = seed_demo_dispatchers(session)
        started = clock.perf_counter()
        events = seed_demo_events(session, now=NOW)
        seconds = clock.perf_counter() - started
        yield Seeded(session, units, dispatchers, events, seconds)
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _rows(session: Session, sql: str, **params: Any) -> list[Any]:
    return list(session.execute(text(sql), params).all())


def _scalar(session: Session, sql: str, **params: Any) -> Any:
    return session.execute(text(sql), params).scalar_one()


# --------------------------------------------------------------------------- units


def test_police_areas_partition_the_district_without_overlaps(seeded: Seeded) -> None:
    s = seeded.session
    count, union_m2, district_m2, gap_m2 = _rows(
        s,
        "WITH p AS (SELECT geom FROM department_unit WHERE dept_type = 'police' "
        "AND district_code = :d), a AS (SELECT geom FROM admin_unit WHERE code = :d || '000000') "
        "SELECT (SELECT count(*) FROM p), "
        "(SELECT ST_Area(ST_Transform(ST_Union(geom), 4546)) FROM p), "
        "(SELECT ST_Area(ST_Transform(geom, 4546)) FROM a), "
        "(SELECT ST_Area(ST_Transform(ST_Difference(a.geom, (SELECT ST_Union(geom) FROM p)), "
        "4546)) FROM a)",
        d=DISTRICT,
    )[0]
    overlap_m2 = _scalar(
        s,
        "SELECT coalesce(sum(ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), 4546))), 0) "
        "FROM department_unit a JOIN department_unit b ON a.id < b.id "
        "AND ST_Intersects(a.geom, b.geom) "
        "WHERE a.dept_type = 'police' AND b.dept_type = 'police'",
    )
    assert count == 5
    assert overlap_m2 < 1.0
    assert gap_m2 < 1.0
    assert union_m2 == pytest.approx(district_m2, rel=1e-6)


def test_a_police_area_cuts_across_street_boundaries(seeded: Seeded) -> None:
    # (police station, street) pairs sharing more than 0.2 km² of ground
    pairs = _rows(
        seeded.session,
        "SELECT u.name, s.name FROM department_unit u JOIN admin_unit s "
        "ON s.level = 'street' AND ST_Intersects(u.geom, s.geom) "
        "WHERE u.dept_type = 'police' "
        "AND ST_Area(ST_Transform(ST_Intersection(u.geom, s.geom), 4546)) > 200000",
    )
    streets_per_station = Counter(station for station, _ in pairs)
    assert max(streets_per_station.values()) >= 2


def test_fire_areas_also_partition_the_district(seeded: Seeded) -> None:
    count, total_km2, district_km2 = _rows(
        seeded.session,
        "SELECT count(*), sum(ST_Area(ST_Transform(geom, 4546))) / 1e6, "
        "(SELECT ST_Area(ST_Transform(geom, 4546)) / 1e6 FROM admin_unit WHERE code = :a) "
        "FROM department_unit WHERE dept_type = 'fire' AND district_code = :d",
        a=DISTRICT + "000000",
        d=DISTRICT,
    )[0]
    assert count == 2
    assert total_km2 == pytest.approx(district_km2, rel=1e-6)


def test_each_street_has_one_civil_affairs_office_urban_squad_justice_office_and_street_office(
    seeded: Seeded,
) -> None:
    streets = _scalar(seeded.session, "SELECT count(*) FROM admin_unit WHERE level = 'street'")
    assert streets == 12  # 7 of 西陵区, 5 of 伍家岗区
    for kind in ("civil_affairs", "urban_management", "justice", "street_office"):
        per_street = _rows(
            seeded.session,
            "SELECT s.code, count(u.id) FROM admin_unit s LEFT JOIN department_unit u "
            "ON u.dept_type = CAST(:kind AS department_type) AND ST_Equals(u.geom, s.geom) "
            "WHERE s.level = 'street' GROUP BY s.code",
            kind=kind,
        )
        assert len(per_street) == streets
        assert {n for _, n in per_street} == {1}, kind


def test_every_department_type_has_a_unit_and_the_district_one_command_centre(
    seeded: Seeded,
) -> None:
    kinds = Counter(
        seeded.session.scalars(
            select(DepartmentUnit.dept_type).where(DepartmentUnit.district_code == DISTRICT)
        )
    )
    assert set(kinds) == set(DepartmentType)
    assert kinds[DepartmentType.COMMAND_CENTRE] == 1
    both = Counter(seeded.session.scalars(select(DepartmentUnit.district_code)))
    assert both[DISTRICT] == sum(kinds.values()) and set(both) == {DISTRICT, "420503"}
    assert seeded.units == sum(both.values())  # each district has its own units
    assert (
        _scalar(
            seeded.session,
            "SELECT count(*) FROM department_unit u JOIN department d ON d.id = u.department_id "
            "WHERE d.district_code <> u.district_code",
        )
        == 0
    )
    located = _scalar(
        seeded.session,
        "SELECT bool_and(location IS NOT NULL AND ST_Covers(geom, location) "
        "AND phone LIKE '0717-%' AND webhook_url IS NULL) FROM department_unit",
    )
    assert located


def test_voronoi_areas_follow_the_order_of_the_stations() -> None:
    import shapely

    square = shapely.box(0, 0, 2, 1)
    west, east = voronoi_areas([shapely.Point(0.2, 0.5), shapely.Point(1.8, 0.5)], square)
    assert west.contains(shapely.Point(0.1, 0.1)) and east.contains(shapely.Point(1.9, 0.9))
    assert west.area + east.area == pytest.approx(2.0)


def test_demo_dispatchers_log_in_and_belong_to_their_units(seeded: Seeded) -> None:
    assert seeded.dispatchers == len(DEMO_DISPATCHERS) == 5
    for username, unit_code in DEMO_DISPATCHERS:
        actor = authenticate(seeded.session, username=username, password="gridgov-demo")
        assert actor is not None and actor.role.value == "dispatcher"
        unit = seeded.session.get(DepartmentUnit, actor.department_unit_id)
        assert unit is not None and unit.code == unit_code
    kinds = {
        u: seeded.session.scalar(select(DepartmentUnit.dept_type).where(DepartmentUnit.code == c))
        for u, c in DEMO_DISPATCHERS
    }
    assert kinds == {
        "police1": DepartmentType.POLICE,
        "fire1": DepartmentType.FIRE,
        "civil1": DepartmentType.CIVIL_AFFAIRS,
        "urban1": DepartmentType.URBAN_MANAGEMENT,
        "wjg.police1": DepartmentType.POLICE,  # 伍家岗区's
    }


def test_seeding_units_dispatchers_and_events_again_adds_nothing(seeded: Seeded) -> None:
    s = seeded.session
    assert seed_demo_units(s) == 0
    assert seed_demo_dispatchers(s) == 0
    assert seed_demo_events(s, now=NOW) == 0
    assert s.scalar(select(text("count(*)")).select_from(Event)) == seeded.events


# --------------------------------------------------------------------------- events


def test_about_five_thousand_events_in_sixty_days_seeded_within_a_minute(seeded: Seeded) -> None:
    assert seeded.events == 5_000
    first, last = _rows(seeded.session, "SELECT min(reported_at), max(reported_at) FROM event")[0]
    assert NOW - timedelta(days=60) <= first < NOW - timedelta(days=59)
    assert NOW - timedelta(hours=2) < last <= NOW
    assert seeded.seconds < 60


def test_every_state_is_present(seeded: Seeded) -> None:
    counts = dict(_rows(seeded.session, "SELECT status::text, count(*) FROM event GROUP BY 1"))
    # A transfer (跨区移交) files a second, linked case; the demo's events stay where reported.
    # The weeks of history predate 立案 by judgement: demo.tiers files today's pending and
    # refused cases through the services (test_the_tiers_have_centres_staff_and_cases_to_judge).
    assert set(counts) == {s.value for s in EventStatus} - {"transferred", "pending", "refused"}
    per_district = dict(
        _rows(seeded.session, "SELECT district_code, count(*) FROM event GROUP BY 1")
    )
    assert set(per_district) == {DISTRICT, "420503"} and min(per_district.values()) > 1_000
    assert counts["closed"] > counts["signed"] > counts["returned"] > 0
    branches = _rows(
        seeded.session,
        "SELECT count(*) FILTER (WHERE rework_count > 0), count(*) FILTER (WHERE return_count > 0),"
        " count(*) FILTER (WHERE status NOT IN ('closed', 'self_resolved', 'voided') "
        "   AND suspended_at IS NULL AND stage_deadline < :now),"
        " count(*) FILTER (WHERE status = 'voided' AND void_reason IS NOT NULL)"
        " FROM event",
        now=NOW,
    )[0]
    reworked, returned, overdue, voided_with_reason = branches
    assert reworked > 50 and returned > 100 and overdue > 10
    assert voided_with_reason == counts["voided"]


def test_steps_chain_from_report_to_the_event_status(seeded: Seeded) -> None:
    s = seeded.session
    mismatched = _scalar(
        s,
        "WITH last AS (SELECT DISTINCT ON (event_id) event_id, to_status FROM event_step "
        "ORDER BY event_id, at DESC, id DESC) "
        "SELECT count(*) FROM event e JOIN last l ON l.event_id = e.id "
        "WHERE l.to_status <> e.status",
    )
    broken_chain = _scalar(
        s,
        "SELECT count(*) FROM (SELECT from_status, lag(to_status) OVER w AS before, "
        "row_number() OVER w AS n FROM event_step WINDOW w AS (PARTITION BY event_id "
        "ORDER BY at, id)) x WHERE (n = 1 AND from_status IS NOT NULL) "
        "OR (n > 1 AND from_status IS DISTINCT FROM before)",
    )
    without_steps = _scalar(
        s,
        "SELECT count(*) FROM event e WHERE NOT EXISTS (SELECT 1 FROM event_step WHERE "
        "event_id = e.id)",
    )
    assert (mismatched, broken_chain, without_steps) == (0, 0, 0)


def test_every_step_is_a_transition_of_the_workflow_table(seeded: Seeded) -> None:
    steps = seeded.session.execute(
        select(EventStep.action, EventStep.from_status, EventStep.to_status).distinct()
    ).all()
    for action, before, after in steps:
        if action == "report":
            assert before is None and after in (EventStatus.REPORTED, EventStatus.REGISTERED)
            continue
        rule = TRANSITIONS[action]
        assert before in rule.sources, (action, before)
        assert after == rule.target, (action, after)


def test_stage_deadlines_are_those_of_the_category_and_work_calendar(seeded: Seeded) -> None:
    s = seeded.session
    categories = {c.id: c for c in s.scalars(select(EventCategory))}
    rows = s.execute(
        select(EventStage, Event.category_id).join(Event, Event.id == EventStage.event_id)
    ).all()
    assert len(rows) > 10_000
    wrong = [
        (stage.id, stage.stage, stage.started_at)
        for stage, category_id in rows
        if due_at(s, category=categories[category_id], stage=stage.stage, start=stage.started_at)
        != stage.deadline
    ]
    assert wrong == []
    flags = _scalar(
        s,
        "SELECT count(*) FROM event_stage WHERE (ended_at IS NULL) <> (on_time IS NULL) "
        "OR on_time IS DISTINCT FROM (ended_at <= deadline) AND ended_at IS NOT NULL",
    )
    assert flags == 0


def test_the_running_stage_is_the_events_clock(seeded: Seeded) -> None:
    s = seeded.session
    mismatched = _scalar(
        s,
        "SELECT count(*) FROM event e LEFT JOIN event_stage st ON st.event_id = e.id "
        "AND st.ended_at IS NULL WHERE e.stage IS DISTINCT FROM st.stage "
        "OR e.stage_deadline IS DISTINCT FROM st.deadline "
        "OR e.stage_started_at IS DISTINCT FROM st.started_at",
    )
    open_stages_per_event = _scalar(
        s,
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM event_stage "
        "WHERE ended_at IS NULL GROUP BY event_id) x",
    )
    final_with_clock = _scalar(
        s,
        "SELECT count(*) FROM event WHERE status IN ('closed', 'voided', 'self_resolved') "
        "AND stage IS NOT NULL",
    )
    closed_at = _scalar(
        s,
        "SELECT count(*) FROM event WHERE (status IN ('closed', 'self_resolved')) "
        "<> (closed_at IS NOT NULL)",
    )
    assert (mismatched, open_stages_per_event, final_with_clock, closed_at) == (0, 1, 0, 0)


def test_reports_peak_in_office_hours_and_are_rare_at_night(seeded: Seeded) -> None:
    by_hour = dict(
        _rows(
            seeded.session,
            "SELECT extract(hour FROM reported_at AT TIME ZONE 'Asia/Shanghai')::int, count(*) "
            "FROM event GROUP BY 1",
        )
    )
    hours = [by_hour.get(h, 0) for h in range(24)]
    morning, afternoon = np.mean(hours[9:12]), np.mean(hours[14:17])
    night, lunch = np.mean(hours[0:6]), hours[12]
    assert morning > 8 * night and afternoon > 8 * night
    assert morning > 1.5 * lunch and afternoon > 1.5 * lunch
    assert max(range(24), key=lambda h: hours[h]) in (9, 10, 11, 14, 15, 16)


def test_working_days_are_busier_than_days_off(seeded: Seeded) -> None:
    calendar = WorkCalendar.shipped()
    per_day = _rows(
        seeded.session,
        "SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date, count(*) FROM event "
        "WHERE reported_at >= :a AND reported_at < :b GROUP BY 1",
        a=NOW - timedelta(days=56),
        b=NOW - timedelta(days=1),
    )
    working = [n for day, n in per_day if calendar.is_working_day(day)]
    off = [n for day, n in per_day if not calendar.is_working_day(day)]
    assert np.mean(working) > 1.4 * np.mean(off)


def test_hot_spots_concentrate_events_on_a_few_buildings(seeded: Seeded) -> None:
    per_building = sorted(
        (
            n
            for (n,) in _rows(
                seeded.session,
                "SELECT count(*) FROM event WHERE building_id IS NOT NULL GROUP BY building_id",
            )
        ),
        reverse=True,
    )
    assert per_building[0] >= 50 * np.median(per_building)
    assert sum(per_building[:20]) > 0.15 * sum(per_building)  # 20 of ~3,000 buildings


def test_events_lie_in_their_grid_and_are_routed_like_the_service(seeded: Seeded) -> None:
    s = seeded.session
    outside = _scalar(
        s,
        "SELECT count(*) FROM event e JOIN grid g ON g.code = e.grid_code "
        "WHERE NOT ST_Covers(g.geom, e.geom)",
    )
    # the lead unit's jurisdiction covers the point, whatever street the point is in
    not_covered = _scalar(
        s,
        "SELECT count(*) FROM event e JOIN department_unit u ON u.id = e.unit_id "
        "WHERE e.return_count = 0 AND NOT ST_Covers(u.geom, e.geom)",
    )
    police_across_streets = _scalar(
        s,
        "SELECT count(DISTINCT e.street_code) FROM event e JOIN department_unit u "
        "ON u.id = e.unit_id WHERE u.code = :code",
        code=f"{DISTRICT}-police-01",
    )
    assert (outside, not_covered) == (0, 0)
    assert police_across_streets >= 2


def test_event_codes_and_ids_follow_the_service(seeded: Seeded) -> None:
    s = seeded.session
    events = s.execute(select(Event.id, Event.code, Event.reported_at, Event.district_code)).all()
    assert all(
        code == f"{district}-{at.astimezone(UTC):%Y%m%d}-{sequence_part(id_):06d}"
        for id_, code, at, district in events
    )
    next_id = _scalar(s, "SELECT nextval('event_id_seq')")
    assert next_id > max(sequence_part(id_) for id_, *_ in events)


def test_demo_events_and_steps_land_in_the_partition_of_their_own_month(seeded: Seeded) -> None:
    s = seeded.session
    misplaced = _scalar(
        s,
        "SELECT count(*) FROM event WHERE tableoid::regclass::text <> "
        "'event_p' || to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMM')",
    )
    steps_misplaced = _scalar(
        s,
        "SELECT count(*) FROM event_step WHERE tableoid::regclass::text <> "
        "'event_step_p' || to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYYMM')",
    )
    months = _scalar(s, "SELECT count(DISTINCT tableoid) FROM event")
    assert (misplaced, steps_misplaced) == (0, 0)
    assert months >= 2  # 60 days of history span at least two months


def test_every_demo_event_code_is_kept_unique_by_event_key(seeded: Seeded) -> None:
    s = seeded.session
    unkeyed = _scalar(
        s,
        "SELECT count(*) FROM event e WHERE NOT EXISTS (SELECT 1 FROM event_key k "
        "WHERE k.district_code = e.district_code AND k.kind = 'code' AND k.key = e.code "
        "AND k.event_id = e.id)",
    )
    assert unkeyed == 0


def test_a_demo_event_reads_back_through_the_service(seeded: Seeded) -> None:
    s = seeded.session
    event = s.scalar(
        select(Event).where(Event.status == EventStatus.CLOSED, Event.return_count > 0).limit(1)
    )
    assert event is not None
    read = read_event(s, event=event, now=NOW)
    assert read.status is EventStatus.CLOSED and read.light is None
    assert [step.action for step in read.steps][:2] == ["report", "dispatch"]
    assert "return" in [step.action for step in read.steps]
    assert read.dispatch is not None and "jurisdiction covers" in read.dispatch["unit"]
    assert all(stage.on_time is not None for stage in read.stages)


def test_final_events_have_no_running_clock(seeded: Seeded) -> None:
    final = [s.value for s in FINAL_STATES]
    running = _scalar(
        seeded.session,
        "SELECT count(*) FROM event_stage st JOIN event e ON e.id = st.event_id "
        "WHERE CAST(e.status AS text) = ANY(:final) AND st.ended_at IS NULL",
        final=final,
    )
    assert running == 0


# --------------------------------------------------------------------------- generation


def test_generation_is_deterministic_for_a_seed_and_now(seeded: Seeded) -> None:
    frame = load_event_frame(seeded.session, district_codes=(DISTRICT,))
    one = generate_events(frame, seed=7, days=10, now=NOW)
    two = generate_events(frame, seed=7, days=10, now=NOW)
    other = generate_events(frame, seed=8, days=10, now=NOW)
    for field in fields(one):
        a, b = getattr(one, field.name), getattr(two, field.name)
        assert (list(a) == list(b)) if isinstance(a, list) else np.array_equal(a, b), field.name
    assert not np.array_equal(one.reported_at, other.reported_at)
    assert len(one) == round(5_000 / 60 * 10)


@pytest.mark.parametrize("limit", ["0.5h", "1h", "2h", "4h", "1d", "2d", "3d", "10d", "15d"])
def test_vector_calendar_adds_limits_exactly_like_the_work_calendar(limit: str) -> None:
    calendar = WorkCalendar.shipped()
    first = datetime(2026, 1, 1).date()
    vc = VectorCalendar(calendar, first, first + timedelta(days=800))
    rng = np.random.default_rng(1)
    start = datetime(2026, 1, 2, tzinfo=UTC)
    seconds = rng.integers(0, 700 * 86_400, 3_000)
    seconds[:48] = np.arange(48) * 1800 + 86_400 * 273  # every half hour of 2026-10-01/02
    instants = [start + timedelta(seconds=int(x)) for x in seconds]
    micros = np.array([int(t.timestamp()) * 1_000_000 for t in instants], dtype=np.int64)
    parsed = Limit.parse(limit)
    if parsed.unit is LimitUnit.HOURS:
        got = vc.add_working(micros, np.full(len(micros), round(parsed.amount * 3_600_000_000)))
    else:
        got = vc.add_days(micros, np.full(len(micros), int(parsed.amount)))
    expected = [int(calendar.add(t, parsed).timestamp() * 1_000_000) for t in instants]
    assert got.tolist() == expected


def test_the_tiers_have_centres_staff_and_cases_to_judge(seeded: Seeded) -> None:
    session = seeded.session
    added = seed_demo_tiers(session)
    areas = dict(
        _rows(
            session,
            "SELECT level::text, count(*) FROM admin_unit WHERE district_code IN "
            "('420502', '420503') GROUP BY 1",
        )
    )
    centres = dict(
        _rows(
            session,
            "SELECT length(area_code), count(*) FROM department_unit "
            "WHERE dept_type = 'command_centre' GROUP BY 1",
        )
    )
    assert centres == {
        12: areas["community"],
        9: areas["street"],
        6: areas["district"],
        4: 1,
    }
    assert added.centres == areas["community"] + areas["street"] + 1 and added.cases == 4
    first = _rows(session, "SELECT community_code FROM grid ORDER BY code LIMIT 1")[0][0]
    logins = dict(
        _rows(
            session,
            "SELECT username, area_code FROM staff WHERE username IN ('community1', 'street1')",
        )
    )
    assert logins == {"community1": first, "street1": first[:9] + "000"}
    judged = dict(
        _rows(
            session,
            "SELECT status::text || '@' || tier::text, count(*) FROM event "
            "WHERE status IN ('pending', 'refused') GROUP BY 1",
        )
    )
    assert judged == {"pending@community": 2, "pending@street": 1, "refused@community": 1}
    again = seed_demo_tiers(session)  # idempotent
    assert (again.centres, again.cases) == (0, 0)
