"""Real webhook receivers on loopback ports for fault tests: healthy, failing, trickling, huge.

Each receiver is an `http.server` in a thread of the test process, on a port of its own. It
records every request it got (`received`) and every delivery it answered with a 2xx
(`receipts`), so a test can count deliveries by `X-Gridgov-Delivery`. Its `mode` can change
while it runs (a trickling receiver that recovers); `down` receivers hold a free port with
nothing listening until `start()`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["healthy", "error", "trickle", "huge"]
HUGE_BODY_BYTES = 512 * 1024 * 1024  # announced and streamed until the client hangs up
CHUNK = 64 * 1024


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Request:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived

    @property
    def delivery(self) -> str:
        """The `X-Gridgov-Delivery` header: the outbox row id."""
        return self.headers.get("x-gridgov-delivery", "")


@dataclass
class WebhookReceiver:
    """A webhook receiver on 127.0.0.1 that behaves as `mode` says.

    - healthy: 200 at once;
    - error: 500 with a short body;
    - trickle: after reading the request, sends the status line one byte every
      `trickle_every_s` and never finishes, until the client hangs up;
    - huge: a `HUGE_BODY_BYTES` body (500 to the first request, 200 afterwards), streamed
      until the client hangs up; `bytes_sent` counts what actually left.
    """

    mode: Mode = "healthy"
    port: int = field(default_factory=free_port)
    trickle_every_s: float = 0.5
    delay_s: float = 0.0
    received: list[Request] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    in_progress: int = 0  # requests being answered right now
    lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None
    _closing: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """The webhook URL to give a unit."""
        return f"http://127.0.0.1:{self.port}/hooks/gridgov"

    @property
    def running(self) -> bool:
        """Whether it listens (a `down` receiver does not until started)."""
        return self._server is not None

    def deliveries(self) -> Counter[str]:
        """How many times each delivery id was answered with a 2xx."""
        with self.lock:
            return Counter(self.receipts)

    def start(self) -> WebhookReceiver:
        """Listen on `port` and answer in `mode`; returns itself."""
        receiver = self
        self._closing.clear()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request({k.lower(): v for k, v in self.headers.items()}, body, 0.0)
                request.at = time.monotonic()
                with receiver.lock:
                    receiver.received.append(request)
                    receiver.in_progress += 1
                    mode = receiver.mode
                    first_huge = (
                        mode == "huge"
                        and sum(1 for r in receiver.received if r.delivery == request.delivery) == 1
                    )
                try:
                    self.close_connection = True
                    if mode == "trickle":
                        self._trickle()
                    elif mode == "huge":
                        self._huge(500 if first_huge else 200, request.delivery)
                    else:
                        time.sleep(receiver.delay_s)
                        status = 200 if mode == "healthy" else 500
                        self._answer(status, b"ok" if status == 200 else b"receiver broke")
                        if status == 200:
                            with receiver.lock:
                                receiver.receipts.append(request.delivery)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker hung up: what these receivers are for
                finally:
                    with receiver.lock:
                        receiver.in_progress -= 1

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _trickle(self) -> None:
                for byte in b"HTTP/1.1 200 OK\r\n" * 10_000:
                    if receiver._closing.wait(receiver.trickle_every_s):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def _huge(self, status: int, delivery: str) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(HUGE_BODY_BYTES))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.flush()
                if status == 200:  # answered: the worker needs nothing after the status
                    with receiver.lock:
                        receiver.receipts.append(delivery)
                chunk = b"x" * CHUNK
                for _ in range(HUGE_BODY_BYTES // CHUNK):
                    if receiver._closing.is_set():
                        return
                    self.wfile.write(chunk)
                    with receiver.lock:
                        receiver.bytes_sent += CHUNK

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hung up mid-answer is expected here

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and end every answer in progress."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Any, timeout_s: float) -> bool:
        """Poll `predicate(self)` until it holds or `timeout_s` passes; whether it held."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        with self.lock:
            return bool(predicate(self))
