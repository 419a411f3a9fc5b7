"""Contacts in the workspace admin (apps.core.tenant_admin, tenant hosts only): contacts and
groups with django-import-export's import and export through the same resources the portal's
exports use (formula cells neutralised, numbers normalised to E.164 with the workspace's
region), the suppression list and saved filters. Large files belong in the portal's import,
which streams through COPY; the admin import suits corrections of a few thousand rows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from import_export.admin import ImportExportModelAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from apps.contacts.models import Contact, Group, SavedFilter, SuppressedNumber
from apps.contacts.resources import ContactResource, GroupResource, tenant_region
from apps.contacts.services import suppression
from apps.contacts.services.phones import normalise_phone
from apps.core.tenant_admin import TenantSchemaOnlyMixin, tenant_admin_site


class _ImportExportAdmin(TenantSchemaOnlyMixin, ImportExportModelAdmin, ModelAdmin):
    import_form_class = ImportForm
    export_form_class = ExportForm


@admin.register(Contact, site=tenant_admin_site)
class ContactAdmin(_ImportExportAdmin):
    resource_classes = [ContactResource]
    list_display = ["phone", "name", "email", "language", "consent_status", "opted_out_at", "created_at"]
    list_filter = ["consent_status", "language"]
    search_fields = ["phone", "name", "email"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["-id"]
    # The table may hold a million rows: no full count on every page.
    show_full_result_count = False

    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_resource_kwargs(request, *args, **kwargs), "region": request.tenant.default_region}


@admin.register(Group, site=tenant_admin_site)
class GroupAdmin(_ImportExportAdmin):
    resource_classes = [GroupResource]
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]
    ordering = ["name"]


class SuppressedNumberForm(forms.ModelForm):
    class Meta:
        model = SuppressedNumber
        fields = ["phone", "reason"]

    def clean_phone(self) -> str:
        e164, why = normalise_phone(self.cleaned_data["phone"], tenant_region())
        if e164 is None:
            raise forms.ValidationError(f"Invalid phone number: {why}.")
        return e164


@admin.register(SuppressedNumber, site=tenant_admin_site)
class SuppressedNumberAdmin(TenantSchemaOnlyMixin, ModelAdmin):
    """Adds go through the service like the portal's: the number is normalised and messages
    waiting for it are skipped at once. The number of an entry is fixed (remove it instead)."""

    form = SuppressedNumberForm
    list_display = ["phone", "reason", "created_at"]
    search_fields = ["phone", "reason"]
    ordering = ["-id"]

    def get_readonly_fields(self, request: HttpRequest, obj: SuppressedNumber | None = None) -> list[str]:
        return ["phone", "created_at"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: SuppressedNumber, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["reason"])
            return
        added = suppression.suppression_add(phone=obj.phone, reason=obj.reason)
        obj.pk, obj.phone = added.suppressed.pk, added.suppressed.phone

    def delete_model(self, request: HttpRequest, obj: SuppressedNumber) -> None:
        suppression.suppression_remove(suppression_id=obj.pk)


@admin.register(SavedFilter, site=tenant_admin_site)
class SavedFilterAdmin(TenantSchemaOnlyMixin, ModelAdmin):
    list_display = ["name", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["spec", "created_at", "updated_at"]
    ordering = ["name"]
