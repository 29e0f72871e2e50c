"""Open311 GeoReport v2 under /open311/v2 (every endpoint in .json and .xml), and the admin
routes that issue integration API keys under /api/integrations.

Discovery and services are public; requests and tokens need an integration's `api_key`
(query string, or form field of a POST). Errors on Open311 routes come out in the Open311
shape — `[{"code": 400, "description": "…"}]`, `<errors><error>…</error></errors>` in XML —
with the same status codes as the rest of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from api.http import open311_format
from api.http.auth import ADMIN, PUBLIC, Gate, allow
from api.http.deps import SessionDep
from api.http.errors import STATUS_OF, TITLES, UNAVAILABLE, ApiError, database_unavailable
from api.http.open311_format import Format
from events import open311 as service
from events import schemas
from gis.clock import CHINA_TZ
from people.access import Actor
from people.integrations import (
    IntegrationRef,
    check_key,
    issue_key,
    list_keys,
    revoke_key,
)
from people.schemas import IntegrationCreate, IntegrationRead, IssuedKey

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = datetime(2026, 11, 22, tzinfo=CHINA_TZ)  # when this endpoint last changed
TOTAL_HEADER = "X-Total-Count"

# -- errors in the Open311 shape ----------------------------------------------------------------


def _status_and_message(exc: Exception) -> tuple[int, str, dict[str, str] | None]:
    if isinstance(exc, RequestValidationError):
        parts = []
        for error in exc.errors():
            where = ".".join(
                str(p) for p in error["loc"] if p not in ("query", "body", "path", "header")
            )
            value = error.get("input")
            shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
            parts.append(f"{where}: {error['msg']}{shown}" if where else error["msg"])
        return status.HTTP_400_BAD_REQUEST, "; ".join(parts), None
    if isinstance(exc, ApiError):
        # GeoReport v2 answers every malformed request with 400.
        code = exc.status_code
        if code == status.HTTP_422_UNPROCESSABLE_CONTENT:
            code = status.HTTP_400_BAD_REQUEST
        return code, str(exc), exc.headers
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return exc.status_code, detail, getattr(exc, "headers", None)
    unavailable = database_unavailable(exc)
    if unavailable is not None:
        message, headers = unavailable
        return status.HTTP_503_SERVICE_UNAVAILABLE, message, headers
    for error_class, code in STATUS_OF:
        if isinstance(exc, error_class):
            # GeoReport v2 answers every malformed request with 400.
            if code == status.HTTP_422_UNPROCESSABLE_CONTENT:
                code = status.HTTP_400_BAD_REQUEST
            return code, str(exc), None
    raise exc


def open311_error(request: Request, exc: Exception) -> Response:
    """An error as Open311 clients expect it, in the format the path asked for."""
    code, message, headers = _status_and_message(exc)
    _, chinese, english = TITLES.get(code, ("error", "错误", "Error"))
    fmt: Format = "xml" if request.url.path.endswith(".xml") else "json"
    return open311_format.errors(fmt, code, [f"{chinese} {english}: {message}"], headers)


HANDLED: dict[Any, Callable[[Request, Exception], Response]] = {
    error_class: open311_error
    for error_class in (
        RequestValidationError,
        ApiError,
        StarletteHTTPException,
        *UNAVAILABLE,
        *(error_class for error_class, _ in STATUS_OF),
    )
}


class Open311Route(APIRoute):
    """A route whose errors are answered in the Open311 shape instead of the app's.

    The handlers replace the app's for this route only, and run where the app's would: after
    the request's session has rolled back, so a refused request leaves nothing behind.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the route with the Open311 error handlers in place of the app's."""
        scope["starlette.exception_handlers"] = (HANDLED, {})
        await super().handle(scope, receive, send)


Fmt = Annotated[Format, Path(description="the answer's format: json or xml")]


# -- the api_key gate ---------------------------------------------------------------------------


async def _form_key(request: Request) -> str | None:
    """The api_key form field of a POST (the form is parsed once and cached)."""
    if request.method != "POST":
        return None
    value = (await request.form()).get("api_key")
    return value if isinstance(value, str) else None


class ApiKeyGate(Gate):
    """The declaration that a route is for integrations holding a valid API key."""

    def __init__(self) -> None:
        super().__init__(frozenset())

    def __call__(  # type: ignore[override]
        self,
        session: SessionDep,
        form_key: Annotated[str | None, Depends(_form_key)],
        api_key: Annotated[
            str | None,
            Query(
                description="the integration's API key; the X-Api-Key header keeps it out of URLs"
            ),
        ] = None,
        header_key: Annotated[
            str | None,
            Header(alias="X-Api-Key", description="the integration's API key, kept out of URLs"),
        ] = None,
    ) -> IntegrationRef:
        key = header_key or form_key or api_key
        if not key:
            raise ApiError(
                status.HTTP_401_UNAUTHORIZED,
                "api_key is missing; send it in the X-Api-Key header or as the api_key form "
                "field of a POST (a query parameter works too, but URLs are easily shared). "
                "Keys are issued by the administrator",
            )
        return check_key(session, key=key)

    def __repr__(self) -> str:
        return "ApiKeyGate()"


Integration = Annotated[IntegrationRef, Depends(ApiKeyGate())]


async def _attributes(request: Request) -> dict[str, str]:
    """The `attribute[code]=value` fields of a POST form."""
    form = await request.form()
    return {
        key[len("attribute[") : -1]: value
        for key, value in form.multi_items()
        if key.startswith("attribute[") and key.endswith("]") and isinstance(value, str)
    }


# -- Open311 ------------------------------------------------------------------------------------

open311 = APIRouter(
    prefix="/open311/v2",
    tags=["open311 GeoReport v2"],
    route_class=Open311Route,
)


@open311.get("/discovery.{fmt}", dependencies=[PUBLIC], response_model=None)
def discovery(fmt: Fmt, request: Request, session: SessionDep) -> Response:
    """Where the endpoint is, what it speaks, and how to get a key."""
    served = service.jurisdictions(session)
    body = {
        "changeset": CHANGESET,
        "contact": "gridgov 指挥中心 command centre of the district; see the README",
        "key_service": "API keys are issued by the administrator (gridgov integration issue "
        "NAME --area CODE, or POST /api/integrations); each key files in one admin area",
        "jurisdiction_id": "optional: the 6-digit district code, one of "
        + (", ".join(served) or "(none yet)"),
        "jurisdictions": served,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": str(request.base_url).rstrip("/") + "/open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return open311_format.render(fmt, body, root="discovery", item=None)


@open311.get("/services.{fmt}", dependencies=[PUBLIC], response_model=None)
def services(fmt: Fmt, session: SessionDep, jurisdiction_id: str | None = None) -> Response:
    """Every service (event subcategory) that can be requested."""
    service.check_jurisdiction(session, jurisdiction_id=jurisdiction_id)
    return open311_format.render(
        fmt, service.list_services(session), root="services", item="service"
    )


@open311.get("/services/{service_code}.{fmt}", dependencies=[PUBLIC], response_model=None)
def service_definition(
    service_code: str, fmt: Fmt, session: SessionDep, jurisdiction_id: str | None = None
) -> Response:
    """The attributes one service takes."""
    service.check_jurisdiction(session, jurisdiction_id=jurisdiction_id)
    definition = service.service_definition(session, service_code=service_code)
    return open311_format.render(fmt, definition, root="service_definition", item=None)


@open311.post("/requests.{fmt}", response_model=None)
def create_request(
    fmt: Fmt,
    session: SessionDep,
    integration: Integration,
    submission: Annotated[schemas.Submission, Form()],
    attributes: Annotated[dict[str, str], Depends(_attributes)],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="resending it files nothing new")
    ] = None,
) -> Response:
    """File a request (form-encoded); 201 when filed, 200 when it repeats an earlier one."""
    receipt, created = service.submit_request(
        session,
        integration=integration,
        submission=submission,
        attributes=attributes,
        client_key=idempotency_key,
    )
    return open311_format.render(
        fmt,
        [receipt],
        root="service_requests",
        item="request",
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@open311.get("/requests.{fmt}", response_model=None)
def list_requests(
    fmt: Fmt,
    session: SessionDep,
    integration: Integration,
    query: Annotated[schemas.RequestQuery, Query()],
) -> Response:
    """Requests filed through Open311 in the key's area (last 90 days, up to 1,000 a page)."""
    page = service.list_requests(session, integration=integration, query=query)
    return open311_format.render(
        fmt,
        page.items,
        root="service_requests",
        item="request",
        headers={TOTAL_HEADER: str(page.total)},
    )


@open311.get("/requests/{service_request_id}.{fmt}", response_model=None)
def get_request(
    service_request_id: str,
    fmt: Fmt,
    session: SessionDep,
    integration: Integration,
    extensions: bool = False,
    jurisdiction_id: str | None = None,
) -> Response:
    """One request, as a one-element list."""
    request = service.get_request(
        session,
        integration=integration,
        service_request_id=service_request_id,
        extensions=extensions,
        jurisdiction_id=jurisdiction_id,
    )
    return open311_format.render(fmt, [request], root="service_requests", item="request")


@open311.get("/tokens/{token}.{fmt}", response_model=None)
def get_token(
    token: str,
    fmt: Fmt,
    session: SessionDep,
    integration: Integration,
    jurisdiction_id: str | None = None,
) -> Response:
    """The request id a submission token stands for."""
    found = service.find_token(
        session, integration=integration, token=token, jurisdiction_id=jurisdiction_id
    )
    return open311_format.render(fmt, [found], root="service_requests", item="request")


# -- admin: integration keys --------------------------------------------------------------------

integrations = APIRouter(prefix="/api/integrations", tags=["integrations 接入系统"])


@integrations.get("")
def list_integrations(
    session: SessionDep, actor: Annotated[Actor, allow(ADMIN)]
) -> list[IntegrationRead]:
    """Every integration and whether its key works (keys themselves are never shown again)."""
    return list_keys(session)


@integrations.post("", status_code=status.HTTP_201_CREATED)
def create_integration(
    body: IntegrationCreate, session: SessionDep, actor: Annotated[Actor, allow(ADMIN)]
) -> IssuedKey:
    """Issue a key for an integration in an admin area; the key is in this answer only."""
    return issue_key(session, name=body.name, area_code=body.area_code, created_by=actor.staff_id)


@integrations.post("/{name}/revoke")
def revoke_integration(
    name: str, session: SessionDep, actor: Annotated[Actor, allow(ADMIN)]
) -> IntegrationRead:
    """Stop an integration's key from working; its requests stay."""
    return revoke_key(session, name=name)


router = APIRouter()
router.include_router(open311)
router.include_router(integrations)
