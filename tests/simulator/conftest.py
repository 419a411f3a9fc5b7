"""Fixtures for the WhatsApp Web simulator: a real simulator process and real Chromium.

`simulator` gives a freshly reset simulator (one process per test session, reset before every
test) with a small urllib client for its control API. `new_context` opens Chromium contexts
(sync Playwright) that are closed after the test. Other test packages can reuse them with
`from tests.simulator.conftest import simulator, simulator_process`.

The simulator runs with deterministic ticks for tests: every message is delivered and read,
each step 150 ms after the previous one, unless a test changes `/_sim/config`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, stop, wait_for_port

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TEST_SIM_ENV = {
    "SIM_ACK_DELAY_MS": "150",
    "SIM_DELIVER_DELAY_MS": "150",
    "SIM_READ_DELAY_MS": "150",
    "SIM_DELIVER_PROBABILITY": "1",
    "SIM_READ_PROBABILITY": "1",
}
PAGE_TIMEOUT_MS = 10_000
LINKED_PHONE = "919876543210"
HTTP_TIMEOUT_S = 10


@dataclass
class Simulator:
    base_url: str
    process: subprocess.Popen

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Call the simulator; returns (status, parsed JSON or None). Never raises on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, (json.loads(raw) if raw else None)

    def get(self, path: str) -> Any:
        status, data = self.request("GET", path)
        assert status == 200, (path, status, data)
        return data

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        status, data = self.request("POST", path, body or {})
        assert status == 200, (path, status, data)
        return data

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self.post("/_sim/config", settings)

    def link(self, ref: str, phone: str, name: str | None = None) -> dict[str, Any]:
        return self.post("/_sim/link", {"ref": ref, "phone": phone, "name": name})

    def messages(self, phone: str) -> list[dict[str, Any]]:
        return self.get(f"/_sim/accounts/{phone}/messages")["messages"]


def simulator_start(
    extra_env: dict[str, str] | None = None, args: list[str] | None = None, port: int | None = None
) -> Simulator:
    """Start `python -m apps.simulator` (on a free port unless given) and wait until it answers."""
    port = port or free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", **TEST_SIM_ENV, **(extra_env or {}))
    log = open(ROOT / "var" / "test-simulator.log", "a")  # noqa: SIM115 - the child keeps its own handle
    proc = subprocess.Popen(
        [sys.executable, "-m", "apps.simulator", "--host", "127.0.0.1", "--port", str(port), *(args or [])],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        wait_for_port(port, proc)
    except RuntimeError:
        stop(proc)
        raise
    return Simulator(base_url=f"http://127.0.0.1:{port}", process=proc)


@pytest.fixture(scope="session")
def simulator_process() -> Iterator[Simulator]:
    sim = simulator_start()
    try:
        yield sim
    finally:
        stop(sim.process)


@pytest.fixture
def simulator(simulator_process: Simulator) -> Simulator:
    """The session's simulator with all state and settings reset."""
    simulator_process.post("/_sim/reset")
    return simulator_process


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(chromium: Any) -> Iterator[Callable[..., Any]]:
    """new_context(**playwright_context_options) -> a BrowserContext closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = chromium.new_context(**options)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def page_link(simulator: Simulator, page: Any, phone: str, name: str | None = None) -> None:
    """Open WhatsApp Web on `page`, "scan" its QR as `phone` and wait for the chat list."""
    page.goto(simulator.base_url + "/")
    ref = page.locator("div[data-ref]").get_attribute("data-ref")
    simulator.link(ref, phone, name)
    page.locator("#pane-side").wait_for()


@pytest.fixture
def linked_page(simulator: Simulator, new_context: Callable[..., Any]) -> Any:
    """A page logged in as account 919876543210."""
    page = new_context().new_page()
    page_link(simulator, page, LINKED_PHONE)
    return page
