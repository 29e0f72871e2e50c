"""The monthly 考核通报 (evaluation bulletin): the 考评 of the cases closed in a month, rolled up
per unit, department, street, community or grid worker and ranked by 综合得分.

The cohort is every evaluation (`event_evaluation`, see events.evaluation) of a case closed in
the month (China time) within the reader's area; a group's figures are:

- cases (考评件数): evaluated cases; score (综合得分) = the mean of their scores, 0–100;
- on time (按期办结): cases none of whose stages ended late; on-time rate = on time / cases;
- extended (延期件数): cases with at least one approved extension;
- returns (退回次数) and reopens (重办次数): the steps, summed;
- reworked (返工件数): cases with at least one rework; rework rate = reworked / cases;
- supervised (被督办件数): cases with at least one supervision step;
- satisfied, fairly satisfied, dissatisfied (满意/基本满意/不满意): callbacks reached at the
  latest closing; satisfaction rate = (满意 + 基本满意) / those three.

Grades (等级) by the score: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below 60 (GRADE_BANDS).
Groups are ranked by score, highest first (rank 1; equal scores share a rank and are listed
with more cases first); the cases of no unit (self-resolved, answered at once) or not reported
by a grid worker form a group listed after the ranking, unranked.
Leaders and the command centre read it for their area (admins everywhere); units do not.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from events.exceptions import Forbidden, InvalidReport
from events.kpis import area_scope, group_names, period_bounds
from events.models import EventEvaluation, Satisfaction
from events.schemas import Bulletin, BulletinRow
from gis.clock import CHINA_TZ
from gis.export_guard import xlsx_row
from grid.models import AdminUnit
from grid.service import area_prefix
from people.access import Actor
from people.models import StaffRole

BulletinGrouping = Literal["unit", "department", "street", "community", "worker"]
BULLETIN_GROUPINGS: Final[tuple[BulletinGrouping, ...]] = (
    "unit",
    "department",
    "street",
    "community",
    "worker",
)
GROUPING_LABELS: Final = {
    "unit": "承办单位",
    "department": "部门",
    "street": "街道",
    "community": "社区",
    "worker": "网格员",
}
READ_BULLETIN: Final = frozenset({StaffRole.LEADER, StaffRole.COMMAND, StaffRole.ADMIN})
# (lowest score of the band, grade): 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below.
GRADE_BANDS: Final = ((90.0, "优"), (80.0, "良"), (60.0, "中"), (0.0, "差"))
_NO_KEY: Final = {
    "unit": "（未派遣）",
    "department": "（未派遣）",
    "street": "（无街道）",
    "community": "（无社区）",
    "worker": "（非网格员上报）",
}
_MONTH: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def grade(score: float | None) -> str | None:
    """The grade (优/良/中/差) of a score, None for no score."""
    if score is None:
        return None
    return next(label for low, label in GRADE_BANDS if score >= low)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) in China time of a month written YYYY-MM."""
    if not _MONTH.match(month.strip()):
        raise InvalidReport(f"month '{month}' is not a month written YYYY-MM, e.g. 2026-11")
    return period_bounds(month.strip())


def _key(by: str) -> Any:
    return {
        "unit": EventEvaluation.unit_id,
        "department": EventEvaluation.department_id,
        "street": EventEvaluation.street_code,
        "community": EventEvaluation.community_code,
        "worker": EventEvaluation.worker_id,
    }[by]


def _scope(actor: Actor) -> ColumnElement[bool]:
    if actor.role not in READ_BULLETIN:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not read the 考核通报 "
            "(evaluation bulletin); it is for leaders and the command centre"
        )
    e = EventEvaluation
    return area_scope(
        actor, grid_code=e.grid_code, district_code=e.district_code, unit_id=e.unit_id
    )


def bulletin_rows(
    session: Session, *, actor: Actor, start: datetime, end: datetime, by: str
) -> list[BulletinRow]:
    """The groups' figures for cases closed in [start, end) in the actor's area, ranked."""
    if by not in BULLETIN_GROUPINGS:
        raise InvalidReport(
            f"cannot group the bulletin by '{by}'; use one of {', '.join(BULLETIN_GROUPINGS)}"
        )
    e = EventEvaluation
    key = _key(by)

    def cases(*where: ColumnElement[bool]) -> Any:
        return func.count().filter(*where)

    query = (
        select(
            key.label("key"),
            func.count().label("cases"),
            func.avg(e.score).label("score"),
            cases(e.late_stages == 0).label("on_time"),
            cases(e.extensions > 0).label("extended"),
            func.sum(e.returns).label("returns"),
            cases(e.reworks > 0).label("reworked"),
            cases(e.supervisions > 0).label("supervised"),
            func.sum(e.reopens).label("reopens"),
            cases(e.satisfaction == Satisfaction.SATISFIED).label("satisfied"),
            cases(e.satisfaction == Satisfaction.FAIRLY_SATISFIED).label("fairly_satisfied"),
            cases(e.satisfaction == Satisfaction.DISSATISFIED).label("dissatisfied"),
        )
        .where(e.closed_at >= start, e.closed_at < end, _scope(actor))
        .group_by(key)
    )
    found = session.execute(query).all()
    names = group_names(session, by, [str(r.key) for r in found if r.key is not None])
    rows = [
        BulletinRow(
            rank=None,
            key=None if r.key is None else str(r.key),
            name=_NO_KEY[by] if r.key is None else names.get(str(r.key), str(r.key)),
            cases=r.cases,
            score=round(float(r.score), 2),
            grade=grade(round(float(r.score), 2)) or "",
            on_time=r.on_time,
            extended=r.extended,
            returns=int(r.returns or 0),
            reworked=r.reworked,
            supervised=r.supervised,
            reopens=int(r.reopens or 0),
            satisfied=r.satisfied,
            fairly_satisfied=r.fairly_satisfied,
            dissatisfied=r.dissatisfied,
        )
        for r in found
    ]
    ranked = sorted(
        (r for r in rows if r.key is not None), key=lambda r: (-r.score, -r.cases, r.name)
    )
    # The cases of no unit (no grid worker …) are listed after the ranking, unranked.
    ranks = competition_ranks([row.score for row in ranked])
    return [
        row.model_copy(update={"rank": rank}) for row, rank in zip(ranked, ranks, strict=True)
    ] + [row for row in rows if row.key is None]


def competition_ranks(scores: Sequence[float]) -> list[int]:
    """Ranks of scores sorted best first, equal scores sharing one (1, 2, 2, 4): one more than
    the number scoring higher, i.e. the position of the first of its score. Linear, for the
    thousands of grid workers of a city."""
    ranks: list[int] = []
    for position, score in enumerate(scores, start=1):
        tied = position > 1 and score == scores[position - 2]
        ranks.append(ranks[-1] if tied else position)
    return ranks


def area_name(session: Session, actor: Actor) -> str:
    """The name of the area a bulletin covers: the actor's admin area, or every district."""
    if actor.role is StaffRole.ADMIN or not actor.area_code:
        return "全部辖区"
    prefix = area_prefix(actor.area_code)
    name = session.scalar(select(AdminUnit.name).where(AdminUnit.code == prefix.ljust(12, "0")))
    return name or f"辖区 {actor.area_code}"


def monthly_bulletin(
    session: Session, *, actor: Actor, month: str, by: str = "unit", now: datetime | None = None
) -> Bulletin:
    """The 考核通报 of `month` (YYYY-MM) for the actor's area, grouped `by`."""
    start, end = month_bounds(month)
    rows = bulletin_rows(session, actor=actor, start=start, end=end, by=by)
    return Bulletin(
        month=month.strip(),
        area=area_name(session, actor),
        by=by,
        by_label=GROUPING_LABELS[by],
        start=start,
        end=end,
        last_day=(end - timedelta(days=1)).date(),
        generated_at=(now or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ),
        grade_bands=[
            f"{label} ≥ {low:g}" if low else f"{label} < 60" for low, label in GRADE_BANDS
        ],
        rows=rows,
    )


# The workbook's columns: header (Chinese, English), the row's value.
COLUMNS: Final = (
    ("排名 Rank", lambda r: r.rank),
    ("名称 Name", lambda r: r.name),
    ("综合得分 Score", lambda r: r.score),
    ("等级 Grade", lambda r: r.grade),
    ("考评件数 Cases", lambda r: r.cases),
    ("按期办结率 On time", lambda r: r.on_time_rate),
    ("延期件数 Extended", lambda r: r.extended),
    ("退回次数 Returns", lambda r: r.returns),
    ("返工率 Rework rate", lambda r: r.rework_rate),
    ("被督办件数 Supervised", lambda r: r.supervised),
    ("重办次数 Reopened", lambda r: r.reopens),
    ("满意率 Satisfaction", lambda r: r.satisfaction_rate),
    ("满意/基本满意/不满意", lambda r: f"{r.satisfied}/{r.fairly_satisfied}/{r.dissatisfied}"),
)
_RATES: Final = {"按期办结率 On time", "返工率 Rework rate", "满意率 Satisfaction"}


def bulletin_workbook(
    session: Session, *, actor: Actor, month: str, now: datetime | None = None
) -> bytes:
    """The 考核通报 of `month` as an xlsx workbook: a sheet per grouping, ranked by 综合得分,
    under a title naming the area and the month; text that looks like a formula stays text."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = openpyxl.Workbook(write_only=True)
    bold, title_font = Font(bold=True), Font(bold=True, size=14)
    for by in BULLETIN_GROUPINGS:
        b = monthly_bulletin(session, actor=actor, month=month, by=by, now=now)
        sheet = workbook.create_sheet(f"按{b.by_label}")
        for i in range(1, len(COLUMNS) + 1):
            sheet.column_dimensions[get_column_letter(i)].width = 28 if i == 2 else 13
        title = WriteOnlyCell(sheet, value=f"{b.area} {b.month} 考核通报（按{b.by_label}）")
        title.font = title_font
        sheet.append(xlsx_row(sheet, [title]))
        sheet.append(
            xlsx_row(
                sheet,
                [
                    f"考评期：{b.start:%Y-%m-%d} 至 {b.last_day:%Y-%m-%d} 结案的案件；"
                    f"等级：{'，'.join(b.grade_bands)}；生成于 {b.generated_at:%Y-%m-%d %H:%M}"
                ],
            )
        )
        headers = []
        for header, _ in COLUMNS:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            headers.append(cell)
        sheet.append(headers)
        for row in b.rows:
            cells: list[Any] = []
            for header, value in COLUMNS:
                cell = value(row)
                if header in _RATES and cell is not None:  # a styled cell only where needed
                    cell = WriteOnlyCell(sheet, value=cell)
                    cell.number_format = "0.0%"
                cells.append(cell)
            sheet.append(xlsx_row(sheet, cells))
        if not b.rows:
            sheet.append(["本月无考评案件 (no case closed this month)"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


__all__ = [
    "BULLETIN_GROUPINGS",
    "GRADE_BANDS",
    "READ_BULLETIN",
    "BulletinGrouping",
    "bulletin_rows",
    "bulletin_workbook",
    "competition_ranks",
    "grade",
    "month_bounds",
    "monthly_bulletin",
]
