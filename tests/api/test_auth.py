"""Signing in: bearer tokens, page sessions with CSRF, throttling, and deny by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from api.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, Gate, PublicGate
from gis.config import get_settings
from people.models import Staff
from tests.factories import COMMUNITY, add_grid, add_staff, admin_tree, bearer, square


def declared_gates(app):
    """Every API route of `app` (included routers too) with the gates it declares."""
    # The API documentation pages fastapi-offline adds: open, like the OpenAPI schema.
    documentation = {"/docs", "/docs/oauth2-redirect", "/redoc"}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path not in documentation:
            yield (
                context,
                [d.call for d in context.dependant.dependencies if isinstance(d.call, Gate)],
            )


@pytest.fixture
def worker(session):
    admin_tree(session)
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    return add_staff(session, "wang.wei", "grid_worker", grid_codes=[COMMUNITY + "001"])


def _token(client, username="wang.wei", password="test-password"):
    return client.post("/api/auth/token", data={"username": username, "password": password})


def test_password_form_gives_a_bearer_token_that_opens_api_me(client, worker):
    response = _token(client)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().token_minutes * 60
    me = client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "wang.wei"
    assert me.json()["role"] == "grid_worker"
    assert me.json()["scope"]["grids"] == [COMMUNITY + "001"]
    assert me.json()["home"] == "/worker"


def test_wrong_password_and_unknown_user_get_the_same_401_sentence(client, worker):
    wrong = _token(client, password="not-the-password")
    unknown = _token(client, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert "username or password is wrong" in wrong.json()["error"]["message"]
    assert wrong.json()["error"]["code"] == "unauthenticated"


def test_anonymous_forged_and_expired_tokens_get_401(client, worker):
    assert client.get("/api/me").status_code == 401
    forged = jwt.encode(
        {"sub": str(worker.staff_id), "exp": 9999999999},
        "a-guessed-secret-of-thirty-two-chars",
        "HS256",
    )
    response = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and "not valid" in response.json()["error"]["message"]
    expired = jwt.encode(
        {"sub": str(worker.staff_id), "exp": datetime.now(UTC) - timedelta(minutes=1)},
        get_settings().secret_key,
        "HS256",
    )
    response = client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_a_disabled_account_is_refused_even_with_a_live_token(client, session, worker):
    headers = bearer(worker)
    session.get(Staff, worker.staff_id).active = False
    session.flush()
    assert client.get("/api/me", headers=headers).status_code == 401
    assert _token(client).status_code == 401


def test_repeated_failures_lock_the_username_with_429_and_retry_after(client, worker):
    for _ in range(get_settings().login_failures_per_user):
        assert _token(client, password="wrong-password").status_code == 401
    locked = _token(client)  # even the right password waits now
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.json()["error"]["code"] == "rate_limited"


def test_one_address_is_limited_across_usernames(client, worker):
    for n in range(get_settings().login_attempts_per_address):
        _token(client, username=f"user{n}", password="wrong-password")
    assert _token(client).status_code == 429


def test_login_form_sets_httponly_session_and_redirects_to_the_role_page(client, worker):
    response = client.post(
        "/login", data={"username": "wang.wei", "password": "test-password"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/worker"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    csrf_cookie = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf_cookie  # the page's script reads it
    assert client.get("/api/me").json()["username"] == "wang.wei"


def test_login_form_with_a_wrong_password_shows_the_form_again(client, worker):
    response = client.post("/login", data={"username": "wang.wei", "password": "nope-nope"})
    assert response.status_code == 401
    assert "<form" in response.text and "username or password is wrong" in response.text


def test_login_never_redirects_to_another_site(client, worker):
    response = client.post(
        "/login",
        data={"username": "wang.wei", "password": "test-password", "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/worker"


def test_cookie_session_changes_need_the_csrf_header(client, worker):
    client.post("/login", data={"username": "wang.wei", "password": "test-password"})
    refused = client.post("/api/events", json={})
    assert refused.status_code == 403 and CSRF_HEADER in refused.json()["error"]["message"]
    accepted = client.post(
        "/api/events", json={}, headers={CSRF_HEADER: client.cookies[CSRF_COOKIE]}
    )
    assert accepted.status_code == 422  # past the gate: now the body is checked


def test_logout_ends_the_page_session(client, worker):
    client.post("/login", data={"username": "wang.wei", "password": "test-password"})
    client.post("/logout")
    assert client.get("/api/me").status_code == 401


def test_every_route_declares_who_may_call_it():
    undeclared = [
        f"{sorted(route.methods)} {route.path}: {gates}"
        for route, gates in declared_gates(create_app())
        if len(gates) != 1
    ]
    assert undeclared == []


def test_public_routes_are_only_the_ones_meant_to_be_open():
    public = {
        route.path
        for route, gates in declared_gates(create_app())
        if any(isinstance(g, PublicGate) for g in gates)
    }
    open_by_design = {"/", "/api/health", "/api/auth/token", "/login", "/logout"}
    assert {p for p in public - open_by_design if not p.startswith("/open311/v2/")} == set()
