"""Patrols (巡查轨迹) over HTTP: a grid worker starts a patrol, sends its GPS fixes in batches
(kept offline on the phone and sent later), ends it and reads their own tracks; the command
centre reads the tracks of its area, and leaders the weekly coverage figures only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, text_body, validated
from api.http.deps import SessionDep
from api.http.paging import LedgerPageSize, PageQuery
from api.schemas import MAX_ID
from events.patrol_kpis import patrol_kpis
from events.schemas import PatrolKpiRow
from gis.clock import local_today
from people import patrols
from people.access import Actor
from people.schemas import (
    PatrolEnd,
    PatrolPage,
    PatrolPoints,
    PatrolRead,
    PatrolStart,
    PointsAdded,
)

router = APIRouter(prefix="/api", tags=["patrols 巡查轨迹"])

Patroller = Annotated[Actor, allow(patrols.PATROLLERS)]
TrackReader = Annotated[Actor, allow(patrols.TRACK_READERS)]
CoverageReader = Annotated[Actor, allow(patrols.COVERAGE_READERS)]
Key = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9-]{8,64}$", description="the patrol's key (the phone's UUID)")
]


@router.post(
    "/patrols",
    status_code=status.HTTP_201_CREATED,
    response_model=PatrolRead,
    responses={200: {"description": "a patrol of this key was started before: that patrol"}},
    openapi_extra=body_doc(PatrolStart, required=True),
)
def start_patrol(
    session: SessionDep, actor: Patroller, submission: SubmissionDep, response: Response
) -> PatrolRead:
    """Start a patrol (开始巡查) of one of my grids. The body's `key` is the phone's UUID of
    the patrol: sending the same key again returns the patrol already started. JSON or form."""
    body = text_body(PatrolStart, submission, what="starting a patrol", send="key and grid_code")
    read, created = patrols.start_patrol(
        session, actor=actor, key=body.key, grid_code=body.grid_code, started_at=body.started_at
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return read


@router.post(
    "/patrols/{key}/points",
    response_model=PointsAdded,
    openapi_extra=body_doc(PatrolPoints, required=True),
)
def add_points(
    session: SessionDep, actor: Patroller, key: Key, submission: SubmissionDep
) -> PointsAdded:
    """Add a batch of GPS fixes (轨迹点, at most 500) to my patrol: `crs` (wgs84, gcj02, bd09,
    cgcs2000) and `points` [{t, lon, lat, accuracy}]. Fixes the patrol has already are
    skipped, so a resend adds nothing; a fix outside the patrol's start..end refuses the batch.
    JSON only (a list of points does not fit in a form)."""
    if submission.photos:
        text_body(PatrolPoints, submission, what="a batch of points", send="JSON points")
    body = validated(PatrolPoints, submission.fields)
    return patrols.append_points(session, actor=actor, key=key, batch=body)


@router.post(
    "/patrols/{key}/end",
    response_model=PatrolRead,
    openapi_extra=body_doc(PatrolEnd, required=False),
)
def end_patrol(
    session: SessionDep, actor: Patroller, key: Key, submission: SubmissionDep
) -> PatrolRead:
    """End my patrol (结束巡查) at `ended_at` (default: now). JSON or form."""
    body = text_body(PatrolEnd, submission, what="ending a patrol", send="ended_at")
    return patrols.end_patrol(session, actor=actor, key=key, ended_at=body.ended_at)


@router.get("/patrols", response_model=PatrolPage)
def my_patrols(
    session: SessionDep, actor: Patroller, page: PageQuery = 1, page_size: LedgerPageSize = 20
) -> PatrolPage:
    """My patrols (我的巡查), newest first, with their points, distance and duration."""
    return patrols.list_my_patrols(session, actor=actor, page=page, page_size=page_size)


@router.get("/patrols/coverage", response_model=list[PatrolKpiRow])
def patrol_coverage(
    session: SessionDep,
    actor: CoverageReader,
    week: Annotated[
        date | None, Query(description="any day of the week (Monday..Sunday); default: this week")
    ] = None,
    grid: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    staff: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[PatrolKpiRow]:
    """Weekly patrol coverage (巡查覆盖) per grid worker and grid of my scope: share of the
    grid's buildings passed within 30 m, time on patrol, distance, stops and gaps, events found
    per patrol hour and the grid's 主动发现率. Grid workers see their own rows; leaders get no
    names."""
    return patrol_kpis(
        session, actor=actor, day=week or local_today(), grid_code=grid, staff_id=staff
    )


@router.get("/patrols/{key}/track")
def patrol_track(
    session: SessionDep,
    actor: TrackReader,
    key: Key,
    crs: Annotated[
        str, Query(max_length=20, description="cgcs2000 (default), wgs84, gcj02, bd09")
    ] = "cgcs2000",
) -> dict[str, Any]:
    """A patrol's track (巡查轨迹) as a GeoJSON Feature (MultiLineString split at gaps, the
    vertices' times, stops and gaps): my own patrols, or my area's for the command centre."""
    return patrols.patrol_track(session, actor=actor, key=key, crs=crs)
