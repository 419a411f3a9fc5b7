"""Support for the sending engine's end-to-end tests (tests/senders/test_e2e_*.py).

Everything is real: a `SenderHost` with the Playwright `BrowserTransport` driving Chromium
against the simulator process, the test PostgreSQL and Redis, and the channel layer the
portal's websockets read. Time is scaled down through settings (see the `e2e` fixture).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import select
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django_tenants.utils import tenant_context

from apps.core.realtime.publish import group_name
from apps.senders.driver.browser import chromium_executable
from apps.senders.host import SenderHost
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import profiles

RECEIVE_TIMEOUT_S = 10.0
PROXY_IO_TIMEOUT_S = 60.0
PROXY_MAX_HEAD = 64 * 1024


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition", interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Listener:
    """A channel-layer channel subscribed to one group, read from sync test code (its own event
    loop: channels_redis binds a channel's buffer to the loop that first reads it)."""

    def __init__(self, group: str):
        self.loop = asyncio.new_event_loop()
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.group = group
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(group, self.channel))
        self.events: list[dict[str, Any]] = []

    def receive(self, timeout: float = RECEIVE_TIMEOUT_S) -> dict[str, Any] | None:
        try:
            message = self.loop.run_until_complete(asyncio.wait_for(self.layer.receive(self.channel), timeout))
        except TimeoutError:
            return None
        self.events.append(message["event"])
        return message["event"]

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        """Read events until one matches (events read on the way are kept in `events`)."""
        for event in self.events:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.receive(timeout=max(0.1, deadline - time.monotonic()))
            if event is not None and predicate(event):
                return event
        raise AssertionError(f"no matching event on {self.group}; got {self.events!r}")

    def drain(self, quiet_s: float = 0.3) -> list[dict[str, Any]]:
        while self.receive(timeout=quiet_s) is not None:
            pass
        return self.events

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.group_discard(self.group, self.channel))
        self.loop.run_until_complete(self.layer.close_pools())
        self.loop.close()


# --- a local HTTP proxy that counts what goes through it ------------------------------------------


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    host: str  # host:port
    path: str


class CountingProxy:
    """A tiny HTTP proxy on 127.0.0.1 (absolute-URI forwarding and CONNECT tunnels) that asks
    for Basic credentials and records every request it forwards."""

    def __init__(self, username: str, password: str):
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.username, self.password = username, password
        self.forwarded: list[ProxiedRequest] = []
        self.refused = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="counting-proxy", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.username}:{self.password}@127.0.0.1:{self.port}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, host: str) -> list[ProxiedRequest]:
        with self._lock:
            return [r for r in self.forwarded if r.host == host]

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(PROXY_IO_TIMEOUT_S)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = client.recv(65536)
            if not chunk or len(buffer) > PROXY_MAX_HEAD:
                return
            buffer += chunk
        head, rest = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
        auth = next((value for name, value in headers if name.lower() == "proxy-authorization"), "")
        if auth != self.expected:
            with self._lock:
                self.refused += 1
            client.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="chorus-test"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
            )
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            self._record(method, target, "")
            upstream = socket.create_connection((host, int(port)), timeout=PROXY_IO_TIMEOUT_S)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
        else:
            parts = urlsplit(target)
            port = parts.port or 80
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            self._record(method, f"{parts.hostname}:{port}", path)
            upstream = socket.create_connection((parts.hostname, port), timeout=PROXY_IO_TIMEOUT_S)
            kept = [
                f"{name}: {value}"
                for name, value in headers
                if not name.lower().startswith("proxy-") and name.lower() not in ("connection", "keep-alive")
            ]
            request_head = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"]) + "\r\n\r\n"
            upstream.sendall(request_head.encode("latin-1") + rest)
        with upstream:
            self._pipe(client, upstream)

    def _record(self, method: str, host: str, path: str) -> None:
        with self._lock:
            self.forwarded.append(ProxiedRequest(method, host, path))

    @staticmethod
    def _pipe(client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        while True:
            readable, _, _ = select.select(sockets, [], [], PROXY_IO_TIMEOUT_S)
            if not readable:
                return
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)


# --- a second linked device -----------------------------------------------------------------------


def other_device_sends(sim: Any, phone: str, sends: list[tuple[str, str]]) -> None:
    """Link another browser to account `phone` and send `(chat, text)` from it, each until read.

    Sync Playwright runs its own event loop; it gets a thread of its own so the test thread
    stays free for Django's (synchronous-only) database calls."""
    from playwright.sync_api import sync_playwright

    from tests.simulator.conftest import CHROMIUM_ARGS, page_link

    def run() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(15_000)
                page_link(sim, page, phone)
                for chat, text in sends:
                    page.goto(f"{sim.base_url}/send?phone={chat}&text={quote(text)}")
                    page.locator('button[aria-label="Send"]').click()
                    bubble = page.locator("div.message-out", has_text=text)
                    bubble.locator('span[data-icon="msg-dblcheck"][aria-label=" Read "]').wait_for()
            finally:
                browser.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result(timeout=120)


# --- the world of one end-to-end test -------------------------------------------------------------


@dataclass
class E2E:
    world: Any
    sim: Any
    kicks: list[int]
    profiles: list[int] = field(default_factory=list)
    hosts: list[SenderHost] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    phones: set[str] = field(default_factory=set)

    @property
    def schema(self) -> str:
        return self.world.tenant.schema_name

    @contextlib.contextmanager
    def tenant(self) -> Iterator[None]:
        with tenant_context(self.world.tenant):
            yield

    def profile(self, **fields: Any) -> SenderProfile:
        """A committed profile (waiting for its QR scan unless told otherwise), pacing off."""
        values = {
            "label": "E2E number",
            "status": SenderProfile.Status.WAITING_FOR_QR,
            "pacing_preset": "off",
            "batch_size": 0,
            "warmup_enabled": False,
            "per_contact_daily_cap": 10,
        }
        proxy_url = fields.pop("proxy_url", "")
        values.update(fields)
        with self.tenant():
            profile = SenderProfile(**values)
            profile.proxy_url = proxy_url
            profile.save()
        self.profiles.append(profile.id)
        return profile

    def reload(self, profile: SenderProfile) -> SenderProfile:
        with self.tenant():
            return SenderProfile.objects.get(id=profile.id)

    def host(self) -> SenderHost:
        host = SenderHost()
        self.hosts.append(host)
        return host

    def listen(self, topic: str) -> Listener:
        listener = Listener(group_name(self.schema, topic))
        self.listeners.append(listener)
        return listener

    def status(self, profile: SenderProfile) -> str:
        return self.reload(profile).status

    def wait_status(self, profile: SenderProfile, status: str, timeout: float = 30.0) -> SenderProfile:
        wait_for(lambda: self.status(profile) == status, timeout=timeout, what=f"profile status {status}")
        return self.reload(profile)

    def qr_payload(self, profile: SenderProfile) -> str | None:
        with self.tenant():
            return profiles.profile_qr_current(profile_id=profile.id)

    def scan(self, profile: SenderProfile, phone: str, name: str | None = None) -> None:
        """The phone scans the QR code the portal shows for `profile` (retrying while the code
        on screen rotates)."""
        self.phones.add(phone)

        def scanned() -> bool:
            payload = self.qr_payload(profile)
            if not payload:
                return False
            status, _ = self.sim.request("POST", "/_sim/link", {"ref": payload, "phone": phone, "name": name})
            return status == 200

        wait_for(scanned, timeout=30, what="a QR code the simulator accepts", interval=0.2)

    def link(self, host: SenderHost, profile: SenderProfile, phone: str) -> SenderProfile:
        """Drive `profile` on `host`, scan its QR code as `phone` and wait until it is connected."""
        assert host.kick(self.schema, profile.id) is True
        self.scan(profile, phone)
        return self.wait_status(profile, SenderProfile.Status.CONNECTED)

    def sim_outgoing(self, phone: str, chat: str | None = None) -> list[dict[str, Any]]:
        status, data = self.sim.request("GET", f"/_sim/accounts/{phone}/messages")
        if status == 404:
            return []
        return [m for m in data["messages"] if m["direction"] == "out" and (chat is None or m["chat"] == chat)]

    def inject(self, account: str, sender: str, text: str, name: str | None = None) -> dict[str, Any]:
        self.phones.add(sender)
        return self.sim.post(f"/_sim/accounts/{account}/incoming", {"from": sender, "text": text, "name": name})

    def settled(self, message_id: int, timeout: float = 30.0) -> OutboundMessage:
        """The message once it left queued/sending (a retry's wait counts as still going)."""

        def final() -> OutboundMessage | None:
            with self.tenant():
                message = OutboundMessage.objects.get(id=message_id)
            return None if message.state in (MessageState.QUEUED, MessageState.SENDING) else message

        return wait_for(final, timeout=timeout, what=f"message {message_id} to settle")

    def parked(self, host: SenderHost) -> bool:
        return not host.active_profiles()
