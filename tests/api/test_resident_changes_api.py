"""HTTP: residents' writes kept in the ledger's history (ledger_change) like houses and
organisations, and the POSTs a phone resends after working offline (register, move in, move
out) counted once by their Idempotency-Key.

Expectations are read back with plain SQL on the tables, not through the services under test.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import text

from tests.api.people_city import GRID_A, as_
from tests.factories import id_number

NEW_NUMBER = id_number(41, birth=date(1992, 7, 8))
NEW = {
    "doc_number": NEW_NUMBER,
    "name": "赵六",
    "house_code": "BA-1-0101",
    "moved_in": "2024-05-01",
}


def _count(session, sql: str, **params) -> int:
    return session.execute(text(sql), params).scalar_one()


def _changes(session, resident_id: int) -> list[tuple]:
    """The history rows of one resident written through the API (not the city's own setup,
    which the admin account registered)."""
    return [
        tuple(row)
        for row in session.execute(
            text(
                "SELECT c.action, s.username, c.before, c.after, c.idempotency_key "
                "FROM ledger_change c JOIN staff s ON s.id = c.staff_id "
                "WHERE c.entity = 'resident' AND c.entity_id = :r AND s.username <> 'boss' "
                "ORDER BY c.id"
            ),
            {"r": resident_id},
        )
    ]


def _with_number(session, number_masked_from: int) -> str:
    return session.execute(
        text("SELECT doc_masked FROM resident WHERE id = :r"), {"r": number_masked_from}
    ).scalar_one()


# --- registering ----------------------------------------------------------------------------------


def test_a_resent_registration_answers_with_the_first_resident_and_registers_once(
    client, people_city
):
    session = people_city["session"]
    headers = {**as_(people_city, "worker_a"), "Idempotency-Key": "5b1c-resident-1"}
    before = _count(session, "SELECT count(*) FROM resident")
    first = client.post("/api/residents", headers=headers, json=NEW)
    again = client.post("/api/residents", headers=headers, json=NEW)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    assert _count(session, "SELECT count(*) FROM resident") == before + 1
    resident = first.json()["id"]
    assert _count(session, "SELECT count(*) FROM residence WHERE resident_id = :r", r=resident) == 1
    rows = _changes(session, resident)
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("create", "worker_a", None, "5b1c-resident-1")
    ]
    after = rows[0][3]
    assert after["name"] == "赵六" and after["house_code"] == "BA-1-0101"
    assert after["grid_code"] == GRID_A and after["active"] is True
    # Masked as the ledger shows it: the clear number is nowhere in the history.
    assert after["doc_masked"] == _with_number(session, resident)
    assert NEW_NUMBER not in json.dumps(rows, ensure_ascii=False)


def test_without_a_key_the_same_person_sent_twice_is_refused_as_registered(client, people_city):
    headers = as_(people_city, "worker_a")
    assert client.post("/api/residents", headers=headers, json=NEW).status_code == 201
    again = client.post("/api/residents", headers=headers, json=NEW)
    assert again.status_code == 409 and "already registered" in again.json()["error"]["message"]


def test_a_key_is_the_accounts_own_and_one_per_form(client, people_city):
    session = people_city["session"]
    key = {"Idempotency-Key": "5b1c-resident-2"}
    made = client.post("/api/residents", headers={**as_(people_city, "worker_a"), **key}, json=NEW)
    assert made.status_code == 201
    # Another account sending the key is told to make its own, not shown worker_a's resident.
    other = {**NEW, "doc_number": id_number(43)}
    stolen = client.post("/api/residents", headers={**as_(people_city, "admin"), **key}, json=other)
    assert stolen.status_code == 409 and "another account" in stolen.json()["error"]["message"]
    # The same key sent to move somebody is a different form: refused, nothing moved.
    zhang = people_city["residents"]["zhang"]
    moved = client.post(
        f"/api/residents/{zhang}/move-in",
        headers={**as_(people_city, "worker_a"), **key},
        json={"house_code": "BA-1-0201", "on": "2025-03-01"},
    )
    assert moved.status_code == 409 and "new key" in moved.json()["error"]["message"]
    assert _count(session, "SELECT count(*) FROM residence WHERE resident_id = :r", r=zhang) == 1


def test_a_resent_registration_outside_ones_grids_is_still_refused(client, people_city):
    headers = {**as_(people_city, "worker_b"), "Idempotency-Key": "5b1c-resident-3"}
    refused = client.post("/api/residents", headers=headers, json=NEW)
    assert refused.status_code == 403
    assert client.post("/api/residents", headers=headers, json=NEW).status_code == 403
    assert (
        _count(
            people_city["session"],
            "SELECT count(*) FROM ledger_change WHERE idempotency_key = '5b1c-resident-3'",
        )
        == 0
    )


# --- corrections ----------------------------------------------------------------------------------


def test_a_correction_records_only_the_fields_it_changed_phones_masked(client, people_city):
    session, zhang = people_city["session"], people_city["residents"]["zhang"]
    headers = as_(people_city, "worker_a")
    changed = client.patch(
        f"/api/residents/{zhang}", headers=headers, json={"phone": "13800001111", "name": "张叁"}
    )
    assert changed.status_code == 200
    # The city registered 张三 with 13912345678, masked 139****5678.
    assert _changes(session, zhang) == [
        (
            "update",
            "worker_a",
            {"name": "张三", "phone_masked": "139****5678"},
            {"name": "张叁", "phone_masked": "138****1111"},
            None,
        )
    ]
    # Sending the same values again changes nothing and records nothing.
    same = client.patch(f"/api/residents/{zhang}", headers=headers, json={"name": "张叁"})
    assert same.status_code == 200 and len(_changes(session, zhang)) == 1
    # A refused correction leaves no row either.
    bad = client.patch(f"/api/residents/{zhang}", headers=headers, json={"phone": "12345"})
    assert bad.status_code == 422 and len(_changes(session, zhang)) == 1


def test_the_history_is_read_in_scope_only(client, people_city):
    zhang = people_city["residents"]["zhang"]
    client.patch(
        f"/api/residents/{zhang}", headers=as_(people_city, "worker_a"), json={"occupation": "教师"}
    )
    mine = client.get(f"/api/residents/{zhang}/history", headers=as_(people_city, "worker_a"))
    assert mine.status_code == 200
    # The registration by the city's admin first, then worker_a's correction.
    assert [(c["action"], c["username"]) for c in mine.json()] == [
        ("create", "boss"),
        ("update", "worker_a"),
    ]
    assert (mine.json()[1]["before"], mine.json()[1]["after"]) == (
        {"occupation": None},
        {"occupation": "教师"},
    )
    hidden = client.get(f"/api/residents/{zhang}/history", headers=as_(people_city, "worker_b"))
    missing = client.get("/api/residents/999999/history", headers=as_(people_city, "worker_b"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"].replace(str(zhang), "N") == missing.json()["error"][
        "message"
    ].replace("999999", "N")


# --- moving in and out ----------------------------------------------------------------------------


def test_a_resent_move_in_answers_with_the_first_stay_and_moves_once(client, people_city):
    session, zhang = people_city["session"], people_city["residents"]["zhang"]
    headers = {**as_(people_city, "worker_a"), "Idempotency-Key": "5b1c-move-in-1"}
    move = {"house_code": "BA-1-0201", "on": "2025-03-01", "reason": "换房"}
    first = client.post(f"/api/residents/{zhang}/move-in", headers=headers, json=move)
    again = client.post(f"/api/residents/{zhang}/move-in", headers=headers, json=move)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    assert first.json()["house_code"] == "BA-1-0201" and first.json()["moved_in"] == "2025-03-01"
    stays = session.execute(
        text(
            "SELECT r.moved_in, r.moved_out FROM residence r WHERE r.resident_id = :r "
            "ORDER BY r.moved_in"
        ),
        {"r": zhang},
    ).all()
    assert [tuple(s) for s in stays] == [
        (date(2020, 1, 1), date(2025, 3, 1)),
        (date(2025, 3, 1), None),
    ]
    assert _changes(session, zhang) == [
        (
            "update",
            "worker_a",
            {"house_code": "BA-1-0101"},
            {"house_code": "BA-1-0201"},
            "5b1c-move-in-1",
        )
    ]
    # Without the key the same move is a mistake, said as one.
    plain = client.post(
        f"/api/residents/{zhang}/move-in", headers=as_(people_city, "worker_a"), json=move
    )
    assert plain.status_code == 422 and "already lives in" in plain.json()["error"]["message"]


def test_a_resent_move_out_ends_the_stay_once(client, people_city):
    session, li = people_city["session"], people_city["residents"]["li"]
    headers = {**as_(people_city, "worker_a"), "Idempotency-Key": "5b1c-move-out-1"}
    move = {"on": "2025-06-01", "reason": "迁往外地"}
    first = client.post(f"/api/residents/{li}/move-out", headers=headers, json=move)
    again = client.post(f"/api/residents/{li}/move-out", headers=headers, json=move)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert first.json()["active"] is False and again.json()["active"] is False
    assert session.execute(
        text("SELECT moved_out, reason FROM residence WHERE resident_id = :r"), {"r": li}
    ).one() == (date(2025, 6, 1), "迁往外地")
    assert _changes(session, li) == [
        (
            "update",
            "worker_a",
            {"active": True, "house_code": "BA-1-0201"},
            {"active": False, "house_code": None},
            "5b1c-move-out-1",
        )
    ]
    # Without the key a second move-out has nothing left to end.
    plain = client.post(
        f"/api/residents/{li}/move-out", headers=as_(people_city, "worker_a"), json=move
    )
    assert plain.status_code == 422 and "no current residence" in plain.json()["error"]["message"]


def test_moves_outside_ones_grids_are_refused_with_or_without_a_key(client, people_city):
    session, wang = people_city["session"], people_city["residents"]["wang"]
    for extra in ({}, {"Idempotency-Key": "5b1c-move-out-2"}):
        headers = {**as_(people_city, "worker_a"), **extra}
        out = client.post(
            f"/api/residents/{wang}/move-out",
            headers=headers,
            json={"on": "2025-06-01", "reason": "迁往外地"},
        )
        assert out.status_code == 404
    assert (
        session.execute(
            text("SELECT moved_out FROM residence WHERE resident_id = :r"), {"r": wang}
        ).scalar_one()
        is None
    )
    assert _changes(session, wang) == []
