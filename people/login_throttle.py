"""Login throttling kept in PostgreSQL, so every server process applies the same limits.

Only failures count; a correct password is never refused because of other people's mistakes.
Within the window (`LOGIN_WINDOW_S`), with F = `LOGIN_FAILURES_PER_USER` and
A = `LOGIN_FAILURES_PER_ADDRESS`:

1. one address that failed A times (any usernames: password spraying) waits;
2. one username that failed F times from one address waits, at that address only;
3. a username that failed F times in all (a guesser spread over many addresses) makes every
   address that has itself failed for it wait longer after each of its failures
   (`BACKOFF_S`, doubling, at most the window). An address with no failure for the username
   still signs in at once, so nobody can lock a user out by guessing from elsewhere.

A correct password clears the failures of that username from that address. Concurrent
attempts may overshoot a limit by the number of requests in flight, which is harmless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from gis.config import Settings, get_settings
from people.models import LoginFailure

# The first wait of rule 3; each further failure from the same address doubles it.
BACKOFF_S = 30


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt must wait, and for how many seconds."""

    reason: str
    retry_after_s: int


def _key(username: str) -> str:
    return username.strip().lower()[:100]


def check_login(
    session: Session, *, username: str, address: str, settings: Settings | None = None
) -> Refusal | None:
    """The refusal for a login attempt by `username` from `address`, None when it may go on."""
    settings = settings or get_settings()
    user, address = _key(username), address[:64]
    window = timedelta(seconds=settings.login_window_s)
    from_address = LoginFailure.address == address
    for_user = LoginFailure.username == user
    pair = and_(from_address, for_user)
    row = session.execute(
        select(
            func.now(),
            func.count().filter(from_address),
            func.min(LoginFailure.at).filter(from_address),
            func.count().filter(for_user),
            func.count().filter(pair),
            func.min(LoginFailure.at).filter(pair),
            func.max(LoginFailure.at).filter(pair),
        ).where(LoginFailure.at > func.now() - window, or_(from_address, for_user))
    ).one()
    now, address_count, address_first, user_count, pair_count, pair_first, pair_last = row

    def wait_until(moment: datetime) -> int:
        return max(1, math.ceil((moment - now).total_seconds()))

    if address_count >= settings.login_failures_per_address:
        return Refusal(
            f"too many failed logins from {address}; wait and try again",
            wait_until(address_first + window),
        )
    if pair_count >= settings.login_failures_per_user:
        return Refusal(
            f"too many failed logins for '{username}' from {address}; wait and try again",
            wait_until(pair_first + window),
        )
    if user_count >= settings.login_failures_per_user and pair_count:
        backoff = timedelta(seconds=min(BACKOFF_S * 2 ** (pair_count - 1), settings.login_window_s))
        if pair_last + backoff > now:
            return Refusal(
                f"'{username}' has had many failed logins; wait before trying again from {address}",
                wait_until(pair_last + backoff),
            )
    return None


def record_failure(
    session: Session, *, username: str, address: str, settings: Settings | None = None
) -> None:
    """Count a wrong password, and prune failures that have left the window."""
    settings = settings or get_settings()
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.at < func.now() - timedelta(seconds=settings.login_window_s)
        )
    )
    session.add(LoginFailure(username=_key(username), address=address[:64]))
    session.flush()


def record_success(session: Session, *, username: str, address: str) -> None:
    """A correct password clears that username's failures from that address."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == _key(username), LoginFailure.address == address[:64]
        )
    )
