"""Request and response shapes of the campaigns and templates API.

Input serializers check types only; the rules (placeholders, audience, schedule, numbers, state
machine, quotas) live in the services the views call."""

from __future__ import annotations

import datetime

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.campaigns import rendering
from apps.campaigns.models import CAMPAIGN_PACING_CHOICES, Campaign, CampaignRun, MessageTemplate, TemplateCategory
from apps.campaigns.services.campaigns import campaign_text
from apps.contacts.models import Group, SavedFilter
from apps.senders.models import MessageState, OutboundMessage, SenderProfile

# Named for drf-spectacular (ENUM_NAME_OVERRIDES): several models have a "state".
CAMPAIGN_STATE_CHOICES = Campaign.State.choices
CAMPAIGN_RUN_STATE_CHOICES = CampaignRun.State.choices


# --- templates ------------------------------------------------------------------------------------


class TemplateSerializer(serializers.ModelSerializer):
    placeholders = serializers.SerializerMethodField(help_text="Placeholders the text uses, in order.")
    has_spintax = serializers.SerializerMethodField()
    media_name = serializers.SerializerMethodField(help_text="File name of the attachment; null without one.")

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "category",
            "body",
            "media_name",
            "placeholders",
            "has_spintax",
            "is_builtin",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_placeholders(self, template: MessageTemplate) -> list[str]:
        return list(rendering.template_compile(template.body).fields)

    def get_has_spintax(self, template: MessageTemplate) -> bool:
        return rendering.template_compile(template.body).has_spintax

    def get_media_name(self, template: MessageTemplate) -> str | None:
        return template.media.name.rsplit("/", 1)[-1] if template.media else None


class TemplateWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=MessageTemplate._meta.get_field("name").max_length)
    category = serializers.ChoiceField(choices=TemplateCategory.choices, default=TemplateCategory.CUSTOM)
    body = serializers.CharField(trim_whitespace=False, max_length=rendering.MAX_TEMPLATE_CHARS)
    media = serializers.FileField(required=False, help_text="Optional image, video or document (multipart).")
    remove_media = serializers.BooleanField(required=False, default=False, help_text="PATCH: drop the attachment.")


class PreviewSampleSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=20)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    custom = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class PreviewRequestSerializer(serializers.Serializer):
    body = serializers.CharField(
        required=False, trim_whitespace=False, max_length=rendering.MAX_TEMPLATE_CHARS, help_text="Text to render."
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), required=False, help_text="Or a saved template's text."
    )
    contact = serializers.IntegerField(required=False, help_text="Render for this contact…")
    sample = PreviewSampleSerializer(required=False, help_text="…or for these values.")
    seed = serializers.IntegerField(required=False, min_value=0, help_text="Another spintax variant.")

    def validate(self, attrs):
        if ("body" in attrs) == ("template" in attrs):
            raise serializers.ValidationError("Give either body or template.")
        return attrs


class CampaignPreviewRequestSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False)
    sample = PreviewSampleSerializer(required=False)
    seed = serializers.IntegerField(required=False, min_value=0)


class PreviewSerializer(serializers.Serializer):
    text = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField(), help_text="Placeholders in the text.")
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Placeholders without a value here (their fallback was used)."
    )
    length = serializers.IntegerField()


# --- campaigns ------------------------------------------------------------------------------------


class TenantDateTimeField(serializers.DateTimeField):
    """An ISO date-time; one without an offset is the workspace's local time (the service
    applies the tenant's time zone), not the server's."""

    def to_internal_value(self, value):
        if isinstance(value, datetime.datetime):
            return value
        parsed = parse_datetime(str(value)) if isinstance(value, str) else None
        if parsed is None:
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss][+HH:MM]")
        return parsed


class SenderChoiceSerializer(serializers.Serializer):
    profile = serializers.PrimaryKeyRelatedField(queryset=SenderProfile.objects.all())
    weight = serializers.IntegerField(min_value=1, max_value=1000, default=1)


class CampaignWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), allow_null=True, required=False
    )
    body = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=rendering.MAX_TEMPLATE_CHARS
    )
    groups = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), many=True, required=False)
    audience_all = serializers.BooleanField(required=False)
    audience_filter = serializers.JSONField(
        required=False,
        help_text=(
            '{"match": "all"|"any", "rules": [{"field", "op", "value"}]}. Fields: language, consent (eq, ne, in); '
            "name, email (eq, contains, exists, not_exists); custom.<key> (eq, ne, in, contains, exists, "
            "not_exists); created_at (after, before: a date in the workspace's time zone or a date-time). "
            "Narrows the groups' members, or all contacts when no group is given."
        ),
    )
    saved_filter = serializers.PrimaryKeyRelatedField(
        queryset=SavedFilter.objects.all(),
        allow_null=True,
        required=False,
        help_text="A saved filter (/api/v1/saved-filters), read when each run starts; applies with audience_filter.",
    )
    senders = SenderChoiceSerializer(many=True, required=False)
    rotation = serializers.ChoiceField(choices=Campaign.Rotation.choices, required=False)
    pacing_override = serializers.ChoiceField(choices=CAMPAIGN_PACING_CHOICES, allow_blank=True, required=False)
    schedule = serializers.ChoiceField(choices=Campaign.Schedule.choices, required=False)
    scheduled_at = TenantDateTimeField(required=False, allow_null=True)
    send_time = serializers.TimeField(required=False, allow_null=True)
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), required=False)
    day_of_month = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=28)
    stop_failure_rate = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    stop_min_sample = serializers.IntegerField(required=False, min_value=1)
    stop_on_ban = serializers.BooleanField(required=False)


class SenderSerializer(serializers.Serializer):
    profile = serializers.IntegerField(source="profile_id")
    weight = serializers.IntegerField()


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignRun
        fields = [
            "id",
            "number",
            "state",
            "trigger",
            "recipients",
            "audience_matches",
            "duplicates",
            "queued_initially",
            "skipped_opted_out",
            "skipped_suppressed",
            "skipped_too_long",
            "counts",
            "rate_per_s",
            "eta_s",
            "quota_note",
            "created_at",
            "materialized_at",
            "finished_at",
        ]
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField(help_text="The text a run renders (the template's or its own).")
    groups = serializers.SerializerMethodField()
    senders = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "state",
            "state_reason",
            "state_detail",
            "template",
            "body",
            "text",
            "groups",
            "audience_all",
            "audience_filter",
            "saved_filter",
            "senders",
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_text(self, campaign: Campaign) -> str:
        return campaign_text(campaign)

    def get_groups(self, campaign: Campaign) -> list[int]:
        return sorted(group.id for group in campaign.groups.all())

    @extend_schema_field(SenderSerializer(many=True))
    def get_senders(self, campaign: Campaign) -> list[dict]:
        return SenderSerializer(campaign.senders.all(), many=True).data


class RecipientSerializer(serializers.ModelSerializer):
    """One recipient of a run: its ledger row."""

    message = serializers.IntegerField(source="id", help_text="The message id (GET /api/v1/messages/{id}).")
    contact = serializers.SerializerMethodField()
    to = serializers.CharField(source="to_number")
    text = serializers.CharField(source="body")
    state = serializers.ChoiceField(choices=MessageState.choices)

    class Meta:
        model = OutboundMessage
        fields = [
            "message",
            "contact",
            "to",
            "profile",
            "state",
            "text",
            "error_code",
            "error_detail",
            "attempts",
            "queued_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
        ]
        read_only_fields = fields

    def get_contact(self, message: OutboundMessage) -> int | None:
        return int(message.recipient_ref) if message.recipient_ref.isdigit() else None


class RecipientFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=MessageState.choices, required=False)
    run = serializers.IntegerField(required=False, help_text="A run of this campaign (default: the latest).")


class StatsFilterSerializer(serializers.Serializer):
    run = serializers.IntegerField(required=False, help_text="A run of this campaign (default: the latest).")


class CampaignListFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=CAMPAIGN_STATE_CHOICES, required=False)


class AudienceSummarySerializer(serializers.Serializer):
    contacts = serializers.IntegerField()
    sendable = serializers.IntegerField()
    opted_out = serializers.IntegerField()
    suppressed = serializers.IntegerField()


class RatesSerializer(serializers.Serializer):
    sent = serializers.FloatField(allow_null=True, help_text="Went out, of those attempted.")
    failed = serializers.FloatField(allow_null=True, help_text="Failed (or invalid number), of those attempted.")
    delivered = serializers.FloatField(allow_null=True, help_text="Delivered or read, of those that went out.")
    read = serializers.FloatField(allow_null=True, help_text="Read, of those that went out.")


class StatsSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(source="campaign.id")
    state = serializers.ChoiceField(source="campaign.state", choices=CAMPAIGN_STATE_CHOICES)
    reason = serializers.CharField(source="campaign.state_reason")
    detail = serializers.CharField(source="campaign.state_detail")
    run = RunSerializer(allow_null=True)
    pending = serializers.SerializerMethodField(help_text="Rows still to be decided (queued, sending, held).")
    rates = RatesSerializer(
        source="progress.run.rates",
        allow_null=True,
        default=None,
        help_text="Shares of the run's messages (0–1; null until there is something to divide by).",
    )
    audience = AudienceSummarySerializer(
        allow_null=True, help_text="Before the first run: the audience's contacts now, and how many would be skipped."
    )

    @extend_schema_field(OpenApiTypes.INT)
    def get_pending(self, stats) -> int:
        run = stats.progress.get("run")
        return run["pending"] if run else 0
