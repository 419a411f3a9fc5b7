"""Campaigns: their definition (text, audience, numbers, rotation, pacing, schedule, stop rules),
their schedule in beat, and the state machine every change of state goes through.

States: draft → scheduled → running ⇄ paused → completed, or cancelled / failed. Every change
goes through `state_move`, which refuses anything else with a Conflict (409 illegal_transition).
A recurring campaign goes back to `scheduled` after each run. Starting, pausing, resuming and
cancelling live in services.lifecycle.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.campaigns import rendering
from apps.campaigns.models import Campaign, CampaignSender, MessageTemplate
from apps.campaigns.services import audience, progress
from apps.campaigns.services import schedule as schedule_service
from apps.campaigns.services.errors import CampaignError
from apps.contacts.models import Group
from apps.core.exceptions import Conflict, NotFound, ValidationFailed
from apps.senders.models import SenderProfile
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

S = Campaign.State
ALLOWED_MOVES: dict[str, set[str]] = {
    S.DRAFT: {S.SCHEDULED, S.RUNNING, S.CANCELLED},
    S.SCHEDULED: {S.DRAFT, S.RUNNING, S.CANCELLED},
    S.RUNNING: {S.PAUSED, S.COMPLETED, S.CANCELLED, S.FAILED, S.SCHEDULED},
    S.PAUSED: {S.RUNNING, S.CANCELLED, S.FAILED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.FAILED: set(),
}
EDITABLE_STATES = (S.DRAFT, S.SCHEDULED)
DELETABLE_STATES = (S.DRAFT, S.SCHEDULED, S.COMPLETED, S.CANCELLED, S.FAILED)
_VERBS = {
    S.SCHEDULED: "scheduled",
    S.RUNNING: "started",
    S.PAUSED: "paused",
    S.COMPLETED: "completed",
    S.CANCELLED: "cancelled",
    S.FAILED: "failed",
    S.DRAFT: "unscheduled",
}
# Resuming a paused run is "running" again, but reads better as its own verb in errors.
MAX_SENDERS = 50
# Stop rules outside these bounds are mistakes (a rate is a share; a sample of 0 would pause on
# the first failure).
MIN_STOP_SAMPLE = 1


def current_tenant() -> Tenant:
    return Tenant.objects.select_related("subscription__plan").get(schema_name=connection.schema_name)


def state_move(campaign: Campaign, to: str, *, reason: str = "", detail: str = "", verb: str | None = None) -> None:
    """Change the state (of a row the caller has locked) or refuse with 409 illegal_transition."""
    if to not in ALLOWED_MOVES[campaign.state]:
        raise Conflict(
            f"A {campaign.get_state_display().lower()} campaign cannot be {verb or _VERBS[to]}.",
            code=CampaignError.ILLEGAL_TRANSITION,
            details={"state": campaign.state, "to": to},
        )
    campaign.state, campaign.state_reason, campaign.state_detail = to, reason[:40], detail[:300]
    campaign.save(update_fields=["state", "state_reason", "state_detail", "updated_at"])


def campaign_get(*, campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(id=campaign_id).first()
    if campaign is None:
        raise NotFound("No such campaign.", code=CampaignError.CAMPAIGN_NOT_FOUND)
    return campaign


def campaign_locked(campaign: Campaign) -> Campaign:
    locked = Campaign.objects.select_for_update().filter(id=campaign.id).first()
    if locked is None:
        raise NotFound("No such campaign.", code=CampaignError.CAMPAIGN_NOT_FOUND)
    return locked


# --- definition ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderChoice:
    profile: SenderProfile
    weight: int = 1


def campaign_text(campaign: Campaign) -> str:
    """The text a run renders: the template's (read when the run starts) or the campaign's own."""
    if campaign.template_id is not None:
        return campaign.template.body
    return campaign.body


def _validate_text(template: MessageTemplate | None, body: str) -> None:
    if template is not None and body.strip():
        raise ValidationFailed(
            "Choose a template or write the text, not both.",
            code=CampaignError.TEMPLATE_AND_BODY,
            details={"body": ["Leave the text empty when a template is chosen."]},
        )
    if template is None and not body.strip():
        raise ValidationFailed(
            "Write the message or choose a template.", code=CampaignError.NO_TEXT, details={"body": ["Required."]}
        )
    rendering.template_validate(template.body if template is not None else body)


def _validate_schedule(values: dict[str, Any], *, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """Normalise the schedule fields for `values["schedule"]` (the others are cleared)."""
    kind = values["schedule"]
    cleaned: dict[str, Any] = {
        "schedule": kind,
        "scheduled_at": None,
        "send_time": None,
        "weekdays": [],
        "day_of_month": None,
    }

    def refuse(message: str, field: str) -> ValidationFailed:
        return ValidationFailed(message, code=CampaignError.INVALID_SCHEDULE, details={field: [message]})

    if kind == Campaign.Schedule.NOW:
        return cleaned
    if kind == Campaign.Schedule.AT:
        moment = values.get("scheduled_at")
        if not isinstance(moment, datetime.datetime):
            raise refuse("Give the date and time to send at.", "scheduled_at")
        if timezone.is_naive(moment):
            # A time without an offset is the tenant's local time.
            moment = moment.replace(tzinfo=zone)
        cleaned["scheduled_at"] = moment
        return cleaned
    send_time = values.get("send_time")
    if not isinstance(send_time, datetime.time):
        raise refuse("Give the time of day to send at.", "send_time")
    cleaned["send_time"] = send_time.replace(second=0, microsecond=0)
    if kind == Campaign.Schedule.WEEKLY:
        days = values.get("weekdays") or []
        if not days or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days):
            raise refuse("Choose the weekdays (0 = Sunday … 6 = Saturday).", "weekdays")
        cleaned["weekdays"] = sorted(set(days))
    elif kind == Campaign.Schedule.MONTHLY:
        day = values.get("day_of_month")
        # Up to the 28th, so a monthly campaign runs every month.
        if not isinstance(day, int) or not 1 <= day <= 28:
            raise refuse("Choose a day of the month from 1 to 28.", "day_of_month")
        cleaned["day_of_month"] = day
    return cleaned


def _validate_senders(senders: Sequence[SenderChoice]) -> None:
    if len(senders) > MAX_SENDERS:
        raise ValidationFailed(f"A campaign uses at most {MAX_SENDERS} numbers.", code=CampaignError.INVALID_SENDERS)
    ids = [choice.profile.id for choice in senders]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("A number is listed twice.", code=CampaignError.INVALID_SENDERS)
    if any(not 1 <= choice.weight <= 1000 for choice in senders):
        raise ValidationFailed("Weights are whole numbers from 1 to 1000.", code=CampaignError.INVALID_SENDERS)


def _validate_stop_rules(values: dict[str, Any]) -> None:
    rate = values.get("stop_failure_rate")
    if rate is not None and not 0.0 <= rate <= 1.0:
        raise ValidationFailed("The failure rate is a share from 0 to 1.", code="invalid_stop_rule")
    sample = values.get("stop_min_sample")
    if sample is not None and sample < MIN_STOP_SAMPLE:
        raise ValidationFailed("The minimum sample is at least 1 message.", code="invalid_stop_rule")


CAMPAIGN_FIELDS = (
    "name",
    "template",
    "body",
    "audience_all",
    "audience_filter",
    "saved_filter",
    "rotation",
    "pacing_override",
    "schedule",
    "scheduled_at",
    "send_time",
    "weekdays",
    "day_of_month",
    "stop_failure_rate",
    "stop_min_sample",
    "stop_on_ban",
)


def _save_definition(
    campaign: Campaign,
    values: dict[str, Any],
    *,
    groups: Sequence[Group] | None,
    senders: Sequence[SenderChoice] | None,
    zone: zoneinfo.ZoneInfo,
) -> Campaign:
    merged = {field: getattr(campaign, field) for field in CAMPAIGN_FIELDS}
    merged.update({key: value for key, value in values.items() if key in CAMPAIGN_FIELDS})
    merged["body"] = merged["body"] or ""
    merged["audience_filter"] = merged["audience_filter"] or {}
    if not (merged["name"] or "").strip():
        raise ValidationFailed("Name the campaign.", code="invalid", details={"name": ["Required."]})
    merged["name"] = merged["name"].strip()
    _validate_text(merged["template"], merged["body"])
    group_ids = [g.id for g in groups] if groups is not None else list(campaign.groups.values_list("id", flat=True))
    audience.audience_spec(
        group_ids=group_ids,
        everyone=merged["audience_all"],
        audience_filter=merged["audience_filter"],
        saved_filter=merged["saved_filter"],
    )
    if senders is not None:
        _validate_senders(senders)
    _validate_stop_rules(merged)
    merged.update(_validate_schedule(merged, zone=zone))
    for field, value in merged.items():
        setattr(campaign, field, value)
    campaign.save()
    if groups is not None:
        campaign.groups.set(groups)
    if senders is not None:
        CampaignSender.objects.filter(campaign=campaign).delete()
        CampaignSender.objects.bulk_create(
            [CampaignSender(campaign=campaign, profile=c.profile, weight=c.weight) for c in senders]
        )
    return campaign


def campaign_create(
    *,
    name: str,
    groups: Sequence[Group] = (),
    senders: Sequence[SenderChoice] = (),
    created_by_id: int | None = None,
    **values: Any,
) -> Campaign:
    """A draft campaign. Its text (placeholders), audience, numbers, schedule and stop rules are
    validated now, so a start can only fail on what changes later (contacts, numbers, quota)."""
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    zone = current_tenant().zone
    with transaction.atomic():
        campaign = Campaign(name=name, created_by_id=created_by_id)
        _save_definition(campaign, {"name": name, **values}, groups=list(groups), senders=list(senders), zone=zone)
    logger.info("campaign.created", extra={"campaign_id": campaign.id})
    return campaign


def campaign_update(
    *,
    campaign: Campaign,
    groups: Sequence[Group] | None = None,
    senders: Sequence[SenderChoice] | None = None,
    **values: Any,
) -> Campaign:
    """Change a draft or scheduled campaign (a scheduled one is re-scheduled with the change)."""
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        if campaign.state not in EDITABLE_STATES:
            raise Conflict(
                f"A {campaign.get_state_display().lower()} campaign cannot be changed.",
                code=CampaignError.NOT_EDITABLE,
                details={"state": campaign.state},
            )
        _save_definition(
            campaign,
            values,
            groups=list(groups) if groups is not None else None,
            senders=list(senders) if senders is not None else None,
            zone=tenant.zone,
        )
        if campaign.state == S.SCHEDULED:
            _schedule_check(campaign)
            schedule_service.schedule_apply(campaign=campaign, tenant=tenant)
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign that is not sending (its sent messages stay in the ledger)."""
    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        if campaign.state not in DELETABLE_STATES:
            raise Conflict(
                "Pause and cancel the campaign before deleting it.",
                code=CampaignError.NOT_DELETABLE,
                details={"state": campaign.state},
            )
        run = progress.latest_run(campaign)
        if run is not None and progress.run_has_active_rows(run):
            # A cancel still moving a large run's rows, or a message being sent right now.
            raise Conflict(
                "The campaign is still finishing its cancellation; try again in a minute.",
                code=CampaignError.NOT_DELETABLE,
                details={"state": campaign.state},
            )
        schedule_service.schedule_remove(campaign=campaign, tenant=tenant)
        campaign_id = campaign.id
        campaign.delete()
    logger.info("campaign.deleted", extra={"campaign_id": campaign_id})


# --- schedule ------------------------------------------------------------------------------------


def _schedule_check(campaign: Campaign) -> None:
    if campaign.schedule == Campaign.Schedule.NOW:
        raise ValidationFailed(
            "This campaign has no schedule; start it instead.",
            code=CampaignError.INVALID_SCHEDULE,
            details={"schedule": ["Choose a time or a recurrence."]},
        )
    if campaign.schedule == Campaign.Schedule.AT and campaign.scheduled_at <= timezone.now():
        raise ValidationFailed(
            "The send time has passed.",
            code=CampaignError.INVALID_SCHEDULE,
            details={"scheduled_at": ["Choose a time in the future."]},
        )


def campaign_schedule(*, campaign: Campaign) -> Campaign:
    """draft → scheduled: beat fires `campaigns.fire` at the time or on the recurrence."""
    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        _schedule_check(campaign)
        state_move(campaign, S.SCHEDULED)
        schedule_service.schedule_apply(campaign=campaign, tenant=tenant)
        progress.progress_publish(campaign, progress.latest_run(campaign))
    logger.info("campaign.scheduled", extra={"campaign_id": campaign.id, "schedule": campaign.schedule})
    return campaign


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """scheduled → draft: the beat entry is removed."""
    tenant = current_tenant()
    with transaction.atomic():
        campaign = campaign_locked(campaign)
        state_move(campaign, S.DRAFT)
        schedule_service.schedule_remove(campaign=campaign, tenant=tenant)
        progress.progress_publish(campaign, progress.latest_run(campaign))
    return campaign
