"""Checks on raw request input that hold for every route of the app.

Only the path and the query are checked here, app-wide: they are already in memory. A body is
never read before the route's gate has run (see api/http/body_limit.py for its size): its text is
checked where it is parsed, by the schemas' shared validator (gis/text.py), and the handlers
below turn text PostgreSQL cannot store, should any slip past, into a 422 instead of a 500.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from api.http.errors import ApiError, error_response


async def no_nul(request: Request) -> None:
    """Refuse NUL characters in the path or query: PostgreSQL text cannot hold them."""
    sent = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in sent:
        if "\x00" in name or "\x00" in value:
            raise ApiError(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{name or 'the query'} contains a NUL (\\x00) character; remove it and send again",
                field=name or None,
            )


def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """Text the database driver refused (NUL, a lone surrogate): 422, the transaction undone."""
    if isinstance(exc, UnicodeEncodeError) or "NUL (0x00)" in str(exc):
        return error_response(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a text field contains a character that cannot be stored (a NUL or a broken "
            "surrogate pair); remove it and send again",
        )
    raise exc


def install(app: FastAPI) -> None:
    """Register the last line of defence against text PostgreSQL cannot hold."""
    app.add_exception_handler(ValueError, _unstorable)
