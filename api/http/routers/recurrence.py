"""Recurrence clusters (重复发生) and their 源头治理 tasks over HTTP: list, read, detect, accept,
close.

Thin: the rules (who sees which cluster, who may accept or close, what a closing report must
say) are in `events.recurrence`; every refusal comes back as a sentence.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, text_body
from api.http.deps import SessionDep
from events import recurrence
from events.recurrence import (
    ClusterClose,
    ClusterDetail,
    ClusterRead,
    DetectionInput,
    DetectionRun,
)
from people.access import Actor

router = APIRouter(prefix="/api/recurrences", tags=["recurrence 重复发生与源头治理"])

# Units read their own tasks, the command centre and leaders those of their area.
Reader = Annotated[Actor, allow(recurrence.READERS)]
Runner = Annotated[Actor, allow(recurrence.RUNNERS)]
Lead = Annotated[Actor, allow(recurrence.LEADS)]
ClusterId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the cluster's number")]
WHAT = "recurrence"
SEND = "the text fields only"


@router.get("", response_model=list[ClusterRead])
def list_clusters(
    session: SessionDep,
    actor: Reader,
    status: Annotated[
        str | None, Query(max_length=20, description="open, accepted or closed")
    ] = None,
    district: Annotated[str | None, Query(pattern=r"^\d{6}$", description="district")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ClusterRead]:
    """The clusters I may see (my unit's tasks, or my area's), unfinished ones first by deadline."""
    return recurrence.list_visible(
        session, actor=actor, district_code=district, status=status, limit=limit
    )


@router.post(
    "/detect", response_model=DetectionRun, openapi_extra=body_doc(DetectionInput, required=False)
)
def detect(session: SessionDep, actor: Runner, submission: SubmissionDep) -> DetectionRun:
    """Run recurrence detection now: my district (command centre) or any (admin). JSON or form."""
    entry = text_body(DetectionInput, submission, what=WHAT, send=SEND)
    return recurrence.run_for(session, actor=actor, entry=entry)


@router.get("/{cluster_id}", response_model=ClusterDetail)
def get_cluster(session: SessionDep, actor: Reader, cluster_id: ClusterId) -> ClusterDetail:
    """One cluster: its events, timeline and GeoJSON (a leader's without single events)."""
    return recurrence.get_cluster(session, actor=actor, cluster_id=cluster_id)


@router.post("/{cluster_id}/accept", response_model=ClusterRead)
def accept(session: SessionDep, actor: Lead, cluster_id: ClusterId) -> ClusterRead:
    """The lead unit accepts (接收) its root-cause task."""
    return recurrence.accept(session, actor=actor, cluster_id=cluster_id)


@router.post(
    "/{cluster_id}/close",
    response_model=ClusterRead,
    openapi_extra=body_doc(ClusterClose, required=True),
)
def close(
    session: SessionDep, actor: Lead, cluster_id: ClusterId, submission: SubmissionDep
) -> ClusterRead:
    """The lead unit closes (办结) the task with what it changed at the source. JSON or form."""
    entry = text_body(ClusterClose, submission, what=WHAT, send=SEND)
    return recurrence.close(session, actor=actor, cluster_id=cluster_id, entry=entry)
