"""Signing in: tokens for API clients, a login form and session cookie for the pages."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from api.http.auth import (
    ALL_STAFF,
    CHALLENGE,
    PUBLIC,
    SESSION_COOKIE,
    account_of,
    actor_of,
    allow,
    clear_session_cookies,
    client_address,
    issue_token,
    refuse_if_throttled,
    set_session_cookies,
)
from api.http.deps import SessionDep
from api.http.errors import ApiError, error_body, error_response
from api.pages.templating import templates
from api.schemas import Me, Scope, Token
from events.service import get_unit_ref
from people.access import Actor
from people.login_throttle import record_failure, record_success
from people.models import StaffRole
from people.staff import authenticate, end_sessions, full_name_of

router = APIRouter(tags=["auth 登录"])

# Where each role lands after signing in on a page.
ROLE_HOME = {
    StaffRole.GRID_WORKER: "/worker",
    StaffRole.INSPECTOR: "/worker",
    StaffRole.DISPATCHER: "/console",
    StaffRole.COMMAND: "/console",
    StaffRole.LEADER: "/maps/leader",
    StaffRole.ADMIN: "/console",
}


def _sign_in(session: SessionDep, request: Request, username: str, password: str) -> Actor:
    """The actor for a correct password; 429 when throttled, 401 when wrong.

    A wrong password is counted in this request's transaction, so the caller must answer
    the ApiError as a response (which commits) rather than let it propagate (which would
    roll the count back).
    """
    address = client_address(request)
    refuse_if_throttled(session, username=username, address=address)
    actor = authenticate(session, username=username, password=password)
    if actor is None:
        record_failure(session, username=username, address=address)
        raise ApiError(
            status.HTTP_401_UNAUTHORIZED,
            "the username or password is wrong",
            headers=CHALLENGE,
        )
    record_success(session, username=username, address=address)
    return actor


@router.post(
    "/api/auth/token",
    response_model=Token,
    dependencies=[PUBLIC],
    responses={401: {"description": "wrong password"}, 429: {"description": "throttled"}},
)
def token(
    session: SessionDep,
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token | JSONResponse:
    """Exchange a username and password (OAuth2 password form) for a bearer token."""
    try:
        actor = _sign_in(session, request, form.username, form.password)
    except ApiError as exc:
        return error_response(exc.status_code, str(exc), headers=exc.headers)
    access_token, lifetime = issue_token(actor)
    return Token(access_token=access_token, expires_in=lifetime)


@router.post(
    "/api/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[PUBLIC],
    responses={403: {"description": "a page session without its CSRF header"}},
)
def api_logout(session: SessionDep, request: Request) -> Response:
    """Sign out everywhere: every token of the account (and its page sessions) stops working.

    Open to anyone because it only acts on the token it is sent; without one, or with one
    that no longer works, there is nothing to end and it answers 204 all the same.
    """
    try:
        actor = actor_of(request, session)
    except ApiError as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        actor = None
    if actor is not None:
        end_sessions(session, staff_id=actor.staff_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response)
    return response


@router.get("/api/me", response_model=Me)
def me(session: SessionDep, actor: Annotated[Actor, allow(ALL_STAFF)]) -> Me:
    """The signed-in account: role, department unit and scope."""
    return Me(
        id=actor.staff_id,
        username=actor.username,
        full_name=full_name_of(session, staff_id=actor.staff_id),
        role=actor.role.value,
        role_label=actor.role.label,
        unit=get_unit_ref(session, unit_id=actor.department_unit_id),
        scope=Scope(
            grids=sorted(actor.grid_codes),
            area_code=actor.area_code,
            unit_id=actor.department_unit_id,
        ),
        home=ROLE_HOME[actor.role],
    )


def _safe_next(target: str | None) -> str | None:
    # Only paths on this site: never redirect a signed-in user to another host.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[PUBLIC])
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form of the pages."""
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next)})


@router.post("/login", include_in_schema=False, dependencies=[PUBLIC])
def login(
    session: SessionDep,
    request: Request,
    username: Annotated[str, Form(max_length=50)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the form; on success start a page session and go to the role's page."""
    try:
        actor = _sign_in(session, request, username, password)
    except ApiError as exc:
        message = error_body(exc.status_code, str(exc))["error"]["message"]
        context: dict[str, Any] = {"error": message, "username": username, "next": next}
        return templates.TemplateResponse(
            request, "login.html", context, status_code=exc.status_code, headers=exc.headers
        )
    access_token, lifetime = issue_token(actor)
    response = RedirectResponse(
        _safe_next(next) or ROLE_HOME[actor.role], status_code=status.HTTP_303_SEE_OTHER
    )
    set_session_cookies(response, access_token, lifetime)
    return response


@router.post("/logout", include_in_schema=False, dependencies=[PUBLIC])
def logout(session: SessionDep, request: Request) -> Response:
    """End the page session and every other sign-in of the account.

    No CSRF header here (the page's sign-out is a plain form): the SameSite=strict cookie is
    not sent by other sites' forms, so only our own pages can sign a user out.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        # An expired or revoked session has nothing left to end.
        with contextlib.suppress(ApiError):
            end_sessions(session, staff_id=account_of(session, token).staff_id)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    clear_session_cookies(response)
    return response
