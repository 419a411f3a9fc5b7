"""Fixtures for realtime, Celery and health tests (tests/core)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ROOT, TenantWorld, process_env, stop

NOTIFICATIONS_PATH = "/ws/notifications/"
# How long "receives nothing" is watched for: channel-layer delivery on this machine takes
# milliseconds, so a second is a wide margin.
SILENCE_S = 1.0
RECEIVE_TIMEOUT_S = 5.0


@pytest.fixture
def live_world(commit_db) -> Callable[[str], TenantWorld]:
    """live_world("alpha") -> the committed session tenant, read outside the test transaction."""
    from apps.accounts.models import User
    from apps.tenants.models import Tenant

    def world(slug: str) -> TenantWorld:
        return TenantWorld(
            tenant=Tenant.objects.get(slug=slug),
            owner=User.objects.get(email=f"owner@{slug}.test"),
            host=f"{slug}.{settings.BASE_DOMAIN}",
        )

    return world


@pytest.fixture
def coordination_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.COORDINATION_REDIS_URL, decode_responses=True)
    yield client
    client.close()


def probe_key() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def probe_runs(client: redis.Redis, key: str) -> list[dict[str, Any]]:
    return [json.loads(item) for item in client.lrange(f"probe:{key}", 0, -1)]


def wait_for_probe(client: redis.Redis, key: str, *, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The probe's recorded runs once there are at least `count`; fails with what was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = probe_runs(client, key)
        if len(runs) >= count:
            return runs
        time.sleep(0.1)
    raise AssertionError(f"probe {key!r}: wanted {count} run(s) within {timeout}s, saw {probe_runs(client, key)}")


# --- websockets -------------------------------------------------------------------------------


async def ws_open(
    base_url: str, host: str, *, session: str | None = None, token: str | None = None
) -> ClientConnection:
    """A websocket to `host` (sent as the Host header) on the test server at 127.0.0.1."""
    port = urlsplit(base_url).port
    uri = f"ws://{host}:{port}{NOTIFICATIONS_PATH}" + (f"?token={token}" if token else "")
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else None
    return await connect(
        uri,
        host="127.0.0.1",
        port=port,
        origin=f"http://{host}:{port}",
        additional_headers=headers,
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT_S,
    )


async def ws_receive(ws: ClientConnection, timeout: float = RECEIVE_TIMEOUT_S) -> dict[str, Any]:
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except TimeoutError:
        raise AssertionError(f"no message within {timeout}s") from None


async def ws_silent(ws: ClientConnection, timeout: float = SILENCE_S) -> None:
    """Assert nothing arrives on `ws` for `timeout` seconds."""
    try:
        message = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return
    raise AssertionError(f"expected silence, received {message!r}")


async def ws_close_code(base_url: str, host: str, **credentials: str | None) -> int | None:
    """The close code the server ends a connection with (the handshake itself succeeds)."""
    ws = await ws_open(base_url, host, **credentials)
    try:
        await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        raise AssertionError(f"{host}: connection stayed open, expected a refusal") from None
    finally:
        await ws.close()
    raise AssertionError(f"{host}: received a message, expected a refusal")


# --- beat -------------------------------------------------------------------------------------


@pytest.fixture
def beat_process(celery_worker_process, commit_db) -> Iterator[Callable[[], subprocess.Popen]]:
    """start() -> a real `celery -A config beat` with the tenant-aware database scheduler; stopped
    (and its files removed) at teardown. Start it after scheduling: it reads schedules at start."""
    started: list[subprocess.Popen] = []
    run_dir = ROOT / "var" / f"test-beat-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    log = open(ROOT / "var" / "test-beat.log", "w")  # noqa: SIM115 - closed at teardown

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "--pidfile",
                str(run_dir / "beat.pid"),
                "--schedule",
                str(run_dir / "schedule"),
                # Picks up schedule changes within a second instead of the default five.
                "--max-interval",
                "1",
            ],
            cwd=ROOT,
            env=process_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            stop(proc)
        log.close()
        for path in run_dir.iterdir():
            path.unlink()
        run_dir.rmdir()
