"""The Chromium the browser tests drive, the flags that keep it quiet on a closed network, the
server they drive it against (uvicorn as a user runs it), and what every page test does with
them: watch each request and script error, sign in, screenshot, check a phone-wide page.

The `browser`, `photo`, `city` and `server` fixtures built on these are in tests/api/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

UVICORN = (sys.executable, "-m", "uvicorn", "api.app:app", "--log-level", "warning")

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "pages"
PASSWORD = "test-password"  # every account the page tests' cities make
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
WIDE = {"width": 1400, "height": 900}
TIMEOUT = 15_000  # ms a page step may take before the test fails
STARTUP_SECONDS = 120
CHROMIUM = Path("/usr/bin/chromium")
# The flags keep Chromium from calling home, which a closed network refuses noisily.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(
    database_url: str, workdir: Path, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """`uvicorn api.app:app` on a free loopback port and `database_url` (and `settings`, more
    environment), uploads and its log under `workdir`; yields its base URL once it answers,
    stops it afterwards."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url, "UPLOAD_DIR": str(workdir / "uploads")}
    env |= settings or {}
    log = workdir / "uvicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*UVICORN, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    # Importing the app takes a few seconds, and over 20 on a machine busy with other runs;
    # a server that is still starting is waited for, one that exited is reported at once.
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code < 500:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Watch:
    """Every request a browser context makes, and the script errors of its pages."""

    requested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Console messages expected while the network is cut on purpose.
    tolerated: tuple[str, ...] = ()

    def page(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(t in message.text for t in self.tolerated):
            self.errors.append(f"console: {message.text}")

    def check(self) -> None:
        outside = {urlparse(u).hostname for u in self.requested if u.startswith("http")}
        assert outside <= {"127.0.0.1"}, f"requests left the machine: {sorted(outside)}"
        assert not self.errors, "\n".join(self.errors)


def open_context(browser: Browser, watch: Watch, **options: Any) -> BrowserContext:
    """A Chinese-locale browser context in China time whose requests `watch` records."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.on("request", lambda request: watch.requested.append(request.url))
    context.set_default_timeout(TIMEOUT)
    return context


def sign_in(page: Page, server: str, path: str, username: str) -> None:
    """Open `path`, get sent to /login, sign in and land back on `path` ready."""
    page.goto(f"{server}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(path)))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server}{path}")
    page.wait_for_selector("body[data-ready=true]")


def shoot(page: Page, name: str) -> None:
    """Keep a full-page screenshot in var/test-artefacts/pages/ to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def assert_fits_phone(page: Page) -> None:
    """The page does not scroll sideways on a 390 px phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"


def api_client(server: str, username: str) -> httpx.Client:
    """An API client signed in with a bearer token."""
    token = httpx.post(
        f"{server}/api/auth/token", data={"username": username, "password": PASSWORD}
    ).json()["access_token"]
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"})
