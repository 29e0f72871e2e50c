"""Bad input, as a table: every kind of hostile or careless input across the API, Open311,
imports and pages gets a 4xx in the one error shape, with a sentence, and writes nothing.

Each row names who sends what where, the status it must get and (where one field is to blame)
the field the error names. "Nothing written" is checked on every table of the schema and on
every file under the test's upload folders.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import events.models
import gis.jobs
import grid.models
import people.models
from gis.db import Base
from tests.api.event_requests import report
from tests.events.workflow_city import SPOT
from tests.factories import bearer

assert events.models and gis.jobs and grid.models and people.models  # every table is counted

MB = 1024 * 1024
BOUNDARY = "x-gridgov-boundary"


# -- what is sent ----------------------------------------------------------------------------------


def resident(**fields: Any) -> dict[str, Any]:
    """A resident body, overridden by `fields` (validation refuses it before any lookup)."""
    return {"doc_type": "id_card", "doc_number": "420502198506150011", "name": "张三"} | fields


def open311(**fields: str) -> dict[str, str]:
    """A GeoReport v2 POST form (the api_key is added by the row's sender)."""
    return {
        "service_code": "0101",
        "lat": str(SPOT[1]),
        "long": str(SPOT[0]),
        "description": "小区门口有人反复踩点",
    } | fields


def png(width: int, height: int, mode: str = "1") -> bytes:
    """A PNG that is small on disk however many pixels it has (one colour compresses)."""
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, "JPEG")
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """An .xlsx-looking archive of 100 kB whose one sheet inflates to 200 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            block = b"\x00" * (16 * MB)
            for _ in range(200 // 16):
                sheet.write(block)
    return buffer.getvalue()


def broken_gpkg() -> bytes:
    """A SQLite file named .gpkg without any GeoPackage table."""
    return b"SQLite format 3\x00" + b"\x00" * 4000


def plain_sqlite(tmp: Path) -> bytes:
    """A valid SQLite database that is no GeoPackage."""
    path = tmp / "plain.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    return path.read_bytes()


def nested(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


# -- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One kind of bad input: who sends it, how, and the answer it must get."""

    name: str
    who: str | None  # a role of the test city, "open311" for an integration key, None: nobody
    method: str
    path: str
    send: Callable[[Path], dict[str, Any]] = lambda tmp: {}
    status: int = 422
    field: str | None = None
    words: tuple[str, ...] = ()


def json_body(body: Any) -> Callable[[Path], dict[str, Any]]:
    return lambda tmp: {"json": body}


def raw(content: bytes, media: str = "application/json") -> Callable[[Path], dict[str, Any]]:
    return lambda tmp: {"content": content, "headers": {"Content-Type": media}}


def photos(*files: bytes, name: str = "photos", **fields: Any) -> Callable[[Path], dict[str, Any]]:
    def send(tmp: Path) -> dict[str, Any]:
        parts = [(name, (f"p{i}.png", data)) for i, data in enumerate(files)]
        return {"data": {k: str(v) for k, v in report(**fields).items()}, "files": parts}

    return send


def upload(
    name: str, content: bytes | Callable[[Path], bytes], kind: str = "residents", **form: str
) -> Callable[[Path], dict[str, Any]]:
    def send(tmp: Path) -> dict[str, Any]:
        data = content(tmp) if callable(content) else content
        return {"data": {"kind": kind, **form}, "files": {"file": (name, data)}}

    return send


def form(fields: dict[str, str]) -> Callable[[Path], dict[str, Any]]:
    return lambda tmp: {"data": fields}


EVENTS = "/api/events"
O311 = "/open311/v2/requests.json"

CASES = [
    # -- wrong types -------------------------------------------------------------------------------
    Case("lon is text", "worker", "POST", EVENTS, json_body(report(lon="east")), field="lon"),
    Case("lat is a list", "worker", "POST", EVENTS, json_body(report(lat=[30.7])), field="lat"),
    Case(
        "description is a number",
        "worker",
        "POST",
        EVENTS,
        json_body(report(description=42)),
        field="description",
    ),
    Case(
        "self_resolved is 'maybe'",
        "worker",
        "POST",
        EVENTS,
        json_body(report(self_resolved="maybe")),
        field="self_resolved",
    ),
    Case("body is a list", "worker", "POST", EVENTS, json_body([report()]), words=("object",)),
    Case(
        "body is not JSON",
        "worker",
        "POST",
        EVENTS,
        raw(b"category=0101&lon=1"),
        words=("not valid JSON",),
    ),
    Case(
        "lon NaN",
        "worker",
        "POST",
        EVENTS,
        raw(b'{"category": "0101", "lon": NaN, "lat": 30.7, "description": "xx"}'),
        field="lon",
    ),
    Case(
        "resident birth_date not a date",
        "worker",
        "POST",
        "/api/residents",
        json_body(resident(birth_date="yesterday")),
        field="birth_date",
    ),
    Case("page is text", "worker", "GET", "/api/events?page=first", field="page"),
    Case("unit map id is text", "command_staff", "GET", "/maps/unit?unit=abc", field="unit"),
    # -- absurd and swapped coordinates ------------------------------------------------------------
    Case(
        "lat 130",
        "worker",
        "POST",
        EVENTS,
        json_body(report(lat=130.2)),
        words=("130.2", "-90..90"),
    ),
    Case(
        "lon and lat swapped",
        "worker",
        "POST",
        EVENTS,
        json_body(report(lon=SPOT[1], lat=SPOT[0])),
        words=("swap",),
    ),
    Case("lon 1e308", "worker", "POST", EVENTS, json_body(report(lon=1e308)), words=("degrees",)),
    Case("unknown crs", "worker", "POST", EVENTS, json_body(report(crs="epsg:3857")), field="crs"),
    Case("bbox upside down", "worker", "GET", "/api/events?bbox=111.3,30.8,111.2,30.7", status=400),
    Case("Open311 lat 130", "open311", "POST", O311, form(open311(lat="130")), status=400),
    Case("Open311 long is text", "open311", "POST", O311, form(open311(long="east")), status=400),
    # -- times out of range ------------------------------------------------------------------------
    Case(
        "occurred_at in year 1",
        "worker",
        "POST",
        EVENTS,
        json_body(report(occurred_at="0001-01-01T00:00:00+08:00")),
        field="occurred_at",
    ),
    Case(
        "occurred_at in 2999",
        "worker",
        "POST",
        EVENTS,
        json_body(report(occurred_at="2999-01-01T00:00:00+08:00")),
        field="occurred_at",
    ),
    Case(
        "occurred_at in 1999",
        "worker",
        "POST",
        EVENTS,
        json_body(report(occurred_at="1999-12-31T23:00:00")),
        field="occurred_at",
    ),
    Case(
        "Open311 occurred_at in year 1",
        "open311",
        "POST",
        O311,
        form(open311(**{"attribute[occurred_at]": "0001-01-01T00:00:00+08:00"})),
        status=400,
    ),
    Case(
        "resident born in year 1",
        "worker",
        "POST",
        "/api/residents",
        json_body(resident(birth_date="0001-01-01")),
        field="birth_date",
    ),
    Case(
        "calendar day in year 1",
        "admin",
        "PUT",
        "/api/calendar/0001-01-01",
        json_body({"kind": "holiday", "name": "假日"}),
        field="day",
    ),
    # -- control and NUL characters ----------------------------------------------------------------
    Case(
        "description with \\x01",
        "worker",
        "POST",
        EVENTS,
        json_body(report(description="井盖\x01丢失")),
        field="description",
        words=("U+0001",),
    ),
    Case(
        "description with \\x0b",
        "worker",
        "POST",
        EVENTS,
        json_body(report(description="井盖\x0b丢失")),
        field="description",
    ),
    Case(
        "address with \\x1f",
        "worker",
        "POST",
        EVENTS,
        json_body(report(address="一路\x1f")),
        field="address",
    ),
    Case(
        "description with NUL",
        "worker",
        "POST",
        EVENTS,
        json_body(report(description="井盖\x00丢失")),
        field="description",
    ),
    Case(
        "description with a lone surrogate",
        "worker",
        "POST",
        EVENTS,
        raw(b'{"category": "0101", "lon": 111.292, "lat": 30.705, "description": "ab\\ud800"}'),
        field="description",
    ),
    Case(
        "multipart description with \\x01",
        "worker",
        "POST",
        EVENTS,
        photos(jpeg(), description="井盖\x01丢失"),
        field="description",
    ),
    Case(
        "resident name with \\x01",
        "worker",
        "POST",
        "/api/residents",
        json_body(resident(name="张\x01三")),
        field="name",
    ),
    Case(
        "Open311 description with \\x01",
        "open311",
        "POST",
        O311,
        form(open311(description="井盖\x01丢失")),
        status=400,
    ),
    Case(
        "NUL in the sign-in form",
        None,
        "POST",
        "/api/auth/token",
        form({"username": "admin\x00", "password": "test-password"}),
        words=("NUL",),
    ),
    Case("NUL in the query", "worker", "GET", "/api/events?q=a%00b", field="q"),
    Case("NUL in a page's query", None, "GET", "/login?next=%2F%00", field="next"),
    Case(
        "action note with \\x07",
        "disp_w",
        "POST",
        "/api/events/NONE-1/sign",
        json_body({"note": "\x07"}),
        field="note",
    ),
    # -- oversized and deeply nested bodies --------------------------------------------------------
    Case(
        "2 MB JSON body",
        "worker",
        "POST",
        "/api/residents",
        raw(b'{"name": "' + b"x" * (2 * MB) + b'"}'),
        status=413,
    ),
    Case(
        "2 MB JSON report (photos come in multipart bodies)",
        "worker",
        "POST",
        EVENTS,
        json_body(report(description="x" * (2 * MB))),
        status=413,
        words=("1 MB",),
    ),
    Case(
        "100k nested JSON to a report",
        "worker",
        "POST",
        EVENTS,
        raw(nested()),
        words=("not valid JSON",),
    ),
    Case(
        "100k nested JSON to a schema route",
        "worker",
        "POST",
        "/api/residents",
        raw(nested()),
        status=400,
    ),
    Case(
        "description of 5000 characters",
        "worker",
        "POST",
        EVENTS,
        json_body(report(description="长" * 5000)),
        field="description",
    ),
    # -- wrong media types -------------------------------------------------------------------------
    Case(
        "report as text/plain",
        "worker",
        "POST",
        EVENTS,
        raw(b'{"category": "0101"}', "text/plain"),
        status=415,
    ),
    Case(
        "import as JSON",
        "admin",
        "POST",
        "/api/imports",
        json_body({"kind": "residents"}),
        status=415,
    ),
    Case(
        "a PDF as a photo", "worker", "POST", EVENTS, photos(b"%PDF-1.7\n" + b"x" * 100), status=415
    ),
    Case(
        "a photo in the wrong field",
        "worker",
        "POST",
        EVENTS,
        photos(jpeg(), name="file"),
        field="file",
    ),
    Case(
        "a .zip import",
        "admin",
        "POST",
        "/api/imports",
        upload("ledger.zip", b"PK\x03\x04"),
        status=415,
    ),
    Case(
        "a CSV holding NUL bytes",
        "admin",
        "POST",
        "/api/imports",
        upload("ledger.csv", b"a,b\x00,c\n"),
        status=415,
    ),
    # -- broken and bomb files ---------------------------------------------------------------------
    Case(
        "twelve photos", "worker", "POST", EVENTS, photos(*[jpeg()] * 12), status=413, words=("9",)
    ),
    Case(
        "a 50-megapixel PNG",
        "worker",
        "POST",
        EVENTS,
        photos(png(10_000, 5_000)),
        status=413,
        words=("50 MP",),
    ),
    Case(
        "an image decompression bomb",
        "worker",
        "POST",
        EVENTS,
        photos(png(30_000, 30_000)),
        status=413,
    ),
    Case(
        "a truncated JPEG",
        "worker",
        "POST",
        EVENTS,
        photos(jpeg((640, 480))[:400]),
        words=("damaged",),
    ),
    Case(
        "an xlsx zip bomb",
        "admin",
        "POST",
        "/api/imports",
        upload("ledger.xlsx", lambda tmp: zip_bomb()),
        status=413,
        words=("zip bomb",),
    ),
    Case(
        "a broken xlsx",
        "admin",
        "POST",
        "/api/imports",
        upload("ledger.xlsx", b"PK\x03\x04" + b"\x00" * 200),
        field="file",
        words=("damaged",),
    ),
    Case(
        "a zip that is no workbook",
        "admin",
        "POST",
        "/api/imports",
        upload("ledger.xlsx", lambda tmp: _zip({"readme.txt": "hi"})),
        field="file",
    ),
    Case(
        "a broken GeoPackage",
        "admin",
        "POST",
        "/api/imports",
        upload("grids.gpkg", broken_gpkg(), kind="grids"),
        field="file",
    ),
    Case(
        "SQLite that is no GeoPackage",
        "admin",
        "POST",
        "/api/imports",
        upload("grids.gpkg", plain_sqlite, kind="grids"),
        field="file",
    ),
    # -- formula text where it must be refused -----------------------------------------------------
    Case(
        "a formula as a phone number",
        "worker",
        "POST",
        "/api/residents",
        json_body(resident(phone="=1+1")),
        status=422,
    ),
    Case(
        "a formula as an ID number",
        "worker",
        "POST",
        "/api/residents/lookup",
        json_body({"doc_type": "id_card", "doc_number": '=HYPERLINK("x")'}),
        status=422,
    ),
    # -- unknown fields ----------------------------------------------------------------------------
    Case(
        "misspelt occured_at",
        "worker",
        "POST",
        EVENTS,
        json_body(report(occured_at="2026-11-23T09:00:00+08:00")),
        field="occured_at",
    ),
    Case(
        "a field residents do not have",
        "worker",
        "POST",
        "/api/residents",
        json_body(resident(salary=100)),
        field="salary",
    ),
    Case(
        "an action field that does not exist",
        "disp_w",
        "POST",
        "/api/events/NONE-1/sign",
        json_body({"nope": 1}),
        field="nope",
    ),
    Case(
        "an unknown import kind",
        "admin",
        "POST",
        "/api/imports",
        upload("a.csv", b"x\n", kind="people"),
        field="kind",
    ),
    Case(
        "an unknown import crs",
        "admin",
        "POST",
        "/api/imports",
        upload("a.csv", b"x\n", crs="epsg:4326"),
        field="crs",
    ),
    # -- out-of-scope codes ------------------------------------------------------------------------
    Case(
        "unknown category", "worker", "POST", EVENTS, json_body(report(category="9999")), status=422
    ),
    Case(
        "category code too long",
        "worker",
        "POST",
        EVENTS,
        json_body(report(category="012345678")),
        field="category",
    ),
    Case(
        "Open311 unknown service",
        "open311",
        "POST",
        O311,
        form(open311(service_code="9999")),
        status=400,
    ),
    Case(
        "unknown event action",
        "worker",
        "POST",
        "/api/events/NONE-1/explode",
        json_body({}),
        status=404,
        field="action",
    ),
    Case("unknown event", "worker", "GET", "/api/events/NONE-1", status=404),
    Case(
        "another grid's residents",
        "west_worker",
        "GET",
        "/api/residents?grid=420502001001999",
        status=403,
    ),
    Case("Open311 without a key", None, "POST", O311, form(open311()), status=401),
    # 源头治理: the closing report must say what changed at the source; detection takes a district
    Case(
        "recurrence closing report too short",
        "disp_w",
        "POST",
        "/api/recurrences/1/close",
        form({"report": "已整改"}),
        field="report",
        words=("办结报告至少15个字",),
    ),
    Case(
        "recurrence closing report missing",
        "disp_w",
        "POST",
        "/api/recurrences/1/close",
        json_body({"reprot": "加装了路灯和监控，落实物业巡查责任"}),
    ),
    Case(
        "recurrence detection for a district outside mine",
        "command_staff",
        "POST",
        "/api/recurrences/detect",
        json_body({"district": "420503"}),
        status=403,
        words=("420503",),
    ),
]


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


# -- the test --------------------------------------------------------------------------------------


def written(session: Session, tmp_path: Path) -> tuple[dict[str, int], list[str]]:
    """Rows of every table, and every file under the test's upload folders."""
    rows = {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    return rows, files


def test_the_table_is_wide_enough() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gets_a_4xx_sentence_and_writes_nothing(
    client: Any, city: dict[str, Any], session: Session, tmp_path: Path, case: Case
) -> None:
    request = case.send(tmp_path)
    headers = dict(request.pop("headers", {}))
    path = case.path
    if case.who == "open311":
        path += ("&" if "?" in path else "?") + f"api_key={city['open311']}"
    elif case.who is not None:
        headers |= bearer(city[case.who])
    before = written(session, tmp_path)

    response = client.request(case.method, path, headers=headers, **request)

    assert response.status_code == case.status, response.text
    if path.startswith("/open311/"):
        # Open311's own shape: [{"code", "description"}].
        [error] = response.json()
        assert error["code"] == case.status and error["description"]
    else:
        error = response.json()["error"]
        assert set(error) >= {"code", "message", "field"}
        assert " " in error["message"] and error["message"][0] > "\x7f"  # Chinese title first
        if case.field is not None:
            assert error["field"] == case.field, error
    message = str(error.get("message", error.get("description")))
    for word in case.words:
        assert word in message, message
    assert written(session, tmp_path) == before
