"""Errors of the resident ledger; each message is a sentence a user can act on."""

from __future__ import annotations


class PeopleError(Exception):
    """Base of every error raised by the people package."""


class NotFound(PeopleError):
    """A resident, household, house, organisation or account does not exist."""


class Forbidden(PeopleError):
    """The acting account's role or scope does not allow this."""


class InvalidRecord(PeopleError):
    """A field is malformed or inconsistent; the message names the field and the rule."""


class Duplicate(PeopleError):
    """The record already exists (same document, same credit code, same username)."""
