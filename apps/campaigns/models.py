"""Message templates, campaigns and campaign runs (tenant schema).

A campaign sends one personalised text to an audience through one or more WhatsApp numbers. Each
start of a campaign is a run (a one-off campaign has one; a recurring one a new run per
occurrence): the run's materialization writes one `senders.OutboundMessage` ledger row per
recipient — queued, or skipped with the reason — and those rows *are* the per-recipient record
(`campaign_id` = the campaign, `recipient_ref` = the contact id, ids between the run's
`first_message_id` and `last_message_id`). See apps/campaigns/services/ for the rules.

The sending engine reads `campaigns_campaign.state` in raw SQL (its claim only takes rows of
campaigns that are running): that column keeps its name and values.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from apps.senders.models import PacingPreset

TEMPLATE_NAME_MAX_LENGTH = 120


class TemplateCategory(models.TextChoices):
    ORDER = "order", _("Order update")
    REMINDER = "reminder", _("Reminder")
    PROMO = "promo", _("Promotion")
    FEEDBACK = "feedback", _("Feedback request")
    CUSTOM = "custom", _("Custom")


def template_media_upload_to(instance: MessageTemplate, filename: str) -> str:
    from django.db import connection

    return f"templates/{connection.schema_name}/{filename}"


class MessageTemplate(models.Model):
    """A reusable text with placeholders and spintax (apps.campaigns.rendering)."""

    name = models.CharField(_("name"), max_length=TEMPLATE_NAME_MAX_LENGTH)
    category = models.CharField(
        _("category"), max_length=16, choices=TemplateCategory.choices, default=TemplateCategory.CUSTOM
    )
    body = models.TextField(_("text"))
    media = models.FileField(_("media attachment"), upload_to=template_media_upload_to, max_length=300, blank=True)
    is_builtin = models.BooleanField(_("built in"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="campaign_template_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


# Pacing presets a campaign may impose on its numbers (a custom gap is a number's own setting).
CAMPAIGN_PACING_CHOICES = [(value, label) for value, label in PacingPreset.choices if value != PacingPreset.CUSTOM]


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class Rotation(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        WEIGHTED = "weighted", _("Weighted")
        STICKY = "sticky", _("Same number per contact")

    class Schedule(models.TextChoices):
        NOW = "now", _("When started")
        AT = "at", _("Once, at a set time")
        DAILY = "daily", _("Every day")
        WEEKLY = "weekly", _("Every week")
        MONTHLY = "monthly", _("Every month")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    # The text when no template is chosen (a template's text is read when a run starts).
    body = models.TextField(_("text"), blank=True)

    # Audience: members of any of `groups` (an uploaded list is imported into a group), or every
    # contact when `audience_all`; narrowed by `audience_filter` and `saved_filter`
    # (services.audience).
    groups = models.ManyToManyField("contacts.Group", blank=True, related_name="campaigns")
    audience_all = models.BooleanField(_("all contacts"), default=False)
    audience_filter = models.JSONField(_("filter"), default=dict, blank=True)
    # A saved filter (contacts.SavedFilter), read when each run starts; both filters apply.
    saved_filter = models.ForeignKey(
        "contacts.SavedFilter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # refused while an unfinished campaign uses it (services)
        related_name="campaigns",
        verbose_name=_("saved filter"),
    )

    profiles = models.ManyToManyField(
        "senders.SenderProfile", through="CampaignSender", blank=True, related_name="campaigns"
    )
    rotation = models.CharField(_("rotation"), max_length=16, choices=Rotation.choices, default=Rotation.ROUND_ROBIN)
    pacing_override = models.CharField(_("pacing override"), max_length=16, choices=CAMPAIGN_PACING_CHOICES, blank=True)

    schedule = models.CharField(_("schedule"), max_length=8, choices=Schedule.choices, default=Schedule.NOW)
    # AT: the moment (stored in UTC; given and shown in the tenant's time zone).
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    # DAILY / WEEKLY / MONTHLY: the tenant-local time of day, the weekdays (0 = Sunday, as in
    # crontab) and the day of the month.
    send_time = models.TimeField(_("time of day"), null=True, blank=True)
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True)
    day_of_month = models.PositiveSmallIntegerField(
        _("day of month"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )

    # Stop rules: pause when the share of failed sends passes `stop_failure_rate` once at least
    # `stop_min_sample` messages were attempted, and (when `stop_on_ban`) when a number is banned.
    stop_failure_rate = models.FloatField(
        _("pause above failure rate"), default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    stop_min_sample = models.PositiveIntegerField(_("after at least this many sends"), default=50)
    stop_on_ban = models.BooleanField(_("pause when a number is banned"), default=True)

    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    state_reason = models.CharField(_("why"), max_length=40, blank=True)
    state_detail = models.CharField(_("detail"), max_length=300, blank=True)
    # Users live in the public schema; the id is kept without a cross-schema foreign key.
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state"], name="campaign_state")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return self.schedule in (self.Schedule.DAILY, self.Schedule.WEEKLY, self.Schedule.MONTHLY)


class CampaignSender(models.Model):
    """A WhatsApp number a campaign sends from, with its share under weighted rotation."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="senders")
    profile = models.ForeignKey("senders.SenderProfile", on_delete=models.CASCADE, related_name="campaign_senders")
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            # An expression index, like contacts' memberships: survives the template clone.
            models.UniqueConstraint(models.F("campaign"), models.F("profile"), name="campaign_sender_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} via {self.profile_id}"


class CampaignRun(models.Model):
    """One start of a campaign: its ledger rows and their counts."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField(_("run"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    trigger = models.CharField(_("started by"), max_length=16, default="manual")  # manual | schedule
    body = models.TextField(_("text"), blank=True)  # the template text this run rendered

    # Written by the materialization (its ledger rows are ids first..last of this campaign).
    first_message_id = models.BigIntegerField(null=True, blank=True)
    last_message_id = models.BigIntegerField(null=True, blank=True)
    audience_matches = models.PositiveIntegerField(_("audience matches"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates removed"), default=0)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    queued_initially = models.PositiveIntegerField(_("queued"), default=0)
    skipped_opted_out = models.PositiveIntegerField(_("skipped: opted out"), default=0)
    skipped_suppressed = models.PositiveIntegerField(_("skipped: suppressed"), default=0)
    skipped_too_long = models.PositiveIntegerField(_("skipped: text too long"), default=0)
    quota_note = models.CharField(_("quota note"), max_length=300, blank=True)
    # The numbers the run's rows were given (a resume moves rows off those that can no longer send).
    profile_ids = models.JSONField(default=list, blank=True)

    # Live, from the periodic roll-up of the ledger (services.progress).
    counts = models.JSONField(_("messages per state"), default=dict, blank=True)
    rate_per_s = models.FloatField(_("messages per second"), default=0.0)
    eta_s = models.FloatField(_("seconds left"), null=True, blank=True)
    rolled_up_at = models.DateTimeField(null=True, blank=True)
    done_at_rollup = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    materialized_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    materialize_s = models.FloatField(_("materialization seconds"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(models.F("campaign"), models.F("number"), name="campaign_run_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} run {self.number} ({self.state})"

    @property
    def is_materialized(self) -> bool:
        return self.materialized_at is not None
