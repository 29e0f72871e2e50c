"""Checks on raw request input that hold for every route of the app."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request, status

from api.errors import ApiError


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (keys included), with the field it sits in."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            yield name, str(key)
            yield from _strings(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}.{index}" if where else str(index))


async def no_nul(request: Request) -> None:
    """Refuse NUL characters in the path, query or body: PostgreSQL text cannot hold them."""
    sent: list[tuple[str, str]] = [
        *request.path_params.items(),
        *request.query_params.multi_items(),
    ]
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, str):
                sent.append((key, value))
            elif value.filename:
                sent.append((key, value.filename))
    elif request.method not in ("GET", "HEAD", "DELETE") and "json" in content_type:
        # Not JSON at all: the body's own validation says so.
        with contextlib.suppress(ValueError):
            sent.extend(_strings(json.loads(await request.body()), ""))
    for name, value in sent:
        if "\x00" in name or "\x00" in value:
            raise ApiError(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{name or 'the body'} contains a NUL (\\x00) character; remove it and send again",
                field=name or None,
            )
