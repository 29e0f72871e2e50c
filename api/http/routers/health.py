"""Liveness of the service, its database and its read replica."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.http.auth import PUBLIC
from api.http.deps import SessionDep
from gis.db import postgis_version
from gis.partitions import coverage
from gis.replica import read_router

router = APIRouter(tags=["health 健康检查"])


@router.get("/api/health", dependencies=[PUBLIC])
def health(session: SessionDep) -> dict[str, Any]:
    """Database reachable, PostGIS version, partitions ahead and the replica's state; 503
    (from the error handler) when the database is down.

    `partition_months_ahead`: how many months after the current one the case history can
    take rows for; under 2 the status is "warning" with a sentence (the daily
    `gridgov db partitions` has stopped). `replica.state` is `not_configured`, `ok` (with
    `lag_s`), `lagging` or `down`; in the last two the dashboards read from the primary
    (`reads_from`), so the service itself is ok.
    """
    covered = coverage(session)
    return {
        "status": "warning" if covered.warning else "ok",
        "database": "ok",
        "postgis": postgis_version(session),
        "partition_months_ahead": covered.months_ahead,
        "warning": covered.warning,
        "replica": read_router().health().report(),
    }
