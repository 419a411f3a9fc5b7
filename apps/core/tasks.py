"""Celery front doors of the core app. Every task runs in the schema it was sent from
(tenant-schemas-celery puts `_schema_name` in the headers; beat does the same per tenant)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from apps.core.realtime import notifications, publish
from config.celery import app

logger = logging.getLogger(__name__)

# Probe results are diagnostics: keep the last few runs for a few minutes.
PROBE_KEEP_RUNS = 50
PROBE_TTL_S = 300


@app.task(name="core.notify_tenant")
def notify_tenant(message: str, level: str = "info") -> None:
    """Send a notification to the tenant whose schema this task runs in (the end-to-end demo of
    web -> worker -> channel layer -> browser)."""
    if connection.schema_name == get_public_schema_name():
        logger.warning("notification.no_tenant", extra={"task": "core.notify_tenant"})
        return
    notifications.notification_send(tenant=connection.tenant, message=message, level=level)


@app.task(name="core.realtime_flush")
def realtime_flush(group: str, interval_s: float) -> None:
    """Trailing edge of publish_coalesced."""
    publish.coalesced_flush(group=group, interval_s=interval_s)


@app.task(name="core.worker_probe", bind=True)
def worker_probe(self, probe_key: str) -> None:
    """Record where this task ran (schema, queue, worker) under `probe:<probe_key>` in the
    coordination Redis: the operator's (and the test suite's) proof that routing, tenant headers
    and beat schedules reach a worker. Send it with `queue=` to probe one queue."""
    import redis

    delivery = self.request.delivery_info or {}
    record = {
        "schema_name": connection.schema_name,
        "queue": delivery.get("routing_key"),
        "worker": self.request.hostname,
        "at": timezone.now().isoformat(),
    }
    client = redis.Redis.from_url(settings.COORDINATION_REDIS_URL)
    key = f"probe:{probe_key}"
    try:
        with client.pipeline() as pipe:
            pipe.rpush(key, json.dumps(record))
            pipe.ltrim(key, -PROBE_KEEP_RUNS, -1)
            pipe.expire(key, PROBE_TTL_S)
            pipe.execute()
    finally:
        client.close()
