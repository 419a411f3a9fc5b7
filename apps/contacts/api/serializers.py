"""Request and response shapes of the contacts API."""

from __future__ import annotations

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.contacts.models import Contact, ContactExport, Group, ImportJob
from apps.contacts.services.contacts import BULK_MAX_CONTACTS

# Named for drf-spectacular (ENUM_NAME_OVERRIDES): "state" is also the ledger's field.
IMPORT_STATE_CHOICES = ImportJob.State.choices
CONTACT_EXPORT_STATE_CHOICES = ContactExport.State.choices


class ContactSerializer(serializers.ModelSerializer):
    groups = serializers.SerializerMethodField()
    is_opted_out = serializers.BooleanField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "name",
            "email",
            "language",
            "custom_fields",
            "groups",
            "consent_status",
            "consent_source",
            "consented_at",
            "is_opted_out",
            "opted_out_at",
            "opted_out_reason",
            "opted_out_via",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_groups(self, contact: Contact) -> list[int]:
        return sorted(m.group_id for m in contact.memberships.all())


class ContactWriteSerializer(serializers.ModelSerializer):
    groups = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), many=True, required=False)

    class Meta:
        model = Contact
        fields = ["phone", "name", "email", "language", "custom_fields", "consent_status", "consent_source", "groups"]
        extra_kwargs = {"phone": {"validators": []}}

    def validate_custom_fields(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Custom fields are a JSON object.")
        return value


class ContactOptOutSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=Contact._meta.get_field("opted_out_reason").max_length,
        help_text="Why, in a few words (shown with the contact).",
    )


class ContactFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    group = serializers.IntegerField(required=False, min_value=1)
    opted_out = serializers.BooleanField(required=False, allow_null=True, default=None)
    saved_filter = serializers.IntegerField(
        required=False, min_value=1, help_text="A saved filter's id (/api/v1/saved-filters)."
    )

    def contact_filters(self) -> dict:
        """Keyword arguments of selectors.contacts_list for the validated filters."""
        data = self.validated_data
        return {
            "search": data.get("q", ""),
            "group_id": data.get("group"),
            "opted_out": data.get("opted_out"),
            "saved_filter_id": data.get("saved_filter"),
        }


class ContactExportRequestSerializer(ContactFilterSerializer):
    file_format = serializers.ChoiceField(choices=ContactExport.Format.choices, default=ContactExport.Format.CSV)


class ContactExportSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True)
    has_file = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = ContactExport
        fields = [
            "id",
            "file_format",
            "filters",
            "state",
            "rows_total",
            "rows_done",
            "progress",
            "has_file",
            "file_url",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_has_file(self, export: ContactExport) -> bool:
        return export.state == ContactExport.State.COMPLETED and bool(export.file)

    def get_file_url(self, export: ContactExport) -> str | None:
        """Where the finished file is downloaded (null until then, and once expired)."""
        return f"/api/v1/contacts/exports/{export.id}/file" if self.get_has_file(export) else None


class BulkItemSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=64)
    name = serializers.CharField(required=False, allow_blank=True, max_length=500)
    email = serializers.CharField(required=False, allow_blank=True, max_length=500)
    language = serializers.CharField(required=False, allow_blank=True, max_length=64)
    consent = serializers.CharField(required=False, allow_blank=True, max_length=32)
    opted_out = serializers.BooleanField(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    custom_fields = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class BulkUpsertSerializer(serializers.Serializer):
    contacts = BulkItemSerializer(many=True, max_length=BULK_MAX_CONTACTS, allow_empty=False)
    mode = serializers.ChoiceField(choices=ImportJob.Mode.choices, default=ImportJob.Mode.UPDATE)
    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), required=False, allow_null=True)


class BulkErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    error = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = BulkErrorSerializer(many=True)


class GroupSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Group
        fields = ["id", "name", "description", "contact_count", "created_at"]
        read_only_fields = ["id", "contact_count", "created_at"]


class ImportJobSerializer(serializers.ModelSerializer):
    group = serializers.PrimaryKeyRelatedField(read_only=True)
    has_error_file = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "original_name",
            "format",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "mode",
            "group",
            "state",
            "processed_rows",
            "progress",
            "total_rows",
            "created_count",
            "updated_count",
            "unchanged_count",
            "skipped_count",
            "duplicate_count",
            "error_count",
            "rows_per_s",
            "has_error_file",
            "failure",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_has_error_file(self, job: ImportJob) -> bool:
        return bool(job.error_file)


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.Field):
    """A JSON object sent as a form field of a multipart upload (or as JSON)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError("Not valid JSON.") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise serializers.ValidationError('A JSON object of field → column, e.g. {"phone": "Mobile"}.')
        return data

    def to_representation(self, value):
        return value


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    mapping = JSONObjectField(required=False)
    mode = serializers.ChoiceField(choices=ImportJob.Mode.choices, default=ImportJob.Mode.UPDATE)
    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), required=False, allow_null=True)
    delimiter = serializers.ChoiceField(choices=[",", ";", "\t", "|"], required=False)


class ImportPreviewRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    delimiter = serializers.ChoiceField(choices=[",", ";", "\t", "|"], required=False)


class ImportPreviewSerializer(serializers.Serializer):
    format = serializers.CharField()
    encoding = serializers.CharField()
    delimiter = serializers.CharField()
    headers = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    mapping = serializers.DictField(child=serializers.CharField())
