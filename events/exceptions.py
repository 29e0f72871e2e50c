"""Errors of the event loop; each message is a sentence a user can act on."""

from __future__ import annotations

from gis import errors


class EventError(errors.DomainError):
    """Base of every error raised by the events package."""


class NotFound(EventError, errors.NotFound):
    """An event, category, unit or rule does not exist."""


class InvalidReport(EventError, errors.Invalid):
    """A report or an action's fields are malformed; the message names the field."""


class Forbidden(EventError, errors.Forbidden):
    """The acting account may not do this to this event."""


class Conflict(EventError, errors.Conflict):
    """The event changed under us (e.g. two dispatchers signing at once); reload and retry."""


class ActionNotAllowed(EventError, errors.Conflict):
    """The action is not possible from the event's state; `allowed` lists the possible ones."""

    def __init__(self, message: str, *, allowed: list[str] | None = None) -> None:
        super().__init__(message, allowed=list(allowed or []))
        self.allowed: list[str] = self.extra["allowed"]
