"""Exporting the ledger: residents in the actor's scope, masked unless asked and allowed."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis import export_guard
from grid.models import Building, House
from people.access import READ_PERSONS, UNMASK, Actor, grid_scope, require_grid, require_role
from people.exceptions import InvalidRecord
from people.ledger.columns import COLUMNS
from people.ledger.files import atomic, check_suffix, xlsx_writer
from people.models import PiiAccessLog, Residence, Resident, Sex
from people.pii import get_cipher
from people.service import DOC_CONTEXT, PHONE_CONTEXT

# Data rows that fit one Excel sheet (1,048,576 rows less the header and a note row).
XLSX_MAX_ROWS: Final = 1_048_574
MASKED_NOTE: Final = (
    "注意：本文件的证件号码和联系电话已脱敏，出生日期只显示年份，不能再导入"
    "（需要修改后再导入时，请用 --unmasked 导出）。"
    " Masked export: ID numbers and phones are masked and birth dates show the year only, "
    "so this file cannot be re-imported; "
    "export with --unmasked to edit and re-import."
)


def export_residents(
    session: Session,
    *,
    actor: Actor,
    path: str | Path,
    grid_code: str | None = None,
    area_code: str | None = None,
    unmasked: bool = False,
    reason: str | None = None,
) -> int:
    """Write the active residents in the actor's scope to a ledger file; returns the count.

    Masked by default (such a file cannot be re-imported). `unmasked` needs a role allowed to
    see personal data and a reason, and writes one access-log row for the whole export.
    """
    require_role(actor, READ_PERSONS, "export residents")
    target = Path(path)
    suffix = check_suffix(target)
    if unmasked:
        require_role(actor, UNMASK, "export unmasked ID numbers and phones")
        if reason is None or len(reason.strip()) < 4:
            raise InvalidRecord(
                "say why you need the unmasked ledger (at least a few words); "
                "the reason is kept in the access log"
            )
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
    stmt = _export_query(actor, grid_code, area_code)
    if suffix == ".xlsx":
        count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        if count > XLSX_MAX_ROWS:
            raise InvalidRecord(
                f"{count} residents do not fit one Excel sheet ({XLSX_MAX_ROWS} rows); "
                "export to .csv, or narrow the export with a grid or area"
            )
    cipher = get_cipher()
    header = [c.header for c in COLUMNS]
    note = None if unmasked else MASKED_NOTE
    written = 0
    rows = session.execute(stmt, execution_options={"yield_per": 5_000})
    with _ledger_writer(target, header, note) as write:
        for row in rows:
            write(_export_row(row, cipher, unmasked))
            written += 1
    if unmasked:
        assert reason is not None
        session.add(
            PiiAccessLog(
                staff_id=actor.staff_id,
                resident_id=None,
                district_code=actor.log_district,
                fields="bulk_export",
                reason=f"{reason.strip()} (exported {written} residents unmasked to {target.name})"[
                    :300
                ],
            )
        )
        session.flush()
    return written


def _export_query(actor: Actor, grid_code: str | None, area_code: str | None) -> Any:
    from grid.service import area_prefix

    house_code = Building.code + "-" + House.unit + "-" + House.room
    stmt = (
        select(
            Resident.name,
            Resident.former_name,
            Resident.sex,
            Resident.birth_date,
            Resident.doc_type,
            Resident.doc_enc,
            Resident.doc_masked,
            Resident.ethnicity,
            Resident.native_place,
            Resident.registered_address,
            Resident.phone_enc,
            Resident.phone_masked,
            Resident.education,
            Resident.occupation,
            Resident.employer,
            Resident.marital_status,
            Resident.political_status,
            Resident.residence_type,
            Resident.origin,
            Resident.arrival_date,
            Resident.arrival_reason,
            Resident.permit_number,
            Resident.permit_expiry,
            house_code.label("house_code"),
            Residence.moved_in,
            Resident.relation_to_head,
        )
        .outerjoin(House, Resident.house_id == House.id)
        .outerjoin(Building, House.building_id == Building.id)
        .outerjoin(
            Residence, (Residence.resident_id == Resident.id) & Residence.moved_out.is_(None)
        )
        .where(Resident.active, grid_scope(actor, Resident.grid_code))
        .order_by(Resident.grid_code, house_code, Resident.name, Resident.id)
    )
    if grid_code:
        stmt = stmt.where(Resident.grid_code == grid_code)
    if area_code:
        stmt = stmt.where(Resident.grid_code.startswith(area_prefix(area_code)))
    return stmt


def _export_row(row: Any, cipher: Any, unmasked: bool) -> list[Any]:
    if unmasked:
        number = cipher.decrypt(row.doc_enc, context=DOC_CONTEXT)
        phone = cipher.decrypt(row.phone_enc, context=PHONE_CONTEXT) if row.phone_enc else None
    else:
        number, phone = row.doc_masked, row.phone_masked
    values = {
        "name": row.name,
        "former_name": row.former_name,
        "sex": row.sex.label if row.sex is not Sex.UNKNOWN else None,
        # A masked file gives the year only: with the check character the full date would
        # narrow the ID number to a handful of candidates (people/pii.py).
        "birth_date": row.birth_date if unmasked or row.birth_date is None else row.birth_date.year,
        "doc_type": row.doc_type.label,
        "doc_number": number,
        "phone": phone,
        "residence_type": row.residence_type.label,
        "house_code": row.house_code,
        "moved_in": row.moved_in,
    }
    out = []
    for c in COLUMNS:
        value = values[c.key] if c.key in values else getattr(row, c.key)
        out.append(value.isoformat() if isinstance(value, date) else value)
    return out


@contextmanager
def _ledger_writer(
    target: Path, header: list[str], note: str | None
) -> Iterator[Callable[[list[Any]], None]]:
    if target.suffix.lower() == ".xlsx":
        text_columns = [i for i, c in enumerate(COLUMNS) if c.text_format]
        with xlsx_writer(
            target, header, text_columns=text_columns, note=note, with_notes_sheet=True
        ) as write:
            yield write
        return
    with atomic(target) as part, part.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        if note:
            writer.writerow([note])
        writer.writerow(header)
        yield lambda row: writer.writerow(export_guard.neutralise_row(row))
