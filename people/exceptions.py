"""Errors of the resident ledger; each message is a sentence a user can act on."""

from __future__ import annotations

from gis import errors


class PeopleError(errors.DomainError):
    """Base of every error raised by the people package."""


class NotFound(PeopleError, errors.NotFound):
    """A resident, household, house, organisation or account does not exist."""


class Forbidden(PeopleError, errors.Forbidden):
    """The acting account's role or scope does not allow this."""


class InvalidRecord(PeopleError, errors.Invalid):
    """A field is malformed or inconsistent; the message names the field and the rule."""


class Duplicate(PeopleError, errors.Conflict):
    """The record already exists (same document, same credit code, same username)."""


class AlreadyClosed(PeopleError, errors.Conflict):
    """The task (or record) was closed before; closing it again would overwrite who closed it."""
