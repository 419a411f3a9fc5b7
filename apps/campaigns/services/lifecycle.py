"""Starting, pausing, resuming and cancelling campaigns (the state machine is in
services.campaigns).

How pause, resume and cancel reach the sender (invariant: before the next message):
- The ledger's claim only takes rows of campaigns whose state is `running`
  (apps.senders.services.ledger.campaign_gate_q), so committing the new state stops every
  sender host at its next claim; the host also re-checks a claimed row after its pacing wait
  and within long batches.
- Then the run's rows follow (services.rows): queued rows are parked as `held` (out of the
  claim index); resume puts exactly the held rows back to `queued`, which can never resend a
  row that was sent; cancel ends the queued and held rows as `cancelled`. Rows being sent at
  that moment finish normally; a claimed row handed back later lands in the state its campaign
  is in (ledger.requeue_state).
"""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.billing import services as billing
from apps.campaigns import rendering
from apps.campaigns.models import Campaign, CampaignRun, CampaignSender
from apps.campaigns.services import audience, progress, rows
from apps.campaigns.services import schedule as schedule_service
from apps.campaigns.services.campaigns import S, campaign_locked, campaign_text, current_tenant, state_move
from apps.campaigns.services.errors import CampaignError
from apps.contacts.models import Contact
from apps.core.exceptions import Conflict, QuotaExceeded, ValidationFailed
from apps.senders.models import SenderProfile
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)


# --- start ---------------------------------------------------------------------------------------


def usable_senders(campaign: Campaign) -> list[CampaignSender]:
    return list(
        campaign.senders.select_related("profile")
        .exclude(profile__status__in=progress.UNUSABLE_PROFILE_STATUSES)
        .order_by("profile_id")
    )


def _quota_refusal(decision: billing.QuotaDecision, message: str) -> QuotaExceeded:
    return QuotaExceeded(message, code=decision.code, details=decision.as_details())


def quota_check_start(tenant: Tenant) -> None:
    """Refuse to start when the plan cannot send anything now (no message left today or this
    month, suspended or unpaid) or the workspace is over its plan's numbers or contacts. A run
    larger than what is left starts anyway: it records a note, and pauses when the limit is hit
    (and resumes by itself when a daily limit resets)."""
    subscription = getattr(tenant, "subscription", None)
    send = billing.quota_check(
        tenant=tenant, action=billing.QuotaAction.SEND_MESSAGES, amount=1, subscription=subscription
    )
    if not send.allowed:
        raise _quota_refusal(send, f"{send.message} The campaign was not started.")
    numbers = billing.quota_check(
        tenant=tenant,
        action=billing.QuotaAction.ADD_NUMBER,
        amount=0,
        current=SenderProfile.objects.count(),
        subscription=subscription,
    )
    if not numbers.allowed:
        raise _quota_refusal(
            numbers,
            f"Your plan allows {numbers.limit} WhatsApp numbers and this workspace has {numbers.used}. "
            "Remove numbers or upgrade to start campaigns.",
        )
    contacts = billing.quota_check(
        tenant=tenant,
        action=billing.QuotaAction.ADD_CONTACTS,
        amount=0,
        current=Contact.objects.count(),
        subscription=subscription,
    )
    if not contacts.allowed:
        raise _quota_refusal(
            contacts,
            f"Your plan allows {contacts.limit} contacts and this workspace has {contacts.used}. "
            "Remove contacts or upgrade to start campaigns.",
        )
    billing.usage_snapshot_set(tenant=tenant, contacts=contacts.used, numbers=numbers.used)


def campaign_start(*, campaign: Campaign, trigger: str = "manual") -> CampaignRun:
    """Start a run now (draft or scheduled → running): checks the text, the numbers and the
    plan, creates the run and hands its materialization to a worker after commit. Refused
    starts change nothing and write no rows."""
    from apps.campaigns import tasks

    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        if campaign.state not in (S.DRAFT, S.SCHEDULED):
            raise Conflict(
                f"A {campaign.get_state_display().lower()} campaign cannot be started.",
                code=CampaignError.ILLEGAL_TRANSITION,
                details={"state": campaign.state, "to": S.RUNNING},
            )
        text = campaign_text(campaign)
        rendering.template_validate(text)
        audience.campaign_audience_spec(campaign)
        audience.audience_imports_check(campaign)
        if not usable_senders(campaign):
            raise ValidationFailed(
                "Add a WhatsApp number that can send (not banned) to this campaign.", code=CampaignError.NO_SENDER
            )
        quota_check_start(tenant)
        number = (campaign.runs.aggregate(last=Max("number"))["last"] or 0) + 1
        run = CampaignRun.objects.create(campaign=campaign, number=number, body=text, trigger=trigger)
        state_move(campaign, S.RUNNING)
        if campaign.schedule == Campaign.Schedule.AT:
            # A one-off campaign started (early, or by its own clock) has nothing left to fire.
            schedule_service.schedule_remove(campaign=campaign, tenant=tenant)
        progress.progress_publish(campaign, run)
        schema = connection.schema_name
        transaction.on_commit(lambda: tasks.materialize_enqueue(run.id, schema=schema))
    logger.info("campaign.started", extra={"campaign_id": campaign.id, "run_id": run.id, "trigger": trigger})
    return run


# --- pause / resume / cancel ---------------------------------------------------------------------


def campaign_pause(*, campaign: Campaign, reason: str = progress.PauseReason.MANUAL, detail: str = "") -> Campaign:
    """running → paused. The state commits first (the senders stop at their next claim), then
    the run's queued rows are parked as `held` (services.rows). `reason` says who paused: a
    user (manual), a stop rule or the plan's limit."""
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        state_move(campaign, S.PAUSED, reason=reason, detail=detail)
        run = progress.active_run(campaign)
        if run is not None:
            run.state = CampaignRun.State.PAUSED
            run.save(update_fields=["state"])
    held = rows.rows_move_now_or_later(run=run, move=rows.HOLD)
    if run is not None:
        run = progress.run_rollup(run=run)
    progress.progress_publish(campaign, run)
    logger.info("campaign.paused", extra={"campaign_id": campaign.id, "reason": reason, "held": held})
    return campaign


def _reassign_rows(run: CampaignRun, usable_ids: list[int]) -> int:
    """Give the run's waiting rows of numbers that can no longer send (banned, failed, or removed
    from the workspace, which leaves their rows without a number) to the usable ones, in turn.
    Looks only where such rows can be: nothing to do when every number the run was written
    with can still send."""
    if run.first_message_id is None:
        return 0
    stale = sorted(set(run.profile_ids) - set(usable_ids))
    if not stale:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE senders_outboundmessage AS m
            SET profile_id = (%(usable)s::bigint[])[1 + ((r.rn - 1) %% %(n)s)]
            FROM (
                SELECT id, row_number() OVER (ORDER BY id) AS rn
                FROM senders_outboundmessage
                WHERE (profile_id = ANY(%(stale)s) OR profile_id IS NULL)
                  AND campaign_id = %(campaign)s AND id BETWEEN %(first)s AND %(last)s
                  AND state IN ('held', 'queued')
            ) AS r
            WHERE m.id = r.id
            """,
            {
                "usable": usable_ids,
                "n": len(usable_ids),
                "stale": stale,
                "campaign": run.campaign_id,
                "first": run.first_message_id,
                "last": run.last_message_id,
            },
        )
        moved = cursor.rowcount
    # The run is now written with the usable numbers only.
    CampaignRun.objects.filter(id=run.id).update(
        profile_ids=sorted(set(run.profile_ids) - set(stale) | set(usable_ids))
    )
    return moved


def campaign_resume(*, campaign: Campaign) -> Campaign:
    """paused → running: rows of numbers that can no longer send move to the usable ones, the
    state commits, then exactly the held rows go back to `queued` (a sent row is never held, so
    nothing is sent twice). Refused while the plan cannot send (402) or no number of the
    campaign can (400)."""
    from apps.campaigns import tasks

    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        if campaign.state != S.PAUSED:
            raise Conflict(
                f"A {campaign.get_state_display().lower()} campaign cannot be resumed.",
                code=CampaignError.ILLEGAL_TRANSITION,
                details={"state": campaign.state, "to": S.RUNNING},
            )
        send = billing.quota_check(tenant=tenant, action=billing.QuotaAction.SEND_MESSAGES, amount=1)
        if not send.allowed:
            raise _quota_refusal(send, f"{send.message} The campaign stays paused.")
        usable = [sender.profile_id for sender in usable_senders(campaign)]
        if not usable:
            raise ValidationFailed(
                "None of this campaign's numbers can send; add one that is not banned.", code=CampaignError.NO_SENDER
            )
        run = progress.active_run(campaign)
        moved = 0
        if run is not None:
            moved = _reassign_rows(run, usable)
            run.state = CampaignRun.State.RUNNING
            run.save(update_fields=["state"])
        state_move(campaign, S.RUNNING, verb="resumed")
    released = rows.rows_move_now_or_later(run=run, move=rows.RELEASE)
    if run is not None:
        run = progress.run_rollup(run=run)
        if released is not None:
            # A worker releasing a large run wakes the numbers itself after its first window.
            tasks.run_kick(run.id, schema=connection.schema_name)
    progress.progress_publish(campaign, run)
    logger.info("campaign.resumed", extra={"campaign_id": campaign.id, "reassigned": moved, "released": released})
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Cancel a campaign that has not finished: its schedule is removed, and its unsent rows
    (queued or held) end `cancelled`. Messages being typed at that moment finish."""
    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        state_move(campaign, S.CANCELLED, reason="manual")
        schedule_service.schedule_remove(campaign=campaign, tenant=tenant)
        run = progress.active_run(campaign)
        if run is not None:
            run.state, run.finished_at = CampaignRun.State.CANCELLED, timezone.now()
            run.save(update_fields=["state", "finished_at"])
    cancelled = rows.rows_move_now_or_later(run=run, move=rows.CANCEL)
    if run is not None:
        run = progress.run_rollup(run=run)
    progress.progress_publish(campaign, run)
    logger.info("campaign.cancelled", extra={"campaign_id": campaign.id, "rows_cancelled": cancelled})
    return campaign


def campaign_fail(*, campaign: Campaign, run: CampaignRun | None, reason: str, detail: str) -> Campaign:
    """running/paused → failed (the run could not be materialized): nothing of it is sent."""
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        state_move(campaign, S.FAILED, reason=reason, detail=detail)
        if run is not None:
            CampaignRun.objects.filter(id=run.id).update(state=CampaignRun.State.FAILED, finished_at=timezone.now())
        progress.progress_publish(campaign, run)
    logger.warning("campaign.failed", extra={"campaign_id": campaign.id, "reason": reason})
    return campaign
