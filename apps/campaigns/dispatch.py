"""What the sender host asks the campaigns app while it sends (apps.senders.host).

Kept apart from the services so the host imports nothing but this small, read-only module.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from apps.campaigns.models import Campaign
from apps.senders.models import OutboundMessage, SenderProfile


def campaign_pacing_for_batch(
    profile: SenderProfile, messages: Sequence[OutboundMessage]
) -> tuple[SenderProfile, list[OutboundMessage]]:
    """The pacing to send `messages` (a profile's next due rows, in order) with, and how many of
    them to send under it.

    A campaign's pacing override replaces the number's own gap preset for that campaign's rows
    (its daily cap, warm-up, quiet hours and per-contact cap still apply: they protect the
    number, not the campaign). The batch is cut at the first row whose pacing differs from the
    first row's, and to one row when that pacing has a gap (one message per reservation, as
    the host does for paced numbers). Returns the profile unchanged when nothing is overridden."""
    campaign_ids = {m.campaign_id for m in messages if m.campaign_id is not None}
    overrides = dict(
        Campaign.objects.filter(id__in=campaign_ids).exclude(pacing_override="").values_list("id", "pacing_override")
    )
    if not overrides:
        return profile, list(messages)

    def preset_of(message: OutboundMessage) -> str:
        return overrides.get(message.campaign_id, profile.pacing_preset)

    first = preset_of(messages[0])
    batch: list[OutboundMessage] = []
    for message in messages:
        if preset_of(message) != first:
            break
        batch.append(message)
    if first == profile.pacing_preset:
        paced = profile
    else:
        paced = copy.copy(profile)
        paced.pacing_preset = first
    if paced.pacing_gap_s[1] > 0:
        batch = batch[:1]
    return paced, batch
