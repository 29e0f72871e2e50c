"""Events over HTTP: file (JSON or multipart with photos), list, read, photos, workflow actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import FileResponse

from api.http.auth import ALL_STAFF, allow
from api.http.bodies import IdempotencyKey, SubmissionDep, body_doc, photos_of, validated
from api.http.deps import SessionDep
from api.http.errors import ApiError
from api.schemas import UnmaskRequest
from events import actions, query, tiers
from events.callers import UNMASK_CALLER, unmask_caller
from events.exceptions import InvalidReport
from events.schemas import (
    ActionInput,
    CallerContact,
    DispatchProposalRead,
    EventDetail,
    EventFiling,
    EventFilter,
    EventPage,
)
from events.service import report_event
from events.sources import DEFAULT_SOURCE, FILERS
from events.workflow import SYSTEM, TRANSITIONS
from people.access import Actor
from people.models import StaffRole

router = APIRouter(tags=["events 事件"])

# Leaders get aggregates only (counts, heat, KPIs: /api/stats, /maps/leader), never an event's
# description, reporter or photos; every other account reads the events of its own scope.
EVENT_READERS = ALL_STAFF - {StaffRole.LEADER}

CodePath = Annotated[
    str,
    Path(
        max_length=40,
        pattern=r"^[0-9A-Za-z-]+$",
        description="event code, e.g. 420502-20261123-000123",
    ),
]


# -- filing ------------------------------------------------------------------------------------


@router.post(
    "/api/events",
    response_model=EventDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": EventDetail, "description": "the Idempotency-Key was seen before"}},
    openapi_extra=body_doc(EventFiling, required=True),
)
def file_event(
    session: SessionDep,
    actor: Annotated[Actor, allow(FILERS)],
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> EventDetail:
    """File an event (上报 / 受理): located, checked or dispatched with its deadlines at once.

    `source` is the channel: grid workers, inspectors (巡查发现) and leaders (领导批示) default to
    their own; command-centre operators name it (hotline, mailbox, web_app, department, leader).
    Without lon/lat the case is placed by its address and waits for the command centre's
    `locate`.
    """
    filing = validated(EventFiling, submission.fields)
    source = filing.source or DEFAULT_SOURCE.get(actor.role)
    if source is None:
        raise InvalidReport(
            "name the channel this case came in by (source): hotline, mailbox, web_app, "
            "department or leader — a command-centre operator is not a grid worker",
            field="source",
        )
    photos = photos_of(submission)
    read = report_event(
        session,
        actor=actor,
        report=filing.to_report(source),
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
    filters: Annotated[EventFilter, Query()],
) -> EventPage:
    """Events the caller may see (their grids, unit or area), filtered and paginated."""
    return query.list_events(session, actor=actor, filters=filters)


@router.get("/api/events/{code}", response_model=EventDetail)
def get_event(
    session: SessionDep, actor: Annotated[Actor, allow(EVENT_READERS)], code: CodePath
) -> EventDetail:
    """One event: its steps, stages, dispatch explanation, photos and my possible actions."""
    return query.event_detail(session, actor=actor, code=code)


@router.post("/api/events/{code}/contact/unmask", response_model=CallerContact)
def unmask_event_caller(
    session: SessionDep,
    actor: Annotated[Actor, allow(UNMASK_CALLER)],
    code: CodePath,
    body: UnmaskRequest,
) -> CallerContact:
    """The caller's clear phone and name (来电人), for a stated reason (logged); command centre
    of the event's district only."""
    return unmask_caller(session, actor=actor, code=code, reason=body.reason)


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


@router.get("/api/events/{code}/dispatch-proposal", response_model=DispatchProposalRead)
def get_dispatch_proposal(
    session: SessionDep, actor: Annotated[Actor, allow(SYSTEM)], code: CodePath
) -> DispatchProposalRead:
    """派遣建议: the unit (and assisting units) automatic routing would choose, with the rule
    and why — not applied; `dispatch` accepts it, or takes another unit_id with a reason."""
    return tiers.dispatch_proposal(session, actor=actor, code=code)


# -- workflow actions --------------------------------------------------------------------------

# The fields each action reads (the rest of ActionInput is ignored).
ACTION_FIELDS = {
    "locate": "lon, lat, crs of the place, or building (a building code); note",
    "direct-reply": "reply (the answer given), reply_channel (phone for a hotline call when "
    "not given), replied_at (now when not given), note — only for a citizen's 咨询",
    "check": "passed (false voids the report, with reason), note",
    "dispatch": "unit_id (command centre: chosen by hand; reason needed when it differs from "
    "GET /api/events/{code}/dispatch-proposal) or none (the proposal, by the rules), note",
    "redispatch": "unit_id, or none to route a returned case by the rules again (as "
    "accept-return); note",
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
    "supervise": "level (general, key or listed; default from the light), note (the demand), "
    "unit_id, reply_limit",
    "self-resolve": "photos of the fixed site, note",
    "close": "nothing (a citizen's case closes by reply instead)",
    "reply": "reply (what the caller was told), reply_channel (phone, sms, letter, web_app, "
    "in_person), replied_at (default now); closes a verified citizen case, opens its callback",
    "reopen": "only through a callback's 不满意 (POST /api/events/{code}/callbacks)",
    "transfer": "to_district (6-digit code of the receiving district), reason, note",
    "register": "nothing; note optional — the case goes to its category's start tier",
    "refuse": "reason (the reporter reads it), note",
    "escalate": "reason (why this tier cannot resolve it), note — to the tier above",
    "delegate": "tier (community or street, below the holding tier, with a centre for the "
    "place), reason, note",
    "resolve": "note (how the tier resolved it itself); the grid worker then checks the fix",
    "accept-return": "unit_id, or none to route the case by the rules again (never to a unit "
    "that returned it); note",
    "reject-return": "reason (the ruling: why the case is the unit's), note; back to the unit "
    "that returned it",
    "rule": "unit_id (the unit that leads: a disputing unit or another of the district), reason "
    "(the reasoning; the ruling binds the unit), note — only when two units returned the case",
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
        data = validated(ActionInput, submission.fields)
        return actions.act_for(
            session, actor=actor, code=code, action=action, data=data, photos=photos_of(submission)
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
        openapi_extra=body_doc(ActionInput, required=False),
    )


@router.post("/api/events/{code}/{action}", include_in_schema=False)
def unknown_action(actor: Annotated[Actor, allow(ALL_STAFF)], code: CodePath, action: str) -> None:
    """Any other action: 404 naming the actions there are."""
    raise ApiError(
        status.HTTP_404_NOT_FOUND,
        f"'{action}' is not an event action; the actions are: {', '.join(TRANSITIONS)}",
        field="action",
    )
