"""PostgreSQL advisory locks for "one runner at a time" across workers and hosts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def advisory_lock(key: str) -> Iterator[bool]:
    """Try to take the session-level advisory lock named `key` (hashed to a bigint); yields
    whether it was taken and releases it on exit. A worker that dies loses its connection and
    with it the lock, so a redelivered task can take over. Include the schema in `key` when the
    thing locked belongs to a tenant (ids repeat across schemas)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
