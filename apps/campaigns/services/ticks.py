"""The run tick and the watchdog: what keeps a running campaign's counters, progress events,
completion, stop rules and quota pauses moving without anyone watching the page.

A running run is ticked about once a second (apps.campaigns.tasks.run_tick re-schedules itself
while the run runs). A Redis guard (`SET NX` with a short expiry) keeps one pending tick per run,
however many starts, resumes and watchdog passes ask for one; if a worker loses a tick, the
guard expires and the watchdog (beat, every few seconds) starts the chain again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.db import models
from django.utils import timezone

from apps.billing import services as billing
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import progress
from apps.campaigns.services.campaigns import current_tenant
from apps.senders import coordination

logger = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0
# A pending tick's guard outlives its countdown by this much; after that the watchdog may start
# a new chain (the old one is presumed lost with its worker).
TICK_GUARD_GRACE_S = 9.0
# Billing refusal codes a campaign is paused with and resumed from by itself.
QUOTA_PAUSE_REASONS = frozenset(
    {
        str(billing.QuotaCode.DAILY_MESSAGE_LIMIT),
        str(billing.QuotaCode.MONTHLY_MESSAGE_LIMIT),
        str(billing.QuotaCode.TENANT_SUSPENDED),
        str(billing.QuotaCode.SUBSCRIPTION_INACTIVE),
    }
)
# A run whose materialization task has not finished after this long is handed out again
# (materialization is idempotent; a million recipients take well under a minute).
MATERIALIZE_STALE = timedelta(minutes=5)


def tick_guard_key(schema: str, run_id: int) -> str:
    return f"campaigns:tick:{schema}:{run_id}"


def tick_claim(schema: str, run_id: int, countdown_s: float) -> bool:
    """Whether the caller should schedule the run's next tick (no other tick is pending)."""
    ttl_ms = int((countdown_s + TICK_GUARD_GRACE_S) * 1000)
    try:
        return bool(coordination.client().set(tick_guard_key(schema, run_id), "1", nx=True, px=ttl_ms))
    except redis.RedisError as exc:
        logger.warning("campaign.tick_guard_unavailable", extra={"run_id": run_id, "error": type(exc).__name__})
        return False


# A row move handed to a worker is not handed out again for this long (the watchdog restarts it
# after that when the run's counts still show rows to move).
MOVE_GUARD_S = 600


def move_guard_key(schema: str, run_id: int, move: str) -> str:
    return f"campaigns:move:{schema}:{run_id}:{move}"


def move_claim(schema: str, run_id: int, move: str) -> bool:
    """Whether the caller should hand out this row move for the run (none is pending)."""
    try:
        return bool(coordination.client().set(move_guard_key(schema, run_id, move), "1", nx=True, ex=MOVE_GUARD_S))
    except redis.RedisError as exc:
        logger.warning("campaign.move_guard_unavailable", extra={"run_id": run_id, "error": type(exc).__name__})
        return True


def move_release(schema: str, run_id: int, move: str) -> None:
    try:
        coordination.client().delete(move_guard_key(schema, run_id, move))
    except redis.RedisError as exc:
        logger.warning("campaign.move_guard_unavailable", extra={"run_id": run_id, "error": type(exc).__name__})


def tick_release(schema: str, run_id: int) -> None:
    try:
        coordination.client().delete(tick_guard_key(schema, run_id))
    except redis.RedisError as exc:
        logger.warning("campaign.tick_guard_unavailable", extra={"run_id": run_id, "error": type(exc).__name__})


def run_tick(*, run_id: int) -> bool:
    """Roll the run up, finish it when nothing is left, pause it on a stop rule or the plan's
    limit, and publish progress. Returns whether it should be ticked again."""
    from apps.campaigns.services.lifecycle import campaign_pause

    run = CampaignRun.objects.select_related("campaign").filter(id=run_id).first()
    if run is None:
        return False
    if run.state != CampaignRun.State.RUNNING:
        return False
    if not run.is_materialized:
        # The materialization starts the ticks when its rows exist.
        return False
    campaign = run.campaign
    run = progress.run_rollup(run=run)
    if not progress.totals(run.counts).pending and progress.run_complete_if_done(run=run):
        return False
    hit = progress.stop_rule_hit(campaign, run)
    if hit is None:
        decision = billing.quota_check(tenant=current_tenant(), action=billing.QuotaAction.SEND_MESSAGES, amount=1)
        if not decision.allowed:
            hit = progress.StopHit(str(decision.code), decision.message)
    if hit is not None:
        campaign_pause(campaign=campaign, reason=hit.reason, detail=hit.detail)
        logger.warning("campaign.auto_paused", extra={"campaign_id": campaign.id, "reason": hit.reason})
        return False
    progress.progress_publish(campaign, run)
    return True


@dataclass(frozen=True)
class WatchdogPass:
    ticks_started: list[int]
    resumed: list[int]
    rematerialize: list[int]
    # (run id, move name) for runs whose rows still need a hold, release or cancel.
    moves: list[tuple[int, str]]


# Cancelled runs are checked for rows left to cancel for this long after they end.
CANCELLED_RECHECK = timedelta(days=1)


def _moves_due() -> list[tuple[int, str]]:
    """Runs whose last counts show rows their campaign's state says should have moved (a move
    whose worker was lost, or a row a sender handed back in between)."""
    due: list[tuple[int, str]] = []
    runs = CampaignRun.objects.filter(materialized_at__isnull=False).filter(
        models.Q(state__in=[CampaignRun.State.RUNNING, CampaignRun.State.PAUSED])
        | models.Q(state=CampaignRun.State.CANCELLED, finished_at__gte=timezone.now() - CANCELLED_RECHECK)
    )
    for run_id, state, counts in runs.values_list("id", "state", "counts"):
        counts = counts or {}
        if state == CampaignRun.State.PAUSED and counts.get("queued"):
            due.append((run_id, "hold"))
        elif state == CampaignRun.State.RUNNING and counts.get("held"):
            due.append((run_id, "release"))
        elif state == CampaignRun.State.CANCELLED and (counts.get("queued") or counts.get("held")):
            due.append((run_id, "cancel"))
    return due


def watchdog_pass() -> WatchdogPass:
    """In the current tenant: running runs that need a tick chain, quota-paused campaigns whose
    plan allows sending again (resumed), and runs whose materialization got lost."""
    from apps.campaigns.services.lifecycle import campaign_resume
    from apps.core.exceptions import ChorusError

    running = list(
        CampaignRun.objects.filter(state=CampaignRun.State.RUNNING, materialized_at__isnull=False).values_list(
            "id", flat=True
        )
    )
    stale = list(
        CampaignRun.objects.filter(
            state__in=[CampaignRun.State.RUNNING, CampaignRun.State.PAUSED],
            materialized_at__isnull=True,
            created_at__lt=timezone.now() - MATERIALIZE_STALE,
        ).values_list("id", flat=True)
    )
    resumed: list[int] = []
    paused = Campaign.objects.filter(state=Campaign.State.PAUSED, state_reason__in=QUOTA_PAUSE_REASONS)
    if paused.exists():
        decision = billing.quota_check(tenant=current_tenant(), action=billing.QuotaAction.SEND_MESSAGES, amount=1)
        if decision.allowed:
            for campaign in paused:
                try:
                    campaign_resume(campaign=campaign)
                except ChorusError as exc:
                    logger.info("campaign.auto_resume_refused", extra={"campaign_id": campaign.id, "code": exc.code})
                    continue
                resumed.append(campaign.id)
                logger.info("campaign.auto_resumed", extra={"campaign_id": campaign.id})
    return WatchdogPass(ticks_started=running, resumed=resumed, rematerialize=stale, moves=_moves_due())
