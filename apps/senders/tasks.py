"""Celery front doors of the sending engine (queue `senders`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
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
    """Connected (or rate-limited, pause over) profiles with due queued messages, or with rows
    left in `sending` by a driver that is gone (its claim older than two lease lifetimes): a new
    driver reconciles those first. `connecting` counts too: a profile whose driver died while
    opening it would otherwise never come back."""
    now = now or timezone.now()
    from apps.senders.services.ledger import campaign_gate_q

    due = (
        OutboundMessage.objects.filter(state=MessageState.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(campaign_gate_q())
    )
    orphaned = OutboundMessage.objects.filter(
        state=MessageState.SENDING, claimed_at__lt=now - timedelta(seconds=2 * settings.SENDER_LEASE_TTL_S)
    )
    return list(
        SenderProfile.objects.filter(
            Q(paused_until__isnull=True) | Q(paused_until__lte=now),
            status__in=[
                SenderProfile.Status.CONNECTED,
                SenderProfile.Status.CONNECTING,
                SenderProfile.Status.RATE_LIMITED,
            ],
        )
        .filter(Q(id__in=due.values("profile_id")) | Q(id__in=orphaned.values("profile_id")))
        .values_list("id", flat=True)
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


# How long a stopping worker gives its runners to save their sessions and close the browsers.
SHUTDOWN_PARK_TIMEOUT_S = 30


@worker_process_shutdown.connect
@worker_shutdown.connect
def park_profiles_on_shutdown(**_kwargs) -> None:
    """Warm shutdown: save every session and close the browsers before the process exits.

    The sender host lives in the process that ran `drive_profile`: a pool child under the
    prefork pool (the Procfile's `--concurrency 1`), where Celery sends `worker_process_shutdown`
    as the child exits; the worker's main process under the solo/threads pools, where
    `worker_shutdown` comes once the pool has stopped. (`worker_shutting_down` is sent by the
    main process from inside its signal handler, before tasks finish, and never reaches a
    prefork child.) In a process without a host this does nothing."""
    from apps.senders import host

    if host._host is not None:
        host._host.shutdown(timeout=SHUTDOWN_PARK_TIMEOUT_S)
