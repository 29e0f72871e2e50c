"""The monthly 考核通报 (evaluation bulletin) for leaders and the command centre: JSON per
grouping, or the whole workbook (xlsx, a sheet per grouping)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.http.auth import allow
from api.http.deps import ReadSessionDep
from events.bulletin import READ_BULLETIN, BulletinGrouping, bulletin_workbook, monthly_bulletin
from events.schemas import Bulletin
from people.access import Actor

router = APIRouter(prefix="/api/bulletins", tags=["bulletins 考核通报"])

Readers = Annotated[Actor, allow(READ_BULLETIN)]
Month = Annotated[str, Path(description="the month, YYYY-MM (China time)", max_length=7)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Declared before /{month}, which would take "2026-11.xlsx" for a month otherwise.
@router.get("/{month}.xlsx", response_class=Response)
def bulletin_xlsx(session: ReadSessionDep, actor: Readers, month: Month) -> Response:
    """The month's 考核通报 of my area as an xlsx workbook: a sheet per grouping, ranked."""
    content = bulletin_workbook(session, actor=actor, month=month)
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="bulletin-{month}.xlsx"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/{month}", response_model=Bulletin)
def bulletin(
    session: ReadSessionDep,
    actor: Readers,
    month: Month,
    by: Annotated[
        BulletinGrouping, Query(description="unit, department, street, community, worker")
    ] = "unit",
) -> Bulletin:
    """The month's 考核通报 of my area: the groups ranked by 综合得分 (mean 考评 score)."""
    return monthly_bulletin(session, actor=actor, month=month, by=by)
