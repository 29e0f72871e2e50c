"""KPIs: every indicator equals a count made by hand over a small set of events, in scope."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from events.exceptions import InvalidReport
from events.kpis import KpiGrouping, kpis
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventSource,
    EventStage,
    EventStatus,
    Stage,
)
from events.reference import load_reference_data
from events.schemas import SCORE_WEIGHTS, KpiRow
from gis.clock import CHINA_TZ
from grid.models import AdminLevel, AdminUnit
from people.access import Actor
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    ewkb,
    square,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)
START = datetime(2026, 11, 1, tzinfo=CHINA_TZ)
G1, G2 = COMMUNITY + "001", COMMUNITY + "002"  # street 001
OTHER_STREET, OTHER_COMMUNITY = "420502002000", "420502002001"
G3 = OTHER_COMMUNITY + "001"  # street 002
H = timedelta(hours=1)
ON, LATE, OPEN = "on time", "late", "open"


@dataclass
class StageSpec:
    stage: Stage
    unit: str | None  # unit key in the fixture, None for the grid worker's stages
    outcome: str  # ON, LATE or OPEN
    overdue: bool = False  # for an open stage: is its deadline before NOW?


@dataclass
class EventSpec:
    name: str
    grid: str | None
    reporter: str
    status: EventStatus
    unit: str | None
    stages: list[StageSpec] = field(default_factory=list)
    reported: datetime = NOW - timedelta(days=5)
    rework: int = 0
    returned_by: str | None = None
    suspended: bool = False


S = StageSpec
SPECS = [
    EventSpec(
        "closed on time",
        G1,
        "worker_a",
        EventStatus.CLOSED,
        "p1",
        [S(Stage.SIGN, "p1", ON), S(Stage.HANDLE, "p1", ON), S(Stage.VERIFY, None, ON)],
    ),
    EventSpec(
        "closed, signed late",
        G1,
        "worker_a",
        EventStatus.CLOSED,
        "p1",
        [S(Stage.SIGN, "p1", LATE), S(Stage.HANDLE, "p1", ON), S(Stage.VERIFY, None, ON)],
    ),
    EventSpec(
        "closed after rework",
        G2,
        "worker_b",
        EventStatus.CLOSED,
        "p1",
        [
            S(Stage.SIGN, "p1", ON),
            S(Stage.HANDLE, "p1", ON),
            S(Stage.VERIFY, None, ON),
            S(Stage.HANDLE, "p1", LATE),
            S(Stage.VERIFY, None, ON),
        ],
        rework=1,
    ),
    EventSpec(
        "being handled, overdue",
        G2,
        "worker_b",
        EventStatus.SIGNED,
        "p2",
        [S(Stage.SIGN, "p2", ON), S(Stage.HANDLE, "p2", OPEN, overdue=True)],
    ),
    EventSpec(
        "dispatched, in time",
        G1,
        "worker_a",
        EventStatus.DISPATCHED,
        "p2",
        [S(Stage.SIGN, "p2", OPEN)],
    ),
    EventSpec(
        "suspended past its deadline",
        G1,
        "worker_a",
        EventStatus.SUSPENDED,
        "u1",
        [S(Stage.SIGN, "u1", ON), S(Stage.HANDLE, "u1", OPEN, overdue=True)],
        suspended=True,
    ),
    EventSpec("self-resolved", G1, "worker_a", EventStatus.SELF_RESOLVED, None),
    EventSpec(
        "voided duplicate",
        G2,
        "worker_b",
        EventStatus.VOIDED,
        "p1",
        [S(Stage.SIGN, "p1", ON)],
    ),
    EventSpec(
        "hotline report awaiting its check",
        G2,
        "command",
        EventStatus.REPORTED,
        None,
        [S(Stage.CHECK, None, OPEN, overdue=True)],
    ),
    EventSpec(
        "returned by p2, handled by u1",
        G1,
        "worker_a",
        EventStatus.HANDLED,
        "u1",
        [
            S(Stage.SIGN, "p2", ON),
            S(Stage.SIGN, "u1", LATE),
            S(Stage.HANDLE, "u1", ON),
            S(Stage.VERIFY, None, OPEN),
        ],
        returned_by="p2",
    ),
    EventSpec(
        "closed before the period",
        G1,
        "worker_a",
        EventStatus.CLOSED,
        "p1",
        [S(Stage.SIGN, "p1", LATE), S(Stage.HANDLE, "p1", ON), S(Stage.VERIFY, None, ON)],
        reported=START - timedelta(days=3),
    ),
    EventSpec(
        "another street",
        G3,
        "worker_c",
        EventStatus.CLOSED,
        "p1",
        [S(Stage.SIGN, "p1", ON), S(Stage.HANDLE, "p1", LATE), S(Stage.VERIFY, None, ON)],
    ),
    EventSpec(
        "outside every grid",
        None,
        "command",
        EventStatus.DISPATCHED,
        "cc",
        [S(Stage.SIGN, "cc", OPEN, overdue=True)],
    ),
]


@pytest.fixture
def kpi_city(session: Session) -> dict[str, Any]:
    """Two streets, three grids, four units, workers, a dispatcher and leaders; SPECS stored."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    for code, name, level, parent in (
        (OTHER_STREET, "学院街道", AdminLevel.STREET, DISTRICT + "000000"),
        (OTHER_COMMUNITY, "学院社区", AdminLevel.COMMUNITY, OTHER_STREET),
    ):
        session.add(
            AdminUnit(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                district_code=DISTRICT,
                geom=ewkb(square(111.30, 30.70, 0.02)),
            )
        )
        session.flush()
    add_grid(session, G1, square(111.28, 30.70, 0.01))
    add_grid(session, G2, square(111.29, 30.70, 0.01))
    add_grid(session, G3, square(111.30, 30.70, 0.01))
    load_reference_data(session)
    units = {
        "p1": add_unit(session, "PS-1", "police", location=(111.285, 30.705)),
        "p2": add_unit(session, "PS-2", "police", location=(111.295, 30.705)),
        "u1": add_unit(session, "CG-1", "urban_management", location=(111.29, 30.71)),
        "cc": add_unit(session, "CC", "command_centre", location=(111.29, 30.71)),
    }
    staff = {
        "worker_a": add_staff(session, "worker_a", "grid_worker", grid_codes=[G1]),
        "worker_b": add_staff(session, "worker_b", "grid_worker", grid_codes=[G2]),
        "worker_c": add_staff(session, "worker_c", "grid_worker", grid_codes=[G3]),
        "command": add_staff(session, "command", "command", area_code=DISTRICT + "000000"),
        "leader_district": add_staff(session, "leader_d", "leader", area_code=DISTRICT + "000000"),
        "leader_street": add_staff(session, "leader_s", "leader", area_code="420502001000"),
        "dispatcher_p1": add_staff(
            session, "police_a", "dispatcher", department_unit_id=units["p1"].id
        ),
        "admin": add_staff(session, "admin_a", "admin"),
    }
    category = session.scalar(select(EventCategory).where(EventCategory.code == "0101"))
    assert category is not None
    for n, spec in enumerate(SPECS, start=1):
        _store(session, n, spec, category, units, staff)
    session.flush()
    return {"session": session, "units": units, "staff": staff}


def _store(
    session: Session,
    n: int,
    spec: EventSpec,
    category: EventCategory,
    units: dict[str, DepartmentUnit],
    staff: dict[str, Actor],
) -> None:
    """An event as `spec` says, with its stages one after another from its report."""
    unit_id = units[spec.unit].id if spec.unit else None
    event = Event(
        code=f"{DISTRICT}-KPI-{n:03d}",
        category_id=category.id,
        category_code=category.code,
        priority=category.priority,
        status=spec.status,
        source=EventSource.GRID_WORKER,
        description=spec.name,
        geom=f"SRID=4490;POINT({111.285 + n * 0.0001} 30.705)",
        locate_match="inside" if spec.grid else "outside",
        grid_code=spec.grid,
        district_code=DISTRICT,
        reporter_id=staff[spec.reporter].staff_id,
        unit_id=unit_id,
        reported_at=spec.reported,
        closed_at=spec.reported + 40 * H
        if spec.status in (EventStatus.CLOSED, EventStatus.SELF_RESOLVED)
        else None,
        rework_count=spec.rework,
        return_count=1 if spec.returned_by else 0,
        returned_by_unit_ids=[units[spec.returned_by].id] if spec.returned_by else [],
        suspended_at=spec.reported + 30 * H if spec.suspended else None,
        status_before_suspension=EventStatus.SIGNED if spec.suspended else None,
    )
    session.add(event)
    session.flush()
    at = spec.reported
    for stage in spec.stages:
        started = at
        if stage.outcome == OPEN:
            deadline = NOW - H if stage.overdue else NOW + H
            ended, on_time = None, None
            event.stage, event.stage_started_at, event.stage_deadline = (
                stage.stage,
                started,
                deadline,
            )
        else:
            deadline = started + 4 * H
            ended = started + (2 * H if stage.outcome == ON else 6 * H)
            on_time = stage.outcome == ON
            at = ended
        session.add(
            EventStage(
                event_id=event.id,
                district_code=event.district_code,
                stage=stage.stage,
                unit_id=units[stage.unit].id if stage.unit else None,
                started_at=started,
                deadline=deadline,
                ended_at=ended,
                on_time=on_time,
            )
        )
    session.flush()


# --------------------------------------------------------------------------- by hand


def _expected(
    kpi_city: dict[str, Any], by: str, specs: list[EventSpec], sign_unit: str | None = None
) -> dict[str | None, dict[str, Any]]:
    """The indicators counted in Python, straight from the definitions."""
    units, staff = kpi_city["units"], kpi_city["staff"]

    def key(spec: EventSpec) -> str | None:
        if by == "unit":
            return str(units[spec.unit].id) if spec.unit else None
        if by == "department":
            return str(units[spec.unit].department_id) if spec.unit else None
        if by == "grid":
            return spec.grid
        if by == "worker":
            return str(staff[spec.reporter].staff_id)
        return DISTRICT

    rows: dict[str | None, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    hours: dict[str | None, list[float]] = defaultdict(list)
    for spec in specs:
        if not START <= spec.reported < NOW:
            continue
        row = rows[key(spec)]
        row["reported"] += 1
        status = spec.status
        row["voided"] += status is EventStatus.VOIDED
        row["registered"] += status not in (EventStatus.REPORTED, EventStatus.VOIDED)
        closed = status in (EventStatus.CLOSED, EventStatus.SELF_RESOLVED)
        row["closed"] += closed
        row["closed_on_time"] += closed and all(s.outcome != LATE for s in spec.stages)
        is_open = not closed and status is not EventStatus.VOIDED
        row["open"] += is_open
        row["overdue"] += (
            is_open
            and not spec.suspended
            and any(s.outcome == OPEN and s.overdue for s in spec.stages)
        )
        handled = [s for s in spec.stages if s.stage is Stage.HANDLE and s.outcome != OPEN]
        row["handled"] += bool(handled)
        row["reworked"] += bool(handled) and spec.rework > 0
        row["returned"] += spec.returned_by is not None
        if handled:
            # stages run back to back: 2 h when on time, 6 h when late
            elapsed = 0.0
            spent = 0.0
            for s in spec.stages:
                spent += 2 if s.outcome == ON else 6 if s.outcome == LATE else 0
                if s.stage is Stage.HANDLE and s.outcome != OPEN:
                    elapsed = spent
            hours[key(spec)].append(elapsed)
        for s in spec.stages:
            if s.stage is not Stage.SIGN or s.outcome == OPEN:
                continue
            if sign_unit is not None and s.unit != sign_unit:
                continue
            if by in ("unit", "department"):
                unit = units[s.unit] if s.unit else None
                sign_key = (
                    None if unit is None else str(unit.id if by == "unit" else unit.department_id)
                )
            else:
                sign_key = key(spec)
            rows[sign_key]["signs_ended"] += 1
            rows[sign_key]["signs_on_time"] += s.outcome == ON
    for k, values in hours.items():
        rows[k]["mean_handling_hours"] = sum(values) / len(values)
    return {k: dict(v) for k, v in rows.items()}


COUNTS = (
    "reported",
    "voided",
    "registered",
    "closed",
    "closed_on_time",
    "open",
    "overdue",
    "signs_ended",
    "signs_on_time",
    "handled",
    "reworked",
    "returned",
)


def _as_dict(row: KpiRow) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in COUNTS}
    values["mean_handling_hours"] = row.mean_handling_hours
    return values


def _check(rows: list[KpiRow], expected: dict[str | None, dict[str, Any]]) -> None:
    got = {row.key: _as_dict(row) for row in rows}
    assert set(got) == set(expected)
    for key, want in expected.items():
        for name in COUNTS:
            assert got[key][name] == want.get(name, 0), (key, name)
        if "mean_handling_hours" in want:
            assert got[key]["mean_handling_hours"] == pytest.approx(want["mean_handling_hours"])
        else:
            assert got[key]["mean_handling_hours"] is None, key


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("by", ["unit", "department", "grid", "worker", "district"])
def test_every_indicator_equals_the_count_made_by_hand(
    kpi_city: dict[str, Any], by: KpiGrouping
) -> None:
    rows = kpis(
        kpi_city["session"], actor=kpi_city["staff"]["admin"], start=START, end=NOW, by=by, now=NOW
    )
    _check(rows, _expected(kpi_city, by, SPECS))


def test_rates_and_score_follow_their_definitions(kpi_city: dict[str, Any]) -> None:
    (row,) = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["admin"],
        start=START,
        end=NOW,
        by="district",
        now=NOW,
    )
    # 12 events in the period: 1 voided, 1 awaiting its check; 5 closed (1 self-resolved),
    # of which 2 had a late stage; SIGN stages ended: 9, of which 2 late; 5 handled, 1 reworked.
    assert (row.reported, row.voided, row.registered, row.closed) == (12, 1, 10, 5)
    assert row.valid_report_rate == pytest.approx(11 / 12)
    assert row.closure_rate == pytest.approx(5 / 10)
    assert row.on_time_closure_rate == pytest.approx(2 / 5)
    assert row.on_time_sign_rate == pytest.approx(7 / 9)
    assert row.rework_rate == pytest.approx(1 / 5)
    assert row.overdue == 3
    parts = {
        "on_time_closure_rate": 2 / 5,
        "closure_rate": 5 / 10,
        "on_time_sign_rate": 7 / 9,
        "no_rework_rate": 1 - 1 / 5,
        "not_overdue_rate": 1 - 3 / 10,
    }
    expected = (
        100 * sum(SCORE_WEIGHTS[k] * v for k, v in parts.items()) / sum(SCORE_WEIGHTS.values())
    )
    assert row.score == pytest.approx(expected, abs=0.01)
    assert row.name == "西陵区"


def test_a_returned_events_sign_for_stage_counts_for_the_unit_that_returned_it(
    kpi_city: dict[str, Any],
) -> None:
    rows = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["admin"],
        start=START,
        end=NOW,
        by="unit",
        now=NOW,
    )
    p2 = next(r for r in rows if r.key == str(kpi_city["units"]["p2"].id))
    u1 = next(r for r in rows if r.key == str(kpi_city["units"]["u1"].id))
    assert (p2.reported, p2.signs_ended, p2.signs_on_time) == (2, 2, 2)
    assert (u1.reported, u1.signs_ended, u1.signs_on_time, u1.returned) == (2, 2, 1, 1)
    assert p2.name == "公安PS-2"


def test_events_without_a_unit_form_their_own_row(kpi_city: dict[str, Any]) -> None:
    rows = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["admin"],
        start=START,
        end=NOW,
        by="unit",
        now=NOW,
    )
    assert rows[-1].key is None and rows[-1].name == "（未派遣）"
    assert rows[-1].reported == 2  # self-resolved and awaiting its check


def test_a_grid_worker_sees_only_their_grids(kpi_city: dict[str, Any]) -> None:
    rows = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["worker_b"],
        start=START,
        end=NOW,
        by="grid",
        now=NOW,
    )
    assert [r.key for r in rows] == [G2]
    _check(rows, _expected(kpi_city, "grid", [s for s in SPECS if s.grid == G2]))


def test_a_dispatcher_sees_their_units_events_and_sign_for_stages_only(
    kpi_city: dict[str, Any],
) -> None:
    actor = kpi_city["staff"]["dispatcher_p1"]
    for by in ("unit", "grid"):
        rows = kpis(kpi_city["session"], actor=actor, start=START, end=NOW, by=by, now=NOW)
        mine = [s for s in SPECS if s.unit == "p1"]
        _check(rows, _expected(kpi_city, by, mine, sign_unit="p1"))
    (row,) = kpis(kpi_city["session"], actor=actor, start=START, end=NOW, by="unit", now=NOW)
    assert row.key == str(kpi_city["units"]["p1"].id) and row.reported == 5


def test_a_street_leader_sees_the_street_and_a_district_leader_also_cases_outside_grids(
    kpi_city: dict[str, Any],
) -> None:
    street = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["leader_street"],
        start=START,
        end=NOW,
        by="grid",
        now=NOW,
    )
    in_street = [s for s in SPECS if s.grid in (G1, G2)]
    _check(street, _expected(kpi_city, "grid", in_street))
    (district,) = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["leader_district"],
        start=START,
        end=NOW,
        by="district",
        now=NOW,
    )
    assert district.reported == 12  # the grid-less case included


def test_the_period_excludes_events_reported_before_it(kpi_city: dict[str, Any]) -> None:
    early = START - timedelta(days=10)
    (row,) = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["admin"],
        start=early,
        end=START,
        by="district",
        now=NOW,
    )
    assert (row.reported, row.closed, row.closed_on_time, row.signs_ended) == (1, 1, 0, 1)
    assert (
        kpis(
            kpi_city["session"],
            actor=kpi_city["staff"]["admin"],
            start=NOW,
            end=NOW + timedelta(days=1),
            by="district",
            now=NOW,
        )
        == []
    )


def test_overdue_depends_on_now(kpi_city: dict[str, Any]) -> None:
    (later,) = kpis(
        kpi_city["session"],
        actor=kpi_city["staff"]["admin"],
        start=START,
        end=NOW,
        by="district",
        now=NOW + 2 * H,
    )
    # the dispatched case and the one awaiting verification were due at NOW + 1 h
    assert later.overdue == 5


def test_bad_periods_and_groupings_are_refused_with_a_reason(kpi_city: dict[str, Any]) -> None:
    admin = kpi_city["staff"]["admin"]
    with pytest.raises(InvalidReport, match="the period is empty"):
        kpis(kpi_city["session"], actor=admin, start=NOW, end=START, by="unit", now=NOW)
    with pytest.raises(InvalidReport, match="time zone"):
        kpis(kpi_city["session"], actor=admin, start=datetime(2026, 11, 1), end=NOW, by="unit")
    with pytest.raises(InvalidReport, match="cannot group KPIs by 'building'"):
        kpis(kpi_city["session"], actor=admin, start=START, end=NOW, by="building", now=NOW)  # type: ignore[arg-type]
