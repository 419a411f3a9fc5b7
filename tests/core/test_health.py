"""/healthz and /readyz: answered on any host, before tenant routing."""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.test import Client, override_settings

from tests.conftest import free_port


def test_healthz_answers_ok_on_any_host(db):
    for host in ("alpha.localhost", "localhost", "10.0.0.7", "nobody.example"):
        response = Client(HTTP_HOST=host).get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.live
def test_readyz_is_ready_when_database_redis_and_a_worker_answer(db, celery_worker_process):
    response = Client(HTTP_HOST="10.0.0.7").get("/readyz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "celery": True,
    }


def test_readyz_reports_unreachable_redis_as_not_ready(db):
    closed_port = free_port()  # bound then released: nothing listens there
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port}/0"):
        response = Client(HTTP_HOST="alpha.localhost").get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["celery"] == {"ok": False, "error": "skipped: broker unavailable"}


@pytest.mark.live
def test_health_endpoints_answer_through_the_asgi_server(asgi_server, celery_worker_process):
    request = urllib.request.Request(f"{asgi_server}/healthz", headers={"Host": "unknown.example"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert (response.status, json.loads(response.read())) == (200, {"status": "ok"})

    request = urllib.request.Request(f"{asgi_server}/readyz", headers={"Host": "alpha.localhost"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    assert response.status == 200
    assert body["status"] == "ready"
