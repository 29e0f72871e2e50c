"""HTTP: cross-checks (数据比对). A department's hand-made list is compared with the ledger of an
area of its district; each difference (on the list but not in the ledger, in the ledger but not
on the list, a different 户籍 address) is stored and becomes one 比对核查 task for the grid
concerned. Expectations are worked out by hand from the fixture's three residents and read
back with plain SQL."""

from __future__ import annotations

import tempfile
from pathlib import Path

import openpyxl
from sqlalchemy import text

from grid.address_import import import_addresses
from people import crosscheck
from tests.api.people_city import GRID_A, GRID_B, as_
from tests.factories import add_staff, add_unit, bearer, id_number

ZHANG, LI, WANG, ZHAO, QIAN = (id_number(n) for n in (11, 12, 13, 21, 23))
STREET = "420502001"


def _prepare(session) -> None:
    session.execute(
        text(
            "UPDATE resident SET registered_address = CASE name "
            "WHEN '张三' THEN '西陵区测试路1号' WHEN '李四' THEN '西陵区测试路2号' END "
            "WHERE name IN ('张三', '李四')"
        )
    )
    # The district's door-plate list (门牌清单) hangs building BB on 夷陵大道58号.
    with tempfile.TemporaryDirectory() as folder:
        plates = Path(folder) / "plates.csv"
        plates.write_text("road,number,lon,lat,building_code\n夷陵大道,58,111.2911,30.7011,BB\n")
        import_addresses(session, path=plates)


def _list(*rows: tuple[str, str, str]) -> bytes:
    lines = ["身份证号,姓名,户籍地址", *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


HAND_MADE = _list(
    (ZHANG, "张三", "西陵区测试路1号"),  # the same: no difference
    (LI, "李四", "西陵区测试路3号"),  # address differs from the ledger's 测试路2号
    (ZHAO, "赵六", "西陵区夷陵大道58号"),  # not in the ledger; the address is building BB
    (QIAN, "钱七", "火星路99号"),  # not in the ledger; the address is nowhere
)


def _send(client, city, content: bytes, *, area: str = STREET, role: str = "dispatcher"):
    return client.post(
        f"/api/shared/crosschecks?area={area}&filename=huji.csv",
        content=content,
        headers={**as_(city, role), "Content-Type": "text/csv"},
    )


def _tasks(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT grid_code, kind::text, key, detail->>'kind' FROM worker_task "
                "ORDER BY grid_code, detail->>'kind'"
            )
        )
    ]


def test_a_hand_made_list_gives_each_difference_once_with_a_task_for_its_grid(client, people_city):
    session = people_city["session"]
    _prepare(session)
    response = _send(client, people_city, HAND_MADE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["row_count"] == 4
    # 王五 (grid B) is registered in the ledger of the street but not on the list.
    assert body["counts"] == {"missing_in_ledger": 2, "extra_in_ledger": 1, "address_differs": 1}
    assert [(d["row_number"], d["kind"], d["name"], d["placed"]) for d in body["differences"]] == [
        (3, "address_differs", "李*", True),
        (4, "missing_in_ledger", "赵*", True),
        (5, "missing_in_ledger", "钱*", False),
    ]
    # The department learns nothing about ledger names that were not on its list.
    assert "王五" not in response.text
    li_id, wang_id = people_city["residents"]["li"], people_city["residents"]["wang"]
    tasks = _tasks(session)
    assert tasks[:2] == [
        (GRID_A, "crosscheck", f"crosscheck:address_differs:resident:{li_id}", "address_differs"),
        (GRID_B, "crosscheck", f"crosscheck:extra_in_ledger:resident:{wang_id}", "extra_in_ledger"),
    ]
    # 赵六's listed address is building BB, in grid B.
    assert len(tasks) == 3 and tasks[2][0::3] == (GRID_B, "missing_in_ledger")
    assert tasks[2][2].startswith("crosscheck:missing_in_ledger:")
    assert body["tasks_open"] == 3
    stored = session.execute(
        text(
            "SELECT kind, row_number, grid_code, task_id IS NOT NULL FROM crosscheck_difference "
            "ORDER BY kind, row_number NULLS FIRST"
        )
    ).all()
    assert [tuple(r) for r in stored] == [
        ("address_differs", 3, GRID_A, True),
        ("extra_in_ledger", None, GRID_B, True),
        ("missing_in_ledger", 4, GRID_B, True),
        ("missing_in_ledger", 5, None, False),  # kept, reported back, no grid to send it to
    ]


def test_the_grid_worker_sees_the_task_of_their_grid(client, people_city):
    _prepare(people_city["session"])
    _send(client, people_city, HAND_MADE)
    items = client.get("/api/tasks?kind=crosscheck", headers=as_(people_city, "worker_a")).json()
    assert [(t["kind_label"], t["detail"]["ledger_address"]) for t in items["items"]] == [
        ("比对核查", "西陵区测试路2号")
    ]


def test_sending_the_same_list_again_raises_no_second_task(client, people_city):
    session = people_city["session"]
    _prepare(session)
    _send(client, people_city, HAND_MADE)
    again = _send(client, people_city, HAND_MADE)
    assert again.status_code == 201
    assert len(_tasks(session)) == 3
    assert session.execute(text("SELECT count(*) FROM crosscheck")).scalar() == 2


def test_a_grid_sized_area_leaves_the_other_grid_out(client, people_city):
    session = people_city["session"]
    _prepare(session)
    body = _send(
        client,
        people_city,
        _list((ZHANG, "张三", "西陵区测试路1号"), (LI, "李四", "西陵区测试路2号")),
        area=GRID_A,
    ).json()
    # Grid A holds exactly 张三 and 李四, both listed with their addresses: nothing differs.
    assert body["counts"] == {"missing_in_ledger": 0, "extra_in_ledger": 0, "address_differs": 0}
    assert _tasks(session) == []


def test_a_bad_row_is_named_and_nothing_is_written(client, people_city):
    session = people_city["session"]
    bad = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")  # wrong check digit
    response = _send(client, people_city, _list((LI, "李四", "x"), (bad, "张三", "y")))
    assert response.status_code == 422, response.text
    assert "row 3" in response.json()["error"]["message"]
    assert session.execute(text("SELECT count(*) FROM crosscheck")).scalar() == 0
    assert _tasks(session) == []


def test_a_list_without_an_id_column_is_refused_with_a_sentence(client, people_city):
    response = _send(client, people_city, "姓名,地址\n张三,x\n".encode())
    assert response.status_code == 422
    assert "no column 身份证号" in response.json()["error"]["message"]


def test_an_area_outside_the_departments_district_is_refused(client, people_city):
    response = _send(client, people_city, HAND_MADE, area="420503")
    assert response.status_code == 403
    assert "outside your department's district" in response.json()["error"]["message"]


def test_only_department_staff_send_lists(client, people_city):
    for role in ("worker_a", "command", "leader", "inspector", "admin"):
        assert _send(client, people_city, HAND_MADE, role=role).status_code == 403, role


def test_an_xlsx_list_is_compared_like_a_csv(client, people_city, tmp_path):
    session = people_city["session"]
    _prepare(session)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["公民身份号码", "姓名", "地址"])
    sheet.append([LI, "李四", "西陵区测试路3号"])
    path = tmp_path / "huji.xlsx"
    workbook.save(path)
    response = client.post(
        f"/api/shared/crosschecks?area={GRID_A}&filename=huji.xlsx",
        content=path.read_bytes(),
        headers={**as_(people_city, "dispatcher"), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    # 李四's address differs; 张三 (grid A, 户籍) is not on the list.
    assert response.json()["counts"] == {
        "missing_in_ledger": 0,
        "extra_in_ledger": 1,
        "address_differs": 1,
    }


def test_an_empty_body_is_refused_with_a_sentence(client, people_city):
    response = _send(client, people_city, b"")
    assert response.status_code == 422
    assert "empty" in response.json()["error"]["message"]


def test_a_list_for_a_smaller_area_than_named_is_refused_before_anything_is_written(
    client, people_city, monkeypatch
):
    session = people_city["session"]
    # The street holds 3 户籍 residents; a list of 1 leaves 2 of them off: more than its rows.
    monkeypatch.setattr(crosscheck, "MIN_EXTRA_REFUSED", 1)
    response = _send(client, people_city, _list((ZHANG, "张三", "西陵区测试路1号")))
    assert response.status_code == 422
    assert (
        "2 residents registered (户籍) in area 420502001 are not on the list of 1"
        in (response.json()["error"]["message"])
    )
    assert session.execute(text("SELECT count(*) FROM crosscheck")).scalar() == 0
    assert _tasks(session) == []
    # At the threshold (2 missing, no more than max(2, 1 row)): compared, not refused.
    monkeypatch.setattr(crosscheck, "MIN_EXTRA_REFUSED", 2)
    assert _send(client, people_city, _list((ZHANG, "张三", "x"))).status_code == 201


def test_a_department_lists_its_own_cross_checks_and_an_admin_all(client, people_city):
    session = people_city["session"]
    _prepare(session)
    _send(client, people_city, HAND_MADE)
    mine = client.get("/api/shared/crosschecks", headers=as_(people_city, "dispatcher")).json()
    assert [(c["filename"], c["row_count"], c["counts"]) for c in mine] == [
        ("huji.csv", 4, {"missing_in_ledger": 2, "extra_in_ledger": 1, "address_differs": 1})
    ]
    unit = add_unit(session, "MZ-2", "civil_affairs", location=(111.285, 30.705))
    other = add_staff(session, "civil2", "dispatcher", department_unit_id=unit.id)
    assert client.get("/api/shared/crosschecks", headers=bearer(other)).json() == []
    everyone = client.get("/api/shared/crosschecks", headers=as_(people_city, "admin")).json()
    assert [c["id"] for c in everyone] == [c["id"] for c in mine]
