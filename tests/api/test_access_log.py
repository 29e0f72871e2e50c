"""Secrets sent in a query string never reach the access log.

Open311 lets clients send `api_key` as a query parameter, and uvicorn's access log prints every
request's query string: the key (or a token or password sent the same way) ended up in log
files. The log line keeps the parameter's name and hides its value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import httpx
import pytest

from api.http.access_log import RedactSecrets, redact_query
from people.integrations import issue_key
from tests.factories import DISTRICT, admin_tree
from tests.faults.served_app import Served, free_port, gridgov_command, served, uvicorn_command

SECRET_KEY_VALUE = "k3y-0f-the-h0tline-bridge"
SECRET_TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-token-value"
SECRET_PASSWORD = "hunter2-hunter2"


def test_secret_query_values_are_replaced_and_the_rest_is_kept():
    line = "/open311/v2/requests.json?status=open&api_key=abc123&lat=30.7"
    assert redact_query(line) == "/open311/v2/requests.json?status=open&api_key=***&lat=30.7"
    assert redact_query("/x?Token=t&password=p&access_token=a") == (
        "/x?Token=***&password=***&access_token=***"
    )
    assert redact_query("/x?api%5Fkey=abc") == "/x?api%5Fkey=***"  # encoded names too
    assert redact_query("/x?keyboard=qwerty&status=open") == "/x?keyboard=qwerty&status=open"
    assert redact_query("/no/query") == "/no/query"


def test_the_filter_rewrites_uvicorns_access_record():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/open311/v2/requests.json?api_key=abc123", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "abc123" not in record.getMessage()
    assert "/open311/v2/requests.json?api_key=***" in record.getMessage()


COMMANDS = {
    "gridgov serve": [*gridgov_command(), "serve", "--host", "127.0.0.1"],
    "uvicorn": [*uvicorn_command(), "--host", "127.0.0.1"],
}


@pytest.fixture(params=list(COMMANDS), ids=list(COMMANDS))
def server(request, database_url, tmp_path) -> Iterator[Served]:
    """A real server process on the test database (these requests write nothing)."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url, "ENVIRONMENT": "test"}
    command = [*COMMANDS[request.param], "--port", str(port)]
    with served(command, port=port, env=env, log=tmp_path / "server.log") as running:
        yield running


def test_the_access_log_of_a_real_server_hides_keys_tokens_and_passwords(server):
    requests = [
        ("GET", f"/open311/v2/requests.json?status=open&api_key={SECRET_KEY_VALUE}"),
        ("GET", f"/api/me?token={SECRET_TOKEN}"),
        ("POST", f"/api/auth/token?username=nobody&password={SECRET_PASSWORD}"),
    ]
    for method, path in requests:
        httpx.request(method, server.base + path, timeout=30)
    # Stop the server so every line is written before reading the log.
    server.process.terminate()
    server.process.wait(timeout=30)
    log = server.output()
    assert "/open311/v2/requests.json?status=open&api_key=***" in log, log
    assert "/api/me?token=***" in log
    assert "password=***" in log
    for secret in (SECRET_KEY_VALUE, SECRET_TOKEN, SECRET_PASSWORD):
        assert secret not in log


def test_an_open311_key_may_be_sent_in_a_header_instead_of_the_url(client, session):
    admin_tree(session)
    key = issue_key(session, name="hotline-bridge", area_code=DISTRICT + "000000").key
    listed = client.get("/open311/v2/requests.json", headers={"X-Api-Key": key})
    assert listed.status_code == 200 and listed.json() == []
    wrong = client.get("/open311/v2/requests.json", headers={"X-Api-Key": "not-a-key"})
    assert wrong.status_code == 403
    missing = client.get("/open311/v2/requests.json")
    assert missing.status_code == 401 and "X-Api-Key" in missing.text
