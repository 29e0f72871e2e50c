"""Liveness of the service and its database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from gis.db import postgis_version, session_scope

router = APIRouter(tags=["health 健康检查"])


@router.get("/api/health")
def health() -> JSONResponse:
    """Database reachable and PostGIS version; 503 when the database is down."""
    try:
        with session_scope() as session:
            version = postgis_version(session)
    except OperationalError:
        return JSONResponse(
            status_code=503,
            content={
                "status": "unavailable",
                "database": "unreachable",
                "detail": "the database is not reachable; try again in a minute",
            },
        )
    return JSONResponse({"status": "ok", "database": "ok", "postgis": version})
