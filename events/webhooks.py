"""Posting one webhook: signed, within a total deadline, reading little of the answer.

**Request** — `POST <webhook_url>`, body: the outbox payload as UTF-8 JSON
(`event_code`, `step_id`, `kind`, `status`, `category`, `priority`, `unit`, `deadline`, `at`),
headers:

- `Content-Type: application/json; charset=utf-8`
- `X-Gridgov-Event`: event code, e.g. `420502-20261123-000042`
- `X-Gridgov-Step`: id of the event step (transition) being notified
- `X-Gridgov-Kind`: dispatch / return / supervise / close …
- `X-Gridgov-Delivery`: outbox row id, the same on every retry and replay
- `X-Gridgov-Attempt`: 1 for the first try, counting up on retries (restarts after a replay)
- `X-Gridgov-Timestamp`: Unix time in whole seconds when the request was signed
- `X-Gridgov-Signature`: `sha256=` + lower-case hex HMAC-SHA256, keyed with the unit's
  `webhook_secret` (UTF-8), of the bytes `<timestamp>.<body>`

**Verifying** (any language): take the raw request body bytes, compute
`HMAC_SHA256(secret, timestamp_header + "." + body)`, compare it in constant time with the hex
after `sha256=`, and reject timestamps more than a few minutes from your clock (replay
protection). `verify_signature` does exactly this in Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from gis.config import get_settings

SIGNATURE_MAX_AGE_S = 300
USER_AGENT = "gridgov-webhook/1"
ERROR_BODY_CHARS = 200
# At most this much of an error answer is read (for the log); a 2xx answer's body is not read.
RESPONSE_BODY_CAP = 4096
# A request in flight when the worker is told to stop gets this long to finish.
STOP_GRACE_S = 1.0


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The `X-Gridgov-Signature` value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    header: str,
    *,
    max_age_s: float | None = SIGNATURE_MAX_AGE_S,
    now: float | None = None,
) -> bool:
    """Whether `header` signs `body` at `timestamp` with `secret` (for receivers).

    `timestamp` is the `X-Gridgov-Timestamp` header, `body` the raw request body. With
    `max_age_s`, a timestamp further than that from `now` (Unix seconds, default: the clock)
    is refused, so a captured request cannot be replayed later.
    """
    try:
        moment = int(str(timestamp).strip())
    except ValueError:
        return False
    if max_age_s is not None and abs((time.time() if now is None else now) - moment) > max_age_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, moment, raw), header.strip())


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The request body: the payload as compact UTF-8 JSON (Chinese left readable)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )


@dataclass(frozen=True)
class Claim:
    """An outbox row leased to this worker, with what it takes to post it."""

    outbox_id: int
    district_code: str
    unit_id: int
    event_code: str
    step_id: int
    kind: str
    payload: dict[str, Any]
    unit_code: str
    url: str | None
    secret: str | None
    attempts: int
    due_at: datetime
    lease_until: datetime


@dataclass(frozen=True)
class Outcome:
    """The result of one try: HTTP status, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    # True when the receiver could not be reached at all (timeout, refused, DNS): the rest of
    # the turn for the same receiver is not tried.
    unreachable: bool = False
    # True when the worker cut the request because it is stopping: the row is handed back.
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def deadline_s_or_setting(timeout_s: float | None) -> float:
    """The total deadline of one delivery: `timeout_s`, else the `WEBHOOK_DEADLINE_S` setting."""
    return get_settings().webhook_deadline_s if timeout_s is None else timeout_s


class _Watchdog:
    """Cuts one delivery's connection at its total deadline, or soon after `stop` is set.

    Per-read socket timeouts alone let a receiver that sends a byte every few seconds hold a
    request forever; shutting the socket down wakes the blocked read at once.
    """

    def __init__(self, deadline_s: float, stop: threading.Event | None) -> None:
        self.until = time.monotonic() + deadline_s
        self.stop = stop
        self.reason: str | None = None  # "deadline" or "stop" once it has cut
        self._connection: http.client.HTTPConnection | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="webhook-deadline", daemon=True)

    def start(self, connection: http.client.HTTPConnection) -> None:
        """Watch `connection` (its socket may not exist yet: connecting is watched too)."""
        self._connection = connection
        self._thread.start()

    def finish(self) -> None:
        """The delivery is over: stop watching."""
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        stopping_since: float | None = None
        while not self._done.wait(0.05):
            moment = time.monotonic()
            if self.stop is not None and self.stop.is_set():
                stopping_since = stopping_since or moment
                if moment - stopping_since >= STOP_GRACE_S:
                    self._cut("stop")
                    return
            if moment >= self.until:
                self._cut("deadline")
                return

    def _cut(self, reason: str) -> None:
        self.reason = reason
        sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            # The plain socket's shutdown, also under TLS: the blocked read gets EOF at once.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _connection(url: str, deadline_s: float) -> tuple[http.client.HTTPConnection, str]:
    """An unopened connection to the URL's host and the request target; ValueError if invalid."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(url)
    port = parts.port  # raises ValueError for a port that is not a number in range
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname, port, timeout=deadline_s, context=ssl.create_default_context()
        ), target
    return http.client.HTTPConnection(parts.hostname, port, timeout=deadline_s), target


def _describe(exc: Exception, url: str, deadline_s: float, *, connecting: bool) -> tuple[str, bool]:
    """A sentence for the delivery log, and whether the receiver was unreachable."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {deadline_s:g} s waiting for {url}", True
    if isinstance(exc, socket.gaierror):
        return f"could not resolve the host of {url} ({exc}); check the unit's webhook_url", True
    if connecting and isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or "connection refused"
        return f"could not connect to {url} ({reason}); is it down?", True
    if isinstance(exc, http.client.HTTPException | OSError):
        return f"{url} broke off or did not answer in HTTP ({type(exc).__name__}: {exc})", True
    return f"{type(exc).__name__} posting to {url}: {exc}", False


def post(
    claim: Claim, *, timeout_s: float | None = None, stop: threading.Event | None = None
) -> Outcome:
    """POST one claimed row to its unit, signed, within a total deadline; never raises.

    `timeout_s` (default `WEBHOOK_DEADLINE_S`) bounds the whole delivery: connecting, sending
    and reading the answer. When `stop` is set, the request gets `STOP_GRACE_S` to finish and
    is then cut (`Outcome.interrupted`).
    """
    assert claim.url is not None
    deadline_s = deadline_s_or_setting(timeout_s)
    if not claim.secret:
        return Outcome(
            None,
            f"unit {claim.unit_code} has a webhook URL but no webhook secret; set one so "
            "deliveries can be signed",
            0,
        )
    try:
        connection, target = _connection(claim.url, deadline_s)
    except ValueError:
        return Outcome(
            None,
            f"webhook URL {claim.url!r} is not a valid http(s) URL; fix the unit's webhook_url",
            0,
        )
    body = encode_payload(claim.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Gridgov-Event": claim.event_code,
        "X-Gridgov-Step": str(claim.step_id),
        "X-Gridgov-Kind": claim.kind,
        "X-Gridgov-Delivery": str(claim.outbox_id),
        "X-Gridgov-Attempt": str(claim.attempts + 1),
        "X-Gridgov-Timestamp": timestamp,
        "X-Gridgov-Signature": sign(claim.secret, timestamp, body),
    }
    started = time.monotonic()
    watchdog = _Watchdog(deadline_s, stop)
    watchdog.start(connection)
    connecting = True
    try:
        connection.connect()
        connecting = False
        if watchdog.reason is not None:
            raise TimeoutError("cut off while connecting")
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        if watchdog.reason is not None:
            # Cut mid-answer, a status line can still parse ("HTTP/1.1 200" then EOF): an
            # answer that did not arrive whole before the deadline is no answer.
            raise TimeoutError("cut off while reading the answer")
        status, reason = response.status, response.reason
        text = b""
        if not 200 <= status < 300:
            # Only the start of an error answer: a huge one costs nothing.
            with contextlib.suppress(http.client.HTTPException, OSError):
                text = response.read(RESPONSE_BODY_CAP)
    except Exception as exc:  # any failure of one delivery is logged on its row; carry on
        duration = _ms_since(started)
        if watchdog.reason == "stop":
            return Outcome(
                None,
                "interrupted: the worker stopped before the receiver answered; handed back to "
                "be sent again",
                duration,
                interrupted=True,
            )
        if watchdog.reason == "deadline":
            return Outcome(
                None,
                f"timed out after {deadline_s:g} s waiting for {claim.url} (no complete answer "
                "within the delivery deadline; cut off)",
                duration,
                True,
            )
        error, unreachable = _describe(exc, claim.url, deadline_s, connecting=connecting)
        return Outcome(None, error, duration, unreachable)
    finally:
        watchdog.finish()
        connection.close()
    duration = _ms_since(started)
    if 200 <= status < 300:
        return Outcome(status, None, duration)
    answer = text.decode("utf-8", "replace").strip().replace("\n", " ")[:ERROR_BODY_CHARS]
    return Outcome(
        status,
        f"HTTP {status} {reason}" + (f": {answer}" if answer else ""),
        duration,
    )


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
