"""HTTP: the house and organisation ledgers (实有房屋, 实有单位) written by grid workers: scoped to
their grids, phones masked, every write in the history, a resent POST never a second record.

Expectations are read back with plain SQL on the tables, not through the services under test.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from people.credit_code import CREDIT_CODE_CHARS, make_credit_code
from tests.api.people_city import GRID_A, as_

PHONE = "13912345678"


def _one(session, sql: str, **params):
    return session.execute(text(sql), params).one()


def _count(session, sql: str, **params) -> int:
    return session.execute(text(sql), params).scalar_one()


def _houses_in(session, building: str) -> list[tuple]:
    return [
        tuple(row)
        for row in session.execute(
            text(
                "SELECT h.unit, h.floor, h.room, h.use::text, h.area_m2 FROM house h "
                "JOIN building b ON b.id = h.building_id WHERE b.code = :b "
                "ORDER BY h.unit, h.floor, h.room"
            ),
            {"b": building},
        )
    ]


def _changes(session, entity: str) -> list[tuple]:
    return [
        tuple(row)
        for row in session.execute(
            text(
                "SELECT c.action, s.username, c.before, c.after, c.idempotency_key "
                "FROM ledger_change c JOIN staff s ON s.id = c.staff_id "
                "WHERE c.entity = :e ORDER BY c.id"
            ),
            {"e": entity},
        )
    ]


@pytest.fixture
def city(people_city):
    """The people API city with buildings BA (grid A) and BB (grid B) six floors high."""
    session = people_city["session"]
    session.execute(text("UPDATE building SET floors = 6 WHERE code IN ('BA', 'BB')"))
    session.expire_all()
    return people_city


NEW_HOUSE = {"building_code": "BA", "unit": "2", "floor": 6, "room": "0601", "use": "rented"}


# --- houses: adding -----------------------------------------------------------------------------


def test_a_grid_worker_adds_a_house_to_a_building_of_their_grid_and_it_is_recorded(client, city):
    session = city["session"]
    response = client.post(
        "/api/houses", headers=as_(city, "worker_a"), json={**NEW_HOUSE, "area_m2": 86.5}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["type"] == "Feature" and body["id"] == "BA-2-0601"
    assert body["properties"]["use_label"] == "出租" and body["properties"]["grid_code"] == GRID_A
    assert ("2", 6, "0601", "rented", 86.5) in _houses_in(session, "BA")
    assert _changes(session, "house") == [
        (
            "create",
            "worker_a",
            None,
            {
                "code": "BA-2-0601",
                "building_code": "BA",
                "unit": "2",
                "floor": 6,
                "room": "0601",
                "use": "rented",
                "area_m2": 86.5,
            },
            None,
        )
    ]
    # The new house reads like every other one.
    assert client.get("/api/houses/BA-2-0601", headers=as_(city, "worker_a")).status_code == 200


def test_a_house_is_taken_as_a_form_with_the_use_by_its_chinese_label(client, city):
    response = client.post(
        "/api/houses",
        headers=as_(city, "worker_a"),
        data={"building_code": "BA", "floor": "3", "room": "0302", "use": "空置", "area_m2": ""},
    )
    assert response.status_code == 201, response.text
    assert ("1", 3, "0302", "vacant", None) in _houses_in(city["session"], "BA")


def test_a_resent_house_post_answers_with_the_first_house_and_adds_nothing(client, city):
    session = city["session"]
    headers = {**as_(city, "worker_a"), "Idempotency-Key": "a5f0c1e2-house-1"}
    before = len(_houses_in(session, "BA"))
    first = client.post("/api/houses", headers=headers, json=NEW_HOUSE)
    again = client.post("/api/houses", headers=headers, json=NEW_HOUSE)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(_houses_in(session, "BA")) == before + 1
    assert [c[4] for c in _changes(session, "house")] == ["a5f0c1e2-house-1"]
    # Another account's key is its own: reusing it is refused, not answered with this house.
    other = client.post(
        "/api/houses",
        headers={**as_(city, "admin"), "Idempotency-Key": "a5f0c1e2-house-1"},
        json={**NEW_HOUSE, "room": "0602"},
    )
    assert other.status_code == 409 and "another account" in other.json()["error"]["message"]
    assert len(_houses_in(session, "BA")) == before + 1


def test_houses_are_written_only_in_ones_own_grids_and_only_by_workers_and_admins(client, city):
    session = city["session"]
    before = {b: _houses_in(session, b) for b in ("BA", "BB")}
    refused = client.post("/api/houses", headers=as_(city, "worker_b"), json=NEW_HOUSE)
    assert refused.status_code == 403 and "outside your scope" in refused.text
    for role in ("command", "inspector"):  # they read the ledger; grid workers keep it
        assert (
            client.post("/api/houses", headers=as_(city, role), json=NEW_HOUSE).status_code == 403
        )
    assert {b: _houses_in(session, b) for b in ("BA", "BB")} == before
    assert _changes(session, "house") == []
    # The other side: the grid's own worker, and an admin anywhere.
    own = client.post("/api/houses", headers=as_(city, "worker_a"), json=NEW_HOUSE)
    assert own.status_code == 201
    in_b = {**NEW_HOUSE, "building_code": "BB"}
    assert client.post("/api/houses", headers=as_(city, "admin"), json=in_b).status_code == 201


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"floor": 6}, 201, None),  # the top floor of a six-floor building
        ({"floor": 7}, 422, "above the top of building BA, which has 6 floors"),
        ({"floor": 0}, 422, "no floor 0"),
        ({"floor": -1}, 201, None),  # a basement
        ({"room": "06-01"}, 422, "no '-'"),  # a '-' would break the house code
        ({"building_code": "NOPE"}, 404, "building NOPE does not exist"),
        ({"use": "rented out"}, 422, "use"),
        ({"area_m2": 0}, 422, "area_m2"),
    ],
)
def test_a_house_must_fit_its_building(client, city, fields, status, words):
    response = client.post(
        "/api/houses", headers=as_(city, "worker_a"), json={**NEW_HOUSE, **fields}
    )
    assert response.status_code == status, response.text
    if words:
        assert words in response.text
        assert _changes(city["session"], "house") == []


def test_a_unit_and_room_already_in_the_building_is_a_conflict_on_any_floor(client, city):
    session = city["session"]
    before = _houses_in(session, "BA")
    twin = {"building_code": "BA", "unit": "1", "floor": 5, "room": "0101"}  # 1-0101 is floor 1
    response = client.post("/api/houses", headers=as_(city, "worker_a"), json=twin)
    assert response.status_code == 409 and "BA-1-0101" in response.text
    assert _houses_in(session, "BA") == before


# --- houses: changing ---------------------------------------------------------------------------


def test_changing_a_house_records_only_the_fields_that_changed(client, city):
    session = city["session"]
    headers = as_(city, "worker_a")
    response = client.patch(
        "/api/houses/BA-1-0201", headers=headers, json={"use": "出租", "area_m2": 72, "floor": 2}
    )
    assert response.status_code == 200, response.text
    assert response.json()["properties"]["use"] == "rented"
    assert ("1", 2, "0201", "rented", 72.0) in _houses_in(session, "BA")
    assert _changes(session, "house") == [
        (
            "update",
            "worker_a",
            {"use": "self_occupied", "area_m2": None},
            {"use": "rented", "area_m2": 72.0},
            None,
        )
    ]
    # Sending the same values again changes nothing and records nothing.
    same = client.patch("/api/houses/BA-1-0201", headers=headers, data={"use": "rented"})
    assert same.status_code == 200 and len(_changes(session, "house")) == 1
    history = client.get("/api/houses/BA-1-0201/history", headers=headers).json()
    assert [(h["action"], h["username"], h["after"]) for h in history] == [
        ("update", "worker_a", {"use": "rented", "area_m2": 72.0})
    ]


def test_renumbering_a_house_moves_its_code_unless_the_new_one_is_taken(client, city):
    session = city["session"]
    headers = as_(city, "worker_a")
    taken = client.patch("/api/houses/BA-1-0201", headers=headers, json={"room": "0101"})
    assert taken.status_code == 409
    moved = client.patch("/api/houses/BA-1-0201", headers=headers, json={"room": "0202"})
    assert moved.status_code == 200 and moved.json()["id"] == "BA-1-0202"
    assert ("1", 2, "0202", "self_occupied", None) in _houses_in(session, "BA")
    assert client.get("/api/houses/BA-1-0201", headers=headers).status_code == 404


NEW_USE = {"use": "vacant"}


def test_another_grids_worker_can_neither_change_a_house_nor_read_its_history(client, city):
    session = city["session"]
    before = _houses_in(session, "BA")
    headers = as_(city, "worker_b")
    refused = client.patch("/api/houses/BA-1-0201", headers=headers, json=NEW_USE)
    assert refused.status_code == 403
    assert client.get("/api/houses/BA-1-0201/history", headers=headers).status_code == 403
    assert _houses_in(session, "BA") == before and _changes(session, "house") == []
    by_admin = client.patch("/api/houses/BA-1-0201", headers=as_(city, "admin"), json=NEW_USE)
    assert by_admin.status_code == 200
    history = client.get("/api/houses/BA-1-0201/history", headers=as_(city, "command"))
    assert history.status_code == 200 and len(history.json()) == 1


def test_changing_a_required_house_field_to_nothing_is_refused(client, city):
    response = client.patch(
        "/api/houses/BA-1-0201", headers=as_(city, "worker_a"), json={"floor": None}
    )
    assert response.status_code == 422 and "floor cannot be empty" in response.text


# --- organisations ------------------------------------------------------------------------------


def _org(sequence: int = 1, **fields):
    return {
        "credit_code": make_credit_code("420502", sequence),
        "name": f"西陵测试商贸有限公司{sequence}",
        "org_type": "enterprise",
        "building_code": "BA",
        "responsible_person": "赵六",
        "responsible_phone": PHONE,
        **fields,
    }


def test_a_grid_worker_registers_an_organisation_masked_and_recorded(client, city):
    session = city["session"]
    response = client.post("/api/organisations", headers=as_(city, "worker_a"), json=_org())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["responsible_phone_masked"] == "139****5678" and PHONE not in response.text
    assert (body["building_code"], body["grid_code"]) == ("BA", GRID_A)
    row = _one(
        session,
        "SELECT o.name, o.grid_code, o.responsible_phone_masked, b.code AS building "
        "FROM organisation o JOIN building b ON b.id = o.building_id WHERE o.id = :i",
        i=body["id"],
    )
    assert tuple(row) == ("西陵测试商贸有限公司1", GRID_A, "139****5678", "BA")
    [(action, who, before, after, key)] = _changes(session, "organisation")
    assert (action, who, before, key) == ("create", "worker_a", None, None)
    assert after["credit_code"] == make_credit_code("420502", 1)
    assert after["responsible_phone_masked"] == "139****5678"
    # No history row holds the clear phone.
    clear = "SELECT count(*) FROM ledger_change WHERE after::text LIKE :p"
    assert _count(session, clear, p=f"%{PHONE}%") == 0


def test_an_organisation_is_taken_as_a_form_with_labels_and_key_unit_flags(client, city):
    response = client.post(
        "/api/organisations",
        headers=as_(city, "worker_a"),
        data={**_org(2, org_type="商铺"), "fire_key_unit": "true"},
    )
    assert response.status_code == 201, response.text
    flags = _one(
        city["session"],
        "SELECT org_type::text, fire_key_unit, security_key_unit FROM organisation WHERE id = :i",
        i=response.json()["id"],
    )
    assert tuple(flags) == ("shop", True, False)
    listed = client.get(
        "/api/organisations", headers=as_(city, "worker_a"), params={"fire_key_unit": "true"}
    ).json()
    assert [o["id"] for o in listed["items"]] == [response.json()["id"]]


def test_a_resent_organisation_post_answers_with_the_first_and_registers_it_once(client, city):
    session = city["session"]
    headers = {**as_(city, "worker_a"), "Idempotency-Key": "org-key-7"}
    first = client.post("/api/organisations", headers=headers, json=_org())
    again = client.post("/api/organisations", headers=headers, json=_org())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert _count(session, "SELECT count(*) FROM organisation") == 1
    assert len(_changes(session, "organisation")) == 1
    # Without the key the same code is a duplicate, said so, not a second record.
    duplicate = client.post("/api/organisations", headers=as_(city, "worker_a"), json=_org())
    assert duplicate.status_code == 409 and "already registered" in duplicate.text
    # A key that added a house does not add an organisation.
    house = client.post(
        "/api/houses", headers={**headers, "Idempotency-Key": "k-house"}, json=NEW_HOUSE
    )
    assert house.status_code == 201
    crossed = client.post(
        "/api/organisations", headers={**headers, "Idempotency-Key": "k-house"}, json=_org(3)
    )
    assert crossed.status_code == 409 and "to add a house" in crossed.text
    assert _count(session, "SELECT count(*) FROM organisation") == 1


def test_a_credit_code_failing_gb_32100_is_refused_and_nothing_is_written(client, city):
    valid = make_credit_code("420502", 5)
    wrong = valid[:17] + next(c for c in CREDIT_CODE_CHARS if c != valid[17])
    response = client.post(
        "/api/organisations", headers=as_(city, "worker_a"), json=_org(credit_code=wrong)
    )
    assert response.status_code == 422
    assert "GB 32100" in response.text and f"position 18 should be {valid[17]}" in response.text
    session = city["session"]
    assert _count(session, "SELECT count(*) FROM organisation") == 0
    assert _changes(session, "organisation") == []


def test_organisations_are_scoped_to_the_workers_grids(client, city):
    a = client.post("/api/organisations", headers=as_(city, "worker_a"), json=_org(1)).json()
    b = client.post(
        "/api/organisations", headers=as_(city, "admin"), json=_org(2, building_code="BB")
    ).json()
    refused = client.post(
        "/api/organisations", headers=as_(city, "worker_b"), json=_org(3, building_code="BA")
    )
    assert refused.status_code == 403
    listed = client.get("/api/organisations", headers=as_(city, "worker_a")).json()
    assert (listed["total"], [o["id"] for o in listed["items"]]) == (1, [a["id"]])
    every = client.get("/api/organisations", headers=as_(city, "command")).json()
    assert {o["id"] for o in every["items"]} == {a["id"], b["id"]}
    # Another grid's organisation answers exactly like one that does not exist.
    headers = as_(city, "worker_b")
    missing = client.get("/api/organisations/999999", headers=headers)
    for path in (f"/api/organisations/{a['id']}", f"/api/organisations/{a['id']}/history"):
        hidden = client.get(path, headers=headers)
        assert hidden.status_code == 404, path
        assert hidden.json()["error"]["message"] == missing.json()["error"]["message"].replace(
            "999999", str(a["id"])
        )
    patched = client.patch(f"/api/organisations/{a['id']}", headers=headers, json={"name": "x"})
    assert patched.status_code == 404
    assert client.get(f"/api/organisations/{b['id']}", headers=headers).status_code == 200


def test_changing_an_organisation_records_its_fields_before_and_after_phones_masked(client, city):
    session = city["session"]
    headers = as_(city, "worker_a")
    org = client.post("/api/organisations", headers=headers, json=_org()).json()
    response = client.patch(
        f"/api/organisations/{org['id']}",
        headers=headers,
        data={"security_key_unit": "true", "responsible_phone": "13800001111", "staff_count": "12"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["responsible_phone_masked"] == "138****1111"
    history = client.get(f"/api/organisations/{org['id']}/history", headers=headers).json()
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[1]["before"] == {
        "responsible_phone_masked": "139****5678",
        "security_key_unit": False,
        "staff_count": None,
    }
    assert history[1]["after"] == {
        "responsible_phone_masked": "138****1111",
        "security_key_unit": True,
        "staff_count": 12,
    }
    clear = _count(
        session,
        "SELECT count(*) FROM ledger_change WHERE before::text LIKE :p OR after::text LIKE :p",
        p="%13800001111%",
    )
    assert clear == 0


def test_the_clear_phone_is_shown_for_a_reason_and_the_read_is_logged(client, city):
    session = city["session"]
    org = client.post("/api/organisations", headers=as_(city, "worker_a"), json=_org()).json()
    path = f"/api/organisations/{org['id']}/unmask"
    response = client.post(path, headers=as_(city, "worker_a"), json={"reason": "核实消防责任人"})
    assert response.status_code == 200
    assert response.json() == {"organisation_id": org["id"], "responsible_phone": PHONE}
    logged = _one(
        session,
        "SELECT s.username, l.fields, l.reason FROM pii_access_log l "
        "JOIN staff s ON s.id = l.staff_id WHERE l.organisation_id = :i",
        i=org["id"],
    )
    assert tuple(logged) == ("worker_a", "responsible_phone", "核实消防责任人")
    # An inspector reads the ledger masked but may not unmask; another grid's worker finds none.
    reason = {"reason": "核实消防责任人"}
    assert client.post(path, headers=as_(city, "inspector"), json=reason).status_code == 403
    assert client.post(path, headers=as_(city, "worker_b"), json=reason).status_code == 404
    logged_reads = "SELECT count(*) FROM pii_access_log WHERE organisation_id = :i"
    assert _count(session, logged_reads, i=org["id"]) == 1


def test_a_resent_post_whose_house_was_removed_since_says_so_and_adds_nothing(client, city):
    session = city["session"]
    headers = {**as_(city, "worker_a"), "Idempotency-Key": "gone-1"}
    assert client.post("/api/houses", headers=headers, json=NEW_HOUSE).status_code == 201
    session.execute(text("DELETE FROM house WHERE room = '0601'"))
    again = client.post("/api/houses", headers=headers, json=NEW_HOUSE)
    assert again.status_code == 404 and "with a new key" in again.text
    assert ("2", 6, "0601", "rented", None) not in _houses_in(session, "BA")
