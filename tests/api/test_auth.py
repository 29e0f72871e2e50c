"""Signing in: bearer tokens, page sessions with CSRF, throttling, and deny by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.http.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, PublicGate
from gis.config import get_settings
from people.models import LoginFailure, Staff
from people.staff import set_password
from tests.api.gates import declared_gates
from tests.factories import COMMUNITY, add_grid, add_staff, admin_tree, bearer, square


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
        {"sub": str(worker.staff_id), "ver": 0, "exp": datetime.now(UTC) - timedelta(minutes=1)},
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


def _from(client, address):
    """Another client of the same app, calling from `address`."""
    return TestClient(client.app, client=(address, 40000))


ATTACKER, OFFICE = "203.0.113.66", "198.51.100.7"


def test_forty_successful_logins_from_one_address_all_succeed(client, worker):
    # Thirty staff behind one NAT sign in all morning: successes never count against anyone.
    office = _from(client, OFFICE)
    statuses = [_token(office).status_code for _ in range(40)]
    assert statuses == [200] * 40


def test_failures_from_one_address_hold_that_address_with_429_and_retry_after(client, worker):
    attacker = _from(client, ATTACKER)
    for _ in range(get_settings().login_failures_per_user):
        assert _token(attacker, password="wrong-password").status_code == 401
    locked = _token(attacker)  # from this address even the right password waits now
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= get_settings().login_window_s
    assert locked.json()["error"]["code"] == "rate_limited"
    assert "wang.wei" in locked.json()["error"]["message"]


def test_an_attackers_failures_do_not_lock_the_user_out_from_another_address(client, worker):
    attacker, office = _from(client, ATTACKER), _from(client, OFFICE)
    for _ in range(get_settings().login_failures_per_user):
        _token(attacker, password="wrong-password")
    assert _token(attacker).status_code == 429
    assert _token(office).status_code == 200


def test_a_username_guessed_from_many_addresses_slows_each_guessing_address(client, worker):
    limit = get_settings().login_failures_per_user
    for n in range(limit):
        guesser = _from(client, f"192.0.2.{n + 1}")
        assert _token(guesser, password="wrong-password").status_code == 401
    # Every address that guessed now waits, even with the right password …
    second_try = _token(_from(client, "192.0.2.1"))
    assert second_try.status_code == 429 and int(second_try.headers["Retry-After"]) > 0
    # … but one that never failed signs in at once.
    assert _token(_from(client, OFFICE)).status_code == 200


def test_a_correct_password_clears_the_failures_of_its_own_address(client, worker):
    office = _from(client, OFFICE)
    for _ in range(get_settings().login_failures_per_user - 1):
        _token(office, password="wrong-password")
    assert _token(office).status_code == 200
    for _ in range(get_settings().login_failures_per_user - 1):
        assert _token(office, password="wrong-password").status_code == 401
    assert _token(office).status_code == 200


def test_one_address_failing_for_many_usernames_is_held(client, worker):
    sprayer = _from(client, ATTACKER)
    for n in range(get_settings().login_failures_per_address):
        assert _token(sprayer, username=f"user{n}", password="wrong-password").status_code == 401
    refused = _token(sprayer)
    assert refused.status_code == 429 and ATTACKER in refused.json()["error"]["message"]
    assert _token(_from(client, OFFICE)).status_code == 200


def test_failures_older_than_the_window_no_longer_count_and_are_pruned(client, session, worker):
    window = timedelta(seconds=get_settings().login_window_s)
    long_ago = datetime.now(UTC) - window - timedelta(minutes=1)
    session.add_all(
        LoginFailure(username="wang.wei", address=ATTACKER, at=long_ago) for _ in range(20)
    )
    session.flush()
    attacker = _token(_from(client, ATTACKER), password="wrong-password")
    assert attacker.status_code == 401  # the old failures are not counted …
    assert session.scalar(select(func.count()).select_from(LoginFailure)) == 1  # … and are gone


def test_the_login_page_is_throttled_like_the_api(client, worker):
    attacker = _from(client, ATTACKER)
    for _ in range(get_settings().login_failures_per_user):
        response = attacker.post("/login", data={"username": "wang.wei", "password": "nope-nope"})
        assert response.status_code == 401
    locked = attacker.post("/login", data={"username": "wang.wei", "password": "test-password"})
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert "<form" in locked.text and "请求过于频繁" in locked.text


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
    session_token = client.cookies[SESSION_COOKIE]
    assert client.get("/api/me").status_code == 200
    client.post("/logout")
    assert client.get("/api/me").status_code == 401
    # The cookie's token itself is revoked, not only deleted from this browser.
    replay = TestClient(client.app)
    replay.cookies.set(SESSION_COOKIE, session_token)
    replayed = replay.get("/api/me")
    assert replayed.status_code == 401
    assert "signed out" in replayed.json()["error"]["message"]


def test_api_logout_revokes_every_token_of_the_account(client, worker):
    first = {"Authorization": f"Bearer {_token(client).json()['access_token']}"}
    second = {"Authorization": f"Bearer {_token(client).json()['access_token']}"}
    assert client.get("/api/me", headers=first).status_code == 200
    assert client.post("/api/auth/logout", headers=first).status_code == 204
    assert client.get("/api/me", headers=first).status_code == 401
    assert client.get("/api/me", headers=second).status_code == 401
    fresh = {"Authorization": f"Bearer {_token(client).json()['access_token']}"}
    assert client.get("/api/me", headers=fresh).status_code == 200  # signing in again works


def test_logout_of_one_account_leaves_other_accounts_signed_in(client, session, worker):
    other = add_staff(session, "li.na", "grid_worker", grid_codes=[COMMUNITY + "001"])
    others_token = bearer(other)
    mine = {"Authorization": f"Bearer {_token(client).json()['access_token']}"}
    client.post("/api/auth/logout", headers=mine)
    assert client.get("/api/me", headers=others_token).status_code == 200


def test_api_logout_without_a_token_changes_nothing(client, worker):
    headers = bearer(worker)
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/me", headers=headers).status_code == 200


def test_api_logout_with_the_page_session_needs_the_csrf_header(client, worker):
    client.post("/login", data={"username": "wang.wei", "password": "test-password"})
    assert client.post("/api/auth/logout").status_code == 403
    assert client.get("/api/me").status_code == 200
    csrf = {CSRF_HEADER: client.cookies[CSRF_COOKIE]}
    assert client.post("/api/auth/logout", headers=csrf).status_code == 204
    assert client.get("/api/me").status_code == 401


def test_a_new_password_revokes_the_old_tokens(client, session, worker):
    headers = bearer(worker)
    set_password(session, staff_id=worker.staff_id, password="a-new-password")
    assert client.get("/api/me", headers=headers).status_code == 401
    assert _token(client, password="a-new-password").status_code == 200


def test_tokens_of_a_disabled_account_stay_dead_when_it_is_enabled_again(client, session, worker):
    headers = bearer(worker)
    account = session.get(Staff, worker.staff_id)
    account.active = False
    session.flush()
    account.active = True
    session.flush()
    assert client.get("/api/me", headers=headers).status_code == 401
    assert _token(client).status_code == 200


def test_a_token_without_a_version_is_not_accepted(client, worker):
    unversioned = jwt.encode(
        {"sub": str(worker.staff_id), "exp": datetime.now(UTC) + timedelta(minutes=5)},
        get_settings().secret_key,
        "HS256",
    )
    response = client.get("/api/me", headers={"Authorization": f"Bearer {unversioned}"})
    assert response.status_code == 401


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
    open_by_design = {
        "/",
        "/api/health",
        "/api/auth/token",
        "/api/auth/logout",  # acts only on the token it is sent
        "/api/devices/{code}/readings",  # signed by the device's own secret (HMAC), not a token
        "/login",
        "/logout",
    }
    assert {p for p in public - open_by_design if not p.startswith("/open311/v2/")} == set()
