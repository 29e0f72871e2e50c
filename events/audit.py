"""The tamper-evident record (防篡改留痕): every event step, every read of unmasked personal
data and every read of a shared dataset by a department (共享调阅), chained per district, so
that an edit, a deletion or a backdated insert made in SQL behind the application is found and
named.

- `seal` appends the rows written since its last run to their district's chain (`audit_seal`):
  each link keeps the SHA-256 of the row's content and the chain hash
  sha256(previous link's chain hash ‖ row hash), numbered 1, 2, 3 … per district. Sealing runs
  after the fact (`gridgov audit seal --every 60`), so writing a step takes no district-wide
  lock and intake stays as fast as before; a row is protected from its first seal on.
- A row that turns up unsealed with a time older than its district's sealed watermark less
  `SEAL_SLACK` (a transaction still open when the last seal ran) is a backdated insert: sealing
  refuses to chain it and `verify` names it.
- `verify` recomputes every sealed row's hash and the chain, and names the first broken place
  per district: a row changed or deleted after sealing, a link removed or altered, a backdated
  row. A chain rewritten wholesale (rows and links) passes that check; the anchors catch it.
- `anchors` gives each district's head (link number and chain hash): `gridgov audit anchor`
  writes them to the log and exports them as JSON lines for safekeeping outside the database,
  and `verify` given that file checks the chain still passes through each exported head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from sqlalchemy import Table, exists, func, select, text, union
from sqlalchemy.orm import Session

from events.models import AuditSeal, EventStep
from people.models import PiiAccessLog, ShareAccessLog

# The chained tables: a row's content is all its columns.
SOURCES: Final[Mapping[str, Table]] = {
    "event_step": EventStep.__table__,  # type: ignore[dict-item]
    "pii_access_log": PiiAccessLog.__table__,  # type: ignore[dict-item]
    "share_access_log": ShareAccessLog.__table__,  # type: ignore[dict-item]
}
SEAL_SLACK: Final = timedelta(minutes=10)  # longer than any request's transaction
BACKDATED_WINDOW: Final = timedelta(days=1)  # how far back each sealing run looks for them
GENESIS: Final = bytes(32)  # the "previous chain hash" of a district's first link
BATCH: Final = 5000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_hash(source: str, row: Mapping[str, Any]) -> bytes:
    """SHA-256 of a row's content: the table's name and every column, as sorted JSON (times
    in UTC to the microsecond), so any change to any column changes it."""
    content = {"table": source} | {name: _plain(value) for name, value in row.items()}
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).digest()


def chain(previous: bytes, row: bytes) -> bytes:
    """A link's chain hash: sha256(previous link's chain hash ‖ this row's hash)."""
    return hashlib.sha256(previous + row).digest()


@dataclass
class SealReport:
    """What one sealing run did, per district."""

    sealed: dict[str, int] = field(default_factory=dict)  # district → links added
    backdated: dict[str, int] = field(default_factory=dict)  # district → rows refused

    @property
    def total(self) -> int:
        return sum(self.sealed.values())


@dataclass(frozen=True)
class Break:
    """The first broken place of a district's chain, in a sentence."""

    district_code: str
    kind: str  # changed, deleted, link_missing, link_altered, backdated, anchor
    source: str | None
    row_id: int | None
    seq: int | None
    message: str


@dataclass
class VerifyReport:
    """What `verify` checked and the first break of each district (none: intact)."""

    districts: int = 0
    links: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks


@dataclass(frozen=True)
class Anchor:
    """A district's head: the number and chain hash of its last link, at a time."""

    district_code: str
    seq: int
    chain_hash: str  # hex
    at: str  # ISO time the anchor was taken

    def line(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, sort_keys=True)


def districts(session: Session) -> list[str]:
    """The districts with chained rows: those of the sources and of the links."""
    parts = [select(t.c.district_code).distinct() for t in SOURCES.values()]
    parts.append(select(AuditSeal.district_code).distinct())
    return sorted(session.scalars(union(*parts)))


def _head(session: Session, district: str) -> tuple[int, bytes, datetime | None]:
    last = session.execute(
        select(AuditSeal.seq, AuditSeal.chain_hash)
        .where(AuditSeal.district_code == district)
        .order_by(AuditSeal.seq.desc())
        .limit(1)
    ).first()
    watermark = session.scalar(
        select(func.max(AuditSeal.row_at)).where(AuditSeal.district_code == district)
    )
    return (last.seq, last.chain_hash, watermark) if last else (0, GENESIS, None)


def _unsealed(
    session: Session,
    district: str,
    source: str,
    *,
    since: datetime | None,
    before: datetime | None = None,
) -> Iterator[Mapping[str, Any]]:
    table = SOURCES[source]
    sealed = exists().where(
        AuditSeal.district_code == table.c.district_code,
        AuditSeal.source == source,
        AuditSeal.row_id == table.c.id,
    )
    query = select(table).where(table.c.district_code == district, ~sealed)
    if since is not None:
        query = query.where(table.c.at >= since)
    if before is not None:
        query = query.where(table.c.at < before)
    for row in session.execute(query.order_by(table.c.at, table.c.id)).mappings():
        yield dict(row)


def seal(
    session: Session, *, district: str | None = None, slack: timedelta = SEAL_SLACK
) -> SealReport:
    """Chain every unsealed row of each district (or one) in time order; a row older than the
    district's watermark less `slack` is counted as backdated and left out of the chain."""
    report = SealReport()
    for code in [district] if district else districts(session):
        # One sealer per district at a time; writers of steps are never held.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"audit:{code}"})
        seq, previous, watermark = _head(session, code)
        since = watermark - slack if watermark is not None else None
        rows = sorted(
            (
                (row["at"], source, row["id"], row_hash(source, row))
                for source in SOURCES
                for row in _unsealed(session, code, source, since=since)
            ),
            key=lambda r: (r[0], r[1], r[2]),
        )
        links = []
        for at, source, row_id, digest in rows:
            seq += 1
            previous = chain(previous, digest)
            links.append(
                AuditSeal(
                    district_code=code,
                    seq=seq,
                    source=source,
                    row_id=row_id,
                    row_at=at,
                    row_hash=digest,
                    chain_hash=previous,
                )
            )
        session.add_all(links)
        session.flush()
        if links:
            report.sealed[code] = len(links)
        if since is not None:
            # Rows older than `since` are never chained. The sealer reports those of the last
            # day before it (an index range, cheap every minute); `verify` checks them all.
            window = since - BACKDATED_WINDOW
            late = sum(
                1 for s in SOURCES for _ in _unsealed(session, code, s, since=window, before=since)
            )
            if late:
                report.backdated[code] = late
    return report


def _rows(session: Session, source: str, district: str, ids: Iterable[int]) -> dict[int, Any]:
    table = SOURCES[source]
    query = select(table).where(table.c.district_code == district, table.c.id.in_(list(ids)))
    return {row["id"]: row for row in session.execute(query).mappings()}


def _first_break(session: Session, district: str, report: VerifyReport) -> Break | None:
    previous, expected_seq, watermark = GENESIS, 1, None
    links = session.scalars(
        select(AuditSeal)
        .where(AuditSeal.district_code == district)
        .order_by(AuditSeal.seq)
        .execution_options(yield_per=BATCH)
    )
    batch: list[AuditSeal] = []

    def check(batch: Sequence[AuditSeal]) -> Break | None:
        nonlocal previous, expected_seq, watermark
        rows = {
            source: _rows(
                session, source, district, [k.row_id for k in batch if k.source == source]
            )
            for source in SOURCES
        }
        for link in batch:
            report.links += 1
            where = f"{link.source} row {link.row_id} (district {district}, link {link.seq})"
            if link.seq != expected_seq:
                return Break(
                    district,
                    "link_missing",
                    link.source,
                    link.row_id,
                    expected_seq,
                    f"link {expected_seq} of district {district} is missing: a link of the "
                    f"chain was deleted (the next one is {link.seq})",
                )
            if chain(previous, link.row_hash) != link.chain_hash:
                return Break(
                    district,
                    "link_altered",
                    link.source,
                    link.row_id,
                    link.seq,
                    f"link {link.seq} of district {district} was altered: its chain hash does "
                    "not follow from the link before it",
                )
            row = rows.get(link.source, {}).get(link.row_id)
            if row is None:
                return Break(
                    district,
                    "deleted",
                    link.source,
                    link.row_id,
                    link.seq,
                    f"{where} was deleted after it was sealed",
                )
            if row_hash(link.source, row) != link.row_hash:
                return Break(
                    district,
                    "changed",
                    link.source,
                    link.row_id,
                    link.seq,
                    f"{where} was changed after it was sealed",
                )
            previous, expected_seq = link.chain_hash, expected_seq + 1
            watermark = link.row_at if watermark is None else max(watermark, link.row_at)
        return None

    for link in links:
        batch.append(link)
        if len(batch) == BATCH:
            if found := check(batch):
                return found
            batch = []
    if batch and (found := check(batch)):
        return found
    if watermark is not None:
        before = watermark - SEAL_SLACK
        for source in SOURCES:
            for row in _unsealed(session, district, source, since=None, before=before):
                return Break(
                    district,
                    "backdated",
                    source,
                    row["id"],
                    None,
                    f"{source} row {row['id']} (district {district}) is dated "
                    f"{row['at']:%Y-%m-%d %H:%M:%S}, before rows already sealed, and is in no "
                    "link: it was inserted behind the application",
                )
    return None


def read_anchors(lines: Iterable[str]) -> list[Anchor]:
    """Anchors from exported JSON lines (blank lines skipped)."""
    anchors = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            anchors.append(
                Anchor(
                    district_code=str(fields["district_code"]),
                    seq=int(fields["seq"]),
                    chain_hash=str(fields["chain_hash"]),
                    at=str(fields["at"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"line {number} of the anchors is not an anchor exported by gridgov audit "
                f"anchor ({exc})"
            ) from None
    return anchors


def verify(
    session: Session, *, district: str | None = None, anchors: Sequence[Anchor] = ()
) -> VerifyReport:
    """Recompute each district's chain (or one's) and check it against exported anchors."""
    report = VerifyReport()
    for code in [district] if district else districts(session):
        report.districts += 1
        found = _first_break(session, code, report)
        if found is None:
            for anchor in (a for a in anchors if a.district_code == code):
                kept = session.scalar(
                    select(AuditSeal.chain_hash).where(
                        AuditSeal.district_code == code, AuditSeal.seq == anchor.seq
                    )
                )
                if kept is None or kept.hex() != anchor.chain_hash:
                    found = Break(
                        code,
                        "anchor",
                        None,
                        None,
                        anchor.seq,
                        f"the chain of district {code} no longer passes through the head "
                        f"exported at {anchor.at} (link {anchor.seq}): it was rewritten",
                    )
                    break
        if found is not None:
            report.breaks.append(found)
    return report


def anchors(session: Session, *, at: datetime) -> list[Anchor]:
    """Each district's head now: the number and chain hash of its last link."""
    last = (
        select(AuditSeal.district_code, func.max(AuditSeal.seq).label("seq"))
        .group_by(AuditSeal.district_code)
        .subquery()
    )
    heads = session.execute(
        select(AuditSeal.district_code, AuditSeal.seq, AuditSeal.chain_hash)
        .join(
            last,
            (last.c.district_code == AuditSeal.district_code) & (last.c.seq == AuditSeal.seq),
        )
        .order_by(AuditSeal.district_code)
    ).all()
    return [
        Anchor(district_code=d, seq=s, chain_hash=h.hex(), at=at.isoformat(timespec="seconds"))
        for d, s, h in heads
    ]


__all__ = [
    "SEAL_SLACK",
    "SOURCES",
    "Anchor",
    "Break",
    "SealReport",
    "VerifyReport",
    "anchors",
    "chain",
    "read_anchors",
    "row_hash",
    "seal",
    "verify",
]
