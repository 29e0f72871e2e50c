"""The gridgov web application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import errors
from api.auth import PUBLIC, LoginThrottle
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

INDEX_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>gridgov 网格化社会治理</title>
<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto;line-height:1.6}</style>
</head><body>
<h1>gridgov 网格化社会治理平台</h1>
<p>Grid-based social governance GIS. 接口 / endpoints:</p>
<ul>
<li><a href="/docs">/docs</a> — 接口文档 OpenAPI docs (<a href="/redoc">ReDoc</a>)</li>
<li><a href="/api/health">/api/health</a> — 健康检查 health</li>
<li><a href="/api/grids?page_size=20">/api/grids</a> — 网格 grids (GeoJSON)</li>
<li><a href="/api/buildings?page_size=20">/api/buildings</a> — 建筑 buildings (GeoJSON)</li>
<li><a href="/api/locate?lon=111.29&amp;lat=30.71">/api/locate?lon=111.29&amp;lat=30.71</a>
 — 定位 locate a point</li>
</ul></body></html>"""


def create_app() -> FastAPI:
    """Build the application with its routers and error handlers."""
    # The stock docs pages load Swagger UI and ReDoc from a CDN; these serve them locally.
    app = FastAPIOffline(
        title="gridgov 网格化社会治理",
        description="Grids, buildings, residents and events of a city on PostGIS.",
        version="0.1.0",
    )
    errors.install(app)
    app.state.login_throttle = LoginThrottle()
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

    @app.get("/", include_in_schema=False, response_class=HTMLResponse, dependencies=[PUBLIC])
    def index() -> str:
        return INDEX_HTML

    return app


app = create_app()
