"""Suite-wide fixtures: real PostgreSQL (a `test_chorus` database) and real Redis.

The test database gets the public schema, the tenant template and two committed tenants,
`alpha` and `beta`, once per session. Ordinary tests run inside a transaction (`db`) that rolls
back. Tests that start real processes (ASGI server, Celery worker, beat) can only see committed
rows: they use the session tenants, or commit their own data through `commit_db` and remove it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"


@dataclass
class TenantWorld:
    tenant: object
    owner: object
    host: str


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.test.utils import setup_databases, teardown_databases

    from apps.accounts.models import User
    from apps.tenants import services

    # pytest-django creates the test database only when some collected test asks for `db`; a run
    # of live tests alone (commit_db, asgi_server, celery_worker_process) would otherwise write
    # to the development database.
    own_setup = None
    if connection.settings_dict["NAME"] != settings.DATABASES["default"]["TEST"]["NAME"]:
        with django_db_blocker.unblock():
            own_setup = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    with django_db_blocker.unblock():
        services.public_tenant_ensure()
        services.template_migrate(verbosity=0)
        for slug in ("alpha", "beta"):
            owner = User.objects.create_user(f"owner@{slug}.test", PASSWORD, full_name=f"{slug} owner")
            services.tenant_create(name=f"{slug.title()} Inc", slug=slug, owner=owner, plan_slug="business")
        connection.set_schema_to_public()
    yield
    if own_setup is not None:
        with django_db_blocker.unblock():
            teardown_databases(own_setup, verbosity=0)


def _world(slug: str) -> TenantWorld:
    from apps.accounts.models import User
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.get(slug=slug)
    return TenantWorld(
        tenant=tenant, owner=User.objects.get(email=f"owner@{slug}.test"), host=f"{slug}.{settings.BASE_DOMAIN}"
    )


@pytest.fixture
def alpha(db) -> TenantWorld:
    return _world("alpha")


@pytest.fixture
def beta(db) -> TenantWorld:
    return _world("beta")


@pytest.fixture
def alpha_live(commit_db) -> TenantWorld:
    """alpha without the per-test transaction: what the test writes commits (clean it up)."""
    return _world("alpha")


@pytest.fixture
def beta_live(commit_db) -> TenantWorld:
    return _world("beta")


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture
def client_for():
    """client_for(world, user=None) -> a Django test client on that tenant's host, logged in."""

    def make(world: TenantWorld, user=None) -> Client:
        client = Client(HTTP_HOST=world.host)
        client.force_login(user or world.owner)
        return client

    return make


@pytest.fixture
def commit_db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Database access outside the per-test transaction: writes commit and are visible to real
    processes. The test cleans up what it creates."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


# --- real processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env() -> dict[str, str]:
    """Environment for child processes: test settings, pointed at the test database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    env["DATABASE_URL"] = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["REDIS_URL"] = settings.REDIS_URL
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def asgi_server(django_db_setup) -> Iterator[str]:
    """A real uvicorn serving config.asgi on a free port; yields 'http://127.0.0.1:PORT'.
    Send a Host header (`alpha.localhost`) to reach a tenant."""
    port = free_port()
    log = open(ROOT / "var" / "test-asgi.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=process_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup) -> Iterator[subprocess.Popen]:
    """A real Celery worker on every queue, with the test settings and database."""
    from config.celery import app

    log = open(ROOT / "var" / "test-celery.log", "w")  # noqa: SIM115 - closed at teardown
    name = f"test-{os.getpid()}@%h"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,imports,webhooks,senders",
            "-n",
            name,
            "--concurrency",
            "2",
            "-l",
            "info",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=process_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("celery worker exited early; see var/test-celery.log")
            if app.control.ping(timeout=0.5):
                break
        else:
            raise RuntimeError("celery worker did not answer pings")
        yield proc
    finally:
        stop(proc)
        log.close()
