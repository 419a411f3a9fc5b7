"""Celery front doors of the sending engine (queue `senders`)."""

from __future__ import annotations

import logging
from datetime import datetime

from celery.signals import worker_shutting_down
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from config.celery import app

logger = logging.getLogger(__name__)


@app.task(name="senders.drive_profile", ignore_result=True, acks_late=False)
def drive_profile(profile_id: int) -> None:
    """Hand a profile to this worker's sender host (returns at once; the host drives it)."""
    from apps.senders.host import get_host

    schema = connection.schema_name
    if not SenderProfile.objects.filter(id=profile_id).exists():
        logger.info("profile.kick_gone", extra={"profile_id": profile_id})
        return
    get_host().kick(schema, profile_id)


def profile_kick(profile_id: int, *, schema: str) -> None:
    """Ask some sender worker to drive this profile (call after commit)."""
    drive_profile.apply_async(args=[profile_id], headers={"_schema_name": schema})


def profile_kick_at(profile_id: int, *, schema: str, eta: datetime) -> None:
    drive_profile.apply_async(args=[profile_id], headers={"_schema_name": schema}, eta=eta)


def profiles_needing_a_driver(now: datetime | None = None) -> list[int]:
    """Connected (or rate-limited, pause over) profiles with due queued messages."""
    now = now or timezone.now()
    due = OutboundMessage.objects.filter(state=MessageState.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return list(
        SenderProfile.objects.filter(
            Q(status=SenderProfile.Status.CONNECTED) | Q(status=SenderProfile.Status.RATE_LIMITED),
            Q(paused_until__isnull=True) | Q(paused_until__lte=now),
            id__in=due.values("profile_id"),
        ).values_list("id", flat=True)
    )


@app.task(name="senders.dispatch", ignore_result=True)
def dispatch() -> int:
    """Beat, every few seconds: offer every profile with due work to the sender workers. Profiles
    already driven simply get a wake-up; this also restarts profiles whose worker died."""
    from apps.tenants.models import Tenant

    kicked = 0
    for schema in (
        Tenant.objects.filter(status=Tenant.Status.ACTIVE)
        .exclude(schema_name=get_public_schema_name())
        .values_list("schema_name", flat=True)
    ):
        with schema_context(schema):
            for profile_id in profiles_needing_a_driver():
                profile_kick(profile_id, schema=schema)
                kicked += 1
    return kicked


@worker_shutting_down.connect
def park_profiles_on_shutdown(**_kwargs) -> None:
    """Warm shutdown: save every session and close the browsers before the process exits."""
    from apps.senders import host

    if host._host is not None:
        host._host.shutdown(timeout=30)
