"""Workflow actions (办理动作): what grid workers, units and the command centre do to an event.

`act()` is the one entry point; `act_for()` is the same for an API caller, who is first told
nothing about an event outside their sight. It locks the event row, asks the transition table
(`events.workflow`) whether the action is possible from the event's state and for the actor's
role, checks the actor's scope (a dispatcher works on their unit's cases, a grid worker on their
grids), runs the action and records it as an `event_step`, queuing outbox rows for the units
concerned. Like every service it never commits.

Refusals: ActionNotAllowed (not from this state; lists the possible actions), Forbidden (role
or scope), InvalidReport (a field the action needs is missing or wrong), NotFound.

The actions live by what they decide: `intake` (before a unit has the case), `routing` (who has
it), `handling` (the unit's own steps) and `closing` (after the fix); `context` holds what they
share. Each module lists its handlers; HANDLERS joins them and must cover the transition table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.actions import closing, handling, intake, review, routing, tiers
from events.actions.context import (
    VERIFY_RADIUS_M,
    ActionContext,
    check_scope,
    citizens,
    locked_event,
    moment,
    pending_extension,
    rule_for,
)
from events.attachments import PhotoInfo
from events.exceptions import Forbidden
from events.models import CITIZEN_SOURCES, AppealType, Event, EventCategory, EventStep
from events.photos import attach_photos
from events.schemas import ActionInput, EventDetail, EventRead
from events.service import get_event, read_event
from events.subtasks import open_subtasks_of
from events.tiers import tier_above, tiers_below
from events.workflow import TRANSITIONS, allowed_actions
from people.access import Actor

HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    **intake.HANDLERS,
    **routing.HANDLERS,
    **handling.HANDLERS,
    **closing.HANDLERS,
    **tiers.HANDLERS,
    **review.HANDLERS,
}
assert set(HANDLERS) == set(TRANSITIONS), "every action of the table has a handler"


def act(
    session: Session,
    *,
    actor: Actor,
    code: str,
    action: str,
    data: ActionInput,
    photos: list[PhotoInfo] | None = None,
    photo_dir: Path | None = None,
    now: datetime | None = None,
) -> EventRead:
    """Do `action` to event `code` as `actor` and return the event as it now stands."""
    at = moment(now)
    event = locked_event(session, code)
    rule = rule_for(event, action, actor)
    check_scope(session, actor, event, action)
    category = session.get(EventCategory, event.category_id)
    assert category is not None
    context = ActionContext(
        session=session,
        actor=actor,
        event=event,
        category=category,
        rule=rule,
        data=data,
        photos=list(photos or []),
        at=at,
    )
    last_before = session.scalar(
        select(func.coalesce(func.max(EventStep.id), 0)).where(EventStep.event_id == event.id)
    )
    HANDLERS[action](context)
    if context.photos:  # they belong to the action's own step, the first it recorded
        first = session.scalar(
            select(EventStep)
            .where(EventStep.event_id == event.id, EventStep.id > last_before)
            .order_by(EventStep.id)
            .limit(1)
        )
        assert first is not None
        attach_photos(session, event=event, step=first, photos=context.photos, directory=photo_dir)
    session.flush()
    return read_event(session, event=event, now=at)


def act_for(
    session: Session,
    *,
    actor: Actor,
    code: str,
    action: str,
    data: ActionInput,
    photos: list[PhotoInfo] | None = None,
) -> EventDetail:
    """Do `action` as an API caller: an event outside their sight is refused (Forbidden) before
    anything about its state is said; then `act`, and the event as it stands with its photos and
    the actor's next possible actions."""
    from events.query import check_visible, detail_of  # the reads import this module

    check_visible(session, actor=actor, event=get_event(session, code=code))
    read = act(session, actor=actor, code=code, action=action, data=data, photos=photos)
    return detail_of(session, actor=actor, read=read)


def actions_for(session: Session, *, actor: Actor, event: Event) -> list[str]:
    """The actions `actor` may take on `event` now: by its state, the role and the scope."""
    possible = []
    for action in allowed_actions(event.status, actor.role):
        try:
            check_scope(session, actor, event, action)
        except Forbidden:
            continue
        if action == "approve-extension" and pending_extension(session, event) is None:
            continue
        if not review.available(session, event=event, action=action):
            continue
        if action == "handle" and open_subtasks_of(session, event=event):
            continue  # the assisting units' parts first (refused with their names if pressed)
        if action == "reopen":  # only through a callback's 不满意 (events.callbacks)
            continue
        if action == ("close" if citizens(event) else "reply"):
            continue
        if action == "locate" and event.geom is not None:
            continue
        if action in ("check", "register", "resolve") and event.geom is None:
            continue
        if action == "escalate" and tier_above(session, event=event) is None:
            continue
        if action == "delegate" and not tiers_below(session, event=event):
            continue
        if action == "direct-reply" and not (
            event.source in CITIZEN_SOURCES and event.appeal_type is AppealType.CONSULT
        ):
            continue
        possible.append(action)
    return possible


__all__ = ["HANDLERS", "VERIFY_RADIUS_M", "act", "act_for", "actions_for"]
