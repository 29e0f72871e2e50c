"""Request bodies read by hand: a JSON object, or form fields with `photos` files.

Routes that take photos (filing an event, the workflow actions) read the body themselves, after
the role gate, so an unauthenticated caller cannot make the server spool megabytes: `SubmissionDep`
reads it, `validated` turns its fields into a pydantic model (the usual 422 naming each bad
field), `photos_of` checks the photos by content, and `body_doc` documents both encodings in the
OpenAPI document, since FastAPI cannot see a body it does not parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.errors import ApiError
from events.attachments import MAX_PHOTOS, AttachmentError, PhotoInfo, inspect_photos
from gis.config import get_settings

# Room for the text fields of a multipart body beside the photos.
_FORM_SLACK = 1024 * 1024
_JSON_TYPES = ("application/json", "")

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        description="a key the client makes once per report (e.g. a UUID) and sends again on "
        "retry; the same key returns the event already filed",
    ),
]


@dataclass
class Submission:
    """A body as received: its fields (not yet validated) and the photo files' bytes."""

    fields: dict[str, Any] = field(default_factory=dict)
    photos: list[bytes] = field(default_factory=list)


def max_photo_bytes() -> int:
    """The largest photo accepted, in bytes (`MAX_PHOTO_MB`)."""
    return int(get_settings().max_photo_mb * 1024 * 1024)


async def _read_form(request: Request) -> Submission:
    limit = max_photo_bytes()
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
    if declared.isdigit() and int(declared) > MAX_PHOTOS * max_photo_bytes() + _FORM_SLACK:
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


def validate_fields(model: type[M], fields: dict[str, Any]) -> M:
    """The body's fields as `model`, or the usual 422 naming each bad field of the body."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_context=False)]
        raise RequestValidationError(errors) from None


def validated(model: type[M], fields: dict[str, Any]) -> M:
    """`validate_fields`, after refusing text with a NUL character (PostgreSQL cannot store it)."""
    for name, value in fields.items():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{name} contains a NUL (\\x00) character; remove it and send again",
                field=name,
            )
    return validate_fields(model, fields)


def text_body(model: type[M], submission: Submission, *, what: str, send: str) -> M:
    """A body of text fields only, as `model`: photos are refused (422) saying that `what`
    takes none and what to `send` instead."""
    if submission.photos:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{what} takes no photos; send {send}",
            field="photos",
        )
    return validated(model, submission.fields)


def photos_of(submission: Submission) -> list[PhotoInfo]:
    """Each photo checked by content (413 too big, 415 not a photo) before anything is written."""
    return inspect_photos(submission.photos, max_bytes=max_photo_bytes())


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
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


def body_doc(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """OpenAPI request body: the model as JSON, or as form fields with `photos` files."""
    as_json = inline_schema(model.model_json_schema())
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
