"""Pages render in headless Chromium with no request leaving 127.0.0.1 (offline networks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import uvicorn

from api.app import create_app


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real app served by uvicorn on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_api_docs_render_from_local_assets_only(server, browser):
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server}/docs")
    # Swagger UI builds the whole OpenAPI document in the page: 17 s on a loaded 2-core machine.
    page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    assert "gridgov" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock-summary-path", has_text="/api/locate").count() == 1
    outside = {urlparse(u).hostname for u in requested} - {"127.0.0.1"}
    assert not outside, f"the docs page reached outside the machine: {sorted(outside)}"


def test_index_page_is_chinese_first_and_links_to_the_api(server, browser):
    page = browser.new_page()
    page.goto(server)
    assert page.title() == "gridgov 网格化社会治理"
    links = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert "/docs" in links and "/api/health" in links
