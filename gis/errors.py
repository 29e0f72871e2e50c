"""The kinds of refusal every domain shares; each package's errors subclass one of them.

A service raises its own package's error (`people.exceptions.NotFound`, …) with a sentence a
user can act on; the adapters only need the kind: the API maps these few bases to status codes
(api/http/errors.py) and the CLI prints any `DomainError` as one sentence.

    DomainError   a request the domain refuses (a malformed query, a file it cannot read) → 400
    ├─ NotFound   the thing named does not exist (or lies outside the caller's sight) → 404
    ├─ Forbidden  the acting account's role or scope does not allow this → 403
    ├─ Conflict   the state does not allow it now (a duplicate, a concurrent change) → 409
    └─ Invalid    a field is malformed or inconsistent; the message names it → 422
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error whose message is already a sentence for the user.

    `field` names the input at fault when there is one; `extra` holds further members of the
    API's error shape (e.g. the actions that are allowed instead).
    """

    def __init__(self, *args: object, field: str | None = None, **extra: Any) -> None:
        super().__init__(*args)
        self.field = field
        self.extra: dict[str, Any] = extra


class NotFound(DomainError):
    """The record named does not exist."""


class Forbidden(DomainError):
    """The acting account's role or scope does not allow this."""


class Conflict(DomainError):
    """The record's state does not allow this now (already exists, changed under us …)."""


class Invalid(DomainError):
    """A field is malformed or inconsistent; the message names the field and the rule."""
