"""Platform admin for tenants, their domains and resellers (public schema only).

Tenants are created here through `tenant_create` (cloned schema, domain, subscription, owner),
never by saving a bare row, and suspended or reactivated through `tenant_set_status`. The
changelist's usage columns come from UsageRecord subqueries (a fixed number of queries for any
page size; no tenant schema is read). The public tenant (schema "public") is never listed.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.filters.admin import RelatedDropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminEmailInputWidget, UnfoldAdminSelectWidget

from apps.accounts.admin import users_in_reseller_scope
from apps.accounts.models import User
from apps.billing import selectors as billing_selectors
from apps.billing import services as billing_services
from apps.billing.models import Plan, Subscription
from apps.core.admin import (
    ADD,
    CHANGE,
    DELETE,
    VIEW,
    ResellerScopedAdminMixin,
    ScopedInlineMixin,
    is_platform_admin,
    is_reseller_staff,
    reseller_id_of,
)
from apps.core.exceptions import ChorusError
from apps.tenants import services
from apps.tenants.models import Domain, Reseller, Tenant, TenantProvisioning

logger = logging.getLogger(__name__)

STATUS_COLOURS = {Tenant.Status.ACTIVE: "success", Tenant.Status.SUSPENDED: "danger"}


def tenant_rows() -> QuerySet[Tenant]:
    """Every tenant except the platform's own public-schema row."""
    return Tenant.objects.exclude(schema_name=get_public_schema_name())


# --- forms ------------------------------------------------------------------------------------


class TenantAddForm(forms.ModelForm):
    """What `tenant_create` needs. Checks what it can before the service runs so mistakes come
    back as form errors; the service re-checks everything inside its transaction."""

    plan = forms.ModelChoiceField(
        queryset=Plan.objects.all(), label=_("Plan"), required=True, widget=UnfoldAdminSelectWidget
    )
    owner_email = forms.EmailField(
        label=_("Owner e-mail"),
        required=False,
        widget=UnfoldAdminEmailInputWidget,
        help_text=_(
            "Optional. An existing account becomes the owner; a new e-mail gets an account without a password (they use “forgot password”)."
        ),
    )

    class Meta:
        model = Tenant
        fields = ["name", "slug", "timezone", "default_region", "reseller"]

    request: HttpRequest | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "plan" in self.fields and not self.initial.get("plan"):
            self.fields["plan"].initial = Plan.objects.filter(slug="free").values_list("pk", flat=True).first()

    def clean_slug(self) -> str:
        try:
            return services.validate_slug(self.cleaned_data["slug"])
        except ChorusError as exc:
            raise ValidationError(exc.message, code=exc.code) from exc

    def clean_owner_email(self) -> str:
        email = (self.cleaned_data.get("owner_email") or "").strip().lower()
        request = self.request
        if email and request is not None and is_reseller_staff(request):
            existing = User.objects.filter(email=email).first()
            if existing is not None and not _user_in_reseller_scope(existing, request.user.reseller_id):
                raise ValidationError(_("This e-mail belongs to an account outside your reseller."))
        return email

    def clean(self):
        cleaned = super().clean()
        try:
            services.template_ensure_current()
        except ChorusError as exc:
            raise ValidationError(exc.message) from exc
        return cleaned


def _user_in_reseller_scope(user: User, reseller_id: int) -> bool:
    if user.reseller_id == reseller_id:
        return True
    return user.memberships.filter(tenant__reseller_id=reseller_id).exists()


# --- inlines ----------------------------------------------------------------------------------


class DomainInline(ScopedInlineMixin, TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW, ADD, CHANGE, DELETE})


class SubscriptionInline(ScopedInlineMixin, StackedInline):
    """Plan and status of the tenant's one subscription; changes go through the billing
    services (TenantAdmin.save_formset)."""

    model = Subscription
    extra = 0
    max_num = 1
    can_delete = False
    fields = ["plan", "status", "current_period_end"]
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW, CHANGE})


# --- tenants ----------------------------------------------------------------------------------


@admin.register(Tenant)
class TenantAdmin(ResellerScopedAdminMixin, ModelAdmin):
    reseller_lookup = "reseller_id"
    reseller_permissions = frozenset({VIEW, ADD, CHANGE})

    list_display = [
        "name",
        "slug",
        "status_badge",
        "plan_name",
        "reseller",
        "primary_domain",
        "created_at",
        "messages_today",
        "messages_month",
    ]
    list_filter = ["status", ("reseller", RelatedDropdownFilter), ("subscription__plan", RelatedDropdownFilter)]
    list_filter_submit = True
    search_fields = ["name", "slug", "domains__domain"]
    ordering = ["name"]
    actions = ["suspend_tenants", "reactivate_tenants"]
    actions_detail = ["suspend_detail", "reactivate_detail"]
    inlines = [DomainInline, SubscriptionInline]
    readonly_fields = ["slug", "schema_name", "status", "created_at"]
    add_fieldsets = [
        (None, {"fields": ["name", "slug", "plan", "owner_email"]}),
        (_("Locale"), {"fields": ["timezone", "default_region"]}),
        (_("Reseller"), {"fields": ["reseller"]}),
    ]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "schema_name", "created_at"]}),
        (_("Locale"), {"fields": ["timezone", "default_region"]}),
        (_("Reseller"), {"fields": ["reseller"]}),
    ]

    # --- list ---------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        queryset = super().get_queryset(request).exclude(schema_name=get_public_schema_name())
        primary = Domain.objects.filter(tenant=OuterRef("pk"), is_primary=True).values("domain")[:1]
        queryset = queryset.select_related("reseller", "subscription__plan").annotate(primary_domain=Subquery(primary))
        return billing_selectors.tenants_with_usage(queryset)

    def get_list_filter(self, request: HttpRequest):
        if is_reseller_staff(request):
            return ["status", ("subscription__plan", RelatedDropdownFilter)]
        return super().get_list_filter(request)

    @display(description=_("status"), ordering="status", label=STATUS_COLOURS)
    def status_badge(self, obj: Tenant):
        return obj.status, obj.get_status_display()

    @display(description=_("plan"), ordering="subscription__plan__sort_order")
    def plan_name(self, obj: Tenant) -> str:
        subscription = getattr(obj, "subscription", None)
        return subscription.plan.name if subscription else "—"

    @display(description=_("primary domain"), ordering="primary_domain")
    def primary_domain(self, obj: Tenant) -> str:
        return obj.primary_domain or "—"

    @display(description=_("messages today"), ordering="messages_today")
    def messages_today(self, obj: Tenant) -> int:
        return obj.messages_today

    @display(description=_("messages this month"), ordering="messages_month")
    def messages_month(self, obj: Tenant) -> int:
        return obj.messages_month

    # --- forms --------------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Tenant | None = None):
        fieldsets = self.add_fieldsets if obj is None else self.fieldsets
        if is_reseller_staff(request):
            # Reseller staff's tenants are always their reseller's: the field is not theirs to set.
            fieldsets = [fs for fs in fieldsets if fs[0] != _("Reseller")]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None):
        if obj is None:
            return []
        return self.readonly_fields

    def get_form(self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request
        return form

    def get_inlines(self, request: HttpRequest, obj: Tenant | None):
        # A new tenant gets its domain and subscription from tenant_create, not from inlines.
        return [] if obj is None else self.inlines

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        if change:
            fields = [name for name in form.changed_data if name in {"name", "timezone", "default_region", "reseller"}]
            if is_reseller_staff(request) and "reseller" in fields:
                fields.remove("reseller")
            if fields:
                obj.save(update_fields=fields)
            return
        data = form.cleaned_data
        reseller = request.user.reseller if is_reseller_staff(request) else data.get("reseller")
        owner = None
        if data.get("owner_email"):
            owner = User.objects.filter(email=data["owner_email"]).first() or User.objects.create_user(
                data["owner_email"]
            )
        created = services.tenant_create(
            name=data["name"],
            slug=data["slug"],
            owner=owner,
            plan_slug=data["plan"].slug,
            timezone=data["timezone"],
            default_region=data["default_region"],
            reseller=reseller,
        )
        # The admin goes on with `obj` (log entry, redirect): make it the row the service made.
        for field in Tenant._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created.tenant, field.attname))
        obj._state.adding = False
        obj._state.db = created.tenant._state.db
        logger.info("admin.tenant_created", extra={"tenant_id": obj.pk, "by_user_id": request.user.pk})

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not Subscription:
            return super().save_formset(request, form, formset, change)
        # The admin's change message reads these, as after formset.save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for subscription_form in formset.forms:
            if not subscription_form.has_changed() or subscription_form.instance.pk is None:
                continue
            formset.changed_objects.append((subscription_form.instance, subscription_form.changed_data))
            data = subscription_form.cleaned_data
            tenant = form.instance
            if "plan" in subscription_form.changed_data:
                billing_services.subscription_change_plan(tenant=tenant, plan=data["plan"])
            if {"status", "current_period_end"} & set(subscription_form.changed_data):
                billing_services.subscription_set_status(
                    tenant=tenant, status=data["status"], current_period_end=data.get("current_period_end")
                )
        return None

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        # Bulk delete skips Tenant.delete(), which is what drops the schema.
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return is_platform_admin(request) and super().has_delete_permission(request, obj)

    # --- status actions -----------------------------------------------------------------------

    def _set_status(self, request: HttpRequest, tenants, status: str) -> int:
        changed = 0
        for tenant in tenants:
            if tenant.status != status:
                services.tenant_set_status(tenant=tenant, status=status)
                changed += 1
        return changed

    @admin.action(description=_("Suspend selected tenants"), permissions=["change"])
    def suspend_tenants(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        changed = self._set_status(request, queryset, Tenant.Status.SUSPENDED)
        self.message_user(request, _("%(n)d tenant(s) suspended.") % {"n": changed}, messages.SUCCESS)

    @admin.action(description=_("Reactivate selected tenants"), permissions=["change"])
    def reactivate_tenants(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        changed = self._set_status(request, queryset, Tenant.Status.ACTIVE)
        self.message_user(request, _("%(n)d tenant(s) reactivated.") % {"n": changed}, messages.SUCCESS)

    def _detail_status(self, request: HttpRequest, object_id: str, status: str) -> HttpResponse:
        tenant = self.get_object(request, unquote(object_id))
        if tenant is None or not self.has_change_permission(request, tenant):
            raise Http404("No such tenant.")
        self._set_status(request, [tenant], status)
        self.message_user(
            request,
            _("%(name)s is now %(status)s.") % {"name": tenant.name, "status": tenant.get_status_display()},
            messages.SUCCESS,
        )
        url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if request.headers.get("HX-Request"):
            # The confirmation dialog posts with htmx: tell it to load the page again.
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @action(
        description=_("Suspend"),
        url_path="suspend",
        icon="block",
        variant=ActionVariant.DANGER,
        dialog={
            "title": _("Suspend this tenant?"),
            "description": _("Its portal and API answer 403 and sending stops until it is reactivated."),
            "form_class": None,
            "form_submit_text": _("Suspend"),
        },
    )
    def suspend_detail(self, request: HttpRequest, form, object_id: str) -> HttpResponse:
        return self._detail_status(request, object_id, Tenant.Status.SUSPENDED)

    @action(
        description=_("Reactivate"),
        url_path="reactivate",
        icon="play_arrow",
        variant=ActionVariant.SUCCESS,
        dialog={
            "title": _("Reactivate this tenant?"),
            "description": _("Its portal, API and sending work again."),
            "form_class": None,
            "form_submit_text": _("Reactivate"),
        },
    )
    def reactivate_detail(self, request: HttpRequest, form, object_id: str) -> HttpResponse:
        return self._detail_status(request, object_id, Tenant.Status.ACTIVE)


# --- domains ----------------------------------------------------------------------------------


@admin.register(Domain)
class DomainAdmin(ResellerScopedAdminMixin, ModelAdmin):
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW, ADD, CHANGE, DELETE})
    scoped_foreign_keys = {"tenant": "reseller_id"}
    list_display = ["domain", "tenant", "is_primary"]
    list_filter = ["is_primary"]
    search_fields = ["domain", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Domain]:
        # The bare domain belongs to the platform (public_tenant_ensure); it is not edited here.
        return super().get_queryset(request).exclude(tenant__schema_name=get_public_schema_name())

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and reseller_id_of(request) is None:
            kwargs["queryset"] = tenant_rows()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- resellers --------------------------------------------------------------------------------


@admin.register(Reseller)
class ResellerAdmin(ResellerScopedAdminMixin, ModelAdmin):
    """Reseller staff see their own reseller (read-only: commission and credit are the
    platform's to set); platform admins manage all."""

    reseller_lookup = "pk"
    reseller_permissions = frozenset({VIEW})
    list_display = ["name", "contact_name", "contact_email", "tenant_count", "commission_percent", "credit_balance"]
    search_fields = ["name", "contact_name", "contact_email"]
    fieldsets = [
        (None, {"fields": ["name"]}),
        (_("Contact"), {"fields": ["contact_name", "contact_email", "contact_phone"]}),
        (_("Money"), {"fields": ["commission_percent", "credit_balance"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reseller]:
        return super().get_queryset(request).annotate(tenant_total=Count("tenants", distinct=True))

    @display(description=_("tenants"), ordering="tenant_total")
    def tenant_count(self, obj: Reseller) -> int:
        return obj.tenant_total


# --- sign-up provisioning (read-only, platform only) -----------------------------------------


@admin.register(TenantProvisioning)
class TenantProvisioningAdmin(ResellerScopedAdminMixin, ModelAdmin):
    reseller_lookup = None
    reseller_permissions = frozenset()
    list_display = ["slug", "name", "owner", "state", "created_at", "updated_at"]
    list_filter = ["state"]
    search_fields = ["slug", "name", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [
        "name",
        "slug",
        "owner",
        "plan_slug",
        "timezone",
        "state",
        "error",
        "tenant",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- dashboard (UNFOLD["DASHBOARD_CALLBACK"]) ------------------------------------------------

TOP_TENANTS_SHOWN = 8


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    """Figures for the admin's front page, scoped to the reseller for reseller staff. Usage
    comes from UsageRecord (public); a fixed handful of queries whatever the tenant count."""
    tenants = tenant_rows()
    reseller_id = reseller_id_of(request)
    if reseller_id is not None:
        tenants = tenants.filter(reseller_id=reseller_id)
        users = users_in_reseller_scope(reseller_id)
    else:
        users = User.objects.all()
    counts = tenants.aggregate(
        active=Count("pk", filter=Q(status=Tenant.Status.ACTIVE)),
        suspended=Count("pk", filter=Q(status=Tenant.Status.SUSPENDED)),
    )
    usage = billing_selectors.usage_totals(tenants)
    top = billing_selectors.tenants_with_usage(tenants.select_related("subscription__plan")).order_by(
        "-messages_month", "name"
    )[:TOP_TENANTS_SHOWN]
    changelist = reverse("admin:tenants_tenant_changelist")
    context.update(
        {
            "scope_label": request.user.reseller.name if reseller_id is not None else _("All resellers"),
            "kpis": [
                {
                    "title": _("Active tenants"),
                    "value": counts["active"],
                    "icon": "apartment",
                    "href": f"{changelist}?status__exact=active",
                },
                {
                    "title": _("Suspended tenants"),
                    "value": counts["suspended"],
                    "icon": "block",
                    "href": f"{changelist}?status__exact=suspended",
                },
                {
                    "title": _("Users"),
                    "value": users.count(),
                    "icon": "group",
                    "href": reverse("admin:accounts_user_changelist"),
                },
                {
                    "title": _("Messages today"),
                    "value": usage.today,
                    "icon": "send",
                    "href": reverse("admin:billing_usagerecord_changelist"),
                },
                {
                    "title": _("Messages this month"),
                    "value": usage.month,
                    "icon": "calendar_month",
                    "href": reverse("admin:billing_usagerecord_changelist"),
                },
            ],
            "top_tenants": {
                "headers": [_("Tenant"), _("Plan"), _("Status"), _("Today"), _("This month")],
                "rows": [
                    [
                        tenant.name,
                        tenant.subscription.plan.name if hasattr(tenant, "subscription") else "—",
                        tenant.get_status_display(),
                        tenant.messages_today,
                        tenant.messages_month,
                    ]
                    for tenant in top
                ],
            },
        }
    )
    return context
