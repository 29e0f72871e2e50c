"""Liveness of the service and its database."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.auth import PUBLIC
from api.http.deps import SessionDep
from gis.db import postgis_version

router = APIRouter(tags=["health 健康检查"])


@router.get("/api/health", dependencies=[PUBLIC])
def health(session: SessionDep) -> dict[str, str]:
    """Database reachable and PostGIS version; 503 (from the error handler) when it is down."""
    return {"status": "ok", "database": "ok", "postgis": postgis_version(session)}
