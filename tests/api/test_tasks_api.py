"""HTTP: grid workers' tasks (网格员任务). A rule raising the same key twice makes one task;
each worker sees the tasks of their own grids; closing needs what was found, happens once, and
lets the rule raise the key again. Expectations are read with plain SQL on the table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from gis.clock import local_today
from people.models import TaskKind
from people.tasks import raise_task
from tests.api.people_city import GRID_A, GRID_B, as_

DISTRICT = GRID_A[:6]


def _raise(session, grid: str, key: str, *, due_in_days: int = 7, kind=TaskKind.PERMIT_EXPIRING):
    task = raise_task(
        session,
        kind=kind,
        district_code=DISTRICT,
        grid_code=grid,
        subject="resident",
        subject_id=1,
        title=f"居住证即将到期 ({key})",
        due_on=local_today() + timedelta(days=due_in_days),
        key=key,
        detail={"why": key},
    )
    session.flush()
    return task.id


def _rows(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text("SELECT key, grid_code, status::text, note FROM worker_task ORDER BY id")
        )
    ]


@pytest.fixture
def tasks(people_city):
    session = people_city["session"]
    return {
        "a": _raise(session, GRID_A, "permit_expiring:resident:1:2027-01-31"),
        "a_late": _raise(session, GRID_A, "rental_unregistered:house:1", due_in_days=-1),
        "b": _raise(session, GRID_B, "permit_expiring:resident:3:2027-01-31"),
    }


def test_raising_an_open_key_again_returns_the_open_task_and_adds_no_row(people_city, tasks):
    session = people_city["session"]
    again = _raise(session, GRID_A, "permit_expiring:resident:1:2027-01-31", due_in_days=30)
    assert again == tasks["a"]
    assert len(_rows(session)) == 3


def test_a_grid_worker_lists_the_tasks_of_their_grids_only_overdue_first(
    client, people_city, tasks
):
    response = client.get("/api/tasks", headers=as_(people_city, "worker_a"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    assert [t["id"] for t in body["items"]] == [tasks["a_late"], tasks["a"]]
    late, soon = body["items"]
    assert (late["overdue"], soon["overdue"]) == (True, False)
    assert soon["kind_label"] == "居住证即将到期" and soon["status_label"] == "待办"
    other = client.get("/api/tasks", headers=as_(people_city, "worker_b")).json()
    assert [t["id"] for t in other["items"]] == [tasks["b"]]


def test_a_task_due_today_is_not_overdue_and_one_due_yesterday_is(client, people_city, tasks):
    session = people_city["session"]
    today = _raise(session, GRID_B, "lease_ended:rental:5", due_in_days=0)
    items = client.get("/api/tasks", headers=as_(people_city, "worker_b")).json()["items"]
    overdue = {t["id"]: t["overdue"] for t in items}
    assert overdue[today] is False
    assert (
        client.get("/api/tasks", headers=as_(people_city, "worker_a")).json()["items"][0]["overdue"]
        is True
    )


def test_area_staff_see_every_grid_of_their_area_and_other_roles_none(client, people_city, tasks):
    for role in ("command", "inspector", "admin"):
        body = client.get("/api/tasks", headers=as_(people_city, role)).json()
        assert body["total"] == 3, role
    for role in ("dispatcher", "leader"):
        response = client.get("/api/tasks", headers=as_(people_city, role))
        assert response.status_code == 403, role
        assert "may not" in response.json()["error"]["message"]


def test_asking_for_another_workers_grid_is_refused(client, people_city, tasks):
    response = client.get(f"/api/tasks?grid={GRID_B}", headers=as_(people_city, "worker_a"))
    assert response.status_code == 403
    assert GRID_B in response.json()["error"]["message"]


@pytest.mark.parametrize("body_kind", ["json", "form"])
def test_closing_a_task_records_the_outcome_once(client, people_city, tasks, body_kind):
    session = people_city["session"]
    fields = {"outcome": "dismissed", "note": "已核实：居住证已续签"}
    send = {"json": fields} if body_kind == "json" else {"data": fields}
    url = f"/api/tasks/{tasks['a']}/close"
    response = client.post(url, headers=as_(people_city, "worker_a"), **send)
    assert response.status_code == 200, response.text
    assert response.json()["status_label"] == "核实无问题"
    assert ("permit_expiring:resident:1:2027-01-31", GRID_A, "dismissed", fields["note"]) in (
        _rows(session)
    )
    again = client.post(url, headers=as_(people_city, "worker_a"), **send)
    assert again.status_code == 409 and "already closed" in again.json()["error"]["message"]
    listed = client.get("/api/tasks", headers=as_(people_city, "worker_a")).json()
    assert [t["id"] for t in listed["items"]] == [tasks["a_late"]]
    closed = client.get("/api/tasks?status=dismissed", headers=as_(people_city, "worker_a"))
    assert [t["id"] for t in closed.json()["items"]] == [tasks["a"]]


def test_a_closed_key_can_be_raised_again_as_a_new_task(client, people_city, tasks):
    session = people_city["session"]
    client.post(
        f"/api/tasks/{tasks['b']}/close",
        headers=as_(people_city, "worker_b"),
        json={"outcome": "done", "note": "已登记"},
    ).raise_for_status()
    again = _raise(session, GRID_B, "permit_expiring:resident:3:2027-01-31")
    assert again != tasks["b"]
    assert [r[2] for r in _rows(session) if r[1] == GRID_B] == ["done", "open"]


def test_a_task_of_another_grid_reads_as_not_found_and_stays_open(client, people_city, tasks):
    session = people_city["session"]
    response = client.post(
        f"/api/tasks/{tasks['b']}/close",
        headers=as_(people_city, "worker_a"),
        json={"outcome": "done", "note": "x"},
    )
    assert response.status_code == 404
    assert GRID_B not in response.json()["error"]["message"]
    assert ("permit_expiring:resident:3:2027-01-31", GRID_B, "open", None) in _rows(session)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "done", "note": ""}, "note"),
        ({"outcome": "open", "note": "x"}, "outcome"),
        ({"outcome": "done", "note": "x" * 1001}, "note"),
        ({"note": "x"}, "outcome"),
    ],
)
def test_a_bad_closing_is_refused_naming_the_field(client, people_city, tasks, body, field):
    session = people_city["session"]
    response = client.post(
        f"/api/tasks/{tasks['a']}/close", headers=as_(people_city, "worker_a"), json=body
    )
    assert response.status_code == 422
    assert field in response.text
    assert ("permit_expiring:resident:1:2027-01-31", GRID_A, "open", None) in _rows(session)
