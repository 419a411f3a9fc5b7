"""Platform admin for plans, subscriptions and usage (public schema only).

Plans are the platform's: reseller staff may read them (to know what they sell) but not change
them. Subscriptions and usage are scoped to the reseller's tenants; plan and status changes go
through the billing services. Usage records are written only by the roll-up services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name
from import_export.admin import ExportActionMixin
from import_export.resources import ModelResource
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RelatedDropdownFilter
from unfold.contrib.import_export.forms import ExportForm
from unfold.decorators import display

from apps.billing import services
from apps.billing.models import Plan, Subscription, UsageRecord
from apps.core.admin import (
    CHANGE,
    VIEW,
    ReadOnlyAdminMixin,
    ResellerScopedAdminMixin,
    is_platform_admin,
    is_reseller_staff,
    reseller_id_of,
)
from apps.tenants.models import Tenant

SUBSCRIPTION_COLOURS = {
    Subscription.Status.ACTIVE: "success",
    Subscription.Status.TRIALING: "info",
    Subscription.Status.PAST_DUE: "warning",
    Subscription.Status.CANCELED: "danger",
}


@admin.register(Plan)
class PlanAdmin(ResellerScopedAdminMixin, ModelAdmin):
    """Plans have no reseller: everyone with admin access reads them; only platform staff edit."""

    reseller_permissions = frozenset({VIEW})
    list_display = [
        "name",
        "slug",
        "price",
        "currency",
        "max_numbers",
        "messages_per_day",
        "messages_per_month",
        "max_contacts",
        "feature_chatbots",
        "feature_api",
        "is_public",
        "subscriber_count",
    ]
    list_editable = ["messages_per_day", "messages_per_month", "max_numbers", "max_contacts"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "price", "currency", "is_public", "sort_order"]}),
        (_("Limits"), {"fields": ["max_numbers", "messages_per_day", "messages_per_month", "max_contacts"]}),
        (_("Features"), {"fields": ["feature_chatbots", "feature_api"]}),
    ]

    def scope_queryset(self, request: HttpRequest, queryset):
        return queryset

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        reseller_id = reseller_id_of(request)
        if reseller_id is None:
            return queryset.annotate(subscribers=Count("subscriptions"))
        return queryset.annotate(
            subscribers=Count("subscriptions", filter=Q(subscriptions__tenant__reseller_id=reseller_id))
        )

    @display(description=_("subscribers"), ordering="subscribers")
    def subscriber_count(self, obj: Plan) -> int:
        return obj.subscribers


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["tenant", "plan", "status", "current_period_end"]


@admin.register(Subscription)
class SubscriptionAdmin(ResellerScopedAdminMixin, ModelAdmin):
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW, CHANGE})
    scoped_foreign_keys = {"tenant": "reseller_id"}
    form = SubscriptionForm
    list_display = ["tenant", "plan", "status_badge", "current_period_end", "updated_at"]
    list_filter = ["status", ("plan", RelatedDropdownFilter)]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant", "plan"]

    @display(description=_("status"), ordering="status", label=SUBSCRIPTION_COLOURS)
    def status_badge(self, obj: Subscription):
        return obj.status, obj.get_status_display()

    def get_readonly_fields(self, request: HttpRequest, obj: Subscription | None = None):
        # A subscription belongs to one tenant for life; only its plan and status move.
        return ["tenant"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "tenant" and reseller_id_of(request) is None:
            kwargs["queryset"] = Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(
                subscription__isnull=True
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return is_platform_admin(request) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Subscription, form: forms.ModelForm, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        if "plan" in form.changed_data:
            services.subscription_change_plan(tenant=obj.tenant, plan=data["plan"])
        if {"status", "current_period_end"} & set(form.changed_data):
            services.subscription_set_status(
                tenant=obj.tenant, status=data["status"], current_period_end=data.get("current_period_end")
            )


class UsageRecordResource(ModelResource):
    class Meta:
        model = UsageRecord
        fields = ["tenant__slug", "day", "messages_sent", "messages_failed", "contacts", "numbers", "api_requests"]
        export_order = fields


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdminMixin, ResellerScopedAdminMixin, ExportActionMixin, ModelAdmin):
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW})
    resource_classes = [UsageRecordResource]
    export_form_class = ExportForm
    date_hierarchy = "day"
    list_display = ["day", "tenant", "messages_sent", "messages_failed", "numbers", "contacts", "api_requests"]
    list_filter = [("tenant", RelatedDropdownFilter)]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    ordering = ["-day", "tenant__name"]

    def get_list_filter(self, request: HttpRequest):
        # The tenant dropdown would list every tenant's name; reseller staff search instead.
        return [] if is_reseller_staff(request) else super().get_list_filter(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
