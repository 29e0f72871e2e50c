"""Events over HTTP: file (JSON or multipart with photos), list, read, photos, workflow actions."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.auth import ALL_STAFF, allow
from api.http.deps import SessionDep
from api.http.errors import ApiError
from events import query
from events.attachments import MAX_PHOTOS, AttachmentError, PhotoInfo, inspect_photos
from events.calendar import Light
from events.catalog import DepartmentType
from events.models import EventStatus
from events.schemas import ActionInput, EventDetail, EventFiling, EventPage
from events.service import REPORTERS, insert_event_row, report_event
from events.workflow import TRANSITIONS
from gis.config import get_settings
from people.access import Actor
from people.models import StaffRole

router = APIRouter(tags=["events 事件"])

# Leaders get aggregates only (counts, heat, KPIs: /api/stats, /maps/leader), never an event's
# description, reporter or photos; every other account reads the events of its own scope.
EVENT_READERS = ALL_STAFF - {StaffRole.LEADER}
# Room for the text fields of a multipart body beside the photos.
_FORM_SLACK = 1024 * 1024
_JSON_TYPES = ("application/json", "")

CodePath = Annotated[
    str,
    Path(
        max_length=40,
        pattern=r"^[0-9A-Za-z-]+$",
        description="event code, e.g. 420502-20261123-000123",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        description="a key the client makes once per report (e.g. a UUID) and sends again on "
        "retry; the same key returns the event already filed",
    ),
]


# -- request bodies: JSON, or multipart with photos ----------------------------------------------


@dataclass
class Submission:
    """A body as received: its fields (not yet validated) and the photo files' bytes."""

    fields: dict[str, Any] = field(default_factory=dict)
    photos: list[bytes] = field(default_factory=list)


def _max_photo_bytes() -> int:
    return int(get_settings().max_photo_mb * 1024 * 1024)


async def _read_form(request: Request) -> Submission:
    limit = _max_photo_bytes()
    try:
        # One file more than allowed is read, so that the count check below says how many.
        form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=50)
    except StarletteHTTPException as exc:
        if "files" in str(exc.detail):
            raise AttachmentError(
                "too_many",
                f"more than {MAX_PHOTOS} photos were sent; at most {MAX_PHOTOS} fit in one "
                "report or action — leave some out",
            ) from None
        raise
    submission = Submission()
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != "photos":
                raise ApiError(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    f"the file was sent in the field '{name}'; send photos in fields named "
                    "'photos'",
                    field=name,
                )
            if not value.filename and not value.size:
                continue  # a page's empty file input
            submission.photos.append(await value.read(limit + 1))
        elif value != "":  # an empty form field means "not given"
            submission.fields[name] = value
    return submission


async def read_submission(request: Request) -> Submission:
    """The body of a report or an action: a JSON object, or form fields plus `photos` files."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PHOTOS * _max_photo_bytes() + _FORM_SLACK:
        raise ApiError(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the request is {int(declared) / 1024 / 1024:.0f} MB; send at most {MAX_PHOTOS} "
            f"photos of {get_settings().max_photo_mb:g} MB each",
        )
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _read_form(request)
    body = await request.body()
    if not body.strip():
        return Submission()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise ApiError(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"a body of type '{media}' cannot be read; send JSON (application/json) or a form "
            "with photos (multipart/form-data)",
        )
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "the body is not valid JSON; send an object such as "
            '{"category": "0201", "lon": 111.29, "lat": 30.71, "description": "…"}',
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "the body must be a JSON object of named fields, not a list or a single value",
        )
    return Submission(fields=data)


SubmissionDep = Annotated[Submission, Depends(read_submission)]
M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], fields: dict[str, Any]) -> M:
    """The fields as `model`, or the usual 422 naming each bad field."""
    for name, value in fields.items():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{name} contains a NUL (\\x00) character; remove it and send again",
                field=name,
            )
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_context=False)]
        raise RequestValidationError(errors) from None


def _photos(submission: Submission) -> list[PhotoInfo]:
    """Each photo checked by content (413 too big, 415 not a photo) before anything is written."""
    return inspect_photos(submission.photos, max_bytes=_max_photo_bytes())


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its $defs inlined, to sit inside the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _body_doc(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """OpenAPI request body: the model as JSON, or as form fields with `photos` files."""
    as_json = _inline(model.model_json_schema())
    as_form = {
        **as_json,
        "properties": {
            **as_json.get("properties", {}),
            "photos": {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "maxItems": MAX_PHOTOS,
                "description": "photos (JPEG, PNG, WebP or HEIC), EXIF stripped on arrival",
            },
        },
    }
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": as_json},
                "multipart/form-data": {"schema": as_form},
            },
        }
    }


# -- filing ------------------------------------------------------------------------------------


@router.post(
    "/api/events",
    response_model=EventDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": EventDetail, "description": "the Idempotency-Key was seen before"}},
    openapi_extra=_body_doc(EventFiling, required=True),
)
def file_event(
    session: SessionDep,
    actor: Annotated[Actor, allow(REPORTERS)],
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> EventDetail:
    """File an event (上报): located, registered and dispatched with its deadlines at once."""
    filing = _validated(EventFiling, submission.fields)
    photos = _photos(submission)
    read = report_event(
        session,
        actor=actor,
        report=filing.to_report(),
        idempotency_key=idempotency_key or None,
        photos=photos,
    )
    if not read.created:
        response.status_code = status.HTTP_200_OK
    return query.detail_of(session, actor=actor, read=read)


# -- reading -----------------------------------------------------------------------------------


@router.get("/api/events", response_model=EventPage)
def list_events(
    session: SessionDep,
    actor: Annotated[Actor, allow(EVENT_READERS)],
    status_: Annotated[
        list[EventStatus] | None, Query(alias="status", description="repeatable")
    ] = None,
    category: Annotated[
        str | None, Query(max_length=8, description="subcategory (0201) or major (02) code")
    ] = None,
    unit: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="id of the unit handling it")
    ] = None,
    department: Annotated[
        DepartmentType | None, Query(description="department type of the unit handling it")
    ] = None,
    grid: Annotated[str | None, Query(max_length=15, description="15-digit grid code")] = None,
    overdue: Annotated[bool | None, Query(description="past the running stage's deadline")] = None,
    light: Annotated[Light | None, Query(description="green, yellow or red")] = None,
    bbox: Annotated[
        str | None, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="reported at or after (ISO 8601; no zone: China)")
    ] = None,
    until: Annotated[datetime | None, Query(description="reported before (ISO 8601)")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="text in the code, description or address")
    ] = None,
    mine: Annotated[bool, Query(description="only the events I reported")] = False,
    sort: Annotated[
        query.Sort, Query(description="deadline (soonest first) or -reported_at (newest first)")
    ] = "deadline",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=query.MAX_PAGE_SIZE)] = 50,
) -> EventPage:
    """Events the caller may see (their grids, unit or area), filtered and paginated."""
    return query.list_events(
        session,
        actor=actor,
        status=status_,
        category=category,
        unit=unit,
        department=department,
        grid=grid,
        overdue=overdue,
        light=light,
        bbox=bbox,
        since=since,
        until=until,
        q=q,
        mine=mine,
        sort=sort,
        page=page,
        page_size=page_size,
    )


@router.get("/api/events/{code}", response_model=EventDetail)
def get_event(
    session: SessionDep, actor: Annotated[Actor, allow(EVENT_READERS)], code: CodePath
) -> EventDetail:
    """One event: its steps, stages, dispatch explanation, photos and my possible actions."""
    return query.event_detail(session, actor=actor, code=code)


PhotoId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_PHOTO_HEADERS = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}


def _send(photo: query.PhotoFile) -> FileResponse:
    return FileResponse(photo.path, media_type=photo.content_type, headers=_PHOTO_HEADERS)


@router.get(
    "/api/events/{code}/photos/{photo_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def get_photo(
    session: SessionDep,
    actor: Annotated[Actor, allow(EVENT_READERS)],
    code: CodePath,
    photo_id: PhotoId,
) -> FileResponse:
    """A photo of the event (EXIF stripped)."""
    return _send(query.photo_file(session, actor=actor, code=code, photo_id=photo_id))


@router.get(
    "/api/events/{code}/photos/{photo_id}/thumbnail",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_thumbnail(
    session: SessionDep,
    actor: Annotated[Actor, allow(EVENT_READERS)],
    code: CodePath,
    photo_id: PhotoId,
) -> FileResponse:
    """The JPEG thumbnail of a photo (longest side 320 px)."""
    return _send(
        query.photo_file(session, actor=actor, code=code, photo_id=photo_id, thumbnail=True)
    )


# -- workflow actions --------------------------------------------------------------------------

# The fields each action reads (the rest of ActionInput is ignored).
ACTION_FIELDS = {
    "check": "passed (false voids the report, with reason), note",
    "dispatch": "unit_id (command centre: chosen by hand) or none (by the rules), note",
    "redispatch": "unit_id, or none to route a returned case by the rules again; note",
    "sign": "nothing; note optional",
    "return": "reason (why it is not your unit's), note",
    "handle": "note (what was done), photos (required for some categories)",
    "verify": "lon, lat, crs where you stand (within 100 m), photos; passed=false reworks",
    "rework": "reason (what is still wrong), note, photos",
    "extend": "reason, and extra_limit (4h, 2d) or new_deadline",
    "approve-extension": "nothing (as asked), or extra_limit / new_deadline to change it",
    "suspend": "reason (what it waits for), note",
    "resume": "nothing; note optional",
    "void": "reason, duplicate_of (code of the event it duplicates), note",
    "supervise": "level (yellow or red; default from the light), note",
    "self-resolve": "photos of the fixed site, note",
    "close": "nothing",
}
assert set(ACTION_FIELDS) == set(TRANSITIONS), "every workflow action is documented"


def _action_route(action: str) -> Callable[..., EventDetail]:
    rule = TRANSITIONS[action]

    def run(
        session: SessionDep,
        actor: Actor,
        code: CodePath,
        submission: SubmissionDep,
    ) -> EventDetail:
        data = _validated(ActionInput, submission.fields)
        return query.act_for(
            session, actor=actor, code=code, action=action, data=data, photos=_photos(submission)
        )

    # The gate is per action (the roles that may ever do it); set here, where `rule` is known.
    run.__annotations__["actor"] = Annotated[Actor, allow(rule.roles)]
    run.__name__ = "event_" + action.replace("-", "_")
    roles = ", ".join(sorted(r.value for r in rule.roles))
    run.__doc__ = f"{rule.label} {action}: reads {ACTION_FIELDS[action]}. For: {roles}."
    return run


for _action, _rule in TRANSITIONS.items():
    router.add_api_route(
        f"/api/events/{{code}}/{_action}",
        _action_route(_action),
        methods=["POST"],
        response_model=EventDetail,
        summary=f"{_rule.label} {_action}",
        openapi_extra=_body_doc(ActionInput, required=False),
    )


@router.post("/api/events/{code}/{action}", include_in_schema=False)
def unknown_action(actor: Annotated[Actor, allow(ALL_STAFF)], code: CodePath, action: str) -> None:
    """Any other action: 404 naming the actions there are."""
    raise ApiError(
        status.HTTP_404_NOT_FOUND,
        f"'{action}' is not an event action; the actions are: {', '.join(TRANSITIONS)}",
        field="action",
    )


# -- benchmark baseline ------------------------------------------------------------------------


def bench_router() -> APIRouter:
    """POST /api/bench/insert-event: parse and check a report like POST /api/events, then only
    insert the row; the HTTP benchmark's in-run baseline (served with BENCH_ENDPOINTS=1)."""
    bench = APIRouter()

    @bench.post(
        "/api/bench/insert-event", status_code=status.HTTP_201_CREATED, include_in_schema=False
    )
    def insert_event(
        session: SessionDep,
        actor: Annotated[Actor, allow(REPORTERS)],
        submission: SubmissionDep,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Insert the event row only (no locate, dispatch, steps or outbox)."""
        filing = _validated(EventFiling, submission.fields)
        event = insert_event_row(
            session, actor=actor, report=filing.to_report(), idempotency_key=idempotency_key
        )
        return {"id": event.id, "code": event.code}

    return bench


if get_settings().bench_endpoints:
    router.include_router(bench_router())
