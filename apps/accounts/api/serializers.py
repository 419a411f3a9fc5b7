"""Shapes of the accounts API: tokens, /me and API keys."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import ApiKey
from apps.accounts.services.api_keys import KEY_ROLE_CHOICES


class SignInSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})

    def validate_email(self, value: str) -> str:
        # Stored lower-case (UserManager), matched like the portal's login form.
        return value.strip().lower()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Access token, valid 15 minutes on this workspace only.")
    refresh = serializers.CharField(help_text="Refresh token, valid 7 days, usable once (rotated).")


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class MeUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()


class MeTenantSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()


class MePlanSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class MeApiKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    """Exactly one of `user` and `api_key` is set, by how the request signed in."""

    user = MeUserSerializer(allow_null=True)
    api_key = MeApiKeySerializer(allow_null=True)
    tenant = MeTenantSerializer()
    role = serializers.CharField(allow_null=True, help_text="owner, admin, agent or viewer; null for platform staff.")
    plan = MePlanSerializer(allow_null=True)


class ApiKeySerializer(serializers.ModelSerializer):
    # Plain text on output: one enum (the creatable roles) in the schema, not two colliding ones.
    role = serializers.CharField(read_only=True, help_text="admin, agent or viewer")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "role", "is_active", "created_by", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    # OpenAPI names this enum ApiKeyRoleEnum (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
    role = serializers.ChoiceField(choices=KEY_ROLE_CHOICES, default="admin")


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key. Shown once: store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
