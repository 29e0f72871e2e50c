"""HTTP: imports as jobs with progress and an error file, exports and the ledger template.

Most tests run jobs inline on the test's rolled-back session; the background path (a thread
with its own sessions) runs against committed data in a throwaway database.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from shapely import box
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.http.deps import get_read_session, get_session
from api.import_jobs import ImportRunner
from gis.db import session_scope
from gis.jobs import ImportJob
from grid.models import Building, Grid
from people.models import Resident
from tests.api.import_files import HEADERS, admin_headers, geojson, ledger_csv, person, upload
from tests.api.people_city import GRID_A, GRID_B, as_
from tests.factories import (
    COMMUNITY,
    id_number,
)


@pytest.fixture
def runner(client, tmp_path) -> ImportRunner:
    """Jobs run inline on the request's session, files kept under tmp_path."""
    inline = ImportRunner(inline=True, upload_dir=tmp_path / "imports")
    client.app.state.import_runner = inline
    return inline


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- residents ---------------------------------------------------------------------------------


def test_a_ledger_import_reports_counts_and_an_error_file_of_the_bad_rows(
    client,
    people_city,
    runner,
):
    session = people_city["session"]
    before = count(session, Resident)
    bad = {**person(42, "坏号码"), "证件号码": "420502198506150012"}
    content = ledger_csv(person(41, "周一"), bad, person(43, "吴二", house="BB-1-0201"))
    response = upload(client, as_(people_city, "admin"), "residents", "台账.csv", content)
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["status_label"], job["kind_label"]) == (
        "done",
        "已完成",
        "实有人口台账",
    )
    assert (job["total"], job["processed"], job["imported"], job["rejected"]) == (3, 3, 2, 1)
    assert job["filename"] == "台账.csv" and "Imported 2 of 3 rows" in job["message"]
    assert job["error_report_url"] == f"/api/imports/{job['id']}/errors"
    assert count(session, Resident) == before + 2
    again = client.get(f"/api/imports/{job['id']}", headers=as_(people_city, "admin"))
    assert again.json()["imported"] == 2
    errors = client.get(job["error_report_url"], headers=as_(people_city, "admin"))
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["错误行号", "错误列", "错误原因"]
    assert [r[0] for r in rows[1:]] == ["坏号码"]
    assert rows[1][-3] == "3" and "check digit" in rows[1][-1]
    listed = client.get("/api/imports", headers=as_(people_city, "admin")).json()
    assert [j["id"] for j in listed] == [job["id"]]
    # The upload holds clear ID numbers: it is gone once imported.
    assert not any(p.is_file() and p.name == "台账.csv" for p in runner.upload_dir.rglob("*"))


def test_an_unreadable_ledger_fails_the_job_with_a_sentence_and_writes_nothing(
    client,
    people_city,
    runner,
):
    session = people_city["session"]
    before = count(session, Resident)
    content = "姓名,备注\n张三,无证件号码\n".encode()
    job = upload(client, as_(people_city, "admin"), "residents", "ledger.csv", content).json()
    assert job["status"] == "failed" and job["imported"] == 0
    assert "证件号码" in job["message"] and job["error_report_url"] is None
    assert count(session, Resident) == before
    missing = client.get(f"/api/imports/{job['id']}/errors", headers=as_(people_city, "admin"))
    assert missing.status_code == 404 and "no error file" in missing.json()["error"]["message"]


# --- grids and buildings -----------------------------------------------------------------------


def test_grids_are_imported_from_geojson_and_a_bad_layer_fails_whole(
    client,
    people_city,
    runner,
):
    session = people_city["session"]
    new = COMMUNITY + "003"
    good = geojson([({"code": new, "name": "北网格"}, box(111.28, 30.71, 111.29, 30.72))])
    job = upload(client, as_(people_city, "admin"), "grids", "grids.geojson", good).json()
    assert (job["status"], job["imported"], job["total"]) == ("done", 1, 1)
    assert session.get(Grid, new).name == "北网格"
    overlapping = geojson(
        [
            ({"code": COMMUNITY + "004", "name": "好网格"}, box(111.29, 30.71, 111.30, 30.72)),
            ({"code": COMMUNITY + "005", "name": "重叠"}, box(111.285, 30.70, 111.295, 30.705)),
        ]
    )
    failed = upload(client, as_(people_city, "admin"), "grids", "more.geojson", overlapping).json()
    assert failed["status"] == "failed" and failed["imported"] == 0
    assert (failed["total"], failed["rejected"]) == (2, 1)
    assert "nothing was imported" in failed["message"]
    assert session.get(Grid, COMMUNITY + "004") is None  # all or nothing
    report = client.get(failed["error_report_url"], headers=as_(people_city, "admin"))
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["行号 row", "要素 feature", "错误原因 reason"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("2", COMMUNITY + "005")] * (len(rows) - 1)
    assert "overlap" in rows[1][2]


def test_buildings_are_imported_from_csv_with_wkt_into_the_grid_that_covers_them(
    client,
    people_city,
    runner,
):
    wkt = box(111.282, 30.702, 111.2822, 30.7022).wkt
    content = f'WKT,code,name,floors\n"{wkt}",BC,3号楼,5\n'.encode()
    job = upload(
        client, as_(people_city, "admin"), "buildings", "楼栋.csv", content, crs="wgs84"
    ).json()
    assert (job["status"], job["imported"]) == ("done", 1)
    building = people_city["session"].scalar(select(Building).where(Building.code == "BC"))
    assert (building.grid_code, building.floors) == (GRID_A, 5)


# --- refused uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "content", "status", "words"),
    [
        ("residents", "ledger.xls", b"\xd0\xcf\x11\xe0", 415, "save it as .xlsx"),
        ("residents", "ledger.xlsx", "姓名,证件号码\n".encode(), 415, "not an Excel .xlsx"),
        ("residents", "ledger.pdf", b"%PDF-1.4", 415, "use one of .csv, .xlsx"),
        ("grids", "grids.shp", b"\x00\x00\x27\x0a", 415, "GeoPackage or GeoJSON"),
        ("grids", "grids.gpkg", b"not sqlite", 415, "not a GeoPackage"),
        ("buildings", "b.geojson", b"PK\x03\x04zip", 415, "not GeoJSON"),
        ("residents", "ledger.csv", b"PK\x03\x04zip", 415, "not CSV text"),
        ("residents", "ledger.csv", b"", 422, "is empty"),
        ("people", "ledger.csv", b"a,b\n", 422, "kind"),
    ],
)
def test_bad_uploads_are_refused_at_once_and_no_job_is_made(
    client,
    people_city,
    runner,
    kind,
    name,
    content,
    status,
    words,
):
    response = upload(client, as_(people_city, "admin"), kind, name, content)
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert count(people_city["session"], ImportJob) == 0
    assert not [p for p in runner.upload_dir.rglob("*") if p.is_file()]


def test_a_file_over_the_size_limit_gets_413(client, people_city, tmp_path):
    client.app.state.import_runner = ImportRunner(
        inline=True, upload_dir=tmp_path / "imports", max_bytes=2 * 1024 * 1024
    )
    big = ledger_csv(person(41, "周一")) + b"\n" * (3 * 1024 * 1024)
    response = upload(client, as_(people_city, "admin"), "residents", "big.csv", big)
    assert response.status_code == 413
    assert "larger than 2 MB" in response.json()["error"]["message"]
    assert count(people_city["session"], ImportJob) == 0


@pytest.mark.parametrize("role", ["worker_a", "command", "leader", "dispatcher"])
def test_only_admins_import(client, people_city, runner, role):
    response = upload(
        client, as_(people_city, role), "residents", "l.csv", ledger_csv(person(41, "周一"))
    )
    assert response.status_code == 403
    assert client.get("/api/imports", headers=as_(people_city, role)).status_code == 403
    assert client.get("/api/imports/1", headers=as_(people_city, role)).status_code == 403


def test_anonymous_uploads_and_unknown_jobs(client, people_city, runner):
    anonymous = client.post(
        "/api/imports", data={"kind": "residents"}, files={"file": ("l.csv", b"x")}
    )
    assert anonymous.status_code == 401
    assert client.get("/api/imports/999", headers=as_(people_city, "admin")).status_code == 404


# --- exports and the template ------------------------------------------------------------------


def test_a_grid_worker_exports_their_own_residents_masked(client, people_city):
    response = client.get(
        "/api/exports/residents", headers=as_(people_city, "worker_a"), params={"format": "csv"}
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header_at = next(i for i, row in enumerate(lines) if row and row[0] == "姓名")
    rows = lines[header_at + 1 :]
    numbers = [r[HEADERS.index("证件号码")] for r in rows]
    assert sorted(r[0] for r in rows) == ["张三", "李四"]
    assert all("*" in n for n in numbers) and id_number(11) not in response.text
    other = client.get(
        "/api/exports/residents", headers=as_(people_city, "worker_a"), params={"grid": GRID_B}
    )
    assert other.status_code == 403
    leader = client.get("/api/exports/residents", headers=as_(people_city, "leader"))
    assert leader.status_code == 403


def test_the_resident_export_opens_in_excel(client, people_city):
    response = client.get("/api/exports/residents", headers=as_(people_city, "command"))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = book.worksheets[0]
    names = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert {"张三", "李四", "王五"} <= set(names)


@pytest.mark.parametrize(
    ("layer", "fmt", "magic"),
    [
        ("grids", "geojson", b"{"),
        ("grids", "gpkg", b"SQLite format 3\x00"),
        ("grids", "csv", b"\xef\xbb\xbfWKT"),
        ("buildings", "geojson", b"{"),
    ],
)
def test_grids_and_buildings_export_in_each_format(client, people_city, layer, fmt, magic):
    response = client.get(
        f"/api/exports/{layer}", headers=as_(people_city, "worker_a"), params={"format": fmt}
    )
    assert response.status_code == 200
    assert response.content.startswith(magic)
    if fmt == "geojson":
        codes = {f["properties"]["code"] for f in json.loads(response.content)["features"]}
        assert codes == ({GRID_A, GRID_B} if layer == "grids" else {"BA", "BB"})
    refused = client.get(
        f"/api/exports/{layer}", headers=as_(people_city, "worker_a"), params={"format": "shp"}
    )
    assert refused.status_code == 422


def test_the_ledger_template_has_the_chinese_headers_and_a_notes_sheet(client, people_city):
    response = client.get("/api/templates/residents.xlsx", headers=as_(people_city, "worker_a"))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["台账", "说明"]
    assert [c.value for c in book["台账"][1]] == HEADERS
    as_csv = client.get("/api/templates/residents.csv", headers=as_(people_city, "worker_a"))
    assert as_csv.content.decode("utf-8-sig").strip() == ",".join(HEADERS)
    assert client.get("/api/templates/residents.xlsx").status_code == 401


# --- the background path, on committed data ----------------------------------------------------


@pytest.fixture
def background(
    committed_engine: Engine, tmp_path: Path
) -> Iterator[tuple[TestClient, ImportRunner]]:
    app = create_app()

    def committed_session() -> Iterator[Session]:
        with session_scope(committed_engine) as session:
            yield session

    for dependency in (get_session, get_read_session):  # the dashboards' reads too
        app.dependency_overrides[dependency] = committed_session
    runner = ImportRunner(engine=committed_engine, upload_dir=tmp_path / "imports")
    app.state.import_runner = runner
    with TestClient(app) as client:
        yield client, runner
    runner.shutdown()


def test_in_the_background_a_job_is_queued_then_done_with_its_rows_committed(
    background, committed_engine
):
    client, runner = background
    headers = admin_headers(committed_engine)
    content = ledger_csv(
        person(51, "后台一", house="BA-1-0101"),
        person(52, "后台二", house="BA-1-0101"),
        {**person(53, "没有房"), "房屋编码": "BA-9-9999"},
    )
    accepted = upload(client, headers, "residents", "背景.csv", content)
    assert accepted.status_code == 202
    job_id = accepted.json()["id"]
    assert accepted.json()["status"] in ("queued", "running", "done")
    runner.wait(timeout=120)
    job = client.get(f"/api/imports/{job_id}", headers=headers).json()
    assert (job["status"], job["processed"], job["imported"], job["rejected"]) == ("done", 3, 2, 1)
    assert job["started_at"] and job["finished_at"]
    with session_scope(committed_engine) as session:
        names = set(session.scalars(select(Resident.name).where(Resident.name.like("后台%"))))
    assert names == {"后台一", "后台二"}
    errors = client.get(job["error_report_url"], headers=headers)
    assert "BA-9-9999" in errors.content.decode("utf-8-sig")


def test_in_the_background_a_rejected_layer_fails_and_leaves_nothing(background, committed_engine):
    client, runner = background
    headers = admin_headers(committed_engine)
    outside = geojson(
        [({"code": COMMUNITY + "009", "name": "界外"}, box(111.5, 30.9, 111.6, 31.0))]
    )
    job_id = upload(client, headers, "grids", "outside.geojson", outside).json()["id"]
    runner.wait(timeout=120)
    job = client.get(f"/api/imports/{job_id}", headers=headers).json()
    assert job["status"] == "failed" and job["rejected"] == 1 and job["finished_at"]
    with session_scope(committed_engine) as session:
        assert session.get(Grid, COMMUNITY + "009") is None


def test_a_rejected_feature_id_cannot_become_a_formula_in_the_error_file(
    client,
    people_city,
    runner,
):
    formula = '=HYPERLINK("http://evil.example/x","点此")'
    layer = geojson([({"code": formula, "name": "坏网格"}, box(111.28, 30.71, 111.29, 30.72))])
    failed = upload(client, as_(people_city, "admin"), "grids", "bad.geojson", layer).json()
    assert failed["status"] == "failed"
    report = client.get(failed["error_report_url"], headers=as_(people_city, "admin"))
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == ["'" + formula] * (len(rows) - 1)
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
