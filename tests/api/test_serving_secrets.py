"""Development secrets never face the network: the server only answers this machine with them.

Anyone can read the development SECRET_KEY in the source and sign a token that passes as the
admin; so with it (or with a short secret) the server refuses to start on a non-loopback HOST
and refuses requests that reach it on a non-loopback address, while loopback development works
as before.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gis.config import Settings, get_settings
from tests.factories import add_staff
from tests.faults.served_app import free_port, gridgov_command, uvicorn_command

STRONG = "k" * 48


@pytest.fixture
def settings_from_env(monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment changes that the app's settings pick up, undone after the test."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_development_secrets_are_fine_on_loopback(host):
    assert Settings(environment="development").serving_refusal(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "2001:db8::1"])
def test_development_secrets_are_refused_on_addresses_others_can_reach(host):
    refusal = Settings(environment="development").serving_refusal(host)
    assert refusal is not None
    assert f"Refusing to serve on {host}" in refusal and "SECRET_KEY" in refusal
    assert "开发密钥" in refusal


def test_a_short_secret_or_a_development_pii_key_is_refused_off_loopback_too():
    short = Settings(secret_key="only-twenty-chars-xx").serving_refusal("0.0.0.0")
    assert short is not None and "shorter than 32" in short
    pii = Settings(secret_key=STRONG, pii_key="dev-only-pii").serving_refusal("0.0.0.0")
    assert pii is not None and "PII_KEY" in pii


def test_strong_secrets_serve_on_any_address():
    assert Settings(secret_key=STRONG).serving_refusal("0.0.0.0") is None


def _admin_token_signed_with(secret: str, staff_id: int) -> dict[str, str]:
    claims = {"sub": str(staff_id), "ver": 0, "exp": datetime.now(UTC) + timedelta(minutes=5)}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, 'HS256')}"}


def test_a_request_reaching_a_non_loopback_address_is_refused_with_the_public_secret(
    client, session
):
    admin = add_staff(session, "root.admin", "admin")
    forged = _admin_token_signed_with(get_settings().secret_key, admin.staff_id)
    outside = TestClient(client.app, base_url="http://192.0.2.10")
    refused = outside.get("/api/me", headers=forged)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "unavailable"
    assert "Refusing to serve on 192.0.2.10" in refused.json()["error"]["message"]
    # The same request on loopback is development as usual.
    local = TestClient(client.app, base_url="http://127.0.0.1")
    assert local.get("/api/me", headers=forged).json()["username"] == "root.admin"


def test_with_a_strong_secret_requests_on_any_address_are_served(client, settings_from_env):
    settings_from_env.setenv("SECRET_KEY", STRONG)
    outside = TestClient(client.app, base_url="http://192.0.2.10")
    assert outside.get("/api/health").status_code == 200


def test_the_app_refuses_to_start_when_host_is_not_loopback(settings_from_env):
    settings_from_env.setenv("HOST", "0.0.0.0")
    with (
        pytest.raises(RuntimeError, match=re.escape("Refusing to serve on 0.0.0.0")),
        TestClient(create_app()),
    ):
        pass


def test_the_app_starts_with_a_non_loopback_host_when_the_secrets_are_strong(settings_from_env):
    settings_from_env.setenv("HOST", "0.0.0.0")
    settings_from_env.setenv("SECRET_KEY", STRONG)
    with TestClient(create_app()) as started:
        assert started.get("/api/health").status_code in (200, 503)  # past start-up


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=os.environ | {"ENVIRONMENT": "development", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gridgov_serve_refuses_a_public_host_with_the_development_secret():
    port = str(free_port())
    result = _run([*gridgov_command(), "serve", "--host", "0.0.0.0", "--port", port])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Refusing to serve on 0.0.0.0" in output and "SECRET_KEY" in output
    assert "Uvicorn running" not in output


def test_uvicorn_with_a_public_host_setting_stops_at_start_up():
    # uvicorn itself listens on loopback here; HOST (the deployment's setting) says 0.0.0.0.
    port = str(free_port())
    result = _run([*uvicorn_command(), "--host", "127.0.0.1", "--port", port], HOST="0.0.0.0")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Refusing to serve on 0.0.0.0" in output
    assert "Application startup failed" in output
