"""Writing the demo events into the database with COPY (`seed_demo_events`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from demo.arrays import Array, IntArray, Progress
from demo.city.scales import DEFAULT_SEED, SCALES
from demo.events.frame import (
    BATCH,
    NONE,
    US,
    DemoEvents,
    DemoEventsError,
    EventFrame,
    load_event_frame,
    text_where,
)
from demo.events.generate import (
    INPUT_CRS,
    S_DISPATCH,
    S_REDISPATCH,
    S_REPORT,
    SLOT_ACTIONS,
    SLOT_NOTES,
    SOURCES,
    generate_events,
)
from demo.people.scales import DEMO_PASSWORD
from demo.units import seed_demo_dispatchers, seed_demo_units
from demo.writing import batch_progress, reserve_stamped_ids
from events.catalog import DepartmentType
from events.models import EventSource, EventStatus, KeyKind
from events.reference import load_reference_data
from gis import partitions
from gis.bulk import copy_frame
from people.staff import hash_password

# --------------------------------------------------------------------------- seeding


def _iso(instants: IntArray) -> Array:
    """ISO 8601 UTC text of each instant (µs since 1970, whole seconds); None where -1."""
    text_ = np.datetime_as_string(
        (np.maximum(instants, 0) // US).astype("datetime64[s]"), unit="s", timezone="UTC"
    ).astype(object)
    text_[instants == NONE] = None
    return text_


def _nullable(values: IntArray) -> Any:
    """Integer column with -1 as NULL."""
    missing = values == NONE
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def _pg_array(values: list[list[int]]) -> list[str]:
    return ["{" + ",".join(map(str, v)) + "}" for v in values]


def _copy_frame(
    session: Session,
    table: str,
    frame: pd.DataFrame,
    on_progress: Progress | None,
    stage: str,
) -> int:
    """COPY a DataFrame's rows into `table` (columns named as the frame's) in batches."""
    on_batch = batch_progress(on_progress, stage, len(frame))
    return copy_frame(session, table=table, frame=frame, on_batch=on_batch, batch_rows=BATCH)


def _ensure_reporters(session: Session, *, district_codes: Sequence[str], scale: str) -> int:
    """One grid-worker account for every grid that has none (when demo.people has not run).

    Accounts are named like demo.people's (`gw<grid code>`), so seeding people later reuses
    them. They share one argon2 hash: of the demo password at demo scale, else of a secret.
    """
    missing = session.execute(
        text(
            "SELECT g.code, g.name FROM grid g WHERE g.district_code = ANY(:codes) AND NOT "
            "EXISTS (SELECT 1 FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id "
            "WHERE sg.grid_code = g.code AND s.active AND s.role = 'grid_worker') "
            "ORDER BY g.code"
        ),
        {"codes": list(district_codes)},
    ).all()
    if not missing:
        return 0
    usernames = [f"gw{code}" for code, _ in missing]
    taken = set(
        session.scalars(
            text("SELECT username FROM staff WHERE username = ANY(:names)"), {"names": usernames}
        )
    )
    password = DEMO_PASSWORD if scale == "demo" else secrets.token_urlsafe(32)
    password_hash = hash_password(password)
    new = [(u, name) for u, (_, name) in zip(usernames, missing, strict=True) if u not in taken]
    staff = pd.DataFrame(
        {
            "username": [u for u, _ in new],
            "full_name": [f"{name}网格员"[:50] for _, name in new],
            "password_hash": password_hash,
            "role": "grid_worker",
            "active": "t",
        }
    )
    _copy_frame(session, "staff", staff, None, "staff")
    ids: dict[str, int] = dict(
        session.execute(
            text("SELECT username, id FROM staff WHERE username = ANY(:names)"),
            {"names": usernames},
        ).all()
    )
    links = pd.DataFrame(
        {
            "staff_id": [ids[f"gw{code}"] for code, _ in missing],
            "grid_code": [c for c, _ in missing],
            "district_code": [c[:6] for c, _ in missing],
        }
    )
    _copy_frame(session, "staff_grid", links, None, "staff_grid")
    return len(new)


def _step_data(frame: EventFrame, events: DemoEvents) -> list[str]:
    """The JSON `data` of each step: the report's source and location match, the dispatch's
    explanation like `dispatch_event` writes it (other steps have none)."""
    data = np.full(len(events.step_event), "{}", dtype=object)
    report = np.flatnonzero(events.step_slot == S_REPORT)
    for source in SOURCES:
        rows = report[events.source[events.step_event[report]] == source.value]
        data[rows] = json.dumps(
            {
                "locate": {"match": "inside", "distance_to_grid_m": 0.0},
                "duplicate_candidates": [],
                "source": source.value,
            }
        )
    names = dict(zip(frame.unit_id.tolist(), frame.unit_name.tolist(), strict=True))
    codes = dict(zip(frame.unit_id.tolist(), frame.unit_code.tolist(), strict=True))
    dispatch = np.flatnonzero(np.isin(events.step_slot, [S_DISPATCH, S_REDISPATCH]))
    cache: dict[tuple[int, int, int, tuple[int, ...]], str] = {}
    for row, event, unit, slot in zip(
        dispatch.tolist(),
        events.step_event[dispatch].tolist(),
        events.step_unit[dispatch].tolist(),
        events.step_slot[dispatch].tolist(),
        strict=True,
    ):
        cat = int(events.category[event])
        helpers = tuple(events.assisting[event]) if slot == S_DISPATCH else ()
        key = (unit, cat, slot, helpers)
        if key not in cache:
            lead = DepartmentType(str(frame.category_lead[cat]))
            rule = (
                f"no dispatch rule matched; category {frame.category_code[cat]} "
                f"{frame.category_name[cat]} goes to {lead.label} by default"
                if slot == S_DISPATCH
                else "re-dispatched by the command centre after the unit returned the case"
            )
            cache[key] = json.dumps(
                {
                    "dispatch": {
                        "rule_id": None,
                        "rule": rule,
                        "lead_type": lead.value,
                        "unit_id": unit,
                        "unit": f"{names.get(unit, '?')}'s jurisdiction covers the location",
                        "assisting": [codes[h] for h in helpers],
                        "excluded_units": [],
                    }
                },
                ensure_ascii=False,
            )
        data[row] = cache[key]
    return data.tolist()


def write_events(
    session: Session,
    frame: EventFrame,
    events: DemoEvents,
    *,
    on_progress: Progress | None = None,
) -> int:
    """COPY generated events, their steps, stages and keys; returns the number of events.

    Events and steps get ids stamped with their own month (gis.partitions), whose partitions
    are created first.
    """
    n = len(events)
    if n:
        first, last = (
            datetime.fromtimestamp(int(t) / US, UTC)
            for t in (events.reported_at.min(), events.step_at.max())
        )
        partitions.ensure(session, since=first, now=max(last, datetime.now(UTC)))
    ids = reserve_stamped_ids(session, "event", events.reported_at)
    grid_code = frame.grid_code[events.grid]
    district = np.array([c[:6] for c in grid_code.tolist()], dtype=object)
    day = np.datetime_as_string(events.reported_at.astype("datetime64[us]"), unit="D")
    code = [
        f"{d}-{y.replace('-', '')}-{i % partitions.STAMP:06d}"
        for d, y, i in zip(district.tolist(), day.tolist(), ids.tolist(), strict=True)
    ]
    points = shapely.points(events.lon, events.lat)
    geom = shapely.to_wkb(shapely.set_srid(points, 4490), hex=True, include_srid=True)
    source_index = {s.value: i for i, s in enumerate(SOURCES)}
    input_crs = np.array(INPUT_CRS, dtype=object)[[source_index[s] for s in events.source]]
    external_ref = text_where(
        events.source != EventSource.GRID_WORKER.value,
        np.array([f"{s}-{i}" for s, i in zip(events.source, ids.tolist(), strict=True)]),
    )
    status_before = text_where(
        events.suspended_at != NONE, np.full(n, EventStatus.SIGNED.value, dtype=object)
    )
    rows = pd.DataFrame(
        {
            "id": ids,
            "code": code,
            "category_id": frame.category_id[events.category],
            "category_code": frame.category_code[events.category],
            "priority": frame.category_priority[events.category],
            "status": events.status,
            "source": events.source,
            "description": events.description,
            "address": text_where(
                events.building != NONE, frame.building_address[np.maximum(events.building, 0)]
            ),
            "geom": geom,
            "input_crs": input_crs,
            "locate_match": "inside",
            "grid_code": grid_code,
            "community_code": [c[:12] for c in grid_code.tolist()],
            "street_code": [c[:9] + "000" for c in grid_code.tolist()],
            "district_code": district,
            "building_id": _nullable(
                np.where(
                    events.building != NONE,
                    frame.building_id[np.maximum(events.building, 0)],
                    NONE,
                )
            ),
            "reporter_id": _nullable(events.reporter_id),
            "external_ref": external_ref,
            "unit_id": _nullable(events.unit_id),
            "assisting_unit_ids": _pg_array(events.assisting),
            "occurred_at": _iso(events.reported_at),
            "reported_at": _iso(events.reported_at),
            "closed_at": _iso(events.closed_at),
            "stage": events.stage,
            "stage_started_at": _iso(events.stage_started_at),
            "stage_deadline": _iso(events.stage_deadline),
            "suspended_at": _iso(events.suspended_at),
            "status_before_suspension": status_before,
            "rework_count": events.rework_count,
            "return_count": (events.returned_by != NONE).astype(np.int64),
            "returned_by_unit_ids": _pg_array(
                [[int(u)] if u != NONE else [] for u in events.returned_by.tolist()]
            ),
            "void_reason": events.void_reason,
            "updated_at": _iso(events.updated_at),
        }
    )
    _copy_frame(session, "event", rows, on_progress, "events")
    del rows
    keys = pd.DataFrame(
        {
            "district_code": district,
            "kind": KeyKind.CODE.value,
            "key": code,
            "event_id": ids,
            "created_at": _iso(events.reported_at),
        }
    )
    _copy_frame(session, "event_key", keys, None, "event_keys")
    del keys

    notes = np.array(SLOT_NOTES, dtype=object)[events.step_slot]
    report = events.step_slot == S_REPORT
    notes[report] = np.array([d[:200] for d in events.description], dtype=object)[
        events.step_event[report]
    ]
    steps = pd.DataFrame(
        {
            "id": reserve_stamped_ids(session, "event_step", events.step_at),
            "event_id": ids[events.step_event],
            "district_code": district[events.step_event],
            "action": np.array(SLOT_ACTIONS, dtype=object)[events.step_slot],
            "from_status": events.step_from,
            "to_status": events.step_to,
            "actor_id": _nullable(events.step_actor),
            "unit_id": _nullable(events.step_unit),
            "note": notes,
            "data": _step_data(frame, events),
            "at": _iso(events.step_at),
        }
    )
    _copy_frame(session, "event_step", steps, on_progress, "event_steps")
    del steps

    ended = events.stage_ended != NONE
    stages = pd.DataFrame(
        {
            "event_id": ids[events.stage_event],
            "district_code": district[events.stage_event],
            "stage": events.stage_kind,
            "unit_id": _nullable(events.stage_unit),
            "started_at": _iso(events.stage_started),
            "deadline": _iso(events.stage_due),
            "ended_at": _iso(events.stage_ended),
            "on_time": text_where(
                ended, np.where(events.stage_ended <= events.stage_due, "t", "f")
            ),
        }
    )
    _copy_frame(session, "event_stage", stages, on_progress, "event_stages")
    for table in ("event", "event_step", "event_stage"):
        session.execute(text(f"ANALYZE {table}"))
    return n


def seed_demo_events(
    session: Session,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    days: int = 60,
    now: datetime | None = None,
    on_progress: Progress | None = None,
) -> int:
    """Write `days` of demo events up to `now` for the demo city of `scale`; returns how many.

    Needs the demo city (demo.city.seed.seed_demo_city); adds what else is missing — the category
    table and work calendar, the demo units and dispatchers, and a grid worker for every grid
    without one (demo.people normally provides them). When the scale's districts already have
    events nothing is written and 0 is returned. Runs in the session's transaction, never
    commits. `on_progress(stage, done, total)` reports "generate", then "events",
    "event_steps" and "event_stages" as they are copied.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose demo or city")
    codes = SCALES[scale].district_codes
    at = now or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("now must carry a time zone, e.g. datetime.now(UTC)")
    session.flush()
    if session.execute(
        text("SELECT EXISTS (SELECT 1 FROM event WHERE district_code = ANY(:codes))"),
        {"codes": list(codes)},
    ).scalar_one():
        return 0
    grids = session.execute(
        text("SELECT count(*) FROM grid WHERE district_code = ANY(:codes)"), {"codes": list(codes)}
    ).scalar_one()
    if not grids:
        raise DemoEventsError(
            f"the demo city for scale '{scale}' is not in the database (no grids in districts "
            f"{', '.join(codes)}); seed it first with `gridgov seed demo --scale {scale}`"
        )
    if on_progress:
        on_progress("generate", 0, 1)
    if not session.execute(text("SELECT EXISTS (SELECT 1 FROM event_category)")).scalar_one():
        load_reference_data(session)
    seed_demo_units(session, scale=scale, seed=seed)
    seed_demo_dispatchers(session)
    _ensure_reporters(session, district_codes=codes, scale=scale)
    session.flush()
    frame = load_event_frame(session, district_codes=codes)
    events = generate_events(frame, scale=scale, seed=seed, days=days, now=at)
    if on_progress:
        on_progress("generate", 1, 1)
    count = write_events(session, frame, events, on_progress=on_progress)
    session.expire_all()
    return count
