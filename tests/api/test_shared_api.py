"""HTTP: data sharing (共享交换). An admin grants a department a dataset (fields masked or
clear, an area, a purpose); its dispatchers read only that, only in that area; every read is
logged; an ungranted or revoked dataset is refused with a sentence. Expectations are worked out
by hand from the fixture's residents and read back with plain SQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from events.audit import seal, verify
from tests.api.people_city import GRID_A, as_
from tests.factories import add_staff, add_unit, bearer, id_number

ZHANG_ID = id_number(11)  # 张三, grid A, 独居老人 (elderly living alone)
WANG_ID = id_number(13)  # 王五, grid B, 刑满释放 (released prisoner)


def _police(session) -> int:
    return session.execute(
        text("SELECT department_id FROM department_unit WHERE code = 'PS-1'")
    ).scalar_one()


def _grant(client, city, **overrides: Any):
    body = {
        "department_id": _police(city["session"]),
        "dataset": "special_groups",
        "fields": {"name": "clear", "id_number": "masked", "group_type": "masked"},
        "area_code": GRID_A,
        "purpose": "重点人员管控 (police follow-up of special groups)",
        **overrides,
    }
    return client.post("/api/shared/grants", json=body, headers=as_(city, "admin"))


@pytest.fixture
def granted(client, people_city, groups) -> dict[str, Any]:
    response = _grant(client, people_city)
    assert response.status_code == 201, response.text
    return response.json()


def _log(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT s.username, l.dataset, l.fields, l.clear_fields, l.row_count, "
                "l.record_ids, l.district_code FROM share_access_log l "
                "JOIN staff s ON s.id = l.staff_id ORDER BY l.id"
            )
        )
    ]


def test_a_department_reads_its_grant_only_in_its_area_with_the_granted_fields(
    client, people_city, groups, granted
):
    response = client.get("/api/shared/special_groups", headers=as_(people_city, "dispatcher"))
    assert response.status_code == 200, response.text
    body = response.json()
    # Grid A only: 张三 is there, 王五 (grid B) is outside the grant's area and never appears.
    assert body["total"] == 1
    assert (
        body["items"]
        == [
            {
                "id": groups["alone"],
                "name": "张三",  # granted clear
                "id_number": ZHANG_ID[:6] + "*" * 11 + ZHANG_ID[-1],  # granted masked
                "group_type": "elderly_alone",
            }
        ]
    )
    assert body["fields"] == {"group_type": "masked", "id_number": "masked", "name": "clear"}
    # Not granted: no phone, no birth year, no grid.
    assert {"phone", "birth_year", "grid_code"}.isdisjoint(body["items"][0])


def test_every_read_is_logged_with_who_what_and_how_many_rows(client, people_city, groups, granted):
    client.get("/api/shared/special_groups", headers=as_(people_city, "dispatcher"))
    client.get("/api/shared/special_groups?page=2", headers=as_(people_city, "dispatcher"))
    assert _log(people_city["session"]) == [
        (
            "dispatcher",
            "special_groups",
            "group_type,id_number,name",
            "name",
            1,
            [groups["alone"]],
            "420502",
        ),
        ("dispatcher", "special_groups", "group_type,id_number,name", "name", 0, [], "420502"),
    ]


def test_masked_and_clear_are_per_field(client, people_city, groups):
    response = _grant(
        client,
        people_city,
        fields={"name": "masked", "id_number": "clear", "phone": "masked", "grid_code": "clear"},
        area_code="420502001",  # the street: both grids
    )
    assert response.status_code == 201, response.text
    items = client.get("/api/shared/special_groups", headers=as_(people_city, "dispatcher")).json()[
        "items"
    ]
    assert [(i["name"], i["id_number"], i["phone"], i["grid_code"]) for i in items] == [
        ("张*", ZHANG_ID, "139****5678", GRID_A),
        ("王*", WANG_ID, "139****5678", GRID_A[:-1] + "2"),
    ]
    # A field that is not personal data is recorded as masked: it reads the same either way.
    assert response.json()["fields"]["grid_code"] == "masked"


def test_an_ungranted_department_or_dataset_is_refused_with_a_sentence(
    client, people_city, groups, granted
):
    session = people_city["session"]
    unit = add_unit(session, "MZ-1", "civil_affairs", location=(111.285, 30.705))
    other = add_staff(session, "civil", "dispatcher", department_unit_id=unit.id)
    refused = client.get("/api/shared/special_groups", headers=bearer(other))
    assert refused.status_code == 403
    assert (
        "no live grant of the shared dataset special_groups" in refused.json()["error"]["message"]
    )
    floating = client.get("/api/shared/floating", headers=as_(people_city, "dispatcher"))
    assert floating.status_code == 403
    assert "ask an admin to grant it" in floating.json()["error"]["message"]
    unknown = client.get("/api/shared/nothing_here", headers=as_(people_city, "dispatcher"))
    assert unknown.status_code == 404
    assert "the catalogue has: special_groups, floating" in unknown.json()["error"]["message"]
    # Refusals read nothing, so they log nothing.
    assert _log(session) == []


def test_other_roles_never_read_shared_data(client, people_city, groups, granted):
    for role in ("worker_a", "command", "leader", "inspector", "admin"):
        response = client.get("/api/shared/special_groups", headers=as_(people_city, role))
        assert response.status_code == 403, role


def test_revoking_ends_reading_and_both_are_recorded(client, people_city, groups, granted):
    admin = as_(people_city, "admin")
    revoked = client.post(f"/api/shared/grants/{granted['id']}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["live"] is False
    refused = client.get("/api/shared/special_groups", headers=as_(people_city, "dispatcher"))
    assert refused.status_code == 403
    again = client.post(f"/api/shared/grants/{granted['id']}/revoke", headers=admin)
    assert again.status_code == 409
    assert "already revoked" in again.json()["error"]["message"]
    row = (
        people_city["session"]
        .execute(
            text(
                "SELECT g.username, r.username, sg.revoked_at >= sg.granted_at FROM share_grant sg "
                "JOIN staff g ON g.id = sg.granted_by JOIN staff r ON r.id = sg.revoked_by"
            )
        )
        .one()
    )
    assert tuple(row) == ("boss", "boss", True)
    # A new grant after the revocation: the listing keeps both, newest first.
    assert _grant(client, people_city, area_code="420502").status_code == 201
    listed = client.get("/api/shared/grants", headers=admin).json()
    assert [(g["area_code"], g["live"]) for g in listed] == [("420502", True), (GRID_A, False)]


def test_a_second_live_grant_of_the_same_dataset_is_refused(client, people_city, granted):
    again = _grant(client, people_city)
    assert again.status_code == 409
    assert "revoke it first" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"fields": {"name": "clear", "shoe_size": "masked"}}, "has no field shoe_size"),
        ({"area_code": "42050"}, "is not a 4-digit city"),
        ({"purpose": "   "}, "purpose"),
        ({"dataset": "tax_returns"}, "no shared dataset 'tax_returns'"),
        ({"department_id": 999999}, "department 999999 does not exist"),
    ],
)
def test_a_bad_grant_is_refused_with_a_sentence_and_writes_nothing(
    client, people_city, overrides, said
):
    response = _grant(client, people_city, **overrides)
    assert 400 <= response.status_code < 500, response.text
    assert said in response.json()["error"]["message"]
    assert people_city["session"].execute(text("SELECT count(*) FROM share_grant")).scalar() == 0


def test_the_catalogue_lists_personal_fields(client, people_city):
    body = client.get("/api/shared/catalogue", headers=as_(people_city, "dispatcher")).json()
    fields = {d["dataset"]: {f["name"]: f["personal"] for f in d["fields"]} for d in body}
    assert set(fields) == {
        "special_groups",
        "floating",
        "rental_houses",
        "key_units",
        "events_by_category",
    }
    assert fields["special_groups"]["id_number"] is True
    assert fields["special_groups"]["grid_code"] is False
    # Callers and reporters are people: masked unless granted clear.
    events = fields["events_by_category"]
    assert {name for name, personal in events.items() if personal} == {
        "caller_name",
        "caller_phone",
        "reporter",
    }
    assert fields["rental_houses"]["landlord"] is True
    # No dataset hands out the birth date: with the masked ID number it would rebuild it.
    assert all("birth_date" not in f for f in fields.values())


def _changes(client, city, after: int = 0) -> dict[str, Any]:
    response = client.get(
        f"/api/shared/special_groups/changes?after={after}", headers=as_(city, "dispatcher")
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_change_feed_carries_the_grants_area_and_fields_and_replays(
    client, people_city, groups, granted
):
    session = people_city["session"]
    first = _changes(client, people_city)
    # Enrolling 张三 (grid A) is a change; enrolling 王五 (grid B, outside the area) never shows.
    assert {c["id"] for c in first["items"]} == {groups["alone"]}
    assert first["items"][-1]["record"] == {
        "id": groups["alone"],
        "name": "张三",
        "id_number": ZHANG_ID[:6] + "*" * 11 + ZHANG_ID[-1],
        "group_type": "elderly_alone",
    }
    cursor = first["next_after"]
    assert cursor == max(c["seq"] for c in first["items"])
    assert _changes(client, people_city, cursor)["items"] == []
    # A change to the member's record is a change of the special group's row.
    session.execute(
        text("UPDATE resident SET name = '张三丰' WHERE id = :id"),
        {"id": people_city["residents"]["zhang"]},
    )
    session.execute(
        text("UPDATE resident SET name = '王五一' WHERE id = :id"),
        {"id": people_city["residents"]["wang"]},
    )
    renamed = _changes(client, people_city, cursor)["items"]
    assert [(c["id"], c["op"], c["record"]["name"]) for c in renamed] == [
        (groups["alone"], "upsert", "张三丰")
    ]
    assert renamed[0]["seq"] > cursor
    # Ending the membership: the row has left the dataset.
    session.execute(
        text("UPDATE special_group SET ended_on = current_date WHERE id = :id"),
        {"id": groups["alone"]},
    )
    ended = _changes(client, people_city, renamed[0]["seq"])["items"]
    assert [(c["id"], c["op"], c["record"]) for c in ended] == [(groups["alone"], "removed", None)]
    # Replay from the start: the same numbers, in order.
    replay = _changes(client, people_city)["items"]
    assert [c["seq"] for c in replay][: len(first["items"])] == [c["seq"] for c in first["items"]]
    assert [c["seq"] for c in replay] == sorted(c["seq"] for c in replay)
    logged = session.execute(text("SELECT count(*) FROM share_access_log WHERE page = 0")).scalar()
    assert logged == 5


def test_the_change_feed_of_an_ungranted_dataset_is_refused(client, people_city, granted):
    response = client.get("/api/shared/floating/changes", headers=as_(people_city, "dispatcher"))
    assert response.status_code == 403
    assert "no live grant" in response.json()["error"]["message"]


def test_a_departments_read_is_sealed_and_its_log_row_cannot_vanish(
    client, people_city, groups, granted
):
    session = people_city["session"]
    client.get("/api/shared/special_groups", headers=as_(people_city, "dispatcher"))
    seal(session)
    read = session.execute(
        text("SELECT row_id FROM audit_seal WHERE source = 'share_access_log'")
    ).scalar_one()
    assert verify(session).intact
    session.execute(text("DELETE FROM share_access_log WHERE id = :id"), {"id": read})
    (found,) = verify(session).breaks
    assert (found.kind, found.source, found.row_id) == ("deleted", "share_access_log", read)
