"""Every error as one JSON shape with a sentence in Chinese and English; never a stack trace.

{"error": {"code": "not_found", "message": "未找到 Not found: event … does not exist",
           "field": null}}
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg2.errors
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.attachments import AttachmentError
from gis import errors as domain
from gis.db import NonDurableDatabase

log = logging.getLogger(__name__)

# status → (code, Chinese title, English title) of the error shape.
TITLES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求有误", "Bad request"),
    401: ("unauthenticated", "未登录或登录已过期", "Not signed in"),
    403: ("forbidden", "无权操作", "Forbidden"),
    404: ("not_found", "未找到", "Not found"),
    405: ("method_not_allowed", "不支持该方法", "Method not allowed"),
    409: ("conflict", "状态冲突", "Conflict"),
    410: ("gone", "已过期删除", "Gone"),
    413: ("too_large", "内容过大", "Too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
    422: ("invalid", "数据校验未通过", "Invalid input"),
    429: ("rate_limited", "请求过于频繁", "Too many requests"),
    503: ("unavailable", "服务暂不可用", "Service unavailable"),
}

# The status of each kind of domain error (gis/errors.py), most specific first: the first
# matching class decides. Every package's errors subclass one of these.
STATUS_OF: list[tuple[type[domain.DomainError], int]] = [
    (domain.NotFound, status.HTTP_404_NOT_FOUND),
    (domain.Forbidden, status.HTTP_403_FORBIDDEN),
    (domain.Conflict, status.HTTP_409_CONFLICT),
    (domain.Invalid, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (domain.DomainError, status.HTTP_400_BAD_REQUEST),
]

# Refused uploads: too big is 413, not an image we take is 415, the rest 422.
ATTACHMENT_STATUS = {
    "too_large": status.HTTP_413_CONTENT_TOO_LARGE,
    "too_many": status.HTTP_413_CONTENT_TOO_LARGE,
    "too_many_pixels": status.HTTP_413_CONTENT_TOO_LARGE,
    "not_a_photo": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    "unsupported": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
}


# Seconds a client should wait before retrying a request the database could not serve.
RETRY_AFTER_TIMEOUT_S = 5
RETRY_AFTER_OUTAGE_S = 10

# Database failures answered 503 with Retry-After: the request may succeed when retried (with
# the same Idempotency-Key), and nothing of it was committed unless the commit itself was cut.
UNAVAILABLE = (OperationalError, InterfaceError, NonDurableDatabase)


def database_unavailable(exc: Exception) -> tuple[str, dict[str, str]] | None:
    """The sentence and headers of a 503 for a database failure, or None for other errors.

    A statement cancelled by statement_timeout (QueryCanceled) says the database is slow; a
    lost or refused connection (the server restarting, a network cut) says it is unreachable.
    """
    if isinstance(exc, NonDurableDatabase):
        return str(exc), {"Retry-After": str(RETRY_AFTER_OUTAGE_S)}
    if not isinstance(exc, DBAPIError):
        return None
    if isinstance(exc.orig, psycopg2.errors.CheckViolation) and "no partition" in str(exc.orig):
        return (
            "本月的案件分区尚未建立，请管理员运行 gridgov db partitions。the case history has no "
            "partition for this month yet (the daily `gridgov db partitions` has stopped); "
            "nothing was saved, send it again once it has run",
            {"Retry-After": str(RETRY_AFTER_OUTAGE_S)},
        )
    if isinstance(exc.orig, psycopg2.errors.QueryCanceled):
        return (
            "数据库繁忙，请稍后重试。the database took too long to answer and the request "
            "was cancelled, nothing was saved; try again in a few seconds",
            {"Retry-After": str(RETRY_AFTER_TIMEOUT_S)},
        )
    if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
        return (
            "数据库暂时无法连接，请稍后重试。the database is not reachable right now; "
            "try again shortly (send the same Idempotency-Key so nothing is filed twice)",
            {"Retry-After": str(RETRY_AFTER_OUTAGE_S)},
        )
    return None


class ApiError(Exception):
    """An error raised by the HTTP layer itself (authentication, rate limits, uploads)."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.field = field
        self.headers = headers


def error_body(status_code: int, message: str, field: str | None = None, **extra: Any) -> Any:
    """The error shape: a code, a sentence prefixed with its Chinese and English title."""
    code, chinese, english = TITLES.get(status_code, ("error", "错误", "Error"))
    return {
        "error": {"code": code, "message": f"{chinese} {english}: {message}", "field": field}
        | extra
    }


def error_response(
    status_code: int,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON response in the error shape."""
    return JSONResponse(
        status_code=status_code,
        content=error_body(status_code, message, field, **extra),
        headers=headers,
    )


def _field(loc: Any) -> str:
    return ".".join(str(p) for p in loc if p not in ("query", "body", "path", "header", "form"))


def _validation_sentence(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        value = error.get("input")
        shown = (
            f" (got {value!r})"
            if value is not None and not isinstance(value, dict | list | bytes)
            else ""
        )
        where = _field(error["loc"])
        parts.append(f"{where}: {error['msg']}{shown}" if where else f"{error['msg']}{shown}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into clear 4xx/503 answers."""

    @app.exception_handler(RequestValidationError)
    def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        field = _field(errors[0]["loc"]) if errors else None
        return error_response(
            status.HTTP_422_UNPROCESSABLE_CONTENT, _validation_sentence(exc), field or None
        )

    @app.exception_handler(ApiError)
    def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, str(exc), exc.field, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == status.HTTP_404_NOT_FOUND and message == "Not Found":
            message = f"there is no {request.url.path}; see /docs for the endpoints"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(AttachmentError)
    def _refused_upload(request: Request, exc: AttachmentError) -> JSONResponse:
        code = ATTACHMENT_STATUS.get(exc.reason, status.HTTP_422_UNPROCESSABLE_CONTENT)
        return error_response(code, str(exc), "photos", reason=exc.reason)

    for kind, code in STATUS_OF:

        def _refused(request: Request, exc: Exception, code: int = code) -> JSONResponse:
            if not isinstance(exc, domain.DomainError):  # registered for DomainErrors only
                raise exc
            return error_response(code, str(exc), exc.field, **exc.extra)

        app.add_exception_handler(kind, _refused)

    @app.exception_handler(DataError)
    def _value_out_of_range(request: Request, exc: DataError) -> JSONResponse:
        # A value the checks let through but PostgreSQL refuses (an absurd time zone offset,
        # a number past its column's range): the transaction has rolled back; say which value.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "a value is out of range"
        return error_response(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the database refused a value: {reason}; check the request and send it again",
        )

    def _database_down(request: Request, exc: Exception) -> JSONResponse:
        answer = database_unavailable(exc)
        if answer is None:  # a DBAPIError that is not about availability: a plain 500
            raise exc
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        message, headers = answer
        return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, message, headers=headers)

    # A row whose month has no partition yet is refused as a constraint violation.
    for error_class in (*UNAVAILABLE, IntegrityError):
        app.add_exception_handler(error_class, _database_down)
