"""Staging a batch in TEMP tables, checking it set-based against the database, writing it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any, Final

from sqlalchemy import Integer, String, column, func, insert, literal, or_, select, table, text
from sqlalchemy.orm import Session

from gis.bulk import copy_rows
from grid.addresses import place_address
from people import identity
from people.access import Actor, grid_scope, scope_prefixes
from people.exceptions import PeopleError
from people.ledger.check import (
    SEQ_ADDRESS,
    SEQ_HISTORY,
    SEQ_HOUSE,
    SEQ_PERSON,
    SEQ_SCOPE,
    STAGE_COLUMNS,
)
from people.ledger.columns import TEXT_KEYS
from people.ledger.read import Layout
from people.models import StaffRole

IMPORT_REASON: Final = "台账导入"  # residence.reason of stays opened by an import

_BATCH: Final = "_ledger_batch"  # the rows of the batch being written
_LINK: Final = "_ledger_link"  # one narrow row per batch row: its house, resident, residence
ERROR_TABLE: Final = "_ledger_error"  # every problem of the import
_TEMP_TABLES: Final = (_BATCH, _LINK, ERROR_TABLE)
_ERROR_COLUMNS: Final = ("row_no", "seq", "col", "reason")
_STAGE_TYPES: Final = {
    "row_no": "int PRIMARY KEY",
    "ok": "boolean",
    "doc_enc": "bytea",
    "doc_hash": "bytea",
    "phone_enc": "bytea",
    "birth_date": "date",
    "arrival_date": "date",
    "permit_expiry": "date",
    "moved_in": "date",
}


def drop_temp(session: Session) -> None:
    """Drop the TEMP tables of an import, if they are there."""
    for name in _TEMP_TABLES:
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))


def create_temp(session: Session) -> None:
    """The TEMP tables of an import; small (one batch each) but for the error list."""
    drop_temp(session)
    columns = ", ".join(f"{c} {_STAGE_TYPES.get(c, 'text')}" for c in STAGE_COLUMNS)
    # ON COMMIT DROP cleans up after a commit; the explicit drop lets imports share a transaction.
    for ddl in (
        f"CREATE TEMP TABLE {_BATCH} ({columns}) ON COMMIT DROP",
        f"""CREATE TEMP TABLE {_LINK} (
            row_no int PRIMARY KEY, ok boolean, house_code text, has_house boolean,
            building_id int, matches int, house_id int, grid_code text, district_code text,
            moved_in date, resident_id int, resident_grid text, open_house_id int,
            open_moved_in date, new_id int, resident_district text) ON COMMIT DROP""",
        f"CREATE TEMP TABLE {ERROR_TABLE} (row_no int, seq int, col text, reason text) "
        "ON COMMIT DROP",
        f"CREATE INDEX ON {ERROR_TABLE} (row_no)",
    ):
        session.execute(text(ddl))


_error_table = table(
    ERROR_TABLE, column("row_no", Integer), column("seq", Integer), column("col"), column("reason")
)
_link_table = table(
    _LINK,
    column("row_no", Integer),
    column("house_code", String),
    column("house_id", Integer),
    column("grid_code", String),
    column("resident_id", Integer),
    column("resident_grid", String),
)


class BatchWriter:
    """Checks and writes batches on a helper thread while the caller reads the next one.

    psycopg2 releases the GIL while the server works, so Python validating batch k+1 and
    PostgreSQL checking and indexing batch k run on two cores. One batch is in flight at most,
    and the session is only touched by one thread at a time.
    """

    def __init__(self, session: Session, actor: Actor, layout: Layout, today: date) -> None:
        self.session, self.actor, self.layout, self.today = session, actor, layout, today
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-write")
        self.pending: Future[None] | None = None
        self.inserted = self.updated = self.written = 0
        # Residents when the import began, and as many as the statistics last described.
        self.residents_before = self.analysed = _estimated_residents(session)

    def submit(self, rows: list[tuple[Any, ...]], errors: list[tuple[Any, ...]]) -> None:
        """Queue a batch, once the one before it is written (raising what it raised)."""
        self.wait()
        self.pending = self.pool.submit(self._write_batch, rows, errors)

    def wait(self) -> None:
        """Wait for the batch in flight."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        """Wait for the last batch and stop the thread."""
        try:
            self.wait()
        finally:
            self.pool.shutdown()

    def _write_batch(self, rows: list[tuple[Any, ...]], errors: list[tuple[Any, ...]]) -> None:
        session = self.session
        place_by_address(session, self.actor, rows, errors, self.layout.name("house_code"))
        session.execute(text(f"TRUNCATE {_BATCH}, {_LINK}"))
        # The rows are text, numbers, dates and None already (RowChecker.check).
        copy_rows(session, table=ERROR_TABLE, columns=_ERROR_COLUMNS, rows=errors, convert=False)
        copy_rows(session, table=_BATCH, columns=STAGE_COLUMNS, rows=rows, convert=False)
        if self.residents_before + self.inserted > 2 * self.analysed:
            # The import has more than doubled the tables since their statistics were taken;
            # ANALYZE counts this transaction's own rows, so the plans stay index probes.
            session.execute(text("ANALYZE resident, residence"))
            self.analysed = _estimated_residents(session)
        with _index_probes(session):
            _link_batch(session, self.actor.home_district)
            _sql_checks(session, self.actor, self.layout, self.today)
            inserted, updated = _write(session, self.today)
        self.inserted += inserted
        self.updated += updated
        self.written += len(rows)


_HOUSE_AT: Final = STAGE_COLUMNS.index("house_code")


def place_by_address(
    session: Session,
    actor: Actor,
    rows: list[tuple[Any, ...]],
    errors: list[tuple[Any, ...]],
    column: str,
) -> None:
    """Give rows whose 房屋编码 cell holds an address the house that address surely means
    (grid.addresses.place_address, within the importer's grids or area); a row it does not
    surely place is rejected with the reason, never dropped or placed at a guess."""
    scope = scope_prefixes(actor)
    for i, row in enumerate(rows):
        address, building_code = row[_HOUSE_AT], row[_HOUSE_AT + 1]
        if address is None or building_code is not None:
            continue
        placed = place_address(session, text=address, scope=scope)
        found = placed.candidate
        if found is not None and found.house_code is None:
            reason = (
                f"地址“{address}” is building {found.building_code} ({found.address}), but names "
                "no house in it: add the 单元 and 室 (e.g. 3单元502) or give the 房屋编码"
            )
        elif found is not None and found.house_code is not None:
            building, unit, room = found.house_code.rsplit("-", 2)
            rows[i] = (
                *row[:_HOUSE_AT],
                found.house_code,
                building,
                unit,
                room,
                *row[_HOUSE_AT + 4 :],
            )
            continue
        else:
            reason = placed.reason or f"地址“{address}” was not placed"
        rows[i] = (row[0], "f", *row[2:_HOUSE_AT], None, None, None, None, *row[_HOUSE_AT + 4 :])
        errors.append((row[0], SEQ_ADDRESS, column, reason))


def _estimated_residents(session: Session) -> int:
    """How many residents the planner believes there are."""
    estimate = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = CAST('resident' AS regclass)")
    ).scalar_one()
    return max(int(estimate), 0)


# Planner settings for a batch's statements (see _index_probes).
_PROBE_SETTINGS: Final = {
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "jit": "off",
}


@contextmanager
def _index_probes(session: Session) -> Iterator[None]:
    """Plan the batch's statements as index probes per batch row, whatever the statistics say.

    Each statement joins one batch (thousands of rows) to tables of millions; a plan that scans
    or hashes a whole table once per batch makes a large import quadratic. Statistics lag
    behind an import that fills the tables (the writer re-analyses as they grow), and the
    costs these settings produce would switch on JIT compilation, which takes longer than the
    statements. The settings are transaction-local and put back afterwards.
    """
    names = list(_PROBE_SETTINGS)
    previous = session.execute(
        text(
            "SELECT array_agg(current_setting(n) ORDER BY i) "
            "FROM unnest(:names) WITH ORDINALITY s(n, i)"
        ),
        {"names": names},
    ).scalar_one()

    def apply(values: Sequence[str]) -> None:
        session.execute(
            text("SELECT set_config(n, v, true) FROM unnest(:names, :values) s(n, v)"),
            {"names": names, "values": list(values)},
        )

    apply(list(_PROBE_SETTINGS.values()))
    try:
        yield
    finally:
        apply(previous)


def _link_batch(session: Session, home_district: str | None) -> None:
    """For each row of the batch: its house (by code), the resident already holding its
    document (in any district: `person_identity`), that resident's open residence, and the
    district whose ledger the row goes to (the house's, the resident's, or the importer's).

    Run under _index_probes: each lookup is an index probe per row, whatever the table sizes.
    """
    session.execute(
        text(
            f"""
            INSERT INTO {_LINK}
            SELECT s.row_no, s.ok, s.house_code, s.building_code IS NOT NULL,
                   b.id, h.matches, CASE WHEN h.matches = 1 THEN h.house_id END,
                   b.grid_code, coalesce(b.district_code, r.district_code, :home), s.moved_in,
                   r.id, r.grid_code, o.house_id, o.moved_in,
                   CASE WHEN r.id IS NULL
                        THEN nextval(pg_get_serial_sequence('resident', 'id')) END,
                   r.district_code
            FROM {_BATCH} s
            LEFT JOIN LATERAL (
                SELECT id, grid_code, district_code FROM building WHERE code = s.building_code
            ) b ON true
            LEFT JOIN LATERAL (
                SELECT min(id) AS house_id, count(*) AS matches FROM house
                WHERE building_id = b.id AND unit = s.unit AND room = s.room
            ) h ON s.building_code IS NOT NULL
            LEFT JOIN LATERAL (
                SELECT r.id, r.grid_code, r.district_code
                FROM person_identity i
                JOIN resident r ON r.id = i.resident_id AND r.district_code = i.district_code
                WHERE i.doc_type = CAST(s.doc_type AS document_type) AND i.doc_hash = s.doc_hash
            ) r ON true
            LEFT JOIN LATERAL (
                SELECT house_id, moved_in FROM residence
                WHERE resident_id = r.id AND district_code = r.district_code
                  AND moved_out IS NULL
            ) o ON true
            """
        ),
        {"home": home_district},
    )


def _scope_words(actor: Actor) -> str:
    if actor.role is StaffRole.GRID_WORKER:
        return "your grids " + (", ".join(sorted(actor.grid_codes)) or "(none)")
    return f"your area {actor.area_code or '(none)'}"


def _sql_checks(session: Session, actor: Actor, layout: Layout, today: date) -> None:
    """Unknown or ambiguous houses, scope and residence history, for the batch."""
    session.execute(
        text(
            f"""
            INSERT INTO {ERROR_TABLE} (row_no, seq, col, reason)
            SELECT row_no, {SEQ_HOUSE}, :col,
                   CASE WHEN building_id IS NULL
                        THEN 'house ' || house_code || ': building '
                             || split_part(house_code, '-', 1) || ' does not exist; '
                             || 'check the building code'
                        WHEN matches = 0
                        THEN 'house ' || house_code || ' does not exist: its building has no '
                             || 'such unit and room; check the unit and room'
                        ELSE 'house code ' || house_code || ' matches ' || matches
                             || ' houses on different floors; ask the admin to fix the rooms'
                   END
            FROM {_LINK}
            WHERE has_house AND (building_id IS NULL OR matches <> 1)
            """
        ),
        {"col": layout.name("house_code")},
    )
    if actor.role is not StaffRole.ADMIN:
        _scope_checks(
            session,
            actor,
            house_column=layout.name("house_code"),
            doc_column=layout.name("doc_number"),
        )
    session.execute(
        text(
            f"""
            INSERT INTO {ERROR_TABLE} (row_no, seq, col, reason)
            SELECT row_no, {SEQ_HISTORY}, :col,
                   'moving in on ' || coalesce(moved_in, CAST(:today AS date))
                   || ' is before the current residence began (' || open_moved_in
                   || '); residence history cannot be rewritten, so give the day they moved '
                   || 'in here, on or after that'
            FROM {_LINK}
            WHERE house_id IS NOT NULL AND open_house_id IS NOT NULL
              AND open_house_id <> house_id
              AND coalesce(moved_in, CAST(:today AS date)) < open_moved_in
            """
        ),
        {"col": layout.name("moved_in"), "today": today},
    )
    # The district is where a record is kept and never changes: a move to another district
    # goes through move-in (迁入) one person at a time, which carries the record across.
    session.execute(
        text(
            f"""
            INSERT INTO {ERROR_TABLE} (row_no, seq, col, reason)
            SELECT row_no, {SEQ_PERSON}, :col,
                   CASE WHEN resident_district IS NOT NULL
                        THEN 'this person is registered in the ledger of district '
                             || resident_district || ', and house ' || house_code
                             || ' is in another district; move them one by one with move-in '
                             || '(迁入), which carries the record to the new district'
                        ELSE 'give house_code: your account covers several districts, and the '
                             || 'house decides whose ledger the person joins (请填写房屋编码)'
                   END
            FROM {_LINK}
            WHERE ok AND ((NOT has_house AND district_code IS NULL)
                          OR resident_district <> district_code)
            """
        ),
        {"col": layout.name("house_code")},
    )
    session.execute(
        text(
            f"""
            UPDATE {_LINK} l SET ok = false FROM (
                SELECT DISTINCT row_no FROM {ERROR_TABLE}
                WHERE row_no BETWEEN (SELECT min(row_no) FROM {_LINK})
                                 AND (SELECT max(row_no) FROM {_LINK})
            ) e
            WHERE l.row_no = e.row_no AND l.ok
            """
        )
    )


def _scope_checks(session: Session, actor: Actor, *, house_column: str, doc_column: str) -> None:
    """Houses, and people already in the ledger, outside the actor's grids or area."""
    link = _link_table
    outside = f", outside {_scope_words(actor)}"

    def reject(seq: int, col: str, reason: Any, grid: Any, *where: Any) -> None:
        # A record in no grid is outside every scope but the admin's (Actor.can_see_grid).
        session.execute(
            insert(_error_table).from_select(
                list(_ERROR_COLUMNS),
                select(link.c.row_no, literal(seq), literal(col), reason).where(
                    *where, or_(grid.is_(None), ~grid_scope(actor, grid))
                ),
            )
        )

    grid = func.coalesce(link.c.grid_code, "(none)")
    reject(
        SEQ_SCOPE,
        house_column,
        literal("house ")
        + link.c.house_code
        + " is in grid "
        + grid
        + outside
        + "; only residents of your own grids or area can be imported",
        link.c.grid_code,
        link.c.house_id.is_not(None),
    )
    # Never which grid: an import must not tell where a person outside one's scope lives.
    reject(
        SEQ_PERSON,
        doc_column,
        literal("this person is already registered outside ")
        + literal(_scope_words(actor))
        + "; ask the command centre (指挥中心) to move them into your grid "
        "(该人员已在其他网格登记)",
        link.c.resident_grid,
        link.c.resident_id.is_not(None),
    )


def _optional(name: str) -> str:
    return f"{name} = coalesce(s.{name}, r.{name})"


def _write(session: Session, today: date) -> tuple[int, int]:
    """Insert the batch's new residents, update known ones, and move those whose house changed."""
    # A blank cell leaves the stored value alone: an import never erases what it was not given.
    texts = ", ".join(_optional(k) for k in TEXT_KEYS)
    params = {"today": today, "reason": IMPORT_REASON}
    inserted = session.execute(
        text(
            f"""
            INSERT INTO resident (id, doc_type, doc_enc, doc_hash, doc_masked, name, sex,
                birth_date, phone_enc, phone_masked, residence_type, {", ".join(TEXT_KEYS)},
                arrival_date, permit_expiry, house_id, grid_code, district_code, active)
            SELECT l.new_id, CAST(s.doc_type AS document_type), s.doc_enc, s.doc_hash,
                s.doc_masked, s.name, CAST(coalesce(s.sex, 'unknown') AS sex), s.birth_date,
                s.phone_enc, s.phone_masked, CAST(s.residence_type AS residence_type),
                {", ".join("s." + k for k in TEXT_KEYS)},
                s.arrival_date, s.permit_expiry, l.house_id, l.grid_code, l.district_code, true
            FROM {_BATCH} s JOIN {_LINK} l USING (row_no)
            WHERE l.ok AND l.resident_id IS NULL
            ON CONFLICT (doc_type, doc_hash, district_code) DO NOTHING
            """
        )
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult
    expected = session.execute(
        text(f"SELECT count(*) FROM {_LINK} WHERE ok AND resident_id IS NULL")
    ).scalar_one()
    taken = identity.claim_imported(
        session,
        f"(SELECT r.doc_type, r.doc_hash, r.district_code, r.id FROM resident r "
        f"JOIN {_LINK} l ON r.id = l.new_id AND r.district_code = l.district_code "
        "WHERE l.ok AND l.resident_id IS NULL) AS imported",
    )
    if inserted != expected or taken:
        raise PeopleError(
            f"{expected - inserted} of the residents in the file were registered by someone "
            "else while the import ran; nothing was imported, so import the file again"
        )
    updated = session.execute(
        text(
            f"""
            WITH s AS MATERIALIZED (  -- the batch's known residents; probes into resident
                SELECT b.*, l.resident_id, l.house_id, l.grid_code, l.district_code
                FROM {_BATCH} b JOIN {_LINK} l USING (row_no)
                WHERE l.ok AND l.resident_id IS NOT NULL
            )
            UPDATE resident r SET
                name = s.name,
                sex = CAST(coalesce(s.sex, CAST(r.sex AS text)) AS sex),
                birth_date = coalesce(s.birth_date, r.birth_date),
                phone_enc = coalesce(s.phone_enc, r.phone_enc),
                phone_masked = coalesce(s.phone_masked, r.phone_masked),
                residence_type = CAST(s.residence_type AS residence_type),
                {texts},
                arrival_date = coalesce(s.arrival_date, r.arrival_date),
                permit_expiry = coalesce(s.permit_expiry, r.permit_expiry),
                house_id = coalesce(s.house_id, r.house_id),
                grid_code = coalesce(s.grid_code, r.grid_code),
                active = r.active OR s.house_id IS NOT NULL,
                updated_at = now()
            FROM s
            WHERE r.id = s.resident_id AND r.district_code = s.district_code
            """
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        text(
            f"""
            WITH moving AS MATERIALIZED (  -- probes into residence, never a scan of it
                SELECT resident_id, house_id, moved_in FROM {_LINK}
                WHERE ok AND resident_id IS NOT NULL AND house_id IS NOT NULL
                  AND open_house_id <> house_id
            )
            UPDATE residence o SET moved_out = coalesce(m.moved_in, CAST(:today AS date))
            FROM moving m
            WHERE o.resident_id = m.resident_id AND o.moved_out IS NULL
            """
        ),
        params,
    )
    session.execute(
        text(
            f"""
            INSERT INTO residence (resident_id, district_code, house_id, moved_in, reason)
            SELECT coalesce(l.resident_id, l.new_id), l.district_code, l.house_id,
                   coalesce(l.moved_in, CAST(:today AS date)), :reason
            FROM {_LINK} l
            WHERE l.ok AND l.house_id IS NOT NULL
              AND l.open_house_id IS DISTINCT FROM l.house_id
            """
        ),
        params,
    )
    return int(inserted), int(updated)
