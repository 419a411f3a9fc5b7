"""Celery front doors of campaigns (queue `default`). Tasks sent from a tenant carry its schema in
the `_schema_name` header (tenant-schemas-celery) and run in it; beat's per-tenant schedules do
the same. Each task takes ids, calls a service and returns; all are idempotent."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import lifecycle, materialize, ticks
from apps.core.exceptions import ChorusError
from config.celery import app

logger = logging.getLogger(__name__)

QUEUE = "default"


def _headers(schema: str) -> dict[str, str]:
    return {"_schema_name": schema}


# --- helpers the services call after commit --------------------------------------------------------


def materialize_enqueue(run_id: int, *, schema: str) -> None:
    materialize_run.apply_async(args=[run_id], headers=_headers(schema), queue=QUEUE)


def tick_soon(run_id: int, *, schema: str, countdown_s: float = ticks.TICK_INTERVAL_S) -> bool:
    """Schedule the run's next tick unless one is pending already."""
    if not ticks.tick_claim(schema, run_id, countdown_s):
        return False
    run_tick.apply_async(args=[run_id], headers=_headers(schema), queue=QUEUE, countdown=countdown_s)
    return True


def _kick(profile_ids: Iterable[int], schema: str) -> None:
    from apps.senders import tasks as sender_tasks

    for profile_id in profile_ids:
        sender_tasks.profile_kick(profile_id, schema=schema)


def run_started(run_id: int, profile_ids: Iterable[int], *, schema: str) -> None:
    """After a run's rows are committed: wake its numbers and start its ticks."""
    _kick(profile_ids, schema)
    tick_soon(run_id, schema=schema)


def run_kick(run_id: int, *, schema: str) -> None:
    """After a resume: wake the campaign's numbers and restart the run's ticks."""
    from apps.campaigns.models import CampaignSender

    with schema_context(schema):
        run = CampaignRun.objects.filter(id=run_id).first()
        if run is None:
            return
        profile_ids = list(
            CampaignSender.objects.filter(campaign_id=run.campaign_id).values_list("profile_id", flat=True)
        )
    _kick(profile_ids, schema)
    tick_soon(run_id, schema=schema)


def rows_move_enqueue(run_id: int, move: str, *, schema: str) -> bool:
    """Hand a large run's row move to a worker (unless one is pending for it already)."""
    if not ticks.move_claim(schema, run_id, move):
        return False
    rows_move.apply_async(args=[run_id, move], headers=_headers(schema), queue=QUEUE)
    return True


# --- tasks -----------------------------------------------------------------------------------------


@app.task(name="campaigns.materialize_run", ignore_result=True)
def materialize_run(run_id: int) -> None:
    """Write a started run's ledger rows. A run that can no longer be materialized (no usable
    number, a template made invalid) fails its campaign with the reason."""
    try:
        materialize.run_materialize(run_id=run_id)
    except (materialize.NoSender, ChorusError, DatabaseError) as exc:
        run = CampaignRun.objects.select_related("campaign").filter(id=run_id).first()
        if run is None:
            return
        if isinstance(exc, materialize.NoSender):
            reason, detail = "no_sender_profile", "None of the campaign's numbers can send (banned or removed)."
        elif isinstance(exc, ChorusError):
            reason, detail = exc.code, exc.message
        else:
            reason, detail = "materialization_error", "The recipients could not be written; nothing was sent."
        lifecycle.campaign_fail(campaign=run.campaign, run=run, reason=reason, detail=detail)
        if isinstance(exc, DatabaseError):
            raise


@app.task(name="campaigns.rows_move", ignore_result=True)
def rows_move(run_id: int, move: str) -> None:
    """Hold, release or cancel a large run's rows window by window (services.rows); a release
    wakes the numbers as soon as its first window is queued again."""
    from apps.campaigns.services import progress
    from apps.campaigns.services import rows as row_moves

    schema = connection.schema_name
    run = CampaignRun.objects.filter(id=run_id).first()
    try:
        if run is None or move not in row_moves.MOVES:
            return
        chosen = row_moves.MOVES[move]
        start = None
        if chosen is row_moves.RELEASE and run.first_message_id is not None:
            # The oldest rows first, then the numbers are woken while the rest follow.
            start = run.first_message_id + row_moves.ROWS_MOVE_BATCH
            if row_moves.rows_move_window(run=run, move=chosen, low=run.first_message_id, high=start - 1) is None:
                return
            run_kick(run.id, schema=schema)
        moved, finished = row_moves.rows_move(run=run, move=chosen, start=start)
        logger.info("campaign.rows_moved", extra={"run_id": run_id, "move": move, "rows": moved, "finished": finished})
        progress.run_rollup(run=CampaignRun.objects.get(id=run_id))
    finally:
        ticks.move_release(schema, run_id, move)


@app.task(name="campaigns.run_tick", ignore_result=True)
def run_tick(run_id: int) -> None:
    """Counters, progress, completion, stop rules; again in a second while the run runs."""
    schema = connection.schema_name
    ticks.tick_release(schema, run_id)
    if ticks.run_tick(run_id=run_id):
        tick_soon(run_id, schema=schema)


@app.task(name="campaigns.fire", ignore_result=True)
def fire(campaign_id: int) -> None:
    """Beat: a scheduled or recurring campaign's time has come. A recurrence that finds the
    previous run still going is skipped (logged); other refusals are logged the same way."""
    campaign = Campaign.objects.filter(id=campaign_id).first()
    if campaign is None:
        logger.info("campaign.fire_gone", extra={"campaign_id": campaign_id})
        return
    try:
        lifecycle.campaign_start(campaign=campaign, trigger="schedule")
    except ChorusError as exc:
        logger.warning("campaign.fire_refused", extra={"campaign_id": campaign_id, "code": exc.code})
        from apps.core.realtime.notifications import notification_send
        from apps.tenants.models import Tenant

        tenant = Tenant.objects.get(schema_name=connection.schema_name)
        notification_send(
            tenant=tenant, message=f"Campaign “{campaign.name}” did not start: {exc.message}", level="warning"
        )


@app.task(name="campaigns.watchdog", ignore_result=True)
def watchdog() -> int:
    """Beat, every few seconds (public schema): in every active tenant, restart lost tick chains
    and materializations, and resume campaigns paused by the plan's limits once it allows
    sending again. Returns how many things it restarted or resumed."""
    from apps.tenants.models import Tenant

    done = 0
    schemas = (
        Tenant.objects.filter(status=Tenant.Status.ACTIVE)
        .exclude(schema_name=get_public_schema_name())
        .values_list("schema_name", flat=True)
    )
    for schema in schemas:
        with schema_context(schema):
            watched = Q(state__in=[Campaign.State.RUNNING, Campaign.State.PAUSED]) | Q(
                state=Campaign.State.CANCELLED, updated_at__gte=timezone.now() - ticks.CANCELLED_RECHECK
            )
            if not Campaign.objects.filter(watched).exists():
                continue
            result = ticks.watchdog_pass()
        for run_id in result.ticks_started:
            done += tick_soon(run_id, schema=schema)
        for run_id in result.rematerialize:
            materialize_enqueue(run_id, schema=schema)
            done += 1
        for run_id, move in result.moves:
            done += rows_move_enqueue(run_id, move, schema=schema)
        done += len(result.resumed)
    return done
