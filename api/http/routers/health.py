"""Liveness of the service and its database."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.auth import PUBLIC
from api.http.deps import SessionDep
from gis.db import postgis_version
from gis.partitions import coverage

router = APIRouter(tags=["health 健康检查"])


@router.get("/api/health", dependencies=[PUBLIC])
def health(session: SessionDep) -> dict[str, str | int | None]:
    """Database reachable and PostGIS version; 503 (from the error handler) when it is down.

    `partition_months_ahead`: how many months after the current one the case history can
    take rows for; under 2 the status is "warning" with a sentence (the daily
    `gridgov db partitions` has stopped).
    """
    covered = coverage(session)
    return {
        "status": "warning" if covered.warning else "ok",
        "database": "ok",
        "postgis": postgis_version(session),
        "partition_months_ahead": covered.months_ahead,
        "warning": covered.warning,
    }
