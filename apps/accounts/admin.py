"""Platform admin for users and memberships (public schema only).

Reseller staff see users who are their reseller's staff or members of their tenants. They may
edit only users wholly inside their reseller (no superuser, no other reseller, no membership in
a tenant outside it): changing the password of a user who also works in another reseller's
tenant would hand them that tenant. They never grant staff or superuser rights and never move
a user to another reseller; those fields are not in their forms at all.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import RelatedDropdownFilter
from unfold.decorators import display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminSelectWidget

from apps.accounts.models import Membership, Role, User
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
from apps.tenants.models import Tenant


def users_in_reseller_scope(reseller_id: int) -> QuerySet[User]:
    """Users a reseller's staff may see: their reseller's staff and members of its tenants."""
    members = Membership.objects.filter(tenant__reseller_id=reseller_id).values("user_id")
    return User.objects.filter(Q(reseller_id=reseller_id) | Q(pk__in=members))


def user_wholly_in_reseller(user: User, reseller_id: int) -> bool:
    if user.is_superuser or user.reseller_id not in (None, reseller_id):
        return False
    return not user.memberships.exclude(tenant__reseller_id=reseller_id).exists()


# --- forms ------------------------------------------------------------------------------------


class ChorusUserCreationForm(UserCreationForm):
    """Django's admin creation form (password twice, or no password) for an e-mail login.
    Reseller staff must put the new user into one of their tenants, or the user would vanish
    from their view the moment it is saved."""

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, label=_("Add to tenant"), widget=UnfoldAdminSelectWidget
    )
    role = forms.ChoiceField(
        choices=Role.choices, initial=Role.AGENT, required=False, label=_("Role"), widget=UnfoldAdminSelectWidget
    )

    class Meta:
        model = User
        fields = ("email", "full_name")

    request: HttpRequest | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.request
        tenants = Tenant.objects.exclude(schema_name=get_public_schema_name())
        if request is not None and is_reseller_staff(request):
            tenants = tenants.filter(reseller_id=request.user.reseller_id)
            self.fields["tenant"].required = True
        self.fields["tenant"].queryset = tenants

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A user with this e-mail already exists."))
        return email


class ChorusUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


# --- inlines ----------------------------------------------------------------------------------


class MembershipInline(ScopedInlineMixin, TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["tenant", "role", "created_at"]
    readonly_fields = ["created_at"]
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW, ADD, CHANGE, DELETE})
    scoped_foreign_keys = {"tenant": "reseller_id"}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and reseller_id_of(request) is None:
            kwargs["queryset"] = Tenant.objects.exclude(schema_name=get_public_schema_name())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- users ------------------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(ResellerScopedAdminMixin, DjangoUserAdmin, ModelAdmin):
    reseller_permissions = frozenset({VIEW, ADD, CHANGE})

    form = ChorusUserChangeForm
    add_form = ChorusUserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [MembershipInline]
    list_display = ["email", "full_name", "reseller", "tenant_count", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", ("reseller", RelatedDropdownFilter)]
    search_fields = ["email", "full_name"]
    ordering = ["email"]
    filter_horizontal = ["groups", "user_permissions"]
    readonly_fields = ["last_login", "date_joined", "email_verified_at"]

    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["full_name", "language", "email_verified_at"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser", "reseller", "groups", "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    reseller_fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["full_name", "language", "email_verified_at"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "reseller"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "usable_password", "password1", "password2"]}),
        (_("Tenant"), {"fields": ["tenant", "role"]}),
    ]

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        return queryset.filter(pk__in=users_in_reseller_scope(request.user.reseller_id).values("pk"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        queryset = super().get_queryset(request).select_related("reseller")
        reseller_id = reseller_id_of(request)
        memberships = Q(memberships__tenant__reseller_id=reseller_id) if reseller_id is not None else Q()
        return queryset.annotate(membership_total=Count("memberships", filter=memberships, distinct=True))

    @display(description=_("tenants"), ordering="membership_total")
    def tenant_count(self, obj: User) -> int:
        return obj.membership_total

    def get_list_filter(self, request: HttpRequest):
        if is_reseller_staff(request):
            return ["is_active"]
        return super().get_list_filter(request)

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None):
        if obj is None:
            return self.add_fieldsets
        return self.reseller_fieldsets if is_reseller_staff(request) else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None):
        readonly = list(self.readonly_fields)
        if is_reseller_staff(request):
            readonly += ["is_staff", "reseller"]
        return readonly

    def get_form(self, request: HttpRequest, obj: User | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def get_inline_instances(self, request: HttpRequest, obj: User | None = None):
        # New users get their first membership from the add form's tenant and role.
        return [] if obj is None else super().get_inline_instances(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        if allowed and obj is not None and is_reseller_staff(request):
            return user_wholly_in_reseller(obj, request.user.reseller_id)
        return allowed

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return is_platform_admin(request) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool) -> None:
        if is_reseller_staff(request):
            # Belt and braces: these fields are not in reseller staff's forms at all.
            obj.is_superuser = False
            if not change:
                obj.is_staff = False
                obj.reseller = None
        super().save_model(request, obj, form, change)
        tenant = form.cleaned_data.get("tenant") if not change else None
        if tenant is not None:
            Membership.objects.get_or_create(
                user=obj, tenant=tenant, defaults={"role": form.cleaned_data.get("role") or Role.AGENT}
            )


# --- memberships ------------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(ResellerScopedAdminMixin, ModelAdmin):
    reseller_lookup = "tenant__reseller_id"
    reseller_permissions = frozenset({VIEW, ADD, CHANGE, DELETE})
    scoped_foreign_keys = {"tenant": "reseller_id"}
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", ("tenant", RelatedDropdownFilter)]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["user"]

    def get_list_filter(self, request: HttpRequest):
        if is_reseller_staff(request):
            return ["role"]
        return super().get_list_filter(request)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        reseller_id = reseller_id_of(request)
        if db_field.name == "user" and reseller_id is not None:
            kwargs["queryset"] = users_in_reseller_scope(reseller_id)
        if db_field.name == "tenant" and reseller_id is None:
            kwargs["queryset"] = Tenant.objects.exclude(schema_name=get_public_schema_name())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
