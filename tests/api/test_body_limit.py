"""Huge bodies cost the server little: refused while they stream in, and never read for a caller
who is not signed in. The server is a real uvicorn process; the client is a raw socket that
counts the body bytes it managed to send before the answer arrived."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from api.http.body_limit import limit_of
from gis import local_pg
from tests.api.browser import serving
from tests.factories import add_staff, bearer, fresh_database

MB = 1024 * 1024
BIG = 50 * MB
# Loopback socket buffers on both sides hold a few MB that a client "sends" before the server
# reads anything; a server that reads the whole body takes all 50 MB.
UNREAD = 16 * MB


@dataclass
class Pushed:
    """What came of pushing a body at the server."""

    status: int | None
    sent: int  # body bytes the socket accepted before the answer came
    body: bytes


@pytest.fixture(scope="module")
def limits_database(database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A database of its own and an admin's headers: the server runs in another process."""
    url = fresh_database(database_url, "_bodylimit")
    engine = create_engine(url)
    with Session(engine) as session:
        admin = add_staff(session, "admin1", "admin")
        session.commit()
    engine.dispose()
    yield url, bearer(admin)
    local_pg.drop_database(url)


@pytest.fixture(scope="module")
def server(
    limits_database: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """uvicorn on a free port; imports limited to 2 MB so that a refusal is cheap to provoke."""
    workdir = tmp_path_factory.mktemp("server")
    with serving(limits_database[0], workdir, {"MAX_IMPORT_MB": "2"}) as base:
        yield int(base.rsplit(":", 1)[1])


def push(
    port: int,
    path: str,
    *,
    headers: dict[str, str],
    total: int = BIG,
    chunked: bool = True,
    first: bytes = b"",
    filler: bytes = b" ",
) -> Pushed:
    """POST `first` then filler up to `total` bytes, stopping as soon as an answer arrives."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        lines = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent = 0
        piece = filler * (64 * 1024 // len(filler))
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            data = (first if sent == 0 and first else piece)[: total - sent]
            frame = f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data
            try:
                sock.sendall(frame)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading: its answer should be waiting
            sent += len(data)
        if sent >= total and chunked:
            sock.sendall(b"0\r\n\r\n")
        answer = b""
        sock.settimeout(30)
        try:
            while b"\r\n\r\n" not in answer or not _complete(answer):
                received = sock.recv(65536)
                if not received:
                    break
                answer += received
        except (TimeoutError, ConnectionResetError):
            pass
    finally:
        sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None
    return Pushed(status, sent, body)


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def error_of(pushed: Pushed) -> dict[str, object]:
    """The error object of an answer in the app's shape."""
    error: dict[str, object] = json.loads(pushed.body)["error"]
    assert set(error) >= {"code", "message", "field"}
    return error


def test_a_chunked_50_mb_json_body_without_credentials_is_answered_401_unread(server: int) -> None:
    pushed = push(server, "/api/events", headers={"Content-Type": "application/json"})
    assert pushed.status == 401
    assert error_of(pushed)["code"] == "unauthenticated"
    assert pushed.sent < UNREAD


def test_a_200_mb_multipart_import_without_credentials_is_not_spooled(server: int) -> None:
    boundary = "gridgovboundary"
    first = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nresidents\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    pushed = push(
        server,
        "/api/imports",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        total=200 * MB,
        first=first,
        filler=b"x",
    )
    assert pushed.status == 401
    assert pushed.sent < UNREAD


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(server: int) -> None:
    pushed = push(
        server,
        "/api/residents",
        headers={"Content-Type": "application/json"},
        chunked=False,
    )
    assert pushed.status == 413
    error = error_of(pushed)
    assert error["code"] == "too_large"
    assert "50.0 MB" in str(error["message"]) or "50 MB" in str(error["message"])
    assert pushed.sent < UNREAD


def test_a_chunked_body_to_a_public_form_route_is_cut_off_at_its_limit(server: int) -> None:
    # The token route is public and reads its form: a chunked body is counted as it arrives.
    pushed = push(
        server,
        "/api/auth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        first=b"username=a&password=",
        filler=b"a",
    )
    assert pushed.status == 413
    assert "1 MB" in str(error_of(pushed)["message"])
    assert pushed.sent < UNREAD


def test_a_chunked_import_over_the_import_limit_from_an_admin_is_refused(
    server: int, limits_database: tuple[str, dict[str, str]]
) -> None:
    headers = limits_database[1]
    boundary = "gridgovboundary"
    first = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nresidents\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    pushed = push(
        server,
        "/api/imports",
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        first=first,
        filler=b"x",
    )
    assert pushed.status == 413
    assert "2 MB" in str(error_of(pushed)["message"])
    assert pushed.sent < UNREAD


def test_a_body_within_the_limit_still_reaches_the_route(server: int) -> None:
    # The other side of the rule: a small chunked form is read in full and answered by the route.
    pushed = push(
        server,
        "/api/auth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        total=len(b"username=nobody&password=wrong-password"),
        first=b"username=nobody&password=wrong-password",
    )
    assert pushed.status == 401
    assert error_of(pushed)["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("method", "path", "media", "limit"),
    [
        ("POST", "/api/events", "multipart/form-data", 9 * 10 * MB + MB),
        ("POST", "/api/events/420502-20261123-000001/handle", "multipart/form-data", 91 * MB),
        ("POST", "/api/events", "application/json", MB),  # a JSON report carries no photos
        ("POST", "/api/imports", "multipart/form-data", 201 * MB),
        ("POST", "/api/imports", "application/json", MB),
        ("PUT", "/api/units/3/jurisdiction", "application/json", 16 * MB),
        ("POST", "/api/residents", "application/json", MB),
        ("POST", "/api/auth/token", "application/x-www-form-urlencoded", MB),
        ("POST", "/open311/v2/requests.json", "multipart/form-data", MB),
        ("GET", "/api/events", "", MB),
    ],
)
def test_each_route_has_the_limit_its_content_needs(
    method: str, path: str, media: str, limit: int
) -> None:
    assert limit_of(method, path, media)[0] == limit
