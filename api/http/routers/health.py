"""Liveness of the service, its database and its read replica."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.http.auth import PUBLIC
from api.http.deps import SessionDep
from gis.db import postgis_version
from gis.replica import read_router

router = APIRouter(tags=["health 健康检查"])


@router.get("/api/health", dependencies=[PUBLIC])
def health(session: SessionDep) -> dict[str, Any]:
    """Database reachable, PostGIS version and the replica's state; 503 when the database is down.

    `replica.state` is `not_configured`, `ok` (with `lag_s`), `lagging` or `down`; in the last
    two the dashboards read from the primary (`reads_from`), so the service itself is ok.
    """
    return {
        "status": "ok",
        "database": "ok",
        "postgis": postgis_version(session),
        "replica": read_router().health().report(),
    }
