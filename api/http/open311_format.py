"""Open311 answers as JSON or XML: UTF-8, times in ISO 8601 with their zone (+08:00).

XML follows the GeoReport v2 examples: a plural root (`services`, `service_requests`,
`errors`), one element per item (`service`, `request`, `error`), one child per field, lists
nested under their plural name (`attributes/attribute`, `values/value`, `notes/note`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from xml.etree import ElementTree as ET

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gis.clock import CHINA_TZ
from gis.text import UNPRINTABLE

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
XML_MEDIA_TYPE = "text/xml; charset=utf-8"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"

# The element name of one member of each list field.
ITEM_NAMES = {
    "attributes": "attribute",
    "values": "value",
    "notes": "note",
    "endpoints": "endpoint",
    "formats": "format",
    "jurisdictions": "jurisdiction",
}


class Utf8JSONResponse(JSONResponse):
    """JSON with the charset spelled out (Chinese text must not be guessed as Latin-1)."""

    media_type = JSON_MEDIA_TYPE


def iso(moment: datetime) -> str:
    """A time in ISO 8601 with its zone, in China time: 2026-11-23T10:00:00+08:00."""
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def plain(value: Any) -> Any:
    """Models, times and nested lists turned into JSON-ready values."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(exclude_none=False))
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    # XML 1.0 cannot carry control characters (input refuses them, but rows stored before that
    # may hold some): each is shown as U+FFFD so that one row cannot break the whole feed.
    return UNPRINTABLE.sub("\ufffd", str(value))


def _fill(element: ET.Element, value: Any, name: str) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child, key)
    elif isinstance(value, list):
        item_name = ITEM_NAMES.get(name, "item")
        for child in value:
            _fill(ET.SubElement(element, item_name), child, item_name)
    else:
        element.text = _text(value)


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """An XML document: `<root>` holding one `<item>` per element of a list, or the fields."""
    document = ET.Element(root)
    value = plain(data)
    if item is not None:
        for member in value:
            _fill(ET.SubElement(document, item), member, item)
    else:
        _fill(document, value, root)
    body: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    return body


def render(
    fmt: Format,
    data: Any,
    *,
    root: str,
    item: str | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The answer in the asked format; `item` None means `data` is one object, not a list."""
    if fmt == "xml":
        return Response(
            to_xml(root, item, data),
            status_code=status_code,
            media_type=XML_MEDIA_TYPE,
            headers=headers,
        )
    return Utf8JSONResponse(plain(data), status_code=status_code, headers=headers)


def errors(
    fmt: Format,
    status_code: int,
    descriptions: Sequence[str],
    headers: dict[str, str] | None = None,
) -> Response:
    """The Open311 error shape: `[{"code", "description"}]`, `<errors><error>…` in XML."""
    rows = [{"code": status_code, "description": d} for d in descriptions]
    return render(fmt, rows, root="errors", item="error", status_code=status_code, headers=headers)
