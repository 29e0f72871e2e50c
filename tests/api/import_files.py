"""Files for the import API tests: ledger CSVs and GeoJSON layers made in memory, uploaded."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import Engine, select

from gis.db import session_scope
from people.ledger import COLUMNS
from tests.factories import bearer, id_number

HEADERS = [c.header for c in COLUMNS]


def ledger_csv(*rows: dict[str, str]) -> bytes:
    """A ledger CSV by Chinese header (UTF-8 with BOM, as Excel saves it)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADERS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8-sig")


def person(sequence: int, name: str, house: str = "BA-1-0201") -> dict[str, str]:
    """A ledger row by Chinese header for resident `sequence` living in `house`."""
    return {
        "姓名": name,
        "证件号码": id_number(sequence),
        "人口类型": "户籍人口",
        "房屋编码": house,
        "联系电话": "13812345678",
    }


def upload(client, headers, kind: str, name: str, content: bytes, **form: str):
    """POST a file to /api/imports as an import of `kind`."""
    return client.post(
        "/api/imports",
        headers=headers,
        data={"kind": kind, **form},
        files={"file": (name, content)},
    )


def geojson(features: list[tuple[dict[str, Any], Any]]) -> bytes:
    """A GeoJSON FeatureCollection of (properties, shapely geometry) pairs, as bytes."""
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": p, "geometry": g.__geo_interface__}
                for p, g in features
            ],
        },
        ensure_ascii=False,
    ).encode()


def admin_headers(engine: Engine) -> dict[str, str]:
    """Headers signing in as the committed admin `boss` of the database behind `engine`."""
    from people.access import load_actor
    from people.models import Staff

    with session_scope(engine) as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.username == "boss"))
        return bearer(load_actor(session, staff_id=staff_id))
