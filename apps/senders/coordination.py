"""Cluster-wide coordination in Redis for the sending engine: profile leases and pacing.

Lease (invariant 3, one driver per WhatsApp profile): `SET key token NX PX ttl`; the holder
extends it with a heartbeat well inside the TTL and releases it on exit, both only while the
stored token is still its own. A dead worker's lease simply expires.

Pacing (invariant 7): every send first reserves a slot with one atomic Lua script that checks
the profile's daily cap (warm-up included), the contact's daily cap, and the tenant's plan-wide
daily and monthly limits, then hands out the profile's next send time — so any number of
workers together can never exceed a profile's rate. Time is scaled by
settings.PACING_TIME_SCALE (1.0 in production; tests shrink it).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

# Day counters outlive their day a little so late reads of yesterday still work.
DAY_KEY_TTL_S = 2 * 24 * 3600
MONTH_KEY_TTL_S = 35 * 24 * 3600


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.COORDINATION_REDIS_URL, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )


def time_scale() -> float:
    return float(settings.PACING_TIME_SCALE)


# --- leases ------------------------------------------------------------------------------------

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_key(schema: str, profile_id: int) -> str:
    return f"lease:{schema}:{profile_id}"


def lease_acquire(schema: str, profile_id: int, holder: str, ttl_s: float) -> bool:
    return bool(client().set(lease_key(schema, profile_id), holder, nx=True, px=int(ttl_s * 1000)))


def lease_extend(schema: str, profile_id: int, holder: str, ttl_s: float) -> bool:
    """Heartbeat. False means the lease was lost: the holder must stop driving at once."""
    return bool(client().eval(_EXTEND, 1, lease_key(schema, profile_id), holder, int(ttl_s * 1000)))


def lease_release(schema: str, profile_id: int, holder: str) -> None:
    client().eval(_RELEASE, 1, lease_key(schema, profile_id), holder)


def lease_holder(schema: str, profile_id: int) -> str | None:
    value = client().get(lease_key(schema, profile_id))
    return value.decode() if value else None


# --- submit notes (reconciliation) --------------------------------------------------------------

# Kept until the message's outcome is recorded; a long TTL covers a profile nobody drives for a
# while after its worker died (the note is only read when that message is reconciled).
SUBMIT_NOTE_TTL_S = 7 * 24 * 3600


def submit_note_key(schema: str, message_id: int) -> str:
    return f"submit:{schema}:{message_id}"


def submit_note_set(schema: str, message_id: int, anchor: str) -> None:
    """Just before Enter: the id of the chat's last outgoing bubble ("" for none). Whoever
    reconciles the message after a crash then knows that only later bubbles can be it."""
    client().set(submit_note_key(schema, message_id), anchor, ex=SUBMIT_NOTE_TTL_S)


def submit_note_get(schema: str, message_id: int) -> str | None:
    """The note, or None when Enter was never about to be pressed (or Redis lost it)."""
    value = client().get(submit_note_key(schema, message_id))
    return None if value is None else value.decode()


def submit_notes_clear(schema: str, message_ids: list[int]) -> None:
    if message_ids:
        client().delete(*(submit_note_key(schema, message_id) for message_id in message_ids))


# --- pacing ------------------------------------------------------------------------------------

# KEYS: 1 next-slot (ms), 2 batch counter, 3 profile day count, 4 contact day count,
#       5 tenant day count, 6 tenant month count
# ARGV: 1 now_ms, 2 gap_ms, 3 batch_size, 4 batch_pause_ms, 5 profile_cap, 6 contact_cap,
#       7 tenant_day_cap, 8 tenant_month_cap, 9 tenant_day_seed, 10 tenant_month_seed,
#       11 day_ttl_s, 12 month_ttl_s
# Returns {code, wait_ms}: code 0 = reserved (send after wait_ms), 1 profile cap, 2 contact cap,
# 3 tenant daily limit, 4 tenant monthly limit.
_RESERVE = """
local now = tonumber(ARGV[1])
local profile_day = tonumber(redis.call('GET', KEYS[3]) or '0')
if profile_day >= tonumber(ARGV[5]) then return {1, 0} end
local contact_day = tonumber(redis.call('GET', KEYS[4]) or '0')
if contact_day >= tonumber(ARGV[6]) then return {2, 0} end
redis.call('SET', KEYS[5], ARGV[9], 'NX', 'EX', ARGV[11])
redis.call('SET', KEYS[6], ARGV[10], 'NX', 'EX', ARGV[12])
if tonumber(redis.call('GET', KEYS[5])) >= tonumber(ARGV[7]) then return {3, 0} end
if tonumber(redis.call('GET', KEYS[6])) >= tonumber(ARGV[8]) then return {4, 0} end
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local following = slot + tonumber(ARGV[2])
local batch = tonumber(ARGV[3])
if batch > 0 then
  local n = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[11])
  if n % batch == 0 then following = following + tonumber(ARGV[4]) end
end
redis.call('SET', KEYS[1], following, 'EX', ARGV[11])
redis.call('INCR', KEYS[3]); redis.call('EXPIRE', KEYS[3], ARGV[11])
redis.call('INCR', KEYS[4]); redis.call('EXPIRE', KEYS[4], ARGV[11])
redis.call('INCR', KEYS[5])
redis.call('INCR', KEYS[6])
return {0, slot - now}
"""

# Undo the counters of a reservation whose message was not sent (skipped before sending, or a
# retryable failure), so caps count messages that actually went out.
_RELEASE_COUNTS = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
"""


class PacingRefusal:
    PROFILE_DAILY_CAP = "profile_daily_cap"
    CONTACT_DAILY_CAP = "contact_daily_cap"
    TENANT_DAILY_LIMIT = "daily_message_limit"
    TENANT_MONTHLY_LIMIT = "monthly_message_limit"


_REFUSALS = {
    1: PacingRefusal.PROFILE_DAILY_CAP,
    2: PacingRefusal.CONTACT_DAILY_CAP,
    3: PacingRefusal.TENANT_DAILY_LIMIT,
    4: PacingRefusal.TENANT_MONTHLY_LIMIT,
}


@dataclass(frozen=True)
class PacingLimits:
    gap_s: tuple[float, float]
    batch_size: int
    batch_pause_s: float
    profile_daily_cap: int
    contact_daily_cap: int
    tenant_daily_limit: int
    tenant_monthly_limit: int


@dataclass(frozen=True)
class Reservation:
    ok: bool
    wait_s: float = 0.0
    refusal: str = ""
    keys: tuple[str, ...] = ()


def _keys(schema: str, profile_id: int, contact: str, day: str, month: str) -> list[str]:
    base = f"pace:{schema}"
    return [
        f"{base}:p{profile_id}:next",
        f"{base}:p{profile_id}:batch",
        f"{base}:p{profile_id}:day:{day}",
        f"{base}:c:{contact}:day:{day}",
        f"{base}:tenant:day:{day}",
        f"{base}:tenant:month:{month}",
    ]


def pacing_reserve(
    *,
    schema: str,
    profile_id: int,
    contact: str,
    day: str,
    month: str,
    limits: PacingLimits,
    tenant_day_seed: int = 0,
    tenant_month_seed: int = 0,
    rng: random.Random | None = None,
) -> Reservation:
    """Reserve the next send slot of a profile. `day`/`month` are the tenant-local calendar
    keys (YYYY-MM-DD, YYYY-MM). Seeds initialise the tenant counters from the database when
    Redis has none (e.g. after a Redis restart)."""
    return pacing_reserve_many(
        schema=schema,
        profile_id=profile_id,
        contacts=[contact],
        day=day,
        month=month,
        limits=limits,
        tenant_day_seed=tenant_day_seed,
        tenant_month_seed=tenant_month_seed,
        rng=rng,
    )[0]


def pacing_reserve_many(
    *,
    schema: str,
    profile_id: int,
    contacts: list[str],
    day: str,
    month: str,
    limits: PacingLimits,
    tenant_day_seed: int = 0,
    tenant_month_seed: int = 0,
    rng: random.Random | None = None,
) -> list[Reservation]:
    """`pacing_reserve` for several messages in order, in one round trip (each reservation is
    still its own atomic script run)."""
    scale = time_scale()
    low, high = limits.gap_s
    now_ms = int(time.time() * 1000)
    pipe = client().pipeline(transaction=False)
    all_keys = []
    for contact in contacts:
        keys = _keys(schema, profile_id, contact, day, month)
        all_keys.append(keys)
        pipe.eval(
            _RESERVE,
            len(keys),
            *keys,
            now_ms,
            int((rng or random).uniform(low, high) * 1000 * scale),
            limits.batch_size,
            int(limits.batch_pause_s * 1000 * scale),
            limits.profile_daily_cap,
            limits.contact_daily_cap,
            limits.tenant_daily_limit,
            limits.tenant_monthly_limit,
            tenant_day_seed,
            tenant_month_seed,
            DAY_KEY_TTL_S,
            MONTH_KEY_TTL_S,
        )
    results = []
    for keys, (code, wait_ms) in zip(all_keys, pipe.execute(), strict=True):
        if code != 0:
            results.append(Reservation(ok=False, refusal=_REFUSALS[int(code)]))
        else:
            results.append(Reservation(ok=True, wait_s=max(0, int(wait_ms)) / 1000.0, keys=tuple(keys[2:])))
    return results


def pacing_release(reservation: Reservation) -> None:
    """Give back the cap counts of a reservation that did not end in a send."""
    if reservation.ok and reservation.keys:
        client().eval(_RELEASE_COUNTS, len(reservation.keys), *reservation.keys)


def pacing_push_back(*, schema: str, profile_id: int, delay_s: float) -> None:
    """Move the profile's next slot at least `delay_s` into the future (rate-limit backoff)."""
    key = f"pace:{schema}:p{profile_id}:next"
    until = int((time.time() + delay_s * time_scale()) * 1000)
    current = client().get(key)
    if current is None or int(current) < until:
        client().set(key, until, ex=DAY_KEY_TTL_S)
