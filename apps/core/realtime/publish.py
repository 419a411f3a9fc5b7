"""The one way services and Celery tasks push events to browsers.

Groups are named `<schema>.<topic>` ("t_acme.campaign.12"), so a browser only ever joins groups of
the tenant whose host it connected to (TenantWebsocketMiddleware) and never sees another
tenant's events. Events go out after the surrounding transaction commits: a browser must never
hear about a row it cannot read yet, nor about one that was rolled back.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

# Channels accepts group names of ASCII letters, digits, "-", "_" and "." shorter than 100.
GROUP_NAME_MAX_LENGTH = 99
_NOT_ALLOWED_IN_GROUP_NAME = re.compile(r"[^A-Za-z0-9\-_.]")
# The consumer method that relays a published event ("realtime.event" -> realtime_event).
EVENT_MESSAGE_TYPE = "realtime.event"

# Coalescing (publish_coalesced). The gate outlives the interval by a grace period so a flush
# that runs a little late still finds its own gate instead of racing a new leading edge; if a
# flush is lost altogether (worker gone) the gate still expires and publishing resumes.
COALESCE_FLUSH_GRACE_MS = 2000
# A pending payload nobody flushed is garbage after this long.
COALESCE_PENDING_TTL_MS = 60_000
# Flushes are scheduled a little after the interval so the window has surely passed.
COALESCE_FLUSH_DELAY_MARGIN_S = 0.05

# KEYS: gate, pending. ARGV: payload, gate ttl ms, pending ttl ms.
# Stores the payload as pending; when the gate is free, takes it and hands the payload back for an
# immediate send (the leading edge). Otherwise the gate holder's scheduled flush will send it.
_COALESCE_OFFER = """
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return ARGV[1]
end
return false
"""
# KEYS: gate, pending. ARGV: gate ttl ms.
# The trailing edge: sends what is pending and keeps the gate for another window (the caller then
# schedules another flush), or opens the gate when nothing is pending. Atomic, so no payload can
# slip in between "nothing pending" and "gate open" and be stranded.
_COALESCE_FLUSH = """
local payload = redis.call('GET', KEYS[2])
if not payload then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return payload
"""


def group_name(schema_name: str, topic: str) -> str:
    """`<schema>.<topic>` with characters Channels refuses replaced by "_"."""
    name = _NOT_ALLOWED_IN_GROUP_NAME.sub("_", f"{schema_name}.{topic}")
    if len(name) > GROUP_NAME_MAX_LENGTH:
        # Truncating could merge two groups into one; a topic this long is a programming error.
        raise ValueError(f"group name longer than {GROUP_NAME_MAX_LENGTH} characters: {name[:40]}…")
    return name


def _message(topic: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": EVENT_MESSAGE_TYPE, "topic": topic, "event": event}


def _group_send(group: str, message: dict[str, Any]) -> None:
    """Realtime is best effort: an unreachable channel layer is logged, never fails the caller
    (whose transaction has already committed)."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except (redis.RedisError, OSError) as exc:
        logger.warning("realtime.publish_failed", extra={"group": group, "error": type(exc).__name__})


def publish(topic: str, event: dict[str, Any], *, schema_name: str | None = None) -> None:
    """Send `event` (JSON-serialisable) to every browser subscribed to `topic` in the tenant
    `schema_name` (default: the schema the connection is in). Sent after the current transaction
    commits, not at all if it rolls back, and at once when no transaction is open. Call from sync
    code (services, tasks)."""
    group = group_name(schema_name or connection.schema_name, topic)
    message = _message(topic, event)
    json.dumps(event)  # fail here, in the caller, rather than later inside the channel layer
    transaction.on_commit(lambda: _group_send(group, message))


@cache
def _coordination_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _coalesce_keys(group: str) -> list[str]:
    return [f"realtime:coalesce:{group}:gate", f"realtime:coalesce:{group}:pending"]


def _flush_later(group: str, interval_s: float) -> None:
    from apps.core import tasks

    tasks.realtime_flush.apply_async(
        kwargs={"group": group, "interval_s": interval_s}, countdown=interval_s + COALESCE_FLUSH_DELAY_MARGIN_S
    )


def _coalesce_offer(group: str, payload: str, interval_s: float) -> None:
    client = _coordination_redis(settings.COORDINATION_REDIS_URL)
    gate_ttl_ms = int(interval_s * 1000) + COALESCE_FLUSH_GRACE_MS
    try:
        taken = client.eval(_COALESCE_OFFER, 2, *_coalesce_keys(group), payload, gate_ttl_ms, COALESCE_PENDING_TTL_MS)
    except redis.RedisError as exc:
        logger.warning("realtime.publish_failed", extra={"group": group, "error": type(exc).__name__})
        return
    if taken is None:
        return  # inside a window: the gate holder's flush sends the latest payload
    data = json.loads(taken)
    _group_send(group, _message(data["topic"], data["event"]))
    _flush_later(group, interval_s)


def coalesced_flush(*, group: str, interval_s: float) -> bool:
    """The deferred half of publish_coalesced (run by the `core.realtime_flush` task): send the
    payload that arrived during the last window, if any, and keep the window going. Returns
    whether something was sent."""
    client = _coordination_redis(settings.COORDINATION_REDIS_URL)
    gate_ttl_ms = int(interval_s * 1000) + COALESCE_FLUSH_GRACE_MS
    pending = client.eval(_COALESCE_FLUSH, 2, *_coalesce_keys(group), gate_ttl_ms)
    if pending is None:
        return False
    data = json.loads(pending)
    _group_send(group, _message(data["topic"], data["event"]))
    _flush_later(group, interval_s)
    return True


def publish_coalesced(
    topic: str, event: dict[str, Any], *, schema_name: str | None = None, interval_s: float = 1.0
) -> None:
    """publish() for hot paths (campaign progress): at most one event per `interval_s` per group,
    and the last event always arrives.

    Throttle with a leading and a trailing edge, kept in Redis so it holds across every web and
    worker process: the first event of a quiet group is sent at once and opens a window; events
    during the window only replace the pending payload (latest wins); when the window ends a
    `core.realtime_flush` task (queue default, needs a worker) sends the pending payload, if any,
    and opens the next window, or closes the gate when nothing is pending. A flush that is late
    by more than COALESCE_FLUSH_GRACE_MS can briefly let two events through in one window; with
    no worker running, the trailing event is lost (the gate still expires, so later events flow
    again). Like publish(), the offer is made after commit."""
    group = group_name(schema_name or connection.schema_name, topic)
    payload = json.dumps({"topic": topic, "event": event})
    transaction.on_commit(lambda: _coalesce_offer(group, payload, interval_s))
