"""Counters, live progress, completion and stop rules of a campaign run.

Counters are a periodic roll-up of the ledger (one GROUP BY state over the run's rows), not
increments at each state change: a recount is correct whatever the sender hosts, the
reconciler and the tick watchers do concurrently, touches none of the sending engine's hot
paths, and costs one index range scan per run per tick (about 0.1 s per million rows) however
fast messages go. A run's tick (apps.campaigns.tasks.run_tick, about once a second while it
runs) rolls up, detects completion (no row left queued, sending or held), applies the stop rules
and quota, and publishes `campaign.<id>` progress with publish_coalesced (at most one event per
second per campaign, after commit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignRun
from apps.core.realtime.publish import publish_coalesced
from apps.senders.models import MessageState, OutboundMessage, SenderProfile

logger = logging.getLogger(__name__)

# Rows still to be decided: the run is not over while any is left.
ACTIVE_STATES = (MessageState.QUEUED, MessageState.SENDING, MessageState.HELD)
# Messages a number tried to send (the failure rate's denominator).
ATTEMPTED_STATES = (
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.READ,
    MessageState.FAILED,
    MessageState.INVALID_NUMBER,
    MessageState.UNCERTAIN,
)
FAILED_STATES = (MessageState.FAILED, MessageState.INVALID_NUMBER)
SENT_STATES = (MessageState.SENT, MessageState.DELIVERED, MessageState.READ)
# Numbers that cannot send a campaign's rows (their rows move to the others on resume).
UNUSABLE_PROFILE_STATUSES = (SenderProfile.Status.BANNED, SenderProfile.Status.FAILED)
# Smoothing of the send rate shown with the ETA (weight of the newest interval).
RATE_SMOOTHING = 0.3
PROGRESS_INTERVAL_S = 1.0


class PauseReason:
    MANUAL = "manual"
    FAILURE_RATE = "failure_rate"
    PROFILE_BANNED = "profile_banned"
    # Quota pauses use the billing refusal codes (daily_message_limit, monthly_message_limit,
    # tenant_suspended, subscription_inactive) and are resumed by the system once sending is
    # allowed again (apps.campaigns.tasks.watchdog).


def campaign_topic(campaign_id: int) -> str:
    return f"campaign.{campaign_id}"


def run_rows(run: CampaignRun):
    """The run's ledger rows (its per-recipient record)."""
    if run.first_message_id is None or run.last_message_id is None:
        return OutboundMessage.objects.none()
    return OutboundMessage.objects.filter(
        campaign_id=run.campaign_id, id__gte=run.first_message_id, id__lte=run.last_message_id
    )


def run_counts(run: CampaignRun) -> dict[str, int]:
    """Rows per ledger state right now."""
    if run.first_message_id is None or run.last_message_id is None:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, count(*) FROM senders_outboundmessage "
            "WHERE campaign_id = %s AND id BETWEEN %s AND %s GROUP BY state",
            [run.campaign_id, run.first_message_id, run.last_message_id],
        )
        return {state: count for state, count in cursor.fetchall()}


def run_has_active_rows(run: CampaignRun) -> bool:
    return run_rows(run).filter(state__in=ACTIVE_STATES).exists()


@dataclass(frozen=True)
class Totals:
    pending: int
    done: int
    attempted: int
    failed: int
    sent: int


def totals(counts: dict[str, int]) -> Totals:
    return Totals(
        pending=sum(counts.get(s, 0) for s in ACTIVE_STATES),
        done=sum(n for s, n in counts.items() if s not in ACTIVE_STATES),
        attempted=sum(counts.get(s, 0) for s in ATTEMPTED_STATES),
        failed=sum(counts.get(s, 0) for s in FAILED_STATES),
        sent=sum(counts.get(s, 0) for s in SENT_STATES),
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    """Shares (0–1, None before there is anything to divide by): of the messages attempted, how
    many went out (`sent`) and how many failed (`failed`); of those that went out, how many were
    delivered (delivered or read) and how many read."""
    sums = totals(counts)
    delivered = counts.get(MessageState.DELIVERED, 0) + counts.get(MessageState.READ, 0)
    return {
        "sent": _share(sums.sent, sums.attempted),
        "failed": _share(sums.failed, sums.attempted),
        "delivered": _share(delivered, sums.sent),
        "read": _share(counts.get(MessageState.READ, 0), sums.sent),
    }


def run_rollup(*, run: CampaignRun, now: datetime | None = None) -> CampaignRun:
    """Recount the run's rows and update its counters, send rate and ETA."""
    now = now or timezone.now()
    counts = run_counts(run)
    sums = totals(counts)
    rate = run.rate_per_s
    if run.rolled_up_at is not None:
        elapsed = (now - run.rolled_up_at).total_seconds()
        if elapsed > 0:
            latest = max(sums.done - run.done_at_rollup, 0) / elapsed
            rate = latest if rate <= 0 else RATE_SMOOTHING * latest + (1 - RATE_SMOOTHING) * rate
    running = run.state == CampaignRun.State.RUNNING
    eta = sums.pending / rate if running and rate > 0 and sums.pending else (0.0 if not sums.pending else None)
    CampaignRun.objects.filter(id=run.id).update(
        counts=counts, rate_per_s=rate, eta_s=eta, rolled_up_at=now, done_at_rollup=sums.done
    )
    run.counts, run.rate_per_s, run.eta_s, run.rolled_up_at, run.done_at_rollup = counts, rate, eta, now, sums.done
    return run


def progress_event(campaign: Campaign, run: CampaignRun | None) -> dict[str, Any]:
    """What the campaign page shows live (also returned by the stats endpoint)."""
    counts = run.counts if run else {}
    sums = totals(counts)
    return {
        "kind": "campaign.progress",
        "campaign_id": campaign.id,
        "state": campaign.state,
        "reason": campaign.state_reason,
        "detail": campaign.state_detail,
        "run": None
        if run is None
        else {
            "id": run.id,
            "number": run.number,
            "state": run.state,
            "materialized": run.is_materialized,
            "recipients": run.recipients,
            "duplicates": run.duplicates,
            "counts": counts,
            "pending": sums.pending,
            "done": sums.done,
            "sent": sums.sent,
            "failed": sums.failed,
            "rates": rates(counts),
            "rate_per_s": round(run.rate_per_s, 3),
            "eta_s": None if run.eta_s is None else round(run.eta_s),
            "quota_note": run.quota_note,
        },
    }


def progress_publish(campaign: Campaign, run: CampaignRun | None) -> None:
    """Coalesced to one event per second per campaign; sent after the transaction commits."""
    publish_coalesced(campaign_topic(campaign.id), progress_event(campaign, run), interval_s=PROGRESS_INTERVAL_S)


@dataclass(frozen=True)
class StopHit:
    reason: str
    detail: str


def stop_rule_hit(campaign: Campaign, run: CampaignRun) -> StopHit | None:
    """Has the run tripped a stop rule (failure rate over the threshold after the minimum sample,
    a banned number still holding rows of the run)?"""
    sums = totals(run.counts)
    if sums.attempted and sums.attempted >= max(1, campaign.stop_min_sample):
        share = sums.failed / sums.attempted
        if share > campaign.stop_failure_rate:
            return StopHit(
                PauseReason.FAILURE_RATE,
                f"{sums.failed} of {sums.attempted} messages failed ({share:.0%}), above the "
                f"{campaign.stop_failure_rate:.0%} limit. Check the list before resuming.",
            )
    if campaign.stop_on_ban:
        banned = list(
            SenderProfile.objects.filter(campaign_senders__campaign=campaign, status=SenderProfile.Status.BANNED)
        )
        if banned and run_rows(run).filter(profile__in=banned, state=MessageState.QUEUED).exists():
            labels = ", ".join(str(profile) for profile in banned)
            return StopHit(
                PauseReason.PROFILE_BANNED,
                f"WhatsApp banned {labels}. Its messages wait; resuming sends them from the campaign's other numbers.",
            )
    return None


def active_run(campaign: Campaign) -> CampaignRun | None:
    return campaign.runs.filter(state__in=[CampaignRun.State.RUNNING, CampaignRun.State.PAUSED]).order_by("-id").first()


def latest_run(campaign: Campaign) -> CampaignRun | None:
    return campaign.runs.order_by("-id").first()


def run_complete_if_done(*, run: CampaignRun) -> bool:
    """Finish a materialized running run with no row left to decide; a recurring campaign that
    is still scheduled goes back to `scheduled`, any other to `completed`. Returns whether it
    finished."""
    from apps.campaigns.services import schedule as schedule_service
    from apps.tenants.models import Tenant

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(id=run.campaign_id)
        run = CampaignRun.objects.select_for_update().get(id=run.id)
        if run.state != CampaignRun.State.RUNNING or not run.is_materialized or run_has_active_rows(run):
            return False
        now = timezone.now()
        run.state, run.finished_at = CampaignRun.State.COMPLETED, now
        run.save(update_fields=["state", "finished_at"])
        run = run_rollup(run=run, now=now)
        recurring = campaign.is_recurring and schedule_service.schedule_exists(
            campaign=campaign, tenant=Tenant.objects.get(schema_name=connection.schema_name)
        )
        campaign.state = Campaign.State.SCHEDULED if recurring else Campaign.State.COMPLETED
        campaign.state_reason, campaign.state_detail = "", ""
        campaign.save(update_fields=["state", "state_reason", "state_detail", "updated_at"])
        progress_publish(campaign, run)
    logger.info("campaign.run_completed", extra={"campaign_id": campaign.id, "run_id": run.id, "state": campaign.state})
    return True
