"""Who is calling: bearer tokens and page sessions, role gates, CSRF and login throttling.

Deny by default: every route declares a `Gate` — `allow(roles…)` for signed-in staff, or
`PUBLIC` for the few open routes — and a test walks the app to check none is missing.
Pages sign in through `/login`, which sets an HttpOnly SameSite session cookie holding the
same token the API hands out, plus a readable CSRF cookie; a state-changing request made
with the session cookie must echo that CSRF value in the `X-CSRF-Token` header.

Every token carries its account's token version; signing out (or a new password, or disabling
the account) bumps the version, so every token issued to the account before stops working.
Failed logins are throttled through PostgreSQL (`people.login_throttle`), shared by all
server processes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi import Depends, Request, Response, status
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.deps import SessionDep
from api.http.errors import ApiError, error_response
from gis.config import Settings, get_settings
from people.access import Actor, load_actor
from people.exceptions import NotFound as AccountNotFound
from people.login_throttle import check_login
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
        # The account's token version: signing out bumps it and so revokes this token.
        "ver": actor.token_version,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), lifetime


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gridgov"'}


def _unauthenticated(message: str) -> ApiError:
    return ApiError(status.HTTP_401_UNAUTHORIZED, message, headers=CHALLENGE)


def read_token(token: str, settings: Settings | None = None) -> tuple[int, int]:
    """The account id and token version a token carries; 401 when forged, malformed or expired."""
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "ver"]},
        )
        return int(claims["sub"]), int(claims["ver"])
    except jwt.ExpiredSignatureError as exc:
        raise _unauthenticated("the sign-in has expired; sign in again") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise _unauthenticated("the access token is not valid; sign in again") from exc


def account_of(session: Session, token: str) -> Actor:
    """The account a token signs in, checked against its current token version; else 401."""
    staff_id, version = read_token(token)
    try:
        actor = load_actor(session, staff_id=staff_id)
    except AccountNotFound as exc:
        raise _unauthenticated("the account is disabled or no longer exists") from exc
    if actor.token_version != version:
        raise _unauthenticated(
            "this sign-in has ended (signed out, or the password was changed); sign in again"
        )
    return actor


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
    actor = account_of(session, token)
    if via_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token_for(token)):
            raise ApiError(
                status.HTTP_403_FORBIDDEN,
                f"this change was sent with the page session but without its {CSRF_HEADER} "
                "header; reload the page and try again",
            )
    return actor


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


def refuse_if_throttled(session: Session, *, username: str, address: str) -> None:
    """429 with Retry-After when this login attempt must wait (see people.login_throttle)."""
    refusal = check_login(session, username=username, address=address)
    if refusal is not None:
        raise ApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{refusal.reason} in {refusal.retry_after_s} seconds",
            headers={"Retry-After": str(refusal.retry_after_s)},
        )


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


class LoopbackOnlyWithWeakSecrets:
    """ASGI middleware: with development or short secrets, answer nobody but this machine.

    Anyone who knows the public development secret can sign a token for any account, so such
    a server refuses to start when HOST is not a loopback address, and refuses every request
    that arrived on a non-loopback address (however the server was started: `gridgov serve`
    checks its --host too, but `uvicorn --host 0.0.0.0` would not).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = get_settings()
        if scope["type"] == "lifespan":
            refusal = settings.serving_refusal(settings.host)
            if refusal is not None:
                await receive()  # lifespan.startup
                await send({"type": "lifespan.startup.failed", "message": refusal})
                # As Starlette's own lifespan does: the server has been told, now stop.
                raise RuntimeError(refusal)
        elif scope["type"] in ("http", "websocket") and _reached_from_outside(scope):
            refusal = settings.serving_refusal(scope["server"][0])
            if refusal is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                response = error_response(status.HTTP_503_SERVICE_UNAVAILABLE, refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _reached_from_outside(scope: Scope) -> bool:
    # ASGI servers report the socket's own address; test clients report a host name instead.
    server = scope.get("server")
    if not server:
        return False  # a Unix socket
    try:
        return not ipaddress.ip_address(str(server[0]).strip("[]")).is_loopback
    except ValueError:
        return False
