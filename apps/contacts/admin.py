"""Contacts in the workspace admin (apps.core.tenant_admin, tenant hosts only): contacts and
groups with django-import-export's import and export through the same resources the portal's
exports use (formula cells neutralised, numbers normalised to E.164 with the workspace's
region), the suppression list and saved filters. Large files belong in the portal's import,
which streams through COPY; the admin import suits corrections of a few thousand rows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect
from import_export.admin import ImportExportModelAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from apps.billing import services as billing
from apps.contacts.models import Contact, Group, SavedFilter, SuppressedNumber
from apps.contacts.resources import ContactResource, GroupResource, tenant_region
from apps.contacts.services import contacts as contact_services
from apps.contacts.services import groups as group_services
from apps.contacts.services import saved_filters, suppression
from apps.contacts.services.phones import normalise_phone
from apps.core.exceptions import Conflict
from apps.core.tenant_admin import TenantSchemaOnlyMixin, tenant_admin_site
from apps.tenants.models import Tenant


class _ImportExportAdmin(TenantSchemaOnlyMixin, ImportExportModelAdmin, ModelAdmin):
    import_form_class = ImportForm
    export_form_class = ExportForm


class ContactAdminForm(forms.ModelForm):
    """The number is stored normalised (E.164 in the workspace's region) like everywhere else,
    and a new contact must fit the plan."""

    class Meta:
        model = Contact
        fields = [
            "phone",
            "name",
            "email",
            "language",
            "custom_fields",
            "consent_status",
            "consent_source",
            "consented_at",
            "opted_out_at",
            "opted_out_reason",
            "opted_out_via",
        ]

    def clean_phone(self) -> str:
        e164, why = normalise_phone(self.cleaned_data["phone"], tenant_region())
        if e164 is None:
            raise forms.ValidationError(f"Invalid phone number: {why}.")
        if Contact.objects.filter(phone=e164).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A contact with this number exists.")
        return e164

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is None:
            tenant = Tenant.objects.get(schema_name=connection.schema_name)
            decision = billing.quota_check(
                tenant=tenant, action=billing.QuotaAction.ADD_CONTACTS, current=Contact.objects.count()
            )
            if not decision.allowed:
                raise forms.ValidationError(decision.message)
        return data


@admin.register(Contact, site=tenant_admin_site)
class ContactAdmin(_ImportExportAdmin):
    form = ContactAdminForm
    resource_classes = [ContactResource]
    list_display = ["phone", "name", "email", "language", "consent_status", "opted_out_at", "created_at"]
    list_filter = ["consent_status", "language"]
    search_fields = ["phone", "name", "email"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["-id"]
    # The table may hold a million rows: no full count on every page.
    show_full_result_count = False

    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_resource_kwargs(request, *args, **kwargs),
            "region": request.tenant.default_region,
            "enforce_quota": True,
        }

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new contact goes through the service: the plan's contact limit applies.
        fields = {name: value for name, value in form.cleaned_data.items() if name != "phone"}
        created = contact_services.contact_create(phone=obj.phone, **fields)
        obj.pk = created.pk


class ServiceDeleteMixin:
    """Deletes one object at a time through its service, which refuses while an unfinished
    campaign uses it (the refusal is shown, nothing is deleted); no bulk delete action."""

    delete_service: Any = None

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        type(self).delete_service(obj)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        try:
            return super().delete_view(request, object_id, extra_context)
        except Conflict as refused:
            self.message_user(request, refused.message, level=messages.ERROR)
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")


@admin.register(Group, site=tenant_admin_site)
class GroupAdmin(ServiceDeleteMixin, _ImportExportAdmin):
    resource_classes = [GroupResource]
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]
    ordering = ["name"]

    @staticmethod
    def delete_service(group: Group) -> None:
        group_services.group_delete(group=group)


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
class SavedFilterAdmin(ServiceDeleteMixin, TenantSchemaOnlyMixin, ModelAdmin):
    list_display = ["name", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["spec", "created_at", "updated_at"]
    ordering = ["name"]

    @staticmethod
    def delete_service(saved: SavedFilter) -> None:
        saved_filters.saved_filter_delete(saved_filter=saved)
