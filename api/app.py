"""The gridgov web application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from api.http import access_log, errors, input_checks
from api.http.auth import LoopbackOnlyWithWeakSecrets
from api.http.body_limit import BodyLimitMiddleware
from api.http.input_checks import no_nul
from api.http.routers import (
    addresses,
    analysis,
    auth,
    bulletins,
    callbacks,
    devices,
    events,
    grids,
    health,
    imports,
    ledger,
    ogc,
    open311,
    parts,
    patrols,
    people,
    recurrence,
    recut,
    reference,
    rentals,
    rulings,
    shared,
    stats,
    subtasks,
    supervision,
    tasks,
    tiles,
)
from api.import_jobs import ImportRunner
from api.pages import maps, reports
from api.pages import routes as pages
from api.pages import sharing as sharing_pages
from api.pages import weekly as weekly_page
from api.pages.templating import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL
from gis import partitions
from gis.db import check_durable, get_request_engine, session_scope


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, refuse a non-durable database in production, create the monthly partitions
    ahead, fail the imports a killed server left running and delete expired files; at
    shutdown, let running imports finish."""
    await run_in_threadpool(check_durable, get_request_engine())
    await run_in_threadpool(_ensure_partitions)
    runner: ImportRunner | None = getattr(app.state, "import_runner", None)
    if runner is None:
        runner = app.state.import_runner = ImportRunner()
    if not runner.inline:  # an inline runner (tests) runs nothing in the background
        await run_in_threadpool(runner.start)
    try:
        yield
    finally:
        await run_in_threadpool(runner.shutdown)


def _ensure_partitions() -> None:
    """The months ahead of event, event_step and outbox (gis.partitions), when missing."""
    with session_scope(get_request_engine()) as session:
        if not partitions.is_partitioned(session):
            return  # not migrated yet: `gridgov migrate` creates them
        if partitions.coverage(session).months_ahead < partitions.months_ahead_setting():
            partitions.ensure(session)


def create_app() -> FastAPI:
    """Build the application with its routers and error handlers."""
    # The stock docs pages load Swagger UI and ReDoc from a CDN; these serve them locally.
    app = FastAPIOffline(
        title="gridgov 网格化社会治理",
        description="Grids, buildings, residents and events of a city on PostGIS.",
        version="0.1.0",
        # PostgreSQL text cannot hold NUL characters: refuse them in the path and query with a
        # sentence, not a 500 (bodies are checked where they are parsed, after the gate).
        dependencies=[Depends(no_nul)],
        lifespan=_lifespan,
    )
    errors.install(app)
    input_checks.install(app)
    access_log.install()
    # Body sizes are enforced while the body streams in, before any route parses it.
    app.add_middleware(BodyLimitMiddleware)
    # Outermost: with development secrets, nobody but this machine is answered at all.
    app.add_middleware(LoopbackOnlyWithWeakSecrets)
    for module in (
        health,
        auth,
        grids,
        addresses,
        parts,
        recut,
        people,
        ledger,
        tasks,
        shared,
        callbacks,  # before events: its POST /api/events/{code}/callbacks is not an action
        subtasks,  # before events too: POST /api/events/{code}/subtasks is not an action
        events,
        supervision,
        devices,
        reference,
        rulings,
        stats,
        bulletins,
        imports,
        open311,
        pages,
        maps,
        reports,
        tiles,
        rentals,
        ogc,
        sharing_pages,
        patrols,
        analysis,
        weekly_page,
        recurrence,
    ):
        app.include_router(module.router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    # check_dir=False: a checkout without `npm ci` still serves the API; pages then say why.
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")
    return app


app = create_app()
