"""The gridgov web application."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import access_log, errors
from api.auth import LoopbackOnlyWithWeakSecrets
from api.input_checks import no_nul
from api.routers import (
    auth,
    events,
    grids,
    health,
    imports,
    maps,
    open311,
    pages,
    people,
    reference,
    stats,
    tiles,
)
from api.templating import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL


def create_app() -> FastAPI:
    """Build the application with its routers and error handlers."""
    # The stock docs pages load Swagger UI and ReDoc from a CDN; these serve them locally.
    app = FastAPIOffline(
        title="gridgov 网格化社会治理",
        description="Grids, buildings, residents and events of a city on PostGIS.",
        version="0.1.0",
        # PostgreSQL text cannot hold NUL characters: refuse them with a sentence, not a 500.
        dependencies=[Depends(no_nul)],
    )
    errors.install(app)
    access_log.install()
    app.add_middleware(LoopbackOnlyWithWeakSecrets)
    for module in (
        health,
        auth,
        grids,
        people,
        events,
        reference,
        stats,
        imports,
        open311,
        pages,
        maps,
        tiles,
    ):
        app.include_router(module.router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    # check_dir=False: a checkout without `npm ci` still serves the API; pages then say why.
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")
    return app


app = create_app()
