"""Re-cutting a community's grids (网格调整): admins only, everything in one transaction."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import ADMIN, allow
from api.http.deps import SessionDep
from api.recut import RecutReport, recut
from people.access import Actor

router = APIRouter(prefix="/api", tags=["grids 网格"])

Admin = Annotated[Actor, allow(ADMIN)]
CommunityPath = Annotated[
    str, Path(pattern=r"^[0-9]{12}$", description="12-digit community (社区) code")
]


class NewGridFeature(BaseModel):
    """One new grid: properties code, name[, grid_type, households]; a (Multi)Polygon."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    properties: dict[str, Any] | None = None
    geometry: dict[str, Any] | None = None


class NewGridCollection(BaseModel):
    """The community's new grids as GeoJSON, lon/lat in CGCS2000 (WGS84 is taken as it)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[NewGridFeature] = Field(max_length=5000)


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
