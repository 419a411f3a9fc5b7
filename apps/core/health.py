"""Liveness (/healthz: the process answers) and readiness (/readyz: its dependencies answer)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import JsonResponse

# Readiness must answer quickly even when a dependency hangs.
REDIS_TIMEOUT_S = 1.0
CELERY_PING_TIMEOUT_S = 1.5


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


def check_celery() -> None:
    from config.celery import app

    # limit=1: return on the first answer instead of always waiting out the timeout.
    replies = app.control.ping(timeout=CELERY_PING_TIMEOUT_S, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "celery": check_celery,
}


def healthz_response() -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz_response() -> JsonResponse:
    results: dict[str, dict[str, object]] = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except (DatabaseError, redis.RedisError, OSError, RuntimeError) as exc:
            ready = False
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
        else:
            results[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
        if name == "redis" and not results[name]["ok"]:
            # The Celery ping goes through the broker (Redis); don't wait on it when Redis is down.
            results["celery"] = {"ok": False, "error": "skipped: broker unavailable"}
            break
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": results}, status=200 if ready else 503)
