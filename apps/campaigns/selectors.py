"""Reads of campaigns and templates for the API and pages (current tenant schema)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.campaigns.models import Campaign, CampaignRun, CampaignSender, MessageTemplate
from apps.campaigns.services import audience, progress
from apps.campaigns.services.campaigns import current_tenant
from apps.campaigns.services.errors import CampaignError
from apps.contacts.resources import tenant_region
from apps.contacts.services.phones import normalise_phone
from apps.core.exceptions import NotFound
from apps.senders.models import OutboundMessage


def templates_list(*, category: str | None = None) -> QuerySet[MessageTemplate]:
    templates = MessageTemplate.objects.all()
    if category:
        templates = templates.filter(category=category)
    return templates


def campaigns_list(*, state: str | None = None) -> QuerySet[Campaign]:
    campaigns = Campaign.objects.prefetch_related(
        "groups", Prefetch("senders", queryset=CampaignSender.objects.order_by("profile_id"))
    ).select_related("template")
    if state:
        campaigns = campaigns.filter(state=state)
    return campaigns


def campaign_detail(*, campaign_id: int) -> Campaign:
    campaign = campaigns_list().filter(id=campaign_id).first()
    if campaign is None:
        raise NotFound("No such campaign.", code=CampaignError.CAMPAIGN_NOT_FOUND)
    return campaign


def campaign_runs(*, campaign: Campaign) -> QuerySet[CampaignRun]:
    return campaign.runs.all()


def campaign_run(*, campaign: Campaign, run_id: int | None) -> CampaignRun | None:
    """The given run of the campaign (NotFound when it is another campaign's), or its latest."""
    if run_id is None:
        return progress.latest_run(campaign)
    run = campaign.runs.filter(id=run_id).first()
    if run is None:
        raise NotFound("No such run of this campaign.", code="run_not_found")
    return run


def recipients(*, run: CampaignRun | None, state: str | None = None, number: str = "") -> QuerySet[OutboundMessage]:
    """The run's ledger rows (one per recipient), optionally in one state and/or to `number`:
    a whole number as the contacts list reads it (with the workspace's region: "098765 43210"),
    else digits the number starts with ("+9198") or contains ("43210")."""
    if run is None:
        return OutboundMessage.objects.none()
    rows = progress.run_rows(run)
    if state:
        rows = rows.filter(state=state)
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits:
        e164, _error = normalise_phone(number, tenant_region())
        if e164 is not None:
            rows = rows.filter(to_number=e164)
        elif number.strip().startswith("+"):
            rows = rows.filter(to_number__startswith="+" + digits)
        else:
            rows = rows.filter(to_number__contains=digits)
    return rows


@dataclass(frozen=True)
class CampaignStats:
    campaign: Campaign
    run: CampaignRun | None
    progress: dict[str, Any]
    audience: audience.AudienceSummary | None


def campaign_stats(*, campaign: Campaign, run_id: int | None = None, fresh: bool = True) -> CampaignStats:
    """Counts per state, rate and ETA of a run (the latest by default), recounted from the ledger
    when `fresh`; for a campaign that has not run yet, how many contacts its audience has now."""
    run = campaign_run(campaign=campaign, run_id=run_id)
    if run is not None and fresh and run.is_materialized:
        # Counts as of now (not saved: the run's tick owns the stored counters and the rate).
        run.counts = progress.run_counts(run)
    summary = None
    if run is None:
        spec = audience.campaign_audience_spec(campaign)
        summary = audience.audience_summary(spec, zone=current_tenant().zone)
    return CampaignStats(campaign=campaign, run=run, progress=progress.progress_event(campaign, run), audience=summary)


def preview_contacts(*, limit: int) -> list[tuple[int, str]]:
    """The newest contacts (id, label) to preview a text as, for the portal's chooser."""
    from apps.contacts.models import Contact

    rows = Contact.objects.order_by("-id").values_list("id", "name", "phone")[:limit]
    return [(contact_id, f"{name} ({phone})" if name else phone) for contact_id, name, phone in rows]


@dataclass(frozen=True)
class CampaignEstimate:
    """What the builder's review shows before a campaign is created."""

    audience: audience.AudienceSummary
    numbers: int
    # Seconds to send to everyone sendable at the numbers' mean pacing gaps, rows split evenly.
    duration_s: int


def campaign_estimate(
    *,
    group_ids: list[int],
    everyone: bool,
    profiles: list[Any],
    pacing_override: str = "",
    saved_filter: Any = None,
    weights: list[int] | None = None,
) -> CampaignEstimate:
    """Audience counts and a duration: each number sends its share (equal, or by `weights` for
    weighted rotation) at its mean pacing gap; the slowest number sets the duration."""
    import math

    from apps.senders.models import PACING_PRESETS

    spec = audience.audience_spec(group_ids=group_ids, everyone=everyone, audience_filter={}, saved_filter=saved_filter)
    summary = audience.audience_summary(spec, zone=current_tenant().zone)
    gaps = [
        sum(PACING_PRESETS[pacing_override]) / 2 if pacing_override else sum(profile.pacing_gap_s) / 2
        for profile in profiles
    ]
    shares = weights if weights and len(weights) == len(gaps) else [1] * len(gaps)
    total = sum(shares)
    duration = (
        max(round(math.ceil(summary.sendable * share / total) * gap) for share, gap in zip(shares, gaps, strict=True))
        if gaps
        else 0
    )
    return CampaignEstimate(audience=summary, numbers=len(gaps), duration_s=duration)
