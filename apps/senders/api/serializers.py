"""Shapes of the sending engine's API: WhatsApp numbers (profiles), messages, opt-out words.

Input serializers check types and ranges only; the rules that span fields (pacing min ≤ max,
quiet hours in pairs, proxy schemes, plan limits, idempotency) live in the services, which the
views call. A profile's proxy URL is write-only (it may hold credentials) and its browser
session is never part of any shape.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.senders import selectors
from apps.senders.models import MessageState, OptOutKeyword, OutboundMessage, SenderProfile
from apps.senders.services.profiles import EDITABLE_FIELDS

# Longest warm-up ramp accepted: a quarter of a year of daily caps is already generous.
WARMUP_RAMP_MAX_DAYS = 90


class ProfileSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    has_proxy = serializers.SerializerMethodField(help_text="Whether the number sends through a proxy.")
    proxy_server = serializers.SerializerMethodField(
        help_text="The proxy as scheme://host:port, without credentials; null without a proxy."
    )

    class Meta:
        model = SenderProfile
        fields = [
            "id",
            "label",
            "phone",
            "status",
            "status_label",
            "status_detail",
            "has_proxy",
            "proxy_server",
            *(name for name in EDITABLE_FIELDS if name != "label"),
            "paused_until",
            "last_activity_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_proxy(self, profile: SenderProfile) -> bool:
        return bool(profile.proxy_encrypted)

    def get_proxy_server(self, profile: SenderProfile) -> str | None:
        return selectors.profile_proxy_server(profile)


class ProfileUpdateSerializer(serializers.ModelSerializer):
    """PATCH (used with partial=True): any subset of the settings. `proxy_url` "" removes the proxy."""

    proxy_url = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=500,
        help_text="http://, https:// or socks5://[user:password@]host:port; empty removes it. Never returned.",
    )
    warmup_ramp = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=WARMUP_RAMP_MAX_DAYS,
        required=False,
        help_text="Daily caps for the first days of a new number; the last one holds until warm-up ends.",
    )

    class Meta:
        model = SenderProfile
        fields = [*EDITABLE_FIELDS, "proxy_url"]


class ProfileCreateSerializer(ProfileUpdateSerializer):
    link = serializers.BooleanField(
        default=True, help_text="Start linking at once: a worker opens WhatsApp Web and the QR code appears."
    )

    class Meta(ProfileUpdateSerializer.Meta):
        fields = [*ProfileUpdateSerializer.Meta.fields, "link"]


class ProfileStatusSerializer(serializers.Serializer):
    profile_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SenderProfile.Status.choices)
    status_label = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    paused_until = serializers.DateTimeField(allow_null=True)
    qr_available = serializers.BooleanField(help_text="Whether GET …/qr has a QR code to show right now.")


class MessageSerializer(serializers.ModelSerializer):
    to = serializers.CharField(source="to_number", read_only=True, help_text="E.164")
    text = serializers.CharField(source="body", read_only=True)

    class Meta:
        model = OutboundMessage
        fields = [
            "id",
            "profile",
            "to",
            "text",
            "state",
            "attempts",
            "error_code",
            "error_detail",
            "created_at",
            "queued_at",
            "sending_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "next_attempt_at",
        ]
        read_only_fields = fields


class MessageHistorySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=MessageState.choices)
    at = serializers.DateTimeField()
    detail = serializers.CharField(allow_blank=True)


class MessageDetailSerializer(MessageSerializer):
    history = MessageHistorySerializer(many=True, read_only=True, help_text="State changes, oldest first.")

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "history"]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    to = serializers.CharField(
        max_length=40, help_text="Phone number; without +country it is read in the workspace's default region."
    )
    # Emptiness and length are the ledger's to judge (codes empty_text, text_too_long).
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    profile = serializers.PrimaryKeyRelatedField(
        queryset=selectors.profiles_list(),
        required=False,
        allow_null=True,
        help_text="Send from this WhatsApp number; by default the connected one with the least queued work.",
    )


class MessageFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=MessageState.choices, required=False)
    profile = serializers.IntegerField(min_value=1, required=False, help_text="WhatsApp number (profile) id")
    to = serializers.CharField(max_length=40, required=False, help_text="Recipient phone number")


class OptOutWordSerializer(serializers.ModelSerializer):
    class Meta:
        model = OptOutKeyword
        fields = ["id", "word", "created_at"]
        read_only_fields = fields


class OptOutWordCreateSerializer(serializers.Serializer):
    word = serializers.CharField(
        max_length=200, help_text='Stored case-folded without surrounding punctuation ("Stop!" → "stop").'
    )
