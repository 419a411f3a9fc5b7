"""Error codes of the campaigns domain (rendered by the API in the one error shape)."""

from __future__ import annotations

from enum import StrEnum


class CampaignError(StrEnum):
    ILLEGAL_TRANSITION = "illegal_transition"
    NOT_EDITABLE = "campaign_not_editable"
    NOT_DELETABLE = "campaign_not_deletable"
    NO_TEXT = "no_text"
    TEMPLATE_AND_BODY = "template_or_body"
    NO_AUDIENCE = "no_audience"
    INVALID_FILTER = "invalid_filter"
    INVALID_SCHEDULE = "invalid_schedule"
    INVALID_SENDERS = "invalid_senders"
    NO_SENDER = "no_sender_profile"
    CAMPAIGN_NOT_FOUND = "campaign_not_found"
    TEMPLATE_NOT_FOUND = "template_not_found"
    TEMPLATE_EXISTS = "template_exists"
    TEMPLATE_IN_USE = "template_in_use"
    CONTACT_NOT_FOUND = "contact_not_found"
    RUN_IN_PROGRESS = "run_in_progress"
    AUDIENCE_IMPORTING = "audience_importing"
