"""Cross-checks (数据比对): a department's list of people compared with the resident ledger.

A department (the public-security bureau with a 户籍 extract, say) uploads a list — ID number,
name, address — for an area of its district. Compared with the active residents of that area:

- **missing_in_ledger** (名单有、台账无): on the list, not in the ledger of the area. The listed
  address is placed with the address matcher to find the grid; one that cannot be placed is
  stored without a task and reported back by row number;
- **extra_in_ledger** (台账有、名单无): a resident registered in the ledger as 户籍 in the area
  who is not on the list. When these outnumber the list's rows (and are over 50), the list
  plainly covers a smaller area than the one named: it is refused rather than raising a task
  for each of them;
- **address_differs** (地址不一致): on both, but the ledger's 户籍地址 differs from the listed
  address (compared with full-width, spaces and case folded).

Every difference is stored (`crosscheck_difference`) and, when it has a grid, becomes a 比对核查
task for the grid's workers (people.tasks.raise_task, kind crosscheck), one open task per
person and kind however often the list is sent again. The department gets counts and its own
rows back, never names from the ledger that were not on its list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.clock import local_today
from grid.addresses import place_address
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor, require_role
from people.documents import DocumentError, DocumentType, validate_id_card
from people.exceptions import Forbidden, InvalidRecord
from people.ledger.read import open_rows
from people.ledger.report import LedgerFileError
from people.models import (
    Crosscheck,
    CrosscheckDifference,
    ResidenceType,
    Resident,
    StaffRole,
    TaskKind,
)
from people.pii import mask_id_number, mask_name, normalise_lookup_value
from people.service import document_hash
from people.sharing import ADMINS, DEPARTMENT_STAFF
from people.tasks import raise_task

# Days a grid worker has to check a difference on site.
CROSSCHECK_DAYS: Final = 15
MAX_ROWS: Final = 50_000
MAX_ERRORS_SHOWN: Final = 10
# Below this many, 户籍 residents missing from a list are compared whatever the list's length.
MIN_EXTRA_REFUSED: Final = 50
HEADERS: Final = {
    "id_number": ("身份证号", "公民身份号码", "身份证号码", "证件号码", "id_number"),
    "name": ("姓名", "name"),
    "address": ("地址", "户籍地址", "住址", "address"),
}
KIND_LABELS: Final = {
    "missing_in_ledger": "名单有、台账无",
    "extra_in_ledger": "台账有、名单无",
    "address_differs": "地址不一致",
}


@dataclass(frozen=True)
class ListedPerson:
    """One row of the department's list, checked."""

    row_number: int
    number: str
    name: str
    address: str


class DifferenceRead(BaseModel):
    """A difference on one of the department's own rows."""

    row_number: int
    kind: str
    kind_label: str
    name: str
    doc_masked: str
    placed: bool


class CrosscheckRead(BaseModel):
    """What a cross-check found: counts by kind, tasks raised, and the list's own rows."""

    id: int
    filename: str
    area_code: str
    row_count: int
    counts: dict[str, int]
    # Differences with an open 比对核查 task (sending a list again reuses the open ones).
    tasks_open: int
    differences: list[DifferenceRead]


def _column_positions(header: list[Any], filename: str) -> dict[str, int]:
    cells = [str(c or "").strip().lower() for c in header]
    positions = {}
    for key, names in HEADERS.items():
        found = [i for i, cell in enumerate(cells) if cell in names]
        if not found:
            raise InvalidRecord(
                f"{filename} has no column {names[0]} ({key}) in its first row; "
                f"the list needs the columns {', '.join(n[0] for n in HEADERS.values())}"
            )
        positions[key] = found[0]
    return positions


def read_list(path: Path, filename: str) -> list[ListedPerson]:
    """The people of a CSV or xlsx list, every row checked; bad rows named by row number."""
    people: list[ListedPerson] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        with open_rows(path) as (rows, _):
            header = next(rows, None)
            if header is None:
                raise InvalidRecord(f"{filename} is empty")
            where = _column_positions(header, filename)
            for row_number, row in enumerate(rows, start=2):
                cells = [str(c).strip() if c is not None else "" for c in row]
                if not any(cells):
                    continue
                if len(people) + len(errors) >= MAX_ROWS:
                    raise InvalidRecord(f"{filename} has more than {MAX_ROWS} rows; split it")
                cell = {k: cells[i] if i < len(cells) else "" for k, i in where.items()}
                try:
                    number = validate_id_card(cell["id_number"]).number
                except DocumentError as exc:
                    errors.append(f"row {row_number}: {exc}")
                    continue
                if number in seen:
                    errors.append(f"row {row_number}: the same ID number as row {seen[number]}")
                    continue
                seen[number] = row_number
                people.append(ListedPerson(row_number, number, cell["name"], cell["address"]))
    except LedgerFileError as exc:
        raise InvalidRecord(str(exc)) from None
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        raise InvalidRecord(
            f"{filename} has {len(errors)} bad rows, nothing was compared: "
            + "; ".join(errors[:MAX_ERRORS_SHOWN])
            + (f"; and {more} more" if more > 0 else "")
        )
    return people


def _same_address(a: str | None, b: str | None) -> bool:
    return normalise_lookup_value(a or "") == normalise_lookup_value(b or "")


def run_crosscheck(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None,
    department_district: str | None,
    area_code: str,
    path: Path,
    filename: str,
    today: date | None = None,
) -> CrosscheckRead:
    """Compare a department's list with the ledger of `area_code` (in the department's
    district), store the differences and raise a 比对核查 task for each one with a grid."""
    require_role(actor, DEPARTMENT_STAFF, "send a list for cross-checking")
    if department_id is None or department_district is None:
        raise Forbidden("your account belongs to no department; cross-checks come from one")
    try:
        prefix = area_prefix(area_code)
    except InvalidQuery as exc:
        raise InvalidRecord(str(exc)) from None
    if not prefix.startswith(department_district):
        raise Forbidden(
            f"area {area_code} is outside your department's district ({department_district}); "
            "a department cross-checks its own district"
        )
    listed = read_list(path, filename)
    today = today or local_today()
    due = today + timedelta(days=CROSSCHECK_DAYS)
    residents = session.execute(
        select(
            Resident.id,
            Resident.doc_hash,
            Resident.name,
            Resident.doc_masked,
            Resident.registered_address,
            Resident.residence_type,
            Resident.grid_code,
            Resident.district_code,
        ).where(Resident.active, Resident.grid_code.startswith(prefix))
    ).all()
    by_hash = {bytes(r.doc_hash): r for r in residents}
    digests = [document_hash(DocumentType.ID_CARD, person.number) for person in listed]
    listed_hashes = set(digests)
    extra = sum(
        1
        for r in residents
        if r.residence_type is ResidenceType.REGISTERED and bytes(r.doc_hash) not in listed_hashes
    )
    if extra > max(MIN_EXTRA_REFUSED, len(listed)):
        # More 户籍 residents missing from the list than the list has rows: the list covers a
        # smaller area than the one named, and comparing would raise a task for each of them.
        raise InvalidRecord(
            f"{extra} residents registered (户籍) in area {area_code} are not on the list of "
            f"{len(listed)} people; name the area the list covers (a community or grid code) "
            "and send it again"
        )
    run = Crosscheck(
        district_code=department_district,
        department_id=department_id,
        staff_id=actor.staff_id,
        area_code=area_code,
        filename=filename[:200],
        row_count=len(listed),
        difference_count=0,
    )
    session.add(run)
    session.flush()
    found: list[CrosscheckDifference] = []
    mine: list[DifferenceRead] = []
    tasks = 0

    def record(difference: CrosscheckDifference, title: str, key: str) -> None:
        nonlocal tasks
        found.append(difference)
        if difference.grid_code:
            task = raise_task(
                session,
                kind=TaskKind.CROSSCHECK,
                district_code=difference.grid_code[:6],
                grid_code=difference.grid_code,
                subject="resident" if difference.resident_id else "crosscheck",
                subject_id=difference.resident_id or run.id,
                title=title,
                due_on=due,
                key=key,
                detail={
                    "crosscheck_id": run.id,
                    "kind": difference.kind,
                    "kind_label": KIND_LABELS[difference.kind],
                    "name": difference.name,
                    "doc_masked": difference.doc_masked,
                    "listed_address": difference.listed_address,
                    "ledger_address": difference.ledger_address,
                },
            )
            difference.task_id = task.id
            tasks += 1

    on_list: set[bytes] = set()
    for person, digest in zip(listed, digests, strict=True):
        on_list.add(digest)
        resident = by_hash.get(digest)
        masked = mask_id_number(person.number)
        if resident is None:
            placement = place_address(session, text=person.address, scope=[prefix])
            grid = placement.candidate.grid_code if placement.candidate else None
            kind = "missing_in_ledger"
            record(
                CrosscheckDifference(
                    district_code=department_district,
                    crosscheck_id=run.id,
                    kind=kind,
                    row_number=person.row_number,
                    grid_code=grid,
                    name=person.name[:50],
                    doc_masked=masked,
                    listed_address=person.address[:300] or None,
                ),
                f"比对核查 {KIND_LABELS[kind]}: {person.name} {masked}",
                f"crosscheck:{kind}:{digest.hex()[:32]}",
            )
        elif person.address and not _same_address(resident.registered_address, person.address):
            kind = "address_differs"
            record(
                CrosscheckDifference(
                    district_code=department_district,
                    crosscheck_id=run.id,
                    kind=kind,
                    row_number=person.row_number,
                    resident_id=resident.id,
                    grid_code=resident.grid_code,
                    name=resident.name,
                    doc_masked=resident.doc_masked,
                    listed_address=person.address[:300],
                    ledger_address=resident.registered_address,
                ),
                f"比对核查 {KIND_LABELS[kind]}: {resident.name} {resident.doc_masked}",
                f"crosscheck:{kind}:resident:{resident.id}",
            )
        else:
            continue
        mine.append(
            DifferenceRead(
                row_number=person.row_number,
                kind=kind,
                kind_label=KIND_LABELS[kind],
                name=mask_name(person.name),
                doc_masked=masked,
                placed=found[-1].grid_code is not None,
            )
        )
    for resident in residents:
        if resident.residence_type is not ResidenceType.REGISTERED:
            continue
        if bytes(resident.doc_hash) in on_list:
            continue
        kind = "extra_in_ledger"
        record(
            CrosscheckDifference(
                district_code=department_district,
                crosscheck_id=run.id,
                kind=kind,
                resident_id=resident.id,
                grid_code=resident.grid_code,
                name=resident.name,
                doc_masked=resident.doc_masked,
                ledger_address=resident.registered_address,
            ),
            f"比对核查 {KIND_LABELS[kind]}: {resident.name} {resident.doc_masked}",
            f"crosscheck:{kind}:resident:{resident.id}",
        )
    session.add_all(found)
    run.difference_count = len(found)
    session.flush()
    counts = dict.fromkeys(KIND_LABELS, 0)
    for difference in found:
        counts[difference.kind] += 1
    return CrosscheckRead(
        id=run.id,
        filename=run.filename,
        area_code=area_code,
        row_count=len(listed),
        counts=counts,
        tasks_open=tasks,
        differences=sorted(mine, key=lambda d: d.row_number),
    )


class CrosscheckSummary(BaseModel):
    """A past cross-check: who sent which list when, and what it found."""

    id: int
    department_id: int
    filename: str
    area_code: str
    row_count: int
    counts: dict[str, int]
    at: datetime


def list_crosschecks(
    session: Session, *, actor: Actor, department_id: int | None, limit: int = 50
) -> list[CrosscheckSummary]:
    """My department's cross-checks (every department's for an admin), newest first."""
    require_role(actor, DEPARTMENT_STAFF | ADMINS, "list cross-checks")
    stmt = select(Crosscheck).order_by(Crosscheck.at.desc(), Crosscheck.id.desc()).limit(limit)
    if actor.role is not StaffRole.ADMIN:
        stmt = stmt.where(Crosscheck.department_id == (department_id or 0))
    runs = session.scalars(stmt).all()
    counts: dict[int, dict[str, int]] = {run.id: dict.fromkeys(KIND_LABELS, 0) for run in runs}
    for run_id, kind, n in session.execute(
        select(CrosscheckDifference.crosscheck_id, CrosscheckDifference.kind, func.count())
        .where(CrosscheckDifference.crosscheck_id.in_(list(counts)))
        .group_by(CrosscheckDifference.crosscheck_id, CrosscheckDifference.kind)
    ):
        counts[run_id][kind] = n
    return [
        CrosscheckSummary(
            id=run.id,
            department_id=run.department_id,
            filename=run.filename,
            area_code=run.area_code,
            row_count=run.row_count,
            counts=counts[run.id],
            at=run.at,
        )
        for run in runs
    ]


__all__ = ["CrosscheckRead", "CrosscheckSummary", "list_crosschecks", "read_list", "run_crosscheck"]
