"""/ws/imports/<id>/ through a real uvicorn (and, end to end, a real Celery worker): the progress
page gets the import's current state at once, then its `imports.<id>` events; an import id of
another workspace is refused and nothing of it is ever heard."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from apps.accounts.models import Membership, User
from apps.accounts.services.jwt import jwt_pair_issue
from apps.billing.models import UsageRecord
from apps.contacts.consumers import CLOSE_IMPORT_NOT_FOUND
from apps.contacts.models import Contact, ImportJob, ImportMapping
from apps.contacts.services import importing
from apps.core.realtime.publish import publish
from tests.conftest import PASSWORD, TenantWorld
from tests.core.conftest import RECEIVE_TIMEOUT_S, ws_receive, ws_silent

pytestmark = pytest.mark.live

# An end-to-end import through the worker finishes well within this on this machine; the
# deadline only bounds a broken run.
IMPORT_DEADLINE_S = 60.0


def token_for(world: TenantWorld, user: User | None = None) -> str:
    return jwt_pair_issue(user=user or world.owner, tenant=world.tenant).access


async def ws_import(base_url: str, host: str, token: str, job_id: int | str) -> ClientConnection:
    port = urlsplit(base_url).port
    return await connect(
        f"ws://{host}:{port}/ws/imports/{job_id}/?token={token}",
        host="127.0.0.1",
        port=port,
        origin=f"http://{host}:{port}",
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT_S,
    )


async def close_code(base_url: str, host: str, token: str, job_id: int | str) -> int | None:
    ws = await ws_import(base_url, host, token, job_id)
    try:
        message = await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    finally:
        await ws.close()
    raise AssertionError(f"expected a refusal, received {message!r}")


async def in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    def call() -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


@pytest.fixture
def live_jobs() -> Iterator[Callable[..., ImportJob]]:
    """live_jobs(world, **fields) -> a committed ImportJob, deleted (with its files) afterwards."""
    made: list[tuple[TenantWorld, int]] = []

    def make(world: TenantWorld, **fields: Any) -> ImportJob:
        values = {"original_name": "people.csv", "format": "csv", "mapping": {"phone": "phone"}, **fields}
        with tenant_context(world.tenant):
            job = ImportJob.objects.create(**values)
        made.append((world, job.id))
        return job

    yield make
    for world, job_id in made:
        with tenant_context(world.tenant):
            ImportJob.objects.filter(id=job_id).delete()


def test_the_page_gets_the_current_state_then_every_published_event(asgi_server, alpha_live, live_jobs):
    job = live_jobs(alpha_live, processed_rows=1200, progress=12, rows_per_s=600.0, error_count=3, state="running")
    topic = f"imports.{job.id}"
    token = token_for(alpha_live)
    progress = {"job_id": job.id, "state": "running", "processed_rows": 5000, "progress": 50}

    async def scenario() -> list[dict]:
        ws = await ws_import(asgi_server, alpha_live.host, token, job.id)
        try:
            seen = [await ws_receive(ws)]
            await in_thread(publish, topic, progress, schema_name=alpha_live.tenant.schema_name)
            seen.append(await ws_receive(ws))
            # Another import of the same workspace, and the same topic in another workspace: silence.
            await in_thread(publish, f"imports.{job.id + 1}", {"state": "x"}, schema_name=alpha_live.tenant.schema_name)
            await in_thread(publish, topic, {"state": "beta"}, schema_name="t_beta")
            await ws_silent(ws)
            return seen
        finally:
            await ws.close()

    assert asyncio.run(scenario()) == [
        {
            "type": "event",
            "topic": topic,
            "event": {
                "job_id": job.id,
                "state": "running",
                "processed_rows": 1200,
                "progress": 12,
                "rows_per_s": 600.0,
                "error_count": 3,
            },
        },
        {"type": "event", "topic": topic, "event": progress},
    ]


def test_an_import_id_of_another_workspace_or_none_at_all_is_refused(asgi_server, alpha_live, beta_live, live_jobs):
    # An id far from alpha's own sequence, so it exists in beta only.
    beta_job = live_jobs(beta_live, id=random.randint(10**12, 2 * 10**12))
    with tenant_context(alpha_live.tenant):
        assert not ImportJob.objects.filter(id=beta_job.id).exists()
    alpha_token = token_for(alpha_live)
    beta_token = token_for(beta_live)

    async def scenario() -> tuple[list[int | None], list[dict]]:
        codes = [
            await close_code(asgi_server, alpha_live.host, alpha_token, beta_job.id),
            await close_code(asgi_server, alpha_live.host, alpha_token, 2**63 + 5),
        ]
        # beta's own page hears beta's import; alpha's refused socket heard nothing of it.
        ws = await ws_import(asgi_server, beta_live.host, beta_token, beta_job.id)
        try:
            seen = [await ws_receive(ws)]
        finally:
            await ws.close()
        return codes, seen

    codes, seen = asyncio.run(scenario())

    assert codes == [CLOSE_IMPORT_NOT_FOUND, CLOSE_IMPORT_NOT_FOUND]
    assert seen[0]["topic"] == f"imports.{beta_job.id}" and seen[0]["event"]["job_id"] == beta_job.id


def test_a_viewer_may_watch_an_import(asgi_server, alpha_live, live_jobs):
    job = live_jobs(alpha_live)
    viewer = User.objects.create_user("viewer-imports@alpha.test", PASSWORD)
    Membership.objects.create(user=viewer, tenant=alpha_live.tenant, role="viewer")
    try:
        token = token_for(alpha_live, viewer)

        async def scenario() -> dict:
            ws = await ws_import(asgi_server, alpha_live.host, token, job.id)
            try:
                return await ws_receive(ws)
            finally:
                await ws.close()

        assert asyncio.run(scenario())["event"]["state"] == "queued"
    finally:
        viewer.delete()


def test_an_import_started_like_the_wizard_streams_its_progress_from_the_worker(
    asgi_server, celery_worker_process, alpha_live
):
    """Upload → job → the Celery worker on `imports` → events on the page's socket until the
    final counts, which match the job row."""
    phones = [f"+9198765{index:05d}" for index in range(2000)]
    data = ("phone,name\n" + "".join(f"{phone},Person {i}\n" for i, phone in enumerate(phones)) + "bad,Bad\n").encode()
    token = token_for(alpha_live)

    with tenant_context(alpha_live.tenant):
        job = importing.import_job_create(stream=io.BytesIO(data), name="live.csv", start=False)

    async def scenario() -> list[dict]:
        ws = await ws_import(asgi_server, alpha_live.host, token, job.id)
        events: list[dict] = []
        try:
            events.append((await ws_receive(ws))["event"])  # the snapshot: queued

            def start() -> None:
                with tenant_context(alpha_live.tenant):
                    importing.import_job_start(job.id)

            await in_thread(start)
            deadline = asyncio.get_running_loop().time() + IMPORT_DEADLINE_S
            while events[-1]["state"] not in ("completed", "failed"):
                remaining = deadline - asyncio.get_running_loop().time()
                assert remaining > 0, f"no final event; saw {events}"
                events.append((await ws_receive(ws, timeout=remaining))["event"])
            return events
        finally:
            await ws.close()

    try:
        events = asyncio.run(scenario())
        with tenant_context(alpha_live.tenant):
            finished = ImportJob.objects.get(id=job.id)
            imported = Contact.objects.filter(phone__in=phones).count()

        assert events[0]["state"] == "queued"
        assert {event["state"] for event in events[1:-1]} <= {"running"}
        final = events[-1]
        assert final == importing.import_job_event(finished)
        assert (final["state"], final["total_rows"], final["created"], final["error_count"]) == (
            "completed",
            2001,
            2000,
            1,
        )
        assert final["has_error_file"] is True
        assert imported == 2000
    finally:
        with tenant_context(alpha_live.tenant):
            Contact.objects.filter(phone__in=phones).delete()
            ImportMapping.objects.filter(headers=["phone", "name"]).delete()
            for stored in ImportJob.objects.filter(id=job.id):
                stored.file.delete(save=False)
                if stored.error_file:
                    stored.error_file.delete(save=False)
                stored.delete()
        # The finished import recorded the day's usage for alpha; other tests make their own.
        UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()
