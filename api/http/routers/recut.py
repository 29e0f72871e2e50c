"""Re-cutting a community's grids (网格调整): admins only, everything in one transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.http.auth import ADMIN, allow
from api.http.deps import SessionDep
from api.recut import recut
from api.schemas import NewGridCollection, RecutReport
from people.access import Actor

router = APIRouter(prefix="/api", tags=["grids 网格"])

Admin = Annotated[Actor, allow(ADMIN)]
CommunityPath = Annotated[
    str, Path(pattern=r"^[0-9]{12}$", description="12-digit community (社区) code")
]


@router.post("/communities/{code}/recut", response_model=RecutReport)
def recut_grids(
    session: SessionDep, actor: Admin, code: CommunityPath, body: NewGridCollection
) -> RecutReport:
    """Replace the community's grids and re-assign buildings, houses, residents, open events
    and visit plans; answers what moved where. Invalid grids: 400, nothing changed."""
    new_grids = []
    for feature in body.features:
        properties = feature.properties or {}
        new_grids.append(
            (
                properties.get("code"),
                properties.get("name"),
                feature.geometry,
                properties.get("grid_type"),
                properties.get("households"),
            )
        )
    return recut(session, community_code=code, new_grids=new_grids)
