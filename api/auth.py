"""Who is calling: bearer tokens and page sessions, role gates, CSRF and login throttling.

Deny by default: every route declares a `Gate` — `allow(roles…)` for signed-in staff, or
`PUBLIC` for the few open routes — and a test walks the app to check none is missing.
Pages sign in through `/login`, which sets an HttpOnly SameSite session cookie holding the
same token the API hands out, plus a readable CSRF cookie; a state-changing request made
with the session cookie must echo that CSRF value in the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi import Depends, Request, Response, status
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.errors import ApiError
from gis.config import Settings, get_settings
from people.access import Actor, load_actor
from people.exceptions import NotFound as AccountNotFound
from people.models import StaffRole

SESSION_COOKIE = "gridgov_session"
CSRF_COOKIE = "gridgov_csrf"
CSRF_HEADER = "X-CSRF-Token"
ALGORITHM = "HS256"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ALL_STAFF = frozenset(StaffRole)
ADMIN = frozenset({StaffRole.ADMIN})
COMMAND = frozenset({StaffRole.COMMAND, StaffRole.ADMIN})
LEADERS = frozenset({StaffRole.LEADER, StaffRole.COMMAND, StaffRole.ADMIN})


def issue_token(actor: Actor, settings: Settings | None = None) -> tuple[str, int]:
    """A signed access token for `actor` and its lifetime in seconds."""
    settings = settings or get_settings()
    lifetime = settings.token_minutes * 60
    now = datetime.now(UTC)
    claims = {
        "sub": str(actor.staff_id),
        "name": actor.username,
        "role": actor.role.value,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), lifetime


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gridgov"'}


def _unauthenticated(message: str) -> ApiError:
    return ApiError(status.HTTP_401_UNAUTHORIZED, message, headers=CHALLENGE)


def staff_id_of(token: str, settings: Settings | None = None) -> int:
    """The account id a token was issued to; 401 when it is forged, malformed or expired."""
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token, settings.secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise _unauthenticated("the sign-in has expired; sign in again") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise _unauthenticated("the access token is not valid; sign in again") from exc


def csrf_token_for(session_token: str, settings: Settings | None = None) -> str:
    """The CSRF value that belongs to a page session (derived, so nothing is stored)."""
    key = (settings or get_settings()).secret_key.encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def actor_of(request: Request, session: Session) -> Actor | None:
    """The signed-in actor of a request (bearer token or page session), None when anonymous."""
    token = _bearer(request)
    via_cookie = False
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        via_cookie = token is not None
    if token is None:
        return None
    staff_id = staff_id_of(token)
    if via_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token_for(token)):
            raise ApiError(
                status.HTTP_403_FORBIDDEN,
                f"this change was sent with the page session but without its {CSRF_HEADER} "
                "header; reload the page and try again",
            )
    try:
        return load_actor(session, staff_id=staff_id)
    except AccountNotFound as exc:
        raise _unauthenticated("the account is disabled or no longer exists") from exc


class Gate:
    """A route's declaration of who may call it (`roles`), checked before the route runs."""

    def __init__(self, roles: frozenset[StaffRole]) -> None:
        self.roles = roles

    def __call__(self, request: Request, session: SessionDep) -> Actor:
        actor = actor_of(request, session)
        if actor is None:
            raise _unauthenticated(
                "sign in first: send 'Authorization: Bearer <token>' from POST /api/auth/token, "
                "or log in at /login"
            )
        if actor.role not in self.roles:
            allowed = "、".join(sorted(f"{r.label}({r.value})" for r in self.roles))
            raise ApiError(
                status.HTTP_403_FORBIDDEN,
                f"a {actor.role.label} ({actor.role.value}) account may not use "
                f"{request.method} {request.url.path}; it is for: {allowed}",
            )
        return actor

    def __repr__(self) -> str:
        return f"Gate({sorted(r.value for r in self.roles)})"


class PublicGate(Gate):
    """The declaration that a route is open to anyone (health, login, Open311 discovery)."""

    def __init__(self) -> None:
        super().__init__(frozenset())

    def __call__(self) -> None:  # type: ignore[override]
        return None

    def __repr__(self) -> str:
        return "PublicGate()"


class PageGate(Gate):
    """A page's gate: a visitor not signed in (or whose session expired) passes as None so the
    page can send them to /login; the page answers a signed-in account of another role."""

    def __call__(self, request: Request, session: SessionDep) -> Actor | None:  # type: ignore[override]
        try:
            return actor_of(request, session)
        except ApiError:
            return None


def _role_set(roles: tuple[StaffRole | frozenset[StaffRole], ...]) -> frozenset[StaffRole]:
    flat: set[StaffRole] = set()
    for role in roles:
        flat |= role if isinstance(role, frozenset) else {role}
    return frozenset(flat)


def allow(*roles: StaffRole | frozenset[StaffRole]) -> Any:
    """The dependency admitting signed-in staff of `roles` (single roles or role sets)."""
    return Depends(Gate(_role_set(roles)))


def page_gate(*roles: StaffRole | frozenset[StaffRole]) -> Any:
    """The dependency of a page for `roles` (see `PageGate`)."""
    return Depends(PageGate(_role_set(roles)))


PUBLIC = Depends(PublicGate())


class LoginThrottle:
    """Counts login attempts in a sliding window: failures per username, all per address."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._attempts: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, log: deque[float], now: float) -> deque[float]:
        while log and log[0] <= now - self.settings.login_window_s:
            log.popleft()
        return log

    def _refuse(self, log: deque[float], now: float, what: str) -> ApiError:
        wait = int(log[0] + self.settings.login_window_s - now) + 1
        return ApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many {what}; wait {wait} seconds before trying again",
            headers={"Retry-After": str(wait)},
        )

    def check(self, *, username: str, address: str) -> None:
        """Record an attempt; 429 when the address or the username is over its limit."""
        now = time.monotonic()
        with self._lock:
            attempts = self._recent(self._attempts[address], now)
            if len(attempts) >= self.settings.login_attempts_per_address:
                raise self._refuse(attempts, now, f"login attempts from {address}")
            attempts.append(now)
            failures = self._recent(self._failures[username.lower()], now)
            if len(failures) >= self.settings.login_failures_per_user:
                raise self._refuse(failures, now, f"failed logins for '{username}'")

    def failed(self, *, username: str) -> None:
        """Count a wrong password against the username."""
        with self._lock:
            self._failures[username.lower()].append(time.monotonic())

    def succeeded(self, *, username: str) -> None:
        """A correct login clears the username's failures."""
        with self._lock:
            self._failures.pop(username.lower(), None)


def throttle_of(request: Request) -> LoginThrottle:
    """The app's login throttle (one per app, so tests start clean)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def client_address(request: Request) -> str:
    """The caller's address as the server sees it."""
    return request.client.host if request.client else "unknown"


def set_session_cookies(response: Response, token: str, lifetime: int) -> None:
    """Start a page session: the HttpOnly token cookie and the readable CSRF cookie."""
    secure = get_settings().environment == "production"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token_for(token),
        max_age=lifetime,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    """End a page session."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
