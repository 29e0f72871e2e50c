"""The tamper-evident record (防篡改留痕): event steps and unmasked-PII reads sealed into a chain
per district; an edit, a deletion, a backdated insert, a removed or altered link and a chain
rewritten wholesale are each found and named. Tampering is done in plain SQL, as someone
behind the application would; the chain hashes are recomputed here with hashlib."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
from sqlalchemy import text

from events.audit import SEAL_SLACK, anchors, read_anchors, row_hash, seal, verify
from people.access import log_pii_read
from tests.events.workflow_city import MONDAY_10, do, file
from tests.factories import DISTRICT

OTHER = "420503"


def _count(session, sql: str, **params: Any) -> int:
    return session.execute(text(sql), params).scalar_one()


class Link(NamedTuple):
    seq: int
    source: str
    row_id: int
    row_hash: bytes
    chain_hash: bytes


def _links(session, district: str = DISTRICT) -> list[Any]:
    rows = session.execute(
        text(
            "SELECT seq, source, row_id, row_hash, chain_hash FROM audit_seal "
            "WHERE district_code = :d ORDER BY seq"
        ),
        {"d": district},
    ).all()
    return [Link(r.seq, r.source, r.row_id, bytes(r.row_hash), bytes(r.chain_hash)) for r in rows]


@pytest.fixture
def record(city) -> dict[str, Any]:
    """Two cases with a few steps each, two reads of unmasked data in this district and one in
    another, all sealed."""
    session = city["session"]
    first = file(city)
    do(city, "disp_w", first, "sign", MONDAY_10 + timedelta(minutes=5))
    second = file(city, now=MONDAY_10 + timedelta(minutes=10))
    for district, why in ((DISTRICT, "核实来电人"), (DISTRICT, "走访"), (OTHER, "协查")):
        log_pii_read(
            session, actor=city["admin"], district_code=district, fields="phone", reason=why
        )
    report = seal(session)
    return {"session": session, "codes": [first.code, second.code], "report": report}


def test_every_step_and_read_is_sealed_once_in_a_chain_per_district(record):
    session = record["session"]
    steps = _count(session, "SELECT count(*) FROM event_step WHERE district_code = :d", d=DISTRICT)
    reads = _count(
        session, "SELECT count(*) FROM pii_access_log WHERE district_code = :d", d=DISTRICT
    )
    links = _links(session)
    assert len(links) == steps + reads and steps >= 4 and reads == 2
    assert [link.seq for link in links] == list(range(1, len(links) + 1))
    previous = bytes(32)
    for link in links:  # the chain, recomputed independently
        assert link.chain_hash == hashlib.sha256(previous + link.row_hash).digest()
        previous = link.chain_hash
    assert [link.seq for link in _links(session, OTHER)] == [1]  # its own numbering
    assert record["report"].sealed == {DISTRICT: len(links), OTHER: 1}
    assert seal(session).total == 0  # nothing new: nothing added
    assert verify(session).intact


def test_new_rows_are_appended_after_the_head(city, record):
    session = record["session"]
    before = _links(session)
    do(city, "disp_w", record["codes"][1], "sign", datetime.now(UTC))
    assert seal(session).sealed == {DISTRICT: 1}
    after = _links(session)
    assert after[:-1] == before and after[-1].seq == before[-1].seq + 1
    assert (
        after[-1].chain_hash == hashlib.sha256(before[-1].chain_hash + after[-1].row_hash).digest()
    )


def test_a_step_changed_in_sql_is_named(record):
    session = record["session"]
    victim = _links(session)[2]
    assert victim.source == "event_step"
    session.execute(
        text("UPDATE event_step SET note = '已处置' WHERE id = :id"), {"id": victim.row_id}
    )
    report = verify(session)
    (found,) = report.breaks
    assert (found.kind, found.source, found.row_id, found.seq) == (
        "changed",
        "event_step",
        victim.row_id,
        victim.seq,
    )
    assert f"event_step row {victim.row_id}" in found.message and "changed" in found.message


def test_a_read_of_personal_data_deleted_in_sql_is_named(record):
    session = record["session"]
    read = next(link for link in _links(session) if link.source == "pii_access_log")
    session.execute(text("DELETE FROM pii_access_log WHERE id = :id"), {"id": read.row_id})
    (found,) = verify(session).breaks
    assert (found.kind, found.row_id, found.seq) == ("deleted", read.row_id, read.seq)
    assert "deleted" in found.message


def _backdated_step(session, code: str, at) -> int:
    return session.execute(
        text(
            "INSERT INTO event_step (district_code, event_id, action, to_status, note, data, at) "
            "SELECT district_code, id, 'close', 'closed', '补录', '{}'::jsonb, :at "
            "FROM event WHERE code = :code RETURNING id"
        ),
        {"code": code, "at": at},
    ).scalar_one()


def test_a_backdated_insert_is_refused_by_the_sealer_and_named(record):
    session = record["session"]
    watermark = session.execute(
        text("SELECT max(row_at) FROM audit_seal WHERE district_code = :d"), {"d": DISTRICT}
    ).scalar_one()
    inside = _backdated_step(session, record["codes"][0], watermark - SEAL_SLACK)
    forged = _backdated_step(
        session, record["codes"][0], watermark - SEAL_SLACK - timedelta(seconds=1)
    )
    report = seal(session)
    # At the slack's edge a late commit is chained; one second older is a forgery.
    assert report.sealed == {DISTRICT: 1} and report.backdated == {DISTRICT: 1}
    assert _links(session)[-1].row_id == inside
    (found,) = verify(session).breaks
    assert (found.kind, found.source, found.row_id) == ("backdated", "event_step", forged)
    assert "inserted behind the application" in found.message


def test_a_removed_link_and_an_altered_link_are_named(record):
    session = record["session"]
    session.execute(
        text("DELETE FROM audit_seal WHERE district_code = :d AND seq = 2"), {"d": DISTRICT}
    )
    (found,) = verify(session).breaks
    assert (found.kind, found.seq) == ("link_missing", 2)
    session.rollback()


def test_a_link_whose_row_hash_was_recomputed_breaks_the_chain(record):
    session = record["session"]
    victim = _links(session)[1]
    session.execute(text("UPDATE event_step SET note = '改' WHERE id = :id"), {"id": victim.row_id})
    row = (
        session.execute(text("SELECT * FROM event_step WHERE id = :id"), {"id": victim.row_id})
        .mappings()
        .one()
    )
    session.execute(
        text("UPDATE audit_seal SET row_hash = :h WHERE district_code = :d AND seq = :s"),
        {"h": row_hash("event_step", row), "d": DISTRICT, "s": victim.seq},
    )
    (found,) = verify(session).breaks
    assert (found.kind, found.seq) == ("link_altered", victim.seq)


def test_a_chain_rewritten_wholesale_passes_alone_but_not_against_its_anchor(record):
    session = record["session"]
    exported = [a.line() for a in anchors(session, at=MONDAY_10)]
    victim = _links(session)[0]
    session.execute(
        text("UPDATE event_step SET note = '改写' WHERE id = :id"), {"id": victim.row_id}
    )
    # The forger recomputes every link after the edit.
    previous = bytes(32)
    for link in _links(session):
        table = link.source
        row = (
            session.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": link.row_id})
            .mappings()
            .one()
        )
        digest = row_hash(table, row)
        previous = hashlib.sha256(previous + digest).digest()
        session.execute(
            text(
                "UPDATE audit_seal SET row_hash = :h, chain_hash = :c "
                "WHERE district_code = :d AND seq = :s"
            ),
            {"h": digest, "c": previous, "d": DISTRICT, "s": link.seq},
        )
    assert verify(session).intact
    report = verify(session, anchors=read_anchors(exported))
    (found,) = report.breaks
    assert (found.district_code, found.kind) == (DISTRICT, "anchor")
    assert "rewritten" in found.message


def test_anchors_name_each_districts_head(record):
    session = record["session"]
    heads = {a.district_code: a for a in anchors(session, at=MONDAY_10)}
    last = _links(session)[-1]
    assert (heads[DISTRICT].seq, heads[DISTRICT].chain_hash) == (last.seq, last.chain_hash.hex())
    assert heads[OTHER].seq == 1
    assert verify(session, anchors=read_anchors(a.line() for a in heads.values())).intact


@pytest.mark.parametrize("line", ["not json", '{"district_code": "420502"}', "[1, 2]"])
def test_a_file_that_is_not_anchors_is_refused_with_its_line(line):
    with pytest.raises(ValueError, match="line 2 of the anchors"):
        read_anchors(["", line])
