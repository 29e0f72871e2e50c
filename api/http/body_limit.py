"""Request body size limits, enforced while the body streams in, before anything parses it.

A pure ASGI middleware: a declared `Content-Length` over the route's limit is refused before
a byte of the body is read, and a body sent without one (chunked) is counted as it arrives and
refused the moment it passes the limit. Routes that take photos or import files get room for
them; every other body is a small JSON object or form.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import error_body
from events.attachments import MAX_PHOTOS
from gis.config import get_settings

MEGABYTE: Final = 1024 * 1024
# A JSON object or a form: a report's text, a rule, a jurisdiction is far below this.
DEFAULT_LIMIT: Final = 1 * MEGABYTE
# A unit's jurisdiction polygon (GeoJSON) may carry many vertices.
GEOMETRY_LIMIT: Final = 16 * MEGABYTE
# A device's batch of readings (500 at most, about 80 bytes each) with room to spare.
READINGS_LIMIT: Final = 256 * 1024
# Room for the text fields and the multipart envelope beside the files.
FORM_SLACK: Final = 1 * MEGABYTE


def photo_request_limit() -> int:
    """Bytes a report or an action may send: MAX_PHOTOS photos of MAX_PHOTO_MB and its fields."""
    return int(MAX_PHOTOS * get_settings().max_photo_mb * MEGABYTE) + FORM_SLACK


def import_request_limit() -> int:
    """Bytes an import upload may send: a file of MAX_IMPORT_MB and the form around it."""
    return int(get_settings().max_import_mb * MEGABYTE) + FORM_SLACK


def _photo_sentence(limit: int) -> str:
    return (
        f"send at most {MAX_PHOTOS} photos of {get_settings().max_photo_mb:g} MB each "
        f"(the request limit is {limit / MEGABYTE:.0f} MB)"
    )


def _import_sentence(limit: int) -> str:
    return (
        f"the import file limit is {get_settings().max_import_mb:g} MB; split the file "
        "and import the parts"
    )


def _readings_sentence(limit: int) -> str:
    return (
        f"a post of readings may carry at most {limit // 1024} KB (500 readings); "
        "send larger batches in several posts"
    )


def _plain_sentence(limit: int) -> str:
    return f"this route takes a JSON object or form of at most {limit / MEGABYTE:g} MB"


@dataclass(frozen=True)
class BodyRule:
    """The body limit of the routes whose method and path match, and what to say past it.

    Files only come in multipart bodies: a JSON report needs no room for photos, so any other
    media type keeps DEFAULT_LIMIT.
    """

    methods: frozenset[str]
    path: re.Pattern[str]
    limit: Callable[[], int]
    advice: Callable[[int], str]
    multipart: bool = True  # the limit holds for multipart bodies only


# First match wins; anything else gets DEFAULT_LIMIT.
RULES: Final = (
    BodyRule(
        frozenset({"POST"}),
        re.compile(r"/api/events(/[^/]+/[^/]+)?/?"),
        photo_request_limit,
        _photo_sentence,
    ),
    BodyRule(
        frozenset({"POST"}), re.compile(r"/api/imports/?"), import_request_limit, _import_sentence
    ),
    BodyRule(
        frozenset({"POST"}),
        re.compile(r"/api/devices/[^/]+/readings/?"),
        lambda: READINGS_LIMIT,
        _readings_sentence,
        multipart=False,
    ),
    BodyRule(
        frozenset({"PUT"}),
        re.compile(r"/api/units/[^/]+/jurisdiction/?"),
        lambda: GEOMETRY_LIMIT,
        _plain_sentence,
        multipart=False,
    ),
)


def limit_of(method: str, path: str, media: str = "") -> tuple[int, Callable[[int], str]]:
    """The body limit in bytes of a request, and the advice given when it is passed."""
    for rule in RULES:
        if method in rule.methods and rule.path.fullmatch(path):
            if rule.multipart and media != "multipart/form-data":
                break
            return rule.limit(), rule.advice
    return DEFAULT_LIMIT, _plain_sentence


class BodyTooLarge(Exception):
    """Raised from `receive` when a streaming body passes its limit."""


def _megabytes(size: int) -> str:
    return f"{size / MEGABYTE:.1f} MB" if size < 10 * MEGABYTE else f"{size / MEGABYTE:.0f} MB"


class BodyLimitMiddleware:
    """Refuse bodies over the route's limit with 413, declared or streamed, before parsing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _refuse(self, send: Send, message: str) -> None:
        payload = json.dumps(error_body(413, message), ensure_ascii=False).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    # The rest of the body is not read: the client must not reuse the connection.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting `receive`; answer 413 past the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        limit, advice = limit_of(scope["method"], scope["path"], media)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(
                send, f"the request body is {_megabytes(int(declared))}; {advice(limit)}"
            )
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # Whatever the route made of the cut-off body (a parse error), the answer is 413.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # the app stopped reading; answered below
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(
                send, f"the request body is over {_megabytes(limit)}; {advice(limit)}"
            )
