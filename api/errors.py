"""Domain errors → HTTP status codes with a sentence in `detail`; never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from events import exceptions as event_errors
from gis.crs import CoordinateError
from gis.geometry import GeometryError
from grid.exceptions import GridError, InvalidQuery, NotFound
from people import exceptions as people_errors

log = logging.getLogger(__name__)

# Most specific first: the first matching class decides the status.
STATUS_OF: list[tuple[type[Exception], int]] = [
    (NotFound, status.HTTP_404_NOT_FOUND),
    (InvalidQuery, status.HTTP_400_BAD_REQUEST),
    (CoordinateError, status.HTTP_400_BAD_REQUEST),
    (GeometryError, status.HTTP_400_BAD_REQUEST),
    (GridError, status.HTTP_400_BAD_REQUEST),
    (people_errors.NotFound, status.HTTP_404_NOT_FOUND),
    (people_errors.Forbidden, status.HTTP_403_FORBIDDEN),
    (people_errors.Duplicate, status.HTTP_409_CONFLICT),
    (people_errors.InvalidRecord, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (people_errors.PeopleError, status.HTTP_400_BAD_REQUEST),
    (event_errors.NotFound, status.HTTP_404_NOT_FOUND),
    (event_errors.Forbidden, status.HTTP_403_FORBIDDEN),
    (event_errors.ActionNotAllowed, status.HTTP_409_CONFLICT),
    (event_errors.Conflict, status.HTTP_409_CONFLICT),
    (event_errors.InvalidReport, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (event_errors.EventError, status.HTTP_400_BAD_REQUEST),
]


def _validation_sentence(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"] if p not in ("query", "body", "path"))
        value = error.get("input")
        shown = f" (got {value!r})" if value is not None and not isinstance(value, dict) else ""
        parts.append(f"{where}: {error['msg']}{shown}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into clear 4xx/503 answers."""

    @app.exception_handler(RequestValidationError)
    def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": _validation_sentence(exc), "errors": exc.errors()},
        )

    for error_class, code in STATUS_OF:

        def _handler(request: Request, exc: Exception, code: int = code) -> JSONResponse:
            return JSONResponse(status_code=code, content={"detail": str(exc)})

        app.add_exception_handler(error_class, _handler)

    @app.exception_handler(OperationalError)
    def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc.orig)
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "the database is not reachable; try again in a minute"},
        )
